"""3x3 convolution (stride 1, no dilation) by Winograd's minimal filtering F(4x4, 3x3), on the
CPU with the compiled kernels (Numba).

Why: im2col turns a 3x3 convolution into products that do 9 multiply-adds per output and input
channel pair; Winograd's algorithm computes a 4x4 block of outputs from a 6x6 block of inputs
with 36 instead of 144 multiplications (Lavin and Gray, "Fast Algorithms for Convolutional
Neural Networks", 2016). Each 6x6 input tile d and each kernel g are transformed,

    V = B^T d B (6x6),   U = G g G^T (6x6),   Y = A^T [sum over channels of U * V] A (4x4),

and the channel sum of each of the 36 element-wise products is one matrix product, (F, C) @
(C, tiles): 36 products with 4x fewer multiply-adds in all than im2col's. Backward follows from
the same identity (``Z = A dY A^T`` of each 4x4 block of the upstream gradient):

    dU = sum over tiles of Z V^T  ->  dW = G^T dU G        dV = U^T Z  ->  dx += B dV B^T

(input tiles overlap by two rows and columns; their gradients are added). Transforms of the
input, the output and the upstream gradient run as compiled kernels over a few images at a time
(in cache), and the products go to BLAS.

Accuracy: the transforms' constants (up to 8 and 1/24) cost precision: in float32 the outputs
differ from an exact convolution by about 10x more than im2col's (measured on the benchmark's
layer: max error 5e-5 vs 4e-6, on outputs up to 9), well inside what float32 training tolerates
and what GPU libraries accept for the same algorithm; in float64 about 1e-13. ``ALGORITHM`` in
``kernels.conv`` chooses: "auto" (this path where it applies and pays, see ``applies`` and
``worthwhile``), "im2col" (never this path) or "winograd" (wherever it applies).

Layouts (all C-contiguous): V (C, 36, T) and the products M (F, 36, T), T = n*Ty*Tx tiles of a
chunk of n images (numbered image by image, row by row); U (36, F, C). ``BT``, ``G`` and ``AT``
below are the transforms' matrices; the kernels spell them out as sums (tested against them).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _numba as _jit
from .workspace import scratch

# Lavin and Gray's F(4x4, 3x3) at the points 0, 1, -1, 2, -2 and infinity (as in their paper).
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=float)
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], dtype=float)
_GG = np.kron(G, G)  # (36, 9): row a*6+b, column i*3+j holds G[a, i] * G[b, j]

prange = range  # numba.prange in the compiled kernels (see kernels._numba.compiled): their outer loops run on all cores

#: Bytes of transformed input (V) per chunk: a few images, so that V and the products stay in cache.
CHUNK_BYTES = 1 << 20


# -- the kernels (compiled by kernels._numba.compiled; plain Python otherwise never runs) --------------------
# Tiles of a chunk of n images are numbered t = i*Ty*Tx + ty*Tx + tx (image s+i, tile row ty, tile
# column tx). A plane is held by column phase, P[q, row, m] = plane[row, 4m + q], so that the
# column 4tx + j of a tile is phase j % 4 at m = tx + j // 4: consecutive tiles are consecutive m.
# k = (4, 5, 2, 8) in the arrays' dtype: a Python int constant would make float32 arithmetic float64.
def _input_tiles(x, s, e, ph, pw, Ty, Tx, V, k):  # pragma: no cover - compiled
    """V[c, a*6+b, t] = (B^T d B)[a, b] of the 6x6 tile t (rows 4ty.., columns 4tx.. of image
    s+i) of x (N, C, H, W) zero-padded by (ph, pw)."""
    k4, k5, k2 = k[0], k[1], k[2]
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    M4 = Tx + 1
    for c in prange(C):  # channels in parallel: each has its own scratch planes
        P = np.zeros((4, 4 * Ty + 2, M4), x.dtype)  # the padded plane; its border is never written
        R = np.empty((4, 6, M4), x.dtype)
        # (the plane holds the image: 4*Ty >= Ho = H + 2*ph - 2, so H + ph <= 4*Ty + 2; likewise W)
        for i in range(e - s):
            img = x[s + i, c]
            for y in range(H):
                for xx in range(W):
                    col = xx + pw
                    P[col & 3, y + ph, col >> 2] = img[y, xx]
            for ty in range(Ty):
                r = 4 * ty
                for q in range(4):  # along rows: R[q, a] = sum_j BT[a, j] * row r+j
                    for m in range(M4):
                        d0, d1, d2 = P[q, r, m], P[q, r + 1, m], P[q, r + 2, m]
                        d3, d4, d5 = P[q, r + 3, m], P[q, r + 4, m], P[q, r + 5, m]
                        R[q, 0, m] = k4 * d0 - k5 * d2 + d4
                        R[q, 1, m] = -k4 * (d1 + d2) + d3 + d4
                        R[q, 2, m] = k4 * (d1 - d2) - d3 + d4
                        R[q, 3, m] = k2 * (d3 - d1) - d2 + d4
                        R[q, 4, m] = k2 * (d1 - d3) - d2 + d4
                        R[q, 5, m] = k4 * d1 - k5 * d3 + d5
                t0 = i * Ty * Tx + ty * Tx
                for a in range(6):  # along columns
                    v = V[c, 6 * a:6 * a + 6]
                    for tx in range(Tx):
                        d0, d1, d2, d3 = R[0, a, tx], R[1, a, tx], R[2, a, tx], R[3, a, tx]
                        d4, d5 = R[0, a, tx + 1], R[1, a, tx + 1]
                        v[0, t0 + tx] = k4 * d0 - k5 * d2 + d4
                        v[1, t0 + tx] = -k4 * (d1 + d2) + d3 + d4
                        v[2, t0 + tx] = k4 * (d1 - d2) - d3 + d4
                        v[3, t0 + tx] = k2 * (d3 - d1) - d2 + d4
                        v[4, t0 + tx] = k2 * (d1 - d3) - d2 + d4
                        v[5, t0 + tx] = k4 * d1 - k5 * d3 + d5


def _input_tiles_adjoint(dV, s, ph, pw, Ty, Tx, dx, k):  # pragma: no cover - compiled
    """dx[s+i, c] = the sum over tiles of B dV B^T placed back at each tile (overlaps added),
    without the padding: the adjoint of ``_input_tiles``."""
    k4, k5, k2 = k[0], k[1], k[2]
    C, TT = dV.shape[0], Ty * Tx
    n = dV.shape[2] // TT
    H, W = dx.shape[2], dx.shape[3]
    M4 = Tx + 1
    for c in prange(C):  # channels in parallel: each has its own scratch planes
        P = np.empty((4, 4 * Ty + 2, M4), dx.dtype)
        R = np.empty((4, 6, M4), dx.dtype)
        for i in range(n):
            P[...] = 0
            for ty in range(Ty):
                t0 = i * TT + ty * Tx
                for a in range(6):  # along columns: u_j = sum_b BT[b, j] v_b lands at column 4tx+j
                    v = dV[c, 6 * a:6 * a + 6]
                    R[0, a, Tx] = 0
                    R[1, a, Tx] = 0
                    R[2, a, Tx] = 0
                    R[3, a, Tx] = 0
                    for tx in range(Tx):
                        v0, v1, v2 = v[0, t0 + tx], v[1, t0 + tx], v[2, t0 + tx]
                        v3, v4, v5 = v[3, t0 + tx], v[4, t0 + tx], v[5, t0 + tx]
                        R[0, a, tx] = k4 * v0
                        R[1, a, tx] = k4 * (v2 - v1) + k2 * (v4 - v3) + k4 * v5
                        R[2, a, tx] = -k5 * v0 - k4 * (v1 + v2) - v3 - v4
                        R[3, a, tx] = v1 - v2 + k2 * (v3 - v4) - k5 * v5
                    for tx in range(Tx):  # columns 4tx+4 and 4tx+5: phases 0 and 1 of the next m
                        v0, v1, v2 = v[0, t0 + tx], v[1, t0 + tx], v[2, t0 + tx]
                        v3, v4, v5 = v[3, t0 + tx], v[4, t0 + tx], v[5, t0 + tx]
                        R[0, a, tx + 1] += v0 + v1 + v2 + v3 + v4
                        R[1, a, tx + 1] += v5
                r = 4 * ty
                for q in range(4):  # along rows, added into the plane (tile rows overlap by two)
                    for m in range(M4):
                        u0, u1, u2 = R[q, 0, m], R[q, 1, m], R[q, 2, m]
                        u3, u4, u5 = R[q, 3, m], R[q, 4, m], R[q, 5, m]
                        P[q, r, m] += k4 * u0
                        P[q, r + 1, m] += k4 * (u2 - u1) + k2 * (u4 - u3) + k4 * u5
                        P[q, r + 2, m] += -k5 * u0 - k4 * (u1 + u2) - u3 - u4
                        P[q, r + 3, m] += u1 - u2 + k2 * (u3 - u4) - k5 * u5
                        P[q, r + 4, m] += u0 + u1 + u2 + u3 + u4
                        P[q, r + 5, m] += u5
            img = dx[s + i, c]
            for y in range(H):
                for xx in range(W):
                    col = xx + pw
                    img[y, xx] = P[col & 3, y + ph, col >> 2]


def _output_tiles(M, s, Ty, Tx, b, out, k):  # pragma: no cover - compiled
    """out[s+i, f] = A^T m A of every tile of M (F, 36, T), cropped to out's (Ho, Wo), plus b[f]."""
    k2, k8 = k[2], k[3]
    k4 = k2 * k2
    F, TT = M.shape[0], Ty * Tx
    n = M.shape[2] // TT
    Ho, Wo = out.shape[2], out.shape[3]
    for f in prange(F):  # output channels in parallel: each has its own scratch planes
        S = np.empty((4, 6, Tx), M.dtype)
        P = np.empty((4, 4 * Ty, Tx), M.dtype)  # the output plane by column phase
        bf = b[f]
        for i in range(n):
            for ty in range(Ty):
                t0 = i * TT + ty * Tx
                for a in range(6):  # along columns: S[q, a] = sum_b AT[q, b] m[a, b]
                    m_ = M[f, 6 * a:6 * a + 6]
                    for tx in range(Tx):
                        m0, m1, m2 = m_[0, t0 + tx], m_[1, t0 + tx], m_[2, t0 + tx]
                        m3, m4, m5 = m_[3, t0 + tx], m_[4, t0 + tx], m_[5, t0 + tx]
                        p, q_, r, u = m1 + m2, m1 - m2, m3 + m4, m3 - m4
                        S[0, a, tx] = m0 + p + r
                        S[1, a, tx] = q_ + k2 * u
                        S[2, a, tx] = p + k4 * r
                        S[3, a, tx] = q_ + k8 * u + m5
                r0 = 4 * ty
                for q in range(4):  # along rows
                    for tx in range(Tx):
                        m0, m1, m2 = S[q, 0, tx], S[q, 1, tx], S[q, 2, tx]
                        m3, m4, m5 = S[q, 3, tx], S[q, 4, tx], S[q, 5, tx]
                        p, q_, r, u = m1 + m2, m1 - m2, m3 + m4, m3 - m4
                        P[q, r0, tx] = m0 + p + r + bf
                        P[q, r0 + 1, tx] = q_ + k2 * u + bf
                        P[q, r0 + 2, tx] = p + k4 * r + bf
                        P[q, r0 + 3, tx] = q_ + k8 * u + m5 + bf
            img = out[s + i, f]
            for y in range(Ho):
                for xx in range(Wo):
                    img[y, xx] = P[xx & 3, y, xx >> 2]


