"""Forward values and all gradients against PyTorch (CPU, float64) to 1e-5 relative.

Skipped where torch is not installed; CI installs torch==2.13.0 so these run there.
"""
import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)

RTOL = 1e-5


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy() if hasattr(b, "detach") else b,
                               rtol=RTOL, atol=1e-10)


def run_torch(fn, *arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    return out, ts


def test_linear(rng):
    x = rng.standard_normal((6, 5))
    lin = gn.nn.Linear(5, 4, rng=0).to(np.float64)
    dout = rng.standard_normal((6, 4))
    out = lin.forward(x)
    dx = lin.backward(dout)
    tl = torch.nn.Linear(5, 4)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(lin.W.data.T))  # torch stores (out, in)
        tl.bias.copy_(torch.tensor(lin.b.data))
    tx = torch.tensor(x, requires_grad=True)
    tout = tl(tx)
    tout.backward(torch.tensor(dout))
    close(out, tout)
    close(dx, tx.grad)
    close(lin.W.grad, tl.weight.grad.T)
    close(lin.b.grad, tl.bias.grad)


@pytest.mark.parametrize("ours,theirs", [
    (gn.nn.ReLU, torch.nn.ReLU),
    (lambda: gn.nn.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1)),
    (gn.nn.Sigmoid, torch.nn.Sigmoid),
    (gn.nn.Tanh, torch.nn.Tanh),
    (gn.nn.Softmax, lambda: torch.nn.Softmax(dim=-1)),
])
def test_activations(rng, ours, theirs):
    x = rng.standard_normal((7, 6)) * 3
    x[np.abs(x) < 1e-3] = 0.5
    dout = rng.standard_normal(x.shape)
    m = ours()
    out = m.forward(x)
    dx = m.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs()(tx)
    tout.backward(torch.tensor(dout))
    close(out, tout)
    close(dx, tx.grad)


def _loss_matches_torch(ours, theirs, s, t, t_torch=None):
    """Our loss value and d(loss)/d(scores) against torch's on the same float64 inputs."""
    loss = ours(s, t)
    ds = ours.backward()
    ts = torch.tensor(s, requires_grad=True)
    tl = theirs(ts, torch.tensor(t) if t_torch is None else t_torch)
    tl.backward()
    close(loss, tl)
    close(ds, ts.grad)


@pytest.mark.parametrize("labels", [True, False])
def test_softmax_cross_entropy(rng, labels):
    s = rng.standard_normal((8, 5)) * 4
    t = rng.integers(0, 5, 8) if labels else gn.functional.softmax(rng.standard_normal((8, 5)))
    _loss_matches_torch(gn.nn.SoftmaxCrossEntropy(), torch.nn.functional.cross_entropy, s, t)


def test_binary_cross_entropy(rng):
    _loss_matches_torch(gn.nn.BCEWithLogits(), torch.nn.functional.binary_cross_entropy_with_logits,
                        rng.standard_normal((8, 3)) * 5, rng.random((8, 3)))


def test_mse(rng):
    _loss_matches_torch(gn.nn.MSE(), torch.nn.functional.mse_loss, rng.standard_normal((8, 3)),
                        rng.standard_normal((8, 3)))


def test_kl_divergence(rng):
    t = gn.functional.softmax(rng.standard_normal((8, 4)))
    t[0] = [0.0, 0.5, 0.5, 0.0]  # zeros in the target
    _loss_matches_torch(gn.nn.KLDivergence(),
                        lambda s, tt: torch.nn.functional.kl_div(torch.log_softmax(s, dim=1), tt, reduction="batchmean"),
                        rng.standard_normal((8, 4)) * 2, t)


@pytest.mark.parametrize("shape", [(16, 5), (6, 5, 4)])
def test_batchnorm1d_train_then_eval(rng, shape):
    ours = gn.nn.BatchNorm1d(5, momentum=0.9, eps=1e-5).to(np.float64)
    ours.gamma.data[...] = rng.random(5) + 0.5
    ours.beta.data[...] = rng.standard_normal(5)
    theirs = torch.nn.BatchNorm1d(5, momentum=0.1, eps=1e-5)  # torch momentum = 1 - ours
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.data))
        theirs.bias.copy_(torch.tensor(ours.beta.data))
    for step in range(3):  # train: batch statistics and running-stat updates
        _compare_batchnorm(ours, theirs, rng.standard_normal(shape) * 2 + step, rng.standard_normal(shape))
    ours.eval()
    theirs.eval()
    _compare_batchnorm(ours, theirs, rng.standard_normal(shape), rng.standard_normal(shape))  # running statistics


