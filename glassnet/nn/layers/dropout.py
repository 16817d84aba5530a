"""Inverted dropout layer."""
from __future__ import annotations


from ... import functional as F
from ..._checks import check_float_array, check_number
from ..module import Module
from ._util import check_dout


class Dropout(Module):
    """Drops each unit with probability ``p`` in training and scales the rest by 1/(1-p).

    Evaluation mode is the identity. The mask comes from this layer's numpy Generator
    ``rng`` (the Trainer reseeds it from its own seed so runs are reproducible).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = check_number(p, "p", "Dropout", lo=0.0, hi=1.0, note="the probability of dropping a unit")
        self.register_generator("rng", rng)

    def forward(self, x):
        check_float_array(x, "Dropout")
        out, mask = F.dropout_forward(x, self.p, self.rng, train=self.training)
        self._save((mask, x.shape))
        return out

    def backward(self, dout):
        mask, shape = self._pop()
        check_dout(dout, shape, "Dropout")
        return F.dropout_backward(dout, mask)

    def extra_repr(self):
        return f"p={self.p}"

    def config(self):
        return {"type": "Dropout", "p": self.p}
