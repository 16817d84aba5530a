"""BatchNorm behaviour the notes describe."""
import numpy as np
import pytest

import glassnet as gn


def test_train_output_is_standardized_before_gamma_beta(rng):
    bn = gn.nn.BatchNorm1d(6, dtype=np.float64)
    x = rng.standard_normal((64, 6)) * np.arange(1, 7) * 10 + 50
    out = bn.forward(x)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1, rtol=1e-3)  # var/(var+eps)


def test_gamma_beta_scale_and_shift(rng):
    bn = gn.nn.BatchNorm1d(3, dtype=np.float64)
    bn.gamma.data[...] = [1.0, 2.0, 3.0]
    bn.beta.data[...] = [0.0, -1.0, 5.0]
    out = bn.forward(rng.standard_normal((100, 3)))
    np.testing.assert_allclose(out.mean(axis=0), [0, -1, 5], atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), [1, 2, 3], rtol=1e-3)


def test_eval_uses_running_statistics(rng):
    bn = gn.nn.BatchNorm1d(4, momentum=0.5, dtype=np.float64)
    batches = [rng.standard_normal((32, 4)) * 3 + 2 for _ in range(3)]
    rm, rv = np.zeros(4), np.ones(4)
    for b in batches:
        bn.forward(b)
        rm = 0.5 * rm + 0.5 * b.mean(0)
        rv = 0.5 * rv + 0.5 * b.var(0, ddof=1)
    np.testing.assert_allclose(bn.running_mean, rm)
    np.testing.assert_allclose(bn.running_var, rv)
    bn.eval()
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(bn.forward(x), (x - rm) / np.sqrt(rv + 1e-5))
    # a single example works in eval mode and does not depend on the rest of the batch
    np.testing.assert_allclose(bn.forward(x[:1]), bn.forward(x)[:1])
    np.testing.assert_allclose(bn.running_mean, rm)  # eval does not update


def test_running_stats_survive_state_dict(rng):
    bn = gn.nn.BatchNorm1d(3)
    bn.forward(rng.standard_normal((10, 3)).astype(np.float32) + 4)
    sd = bn.state_dict()
    assert sd["running_mean"].mean() == pytest.approx(0.4, abs=0.1)
    fresh = gn.nn.BatchNorm1d(3)
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh.running_mean, bn.running_mean)


@pytest.mark.parametrize("shape", [(64, 6), (8, 5, 17), (6, 4, 9, 11)])
@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_compiled_batchnorm_matches_the_numpy_path(shape, dtype, rtol, jit_on):
    """The Numba training path (input kept, statistics in two passes) against the NumPy one:
    output, running statistics and all three gradients to float rounding, also for a large
    offset with a small spread (no E[x^2] - mean^2 cancellation) and a strided upstream gradient."""
    from glassnet import kernels
    rng = np.random.default_rng(5)
    C = shape[1]
    x = (rng.standard_normal(shape) * 0.01 + 1000.0 * rng.standard_normal(C).reshape((1, C) + (1,) * (len(shape) - 2)))
    x = x.astype(dtype)
    gamma, beta = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    got = {}
    for jit in (True, False):
        gn.kernels.set_enabled(jit)
        out, cache = kernels.forward("batchnorm", x, gamma, beta, rm, rv, train=True)
        assert cache.impl.name == ("numba" if jit else "reference")
        grads = kernels.backward("batchnorm", dout, cache)
        spread = np.repeat(dout, 2, axis=-1)[..., ::2]  # dout's values, not contiguous: the fallback
        assert not spread.flags.c_contiguous
        strided = kernels.backward("batchnorm", spread, cache)
        got[jit] = (out, cache.value.running_mean, cache.value.running_var, *grads, *strided)
    for a, b in zip(got[True], got[False]):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    if dtype == np.float64:  # (float32 cannot hold 1000 +- 0.01 finely enough for this; both paths alike)
        np.testing.assert_allclose(got[True][0].mean(axis=tuple(i for i in range(len(shape)) if i != 1)), beta,
                                   atol=1e-9)


def test_batchnorm_with_short_rows_keeps_the_reference(jit_on, rng):
    x = rng.standard_normal((8, 5, 7)).astype(np.float32)  # 7 values per row: the loops would not pay
    _, cache = gn.kernels.forward("batchnorm", x, np.ones(5, np.float32), np.zeros(5, np.float32),
                                  np.zeros(5, np.float32), np.ones(5, np.float32), train=True)
    assert cache.impl.name == "reference" and cache.value.xhat.shape == x.shape


def test_compiled_batchnorm_gradients_float64(jit_on, rng):
    from glassnet.gradcheck import check_module
    gn.kernels.set_enabled(True)
    bn = gn.nn.BatchNorm2d(3, dtype=np.float64)
    bn.gamma.data[...] = [0.5, 2.0, -1.0]
    report = check_module(bn, rng.standard_normal((4, 3, 5, 6)) * 2 + 7, seed=1)
    assert report.passed, str(report)
