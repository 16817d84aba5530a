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
