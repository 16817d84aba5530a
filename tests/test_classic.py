"""Classic baselines: kNN (against a naive double loop and scikit-learn), linear SVM and softmax."""
import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet.classic import KNN, KNearestNeighbors, LinearSoftmax, LinearSVM, choose_k
from glassnet.errors import NotFittedError


def naive_distances(A, B, distance):
    out = np.zeros((len(A), len(B)))
    for i in range(len(A)):
        for j in range(len(B)):
            diff = A[i] - B[j]
            out[i, j] = np.abs(diff).sum() if distance == "l1" else np.sqrt((diff * diff).sum())
    return out


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_knn_distances_and_neighbours_match_a_double_loop(distance):
    rng = np.random.default_rng(0)
    Xtr, ytr = rng.standard_normal((40, 3)), rng.integers(0, 3, 40)
    Xte = rng.standard_normal((15, 3))
    knn = KNN(4, distance).fit(Xtr, ytr)
    d, idx = knn.kneighbors(Xte)
    ref = naive_distances(Xte, Xtr, distance)
    for r in range(len(Xte)):
        want = sorted(range(len(Xtr)), key=lambda j: (ref[r, j], j))[:4]
        assert idx[r].tolist() == want
        np.testing.assert_allclose(d[r], ref[r, want], rtol=1e-10, atol=1e-12)
    assert (KNN(1, distance).fit(Xtr, ytr).predict(Xte) == ytr[ref.argmin(axis=1)]).all()


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_k1_on_the_training_set_is_perfect(distance):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((300, 6)), rng.integers(0, 5, 300)
    assert KNN(1, distance).fit(X, y).score(X, y) == 1.0


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_chunked_equals_unchunked_exactly(distance):
    rng = np.random.default_rng(2)
    Xtr, ytr = rng.standard_normal((500, 8)), rng.integers(0, 4, 500)
    Xte = rng.standard_normal((120, 8))
    big = KNN(5, distance, memory_mb=512).fit(Xtr, ytr)
    tiny = KNN(5, distance, memory_mb=0.01).fit(Xtr, ytr)  # blocks of a few queries and training rows
    assert tiny._query_block() < 10
    for a, b in zip(big.kneighbors(Xte), tiny.kneighbors(Xte)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(big.predict(Xte), tiny.predict(Xte))


def test_ties_in_distance_go_to_the_lowest_training_index():
    Xtr = np.array([[1.0], [-1.0], [1.0], [-1.0], [3.0]])
    knn = KNN(3).fit(Xtr, [0, 1, 2, 3, 4])
    _, idx = knn.kneighbors(np.array([[0.0]]))
    assert idx.tolist() == [[0, 1, 2]]


def test_vote_ties():
    Xtr = np.array([[0.0], [1.0], [-2.0]])
    y = np.array([5, 2, 9])
    q = np.array([[0.1]])
    assert KNN(2).fit(Xtr, y).predict(q)[0] == 5            # the nearest member's class
    assert KNN(2, tie_break="smallest").fit(Xtr, y).predict(q)[0] == 2


def test_memory_of_a_large_query_stays_bounded():
    rng = np.random.default_rng(3)
    Xtr = rng.standard_normal((20_000, 4))
    ytr = rng.integers(0, 10, 20_000)
    Xte = rng.standard_normal((10_000, 4))
    knn = KNN(3, memory_mb=16).fit(Xtr, ytr)
    tracemalloc.start()
    pred = knn.predict(Xte)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full_matrix = 10_000 * 20_000 * 8  # 1.6 GB
    assert len(pred) == 10_000
    assert peak < 100 * 2 ** 20 < full_matrix / 10


def test_knn_matches_sklearn_exactly_with_its_tie_break():
    neighbors = pytest.importorskip("sklearn.neighbors")
    rng = np.random.default_rng(1)
    Xtr, ytr = rng.standard_normal((200, 5)), rng.integers(0, 4, 200)
    Xte = rng.standard_normal((50, 5))
    for distance, metric in (("l2", "euclidean"), ("l1", "manhattan")):
        ours = KNN(7, distance, tie_break="smallest").fit(Xtr, ytr)
        theirs = neighbors.KNeighborsClassifier(7, metric=metric).fit(Xtr, ytr)
        np.testing.assert_array_equal(ours.predict(Xte), theirs.predict(Xte))
        d, i = theirs.kneighbors(Xte)
        np.testing.assert_allclose(ours.kneighbors(Xte)[0], d, rtol=1e-10)
        np.testing.assert_array_equal(ours.kneighbors(Xte)[1], i)


def test_choose_k_picks_a_larger_k_on_noisy_labels():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((400, 2))
    y = (X[:, 0] > 0).astype(int)
    flip = rng.random(400) < 0.2
    y[flip] = 1 - y[flip]
    best, scores = choose_k(X, y, ks=(1, 5, 15), folds=5)
    assert set(scores) == {1, 5, 15}
    assert best in (5, 15) and scores[best] > scores[1] + 0.05


def test_knn_errors():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        KNN(0)
    with pytest.raises(ValueError, match="exceeds the 3 training examples"):
        KNN(5).fit(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        KNN().predict(np.zeros((1, 2)))
    knn = KNN().fit(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match="X has 3 features, but KNN is expecting 2 features as input"):
        knn.predict(np.zeros((1, 3)))
    with pytest.raises(gn.NonFiniteError, match="NaN"):
        knn.predict(np.array([[np.nan, 0.0]]))
    assert KNearestNeighbors is KNN


# ------------------------------------------------------------------------------------------ linear
def _digits():
    pytest.importorskip("sklearn")
    d = gn.data.load_digits()
    (Xtr, ytr), (Xte, yte) = gn.data.train_val_test_split(d.X, d.y, ratios=(0.8, 0.2), seed=0)
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
    return (Xtr - mu) / sd, ytr, (Xte - mu) / sd, yte


@pytest.mark.parametrize("cls", [LinearSVM, LinearSoftmax])
def test_linear_classifiers_reach_94_percent_on_digits(cls):
    Xtr, ytr, Xte, yte = _digits()
    m = cls(random_state=0).fit(Xtr, ytr)
    assert m.score(Xte, yte) >= 0.94
    assert m.templates((8, 8)).shape == (10, 8, 8)
    if cls is LinearSoftmax:
        p = m.predict_proba(Xte)
        np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
        assert (m.classes_[p.argmax(1)] == m.predict(Xte)).all()
    else:
        assert not hasattr(m, "predict_proba")


@pytest.mark.parametrize("cls", [LinearSVM, LinearSoftmax])
@pytest.mark.parametrize("bias_trick", [False, True])
def test_linear_objective_gradients(cls, bias_trick):
    """The full objective (data loss + 0.5 reg ||W||^2) against centered differences."""
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    m = cls(reg=0.1, epochs=2, bias_trick=bias_trick, random_state=0).fit(X, y)
    m.model_.W.data[...] = rng.standard_normal(m.model_.W.shape)
    loss, dW, db = m.loss_and_grad(X, y)
    params = [(m.model_.W.data, dW)] + ([] if bias_trick else [(m.model_.b.data, db)])
    for arr, grad in params:
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + 1e-6
            fp = m.loss_and_grad(X, y)[0]
            arr[idx] = old - 1e-6
            fm = m.loss_and_grad(X, y)[0]
            arr[idx] = old
            num[idx] = (fp - fm) / 2e-6
        rel = np.abs(num - grad) / np.maximum(np.abs(num) + np.abs(grad), 1e-12)
        assert rel.max() < (1e-5 if cls is LinearSVM else 1e-7), rel.max()
    assert db is None if bias_trick else db.shape == (3,)


def test_linear_string_labels_and_errors():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((60, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    m = LinearSoftmax(random_state=0).fit(X, y)
    assert set(m.predict(X)) <= {"pos", "neg"} and m.score(X, y) > 0.9
    with pytest.raises(ValueError, match="at least 2 classes"):
        LinearSVM().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="solver must be one of"):
        LinearSVM(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        LinearSVM(epochs=0).fit(X, y)
    with pytest.raises(NotFittedError):
        LinearSVM().predict(X)
