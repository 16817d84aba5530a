"""Max and average pooling, faster: the reference is ``functional.pool``.

- "2x2" (the common non-overlapping 2x2/2 case over even, contiguous inputs; NumPy or CuPy):
  two halving passes, each over long (1-D strided or contiguous) runs instead of NumPy's slow
  short strided rows: first every horizontal pair of the flat input, then every vertical pair
  of those. Ties go to the left column, then the upper row: the first maximum in row-major
  order, as in the reference.
- "numba" (contiguous NumPy float32/float64): one compiled pass over each window instead of
  kh*kw vectorized passes over strided views; the same
  arithmetic in the same order, so the same values (max pooling's backward writes +0.0 where
  the reference writes a non-hit -0.0: equal values).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..backend import get_array_module
from ..functional import pool as P
from . import Kernel, _numba, register

_EXACT = {"float32": (0.0, 0.0), "float64": (0.0, 0.0)}


class HalvesCache(NamedTuple):
    x_shape: tuple
    right_won: object  # max pooling: the odd column won, flat (N*C*H*Wo,); None for average pooling
    lower_won: object  # max pooling: the lower row won, (N*C*Ho, Wo)


def _is_2x2(x, kernel, stride=None, who=None):
    stride = kernel if stride is None else stride
    return (getattr(x, "ndim", 0) == 4 and tuple(kernel) == (2, 2) and tuple(stride) == (2, 2)
            and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0 and x.flags.c_contiguous)


def _max_2x2(x, kernel, stride=None, who="max_pool2d"):
    xp = get_array_module(x)
    N, C, H, W = x.shape
    flat = x.reshape(-1)
    left, right = flat[0::2], flat[1::2]
    right_won = right > left
    pairs = xp.maximum(left, right).reshape(N * C * (H // 2), 2, W // 2)
    upper, lower = pairs[:, 0], pairs[:, 1]
    lower_won = lower > upper
    out = xp.maximum(upper, lower).reshape(N, C, H // 2, W // 2)
    return out, HalvesCache(tuple(x.shape), right_won, lower_won)


def _max_2x2_backward(dout, cache):
    """The gradient goes to the winning row, then column (the losing row's choice multiplies a zero)."""
    xp = get_array_module(dout)
    N, C, H, W = cache.x_shape
    d = dout.reshape(N * C * (H // 2), W // 2)
    rows = xp.empty((N * C * (H // 2), 2, W // 2), dtype=dout.dtype)
    xp.multiply(d, cache.lower_won, out=rows[:, 1])
    xp.subtract(d, rows[:, 1], out=rows[:, 0])
    rows = rows.reshape(-1)
    dx = xp.empty(N * C * H * W, dtype=dout.dtype)
    xp.multiply(rows, cache.right_won, out=dx[1::2])
    xp.subtract(rows, dx[1::2], out=dx[0::2])
    return dx.reshape(cache.x_shape)


def _avg_2x2(x, kernel, stride=None, who="avg_pool2d"):
    xp = get_array_module(x)
    N, C, H, W = x.shape
    flat = x.reshape(-1)
    pairs = xp.add(flat[0::2], flat[1::2]).reshape(N * C * (H // 2), 2, W // 2)
    out = xp.add(pairs[:, 0], pairs[:, 1])
    out *= 0.25
    return out.reshape(N, C, H // 2, W // 2), HalvesCache(tuple(x.shape), None, None)


def _avg_2x2_backward(dout, cache):
    """Each quarter of the gradient to both rows, then both columns."""
    xp = get_array_module(dout)
    N, C, H, W = cache.x_shape
    q = dout.reshape(N * C * (H // 2), 1, W // 2) * 0.25
    rows = xp.empty((N * C * (H // 2), 2, W // 2), dtype=dout.dtype)
    rows[...] = q
    rows = rows.reshape(-1)
    dx = xp.empty(N * C * H * W, dtype=dout.dtype)
    dx[0::2] = rows
    dx[1::2] = rows
    return dx.reshape(cache.x_shape)


# -- compiled window loops ------------------------------------------------------------------------
# Pooling over planes x (P, H, W) = (N*C, H, W); windows kh x kw every sh, sw; offsets k = di*kw + dj.
def _max_pool(x, kh, kw, sh, sw, out, arg):  # pragma: no cover - compiled
    P, Ho, Wo = out.shape
    for p in range(P):
        x_p = x[p]
        for i in range(Ho):
            for j in range(Wo):
                r0, c0 = i * sh, j * sw
                best = x_p[r0, c0]
                at = 0
                k = 0
                nan = best != best
                for di in range(kh):
                    for dj in range(kw):
                        v = x_p[r0 + di, c0 + dj]
                        if v > best:  # strict: ties keep the first maximum
                            best = v
                            at = k
                        nan |= v != v
                        k += 1
                if nan:  # rare: again with np.maximum's rule (NaN wins; no later position wins over it)
                    best = x_p[r0, c0]
                    at = 0
                    k = 0
                    for di in range(kh):
                        for dj in range(kw):
                            v = x_p[r0 + di, c0 + dj]
                            if v > best:
                                best = v
                                at = k
                            elif v != v:
                                best = v
                            k += 1
                out[p, i, j] = best
                arg[p, i, j] = at


# Max pooling's backward visits the windows last to first: every input position then receives
# its windows' gradients in increasing kernel offset, the order in which the NumPy path adds
# them, so overlapping windows give the same sums to the last bit.
def _max_pool_back(dout, arg, kh, kw, sh, sw, dx, zero):  # pragma: no cover - compiled
    P, Ho, Wo = dout.shape
    H, W = dx.shape[1], dx.shape[2]
    flat = np.empty(kh * kw, np.int64)  # kernel offset -> distance in the flattened plane
    for k in range(kh * kw):  # (no division per window: it took a third of the time)
        flat[k] = (k // kw) * W + k % kw
    for p in range(P):
        d_p, a_p, dx_p = dout[p], arg[p], dx[p].reshape(H * W)
        for i in range(Ho - 1, -1, -1):
            d_i, a_i, row0 = d_p[i], a_p[i], i * sh * W
            for j in range(Wo - 1, -1, -1):
                g = d_i[j]
                dx_p[row0 + j * sw + flat[a_i[j]]] += g
                if not math.isfinite(g):  # the NumPy path adds g * 0 (NaN) at the other positions too
                    for k in range(kh * kw):
                        if k != a_i[j]:
                            dx_p[row0 + j * sw + flat[k]] += g * zero


def _avg_pool(x, kh, kw, sh, sw, out, scale):  # pragma: no cover - compiled
    P, Ho, Wo = out.shape
    for p in range(P):
        x_p = x[p]
        for i in range(Ho):
            for j in range(Wo):
                r0, c0 = i * sh, j * sw
                acc = x_p[r0, c0]
                for di in range(kh):  # in offset order, as the NumPy path sums
                    for dj in range(kw):
                        if di or dj:
                            acc += x_p[r0 + di, c0 + dj]
                out[p, i, j] = acc * scale


def _avg_pool_back(dout, kh, kw, sh, sw, dx, scale):  # pragma: no cover - compiled
    P, Ho, Wo = dout.shape
    for p in range(P):
        d_p, dx_p = dout[p], dx[p]
        for di in range(kh):  # offset by offset, as the NumPy path adds
            for dj in range(kw):
                for i in range(Ho):
                    for j in range(Wo):
                        dx_p[i * sh + di, j * sw + dj] += d_p[i, j] * scale


def _planes(a):
    return a.reshape(-1, a.shape[-2], a.shape[-1])


def _max_pool_numba(x, kernel, stride, out_hw, arg_dtype):
    """Max pooling of a contiguous (N, C, H, W) array: (out, offset of each window's first
    maximum), as the NumPy path computes them (NaN propagates; ties keep the first)."""
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(out_hw), dtype=x.dtype)
    arg = np.empty(out.shape, dtype=arg_dtype)
    _numba.compiled(_max_pool)(_planes(x), *kernel, *stride, _planes(out), _planes(arg))
    return out, arg


def _max_pool_backward_numba(dout, arg, kernel, stride, x_shape):
    """dx: each window's gradient added at its maximum, offset by offset as in the NumPy path."""
    dx = np.zeros(x_shape, dtype=dout.dtype)
    _numba.compiled(_max_pool_back)(_planes(dout), _planes(arg), *kernel, *stride, _planes(dx), dout.dtype.type(0))
    return dx


def _avg_pool_numba(x, kernel, stride, out_hw):
    """Average pooling of a contiguous (N, C, H, W) array: the window sums in offset order, times
    1/(kh*kw) in the array's precision, as the NumPy path."""
    N, C = x.shape[:2]
    out = np.empty((N, C) + tuple(out_hw), dtype=x.dtype)
    _numba.compiled(_avg_pool)(_planes(x), *kernel, *stride, _planes(out), x.dtype.type(1.0 / (kernel[0] * kernel[1])))
    return out


def _avg_pool_backward_numba(dout, kernel, stride, x_shape):
    dx = np.zeros(x_shape, dtype=dout.dtype)
    scale = dout.dtype.type(1.0 / (kernel[0] * kernel[1]))
    _numba.compiled(_avg_pool_back)(_planes(dout), *kernel, *stride, _planes(dx), scale)
    return dx


def _geometry(x, kernel, stride, who):
    stride = tuple(kernel if stride is None else stride)
    Ho, Wo, overlap = P._geometry(x, kernel, stride, who)
    return stride, (Ho, Wo), overlap


def _numba_max(x, kernel, stride=None, who="max_pool2d"):
    stride, out_hw, overlap = _geometry(x, kernel, stride, who)
    arg_dtype = "uint8" if kernel[0] * kernel[1] < 256 else "int32"
    out, arg = _max_pool_numba(x, tuple(kernel), stride, out_hw, arg_dtype)
    return out, P.PoolCache(tuple(x.shape), tuple(kernel), stride, out_hw, arg, overlap)


def _numba_max_backward(dout, cache):
    if _numba.usable(dout) and cache.arg.flags.c_contiguous:
        return _max_pool_backward_numba(dout, cache.arg, cache.kernel, cache.stride, cache.x_shape)
    return P.max_pool2d_backward(dout, cache)


def _numba_avg(x, kernel, stride=None, who="avg_pool2d"):
    stride, out_hw, overlap = _geometry(x, kernel, stride, who)
    return _avg_pool_numba(x, tuple(kernel), stride, out_hw), P.PoolCache(tuple(x.shape), tuple(kernel), stride,
                                                                         out_hw, None, overlap)


def _numba_avg_backward(dout, cache):
    if _numba.usable(dout):
        return _avg_pool_backward_numba(dout, cache.kernel, cache.stride, cache.x_shape)
    return P.avg_pool2d_backward(dout, cache)


def _numba_applies(x, kernel, stride=None, who=None):
    return getattr(x, "ndim", 0) == 4 and _numba.usable(x)


register(Kernel("max_pool2d", "2x2", _is_2x2, _max_2x2, _max_2x2_backward, _EXACT))
register(Kernel("max_pool2d", "numba", _numba_applies, _numba_max, _numba_max_backward, _EXACT))
register(Kernel("avg_pool2d", "2x2", _is_2x2, _avg_2x2, _avg_2x2_backward,
                {"float32": (1e-6, 1e-7), "float64": (1e-15, 1e-16)}))  # (a + b) + (c + d) vs ((a + b) + c) + d
register(Kernel("avg_pool2d", "numba", _numba_applies, _numba_avg, _numba_avg_backward, _EXACT))
