"""Initializers: statistics, the notes' variance argument, and symmetry."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.nn import init


def test_he_keeps_activation_variance_through_10_relu_layers():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 256))
    layers = []
    for i in range(10):
        layers += [gn.nn.Linear(256, 256, init="he", rng=i, dtype=np.float64), gn.nn.ReLU()]
    net = gn.nn.Sequential(*layers[:-1])  # end on the pre-activation of the last layer
    out = net.forward(x)
    ratio = out.var() / x.var()
    assert 0.5 < ratio < 2.0, ratio


def test_small_init_vanishes_and_he_does_not():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 128))

    def depth_var(kind):
        h = x
        for i in range(10):
            h = np.maximum(0, h @ getattr(init, kind)((128, 128), rng=i, dtype=np.float64))
        return h.var()

    assert depth_var("small_normal") < 1e-12 * x.var()
    assert depth_var("he") > 0.1 * x.var()


def test_zero_init_gives_identical_hidden_units_and_warns():
    rng = np.random.default_rng(0)
    with pytest.warns(gn.SymmetryWarning, match="same function"):
        net = gn.nn.Sequential(gn.nn.Linear(5, 6, init="zeros", dtype=np.float64), gn.nn.Tanh(),
                               gn.nn.Linear(6, 3, init="zeros", dtype=np.float64))
    net[2].b.data[...] = [0.1, -0.2, 0.3]  # some signal so gradients are non-zero
    ce = gn.nn.SoftmaxCrossEntropy()
    x, y = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    for _ in range(5):  # a few steps of gradient descent
        net.zero_grad()
        ce(net.forward(x), y)
        net.backward(ce.backward())
        for p in net.parameters():
            p.data -= 0.5 * p.grad
    W1 = net[0].W.data
    np.testing.assert_allclose(W1, W1[:, :1] * np.ones((1, 6)), atol=1e-15)  # all hidden units equal
    W2 = net[2].W.data
    np.testing.assert_allclose(W2, W2[:1, :] * np.ones((6, 1)), atol=1e-15)


def test_biases_init_to_zero_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin = gn.nn.Linear(4, 3)
    assert not lin.b.data.any()


@pytest.mark.parametrize("name,shape,std", [
    ("normal_fan_in", (400, 300), 1 / np.sqrt(400)),  # the notes' 1/sqrt(n)
    ("xavier", (400, 300), np.sqrt(2 / 700)),  # PyTorch's and Keras's Xavier/Glorot
    ("glorot", (400, 300), np.sqrt(2 / 700)),
    ("he", (400, 300), np.sqrt(2 / 400)),
    ("small_normal", (400, 300), 0.01),
    ("he", (64, 16, 3, 3), np.sqrt(2 / (16 * 9))),  # conv layout (out, in, kh, kw)
])
def test_initializer_standard_deviations(name, shape, std):
    w = init.get(name)(shape, rng=0)
    assert w.dtype == np.float32 and w.shape == shape
    assert abs(w.mean()) < 0.02 * std * 10
    assert w.std() == pytest.approx(std, rel=0.03)


def test_truncated_normal_bounds():
    w = init.truncated_normal((200, 100), rng=0, std=0.5, bound=2.0)
    assert np.abs(w).max() <= 1.0 + 1e-6
    assert w.std() < 0.5


def test_sparse_has_k_nonzero_inputs_per_unit():
    w = init.sparse((50, 20), rng=0, k=7)
    assert ((w != 0).sum(axis=0) == 7).all()
    wc = init.sparse((8, 4, 3, 3), rng=0, k=5)
    assert ((wc.reshape(8, -1) != 0).sum(axis=1) == 5).all()


def test_constant_and_zero_warn_only_for_weights():
    with pytest.warns(gn.SymmetryWarning):
        init.constant((3, 3), value=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.zeros((3,), role="bias")


def test_initializers_are_seeded_by_generator():
    a = init.he((5, 5), rng=np.random.default_rng(3))
    b = init.he((5, 5), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    lin1, lin2 = gn.nn.Linear(5, 5, rng=3), gn.nn.Linear(5, 5, rng=3)
    np.testing.assert_array_equal(lin1.W.data, lin2.W.data)
