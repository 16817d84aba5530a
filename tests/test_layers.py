"""Every built-in module through one template (after Chainer's LinkTestCase): forward
against a naive reference, backward against numerical gradients in float64, eval-mode
determinism, no mutation of inputs, and a state_dict round trip."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_module

import naive


def _away_from_zero(rng, shape, margin=0.05):
    """Inputs with |x| >= margin, so finite differences never straddle a ReLU kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin, x)


def ref_linear(m, x):
    return naive.linear(x, m.W.data, m.b.data)


def ref_maxout(m, x):
    return naive.maxout(x, m.W.data, m.b.data, m.pieces)


def ref_bn(m, x):
    if m.training:
        return naive.batchnorm_train(x, m.gamma.data, m.beta.data, m.eps)
    return naive.batchnorm_eval(x, m.gamma.data, m.beta.data, m.running_mean, m.running_var, m.eps)


def ref_dropout(m, x):
    # the layer draws u ~ U[0,1) of x.shape from its Generator; keep u >= p, scale 1/(1-p)
    g = np.random.default_rng(7)
    u = g.random(x.shape, dtype=x.dtype)
    return np.where(u >= m.p, x / (1 - m.p), 0.0)


def _bn_with_stats(num, ndim_extra=False):
    m = gn.nn.BatchNorm1d(num)
    m.gamma.data[...] = np.linspace(0.5, 2.0, num)
    m.beta.data[...] = np.linspace(-1, 1, num)
    m.running_mean[...] = np.linspace(-0.3, 0.3, num)
    m.running_var[...] = np.linspace(0.5, 1.5, num)
    return m