def _compare_batchnorm(ours, theirs, x, dout):
    """One forward and backward of both: outputs, all gradients and the running statistics."""
    ours.zero_grad()
    theirs.zero_grad()
    out = ours.forward(x)
    dx = ours.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    tout.backward(torch.tensor(dout))
    close(out, tout)
    close(dx, tx.grad)
    close(ours.gamma.grad, theirs.weight.grad)
    close(ours.beta.grad, theirs.bias.grad)
    close(ours.running_mean, theirs.running_mean)
    close(ours.running_var, theirs.running_var)


def test_mlp_end_to_end(rng):
    """A whole Sequential with BatchNorm and a loss: every parameter gradient matches."""
    net = gn.nn.Sequential(gn.nn.Linear(6, 8, rng=0), gn.nn.BatchNorm1d(8), gn.nn.Tanh(),
                           gn.nn.Linear(8, 3, rng=1)).to(np.float64)
    tnet = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8, momentum=0.1),
                               torch.nn.Tanh(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for ours, theirs in [(net[0], tnet[0]), (net[3], tnet[3])]:
            theirs.weight.copy_(torch.tensor(ours.W.data.T))
            theirs.bias.copy_(torch.tensor(ours.b.data))
    x, y = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    ce = gn.nn.SoftmaxCrossEntropy()
    loss = ce(net.forward(x), y)
    net.backward(ce.backward())
    tl = torch.nn.functional.cross_entropy(tnet(torch.tensor(x)), torch.tensor(y))
    tl.backward()
    close(loss, tl)
    close(net[0].W.grad, tnet[0].weight.grad.T)
    close(net[1].gamma.grad, tnet[1].weight.grad)
    close(net[3].b.grad, tnet[3].bias.grad)


# ---------------------------------------------------------------- convolutional and recurrent layers
def _torch_grads(module_out, dout, tensors):
    module_out.backward(torch.tensor(dout))
    return [t.grad for t in tensors]


@pytest.mark.parametrize("dims,stride,padding,dilation", [
    (2, 1, 0, 1), (2, 2, 1, 1), (2, 1, 2, 2), (2, (2, 1), (0, 1), (1, 2)),
    (1, 1, 0, 1), (1, 2, 1, 1), (1, 1, 3, 2)])
def test_conv(rng, dims, stride, padding, dilation):
    if dims == 2:
        conv = gn.nn.Conv2d(3, 4, (3, 2), stride=stride, padding=padding, dilation=dilation, rng=0)
        x, fn = rng.standard_normal((2, 3, 9, 8)), torch.nn.functional.conv2d
    else:
        conv = gn.nn.Conv1d(3, 5, 3, stride=stride, padding=padding, dilation=dilation, rng=0)
        x, fn = rng.standard_normal((3, 3, 11)), torch.nn.functional.conv1d
    conv.to(np.float64)
    conv.b.data[...] = rng.standard_normal(conv.b.shape)
    out = conv.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = conv.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(conv.W.data, requires_grad=True)
    tb = torch.tensor(conv.b.data, requires_grad=True)
    tout = fn(tx, tw, tb, stride=stride, padding=padding, dilation=dilation)
    gx, gw, gb = _torch_grads(tout, dout, [tx, tw, tb])
    close(out, tout)
    close(dx, gx)
    close(conv.W.grad, gw)
    close(conv.b.grad, gb)


@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 2), (3, 1), ((2, 3), (1, 2))])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d(rng, kind, kernel, stride):
    pool = (gn.nn.MaxPool2d if kind == "max" else gn.nn.AvgPool2d)(kernel, stride)
    x = rng.standard_normal((2, 3, 7, 8))
    out = pool.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = pool.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    fn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    tout = fn(tx, kernel, stride)
    (gx,) = _torch_grads(tout, dout, [tx])
    close(out, tout)
    close(dx, gx)


@pytest.mark.parametrize("kind,ties", [("max", False), ("max", True), ("avg", False)])
def test_pool_2x2_fast_path(rng, kind, ties):
    """Even sizes take the 2x2 halving passes; with ties the gradient goes where PyTorch sends it."""
    x = rng.integers(0, 3, (2, 3, 6, 8)).astype(np.float64) if ties else rng.standard_normal((2, 3, 6, 8))
    pool = (gn.nn.MaxPool2d if kind == "max" else gn.nn.AvgPool2d)(2)
    out = pool.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = pool.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tout = (torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d)(tx, 2)
    (gx,) = _torch_grads(tout, dout, [tx])
    close(out, tout)
    close(dx, gx)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm2d(rng, train):
    bn = gn.nn.BatchNorm2d(3).to(np.float64)
    bn.gamma.data[...] = rng.standard_normal(3)
    bn.beta.data[...] = rng.standard_normal(3)
    bn.running_mean[...] = rng.standard_normal(3)
    bn.running_var[...] = rng.random(3) + 0.5
    tb = torch.nn.BatchNorm2d(3, momentum=0.1)
    with torch.no_grad():
        tb.weight.copy_(torch.tensor(bn.gamma.data))
        tb.bias.copy_(torch.tensor(bn.beta.data))
        tb.running_mean.copy_(torch.tensor(bn.running_mean))
        tb.running_var.copy_(torch.tensor(bn.running_var))
    bn.train(train)
    tb.train(train)
    _compare_batchnorm(bn, tb, rng.standard_normal((4, 3, 5, 6)) * 2 + 1, rng.standard_normal((4, 3, 5, 6)))


