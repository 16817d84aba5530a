"""Max and average pooling over (N, C, H, W) (1-D pooling is the 2-D one with H = 1).

Windows of ``kernel`` taken every ``stride`` (default: the kernel, i.e. non-overlapping).
Non-overlapping windows that tile the input exactly take a fast path by reshape; other
geometries gather windows through a strided view and scatter gradients back with one strided
add per kernel offset. Max pooling sends the gradient to the first maximum of each window
(as PyTorch does).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module
from ..errors import ShapeError
from .conv import _windows, out_size


class PoolCache(NamedTuple):
    x_shape: tuple
    kernel: tuple
    stride: tuple
    out_hw: tuple
    arg: object  # max pooling: index of the maximum within each window (N, C, Ho, Wo); None for avg
    tiled: bool


def _geometry(x, kernel, stride, who):
    if x.ndim != 4:
        raise ShapeError(f"{who}: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    kh, kw = kernel
    sh, sw = stride
    Ho = out_size(x.shape[2], kh, sh, 0, 1, who, "H")
    Wo = out_size(x.shape[3], kw, sw, 0, 1, who, "W")
    tiled = (kh, kw) == (sh, sw) and Ho * kh == x.shape[2] and Wo * kw == x.shape[3]
    return Ho, Wo, tiled


def _gather(x, kernel, stride, Ho, Wo, tiled):
    """Windows as (N, C, Ho, Wo, kh*kw) (a copy)."""
    xp = get_array_module(x)
    N, C = x.shape[:2]
    kh, kw = kernel
    if tiled:
        w = x.reshape(N, C, Ho, kh, Wo, kw).transpose(0, 1, 2, 4, 3, 5)
    else:
        w = _windows(xp, xp.ascontiguousarray(x), kh, kw, Ho, Wo, stride, (1, 1)).transpose(0, 1, 4, 5, 2, 3)
    return w.reshape(N, C, Ho, Wo, kh * kw)


def _scatter(dwin, x_shape, kernel, stride, out_hw, tiled):
    """Adjoint of _gather: (N, C, Ho, Wo, kh*kw) -> (N, C, H, W), summing overlaps."""
    xp = get_array_module(dwin)
    N, C, H, W = x_shape
    kh, kw = kernel
    Ho, Wo = out_hw
    d6 = dwin.reshape(N, C, Ho, Wo, kh, kw)
    if tiled:
        return xp.ascontiguousarray(d6.transpose(0, 1, 2, 4, 3, 5)).reshape(x_shape)
    dx = xp.zeros(x_shape, dtype=dwin.dtype)
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw] += d6[:, :, :, :, i, j]
    return dx


def max_pool2d_forward(x, kernel, stride=None):
    """out (N, C, Ho, Wo): the maximum of each window. Returns (out, cache)."""
    xp = get_array_module(x)
    stride = kernel if stride is None else stride
    Ho, Wo, tiled = _geometry(x, kernel, stride, "max_pool2d")
    win = _gather(x, kernel, stride, Ho, Wo, tiled)
    arg = win.argmax(axis=-1)
    out = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    return out, PoolCache(tuple(x.shape), tuple(kernel), tuple(stride), (Ho, Wo), arg, tiled)


def max_pool2d_backward(dout, cache):
    """dx (N, C, H, W): each window's gradient goes to its (first) maximum."""
    xp = get_array_module(dout)
    K = cache.kernel[0] * cache.kernel[1]
    onehot = cache.arg[..., None] == xp.arange(K, dtype=cache.arg.dtype)
    dwin = onehot * dout[..., None]
    return _scatter(dwin, cache.x_shape, cache.kernel, cache.stride, cache.out_hw, cache.tiled)


def avg_pool2d_forward(x, kernel, stride=None):
    """out (N, C, Ho, Wo): the mean of each window. Returns (out, cache)."""
    stride = kernel if stride is None else stride
    Ho, Wo, tiled = _geometry(x, kernel, stride, "avg_pool2d")
    N, C = x.shape[:2]
    kh, kw = kernel
    if tiled:
        out = x.reshape(N, C, Ho, kh, Wo, kw).mean(axis=(3, 5))
    else:
        out = _gather(x, kernel, stride, Ho, Wo, tiled).mean(axis=-1)
    return out, PoolCache(tuple(x.shape), tuple(kernel), tuple(stride), (Ho, Wo), None, tiled)


def avg_pool2d_backward(dout, cache):
    """dx (N, C, H, W): each window's gradient spread evenly over it."""
    xp = get_array_module(dout)
    kh, kw = cache.kernel
    share = dout / (kh * kw)
    if cache.tiled:
        N, C, Ho, Wo = dout.shape
        dx = xp.broadcast_to(share.reshape(N, C, Ho, 1, Wo, 1), (N, C, Ho, kh, Wo, kw))
        return xp.ascontiguousarray(dx).reshape(cache.x_shape)
    dwin = xp.broadcast_to(share[..., None], share.shape + (kh * kw,))
    return _scatter(dwin, cache.x_shape, cache.kernel, cache.stride, cache.out_hw, False)


def global_avg_pool_forward(x):
    """(N, C, *spatial) -> (N, C): the mean over all spatial positions. Returns (out, shape)."""
    if x.ndim < 3:
        raise ShapeError(f"global_avg_pool: expected input of shape (N, C, ...spatial), got {tuple(x.shape)}")
    return x.reshape(x.shape[0], x.shape[1], -1).mean(axis=2), tuple(x.shape)


def global_avg_pool_backward(dout, x_shape):
    xp = get_array_module(dout)
    count = 1
    for s in x_shape[2:]:
        count *= s
    g = (dout / count).reshape(dout.shape + (1,) * (len(x_shape) - 2))
    return xp.ascontiguousarray(xp.broadcast_to(g, x_shape))


__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
           "global_avg_pool_forward", "global_avg_pool_backward", "PoolCache"]
