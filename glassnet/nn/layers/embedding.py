"""Embedding: a lookup table from integer ids to learned vectors."""
from __future__ import annotations

import numpy as np

from ..._checks import describe
from ...backend import get_array_module
from ...errors import ShapeError
from .. import init as initializers
from ..module import Module, Parameter
from ._util import as_generator, check_same_device, fill, positive_int


def _scatter_add(xp, target, idx, values):
    """target[idx] += values with repeated indices accumulating (NumPy and CuPy: ``add.at``)."""
    xp.add.at(target, idx, values)


class Embedding(Module):
    """ids (N, ...) of integers in [0, num_embeddings) -> W[ids] of shape (N, ..., embedding_dim).

    W (num_embeddings, embedding_dim) starts N(0, 1) as in PyTorch. Float arrays holding whole
    numbers are accepted (the Trainer converts data to the model's dtype). Backward adds the
    gradient rows into W.grad (repeated ids accumulate) and returns None: ids have no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, init="normal", rng=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings = positive_int(num_embeddings, "Embedding", "num_embeddings")
        self.embedding_dim = positive_int(embedding_dim, "Embedding", "embedding_dim")
        self.init = init
        initializers.get(init)
        self.W = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype), decay=True)
        self.init_parameters(as_generator(rng))

    def init_parameters(self, rng):
        fill(self.W, initializers.get(self.init)(self.W.shape, rng=rng, dtype=self.W.dtype))

    def forward(self, ids):
        who = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        if not hasattr(ids, "dtype") or ids.dtype.kind not in "iuf":
            raise TypeError(f"{who}: expected an array of integer ids, got {describe(ids)}")
        check_same_device(ids, self, who)
        xp = get_array_module(ids)
        if ids.dtype.kind == "f":
            if not bool(xp.all(xp.isfinite(ids))) or not bool(xp.all(ids == xp.round(ids))):
                raise TypeError(f"{who}: ids given as floats must be whole numbers, got non-integral or "
                                f"non-finite values in {describe(ids)}")
            ids = ids.astype(np.int64)
        if ids.ndim < 1:
            raise ShapeError(f"{who}: expected ids of shape (N, ...), got {describe(ids)}")
        if ids.size:
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= self.num_embeddings:
                raise IndexError(f"{who}: ids must lie in [0, {self.num_embeddings - 1}], got values from "
                                 f"{lo} to {hi}")
        self._save(ids)
        return self.W.data[ids]

    def backward(self, dout):
        ids = self._pop()
        want = tuple(ids.shape) + (self.embedding_dim,)
        if tuple(dout.shape) != want:
            raise ShapeError(f"Embedding.backward: upstream gradient must have shape {want}, got {describe(dout)}")
        if self.W.requires_grad:
            xp = get_array_module(dout)
            _scatter_add(xp, self.W.grad, ids.reshape(-1), dout.reshape(-1, self.embedding_dim))
        return None

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def config(self):
        return {"type": "Embedding", "num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "init": self.init}
