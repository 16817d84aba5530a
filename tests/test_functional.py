"""Every functional forward/backward pair: forward against a naive reference and the
backward pass against centered differences in float64."""
import numpy as np
import pytest

import glassnet.functional as F
from glassnet.kernels import activations as _act
from glassnet.gradcheck import check_gradients

import naive


def away(rng, shape, margin=0.05):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin, x)


def _pair_check(fwd, bwd, inputs, grad_names, kinks=False, seed=3):
    """Objective sum(fwd(**inputs) * dout); bwd(dout, cache) returns grads in grad_names order."""
    out, cache = fwd(**inputs)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    grads = bwd(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    analytic = {n: g for n, g in zip(grad_names, grads)}

    def f():
        return fwd(**inputs)[0] * dout

    return check_gradients(f, {n: inputs[n] for n in grad_names}, analytic, has_kinks=kinks)


def test_linear(rng):
    x, W, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    out, _ = F.linear_forward(x, W, b)
    np.testing.assert_allclose(out, naive.linear(x, W, b), rtol=1e-12)
    r = _pair_check(lambda x, W, b: F.linear_forward(x, W, b), F.linear_backward,
                    {"x": x, "W": W, "b": b}, ["x", "W", "b"])
    assert r.max_rel_error < 1e-7, str(r)


@pytest.mark.parametrize("name,fwd,bwd,ref,kinks", [
    ("relu", F.relu_forward, F.relu_backward, naive.relu, True),
    ("leaky_relu", lambda x: F.leaky_relu_forward(x, 0.2), F.leaky_relu_backward,
     lambda x: naive.leaky_relu(x, 0.2), True),
    ("sigmoid", F.sigmoid_forward, F.sigmoid_backward, naive.sigmoid, False),
    ("tanh", F.tanh_forward, F.tanh_backward, naive.tanh, False),
    ("softmax", F.softmax_forward, F.softmax_backward, naive.softmax_rows, False),
])
def test_activation_pairs(rng, name, fwd, bwd, ref, kinks):
    x = away(rng, (5, 6))
    np.testing.assert_allclose(fwd(x)[0], ref(x), rtol=1e-12, atol=1e-15)
    r = _pair_check(lambda x: fwd(x), bwd, {"x": x}, ["x"], kinks=kinks)
    assert r.max_rel_error < (1e-5 if kinks else 1e-7), str(r)


@pytest.mark.parametrize("shape,dtype", [((3, 4), np.float32), ((256, 512), np.float32), ((5, 7), np.float64),
                                         ((1100, 1000), np.float32)])
def test_relu_forward_matches_the_definition_on_every_path(shape, dtype):
    """Small arrays go through shared zeros (the vectorized loop), large ones broadcast 0; both give
    max(0, x) exactly, NaN and infinities included, on contiguous and strided inputs, and leave the
    shared zeros untouched."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:3] = [np.nan, np.inf, -np.inf]
    for inp in (x, x[:, ::2], x.T):
        for relu in (F.relu_forward, _act._forward_shared_zeros):  # the reference and the kernel
            out, _ = relu(inp)
            ref = np.where((inp > 0) | np.isnan(inp), inp, dtype(0))
            np.testing.assert_array_equal(out, ref)
            assert out.dtype == dtype and not np.shares_memory(out, inp)
            out[...] = 7  # the caller owns the output: writing it must not touch the shared zeros
    for z in _act._zeros.values():
        assert not z.flags.writeable and not z.any()


@pytest.mark.parametrize("C", [1, 10, 64, 65, 300])
def test_softmax_routes_for_short_and_long_rows_agree_with_float64(C):
    """Rows of up to 64 classes are reduced as columns / by a matrix-vector product, longer ones by
    NumPy's row reductions: both match a float64 reference, and non-finite rows stay non-finite."""
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((33, C)) * 30).astype(np.float32)
    ref = x.astype(np.float64) - x.max(axis=1, keepdims=True)
    ref = ref - np.log(np.exp(ref).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(F.log_softmax(x, axis=1), ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(F.softmax(x, axis=-1), np.exp(ref), rtol=1e-5, atol=1e-7)
    assert F.log_softmax(x[:, ::-1], axis=1).shape == x.shape  # strided input
    x[3, 0] = np.nan
    assert np.isnan(F.softmax(x, axis=1)[3]).all() and np.isfinite(np.delete(F.softmax(x, axis=1), 3, 0)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_relu_backward_equals_numpy(dtype, jit_on):
    """The Numba kernel keeps the product dout * (x > 0): identical values, NaN and inf spread alike."""
    _jit = jit_on
    rng = np.random.default_rng(0)
    x, d = rng.standard_normal((2, 300, 70)).astype(dtype)
    d.flat[:6] = [np.nan, np.inf, -np.inf, np.nan, np.inf, 1]
    x.flat[:6] = [-1, -1, 1, 1, 0, np.nan]
    assert _jit.usable(d, x)
    from glassnet.kernels import activations as KA
    with np.errstate(invalid="ignore"):
        got = KA._numba_backward(d, x)
        np.testing.assert_array_equal(got, d * (x > 0))
        np.testing.assert_array_equal(KA._numba_backward(d[:, ::3], x[:, ::3]), d[:, ::3] * (x[:, ::3] > 0))


def test_relu_subgradient_at_zero_is_zero():
    x = np.array([[-1.0, 0.0, 2.0]])
    _, cache = F.relu_forward(x)
    np.testing.assert_array_equal(F.relu_backward(np.ones_like(x), cache), [[0.0, 0.0, 1.0]])


def test_maxout(rng):
    x, W, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
    np.testing.assert_allclose(F.maxout_forward(x, W, b, 3)[0], naive.maxout(x, W, b, 3), rtol=1e-12)
    r = _pair_check(lambda x, W, b: F.maxout_forward(x, W, b, 3), F.maxout_backward,
                    {"x": x, "W": W, "b": b}, ["x", "W", "b"], kinks=True)
    assert r.max_rel_error < 1e-5, str(r)


def test_dropout_fixed_mask_and_eval_identity(rng):
    x = rng.standard_normal((50, 40))
    out, mask = F.dropout_forward(x, 0.3, np.random.default_rng(0))
    u = np.random.default_rng(0).random(x.shape)
    np.testing.assert_allclose(out, np.where(u >= 0.3, x / 0.7, 0.0), rtol=1e-12)
    assert abs((mask == 0).mean() - 0.3) < 0.03
    same, cache = F.dropout_forward(x, 0.3, np.random.default_rng(0), train=False)
    assert same is x and cache is None
    r = _pair_check(lambda x: F.dropout_forward(x, 0.3, None, mask=mask), F.dropout_backward, {"x": x}, ["x"])
    assert r.max_rel_error < 1e-7, str(r)
    zeros, _ = F.dropout_forward(x, 1.0, np.random.default_rng(0))
    assert not zeros.any()


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_batchnorm(rng, train, shape):
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.random(c) + 0.5
    out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, train=train)
    ref = naive.batchnorm_train(x, gamma, beta, 1e-5) if train else naive.batchnorm_eval(x, gamma, beta, rm, rv, 1e-5)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    r = _pair_check(lambda x, gamma, beta: F.batchnorm_forward(x, gamma, beta, rm, rv, train=train),
                    F.batchnorm_backward, {"x": x, "gamma": gamma, "beta": beta}, ["x", "gamma", "beta"])
    assert r.max_rel_error < 1e-7, str(r)


def test_batchnorm_running_statistics_use_unbiased_variance(rng):
    x = rng.standard_normal((10, 3))
    rm, rv = np.zeros(3), np.ones(3)
    _, cache = F.batchnorm_forward(x, np.ones(3), np.zeros(3), rm, rv, train=True, momentum=0.9)
    np.testing.assert_allclose(cache.running_mean, 0.1 * x.mean(0))
    np.testing.assert_allclose(cache.running_var, 0.9 + 0.1 * x.var(0, ddof=1))
    np.testing.assert_array_equal(rm, 0)  # pure: inputs untouched


def test_flatten(rng):
    x = rng.standard_normal((3, 2, 4))
    out, cache = F.flatten_forward(x)
    assert out.shape == (3, 8)
    np.testing.assert_array_equal(F.flatten_backward(out, cache), x)


LOSS_PAIRS = [
    ("softmax_ce_labels", F.softmax_cross_entropy_forward, F.softmax_cross_entropy_backward, "labels", False),
    ("softmax_ce_probs", F.softmax_cross_entropy_forward, F.softmax_cross_entropy_backward, "probs", False),
    ("hinge", F.multiclass_hinge_forward, F.multiclass_hinge_backward, "labels", True),
    ("bce", F.binary_cross_entropy_with_logits_forward, F.binary_cross_entropy_with_logits_backward, "unit", False),
    ("mse", F.mse_forward, F.mse_backward, "real", False),
    ("kl", F.kl_divergence_forward, F.kl_divergence_backward, "probs", False),
]


@pytest.mark.parametrize("name,fwd,bwd,kind,kinks", LOSS_PAIRS)
def test_loss_pairs_gradients(rng, name, fwd, bwd, kind, kinks):
    s = rng.standard_normal((6, 4)) * 2
    t = {"labels": rng.integers(0, 4, 6), "probs": F.softmax(rng.standard_normal((6, 4))),
         "unit": rng.random((6, 4)), "real": rng.standard_normal((6, 4))}[kind]

    def f():
        return fwd(s, t)[0]

    _, cache = fwd(s, t)
    r = check_gradients(f, {"s": s}, {"s": bwd(cache)}, has_kinks=kinks)
    assert r.max_rel_error < (1e-5 if kinks else 1e-7), str(r)


def test_loss_forward_against_naive(rng):
    s = rng.standard_normal((5, 3))
    y = rng.integers(0, 3, 5)
    p = naive.softmax_rows(s)
    ce = -np.mean([np.log(p[i, y[i]]) for i in range(5)])
    assert F.softmax_cross_entropy_forward(s, y)[0] == pytest.approx(ce, rel=1e-12)
    hinge = np.mean([sum(max(0, s[i, j] - s[i, y[i]] + 1) for j in range(3) if j != y[i]) for i in range(5)])
    assert F.multiclass_hinge_forward(s, y)[0] == pytest.approx(hinge, rel=1e-12)
    t = rng.random((5, 3))
    sig = naive.sigmoid(s)
    bce = -np.mean(t * np.log(sig) + (1 - t) * np.log(1 - sig))
    assert F.binary_cross_entropy_with_logits_forward(s, t)[0] == pytest.approx(bce, rel=1e-10)
    q = naive.softmax_rows(rng.standard_normal((5, 3)))
    kl = np.mean([sum(q[i, j] * np.log(q[i, j] / p[i, j]) for j in range(3)) for i in range(5)])
    assert F.kl_divergence_forward(s, q)[0] == pytest.approx(kl, rel=1e-10)
