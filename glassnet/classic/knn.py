"""k-nearest neighbours with L1 or L2 distance (the notes' first classifier), in bounded memory."""
from __future__ import annotations


import numpy as np

from .._checks import check_choice, check_int, check_number
from ._validation import check_X, check_Xy, check_fitted

__all__ = ["KNN", "KNearestNeighbors", "choose_k"]


class KNN:
    """``fit`` memorizes the training data; ``predict`` votes among the ``k`` nearest.

    Distances are fully vectorized: for L2 the expansion ``|a|^2 - 2 a.b + |b|^2`` as one
    matrix product per block of queries (clamped at 0 against rounding), for L1 by
    broadcasting over blocks of queries x blocks of training rows. Blocks are sized so that no
    temporary array exceeds ``memory_mb`` (default 64 MB): 10,000 queries against 60,000
    training images never need the 10,000 x 60,000 matrix at once. Neighbours are ordered by
    distance, then by training index (deterministic). A tie in the vote goes, with
    ``tie_break="nearest"`` (default), to the tied class whose nearest member is closest (so k=2
    with a split vote equals k=1); with ``"smallest"`` to the smallest label, as scikit-learn's
    KNeighborsClassifier does.
    """

    def __init__(self, k=1, distance="l2", memory_mb=64, tie_break="nearest"):
        self.k = check_int(k, "k", "KNN", lo=1)
        self.distance = check_choice(distance, "distance", "KNN", ("l1", "l2"))
        self.memory_mb = check_number(memory_mb, "memory_mb", "KNN", lo=0.0, lo_open=True)
        self.tie_break = check_choice(tie_break, "tie_break", "KNN", ("nearest", "smallest"))

    def fit(self, X, y):
        X, y = check_Xy(X, y, "KNN.fit")
        if self.k > len(X):
            raise ValueError(f"KNN: k={self.k} exceeds the {len(X)} training examples")
        self.classes_, self.y_ = np.unique(y, return_inverse=True)
        self.X_ = X.astype(np.float64)
        self.sq_norms_ = np.einsum("ij,ij->i", self.X_, self.X_)
        self._minus2_T = np.ascontiguousarray(-2.0 * self.X_.T)
        self.n_features_in_ = X.shape[1]
        return self

    # -- distances ------------------------------------------------------------------------------
    def _budget(self):
        return int(self.memory_mb * 2 ** 20 // 8)  # float64 values per temporary

    def _block_distances(self, Q):
        """Distances (q, n_train) from a block of queries; for L2 ``|t|^2 - 2 q.t``, which ranks
        the training rows as the distance does. Temporaries stay within the budget."""
        T = self.X_
        if self.distance == "l2":
            # |q|^2 - 2 q.t + |t|^2; the per-row constant |q|^2 does not change the ranking, so it is
            # added (and the result clamped at 0) only for the k neighbours kept
            d = Q @ self._minus2_T
            d += self.sq_norms_[None, :]
            return d
        out = np.empty((len(Q), len(T)))
        step = max(1, self._budget() // max(1, len(Q) * T.shape[1]))
        for j in range(0, len(T), step):  # blocks of training rows: (q, t, D) stays bounded
            out[:, j:j + step] = np.abs(Q[:, None, :] - T[None, j:j + step, :]).sum(axis=2)
        return out

    def _query_block(self):
        n, D = self.X_.shape
        per_query = n if self.distance == "l2" else n + D  # the (q, n) matrix, and at least one L1 row
        return max(1, self._budget() // per_query)

    def kneighbors(self, X, k=None):
        """(distances, indices) of the ``k`` nearest training examples, each (n_queries, k),
        sorted by distance, ties by training index."""
        check_fitted(self, "X_")
        k = self.k if k is None else int(k)
        if not 1 <= k <= len(self.X_):
            raise ValueError(f"KNN.kneighbors: k must lie in [1, {len(self.X_)}], got {k}")
        X = check_X(X, "KNN", self.n_features_in_).astype(np.float64)
        dist = np.empty((len(X), k))
        idx = np.empty((len(X), k), dtype=np.int64)
        step = self._query_block()
        for i in range(0, len(X), step):
            d = self._block_distances(X[i:i + step])
            if k == 1:
                part = d.argmin(axis=1)[:, None]  # the first minimum: ties already go to the lowest index
            elif k < d.shape[1]:
                part = np.argpartition(d, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(d.shape[1]), d.shape)
            pd = np.take_along_axis(d, part, axis=1)
            order = np.lexsort((part, pd), axis=1)  # by distance, then by training index
            idx[i:i + step] = np.take_along_axis(part, order, axis=1)
            dist[i:i + step] = np.take_along_axis(pd, order, axis=1)
            # rows where more training examples tie with the k-th distance than fit: argpartition
            # chose among them arbitrarily; keep the lowest indices instead
            kth = dist[i:i + step, -1:]
            if k > 1:
                for r in np.flatnonzero((d <= kth).sum(axis=1) > k):
                    c = np.flatnonzero(d[r] <= kth[r, 0])
                    o = np.lexsort((c, d[r, c]))[:k]
                    idx[i + r], dist[i + r] = c[o], d[r, c[o]]
        if self.distance == "l2":
            dist += np.einsum("ij,ij->i", X, X)[:, None]
            np.sqrt(np.maximum(dist, 0, out=dist), out=dist)
        return dist, idx

    # -- prediction ------------------------------------------------------------------------------
    def _vote(self, nbr_labels):
        n, k = nbr_labels.shape
        C = len(self.classes_)
        rows = np.arange(n)
        votes = np.zeros((n, C), dtype=np.int64)
        np.add.at(votes, (rows[:, None], nbr_labels), 1)
        if self.tie_break == "smallest":
            return votes.argmax(axis=1)
        first = np.full((n, C), k)
        for j in range(k - 1, -1, -1):  # after the loop: the rank of each class's nearest member
            first[rows, nbr_labels[:, j]] = j
        best = votes == votes.max(axis=1, keepdims=True)
        return np.where(best, first, k + 1).argmin(axis=1)

    def predict(self, X):
        """Class labels (n_queries,)."""
        _, idx = self.kneighbors(X)
        return self.classes_[self._vote(self.y_[idx])]

    def score(self, X, y):
        """Accuracy on (X, y)."""
        return float((self.predict(X) == np.asarray(y)).mean())


#: The name used before ``KNN``; kept so existing code keeps working.
KNearestNeighbors = KNN


def choose_k(X, y, ks=(1, 3, 5, 8, 10, 12, 15, 20, 50, 100), folds=5, distance="l2", seed=0, tie_break="nearest"):
    """Pick k by ``folds``-fold stratified cross-validation (the notes' example).

    Neighbours are computed once per fold for the largest k and reused for every k.
    Returns ``(best_k, {k: mean validation accuracy})``; ties go to the smaller k.
    """
    from ..data.splits import StratifiedKFold

    X, y = check_Xy(X, y, "choose_k")
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"choose_k: ks must be positive integers, got {ks!r}")
    scores = {k: [] for k in ks}
    for tr, va in StratifiedKFold(folds, seed=seed).split(X, y):
        kmax = min(ks[-1], len(tr))
        knn = KNN(kmax, distance, tie_break=tie_break).fit(X[tr], y[tr])
        _, idx = knn.kneighbors(X[va], kmax)
        labels = knn.y_[idx]
        for k in ks:
            pred = knn.classes_[knn._vote(labels[:, :min(k, kmax)])]
            scores[k].append(float((pred == y[va]).mean()))
    means = {k: float(np.mean(v)) for k, v in scores.items()}
    best = max(ks, key=lambda k: (means[k], -k))
    return best, means
