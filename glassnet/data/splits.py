"""Train/validation/test splits, k-fold cross-validation and a leakage check.

The notes: split 80/10/10 (or 60/20/20) for small data and keep validation and test tiny
fractions (98/1/1) for millions of examples; choose hyperparameters on validation, touch the
test set rarely; use cross-validation only when data is small.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["train_val_test_split", "KFold", "StratifiedKFold", "cross_validate", "find_duplicates",
           "leakage_report"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_ratios(ratios):
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) not in (2, 3) or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-9:
        raise ConfigError(f"train_val_test_split: ratios must be 2 or 3 non-negative numbers summing to 1, got {ratios}")
    return ratios


def _allocate(n, ratios):
    """Split n items into len(ratios) integer counts by the largest-remainder method."""
    raw = np.array(ratios) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts


def train_val_test_split(X, y, ratios=(0.8, 0.1, 0.1), stratify=True, seed=0):
    """Shuffle and split into (X_train, y_train), (X_val, y_val)[, (X_test, y_test)].

    With ``stratify`` each class is split separately, so every part keeps the class
    proportions to within one example per class.
    """
    ratios = _check_ratios(ratios)
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise DataError(f"train_val_test_split: X has {len(X)} rows but y has {len(y)}")
    rng = _rng(seed)
    parts = [[] for _ in ratios]
    if stratify:
        if y.ndim != 1 or y.dtype.kind not in "iub":
            raise TypeError("train_val_test_split: stratify=True needs integer class labels y of shape (N,); "
                            "pass stratify=False for regression targets")
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            start = 0
            for p, k in zip(parts, _allocate(len(idx), ratios)):
                p.append(idx[start:start + k])
                start += k
        parts = [rng.permutation(np.concatenate(p)) for p in parts]
    else:
        idx = rng.permutation(len(X))
        start = 0
        for i, k in enumerate(_allocate(len(X), ratios)):
            parts[i] = idx[start:start + k]
            start += k
    return tuple((X[p], y[p]) for p in parts)


class KFold:
    """k folds that partition the (optionally shuffled) indices; ``split(X)`` yields
    (train_idx, val_idx) pairs."""

    def __init__(self, k=5, shuffle=True, seed=0):
        if not isinstance(k, int) or k < 2:
            raise ConfigError(f"KFold: k must be an integer >= 2, got {k!r}")
        self.k, self.shuffle, self.seed = k, shuffle, seed

    def _folds(self, n, y=None):
        if n < self.k:
            raise DataError(f"{type(self).__name__}: cannot make {self.k} folds from {n} examples")
        idx = _rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        return np.array_split(idx, self.k)

    def split(self, X, y=None):
        n = len(X)
        folds = self._folds(n, None if y is None else np.asarray(y))
        for i in range(self.k):
            val = np.sort(folds[i])
            train = np.sort(np.concatenate([f for j, f in enumerate(folds) if j != i]))
            yield train, val


class StratifiedKFold(KFold):
    """k folds with each class spread evenly over the folds."""

    def _folds(self, n, y=None):
        if y is None:
            raise ConfigError("StratifiedKFold.split needs y")
        rng = _rng(self.seed)
        folds = [[] for _ in range(self.k)]
        offset = 0
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            if self.shuffle:
                idx = rng.permutation(idx)
            for j, chunk in enumerate(np.array_split(idx, self.k)):
                folds[(j + offset) % self.k].append(chunk)
            offset += len(idx) % self.k
        return [np.concatenate(f) if f else np.array([], dtype=np.int64) for f in folds]


def cross_validate(build_fn, X, y, k=5, stratify=True, seed=0):
    """k-fold cross-validation for small data.

    ``build_fn(X_train, y_train)`` returns a fitted model with ``score(X, y)`` (higher is
    better) or a callable ``(X, y) -> score``. Returns {"scores": [...], "mean", "std"}.
    """
    X, y = np.asarray(X), np.asarray(y)
    folds = (StratifiedKFold if stratify else KFold)(k=k, seed=seed)
    scores = []
    for tr, va in folds.split(X, y):
        model = build_fn(X[tr], y[tr])
        score = model.score(X[va], y[va]) if hasattr(model, "score") else model(X[va], y[va])
        scores.append(float(score))
    return {"scores": scores, "mean": float(np.mean(scores)), "std": float(np.std(scores))}


def _row_hashes(X):
    X = np.ascontiguousarray(np.asarray(X).reshape(len(X), -1))
    return [hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in X]


def find_duplicates(A, B):
    """Pairs (i, j) with A[i] identical to B[j] (exact, byte for byte)."""
    index = {}
    for j, h in enumerate(_row_hashes(B)):
        index.setdefault(h, []).append(j)
    return [(i, j) for i, h in enumerate(_row_hashes(A)) for j in index.get(h, [])]


def leakage_report(train, val=None, test=None) -> dict:
    """Count examples of validation/test that also appear in training (and val in test)."""
    Xtr = train[0] if isinstance(train, tuple) else train
    out = {}
    for name, part in (("val", val), ("test", test)):
        if part is None:
            continue
        Xp = part[0] if isinstance(part, tuple) else part
        dups = find_duplicates(Xp, Xtr)
        out[f"train_{name}_duplicates"] = len({i for i, _ in dups})
        out[f"{name}_size"] = len(Xp)
    if val is not None and test is not None:
        Xv = val[0] if isinstance(val, tuple) else val
        Xt = test[0] if isinstance(test, tuple) else test
        out["val_test_duplicates"] = len({i for i, _ in find_duplicates(Xt, Xv)})
    return out
