"""kNN against scikit-learn (skipped without it) and a naive loop."""
import numpy as np
import pytest

from glassnet.classic import KNearestNeighbors


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_knn_matches_naive_loop(distance):
    rng = np.random.default_rng(0)
    Xtr, ytr = rng.standard_normal((40, 3)), rng.integers(0, 3, 40)
    Xte = rng.standard_normal((15, 3))
    knn = KNearestNeighbors(1, distance).fit(Xtr, ytr)
    for x, pred in zip(Xte, knn.predict(Xte)):
        d = np.abs(Xtr - x).sum(1) if distance == "l1" else np.sqrt(((Xtr - x) ** 2).sum(1))
        assert pred == ytr[np.argmin(d)]


def test_knn_matches_sklearn():
    neighbors = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(1)
    Xtr, ytr = rng.standard_normal((200, 5)), rng.integers(0, 4, 200)
    Xte = rng.standard_normal((50, 5))
    ours = KNearestNeighbors(7).fit(Xtr, ytr).predict(Xte)
    theirs = neighbors.KNeighborsClassifier(7).fit(Xtr, ytr).predict(Xte)
    assert (ours == theirs).mean() >= 0.96  # ties may be broken differently


def test_knn_bad_settings():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        KNearestNeighbors(0)
    with pytest.raises(ValueError, match="exceeds the 3 training examples"):
        KNearestNeighbors(5).fit(np.zeros((3, 2)), [0, 1, 0])
