"""scikit-learn-shaped front door to glassnet networks: MLPClassifier and MLPRegressor.

The scikit-learn contract without depending on scikit-learn: the constructor only stores
its arguments, ``fit``/``partial_fit``/``predict``/``score`` (and ``predict_proba`` for the
classifier), ``get_params``/``set_params``, fitted attributes with a trailing underscore, and
validation errors raised by ``fit`` that say what was expected and what came. Where
scikit-learn is installed, its ``check_estimator`` passes (see tests/test_estimators.py).

Names follow scikit-learn's MLPClassifier where the concept is the same. Differences:
``solver`` names one of glassnet's update rules ("sgd", "sgd_momentum", "nesterov", "adam",
"rmsprop", "adagrad"; L-BFGS is ``glassnet.optim.LBFGS``), ``dropout`` and ``batch_norm`` add
those layers after every hidden Linear, and ``learning_rate`` also accepts "cosine".
``alpha`` is scaled as in scikit-learn: the penalty per batch is 0.5 * alpha * ||W||^2 /
batch_size, i.e. ``glassnet.optim.L2(alpha / batch_size)``. The network is float64 unless X
is float32 (as in scikit-learn); the fitted glassnet model is ``model_``.
"""
from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy as np

from . import nn
from ._checks import check_int, check_number, positive_int
from .classic._validation import check_X, check_fitted, check_y
from .errors import ConvergenceWarning, sklearn_compatible
from .optim import L2, OPTIMIZERS, make_optimizer
from .optim import schedules as S

__all__ = ["MLPClassifier", "MLPRegressor"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid, "identity": nn.Identity}
_LEARNING_RATES = ("constant", "invscaling", "adaptive", "cosine")


