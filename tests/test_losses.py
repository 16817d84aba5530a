"""Losses: the notes' worked numbers, numerical stability, and bad targets."""
import math

import numpy as np
import pytest

import glassnet as gn
import glassnet.functional as F
from glassnet.gradcheck import check_loss


def test_softmax_of_notes_example():
    p = F.softmax(np.array([3.2, 0.8, 0.0]))
    np.testing.assert_allclose(p, [0.884, 0.080, 0.036], atol=5e-4)


def test_svm_loss_of_notes_example():
    scores = np.array([[8.0, 14.0, 9.5, 10.0]])
    assert gn.nn.MulticlassHinge()(scores, np.array([3])) == pytest.approx(5.5)  # class 4, 0-based 3


def test_entropy_of_notes_example_is_1_5_bits():
    assert F.entropy(np.array([0.25, 0.25, 0.5])) == pytest.approx(1.5)


def test_cross_entropy_of_notes_example():
    assert F.cross_entropy(np.array([1.0, 0, 0]), np.array([0.88, 0.08, 0.04])) == pytest.approx(-math.log(0.88))
    p, q = np.array([0.2, 0.3, 0.5]), np.array([0.1, 0.6, 0.3])
    assert F.kl_divergence(p, q) == pytest.approx(F.cross_entropy(p, q) - F.entropy(p, base=math.e))


def test_softmax_ce_with_one_hot_probabilities_equals_labels(rng):
    s = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    ce = gn.nn.SoftmaxCrossEntropy()
    assert ce(s, np.eye(4)[y]) == pytest.approx(ce(s, y), rel=1e-12)


def test_loss_at_chance_is_log_C():
    s = np.zeros((10, 10))
    assert gn.nn.SoftmaxCrossEntropy()(s, np.arange(10)) == pytest.approx(math.log(10))