# name: (factory, input shape, reference or None, train-mode flag for the check)
CASES = {
    "Linear": (lambda: gn.nn.Linear(6, 4, rng=0), (5, 6), ref_linear),
    "Linear-3d-input": (lambda: gn.nn.Linear(6, 4, rng=0), (5, 2, 3), ref_linear),
    "Linear-nobias": (lambda: gn.nn.Linear(6, 4, bias=False, rng=0), (5, 6),
                      lambda m, x: naive.linear(x, m.W.data, None)),
    "ReLU": (gn.nn.ReLU, (4, 7), lambda m, x: naive.relu(x)),
    "LeakyReLU": (lambda: gn.nn.LeakyReLU(0.1), (4, 7), lambda m, x: naive.leaky_relu(x, 0.1)),
    "Sigmoid": (gn.nn.Sigmoid, (4, 7), lambda m, x: naive.sigmoid(x)),
    "Tanh": (gn.nn.Tanh, (4, 7), lambda m, x: naive.tanh(x)),
    "Softmax": (gn.nn.Softmax, (4, 7), lambda m, x: naive.softmax_rows(x)),
    "Maxout": (lambda: gn.nn.Maxout(6, 4, pieces=3, rng=0), (5, 6), ref_maxout),
    "Dropout": (lambda: gn.nn.Dropout(0.4, rng=7), (6, 5), ref_dropout),
    "BatchNorm1d-train": (lambda: _bn_with_stats(5), (8, 5), ref_bn),
    "BatchNorm1d-eval": (lambda: _bn_with_stats(5).eval(), (8, 5), ref_bn),
    "BatchNorm1d-3d": (lambda: _bn_with_stats(3), (4, 3, 5), ref_bn),
    "Flatten": (gn.nn.Flatten, (3, 2, 4), lambda m, x: x.reshape(3, -1)),
    "Identity": (gn.nn.Identity, (3, 4), lambda m, x: x),
    "Sequential": (lambda: gn.nn.Sequential(gn.nn.Linear(6, 8, rng=0), gn.nn.Tanh(), gn.nn.Linear(8, 3, rng=1)),
                   (5, 6), lambda m, x: naive.linear(naive.tanh(naive.linear(x, m[0].W.data, m[0].b.data)),
                                                     m[2].W.data, m[2].b.data)),
    "Residual": (lambda: gn.nn.Residual(gn.nn.Sequential(gn.nn.Linear(6, 6, rng=0), gn.nn.Tanh())), (5, 6),
                 lambda m, x: naive.tanh(naive.linear(x, m.block[0].W.data, m.block[0].b.data)) + x),
    "Residual-projection": (lambda: gn.nn.Residual(gn.nn.Linear(6, 4, rng=0), gn.nn.Linear(6, 4, rng=1)), (5, 6),
                            lambda m, x: naive.linear(x, m.block.W.data, m.block.b.data)
                            + naive.linear(x, m.shortcut.W.data, m.shortcut.b.data)),
    "Parallel-add": (lambda: gn.nn.Parallel(gn.nn.Linear(6, 4, rng=0), gn.nn.Linear(6, 4, rng=1), merge=gn.nn.Add()),
                     (5, 6), lambda m, x: naive.linear(x, m[0].W.data, m[0].b.data) + naive.linear(x, m[1].W.data, m[1].b.data)),
    "Parallel-concat": (lambda: gn.nn.Parallel(gn.nn.Linear(6, 2, rng=0), gn.nn.Sigmoid(), merge=gn.nn.Concat()),
                        (5, 6), lambda m, x: np.concatenate([naive.linear(x, m[0].W.data, m[0].b.data), naive.sigmoid(x)], 1)),
    "Conv2d": (lambda: gn.nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=0), (2, 2, 7, 6),
               lambda m, x: naive.conv2d(x, m.W.data, m.b.data, (2, 2), (1, 1))),
    "Conv1d": (lambda: gn.nn.Conv1d(2, 3, 3, dilation=2, rng=0), (2, 2, 9),
               lambda m, x: naive.conv2d(x[:, :, None], m.W.data[:, :, None], m.b.data, dilation=(1, 2))[:, :, 0]),
    "MaxPool2d": (lambda: gn.nn.MaxPool2d(2), (2, 3, 4, 6), lambda m, x: naive.pool2d(x, (2, 2), (2, 2), np.max)),
    "AvgPool2d": (lambda: gn.nn.AvgPool2d(3, 2), (2, 3, 7, 5), lambda m, x: naive.pool2d(x, (3, 3), (2, 2), np.mean)),
    "MaxPool1d": (lambda: gn.nn.MaxPool1d(3, 1), (2, 3, 6),
                  lambda m, x: naive.pool2d(x[:, :, None], (1, 3), (1, 1), np.max)[:, :, 0]),
    "AvgPool1d": (lambda: gn.nn.AvgPool1d(2), (2, 3, 6),
                  lambda m, x: naive.pool2d(x[:, :, None], (1, 2), (1, 2), np.mean)[:, :, 0]),
    "GlobalAvgPool": (gn.nn.GlobalAvgPool, (3, 4, 2, 5), lambda m, x: x.mean(axis=(2, 3))),
    "BatchNorm2d-train": (lambda: gn.nn.BatchNorm2d(3), (4, 3, 2, 3), None),
    "SyncBatchNorm-train": (lambda: gn.nn.SyncBatchNorm(3), (4, 3, 2, 3), None),  # one process: BatchNorm
    "Reshape": (lambda: gn.nn.Reshape(2, -1), (3, 6), lambda m, x: x.reshape(3, 2, 3)),
    "RNN": (lambda: gn.nn.RNN(3, 4, rng=0), (2, 5, 3),
            lambda m, x: naive.rnn(x, np.zeros((2, 4)), m.Wx.data, m.Wh.data, m.b.data)),
    "LSTM": (lambda: gn.nn.LSTM(3, 2, rng=0), (2, 4, 3),
             lambda m, x: naive.lstm(x, np.zeros((2, 2)), np.zeros((2, 2)), m.Wx.data, m.Wh.data, m.b.data)),
    "GRU": (lambda: gn.nn.GRU(3, 2, return_sequences=False, rng=0), (2, 4, 3),
            lambda m, x: naive.gru(x, np.zeros((2, 2)), m.Wx.data, m.Wh.data, m.bx.data, m.bh.data)[:, -1]),
    "Bidirectional": (lambda: gn.nn.Bidirectional(gn.nn.LSTM(3, 2, rng=0), rng=1), (2, 4, 3), None),
    "TimeDistributed": (lambda: gn.nn.TimeDistributed(gn.nn.Linear(3, 2, rng=0)), (2, 4, 3),
                        lambda m, x: x @ m.module.W.data + m.module.b.data),
    "BasicBlock": (lambda: gn.nn.BasicBlock(2, 3, stride=2, rng=0), (2, 2, 5, 5), None),
    "Bottleneck": (lambda: gn.nn.Bottleneck(4, 8, stride=2, rng=0), (2, 4, 5, 5), None),
    "Inception": (lambda: gn.nn.Inception(3, 2, 2, 3, 1, 2, 2, kernel_5x5=3, rng=0), (2, 3, 4, 4), None),
    "LayerNorm": (lambda: _affine(gn.nn.LayerNorm(5)), (4, 3, 5),
                  lambda m, x: naive.layer_norm(x, m.gamma.data, m.beta.data, 1)),
    "LayerNorm-2d": (lambda: _affine(gn.nn.LayerNorm((3, 5))), (4, 3, 5),
                     lambda m, x: naive.layer_norm(x, m.gamma.data, m.beta.data, 2)),
    "LayerNorm-plain": (lambda: gn.nn.LayerNorm(6, elementwise_affine=False), (4, 6),
                        lambda m, x: naive.layer_norm(x, None, None, 1)),
    "GroupNorm": (lambda: _affine(gn.nn.GroupNorm(2, 6)), (3, 6, 2, 3),
                  lambda m, x: naive.group_norm(x, m.gamma.data, m.beta.data, 2)),
    "GroupNorm-plain": (lambda: gn.nn.GroupNorm(3, 3, affine=False), (3, 3, 5),
                        lambda m, x: naive.group_norm(x, None, None, 3)),
    "LocalResponseNorm": (lambda: gn.nn.LocalResponseNorm(3, alpha=0.5, beta=0.75, k=2.0), (2, 5, 3, 3),
                          lambda m, x: naive.local_response_norm(x, 3, 0.5, 0.75, 2.0)),
    "LocalResponseNorm-even": (lambda: gn.nn.LocalResponseNorm(4, alpha=0.3, beta=0.6), (2, 6, 4),
                               lambda m, x: naive.local_response_norm(x, 4, 0.3, 0.6, 1.0)),
    "MaxPool2d-padded": (lambda: gn.nn.MaxPool2d(3, 2, padding=1), (2, 3, 5, 6),
                         lambda m, x: naive.pool2d(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf),
                                                   (3, 3), (2, 2), np.max)),
    "AvgPool2d-padded": (lambda: gn.nn.AvgPool2d(3, 1, padding=1), (2, 2, 4, 5),
                         lambda m, x: naive.pool2d(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), (1, 1), np.mean)),
    "MLP-relu-bn-dropout": (lambda: gn.nn.Sequential(gn.nn.Linear(6, 8, rng=0), gn.nn.BatchNorm1d(8), gn.nn.ReLU(),
                                                     gn.nn.Dropout(0.3, rng=3), gn.nn.Linear(8, 3, rng=1)), (6, 6), None),
}