class _BaseMLP:
    _is_classifier = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=1e-4, dropout=0.0,
                 batch_norm=False, batch_size="auto", learning_rate="constant", learning_rate_init=1e-3,
                 max_iter=200, shuffle=True, tol=1e-4, momentum=0.9, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, random_state=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose

    # -- scikit-learn's parameter protocol -----------------------------------------------------------
    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep=True):
        """Constructor arguments as a dict."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments (validated at ``fit``); returns self."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for estimator {type(self).__name__}; "
                                 f"valid parameters are {sorted(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self):
        defaults = {k: v.default for k, v in inspect.signature(type(self).__init__).parameters.items() if k != "self"}
        changed = [f"{k}={getattr(self, k)!r}" for k in self._param_names()
                   if not _same(getattr(self, k), defaults[k])]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):  # called by scikit-learn only, so it is installed here
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        return Tags(estimator_type="classifier" if self._is_classifier else "regressor",
                    target_tags=TargetTags(required=True, multi_output=not self._is_classifier,
                                           single_output=True),
                    classifier_tags=ClassifierTags() if self._is_classifier else None,
                    regressor_tags=None if self._is_classifier else RegressorTags(),
                    input_tags=InputTags())

    # -- settings ------------------------------------------------------------------------------------
    def _check_settings(self):
        me = type(self).__name__
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError(f"{me}: hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}") from None
        if any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in sizes):
            raise ValueError(f"{me}: hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"{me}: activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in OPTIMIZERS:
            raise ValueError(f"{me}: solver must be one of {sorted(OPTIMIZERS)}, got {self.solver!r}")
        if self.learning_rate not in _LEARNING_RATES:
            raise ValueError(f"{me}: learning_rate must be one of {list(_LEARNING_RATES)}, got {self.learning_rate!r}")
        for name, lo, hi, lo_open in (("alpha", 0.0, None, False), ("learning_rate_init", 0.0, None, True),
                                      ("tol", 0.0, None, False), ("dropout", 0.0, 1.0, False),
                                      ("momentum", 0.0, 1.0, False), ("validation_fraction", 0.0, 1.0, True)):
            check_number(getattr(self, name), name, me, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi is not None)
        for name in ("max_iter", "n_iter_no_change"):
            positive_int(getattr(self, name), me, name)
        bs = self.batch_size
        check_int(bs, "batch_size", me, lo=1, also=("auto",))
        return sizes

    # -- the network ---------------------------------------------------------------------------------
    def _build(self, n_in, n_out, sizes, dtype, rng):
        """The network, initialized as scikit-learn's MLP is: weights and biases U(-b, b) with
        b = sqrt(6 / (fan_in + fan_out)) (times sqrt(2) for logistic units), so that the same
        settings give comparable results."""
        gain = math.sqrt(2.0) if self.activation == "logistic" else 1.0
        layers, width = [], n_in

        def linear(n_in_, n_out_):
            lin = nn.Linear(n_in_, n_out_, init="glorot_uniform", rng=rng, dtype=dtype)
            if gain != 1.0:
                lin.W.data[...] = nn.init.glorot_uniform(lin.W.shape, rng=rng, dtype=dtype, gain=gain)
            bound = gain * math.sqrt(6.0 / (n_in_ + n_out_))
            lin.b.data[...] = rng.uniform(-bound, bound, n_out_)
            return lin

        for h in sizes:
            layers.append(linear(width, h))
            if self.batch_norm:
                layers.append(nn.BatchNorm1d(h, dtype=dtype))
            layers.append(_ACTIVATIONS[self.activation]())
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout, rng=rng))
            width = h
        layers.append(linear(width, n_out))
        return nn.Sequential(*layers)

    def _schedule(self, steps_per_epoch):
        if self.learning_rate == "invscaling":
            return S.InverseSqrt(1.0), "step"
        if self.learning_rate == "cosine":
            return S.Cosine(self.max_iter), "epoch"
        return None, "epoch"

    def _batch(self, n):
        return min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)

    # -- fitting -------------------------------------------------------------------------------------
    def _validate_Xy(self, X, y, who):
        X = check_X(X, f"{type(self).__name__}.{who}", dtype=None)
        dtype = X.dtype
        y = check_y(y, f"{type(self).__name__}.{who}", len(X)) if self._is_classifier else self._check_reg_y(y, len(X))
        return X.astype(dtype, copy=False), y

    def _start(self, X, y, n_out, who):
        """Fresh network and optimizer."""
        sizes = self._check_settings()
        self._rng = np.random.default_rng(self.random_state)
        self.n_features_in_ = X.shape[1]
        self.model_ = self._build(X.shape[1], n_out, sizes, X.dtype, self._rng)
        self._optimizer = make_optimizer(self.solver, self.model_, self.learning_rate_init, momentum=self.momentum,
                                         who=type(self).__name__)
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.t_ = 0
        self._seed = int(self._rng.integers(2 ** 31))

    def _trainer(self, n, callbacks=(), metrics=()):
        from .train import Trainer

        batch = self._batch(n)
        schedule, unit = self._schedule(n // batch)
        penalty = L2(self.alpha / batch) if self.alpha > 0 else None
        return Trainer(self.model_, self._loss(), self._optimizer, penalty=penalty, schedule=schedule,
                       schedule_unit=unit, callbacks=callbacks, metrics=metrics, verbose=1 if self.verbose else 0,
                       train_sample=0)

    def fit(self, X, y):
        """Train from scratch for up to ``max_iter`` epochs; returns self."""
        from .train.callbacks import EarlyStopping, ReduceLROnPlateau

        X, y = self._validate_Xy(X, y, "fit")
        y_enc, n_out = self._encode_fit(y)
        self._start(X, y_enc, n_out, "fit")
        val = None
        if self.early_stopping:
            n_val = max(1, int(round(self.validation_fraction * len(X))))
            if len(X) - n_val < 1:
                raise ValueError(f"{type(self).__name__}: early_stopping needs at least 2 samples, got {len(X)}")
            order = self._rng.permutation(len(X))
            val_idx, tr_idx = order[:n_val], order[n_val:]
            val = (X[val_idx], y_enc[val_idx])
            X, y_enc = X[tr_idx], y_enc[tr_idx]
            monitor = "val_accuracy" if self._is_classifier else "val_loss"
            stopper = EarlyStopping(monitor, patience=self.n_iter_no_change, min_delta=self.tol, restore_best=True)
        else:
            stopper = EarlyStopping("loss", patience=self.n_iter_no_change, min_delta=self.tol, restore_best=False)
        callbacks = [stopper]
        if self.learning_rate == "adaptive":  # scikit-learn: divide by 5 after 2 epochs without progress
            callbacks.append(ReduceLROnPlateau("loss", factor=0.2, patience=2, min_delta=self.tol))
        metrics = ("accuracy",) if (val is not None and self._is_classifier) else ()
        trainer = self._trainer(len(X), callbacks, metrics)
        history = trainer.fit((X, y_enc), val=val, epochs=self.max_iter, batch_size=self._batch(len(X)),
                              seed=self._seed, shuffle=self.shuffle)
        self._record(history, trainer)
        if history.stop_reason.startswith("completed"):
            warnings.warn(f"{type(self).__name__}: stopped after max_iter={self.max_iter} epochs and the "
                          f"optimization has not converged yet (training loss still improving by more than "
                          f"tol={self.tol}); raise max_iter", sklearn_compatible(ConvergenceWarning), stacklevel=2)
        if val is not None:
            key = "val_accuracy" if self._is_classifier else "val_loss"
            self.validation_scores_ = list(history[key])
            best = max if self._is_classifier else min
            self.best_validation_score_ = best(self.validation_scores_)
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y); the first call builds the network (for the classifier,
        ``classes`` must then list every class). Returns self."""
        X, y = self._validate_Xy(X, y, "partial_fit")
        first = not hasattr(self, "model_")
        if first:
            y_enc, n_out = self._encode_partial_first(y, classes)
            self._start(X, y_enc, n_out, "partial_fit")
        else:
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input.")
            X = X.astype(self.model_.dtype, copy=False)
            y_enc = self._encode(y, "partial_fit")
        trainer = self._trainer(len(X))
        trainer.epoch = 0
        self._seed += 1  # a new shuffle every call
        history = trainer.fit((X, y_enc), epochs=1, batch_size=self._batch(len(X)), seed=self._seed,
                              shuffle=self.shuffle)
        self._record(history, trainer, append=True)
        return self

    def _record(self, history, trainer, append=False):
        losses = [float(v) for v in history["loss"]]
        self.loss_curve_ = (self.loss_curve_ + losses) if append else losses
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_ = min(self.loss_curve_)
        self.n_iter_ = (self.n_iter_ + len(losses)) if append else len(losses)
        self.t_ = (self.t_ if append else 0) + trainer.iteration
        self.n_outputs_ = self.model_[-1].out_features if not self._is_classifier else len(self.classes_)

    # -- prediction ----------------------------------------------------------------------------------
    def _scores(self, X):
        check_fitted(self, "model_")
        X = check_X(X, type(self).__name__, self.n_features_in_)
        return nn.eval_scores(self.model_, X.astype(self.model_.dtype, copy=False))