def _grad_tiles(dout, s, e, Ty, Tx, Z, k, db):  # pragma: no cover - compiled
    """Z[f, a*6+b, t] = (A dY A^T)[a, b] of every 4x4 block dY of dout (N, F, Ho, Wo), zero
    past Ho and Wo: the adjoint of ``_output_tiles``; and db[f] += the sum of dout[s:e, f]
    (float64, summed by columns so that the additions vectorize)."""
    k2, k8 = k[2], k[3]
    k4 = k2 * k2
    F, Ho, Wo = dout.shape[1], dout.shape[2], dout.shape[3]
    TT = Ty * Tx
    for f in prange(F):  # output channels in parallel: each has its own scratch planes
        P = np.zeros((4, 4 * Ty, Tx), dout.dtype)  # past Ho and Wo never written: zero
        S = np.empty((4, 6, Tx), dout.dtype)
        sums = np.zeros(Wo, db.dtype)
        for i in range(e - s):
            img = dout[s + i, f]
            for y in range(Ho):
                for xx in range(Wo):
                    P[xx & 3, y, xx >> 2] = img[y, xx]
                for xx in range(Wo):
                    sums[xx] += img[y, xx]
            for ty in range(Ty):
                r0 = 4 * ty
                for q in range(4):  # along rows: S[q, a] = sum_j AT[j, a] y_j
                    for tx in range(Tx):
                        y0, y1, y2, y3 = P[q, r0, tx], P[q, r0 + 1, tx], P[q, r0 + 2, tx], P[q, r0 + 3, tx]
                        p, q_, r, u = y0 + y2, y1 + y3, y0 + k4 * y2, k2 * y1 + k8 * y3
                        S[q, 0, tx] = y0
                        S[q, 1, tx] = p + q_
                        S[q, 2, tx] = p - q_
                        S[q, 3, tx] = r + u
                        S[q, 4, tx] = r - u
                        S[q, 5, tx] = y3
                t0 = i * TT + ty * Tx
                for a in range(6):  # along columns
                    z = Z[f, 6 * a:6 * a + 6]
                    for tx in range(Tx):
                        y0, y1, y2, y3 = S[0, a, tx], S[1, a, tx], S[2, a, tx], S[3, a, tx]
                        p, q_, r, u = y0 + y2, y1 + y3, y0 + k4 * y2, k2 * y1 + k8 * y3
                        z[0, t0 + tx] = y0
                        z[1, t0 + tx] = p + q_
                        z[2, t0 + tx] = p - q_
                        z[3, t0 + tx] = r + u
                        z[4, t0 + tx] = r - u
                        z[5, t0 + tx] = y3
        db[f] += sums.sum()


