"""The CuPy backend: every layer, loss and optimizer on the GPU gives the CPU's results (float32
tolerance), and the Trainer trains on the GPU. Skipped where CuPy or a GPU is missing."""
import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet import backend

pytestmark = pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a GPU")

from test_layers import CASES  # noqa: E402  (the template's layer cases)

RTOL, ATOL = 2e-4, 2e-5


def cpu(a):
    return backend.as_numpy(a)


def gpu(a):
    return backend.to_device(a, "cuda")


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_backward_match_cpu(name, rng):
    factory, shape, _ = CASES[name]
    m_cpu = factory()
    m_gpu = copy.deepcopy(m_cpu).to("cuda")
    x = rng.standard_normal(shape).astype(np.float32)
    out = m_cpu.forward(x)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = m_cpu.backward(dout)
    out_g = m_gpu.forward(gpu(x))
    assert backend.device_of(out_g) == "cuda"
    dx_g = m_gpu.backward(gpu(dout))
    np.testing.assert_allclose(cpu(out_g), out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(cpu(dx_g), dx, rtol=RTOL, atol=ATOL)
    for (n, p), (_, q) in zip(m_cpu.named_parameters(), m_gpu.named_parameters()):
        np.testing.assert_allclose(cpu(q.grad), p.grad, rtol=RTOL, atol=ATOL, err_msg=n)
    for (n, b), (_, c) in zip(m_cpu.named_buffers(), m_gpu.named_buffers()):
        np.testing.assert_allclose(cpu(c), b, rtol=RTOL, atol=ATOL, err_msg=n)


def test_embedding_on_gpu(rng):
    emb = gn.nn.Embedding(7, 3, rng=0)
    emb_g = copy.deepcopy(emb).to("cuda")
    ids = rng.integers(0, 7, (4, 5))
    dout = rng.standard_normal((4, 5, 3)).astype(np.float32)
    emb.forward(ids)
    emb.backward(dout)
    emb_g.forward(gpu(ids))
    emb_g.backward(gpu(dout))
    np.testing.assert_allclose(cpu(emb_g.W.grad), emb.W.grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss,target", [
    (gn.nn.SoftmaxCrossEntropy, lambda r: r.integers(0, 5, 8)),
    (gn.nn.MulticlassHinge, lambda r: r.integers(0, 5, 8)),
    (gn.nn.BCEWithLogits, lambda r: r.random((8, 5)).astype(np.float32)),
    (gn.nn.MSE, lambda r: r.standard_normal((8, 5)).astype(np.float32)),
])
def test_losses_match_cpu(rng, loss, target):
    s = rng.standard_normal((8, 5)).astype(np.float32)
    t = target(rng)
    a, b = loss(), loss()
    va = a.forward(s, t)
    ga = a.backward()
    vb = b.forward(gpu(s), gpu(t))
    gb = b.backward()
    assert abs(float(vb) - float(va)) < 1e-4 * max(1.0, abs(float(va)))
    np.testing.assert_allclose(cpu(gb), ga, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("make", [
    lambda m: gn.optim.SGD(m, lr=0.1, momentum=0.9, nesterov=True),
    lambda m: gn.optim.Adagrad(m, lr=0.1),
    lambda m: gn.optim.RMSprop(m, lr=0.01),
    lambda m: gn.optim.Adam(m, lr=0.01),
])
def test_optimizers_match_cpu(rng, make):
    net = gn.nn.Sequential(gn.nn.Linear(4, 6, rng=0), gn.nn.Tanh(), gn.nn.Linear(6, 2, rng=1))
    net_g = copy.deepcopy(net).to("cuda")
    opt, opt_g = make(net), make(net_g)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    for _ in range(5):
        for m, o, xx in ((net, opt, x), (net_g, opt_g, gpu(x))):
            m.zero_grad()
            out = m.forward(xx)
            m.backward(out)
            o.step()
    for p, q in zip(net.parameters(), net_g.parameters()):
        np.testing.assert_allclose(cpu(q.data), p.data, rtol=1e-4, atol=1e-5)


def test_trainer_trains_a_cnn_on_the_gpu():
    rng = np.random.default_rng(0)
    n = 512
    X = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    y = (X[:, 0, :4].sum(axis=(1, 2)) > X[:, 0, 4:].sum(axis=(1, 2))).astype(np.int64)
    model = gn.nn.Sequential(gn.nn.Conv2d(1, 8, 3, padding=1, rng=0), gn.nn.BatchNorm2d(8), gn.nn.ReLU(),
                             gn.nn.MaxPool2d(2), gn.nn.Flatten(), gn.nn.Linear(128, 2, rng=1)).to("cuda")
    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-2), verbose=0)
    hist = trainer.fit((X, y), val=(X, y), epochs=5, batch_size=64, seed=0)  # NumPy data follows the model
    assert backend.device_of(next(model.parameters()).data) == "cuda"
    assert hist.epochs[-1]["accuracy"] > 0.9
    scores = gn.nn.eval_scores(model, X)
    assert isinstance(scores, np.ndarray) and scores.shape == (n, 2)


def test_checkpoint_of_a_gpu_model_loads_on_the_cpu(tmp_path):
    model = gn.nn.Sequential(gn.nn.Linear(3, 4, rng=0), gn.nn.ReLU(), gn.nn.Linear(4, 2, rng=1)).to("cuda")
    path = tmp_path / "m.npz"
    gn.save(model, path)
    back = gn.load(path)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(back.forward(x), cpu(model.forward(gpu(x))), rtol=1e-5)
