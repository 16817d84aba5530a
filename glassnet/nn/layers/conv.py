"""Convolution layers: Conv2d on (N, C, H, W) and Conv1d on (N, C, L)."""
from __future__ import annotations

import numpy as np

from ... import kernels
from ..._checks import check_float_array, check_int_pair, describe
from ...errors import ConfigError, ShapeError
from ...functional.conv import out_size
from ...kernels.workspace import Workspace
from .. import init as initializers
from ..module import Module, Parameter
from ._util import accumulate, as_generator, check_dout, check_values, fill, positive_int


class _ConvNd(Module):
    _dims = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, init="he", rng=None, dtype=np.float32):
        super().__init__()
        me = type(self).__name__
        self.in_channels = positive_int(in_channels, me, "in_channels")
        self.out_channels = positive_int(out_channels, me, "out_channels")
        if self._dims == 1:
            for name, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding),
                            ("dilation", dilation)):
                if isinstance(v, (tuple, list)):
                    raise ConfigError(f"{me}: {name} must be an int, got {v!r}")
            kernel_size, stride, padding, dilation = (1, kernel_size), (1, stride), (0, padding), (1, dilation)
        self._k = check_int_pair(kernel_size, "kernel_size", me, lo=1)
        self._s = check_int_pair(stride, "stride", me, lo=1)
        self._p = check_int_pair(padding, "padding", me, lo=0)
        self._d = check_int_pair(dilation, "dilation", me, lo=1)
        self.init = init
        initializers.get(init)
        shape = (self.out_channels, self.in_channels) + (self._k if self._dims == 2 else self._k[1:])
        self.W = Parameter(np.empty(shape, dtype=dtype), decay=True)
        self.b = Parameter(np.zeros(self.out_channels, dtype=dtype), decay=False) if bias else None
        self.init_parameters(as_generator(rng))
        object.__setattr__(self, "_workspace", Workspace())  # im2col columns, reused step to step

    def drop_cache(self):
        super().drop_cache()
        self._workspace.clear()

    def init_parameters(self, rng):
        fill(self.W, initializers.get(self.init)(self.W.shape, rng=rng, dtype=self.W.dtype))
        if self.b is not None:
            self.b.data[...] = 0

    def _arg(self, pair_):
        return pair_ if self._dims == 2 else pair_[1]

    @property
    def kernel_size(self):
        return self._arg(self._k)

    @property
    def stride(self):
        return self._arg(self._s)

    @property
    def padding(self):
        return self._arg(self._p)

    @property
    def dilation(self):
        return self._arg(self._d)

    @property
    def _who(self):
        return f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, kernel {self.kernel_size})"

    def output_shape(self, input_shape):
        """Per-example output shape for a per-example input shape (C, H, W) or (C, L)."""
        spatial = tuple(input_shape[1:])
        if self._dims == 1:
            spatial = (1,) + spatial
        axes = ("H", "W") if self._dims == 2 else ("-", "L")
        out = [out_size(spatial[a], self._k[a], self._s[a], self._p[a], self._d[a], self._who, axes[a])
               for a in range(2)]
        return (self.out_channels,) + (tuple(out) if self._dims == 2 else (out[1],))

    def forward(self, x):
        who = self._who
        check_float_array(x, who)
        layout = "(N, C, H, W)" if self._dims == 2 else "(N, C, L)"
        if x.ndim != self._dims + 2 or x.shape[1] != self.in_channels:
            raise ShapeError(f"{who}: expected input of shape {layout.replace('C', str(self.in_channels))}, "
                             f"got {describe(x)}")
        self.output_shape(x.shape[1:])  # geometry errors show the arithmetic
        check_values(x, self, who)
        b = None if self.b is None else self.b.data
        x4, w4 = (x, self.W.data) if self._dims == 2 else (x[:, :, None, :], self.W.data[:, :, None, :])
        out, cache = kernels.forward("conv2d", x4, w4, b, self._s, self._p, self._d, workspace=self._workspace)
        out = out if self._dims == 2 else out[:, :, 0, :]
        self._save((cache, tuple(out.shape)))
        return out

    def backward(self, dout, need_input_grad=True):
        cache, out_shape = self._pop()
        check_dout(dout, out_shape, self._who)
        need_w = self.W.requires_grad or (self.b is not None and self.b.requires_grad)
        d4 = dout if self._dims == 2 else dout[:, :, None, :]
        dx, dW, db = kernels.backward("conv2d", d4, cache, need_dx=need_input_grad, need_dw=need_w)
        if self._dims == 1:
            dx = None if dx is None else dx[:, :, 0, :]
            dW = None if dW is None else dW[:, :, 0, :]
        accumulate(self.W, dW)
        accumulate(self.b, db)
        return dx

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, bias={self.b is not None}, init={self.init!r}")

    def config(self):
        if callable(self.init):
            raise TypeError(f"{type(self).__name__} with a callable init cannot be saved as a config")
        conv = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731 (JSON has no tuples)
        return {"type": type(self).__name__, "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": conv(self.kernel_size), "stride": conv(self.stride), "padding": conv(self.padding),
                "dilation": conv(self.dilation), "bias": self.b is not None, "init": self.init}


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation): ``functional.conv2d_forward``/``conv2d_backward`` (im2col),
    or a faster kernel from ``glassnet.kernels.conv`` where one applies.

    On the CPU with Numba, a 3x3 stride-1 layer with 16+ channels and outputs of 12x12 or more
    runs by Winograd's algorithm (float32 results within ~1e-5 of the largest output instead of
    ~1e-6); ``glassnet.kernels.conv.ALGORITHM = "im2col"`` keeps the exact products everywhere.

    Shapes: x (N, in_channels, H, W), W (out_channels, in_channels, kh, kw), b (out_channels,),
    y (N, out_channels, Ho, Wo) with Ho = (H + 2P - D*(kh-1) - 1) // S + 1 (the notes'
    (W - F + 2P)/S + 1 with dilation D). ``kernel_size``, ``stride``, ``padding`` and
    ``dilation`` are ints or (h, w) pairs. Weights use PyTorch's layout, so ``W`` copies across.
    """

    _dims = 2


class Conv1d(_ConvNd):
    """1-D convolution: x (N, in_channels, L), W (out_channels, in_channels, k), y (N, out_channels, Lo)
    with Lo = (L + 2P - D*(k-1) - 1) // S + 1. Same arguments as Conv2d, as ints."""

    _dims = 1
