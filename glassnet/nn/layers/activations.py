"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, Softmax and Maxout."""
from __future__ import annotations


import numpy as np

from ... import functional as F
from ... import kernels
from ..._checks import check_float_array, check_number
from .. import init as initializers
from ..module import Module, Parameter
from ._util import accumulate, as_generator, check_dout, check_features, fill, positive_int


class _Elementwise(Module):
    """An activation applied elementwise: output shape = input shape. ``op`` names the operation
    in ``glassnet.functional`` (its reference) and ``glassnet.kernels`` (its faster versions)."""

    op = ""

    def _args(self):
        return ()

    def forward(self, x):
        check_float_array(x, type(self).__name__)
        out, cache = kernels.forward(self.op, x, *self._args())
        self._save((cache, x.shape))
        return out

    def backward(self, dout):
        cache, shape = self._pop()
        check_dout(dout, shape, type(self).__name__)
        return kernels.backward(self.op, dout, cache)

    def config(self):
        return {"type": type(self).__name__}


class ReLU(_Elementwise):
    """y = max(0, x) (subgradient 0 at x = 0)."""
    has_kinks = True
    op = "relu"


class Sigmoid(_Elementwise):
    """y = 1 / (1 + exp(-x)), computed without overflow."""
    op = "sigmoid"


class Tanh(_Elementwise):
    """y = tanh(x)."""
    op = "tanh"


class LeakyReLU(_Elementwise):
    """y = x if x > 0 else alpha * x."""
    has_kinks = True

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = check_number(alpha, "alpha", "LeakyReLU", lo=0.0)

    op = "leaky_relu"

    def _args(self):
        return (self.alpha,)

    def extra_repr(self):
        return f"alpha={self.alpha}"

    def config(self):
        return {"type": "LeakyReLU", "alpha": self.alpha}


class Softmax(_Elementwise):
    """Softmax over the last axis (for probabilities; train with SoftmaxCrossEntropy on scores)."""

    op = "softmax"

    def _args(self):
        return (-1,)


class Maxout(Module):
    """y_j = max_k (x @ W + b)[j * pieces + k], k < pieces (Goodfellow et al.).

    Shapes: x (N, in_features), W (in_features, out_features * pieces), b (out_features *
    pieces,), y (N, out_features).
    """
    has_kinks = True

    def __init__(self, in_features, out_features, pieces=2, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "Maxout", "in_features")
        self.out_features = positive_int(out_features, "Maxout", "out_features")
        self.pieces = positive_int(pieces, "Maxout", "pieces")
        self.init = init
        initializers.get(init)
        width = self.out_features * self.pieces
        self.W = Parameter(np.empty((self.in_features, width), dtype=dtype), decay=True)
        self.b = Parameter(np.zeros(width, dtype=dtype), decay=False)
        self.init_parameters(as_generator(rng))

    def init_parameters(self, rng):
        fill(self.W, initializers.get(self.init)(self.W.shape, rng=rng, dtype=self.W.dtype))
        self.b.data[...] = 0

    def forward(self, x):
        who = f"Maxout({self.in_features} -> {self.out_features}, pieces={self.pieces})"
        check_features(self, x, self.in_features, who)
        out, cache = F.maxout_forward(x, self.W.data, self.b.data, self.pieces)
        self._save(cache)
        return out

    def backward(self, dout):
        cache = self._pop()
        check_dout(dout, (cache[0].shape[0], self.out_features), "Maxout")
        dx, dW, db = F.maxout_backward(dout, cache)
        accumulate(self.W, dW)
        accumulate(self.b, db)
        return dx

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, pieces={self.pieces}"

    def config(self):
        return {"type": "Maxout", "in_features": self.in_features, "out_features": self.out_features,
                "pieces": self.pieces, "init": self.init}
