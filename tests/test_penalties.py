"""Penalties, constraints and gradient clipping."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.optim import L1, L2, ElasticNet, MaxNorm, clip_grad_norm, clip_grad_value


def net():
    return gn.nn.Sequential(gn.nn.Linear(4, 5, rng=0), gn.nn.BatchNorm1d(5), gn.nn.ReLU(),
                            gn.nn.Linear(5, 3, rng=1)).to(np.float64)


def test_l2_value_and_gradient_is_lam_W_on_weights_only():
    m = net()
    lam = 0.3
    value = L2(lam).add_to_grads(m)
    expected = 0.5 * lam * (np.sum(m[0].W.data ** 2) + np.sum(m[3].W.data ** 2))
    assert value == pytest.approx(expected)
    np.testing.assert_allclose(m[0].W.grad, lam * m[0].W.data)
    np.testing.assert_allclose(m[3].W.grad, lam * m[3].W.data)
    for p in (m[0].b, m[1].gamma, m[1].beta, m[3].b):  # biases and BatchNorm exempt
        assert not p.grad.any()
    assert L2(lam).value(m) == pytest.approx(expected)


def test_l2_gradient_matches_numerical():
    m = gn.nn.Linear(3, 2, rng=0).to(np.float64)
    pen = L2(0.7)
    pen.add_to_grads(m)
    W = m.W.data
    num = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        old = W[idx]
        W[idx] = old + 1e-6
        fp = pen.value(m)
        W[idx] = old - 1e-6
        fm = pen.value(m)
        W[idx] = old
        num[idx] = (fp - fm) / 2e-6
    np.testing.assert_allclose(m.W.grad, num, rtol=1e-7)


def test_l1_and_elastic_net():
    m = gn.nn.Linear(3, 2, rng=0).to(np.float64)
    m.W.data[0, 0] = 0.0
    assert L1(0.2).add_to_grads(m) == pytest.approx(0.2 * np.abs(m.W.data).sum())
    np.testing.assert_allclose(m.W.grad, 0.2 * np.sign(m.W.data))
    assert m.W.grad[0, 0] == 0
    m.zero_grad()
    en = ElasticNet(0.1, 0.4)
    assert en.add_to_grads(m) == pytest.approx(0.1 * np.abs(m.W.data).sum() + 0.2 * (m.W.data ** 2).sum())
    np.testing.assert_allclose(m.W.grad, 0.1 * np.sign(m.W.data) + 0.4 * m.W.data)


def test_per_layer_strength_by_name_prefix():
    m = net()
    L2(0.1, strengths={"0": 1.0}).add_to_grads(m)
    np.testing.assert_allclose(m[0].W.grad, 1.0 * m[0].W.data)
    np.testing.assert_allclose(m[3].W.grad, 0.1 * m[3].W.data)


def test_decay_flag_can_be_changed_per_parameter():
    m = net()
    m[0].b.decay = True
    L2(0.5).add_to_grads(m)
    np.testing.assert_allclose(m[0].b.grad, 0.5 * m[0].b.data)


def test_l1_sparsifies_irrelevant_features_and_l2_does_not():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 20))
    w = np.zeros((20, 1))
    w[:3, 0] = [2.0, -3.0, 1.5]
    y = X @ w + 0.1 * rng.standard_normal((200, 1))
    result = {}
    for pen in (L1(0.05), L2(0.05)):
        lin = gn.nn.Linear(20, 1, rng=0).to(np.float64)
        mse, opt = gn.nn.MSE(), gn.optim.SGD(lin, lr=0.01)
        for _ in range(3000):
            opt.zero_grad()
            mse(lin.forward(X), y)
            lin.backward(mse.backward())
            pen.add_to_grads(lin)
            opt.step()
        result[type(pen).__name__] = np.abs(lin.W.data[3:, 0])
        np.testing.assert_allclose(lin.W.data[:3, 0], w[:3, 0], rtol=0.05)  # relevant ones kept
    assert result["L1"].max() < 2e-3
    assert result["L2"].max() > 10 * result["L1"].max()
    assert result["L2"].mean() > 10 * result["L1"].mean()


def test_max_norm_projects_columns():
    m = gn.nn.Linear(6, 4, rng=0).to(np.float64)
    m.W.data *= 10
    opt = gn.optim.SGD(m, lr=0.1, constraints=[MaxNorm(1.5)])
    m.W.grad[...] = 0.01
    opt.step()
    norms = np.linalg.norm(m.W.data, axis=0)
    np.testing.assert_allclose(norms, 1.5, rtol=1e-12)
    small = gn.nn.Linear(6, 4, rng=0).to(np.float64)
    small.W.data[...] = 0.01
    MaxNorm(1.5).apply(small)
    np.testing.assert_array_equal(small.W.data, 0.01)  # inside the ball: untouched


def test_clip_grad_norm_keeps_direction_and_sets_norm():
    m = net()
    rng = np.random.default_rng(0)
    for p in m.parameters():
        p.grad[...] = rng.standard_normal(p.grad.shape) * 10
    before = np.concatenate([p.grad.ravel() for p in m.parameters()])
    total = clip_grad_norm(m, 5.0)
    after = np.concatenate([p.grad.ravel() for p in m.parameters()])
    assert total == pytest.approx(np.linalg.norm(before))
    assert np.linalg.norm(after) == pytest.approx(5.0)
    np.testing.assert_allclose(after / np.linalg.norm(after), before / np.linalg.norm(before))
    # below the threshold nothing changes
    assert clip_grad_norm(m, 100.0) == pytest.approx(5.0)
    assert np.linalg.norm(np.concatenate([p.grad.ravel() for p in m.parameters()])) == pytest.approx(5.0)


def test_clip_grad_value():
    m = gn.nn.Linear(2, 2).to(np.float64)
    m.W.grad[...] = [[3.0, -0.5], [-7.0, 0.1]]
    clip_grad_value(m, 1.0)
    np.testing.assert_array_equal(m.W.grad, [[1.0, -0.5], [-1.0, 0.1]])


@pytest.mark.parametrize("ctor,pattern", [
    (lambda: L2(-1), r"L2: lam must lie in \[0.0, inf\), got -1"),
    (lambda: L1(float("nan")), "L1: lam must be a finite number, got nan"),
    (lambda: MaxNorm(0), r"MaxNorm: c must lie in \(0.0, inf\), got 0"),
    (lambda: clip_grad_norm(gn.nn.Linear(2, 2), -1), r"clip_grad_norm: max_norm must lie in \(0.0, inf\), got -1"),
])
def test_bad_settings(ctor, pattern):
    with pytest.raises(ValueError, match=pattern):
        ctor()
