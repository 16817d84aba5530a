"""Shape-only layers: Flatten and Identity."""
from __future__ import annotations

from ... import functional as F
from ..._checks import check_ndim
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
