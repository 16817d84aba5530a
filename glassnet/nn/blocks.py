"""Ready-made blocks built from the layers: ResNet's basic and bottleneck blocks, GoogLeNet's
Inception module."""
from __future__ import annotations

import numpy as np

from .._checks import check_bool
from ..errors import ConfigError
from .containers import Concat, Parallel, Residual, Sequential
from .layers import BatchNorm2d, Conv2d, MaxPool2d, ReLU
from .layers._util import as_generator, positive_int
from .module import Module


class _ResidualUnit(Module):
    """relu(block(x) + shortcut(x)): what BasicBlock and Bottleneck share."""

    def _build(self, block, stride, dtype, rng):
        shortcut = None
        if stride != 1 or self.in_channels != self.out_channels:
            shortcut = Sequential(Conv2d(self.in_channels, self.out_channels, 1, stride=stride, bias=False, rng=rng,
                                         dtype=dtype), BatchNorm2d(self.out_channels, dtype=dtype))
        self.residual = Residual(block, shortcut)
        self.relu = ReLU()

    def forward(self, x):
        try:
            return self.relu.forward(self.residual.forward(x))
        except Exception as err:
            from .module import _annotate
            _annotate(err, f"{type(self).__name__}.residual", getattr(x, "shape", None))
            raise

    def backward(self, dout, need_input_grad=True):
        return self.residual.backward(self.relu.backward(dout), need_input_grad=need_input_grad)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class BasicBlock(_ResidualUnit):
    """ResNet basic block: y = relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)).

    The first 3x3 convolution has the given ``stride``; when the stride is not 1 or the
    channel count changes, the shortcut is a 1x1 convolution (same stride) with batch norm,
    otherwise the identity. (N, in_channels, H, W) -> (N, out_channels, ceil(H/stride), ...).
    Parameters: ``residual.block.*`` and ``residual.shortcut.*``.
    """

    def __init__(self, in_channels, out_channels, stride=1, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "BasicBlock", "in_channels")
        self.out_channels = positive_int(out_channels, "BasicBlock", "out_channels")
        self.stride = positive_int(stride, "BasicBlock", "stride")
        rng = as_generator(rng)
        block = Sequential(
            Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dtype),
            BatchNorm2d(out_channels, dtype=dtype), ReLU(),
            Conv2d(out_channels, out_channels, 3, padding=1, bias=False, rng=rng, dtype=dtype),
            BatchNorm2d(out_channels, dtype=dtype))
        self._build(block, self.stride, dtype, rng)

    def config(self):
        return {"type": "BasicBlock", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "stride": self.stride}


class Bottleneck(_ResidualUnit):
    """ResNet bottleneck block (ResNet-50 and deeper): a 1x1 convolution reduces the channels
    to ``width`` (default ``out_channels // 4``), a 3x3 convolution with the ``stride`` works
    at that width, a 1x1 convolution expands to ``out_channels``; batch norm after each, ReLU
    between, and y = relu(block(x) + shortcut(x)) with the shortcut of BasicBlock (a strided
    1x1 convolution with batch norm when the shape changes). The stride sits on the 3x3
    convolution, as in torchvision ("ResNet v1.5").
    """

    def __init__(self, in_channels, out_channels, stride=1, width=None, rng=None, dtype=np.float32):
        super().__init__()
        me = "Bottleneck"
        self.in_channels = positive_int(in_channels, me, "in_channels")
        self.out_channels = positive_int(out_channels, me, "out_channels")
        self.stride = positive_int(stride, me, "stride")
        self.width = max(self.out_channels // 4, 1) if width is None else positive_int(width, me, "width")
        rng = as_generator(rng)
        w = self.width
        block = Sequential(
            Conv2d(in_channels, w, 1, bias=False, rng=rng, dtype=dtype), BatchNorm2d(w, dtype=dtype), ReLU(),
            Conv2d(w, w, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dtype), BatchNorm2d(w, dtype=dtype),
            ReLU(),
            Conv2d(w, out_channels, 1, bias=False, rng=rng, dtype=dtype), BatchNorm2d(out_channels, dtype=dtype))
        self._build(block, self.stride, dtype, rng)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}, width={self.width}"

    def config(self):
        return {"type": "Bottleneck", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "stride": self.stride, "width": self.width}


