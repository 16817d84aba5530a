"""RNN, LSTM, GRU, Bidirectional, Embedding and TimeDistributed: loop oracles and gradients."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import BackwardError, ShapeError
from glassnet.gradcheck import check_module

import naive


def _rand_params(layer, rng, scale=0.5):
    for p in layer.parameters():
        p.data[...] = scale * rng.standard_normal(p.shape)
    return layer


@pytest.mark.parametrize("N,T", [(1, 1), (3, 5), (2, 7)])
def test_rnn_matches_loops_and_gradients(rng, N, T):
    rnn = _rand_params(gn.nn.RNN(3, 4, rng=0).to(np.float64), rng)
    x = rng.standard_normal((N, T, 3))
    h0 = rng.standard_normal((N, 4))
    out = rnn.forward(x, h0)
    np.testing.assert_allclose(out, naive.rnn(x, h0, rnn.Wx.data, rnn.Wh.data, rnn.b.data), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(rnn.last_state, out[:, -1])
    rnn.clear_cache()
    assert check_module(rnn, x, seed=1).passed


@pytest.mark.parametrize("N,T", [(1, 1), (3, 4)])
def test_lstm_matches_loops_and_gradients(rng, N, T):
    lstm = _rand_params(gn.nn.LSTM(3, 2, rng=0).to(np.float64), rng)
    x = rng.standard_normal((N, T, 3))
    h0, c0 = rng.standard_normal((2, N, 2))
    out = lstm.forward(x, (h0, c0))
    ref = naive.lstm(x, h0, c0, lstm.Wx.data, lstm.Wh.data, lstm.b.data)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    report = check_module(lstm, x, seed=2)
    assert report.passed, str(report)


@pytest.mark.parametrize("N,T", [(1, 1), (3, 4)])
def test_gru_matches_loops_and_gradients(rng, N, T):
    gru = _rand_params(gn.nn.GRU(3, 2, rng=0).to(np.float64), rng)
    x = rng.standard_normal((N, T, 3))
    h0 = rng.standard_normal((N, 2))
    out = gru.forward(x, h0)
    ref = naive.gru(x, h0, gru.Wx.data, gru.Wh.data, gru.bx.data, gru.bh.data)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    report = check_module(gru, x, seed=3)
    assert report.passed, str(report)


@pytest.mark.parametrize("cls", [gn.nn.RNN, gn.nn.LSTM, gn.nn.GRU])
def test_initial_and_final_state_gradients(rng, cls):
    """d(loss)/d(h0) (and c0) against centered differences, with a gradient on the last state too."""
    layer = _rand_params(cls(2, 3, rng=0).to(np.float64), rng)
    lstm = cls is gn.nn.LSTM
    x = rng.standard_normal((2, 4, 2))
    state = tuple(rng.standard_normal((2, 2, 3))) if lstm else rng.standard_normal((2, 3))
    dout = rng.standard_normal((2, 4, 3))
    dlast = tuple(rng.standard_normal((2, 2, 3))) if lstm else rng.standard_normal((2, 3))

    def objective(st):
        out = layer.forward(x, st)
        layer.clear_cache()
        last = layer.last_state
        if lstm:
            return (out * dout).sum() + (last[0] * dlast[0]).sum() + (last[1] * dlast[1]).sum()
        return (out * dout).sum() + (last * dlast).sum()

    layer.forward(x, state)
    layer.backward(dout, dlast)
    grads = layer.state_grad if lstm else (layer.state_grad,)
    arrays = state if lstm else (state,)
    for k, (a, g) in enumerate(zip(arrays, grads)):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + 1e-6
            fp = objective(state)
            a[idx] = old - 1e-6
            fm = objective(state)
            a[idx] = old
            num[idx] = (fp - fm) / 2e-6
        assert np.max(np.abs(num - g) / np.maximum(np.abs(num) + np.abs(g), 1e-12)) < 1e-6, k


def test_lstm_forget_bias_starts_at_one_and_return_last():
    lstm = gn.nn.LSTM(2, 3, return_sequences=False, rng=0)
    assert lstm.b.data.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    x = np.random.default_rng(0).standard_normal((4, 5, 2)).astype(np.float32)
    out = lstm.forward(x)
    assert out.shape == (4, 3)
    np.testing.assert_array_equal(out, lstm.last_state[0])
    assert check_module(lstm, x, seed=4).passed


def test_recurrent_errors(rng):
    gru = gn.nn.GRU(3, 2)
    with pytest.raises(ShapeError, match=r"expected a batch-first sequence of shape \(N, T, 3\)"):
        gru.forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ShapeError, match=r"initial state h0 must have shape \(N, hidden_size\) = \(2, 2\)"):
        gru.forward(np.zeros((2, 4, 3), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"initial state must be a pair \(h0, c0\)"):
        gn.nn.LSTM(3, 2).forward(np.zeros((2, 4, 3), np.float32), np.zeros((2, 2), np.float32))
    with pytest.raises(BackwardError):
        gn.nn.RNN(3, 2).backward(np.zeros((2, 4, 2)))
    with pytest.raises(TypeError, match="Bidirectional: expected an RNN, LSTM or GRU"):
        gn.nn.Bidirectional(gn.nn.Linear(2, 2))


@pytest.mark.parametrize("seq", [True, False])
def test_bidirectional(rng, seq):
    bi = gn.nn.Bidirectional(gn.nn.GRU(2, 3, return_sequences=seq, rng=0), rng=1).to(np.float64)
    assert not np.allclose(bi.fwd.Wx.data, bi.bwd.Wx.data)
    x = rng.standard_normal((2, 5, 2))
    out = bi.forward(x)
    f = bi.fwd.forward(x)
    b = bi.bwd.forward(x[:, ::-1])
    bi.clear_cache()
    if seq:
        np.testing.assert_allclose(out, np.concatenate([f, b[:, ::-1]], axis=-1))
    else:
        np.testing.assert_allclose(out, np.concatenate([f, b], axis=-1))
    report = check_module(bi, x, seed=5)
    assert report.passed, str(report)
    assert [n for n, _ in bi.named_parameters()][:2] == ["fwd.Wx", "fwd.Wh"]


def test_time_distributed_linear(rng):
    td = gn.nn.TimeDistributed(gn.nn.Linear(3, 2, rng=0)).to(np.float64)
    x = rng.standard_normal((4, 5, 3))
    out = td.forward(x)
    np.testing.assert_allclose(out, x @ td.module.W.data + td.module.b.data)
    assert check_module(td, x).passed
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, T, \.\.\.\)"):
        td.forward(np.zeros((4, 3)))


def test_embedding(rng):
    emb = gn.nn.Embedding(5, 3, rng=0).to(np.float64)
    ids = np.array([[0, 4, 4], [1, 2, 0]])
    out = emb.forward(ids)
    np.testing.assert_array_equal(out, emb.W.data[ids])
    dout = rng.standard_normal((2, 3, 3))
    assert emb.backward(dout) is None
    want = np.zeros((5, 3))
    for (n, t), i in np.ndenumerate(ids):
        want[i] += dout[n, t]
    np.testing.assert_allclose(emb.W.grad, want)
    np.testing.assert_array_equal(emb.forward(ids.astype(np.float64)), out)
    with pytest.raises(IndexError, match=r"ids must lie in \[0, 4\], got values from 0 to 5"):
        emb.forward(np.array([[0, 5]]))
    with pytest.raises(TypeError, match="whole numbers"):
        emb.forward(np.array([[0.5]]))


def test_embedding_gru_classifier_learns_order():
    """A sequence task only a recurrent net can solve: does token 1 come before token 2?"""
    rng = np.random.default_rng(0)
    n, T = 600, 8
    X = rng.integers(3, 6, size=(n, T))
    y = rng.integers(0, 2, n)
    for k in range(n):
        i, j = sorted(rng.choice(T, 2, replace=False))
        X[k, i], X[k, j] = (1, 2) if y[k] else (2, 1)
    model = gn.nn.Sequential(gn.nn.Embedding(6, 8, rng=0), gn.nn.GRU(8, 16, return_sequences=False, rng=1),
                             gn.nn.Linear(16, 2, rng=2))
    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-2), verbose=0)
    trainer.fit((X[:500].astype(np.float32), y[:500]), epochs=15, batch_size=32, seed=0)
    acc = (model.eval().forward(X[500:].astype(np.float32)).argmax(1) == y[500:]).mean()
    assert acc > 0.95


def test_vanishing_gradients_plain_vs_residual():
    """20 sigmoid layers: the first layer's gradient is orders of magnitude below the last's;
    the same depth with residual connections keeps them comparable."""
    rng = np.random.default_rng(0)
    width, depth = 32, 20
    x = rng.standard_normal((64, width))

    def grad_norms(model):
        model.to(np.float64)
        out = model.forward(x)
        model.backward(rng.standard_normal(out.shape))
        ws = [p for n, p in model.named_parameters() if n.endswith("W")]
        return np.linalg.norm(ws[0].grad), np.linalg.norm(ws[-1].grad)

    plain = gn.nn.Sequential(*[m for i in range(depth) for m in (gn.nn.Linear(width, width, init="xavier", rng=i),
                                                                   gn.nn.Sigmoid())])
    first, last = grad_norms(plain)
    assert first / last < 1e-4
    res = gn.nn.Sequential(*[gn.nn.Residual(gn.nn.Sequential(gn.nn.Linear(width, width, init="xavier", rng=i),
                                                             gn.nn.Sigmoid())) for i in range(depth)])
    first, last = grad_norms(res)
    assert 0.1 < first / last < 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_lstm_steps_are_bit_identical_to_numpy(dtype, jit_on):
    """With Numba the element-wise part of each LSTM step runs as one compiled loop; forward and
    backward give exactly the NumPy code's arrays (last-state gradients included)."""
    from glassnet.functional import recurrent as R
    rng = np.random.default_rng(0)
    N, T, D, H = 5, 7, 3, 6
    x, dhs = rng.standard_normal((N, T, D)).astype(dtype), rng.standard_normal((N, T, H)).astype(dtype)
    h0, c0, dh_last, dc_last = rng.standard_normal((4, N, H)).astype(dtype)
    Wx, Wh, b = (rng.standard_normal(s).astype(dtype) * 0.5 for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))

    def run(jit):
        gn.kernels.set_enabled(jit)  # the fixture restores the switch
        hs, cache = R.lstm_forward(x, h0, c0, Wx, Wh, b)
        return [hs, cache[3], *R.lstm_backward(dhs, cache, dh_last, dc_last)]

    for a, b_ in zip(run(True), run(False)):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b_)