# -- the driver -------------------------------------------------------------------------------------
class WinogradCache(NamedTuple):
    x: object  # the input (N, C, H, W), kept to transform it again in backward
    w: object  # (F, C, 3, 3)
    U: object  # (36, F, C) transformed weights
    padding: tuple
    out_hw: tuple
    tiles: tuple  # (Ty, Tx)
    chunk: int  # images per chunk

    @property
    def x_shape(self):
        return tuple(self.x.shape)


def applies(x, w, stride, padding, dilation) -> bool:
    """This path can run: NumPy float arrays, a 3x3 kernel, stride 1, no dilation, padding of at
    most 2 (the input gradient's tiles assume it), and the compiled kernels available."""
    return (type(x) is np.ndarray and x.dtype in (np.float32, np.float64) and w.dtype == x.dtype
            and tuple(w.shape[2:]) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and max(padding) <= 2 and _jit.enabled())


def worthwhile(x, w, out_hw) -> bool:
    """Where "auto" takes this path: enough input and output channels that the 36 products are
    not starved (with 3 input channels, a first layer, im2col's single product is faster), and
    outputs of at least 12x12 (smaller images have too few tiles; measurements in
    docs/decisions.md, "Winograd convolution")."""
    return min(w.shape[0], w.shape[1]) >= 16 and min(out_hw) >= 12


