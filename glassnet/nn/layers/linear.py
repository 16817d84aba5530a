"""Fully connected layer."""
from __future__ import annotations

import numpy as np

from ... import functional as F
from .. import init as initializers
from ..module import Module, Parameter
from ._util import accumulate, as_generator, check_dout, check_features, fill, positive_int


class Linear(Module):
    """y = x.reshape(N, -1) @ W + b.

    Shapes: x (N, in_features) (or (N, ...) with in_features trailing values), W
    (in_features, out_features), b (out_features,), y (N, out_features). ``init`` names an
    initializer of ``glassnet.nn.init`` (default ``"he"``) or is a callable; biases start at 0
    and are exempt from weight decay.
    """

    def __init__(self, in_features, out_features, bias=True, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "Linear", "in_features")
        self.out_features = positive_int(out_features, "Linear", "out_features")
        self.init = init
        initializers.get(init)  # fail early on an unknown name
        self.W = Parameter(np.empty((self.in_features, self.out_features), dtype=dtype), decay=True)
        self.b = Parameter(np.zeros(self.out_features, dtype=dtype), decay=False) if bias else None
        self.init_parameters(as_generator(rng))

    def init_parameters(self, rng):
        w = initializers.get(self.init)(self.W.shape, rng=rng, dtype=self.W.dtype)
        fill(self.W, w)
        if self.b is not None:
            self.b.data[...] = 0

    @property
    def _who(self):
        return f"Linear({self.in_features} -> {self.out_features})"

    def forward(self, x):
        check_features(self, x, self.in_features, self._who)
        out, cache = F.linear_forward(x, self.W.data, None if self.b is None else self.b.data)
        self._save(cache)
        return out

    def backward(self, dout, need_input_grad=True):
        cache = self._pop()
        check_dout(dout, (cache[0].shape[0], self.out_features), self._who)
        W, b = self.W, self.b
        need_dW = W.requires_grad or (b is not None and b.requires_grad)
        dx, dW, db = F.linear_backward(dout, cache, need_dW=need_dW, need_dx=need_input_grad)
        accumulate(W, dW)
        accumulate(b, db)
        return dx

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.b is not None}, init={self.init!r}"

    def config(self):
        if callable(self.init):
            raise TypeError("Linear with a callable init cannot be saved as a config; use an init name")
        return {"type": "Linear", "in_features": self.in_features, "out_features": self.out_features,
                "bias": self.b is not None, "init": self.init}
