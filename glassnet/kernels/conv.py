"""Convolution, faster: the reference is ``functional.conv`` (im2col, one batched product).

- "1x1" (1x1 kernel, stride 1, no padding; NumPy or CuPy): the input already is the columns,
  so nothing is gathered.
- "winograd" (3x3, stride 1, NumPy with Numba): Winograd's F(4x4, 3x3), see ``winograd.py``.
  ``ALGORITHM`` chooses where it runs.
- "chunked" (NumPy): a few images at a time (``CHUNK_BYTES`` of columns), each chunk's columns
  (C*kh*kw, n*Ho*Wo) meeting the weights in one product while they are in cache. When the whole
  batch fits in one chunk its columns are kept for backward (in the layer's ``Workspace``);
  otherwise backward gathers them again from the padded input. For stride 1, the input gradient
  avoids col2im's strided adds (see ``_chunk_input_grad``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import get_array_module
from ..errors import ConfigError
from ..functional import conv as C
from . import Kernel, register, winograd
from .workspace import scratch

#: How a 3x3 stride-1 convolution on the CPU is computed: "auto" (Winograd's F(4x4, 3x3) where it
#: applies and pays, else im2col), "im2col" (always; the exact products), "winograd" (wherever it
#: applies). See ``kernels/winograd.py`` for what it changes (speed, and float32 accuracy).
ALGORITHM = "auto"
_ALGORITHMS = ("auto", "im2col", "winograd")

#: Bytes of columns per chunk on the NumPy path: a few images at a time, so that the columns, the
#: products and the column gradients stay in the CPU caches instead of streaming through memory.
CHUNK_BYTES = 4 << 20

# the same products as the reference, summed in another order (BLAS blocks them differently): float32
# outputs of ~10 from ~100 products differ in the last digits
_SUMS_TOL = {"float32": (1e-4, 1e-4), "float64": (1e-10, 1e-10)}
# Winograd's float32 outputs differ from exact products by ~10x im2col's rounding (see winograd.py)
_WINOGRAD_TOL = {"float32": (1e-4, 1e-4), "float64": (1e-10, 1e-10)}


def _geometry(x, w, stride, padding, dilation):
    return C.pair(stride, "stride"), C.pair(padding, "padding"), C.pair(dilation, "dilation")


# -- 1x1 ------------------------------------------------------------------------------------------------------
class PointwiseCache(NamedTuple):
    x3: object  # (N, C, H*W): the input is its own columns
    w: object
    x_shape: tuple


def _is_1x1(x, w, b=None, stride=1, padding=0, dilation=1):
    s, p, _ = _geometry(x, w, stride, padding, dilation)
    return tuple(w.shape[2:]) == (1, 1) and s == (1, 1) and p == (0, 0) and x.ndim == 4 and x.shape[1] == w.shape[1]


def _1x1_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    xp = get_array_module(x, w, b)
    N, Cin, H, W = x.shape
    x3 = x.reshape(N, Cin, H * W)
    out = xp.matmul(w.reshape(w.shape[0], Cin), x3)  # (F, C) @ (N, C, P) -> (N, F, P)
    if b is not None:
        out += b.reshape(1, -1, 1)
    return out.reshape(N, w.shape[0], H, W), PointwiseCache(x3, w, tuple(x.shape))


def _1x1_backward(dout, cache, need_dx=True, need_dw=True):
    xp = get_array_module(dout)
    N, F_ = dout.shape[:2]
    w2 = cache.w.reshape(F_, -1)
    d3 = dout.reshape(N, F_, cache.x3.shape[2])
    dx = dw = db = None
    if need_dw:
        dw = xp.matmul(d3, cache.x3.transpose(0, 2, 1)).sum(axis=0).reshape(cache.w.shape)
        db = d3.sum(axis=(0, 2))
    if need_dx:
        dx = xp.matmul(w2.T, d3).reshape(cache.x_shape)
    return dx, dw, db


# -- Winograd ---------------------------------------------------------------------------------------------------
def _winograd_applies(x, w, b=None, stride=1, padding=0, dilation=1):
    if ALGORITHM not in _ALGORITHMS:
        raise ConfigError(f"glassnet.kernels.conv.ALGORITHM must be one of {_ALGORITHMS}, got {ALGORITHM!r}")
    s, p, d = _geometry(x, w, stride, padding, dilation)
    if ALGORITHM == "im2col" or x.ndim != 4 or x.shape[0] == 0 or not winograd.applies(x, w, s, p, d):
        return False
    out_hw = (x.shape[2] + 2 * p[0] - 2, x.shape[3] + 2 * p[1] - 2)
    return min(out_hw) >= 1 and (ALGORITHM == "winograd" or winograd.worthwhile(x, w, out_hw))


def _winograd_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    return winograd.forward(x, w, b, C.pair(padding, "padding"))


# -- chunked im2col ---------------------------------------------------------------------------------------------
class ChunkedCache(NamedTuple):
    cols: object  # (C*kh*kw, N, Ho*Wo) when the batch was one chunk, else None
    w: object
    x_shape: tuple
    out_hw: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    chunk: int  # images per chunk
    xpad: object = None  # the padded input, kept when backward gathers the columns again


def _chunk_size(N, CK, P, itemsize):
    return max(1, min(N, CHUNK_BYTES // max(1, CK * P * itemsize)))


def _gather(xpad, s, e, kernel, out_hw, stride, dilation, out):
    """Columns of images s..e-1 of a padded input into ``out`` (C*kh*kw, e-s, Ho*Wo): the images'
    columns side by side, so that one product serves the whole chunk."""
    kh, kw = kernel
    Cin = xpad.shape[1]
    win = C._windows(np, xpad[s:e], kh, kw, out_hw[0], out_hw[1], stride, dilation)  # (n, C, kh, kw, Ho, Wo)
    out.reshape(Cin, kh, kw, e - s, out_hw[0], out_hw[1])[...] = win.transpose(1, 2, 3, 0, 4, 5)
    return out


def _is_numpy(x, w, b=None, stride=1, padding=0, dilation=1):
    return type(x) is np.ndarray and x.ndim == 4 and x.shape[0] > 0 and x.shape[1] == w.shape[1]


def _chunked_forward(x, w, b=None, stride=1, padding=0, dilation=1, workspace=None):
    stride, padding, dilation = _geometry(x, w, stride, padding, dilation)
    N, Cin, H, W = x.shape
    F_, _, kh, kw = w.shape
    Ho = C.out_size(H, kh, stride[0], padding[0], dilation[0], "conv2d", "H")
    Wo = C.out_size(W, kw, stride[1], padding[1], dilation[1], "conv2d", "W")
    w2 = w.reshape(F_, -1)
    CK, P = w2.shape[1], Ho * Wo
    dtype = np.result_type(x, w2)
    n = _chunk_size(N, CK, P, dtype.itemsize)
    keep = n >= N  # one chunk: its columns are kept for backward (in the layer's workspace)
    xpad = np.ascontiguousarray(C.pad2d(x, padding))
    ws = scratch()
    out = np.empty((N, F_, P), dtype)
    for s in range(0, N, n):
        e = min(N, s + n)
        if not keep:
            buf = ws.get("cols", (CK, e - s, P), x.dtype)
        else:
            buf = np.empty((CK, N, P), x.dtype) if workspace is None else workspace.get("cols", (CK, N, P), x.dtype)
        cols = _gather(xpad, s, e, (kh, kw), (Ho, Wo), stride, dilation, buf)
        prod = np.matmul(w2, cols.reshape(CK, -1), out=ws.get("prod", (F_, (e - s) * P), dtype))
        dst = out[s:e].transpose(1, 0, 2)  # (F, n, P) view of the output: the product's layout
        if b is None:
            dst[...] = prod.reshape(F_, e - s, P)
        else:  # the bias rides on the copy out of the product (one pass instead of two)
            np.add(prod.reshape(F_, e - s, P), b.reshape(F_, 1, 1), out=dst)
    cache = ChunkedCache(cols if keep else None, w, tuple(x.shape), (Ho, Wo), stride, padding, dilation,
                         chunk=n, xpad=None if keep else xpad)
    return out.reshape(N, F_, Ho, Wo), cache


def _chunked_backward(dout, cache, need_dx=True, need_dw=True):
    """Chunk by chunk: the upstream gradient of n images as (F, n*P), one product with the chunk's
    columns for dw, one with the weights for dx."""
    w = cache.w
    N, Cin, H, W = cache.x_shape
    F_, _, kh, kw = w.shape
    CK, P, n = Cin * kh * kw, cache.out_hw[0] * cache.out_hw[1], cache.chunk
    d3 = dout.reshape(N, F_, P)
    dtype = np.result_type(dout, w)
    ws = scratch()
    dw = db = dx = None
    if need_dw:
        dw_t = np.empty((CK, F_), dtype)  # (CK, F) = cols @ d2^T: BLAS's faster orientation here
        db = np.zeros(F_, dtype)
    if need_dx:
        dx = np.empty(cache.x_shape, dtype)
        w_kc = w.transpose(2, 3, 1, 0).reshape(kh * kw * Cin, F_)  # rows (i, j, c): kernel offset first
    for s in range(0, N, n):
        e = min(N, s + n)
        dchunk = ws.get("dout_t", (F_, e - s, P), dout.dtype)
        dchunk[...] = d3[s:e].transpose(1, 0, 2)
        d2 = dchunk.reshape(F_, -1)
        if need_dw:
            cols = cache.cols if cache.cols is not None else _gather(
                cache.xpad, s, e, (kh, kw), cache.out_hw, cache.stride, cache.dilation,
                ws.get("cols", (CK, e - s, P), cache.xpad.dtype))
            db += d2.sum(axis=1)  # from the chunk in cache, not another pass over dout
            if s == 0:
                np.matmul(cols.reshape(CK, -1), d2.T, out=dw_t)
            else:
                dw_t += np.matmul(cols.reshape(CK, -1), d2.T, out=ws.get("dw_t", (CK, F_), dtype))
        if need_dx:
            dx[s:e] = _chunk_input_grad(dchunk, w, w_kc, cache, ws, dtype)
    if need_dw:
        dw = np.ascontiguousarray(dw_t.T).reshape(w.shape)
    return dx, dw, db


def _chunk_input_grad(dchunk, w, w_kc, cache, ws, dtype):
    """dx (n, C, H, W) of one chunk from its upstream gradient (F, n, P).

    For stride 1, col2im becomes kh*kw contiguous adds: the column gradients are computed on the
    whole padded grid (dout placed in an (Hp, Wp) frame of zeros, rows ordered kernel offset
    first), so the gradient of every channel sits Hp*Wp apart exactly as in the padded input,
    and kernel offset (i, j) moves all of them by the same flat distance i*dh*Wp + j*dw. The
    zeros that land in a neighbouring channel or in the slack add nothing; the price is
    Hp*Wp/(Ho*Wo) more product work."""
    F_, n, _ = dchunk.shape
    _, Cin, H, W = cache.x_shape
    kh, kw = w.shape[2:]
    Ho, Wo = cache.out_hw
    (ph, pw), (dh, dw) = cache.padding, cache.dilation
    Hp, Wp = H + 2 * ph, W + 2 * pw
    if cache.stride != (1, 1):
        dcols = np.matmul(w.reshape(F_, -1).T, dchunk.reshape(F_, -1),
                          out=ws.get("dcols", (Cin * kh * kw, n * Ho * Wo), dtype))
        c6 = dcols.reshape(Cin, kh, kw, n, Ho, Wo).transpose(3, 0, 1, 2, 4, 5)
        return C.col2im(c6, (n, Cin, H, W), (kh, kw), (Ho, Wo), cache.stride, cache.padding, cache.dilation)
    frame = ws.get("dout_frame", (F_, n, Hp, Wp), dchunk.dtype)
    frame[:, :, Ho:] = 0
    frame[:, :, :Ho, Wo:] = 0
    frame[:, :, :Ho, :Wo] = dchunk.reshape(F_, n, Ho, Wo)
    dcols = np.matmul(w_kc, frame.reshape(F_, -1), out=ws.get("dcols", (kh * kw * Cin, n * Hp * Wp), dtype))
    M = Cin * n * Hp * Wp
    by_offset = dcols.reshape(kh * kw, M)
    dpad = ws.get("dpad", (M + (kh - 1) * dh * Wp + (kw - 1) * dw,), dtype)
    dpad[:M] = by_offset[0]  # offset (0, 0) lands at distance 0: copied, not added to zeros
    dpad[M:] = 0  # the tail only gathers what falls past the last image (never read): no stale values
    for i in range(kh):
        for j in range(kw):
            if i or j:
                o = i * dh * Wp + j * dw
                dpad[o:o + M] += by_offset[i * kw + j]
    return dpad[:M].reshape(Cin, n, Hp, Wp)[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3)


register(Kernel("conv2d", "1x1", _is_1x1, _1x1_forward, _1x1_backward, _SUMS_TOL))
register(Kernel("conv2d", "winograd", _winograd_applies, _winograd_forward, winograd.backward, _WINOGRAD_TOL))
register(Kernel("conv2d", "chunked", _is_numpy, _chunked_forward, _chunked_backward, _SUMS_TOL, uses_workspace=True))