def _kernel(fn):
    return _jit.compiled(fn, parallel=True)


def _constants(dtype):
    return np.array([4, 5, 2, 8], dtype=dtype)


def _chunk(N, C, TT, itemsize):
    return max(1, min(N, CHUNK_BYTES // max(1, 36 * C * TT * itemsize)))


def transform_weights(w):
    """U (36, F, C) = G g G^T of every 3x3 kernel g of w (F, C, 3, 3), computed in float64 as
    one product with kron(G, G) (36, 9), which maps a kernel's 9 values to the 36 of G g G^T."""
    F_, C = w.shape[:2]
    u = _GG @ w.reshape(F_ * C, 9).T.astype(np.float64)
    return np.ascontiguousarray(u.reshape(36, F_, C), dtype=w.dtype)


def forward(x, w, b, padding):
    """out (N, F, Ho, Wo) and a ``WinogradCache``; x (N, C, H, W), w (F, C, 3, 3), b (F,) or None."""
    N, C, H, W = x.shape
    F_ = w.shape[0]
    ph, pw = padding
    Ho, Wo = H + 2 * ph - 2, W + 2 * pw - 2
    Ty, Tx = -(-Ho // 4), -(-Wo // 4)
    TT = Ty * Tx
    x = np.ascontiguousarray(x)
    U = transform_weights(w)
    k = _constants(x.dtype)
    bias = np.zeros(F_, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    n = _chunk(N, C, TT, x.itemsize)
    out = np.empty((N, F_, Ho, Wo), x.dtype)
    ws = scratch()
    inp, outp = _kernel(_input_tiles), _kernel(_output_tiles)
    for s in range(0, N, n):
        e = min(N, s + n)
        V = ws.get("wino_V", (C, 36, (e - s) * TT), x.dtype)
        _jit.launch(inp, x, s, e, ph, pw, Ty, Tx, V, k)
        M = ws.get("wino_M", (F_, 36, (e - s) * TT), x.dtype)
        np.matmul(U, V.transpose(1, 0, 2), out=M.transpose(1, 0, 2))  # 36 products (F, C) @ (C, T)
        _jit.launch(outp, M, s, Ty, Tx, bias, out, k)
    return out, WinogradCache(x, w, U, (ph, pw), (Ho, Wo), (Ty, Tx), n)


def backward(dout, cache, need_dx=True, need_dw=True):
    """(dx, dw, db) from dout (N, F, Ho, Wo); dx None unless ``need_dx``, dw and db unless ``need_dw``."""
    if not (need_dx or need_dw):
        return None, None, None
    x, w, U = cache.x, cache.w, cache.U
    N, C = x.shape[:2]
    F_ = w.shape[0]
    Ty, Tx = cache.tiles
    TT, n = Ty * Tx, cache.chunk
    ph, pw = cache.padding
    dtype = x.dtype
    dout = np.ascontiguousarray(dout, dtype=dtype)
    k = _constants(dtype)
    ws = scratch()
    grad, inp, adj = _kernel(_grad_tiles), _kernel(_input_tiles), _kernel(_input_tiles_adjoint)
    dx = np.empty(x.shape, dtype) if need_dx else None
    dU = np.zeros((36, F_, C), dtype) if need_dw else None
    db64 = np.zeros(F_)
    Ut = U.transpose(0, 2, 1)  # (36, C, F)
    for s in range(0, N, n):
        e = min(N, s + n)
        T = (e - s) * TT
        Z = ws.get("wino_Z", (F_, 36, T), dtype)
        _jit.launch(grad, dout, s, e, Ty, Tx, Z, k, db64)
        Zk = Z.transpose(1, 0, 2)  # (36, F, T)
        if need_dw:
            V = ws.get("wino_V", (C, 36, T), dtype)
            _jit.launch(inp, x, s, e, ph, pw, Ty, Tx, V, k)
            dU += np.matmul(Zk, V.transpose(1, 2, 0), out=ws.get("wino_dU", (36, F_, C), dtype))  # (F, T) @ (T, C)
        if need_dx:
            dV = ws.get("wino_dV", (C, 36, T), dtype)
            np.matmul(Ut, Zk, out=dV.transpose(1, 0, 2))  # 36 products (C, F) @ (F, T)
            _jit.launch(adj, dV, s, ph, pw, Ty, Tx, dx, k)
    dw = db = None
    if need_dw:
        dw = (dU.reshape(36, F_ * C).T.astype(np.float64) @ _GG).astype(dtype).reshape(w.shape)  # G^T dU G
        db = db64.astype(dtype)
    return dx, dw, db


__all__ = ["applies", "worthwhile", "forward", "backward", "transform_weights", "WinogradCache", "CHUNK_BYTES"]
