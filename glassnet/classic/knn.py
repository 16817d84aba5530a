"""k-nearest-neighbour classifier with L1 or L2 distance (the notes' first classifier)."""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module

__all__ = ["KNearestNeighbors"]


class KNearestNeighbors:
    """``fit`` memorizes the training data; ``predict`` votes among the ``k`` nearest
    training examples (ties go to the smallest label). Distances are computed in chunks
    without Python loops over examples: L2 via ``|a|^2 + |b|^2 - 2 a.b``, L1 by broadcasting."""

    def __init__(self, k=1, distance="l2", chunk=256):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"KNearestNeighbors: k must be a positive integer, got {k!r}")
        if distance not in ("l1", "l2"):
            raise ValueError(f"KNearestNeighbors: distance must be 'l1' or 'l2', got {distance!r}")
        self.k, self.distance, self.chunk = k, distance, chunk

    def fit(self, X, y):
        self.X_ = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        self.y_ = np.asarray(y).astype(np.int64)
        if self.k > len(self.X_):
            raise ValueError(f"KNearestNeighbors: k={self.k} exceeds the {len(self.X_)} training examples")
        self.n_classes_ = int(self.y_.max()) + 1
        return self

    def distances(self, X):
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        xp = get_array_module(X)
        if self.distance == "l2":
            d = (X * X).sum(1)[:, None] + (self.X_ * self.X_).sum(1)[None, :] - 2 * X @ self.X_.T
            return xp.sqrt(xp.maximum(d, 0))
        return xp.abs(X[:, None, :] - self.X_[None, :, :]).sum(axis=2)

    def predict(self, X):
        X = np.asarray(X)
        out = []
        for i in range(0, len(X), self.chunk):
            d = self.distances(X[i:i + self.chunk])
            nearest = np.argpartition(d, self.k - 1, axis=1)[:, :self.k] if self.k < d.shape[1] else \
                np.argsort(d, axis=1)[:, :self.k]
            votes = np.zeros((len(d), self.n_classes_))
            np.add.at(votes, (np.arange(len(d))[:, None], self.y_[nearest]), 1)
            out.append(votes.argmax(axis=1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def score(self, X, y):
        return float((self.predict(X) == np.asarray(y)).mean())