@pytest.mark.parametrize("make,target", [
    (gn.nn.SoftmaxCrossEntropy, lambda r: r.integers(0, 3, 4)),
    (gn.nn.MulticlassHinge, lambda r: r.integers(0, 3, 4)),
    (gn.nn.BCEWithLogits, lambda r: r.integers(0, 2, (4, 3)).astype(np.float64)),
    (gn.nn.MSE, lambda r: r.standard_normal((4, 3))),
    (gn.nn.KLDivergence, lambda r: F.softmax(r.standard_normal((4, 3)))),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_scores(rng, make, target, dtype):
    s = (rng.choice([-1.0, 1.0], (4, 3)) * 1e4).astype(dtype)
    loss = make()
    val = loss(s, target(rng))
    d = loss.backward()
    assert np.isfinite(val) and np.isfinite(d).all()
    assert d.dtype == dtype


def test_bce_large_logits_values():
    bce = gn.nn.BCEWithLogits()
    assert bce(np.array([[1e4]]), np.array([[1.0]])) == pytest.approx(0.0, abs=1e-12)
    assert bce(np.array([[-1e4]]), np.array([[1.0]])) == pytest.approx(1e4)


@pytest.mark.parametrize("make,target", [
    (gn.nn.SoftmaxCrossEntropy, lambda r: r.integers(0, 5, 7)),
    (gn.nn.SoftmaxCrossEntropy, lambda r: F.softmax(r.standard_normal((7, 5)))),
    (gn.nn.MulticlassHinge, lambda r: r.integers(0, 5, 7)),
    (gn.nn.BCEWithLogits, lambda r: r.random((7, 5))),
    (gn.nn.MSE, lambda r: r.standard_normal((7, 5))),
    (gn.nn.KLDivergence, lambda r: F.softmax(r.standard_normal((7, 5)))),
])
def test_loss_gradients_float64(rng, make, target):
    report = check_loss(make(), rng.standard_normal((7, 5)) * 2, target(rng))
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
def test_label_range_check_for_every_integer_dtype(dtype):
    s = np.zeros((4, 3), np.float32)
    ce = gn.nn.SoftmaxCrossEntropy()
    assert np.isfinite(ce(s, np.array([0, 1, 2, 2], dtype)))
    ce.backward()
    with pytest.raises(ValueError, match="got label 3 "):
        ce(s, np.array([0, 3, 1, 2], dtype))
    strided = np.array([0, 9, 2, 9, 1, 9, 2, 3], dtype)[::2]  # a view, the 9s skipped
    assert np.isfinite(ce(s, strided))
    ce.backward()
    if np.dtype(dtype).kind == "i":  # negative labels: caught, and named
        with pytest.raises(ValueError, match=r"got label -1 \(labels range from -1 to 2\)"):
            ce(s, np.array([0, -1, 2, 1], dtype))
        with pytest.raises(ValueError, match=f"got label {np.iinfo(dtype).min} "):
            ce(s, np.array([0, np.iinfo(dtype).min, 2, 1], dtype))


def test_bad_targets_are_explained():
    s = np.zeros((3, 4), np.float32)
    ce = gn.nn.SoftmaxCrossEntropy()
    with pytest.raises(TypeError, match=r"integer class labels of shape \(3,\) expected, got float64 array of shape \(3,\)"):
        ce(s, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\] for 4 classes, got label 4"):
        ce(s, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="got label -1"):
        gn.nn.MulticlassHinge()(s, np.array([0, -1, 2]))
    with pytest.raises(gn.ShapeError, match=r"labels of shape \(3,\) expected to match 3 score rows"):
        ce(s, np.array([0, 1]))
    with pytest.raises(gn.ShapeError, match=r"expected a 2-D scores array of shape \(N, C\)"):
        ce(np.zeros(4, np.float32), np.array([1]))
    with pytest.raises(gn.NonFiniteError, match="scores contains 1 NaN"):
        ce(np.array([[np.nan, 0.0]]), np.array([0]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        gn.nn.BCEWithLogits()(s, np.full((3, 4), 2.0))
    with pytest.raises(gn.ShapeError, match=r"reshape it with target\[:, None\]"):
        gn.nn.MSE()(np.zeros((3, 1)), np.zeros(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_softmax_cross_entropy_matches_numpy(dtype, jit_on):
    """The one-pass kernel (Numba) gives the NumPy path's loss and gradient to a few units in the
    last place, for integer labels of any width and scores of any size; labels out of range and
    strided labels take the NumPy path."""
    from glassnet.functional import losses as FL
    K = gn.kernels
    rng = np.random.default_rng(3)
    s = (rng.standard_normal((50, 7)) * 20).astype(dtype)
    s[0] = [1e4, -1e4, 0, 3e3, 1e4, -5, 2]  # a huge row: stable, finite
    eps = float(np.finfo(dtype).eps)
    for ldtype in (np.int64, np.int32, np.uint8):
        y = rng.integers(0, 7, 50).astype(ldtype)
        gn.kernels.set_enabled(True)
        loss, cache = K.forward("softmax_cross_entropy", s, y)
        assert cache.impl.name == "numba"  # the kernel ran
        d = K.backward("softmax_cross_entropy", 0.5, cache)
        ref_loss, ref_cache = FL.softmax_cross_entropy_forward(s, y)  # the reference
        ref = FL.softmax_cross_entropy_backward(ref_cache, 0.5)
        assert d.dtype == dtype and np.isfinite(d).all()
        assert loss == pytest.approx(ref_loss, rel=8 * eps)
        np.testing.assert_allclose(d, ref, rtol=0, atol=8 * eps * np.abs(ref).max())
    gn.kernels.set_enabled(True)
    rev = y.astype(np.int64)[::-1]  # a strided view: the NumPy path, the loss of its contiguous copy
    rev_loss, rev_cache = K.forward("softmax_cross_entropy", s, rev)
    assert rev_cache.impl.name != "numba"  # the compiled pass needs contiguous labels
    assert rev_loss == pytest.approx(K.forward("softmax_cross_entropy", s, rev.copy())[0], rel=8 * eps)
    with pytest.raises(IndexError):  # without a validator a bad label is NumPy's error, no stray read
        FL.softmax_cross_entropy_forward(s, np.full(50, 7))
    with pytest.raises(IndexError):  # the kernel finds it and hands over to the reference
        K.forward("softmax_cross_entropy", s, np.full(50, 7))
    ce = gn.nn.SoftmaxCrossEntropy()  # the module names the bad label before any kernel runs
    with pytest.raises(ValueError, match="got label 7"):
        ce(s, np.full(50, 7))


def test_compiled_softmax_cross_entropy_gradient_float64(jit_on, rng):
    gn.kernels.set_enabled(True)
    report = check_loss(gn.nn.SoftmaxCrossEntropy(), rng.standard_normal((9, 6)) * 3, rng.integers(0, 6, 9))
    assert report.passed, str(report)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_compiled_softmax_cross_entropy_refuses_non_finite_scores(bad, jit_on):
    """The module's compiled path skips its own NaN/inf scan of the scores because the kernel
    checks them in its pass: a NaN, +inf or -inf score (-inf alone would give a finite loss)
    still raises the named error, and without a validator the result is the reference's."""
    from glassnet.functional import losses as FL
    from glassnet.kernels import losses as KL
    s = np.zeros((6, 4), np.float32)
    s[4, 2] = bad
    y = np.array([0, 1, 2, 3, 0, 1])
    with pytest.raises(gn.NonFiniteError, match=r"scores contains .* \(first at index \(4, 2\)"):
        gn.nn.SoftmaxCrossEntropy()(s, y)
    with np.errstate(invalid="ignore"):  # NumPy's own warning for inf - inf
        loss, cache = gn.kernels.forward("softmax_cross_entropy", s, y)
        assert cache.impl.name == "numba" and not isinstance(cache.value, KL.GradientCache)  # it handed over
        ref = FL.softmax_cross_entropy_forward(s, y)[0]
    assert (math.isnan(loss) and math.isnan(ref)) or loss == ref


def test_compiled_softmax_cross_entropy_declines_mismatched_labels(jit_on):
    """The functional form does not validate: labels shorter or longer than the scores' rows
    must not reach the kernel (which would read past their end), NumPy's error comes instead."""
    from glassnet.kernels import losses as KL
    s = np.zeros((6, 4), np.float32)
    for y in (np.zeros(3, np.int64), np.zeros(9, np.int64)):
        with pytest.raises(IndexError):
            gn.kernels.forward("softmax_cross_entropy", s, y)
    assert not KL._applies(s, np.zeros(3, np.int64))
    assert not KL._applies(s[:, :, None], np.zeros(6, np.int64))
    empty = np.zeros((6, 0), np.float32)  # no classes: the kernel would read a score that is not there
    assert not KL._applies(empty, np.zeros(6, np.int64))
    with pytest.raises(ValueError, match="labels must lie in"):
        gn.nn.SoftmaxCrossEntropy()(empty, np.zeros(6, np.int64))


def test_softmax_cross_entropy_module_backward_scales_and_hands_over(jit_on, rng):
    """With the kernel, backward() returns its gradient itself at dloss=1 (no copy) and a scaled
    copy otherwise; both equal the NumPy path's."""
    s = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.integers(0, 5, 8)
    ce = gn.nn.SoftmaxCrossEntropy()
    out = {}
    for jit in (True, False):
        gn.kernels.set_enabled(jit)
        for dloss in (1.0, 1, 0.25):
            ce(s, y)
            out[jit, dloss] = ce.backward(dloss)
    for dloss in (1.0, 1, 0.25):
        np.testing.assert_allclose(out[True, dloss], out[False, dloss], rtol=0, atol=1e-7)
    np.testing.assert_allclose(out[True, 0.25], 0.25 * out[True, 1.0], rtol=1e-6)
    gn.kernels.set_enabled(True)
    ce(s, y)
    kernel_grad = ce._cache[0].value.grad
    assert ce.backward() is kernel_grad  # handed over, not copied
    with pytest.raises(gn.BackwardError):
        ce.backward()  # and only once


def test_softmax_cross_entropy_subclass_validation_is_not_skipped(jit_on):
    """The compiled path stands in for SoftmaxCrossEntropy's own checks only: a subclass that
    adds checks to _validate has them run."""
    class Strict(gn.nn.SoftmaxCrossEntropy):
        def _validate(self, scores, target):
            if scores.shape[0] < 4:
                raise ValueError("Strict: at least 4 rows")
            return super()._validate(scores, target)

    with pytest.raises(ValueError, match="at least 4 rows"):
        Strict()(np.zeros((2, 3), np.float32), np.array([0, 1]))
    assert Strict()(np.zeros((4, 3), np.float32), np.array([0, 1, 2, 0])) == pytest.approx(math.log(3))