def _same(a, b):
    try:
        return bool(a == b) if not isinstance(a, (tuple, list)) else tuple(a) == tuple(b)
    except Exception:
        return a is b


class MLPClassifier(_BaseMLP):
    """A fully connected classifier: Linear -> [BatchNorm1d] -> activation -> [Dropout] per
    hidden layer, then Linear to one score per class, softmax cross-entropy.

    ``MLPClassifier(hidden_layer_sizes=(100,), activation="relu", solver="adam", alpha=1e-4,
    dropout=0.0, batch_norm=False, batch_size="auto", learning_rate="constant",
    learning_rate_init=1e-3, max_iter=200, shuffle=True, tol=1e-4, momentum=0.9,
    early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, random_state=None,
    verbose=False)``. Labels may be any hashable values (``classes_`` holds them, sorted).
    """

    _is_classifier = True

    def _loss(self):
        return nn.SoftmaxCrossEntropy()

    def _check_labels(self, y):
        if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"{type(self).__name__}: Unknown label type: continuous target values (floats "
                             f"such as {y[np.mod(y, 1) != 0][0]!r}); a classifier needs class labels — use "
                             f"MLPRegressor for regression")
        if y.dtype.kind == "O":
            kinds = {type(v) for v in y}
            if len(kinds) > 1:
                raise TypeError(f"{type(self).__name__}: labels mix types {sorted(k.__name__ for k in kinds)}; "
                                f"use one type of label")

    def _encode_fit(self, y):
        self._check_labels(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__}: needs samples of at least 2 classes in the data, but the data "
                             f"contains only one class: {self.classes_[0]!r}")
        return y_enc.astype(np.int64), len(self.classes_)

    def _encode_partial_first(self, y, classes):
        if classes is None:
            raise ValueError(f"{type(self).__name__}.partial_fit: the first call needs classes=[...] listing every "
                             f"class (later batches may not contain them all)")
        self._check_labels(y)
        self.classes_ = np.unique(np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__}.partial_fit: classes must hold at least 2 classes")
        return self._encode(y, "partial_fit"), len(self.classes_)

    def _encode(self, y, who):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        bad = self.classes_[idx] != y
        if np.any(bad):
            raise ValueError(f"{type(self).__name__}.{who}: y holds label(s) {sorted(set(np.asarray(y)[bad].tolist()))[:5]} "
                             f"that are not among the classes {self.classes_.tolist()}")
        return idx.astype(np.int64)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        from .functional import softmax
        return softmax(self._scores(X), axis=1)

    def predict_log_proba(self, X):
        return np.log(np.maximum(self.predict_proba(X), np.finfo(np.float64).tiny))

    def predict(self, X):
        """Labels (n_samples,) from ``classes_``."""
        s = self._scores(X)
        return self.classes_[s.argmax(axis=1)]

    def score(self, X, y):
        """Mean accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(y).ravel()))


class MLPRegressor(_BaseMLP):
    """A fully connected regressor (same layers as MLPClassifier, identity output, mean squared
    error). y may be (n_samples,) or (n_samples, n_outputs); ``predict`` returns the same rank."""

    def _loss(self):
        return nn.MSE()

    def _check_reg_y(self, y, n):
        me = type(self).__name__
        if y is None:
            raise ValueError(f"{me} requires y to be passed, but the target y is None.")
        arr = np.asarray(y)
        if arr.dtype.kind not in "fiub":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{me}: y must hold numbers, got dtype {arr.dtype}") from None
        if arr.ndim not in (1, 2):
            raise ValueError(f"{me}: y must be (n_samples,) or (n_samples, n_outputs), got shape {arr.shape}")
        if len(arr) != n:
            raise ValueError(f"{me}: X has {n} samples but y has {len(arr)}")
        from ._checks import check_finite
        arr = arr.astype(np.float64)
        check_finite(arr, me, "y")
        return arr

    def _encode_fit(self, y):
        self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        return y2, y2.shape[1]

    def _encode_partial_first(self, y, classes):
        return self._encode_fit(y)

    def _encode(self, y, who):
        y2 = y.reshape(len(y), -1)
        if y2.shape[1] != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}.{who}: y has {y2.shape[1]} outputs, the model {self.n_outputs_}")
        return y2

    def _validate_Xy(self, X, y, who):
        X, y = super()._validate_Xy(X, y, who)
        return X, y.astype(X.dtype)

    def predict(self, X):
        """Predictions (n_samples,) or (n_samples, n_outputs)."""
        s = self._scores(X)
        return s[:, 0] if self._y_1d else s

    def score(self, X, y):
        """Coefficient of determination R^2 (averaged uniformly over outputs)."""
        y = np.asarray(y, dtype=np.float64)
        p = self.predict(X).astype(np.float64)
        y2, p2 = y.reshape(len(y), -1), p.reshape(len(p), -1)
        ss_res = ((y2 - p2) ** 2).sum(axis=0)
        ss_tot = ((y2 - y2.mean(axis=0)) ** 2).sum(axis=0)
        r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))
        return float(r2.mean())
