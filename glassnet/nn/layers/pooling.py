"""Pooling layers: MaxPool2d/AvgPool2d on (N, C, H, W), MaxPool1d/AvgPool1d on (N, C, L),
and GlobalAvgPool over all spatial positions."""
from __future__ import annotations

from ... import functional as F
from ... import kernels
from ..._checks import check_float_array, check_int_pair, describe
from ...backend import get_array_module
from ...errors import ConfigError, ShapeError
from ..module import Module
from ._util import check_dout


class _Pool(Module):
    _dims = 2
    _max = True
    has_kinks = True

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        me = type(self).__name__
        if self._dims == 1:
            for name, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding)):
                if isinstance(v, (tuple, list)):
                    raise ConfigError(f"{me}: {name} must be an int, got {v!r}")
            self._k = (1, check_int_pair(kernel_size, "kernel_size", me, lo=1)[0])
            self._s = self._k if stride is None else (1, check_int_pair(stride, "stride", me, lo=1)[0])
            self._p = (0, check_int_pair(padding, "padding", me, lo=0)[0])
        else:
            self._k = check_int_pair(kernel_size, "kernel_size", me, lo=1)
            self._s = self._k if stride is None else check_int_pair(stride, "stride", me, lo=1)
            self._p = check_int_pair(padding, "padding", me, lo=0)
        if any(p > k // 2 for p, k in zip(self._p, self._k)):
            raise ConfigError(f"{me}: padding must be at most half the kernel size (as in PyTorch), got "
                              f"padding={self.padding} for kernel_size={self.kernel_size}")

    @property
    def kernel_size(self):
        return self._k if self._dims == 2 else self._k[1]

    @property
    def stride(self):
        return self._s if self._dims == 2 else self._s[1]

    @property
    def padding(self):
        return self._p if self._dims == 2 else self._p[1]

    def forward(self, x):
        who = f"{type(self).__name__}({self.kernel_size}, stride={self.stride})"
        check_float_array(x, who)
        if x.ndim != self._dims + 2:
            layout = "(N, C, H, W)" if self._dims == 2 else "(N, C, L)"
            raise ShapeError(f"{who}: expected input of shape {layout}, got {describe(x)}")
        x4 = x if self._dims == 2 else x[:, :, None, :]
        if any(self._p):  # padded with -inf for max (never chosen) and zeros for the mean (PyTorch's default)
            xp = get_array_module(x4)
            (ph, pw) = self._p
            x4 = xp.pad(x4, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-xp.inf if self._max else 0)
        out, cache = kernels.forward(self._op, x4, self._k, self._s, who=who)
        out = out if self._dims == 2 else out[:, :, 0, :]
        self._save((cache, out.shape))
        return out

    @property
    def _op(self):
        return "max_pool2d" if self._max else "avg_pool2d"

    def backward(self, dout):
        cache, shape = self._pop()
        check_dout(dout, shape, type(self).__name__)
        d4 = dout if self._dims == 2 else dout[:, :, None, :]
        dx = kernels.backward(self._op, d4, cache)
        if any(self._p):
            (ph, pw) = self._p
            dx = dx[:, :, ph:dx.shape[2] - ph, pw:dx.shape[3] - pw]
        return dx if self._dims == 2 else dx[:, :, 0, :]

    def extra_repr(self):
        pad = f", padding={self.padding}" if any(self._p) else ""
        return f"kernel_size={self.kernel_size}, stride={self.stride}{pad}"

    def config(self):
        conv = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
        config = {"type": type(self).__name__, "kernel_size": conv(self.kernel_size), "stride": conv(self.stride)}
        if any(self._p):
            config["padding"] = conv(self.padding)
        return config


class MaxPool2d(_Pool):
    """Maximum over kh x kw windows every (sh, sw) (stride defaults to the kernel):
    (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2 ph - kh) // sh + 1. The gradient flows to each
    window's (first) maximum. ``padding`` (at most half the kernel) adds -inf borders, as in
    PyTorch."""


class AvgPool2d(_Pool):
    """Mean over kh x kw windows every (sh, sw): (N, C, H, W) -> (N, C, Ho, Wo). ``padding``
    adds zero borders that count in the mean (PyTorch's default, ``count_include_pad=True``)."""

    _max = False
    has_kinks = False


class MaxPool1d(_Pool):
    """Maximum over windows of k every s: (N, C, L) -> (N, C, (L - k) // s + 1)."""

    _dims = 1


class AvgPool1d(_Pool):
    """Mean over windows of k every s: (N, C, L) -> (N, C, (L - k) // s + 1)."""

    _dims = 1
    _max = False
    has_kinks = False


class GlobalAvgPool(Module):
    """Mean over all spatial positions: (N, C, H, W) or (N, C, L) -> (N, C)."""

    def forward(self, x):
        check_float_array(x, "GlobalAvgPool")
        if x.ndim < 3:
            raise ShapeError(f"GlobalAvgPool: expected input of shape (N, C, H, W) or (N, C, L), got {describe(x)}")
        out, shape = F.global_avg_pool_forward(x)
        self._save(shape)
        return out

    def backward(self, dout):
        shape = self._pop()
        check_dout(dout, shape[:2], "GlobalAvgPool")
        return F.global_avg_pool_backward(dout, shape)

    def config(self):
        return {"type": "GlobalAvgPool"}
