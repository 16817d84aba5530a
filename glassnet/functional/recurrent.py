"""Recurrent layers over whole sequences, with backpropagation through time.

Inputs are batch-first: x (N, T, D), initial state h0 (N, H) (and c0 for the LSTM).
The input projections of all time steps are one matrix product before the loop, and the
weight gradients are one matrix product after the backward loop; only the recurrence
``h_{t-1} @ Wh`` runs step by step. Internally the sequence is time-major (T, N, .).

- RNN:  h_t = tanh(x_t Wx + h_{t-1} Wh + b)
- LSTM: [i f g o] = x_t Wx + h_{t-1} Wh + b (gates in this order, each of width H);
        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g);  h_t = sigmoid(o) * tanh(c_t)
- GRU:  r, z = sigmoid(x_t Wx_{r,z} + bx_{r,z} + h_{t-1} Wh_{r,z} + bh_{r,z})
        n = tanh(x_t Wx_n + bx_n + r * (h_{t-1} Wh_n + bh_n));  h_t = (1 - z) * n + z * h_{t-1}

Each ``*_forward`` returns (hs (N, T, H), cache); each ``*_backward(dhs, cache, dh_last)``
takes the gradient of every hidden state (and optionally of the last one) and returns
the input gradient, the initial-state gradient(s) and the parameter gradients.
"""
from __future__ import annotations

from ..backend import get_array_module
from .activations import sigmoid


def _project(x, Wx, b):
    """x (N, T, D) -> time-major x (T, N, D) and x_t Wx + b for all t: (T, N, G)."""
    xp = get_array_module(x, Wx)
    xt = xp.ascontiguousarray(x.transpose(1, 0, 2))
    T, N, D = xt.shape
    a = (xt.reshape(T * N, D) @ Wx).reshape(T, N, Wx.shape[1])
    if b is not None:
        a += b
    return xt, a