def _map_rnn(ours, theirs, lstm_or_rnn):
    with torch.no_grad():
        theirs.weight_ih_l0.copy_(torch.tensor(ours.Wx.data.T))
        theirs.weight_hh_l0.copy_(torch.tensor(ours.Wh.data.T))
        if lstm_or_rnn:  # our single bias = bias_ih + bias_hh
            theirs.bias_ih_l0.copy_(torch.tensor(ours.b.data))
            theirs.bias_hh_l0.zero_()
        else:
            theirs.bias_ih_l0.copy_(torch.tensor(ours.bx.data))
            theirs.bias_hh_l0.copy_(torch.tensor(ours.bh.data))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent(rng, kind):
    N, T, D, H = 3, 6, 4, 5
    ours = getattr(gn.nn, kind)(D, H, rng=0).to(np.float64)
    for p in ours.parameters():
        p.data[...] = 0.5 * rng.standard_normal(p.shape)
    theirs = getattr(torch.nn, kind)(D, H, batch_first=True)
    _map_rnn(ours, theirs, kind != "GRU")
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    state = (h0, c0) if kind == "LSTM" else h0
    out = ours.forward(x, state)
    dout = rng.standard_normal(out.shape)
    dx = ours.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    tc0 = torch.tensor(c0[None], requires_grad=True)
    tout, _ = theirs(tx, (th0, tc0) if kind == "LSTM" else th0)
    tout.backward(torch.tensor(dout))
    close(out, tout)
    close(dx, tx.grad)
    close(ours.Wx.grad, theirs.weight_ih_l0.grad.T)
    close(ours.Wh.grad, theirs.weight_hh_l0.grad.T)
    if kind == "GRU":
        close(ours.bx.grad, theirs.bias_ih_l0.grad)
        close(ours.bh.grad, theirs.bias_hh_l0.grad)
    else:
        close(ours.b.grad, theirs.bias_ih_l0.grad)
    dh0 = ours.state_grad[0] if kind == "LSTM" else ours.state_grad
    close(dh0, th0.grad[0])
    if kind == "LSTM":
        close(ours.state_grad[1], tc0.grad[0])


