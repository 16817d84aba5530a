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

from ..kernels import _numba as _jit
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
    WhT = xp.ascontiguousarray(Wh.T)  # see lstm_backward
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
def _lstm_scales(xp, H, dtype):
    """Per-column (scale, shift) turning tanh into the gate activations: sigmoid(a) =
    0.5 * tanh(0.5 * a) + 0.5 (stable for any a) for i, f, o, and tanh(a) for the cell g."""
    half = xp.full(4 * H, 0.5, dtype=dtype)
    half[2 * H:3 * H] = 1
    shift = xp.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H:3 * H] = 0
    return half, shift


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """LSTM with gates (input, forget, cell, output). Returns (hs (N, T, H), cache);
    the last cell state is ``cache[3][-1]``."""
    xp = get_array_module(x, h0, c0, Wx, Wh)
    H = Wh.shape[0]
    half, shift = _lstm_scales(xp, H, Wx.dtype)
    # all gates through one tanh per step (see _lstm_scales); the halving folded into the weights
    xt, a = _project(x, Wx * half, None if b is None else b * half)
    T, N, G = a.shape
    hs = xp.empty((T + 1, N, H), dtype=a.dtype)
    cs = xp.empty((T + 1, N, H), dtype=a.dtype)
    tc = xp.empty((T, N, H), dtype=a.dtype)  # tanh(c_t)
    hs[0], cs[0] = h0, c0
    Wh_half = Wh * half
    jit = _jit.usable(a, half, shift, cs)
    for t in range(T):
        g = a[t]  # pre-activations, overwritten by the gate values
        g += hs[t] @ Wh_half
        xp.tanh(g, out=g)
        c = cs[t + 1]
        if jit:  # Numba: the five lines below in one call, same values
            _jit.lstm_forward_gates(g, half, shift, cs[t], c)
        else:
            g *= half
            g += shift
            xp.multiply(g[:, H:2 * H], cs[t], out=c)
            ig = xp.multiply(g[:, :H], g[:, 2 * H:3 * H], out=tc[t])  # tc[t] as scratch until the next line
            c += ig
        xp.tanh(c, out=tc[t])
        xp.multiply(g[:, 3 * H:], tc[t], out=hs[t + 1])
    return _batch_first(hs), (xt, a, hs, cs, tc, Wx, Wh)


def lstm_backward(dhs, cache, dh_last=None, dc_last=None, need_dx=True):
    """Returns (dx, dh0, dc0, dWx, dWh, db)."""
    xp = get_array_module(dhs)
    xt, gates, hs, cs, tc, Wx, Wh = cache
    T, N, G = gates.shape
    H = G // 4
    i, f, g, o = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:3 * H], gates[..., 3 * H:]
    dhs_t = _time_major(dhs)
    dA = xp.empty_like(gates)
    dh = xp.zeros_like(hs[0]) if dh_last is None else dh_last.copy()
    dc = xp.zeros_like(cs[0]) if dc_last is None else dc_last.copy()
    WhT = xp.ascontiguousarray(Wh.T)  # the recurrent product runs ~1.5x faster on a contiguous operand
    jit = _jit.usable(dh, dhs, dc, gates, cs, tc, dA)
    if jit:  # contiguous rows let the compiled loop vectorize
        dhs_t = xp.ascontiguousarray(dhs_t)
    else:
        # Everything that does not depend on the flowing gradients, for all steps at once:
        # d(pre-activation) = P * [dc, dc, dc, dh] per gate, and dc_t += dh_t * o * (1 - tanh(c)^2).
        # In place over the whole gate array first (contiguous), then one product per gate:
        # s * (1 - s) = s - s^2 for the sigmoid gates, 1 - g^2 for the cell gate.
        P = xp.multiply(gates, gates)
        Pg = P[..., 2 * H:3 * H]
        xp.subtract(1, Pg, out=Pg)
        for k in (0, 1, 3):
            xp.subtract(gates[..., k * H:(k + 1) * H], P[..., k * H:(k + 1) * H], out=P[..., k * H:(k + 1) * H])
        P[..., :H] *= g
        P[..., H:2 * H] *= cs[:-1]
        Pg *= i
        P[..., 3 * H:] *= tc
        dtanh_c = xp.multiply(tc, tc)
        xp.subtract(1, dtanh_c, out=dtanh_c)
        dtanh_c *= o
    for t in range(T - 1, -1, -1):
        da = dA[t]
        if jit:  # Numba: the same values in one call, the gate derivatives (P, dtanh_c) computed inside
            _jit.lstm_backward_step(dh, dhs_t[t], dc, gates[t], cs[t], tc[t], da)
        else:
            dh += dhs_t[t]
            dc += dh * dtanh_c[t]
            xp.multiply(P[t].reshape(N, 4, H)[:, :3], dc[:, None, :], out=da.reshape(N, 4, H)[:, :3])
            xp.multiply(P[t, :, 3 * H:], dh, out=da[:, 3 * H:])
            dc *= f[t]
        dh = da @ WhT
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
    WhT = xp.ascontiguousarray(Wh.T)  # see lstm_backward
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
