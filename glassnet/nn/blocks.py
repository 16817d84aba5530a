"""Ready-made blocks built from the layers: the ResNet basic block."""
from __future__ import annotations

import numpy as np

from .containers import Residual, Sequential
from .layers import BatchNorm2d, Conv2d, ReLU
from .layers._util import as_generator, positive_int
from .module import Module


class BasicBlock(Module):
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
        shortcut = None
        if stride != 1 or in_channels != out_channels:
            shortcut = Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, rng=rng, dtype=dtype),
                                  BatchNorm2d(out_channels, dtype=dtype))
        self.residual = Residual(block, shortcut)
        self.relu = ReLU()

    def forward(self, x):
        try:
            return self.relu.forward(self.residual.forward(x))
        except Exception as err:
            from .module import _annotate
            _annotate(err, "BasicBlock.residual", getattr(x, "shape", None))
            raise

    def backward(self, dout, need_input_grad=True):
        return self.residual.backward(self.relu.backward(dout), need_input_grad=need_input_grad)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"

    def config(self):
        return {"type": "BasicBlock", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "stride": self.stride}
