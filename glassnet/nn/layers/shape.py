"""Shape-only layers: Flatten, Identity and Reshape."""
from __future__ import annotations

import math

from ... import functional as F
from ..._checks import check_ndim
from ...errors import ConfigError, ShapeError
from ..module import Module
from ._util import check_dout


class Flatten(Module):
    """(N, d1, ..., dk) -> (N, d1*...*dk)."""

    def forward(self, x):
        check_ndim(x, "Flatten", tuple(range(1, 33)))
        out, shape = F.flatten_forward(x)
        self._save((shape, out.shape))
        return out

    def backward(self, dout):
        shape, out_shape = self._pop()
        check_dout(dout, out_shape, "Flatten")
        return F.flatten_backward(dout, shape)

    def config(self):
        return {"type": "Flatten"}


class Identity(Module):
    """y = x."""

    def forward(self, x):
        self._save(True)
        return x

    def backward(self, dout):
        self._pop()
        return dout

    def config(self):
        return {"type": "Identity"}


class Reshape(Module):
    """(N, ...) -> (N, *shape): reshape every example, e.g. ``Reshape(40, 1)`` turns a batch
    of 40-sample signals into sequences for an RNN, ``Reshape(1, 28, 28)`` rows into images."""

    def __init__(self, *dims, shape=None):
        super().__init__()
        if shape is not None and dims:
            raise TypeError("Reshape: give the shape either as arguments or as shape=, not both")
        shape = dims if shape is None else (tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not shape or any(isinstance(s, bool) or not isinstance(s, int) or (s < 1 and s != -1) for s in shape) \
                or list(shape).count(-1) > 1:
            raise ConfigError(f"Reshape: expected positive ints (at most one -1) for the per-example shape, "
                             f"got {shape!r}")
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x):
        n_in = math.prod(x.shape[1:]) if x.ndim else 0
        known = math.prod(s for s in self.shape if s != -1)
        if x.ndim < 1 or (-1 not in self.shape and n_in != known) or (-1 in self.shape and n_in % known):
            raise ShapeError(f"Reshape{self.shape}: cannot reshape input of shape {tuple(x.shape)} "
                             f"({n_in} values per example) to (N, {', '.join(map(str, self.shape))})")
        self._save(tuple(x.shape))
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dout):
        shape = self._pop()
        return dout.reshape(shape)

    def extra_repr(self):
        return ", ".join(map(str, self.shape))

    def config(self):
        return {"type": "Reshape", "shape": list(self.shape)}