def test_bidirectional_gru(rng):
    ours = gn.nn.Bidirectional(gn.nn.GRU(2, 3, rng=0), rng=1).to(np.float64)
    theirs = torch.nn.GRU(2, 3, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for sfx, m in (("", ours.fwd), ("_reverse", ours.bwd)):
            getattr(theirs, "weight_ih_l0" + sfx).copy_(torch.tensor(m.Wx.data.T))
            getattr(theirs, "weight_hh_l0" + sfx).copy_(torch.tensor(m.Wh.data.T))
            getattr(theirs, "bias_ih_l0" + sfx).copy_(torch.tensor(m.bx.data))
            getattr(theirs, "bias_hh_l0" + sfx).copy_(torch.tensor(m.bh.data))
    x = rng.standard_normal((2, 5, 2))
    out = ours.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = ours.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tout, _ = theirs(tx)
    tout.backward(torch.tensor(dout))
    close(out, tout)
    close(dx, tx.grad)
    close(ours.bwd.Wh.grad, theirs.weight_hh_l0_reverse.grad.T)


NORMS = {
    "LayerNorm": (lambda: gn.nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5), (4, 3, 5)),
    "LayerNorm-2d": (lambda: gn.nn.LayerNorm((3, 5), eps=1e-3), lambda: torch.nn.LayerNorm((3, 5), eps=1e-3), (4, 3, 5)),
    "LayerNorm-plain": (lambda: gn.nn.LayerNorm(6, elementwise_affine=False),
                        lambda: torch.nn.LayerNorm(6, elementwise_affine=False), (5, 6)),
    "GroupNorm": (lambda: gn.nn.GroupNorm(2, 6), lambda: torch.nn.GroupNorm(2, 6), (3, 6, 4, 5)),
    "GroupNorm-instance": (lambda: gn.nn.GroupNorm(4, 4), lambda: torch.nn.GroupNorm(4, 4), (3, 4, 7)),
    "LocalResponseNorm": (lambda: gn.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
                          lambda: torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), (2, 7, 3, 4)),
    "LocalResponseNorm-even": (lambda: gn.nn.LocalResponseNorm(4, alpha=0.3, beta=0.6),
                               lambda: torch.nn.LocalResponseNorm(4, alpha=0.3, beta=0.6), (2, 6, 5)),
    "MaxPool2d-padded": (lambda: gn.nn.MaxPool2d(3, 2, padding=1), lambda: torch.nn.MaxPool2d(3, 2, padding=1),
                         (2, 3, 7, 8)),
    "AvgPool2d-padded": (lambda: gn.nn.AvgPool2d(3, 2, padding=1), lambda: torch.nn.AvgPool2d(3, 2, padding=1),
                         (2, 3, 7, 8)),
    "MaxPool1d-padded": (lambda: gn.nn.MaxPool1d(3, 2, padding=1), lambda: torch.nn.MaxPool1d(3, 2, padding=1),
                         (2, 3, 9)),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_normalization_and_padded_pooling(rng, name):
    ours_f, theirs_f, shape = NORMS[name]
    ours, theirs = ours_f().to(np.float64), theirs_f()
    with torch.no_grad():
        for p, tp in zip(ours.parameters(), theirs.parameters()):  # gamma/beta are PyTorch's weight/bias
            p.data[...] = rng.standard_normal(p.shape)
            tp.copy_(torch.tensor(p.data))
    x = rng.standard_normal(shape) * 2 + 0.5
    out = ours.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = ours.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    tout.backward(torch.tensor(dout))
    close(out, tout)
    close(dx, tx.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))


def test_bottleneck_and_resnet_match_torchvision_layouts(rng):
    """The same weights through our Bottleneck and the equivalent torch modules give the same output and gradients."""
    ours = gn.nn.Bottleneck(8, 16, stride=2, rng=0).to(np.float64)
    blk = ours.residual.block
    sc = ours.residual.shortcut
    tn = torch.nn
    body = tn.Sequential(tn.Conv2d(8, 4, 1, bias=False), tn.BatchNorm2d(4), tn.ReLU(),
                         tn.Conv2d(4, 4, 3, stride=2, padding=1, bias=False), tn.BatchNorm2d(4), tn.ReLU(),
                         tn.Conv2d(4, 16, 1, bias=False), tn.BatchNorm2d(16))
    short = tn.Sequential(tn.Conv2d(8, 16, 1, stride=2, bias=False), tn.BatchNorm2d(16))
    with torch.no_grad():
        for i in (0, 3, 6):
            body[i].weight.copy_(torch.tensor(blk[i].W.data))
        short[0].weight.copy_(torch.tensor(sc[0].W.data))
    x = rng.standard_normal((3, 8, 6, 6))
    dout = rng.standard_normal((3, 16, 3, 3))
    out = ours.forward(x)
    dx = ours.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.relu(body(tx) + short(tx))
    tout.backward(torch.tensor(dout))
    close(out, tout)
    close(dx, tx.grad)
    close(blk[3].W.grad, body[3].weight.grad)


def test_sequence_cross_entropy_with_ignore_index(rng):
    scores = rng.standard_normal((4, 6, 9))
    labels = rng.integers(0, 9, (4, 6))
    labels[1, 3:] = -100
    ours = gn.nn.SoftmaxCrossEntropy(ignore_index=-100)
    value = ours.forward(scores, labels)
    d = ours.backward()
    ts = torch.tensor(scores, requires_grad=True)
    # PyTorch takes the classes on axis 1: (N, C, T)
    tl = torch.nn.functional.cross_entropy(ts.permute(0, 2, 1), torch.tensor(labels), ignore_index=-100)
    tl.backward()
    close(value, tl)
    close(d, ts.grad)


def test_stateful_lstm_equals_torch_lstm_fed_its_own_final_state(rng):
    ours = gn.nn.LSTM(3, 5, stateful=True, rng=0).to(np.float64)
    theirs = torch.nn.LSTM(3, 5, batch_first=True)
    _map_rnn(ours, theirs, True)
    x = rng.standard_normal((2, 8, 3))
    a, b = ours.forward(x[:, :5]), ours.forward(x[:, 5:])
    out1, state = theirs(torch.tensor(x[:, :5]))
    out2, _ = theirs(torch.tensor(x[:, 5:]), state)
    close(a, out1)
    close(b, out2)