def _input_grads(xt, dA, Wx, need_dx):
    """Given time-major x (T, N, D) and pre-activation gradients dA (T, N, G): dx (N, T, D), dWx."""
    xp = get_array_module(dA)
    T, N, D = xt.shape
    G = dA.shape[2]
    dA2 = dA.reshape(T * N, G)
    dWx = xt.reshape(T * N, D).T @ dA2
    dx = None
    if need_dx:
        dx = xp.ascontiguousarray((dA2 @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    return dx, dWx


def _batch_first(hs):
    xp = get_array_module(hs)
    return xp.ascontiguousarray(hs[1:].transpose(1, 0, 2))


def _time_major(dhs):
    return dhs.transpose(1, 0, 2)


# ----------------------------------------------------------------------------------------- RNN
def rnn_forward(x, h0, Wx, Wh, b):
    """Vanilla tanh RNN. Returns (hs (N, T, H), cache)."""
    xp = get_array_module(x, h0, Wx, Wh)
    xt, a = _project(x, Wx, b)
    T, N, _ = a.shape
    hs = xp.empty((T + 1, N, Wh.shape[0]), dtype=a.dtype)
    hs[0] = h0
    for t in range(T):
        pre = a[t]
        pre += hs[t] @ Wh
        xp.tanh(pre, out=hs[t + 1])
    return _batch_first(hs), (xt, hs, Wx, Wh)


def rnn_backward(dhs, cache, dh_last=None, need_dx=True):
    """Returns (dx, dh0, dWx, dWh, db)."""
    xp = get_array_module(dhs)
    xt, hs, Wx, Wh = cache
    T = hs.shape[0] - 1
    dhs_t = _time_major(dhs)
    dA = xp.empty((T,) + hs.shape[1:], dtype=hs.dtype)
    dh = xp.zeros_like(hs[0]) if dh_last is None else dh_last.copy()
    WhT = xp.ascontiguousarray(Wh.T)  # a contiguous copy: BLAS multiplies it faster than a transposed view
    for t in range(T - 1, -1, -1):
        dh += dhs_t[t]
        h = hs[t + 1]
        da = dA[t]
        xp.multiply(dh, 1 - h * h, out=da)
        dh = da @ WhT
    H = hs.shape[2]
    dWh = hs[:-1].reshape(-1, H).T @ dA.reshape(-1, H)
    db = dA.sum(axis=(0, 1))
    dx, dWx = _input_grads(xt, dA, Wx, need_dx)
    return dx, dh, dWx, dWh, db


# ---------------------------------------------------------------------------------------- LSTM
def lstm_forward(x, h0, c0, Wx, Wh, b):
    """LSTM with gates (input, forget, cell, output). Returns (hs (N, T, H), cache);
    the last cell state is ``cache[3][-1]``."""
    xp = get_array_module(x, h0, c0, Wx, Wh)
    H = Wh.shape[0]
    xt, a = _project(x, Wx, b)  # x_t Wx + b for every step: (T, N, 4H)
    T, N, G = a.shape
    gates = xp.empty_like(a)  # the gate values [i f g o] of every step
    hs = xp.empty((T + 1, N, H), dtype=a.dtype)
    cs = xp.empty((T + 1, N, H), dtype=a.dtype)
    tc = xp.empty((T, N, H), dtype=a.dtype)  # tanh(c_t)
    hs[0], cs[0] = h0, c0
    for t in range(T):
        pre = a[t] + hs[t] @ Wh
        i, f = sigmoid(pre[:, :H]), sigmoid(pre[:, H:2 * H])
        g, o = xp.tanh(pre[:, 2 * H:3 * H]), sigmoid(pre[:, 3 * H:])
        cs[t + 1] = f * cs[t] + i * g
        tc[t] = xp.tanh(cs[t + 1])
        hs[t + 1] = o * tc[t]
        gates[t] = xp.concatenate([i, f, g, o], axis=1)
    return _batch_first(hs), (xt, gates, hs, cs, tc, Wx, Wh)


def lstm_backward(dhs, cache, dh_last=None, dc_last=None, need_dx=True):
    """Returns (dx, dh0, dc0, dWx, dWh, db)."""
    xp = get_array_module(dhs)
    xt, gates, hs, cs, tc, Wx, Wh = cache
    T, N, G = gates.shape
    H = G // 4
    dhs_t = _time_major(dhs)
    dA = xp.empty_like(gates)  # gradients of the pre-activations of every step
    dh = xp.zeros_like(hs[0]) if dh_last is None else dh_last.copy()
    dc = xp.zeros_like(cs[0]) if dc_last is None else dc_last.copy()
    for t in range(T - 1, -1, -1):
        i, f, g, o = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
        dh = dh + dhs_t[t]
        dc = dc + dh * o * (1 - tc[t] * tc[t])  # through h_t = o * tanh(c_t)
        dA[t, :, :H] = dc * g * i * (1 - i)  # sigmoid' = s (1 - s)
        dA[t, :, H:2 * H] = dc * cs[t] * f * (1 - f)
        dA[t, :, 2 * H:3 * H] = dc * i * (1 - g * g)  # tanh' = 1 - g^2
        dA[t, :, 3 * H:] = dh * tc[t] * o * (1 - o)
        dc = dc * f  # c_t = f * c_{t-1} + ...
        dh = dA[t] @ Wh.T
    dWh = hs[:-1].reshape(-1, H).T @ dA.reshape(-1, G)
    db = dA.sum(axis=(0, 1))
    dx, dWx = _input_grads(xt, dA, Wx, need_dx)
    return dx, dh, dc, dWx, dWh, db


# ----------------------------------------------------------------------------------------- GRU
def gru_forward(x, h0, Wx, Wh, bx, bh):
    """GRU with gates (reset, update, new). Returns (hs (N, T, H), cache)."""
    xp = get_array_module(x, h0, Wx, Wh)
    xt, a = _project(x, Wx, bx)
    T, N, G = a.shape
    H = G // 3
    hs = xp.empty((T + 1, N, H), dtype=a.dtype)
    hn = xp.empty((T, N, H), dtype=a.dtype)  # h_{t-1} Wh_n + bh_n, needed by backward
    hs[0] = h0
    for t in range(T):
        hw = hs[t] @ Wh
        if bh is not None:
            hw += bh
        g = a[t]  # overwritten: r, z, n
        g[:, :2 * H] += hw[:, :2 * H]
        g[:, :2 * H] = sigmoid(g[:, :2 * H])
        hn[t] = hw[:, 2 * H:]
        n = g[:, 2 * H:]
        n += g[:, :H] * hn[t]
        xp.tanh(n, out=n)
        z = g[:, H:2 * H]
        h = hs[t + 1]
        xp.subtract(hs[t], n, out=h)
        h *= z
        h += n  # (1 - z) * n + z * h_prev = n + z * (h_prev - n)
    return _batch_first(hs), (xt, a, hn, hs, Wx, Wh)


def gru_backward(dhs, cache, dh_last=None, need_dx=True):
    """Returns (dx, dh0, dWx, dWh, dbx, dbh)."""
    xp = get_array_module(dhs)
    xt, gates, hn, hs, Wx, Wh = cache
    T, N, G = gates.shape
    H = G // 3
    dhs_t = _time_major(dhs)
    dAx = xp.empty_like(gates)  # gradients of x_t Wx + bx
    dAh = xp.empty_like(gates)  # gradients of h_{t-1} Wh + bh
    dh = xp.zeros_like(hs[0]) if dh_last is None else dh_last.copy()
    WhT = xp.ascontiguousarray(Wh.T)  # see rnn_backward
    for t in range(T - 1, -1, -1):
        dh += dhs_t[t]
        g = gates[t]
        r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        dn = dh * (1 - z) * (1 - n * n)
        dax, dah = dAx[t], dAh[t]
        xp.multiply(dn * hn[t], r * (1 - r), out=dax[:, :H])
        xp.multiply(dh * (hs[t] - n), z * (1 - z), out=dax[:, H:2 * H])
        dax[:, 2 * H:] = dn
        dah[:, :2 * H] = dax[:, :2 * H]
        xp.multiply(dn, r, out=dah[:, 2 * H:])
        dh = dh * z + dah @ WhT
    dWh = hs[:-1].reshape(-1, H).T @ dAh.reshape(-1, G)
    dbx = dAx.sum(axis=(0, 1))
    dbh = dAh.sum(axis=(0, 1))
    dx, dWx = _input_grads(xt, dAx, Wx, need_dx)
    return dx, dh, dWx, dWh, dbx, dbh


__all__ = ["rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward"]