def _affine(layer):
    """A normalization layer with gamma and beta away from 1 and 0 (so that they matter)."""
    rng = np.random.default_rng(3)
    layer.gamma.data[...] = 1 + 0.5 * rng.standard_normal(layer.gamma.shape)
    layer.beta.data[...] = rng.standard_normal(layer.beta.shape)
    return layer


def _case(name):
    factory, shape, ref = CASES[name]
    return factory, shape, ref


@pytest.mark.parametrize("name", sorted(n for n, case in CASES.items() if case[2] is not None))
def test_forward_matches_naive_reference(name, rng):
    factory, shape, ref = _case(name)  # composites without a reference are covered by their parts
    m = factory().to(np.float64)
    x = _away_from_zero(rng, shape)
    out = m.forward(x)
    np.testing.assert_allclose(out, ref(m, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_matches_numerical_gradient_float64(name, rng):
    factory, shape, _ = _case(name)
    x = _away_from_zero(rng, shape)
    report = check_module(factory(), x)
    threshold = 1e-5 if report.has_kinks else 1e-7
    assert report.max_rel_error < threshold, str(report)
    assert report.passed
    assert all(c.n_checked > 0 for c in report.checks)


@pytest.mark.parametrize("name", sorted(CASES))
def test_eval_mode_is_deterministic(name, rng):
    factory, shape, _ = _case(name)
    m = factory().eval()
    x = rng.standard_normal(shape).astype(np.float32)
    a = m.forward(x)
    b = m.forward(x)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_inputs_are_not_mutated(name, rng):
    factory, shape, _ = _case(name)
    m = factory()
    x = rng.standard_normal(shape).astype(np.float32)
    x0 = x.copy()
    out = m.forward(x)
    dout = np.ones_like(out)
    d0 = dout.copy()
    m.backward(dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip(name, rng):
    factory, shape, _ = _case(name)
    a = factory()
    x = rng.standard_normal(shape).astype(np.float32)
    a.train()
    a.forward(x)  # moves BatchNorm running statistics away from their initial values
    a.clear_cache()
    b = factory()
    b.reset_parameters(99)  # different weights before loading
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)


#: layers whose input is not a float array, tested on their own (tests/test_recurrent.py)
OWN_TESTS = {"Embedding"}


def test_every_builtin_layer_has_a_case():
    covered = {type(f()).__name__ for f, _, _ in CASES.values()} | OWN_TESTS
    for name in gn.nn.layers.__all__:
        assert name in covered, f"{name} has no case in the layer template"
