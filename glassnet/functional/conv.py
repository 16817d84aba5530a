"""Convolution by im2col, as the notes describe: every receptive field becomes a column, and
the convolution is one matrix product of the weights with the columns.

Shapes: x (N, C, H, W), w (F, C, kh, kw), b (F,), out (N, F, Ho, Wo) with
``Ho = (H + 2*ph - dh*(kh - 1) - 1) // sh + 1`` (the notes' ``(W - F + 2P)/S + 1`` with
dilation). 1-D convolution is the 2-D one with H = 1.

    cols = im2col(x)              (N, C*kh*kw, Ho*Wo): one column per output position
    out  = w.reshape(F, -1) @ cols + b
    dw   = sum over n of dout_n @ cols_n^T        db = sum of dout over n, Ho, Wo
    dx   = col2im(w^T @ dout)                     (each column's gradient added back to its field)

The columns are gathered through a strided view (no Python loop over pixels or samples);
col2im adds the column gradients back with one strided add per kernel offset. Works on NumPy
and CuPy arrays. Faster versions (1x1 layers, chunked im2col with reused buffers, Winograd's
algorithm for 3x3 layers) are in ``glassnet.kernels.conv``.
"""
from __future__ import annotations

from typing import NamedTuple


from ..backend import get_array_module
from ..errors import ConfigError, ShapeError

def pair(v, name="value"):
    """(a, b) from an int or a pair of ints."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ConfigError(f"{name} must be an int or a pair of ints, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def out_size(size, kernel, stride, padding, dilation, who="conv", axis="W") -> int:
    """Output length along one axis; raises a ShapeError that shows the arithmetic."""
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    if room < 0:
        raise ShapeError(
            f"{who}: the kernel does not fit along {axis}: input {size} + 2*padding {padding} = "
            f"{size + 2 * padding} is smaller than the (dilated) kernel span "
            f"{dilation}*({kernel}-1)+1 = {span}")
    return room // stride + 1  # floored as in PyTorch: trailing rows that no window reaches are unused


def check_geometry(size, kernel, stride, padding, dilation, who, axis, exact=False) -> int:
    """Like out_size; with ``exact`` also requires (W - F + 2P) % S == 0, as the notes ask."""
    n = out_size(size, kernel, stride, padding, dilation, who, axis)
    span = dilation * (kernel - 1) + 1
    if exact and (size + 2 * padding - span) % stride:
        raise ShapeError(
            f"{who}: along {axis}, (W - F + 2P)/S + 1 = ({size} - {span} + 2*{padding})/{stride} + 1 = "
            f"{(size - span + 2 * padding) / stride + 1:g} is not an integer; the neurons do not tile "
            f"the input: change the padding or the stride")
    return n


def _windows(xp, xpad, kh, kw, Ho, Wo, stride, dilation):
    """Strided view (N, C, kh, kw, Ho, Wo) of the receptive fields of a padded input."""
    sN, sC, sH, sW = xpad.strides
    sh, sw = stride
    dh, dw = dilation
    N, C = xpad.shape[:2]
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(N, C, kh, kw, Ho, Wo), strides=(sN, sC, sH * dh, sW * dw, sH * sh, sW * sw))


def pad2d(x, padding, value=0.0):
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    xp = get_array_module(x)
    N, C, H, W = x.shape
    out = xp.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def im2col(x, kernel, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Columns (N, C*kh*kw, Ho*Wo) of x (N, C, H, W); returns (cols, (Ho, Wo)). Row c*kh*kw + i*kw + j
    of column (ho, wo) holds the padded input at (c, ho*sh + i*dh, wo*sw + j*dw)."""
    xp = get_array_module(x)
    kh, kw = kernel
    N, C, H, W = x.shape
    Ho = out_size(H, kh, stride[0], padding[0], dilation[0], "im2col", "H")
    Wo = out_size(W, kw, stride[1], padding[1], dilation[1], "im2col", "W")
    xpad = xp.ascontiguousarray(pad2d(x, padding))
    win = _windows(xp, xpad, kh, kw, Ho, Wo, stride, dilation)
    return xp.ascontiguousarray(win).reshape(N, C * kh * kw, Ho * Wo), (Ho, Wo)