def conv_unit(in_channels, out_channels, kernel_size, stride=1, padding=0, batch_norm=True, bias=None, rng=None,
              dtype=np.float32):
    """conv -> (batch norm) -> ReLU, the unit GoogLeNet and VGG repeat. By default the
    convolution has no bias when batch norm follows (its shift would be cancelled);
    torchvision's VGG with batch norm keeps it (``bias=True``)."""
    bias = not batch_norm if bias is None else bias
    layers = [Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias,
                     rng=rng, dtype=dtype)]
    if batch_norm:
        layers.append(BatchNorm2d(out_channels, dtype=dtype))
    layers.append(ReLU())
    return Sequential(*layers)


class Inception(Module):
    """GoogLeNet's Inception module: four branches on the same input, concatenated along the
    channels: a 1x1 convolution (``ch1x1``); a 1x1 reduction to ``ch3x3red`` then a 3x3
    convolution (``ch3x3``); a 1x1 reduction to ``ch5x5red`` then a ``kernel_5x5`` convolution
    (``ch5x5``); a 3x3 max pooling (stride 1) then a 1x1 projection (``pool_proj``). The 1x1
    reductions are what keeps the module cheap (the notes' "bottleneck"). Every convolution is
    followed by batch norm (when ``batch_norm``) and ReLU. (N, in_channels, H, W) ->
    (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W). Parameters: ``branches.0.*`` ... ``branches.3.*``.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, kernel_5x5=5,
                 batch_norm=True, rng=None, dtype=np.float32):
        super().__init__()
        me = "Inception"
        self.in_channels = positive_int(in_channels, me, "in_channels")
        widths = {n: positive_int(v, me, n) for n, v in (("ch1x1", ch1x1), ("ch3x3red", ch3x3red),
                                                         ("ch3x3", ch3x3), ("ch5x5red", ch5x5red),
                                                         ("ch5x5", ch5x5), ("pool_proj", pool_proj))}
        self.widths = widths
        self.kernel_5x5 = positive_int(kernel_5x5, me, "kernel_5x5")
        if self.kernel_5x5 % 2 == 0:
            raise ConfigError(f"{me}: kernel_5x5 must be odd (the branch keeps the size), got {self.kernel_5x5}")
        self.batch_norm = check_bool(batch_norm, "batch_norm", me)
        rng = as_generator(rng)
        unit = lambda i, o, k, p=0: conv_unit(i, o, k, padding=p, batch_norm=batch_norm, rng=rng,  # noqa: E731
                                              dtype=dtype)
        w = widths
        self.branches = Parallel(
            unit(in_channels, w["ch1x1"], 1),
            Sequential(unit(in_channels, w["ch3x3red"], 1), unit(w["ch3x3red"], w["ch3x3"], 3, 1)),
            Sequential(unit(in_channels, w["ch5x5red"], 1),
                       unit(w["ch5x5red"], w["ch5x5"], self.kernel_5x5, self.kernel_5x5 // 2)),
            Sequential(MaxPool2d(3, stride=1, padding=1), unit(in_channels, w["pool_proj"], 1)),
            merge=Concat(axis=1))
        self.out_channels = w["ch1x1"] + w["ch3x3"] + w["ch5x5"] + w["pool_proj"]

    def forward(self, x):
        return self.branches.forward(x)

    def backward(self, dout, need_input_grad=True):
        return self.branches.backward(dout, need_input_grad=need_input_grad)

    def extra_repr(self):
        return f"{self.in_channels} -> {self.out_channels}"

    def config(self):
        return {"type": "Inception", "in_channels": self.in_channels, **self.widths, "kernel_5x5": self.kernel_5x5,
                "batch_norm": self.batch_norm}
