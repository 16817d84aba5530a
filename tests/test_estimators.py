"""MLPClassifier / MLPRegressor: the scikit-learn contract, checked by scikit-learn itself where
it is installed, and by plain tests everywhere."""
import pickle
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.estimators import MLPClassifier, MLPRegressor


def blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0], [3, 3], [0, 4]])
    y = rng.integers(0, 3, n)
    return centers[y] + rng.standard_normal((n, 2)) * 0.7, y


@pytest.mark.parametrize("est", [
    MLPClassifier(max_iter=100),
    MLPClassifier(hidden_layer_sizes=(16, 8), solver="nesterov", learning_rate_init=0.05, batch_norm=True,
                  dropout=0.1, early_stopping=True, learning_rate="adaptive", max_iter=60),
    MLPRegressor(max_iter=200),
    MLPRegressor(activation="tanh", solver="rmsprop", learning_rate="cosine", max_iter=100),
], ids=repr)
def test_sklearn_check_estimator_passes(est):
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    assert len(results) > 40


def test_constructor_only_stores_and_params_round_trip():
    est = MLPClassifier(hidden_layer_sizes=(7,), alpha=-1, solver="bogus")  # validated at fit, not here
    assert est.get_params()["hidden_layer_sizes"] == (7,) and est.get_params()["alpha"] == -1
    assert not [k for k in vars(est) if k.endswith("_")]
    est.set_params(alpha=0.01, solver="adam")
    assert est.alpha == 0.01
    with pytest.raises(ValueError, match="Invalid parameter 'alpah'"):
        est.set_params(alpah=1)
    assert repr(est) == "MLPClassifier(hidden_layer_sizes=(7,), alpha=0.01)"
    assert type(est)(**est.get_params()).get_params() == est.get_params()


@pytest.mark.parametrize("field,value,pattern", [
    ("hidden_layer_sizes", (10, 0), "hidden_layer_sizes must hold positive integers"),
    ("activation", "swish", r"activation must be one of \['identity', 'logistic', 'relu', 'tanh'\]"),
    ("solver", "lbfgs", "solver must be one of"),
    ("alpha", -1.0, r"alpha must lie in \[0.0, inf\), got -1.0"),
    ("dropout", 1.0, r"dropout must lie in \[0.0, 1.0\), got 1.0"),
    ("learning_rate", "fast", "learning_rate must be one of"),
    ("max_iter", 0, "max_iter must be a positive integer"),
    ("batch_size", 0, "batch_size must be 'auto' or a positive integer"),
    ("validation_fraction", 0.0, r"validation_fraction must lie in \(0.0, 1.0\), got 0.0"),
])
def test_bad_settings_are_named_at_fit(field, value, pattern):
    X, y = blobs(40)
    with pytest.raises(ValueError, match=pattern):
        MLPClassifier(**{field: value}).fit(X, y)


def test_input_errors():
    X, y = blobs(40)
    est = MLPClassifier(max_iter=5)
    with pytest.raises(ValueError, match="Expected 2D array"):
        est.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="X has 40 samples but y has 39"):
        est.fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 1] = np.inf
    with pytest.raises(ValueError, match="0 NaN and 1 inf"):
        est.fit(Xn, y)
    with pytest.raises(ValueError, match="only one class"):
        est.fit(X, np.zeros(40))
    with pytest.raises(ValueError, match="Unknown label type"):
        est.fit(X, np.linspace(0, 1, 40))
    with pytest.raises(gn.NotFittedError, match="not fitted yet"):
        MLPClassifier().predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 2 features as input"):
        est.predict(np.zeros((2, 3)))
    with pytest.warns(gn.errors.DataConversionWarning, match="column-vector y"), warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.ConvergenceWarning)
        est.fit(X, y[:, None])


@pytest.mark.parametrize("solver", ["sgd", "sgd_momentum", "nesterov", "adam", "rmsprop", "adagrad"])
def test_every_solver_learns_blobs(solver):
    X, y = blobs()
    lr = 0.05 if solver in ("sgd", "sgd_momentum", "nesterov", "adagrad") else 0.01
    est = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, learning_rate_init=lr, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.ConvergenceWarning)
        est.fit(X, y)
    assert est.score(X, y) > 0.9
    assert est.n_iter_ >= 1 and len(est.loss_curve_) == est.n_iter_
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    p = est.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-9)


def test_string_labels_early_stopping_and_determinism():
    X, y = blobs(400)
    names = np.array(["ant", "bee", "cat"])[y]
    kw = dict(hidden_layer_sizes=(32,), early_stopping=True, learning_rate_init=0.01, max_iter=300, random_state=3)
    a = MLPClassifier(**kw).fit(X, names)
    assert a.classes_.tolist() == ["ant", "bee", "cat"]
    assert a.n_iter_ < 300  # stopped early on the validation accuracy
    assert a.best_validation_score_ == max(a.validation_scores_) > 0.85
    b = MLPClassifier(**kw).fit(X, names)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))  # same random_state, same model


def test_convergence_warning_and_tolerance_stop():
    X, y = blobs()
    with pytest.warns(gn.ConvergenceWarning, match="max_iter=3"):
        MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    est = MLPClassifier(max_iter=500, tol=1e-1, n_iter_no_change=2, random_state=0).fit(X, y)
    assert est.n_iter_ < 500


def test_partial_fit_and_pickle():
    X, y = blobs()
    est = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="first call needs classes"):
        est.partial_fit(X, y)
    for _ in range(40):
        est.partial_fit(X, y, classes=[0, 1, 2])
    assert est.n_iter_ == 40 and est.score(X, y) > 0.9
    with pytest.raises(ValueError, match="not among the classes"):
        est.partial_fit(X, y + 5)
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.predict_proba(X), est.predict_proba(X))
    clone.partial_fit(X, y)  # the optimizer state survives pickling
    assert clone.n_iter_ == 41


def test_regressor_single_and_multi_output():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (400, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - X[:, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.ConvergenceWarning)
        r = MLPRegressor(hidden_layer_sizes=(64, 64), learning_rate_init=3e-3, max_iter=300, random_state=0).fit(X, y)
        assert r.predict(X).shape == (400,) and r.score(X, y) > 0.95
        Y = np.stack([y, -2 * y], axis=1)
        r2 = MLPRegressor(hidden_layer_sizes=(64, 64), learning_rate_init=3e-3, max_iter=300, random_state=0).fit(X, Y)
    assert r2.predict(X).shape == (400, 2) and r2.score(X, Y) > 0.95 and r2.n_outputs_ == 2


def test_float32_input_keeps_a_float32_network():
    X, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.ConvergenceWarning)
        est = MLPClassifier(max_iter=5).fit(X.astype(np.float32), y)
        assert MLPClassifier(max_iter=1).fit(X, y).model_.dtype == np.float64
    assert est.model_.dtype == np.float32