def col2im(cols, x_shape, kernel, out_hw, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Adjoint of im2col: scatter-add columns (N, C*kh*kw, Ho*Wo) (or a view of them shaped
    (N, C, kh, kw, Ho, Wo)) back to (N, C, H, W)."""
    xp = get_array_module(cols)
    N, C, H, W = x_shape
    kh, kw = kernel
    Ho, Wo = out_hw
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    c6 = cols.reshape(N, C, kh, kw, Ho, Wo)
    dpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):  # one strided add per kernel offset; no loop over pixels or samples
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            dpad[:, :, r0:r0 + sh * (Ho - 1) + 1:sh, c0:c0 + sw * (Wo - 1) + 1:sw] += c6[:, :, i, j]
    if ph or pw:
        return dpad[:, :, ph:ph + H, pw:pw + W]
    return dpad


class ConvCache(NamedTuple):
    cols: object  # (N, C*kh*kw, Ho*Wo)
    w: object  # (F, C, kh, kw)
    x_shape: tuple
    out_hw: tuple
    stride: tuple
    padding: tuple
    dilation: tuple


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """out (N, F, Ho, Wo) = w (F, C, kh, kw) convolved with x (N, C, H, W) (cross-correlation,
    as in every framework) plus b (F,). ``stride``, ``padding``, ``dilation``: ints or pairs.
    Returns (out, cache)."""
    xp = get_array_module(x, w, b)
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    F_, C, kh, kw = w.shape
    if x.ndim != 4 or x.shape[1] != C:
        raise ShapeError(f"conv2d: expected x of shape (N, {C}, H, W) for weights {tuple(w.shape)}, "
                         f"got {tuple(x.shape)}")
    N = x.shape[0]
    cols, (Ho, Wo) = im2col(x, (kh, kw), stride, padding, dilation)
    out = xp.matmul(w.reshape(F_, -1), cols)  # (F, CK) @ (N, CK, P) -> (N, F, P): one batched product
    if b is not None:
        out += b.reshape(1, F_, 1)
    return out.reshape(N, F_, Ho, Wo), ConvCache(cols, w, tuple(x.shape), (Ho, Wo), stride, padding, dilation)


def conv2d_backward(dout, cache, need_dx=True, need_dw=True):
    """Returns (dx, dw, db); dx is None unless ``need_dx``, dw and db are None unless ``need_dw``."""
    xp = get_array_module(dout)
    cols, w = cache.cols, cache.w
    N, F_ = dout.shape[:2]
    d2 = dout.reshape(N, F_, cache.out_hw[0] * cache.out_hw[1])  # (N, F, P)
    dx = dw = db = None
    if need_dw:
        dw = xp.matmul(d2, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)  # sum_n dout_n @ cols_n^T
        db = d2.sum(axis=(0, 2))
    if need_dx:
        dcols = xp.matmul(w.reshape(F_, -1).T, d2)  # (CK, F) @ (N, F, P) -> (N, CK, P)
        dx = col2im(dcols, cache.x_shape, w.shape[2:], cache.out_hw, cache.stride, cache.padding, cache.dilation)
    return dx, dw, db


def conv1d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """x (N, C, L), w (F, C, k) -> out (N, F, Lo). Returns (out, cache)."""
    if x.ndim != 3 or w.ndim != 3:
        raise ShapeError(f"conv1d: expected x (N, C, L) and w (F, C, k), got {tuple(x.shape)} and "
                         f"{tuple(w.shape)}")
    out, cache = conv2d_forward(x[:, :, None, :], w[:, :, None, :], b, (1, int(stride)), (0, int(padding)),
                                (1, int(dilation)))
    return out[:, :, 0, :], cache


def conv1d_backward(dout, cache, need_dx=True, need_dw=True):
    """Returns (dx (N, C, L), dw (F, C, k), db (F,))."""
    dx, dw, db = conv2d_backward(dout[:, :, None, :], cache, need_dx, need_dw)
    return (None if dx is None else dx[:, :, 0, :]), (None if dw is None else dw[:, :, 0, :]), db


__all__ = ["conv2d_forward", "conv2d_backward", "conv1d_forward", "conv1d_backward", "im2col", "col2im",
           "out_size", "check_geometry", "pair", "pad2d", "ConvCache"]
