"""The LSTM, faster: the reference is ``functional.recurrent``.

Both kernels compute every gate with one tanh per step: sigmoid(a) = 0.5 * tanh(0.5 * a) + 0.5
(stable for any a), so the input, forget and output columns of the weights are halved before
the products (``_lstm_scales``) and the gate values are ``tanh(.) * half + shift`` per column. The
backward takes the gate derivatives from the gate values (s - s^2 for a sigmoid, 1 - g^2 for
the cell gate).

- "numba" (contiguous NumPy float32/float64): the element-wise part of a time step (forward:
  gate values and the cell state; backward: everything between two recurrent products, the gate
  derivatives included) is one compiled call instead of five to eleven NumPy passes.
- "numpy" (any array module): the same arithmetic in NumPy/CuPy passes; the backward computes
  the gate derivatives for all steps at once before the loop.

Cache layout as the reference's: (xt, gate values (T, N, 4H), hs, cs, tanh(cs), Wx, Wh).
"""
from __future__ import annotations

from ..backend import get_array_module
from ..functional import recurrent as R
from . import Kernel, _numba, register


# The compiled steps loop over rows and take row views: contiguous 1-D inner loops the compiler vectorizes.
def _gates(g, half, shift, c_prev, c):  # pragma: no cover - compiled
    N, G = g.shape
    H = G // 4
    for n in range(N):
        g_n, c_n, cp_n = g[n], c[n], c_prev[n]
        for j in range(G):
            g_n[j] = g_n[j] * half[j] + shift[j]
        i_n, f_n, gg_n = g_n[:H], g_n[H:2 * H], g_n[2 * H:3 * H]
        for k in range(H):
            c_n[k] = f_n[k] * cp_n[k] + i_n[k] * gg_n[k]


def _step(dh, dhs, dc, gates, c_prev, tc, da, one):  # pragma: no cover - compiled
    N, H = dh.shape
    for n in range(N):
        dh_n, dhs_n, dc_n, cp_n, tc_n = dh[n], dhs[n], dc[n], c_prev[n], tc[n]
        i_n, f_n, g_n, o_n = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:3 * H], gates[n, 3 * H:]
        di, df, dg, do = da[n, :H], da[n, H:2 * H], da[n, 2 * H:3 * H], da[n, 3 * H:]
        for k in range(H):
            iv, fv, gv, ov, tv = i_n[k], f_n[k], g_n[k], o_n[k], tc_n[k]
            dhk = dh_n[k] + dhs_n[k]
            dck = dc_n[k] + dhk * ((one - tv * tv) * ov)
            di[k] = ((iv - iv * iv) * gv) * dck
            df[k] = ((fv - fv * fv) * cp_n[k]) * dck
            dg[k] = ((one - gv * gv) * iv) * dck
            do[k] = ((ov - ov * ov) * tv) * dhk
            dc_n[k] = dck * fv


def _lstm_scales(xp, H, dtype):
    """Per-column (scale, shift) turning tanh into the gate activations: sigmoid(a) =
    0.5 * tanh(0.5 * a) + 0.5 (stable for any a) for i, f, o, and tanh(a) for the cell g."""
    half = xp.full(4 * H, 0.5, dtype=dtype)
    half[2 * H:3 * H] = 1
    shift = xp.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H:3 * H] = 0
    return half, shift


def _forward(x, h0, c0, Wx, Wh, b, compiled=False):
    xp = get_array_module(x, h0, c0, Wx, Wh)
    H = Wh.shape[0]
    half, shift = _lstm_scales(xp, H, Wx.dtype)
    # all gates through one tanh per step (see _lstm_scales); the halving folded into the weights
    xt, a = R._project(x, Wx * half, None if b is None else b * half)
    T, N, G = a.shape
    hs = xp.empty((T + 1, N, H), dtype=a.dtype)
    cs = xp.empty((T + 1, N, H), dtype=a.dtype)
    tc = xp.empty((T, N, H), dtype=a.dtype)  # tanh(c_t)
    hs[0], cs[0] = h0, c0
    Wh_half = Wh * half
    jit = compiled and _numba.usable(a, half, shift, cs)
    for t in range(T):
        g = a[t]  # pre-activations, overwritten by the gate values
        g += hs[t] @ Wh_half
        xp.tanh(g, out=g)
        c = cs[t + 1]
        if jit:  # Numba: the five lines below in one call, same values
            _numba.compiled(_gates)(g, half, shift, cs[t], c)
        else:
            g *= half
            g += shift
            xp.multiply(g[:, H:2 * H], cs[t], out=c)
            ig = xp.multiply(g[:, :H], g[:, 2 * H:3 * H], out=tc[t])  # tc[t] as scratch until the next line
            c += ig
        xp.tanh(c, out=tc[t])
        xp.multiply(g[:, 3 * H:], tc[t], out=hs[t + 1])
    return R._batch_first(hs), (xt, a, hs, cs, tc, Wx, Wh)


def _backward(dhs, cache, dh_last=None, dc_last=None, need_dx=True, compiled=False):
    xp = get_array_module(dhs)
    xt, gates, hs, cs, tc, Wx, Wh = cache
    T, N, G = gates.shape
    H = G // 4
    i, f, g, o = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:3 * H], gates[..., 3 * H:]
    dhs_t = R._time_major(dhs)
    dA = xp.empty_like(gates)
    dh = xp.zeros_like(hs[0]) if dh_last is None else dh_last.copy()
    dc = xp.zeros_like(cs[0]) if dc_last is None else dc_last.copy()
    WhT = xp.ascontiguousarray(Wh.T)  # a contiguous copy: BLAS multiplies it faster than a transposed view
    jit = compiled and _numba.usable(dh, dhs, dc, gates, cs, tc, dA)
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
            _numba.compiled(_step)(dh, dhs_t[t], dc, gates[t], cs[t], tc[t], da, gates.dtype.type(1))
        else:
            dh += dhs_t[t]
            dc += dh * dtanh_c[t]
            xp.multiply(P[t].reshape(N, 4, H)[:, :3], dc[:, None, :], out=da.reshape(N, 4, H)[:, :3])
            xp.multiply(P[t, :, 3 * H:], dh, out=da[:, 3 * H:])
            dc *= f[t]
        dh = da @ WhT
    dWh = hs[:-1].reshape(-1, H).T @ dA.reshape(-1, G)
    db = dA.sum(axis=(0, 1))
    dx, dWx = R._input_grads(xt, dA, Wx, need_dx)
    return dx, dh, dc, dWx, dWh, db


def _numba_applies(x, h0, c0, Wx, Wh, b):
    return _numba.usable(x, h0, c0, Wx, Wh)


def _numba_forward(x, h0, c0, Wx, Wh, b):
    return _forward(x, h0, c0, Wx, Wh, b, compiled=True)


def _numba_backward(dhs, cache, dh_last=None, dc_last=None, need_dx=True):
    return _backward(dhs, cache, dh_last, dc_last, need_dx, compiled=True)


# sigmoid through tanh and the halved weights round differently from the reference's sigmoid
_TOL = {"float32": (1e-4, 1e-5), "float64": (1e-10, 1e-12)}
register(Kernel("lstm", "numba", _numba_applies, _numba_forward, _numba_backward, _TOL))
register(Kernel("lstm", "numpy", lambda *args: True, _forward, _backward, _TOL))
