"""Preprocessing fitted on training data only, as the notes insist.

Transformers have ``fit(X_train)``, ``transform(X)``, ``fit_transform``, ``inverse_transform``
(where defined) and state (``state_dict``/``config``) that is saved with a model. Statistics
are per feature: an image (N, C, H, W) is treated as N rows of C*H*W features, so
``Standardize`` is per pixel. Nothing is ever fitted implicitly: ``transform`` before ``fit``
raises, and the Trainer/CLI fit on the training split only.

    prep = Pipeline(Standardize())
    Xtr = prep.fit_transform(X_train); Xva = prep.transform(X_val)
"""
from __future__ import annotations

import numpy as np

from .._checks import check_finite, describe
from ..errors import ConfigError, DataError, NotFittedError, ShapeError

__all__ = ["Transformer", "MeanCenter", "Standardize", "MinMaxScale", "PCA", "Whiten", "RunningStandardize",
           "Pipeline", "build_transformer"]


def _nonzero_scale(scale):
    """A per-feature scale with (near) zeros replaced by 1: constant features are only shifted."""
    return np.where(scale > 1e-12, scale, 1.0)


class Transformer:
    """Base class: subclasses implement ``_fit(X2)``, ``_transform(X2)`` (and maybe
    ``_inverse(Z2)``) on 2-D float64 arrays; ``_state`` lists the fitted array attributes."""

    _state: tuple = ()
    keeps_shape = True

    def __init__(self):
        self.n_features_ = None
        self.shape_ = None

    @property
    def fitted(self) -> bool:
        return self.n_features_ is not None

    def _rows(self, X, who):
        X = np.asarray(X)
        if X.dtype.kind not in "fiu":
            raise TypeError(f"{who}: numeric array expected, got {describe(X)}")
        if X.ndim < 2:
            raise ShapeError(f"{who}: expected (N, features...) with N examples, got {describe(X)}")
        X2 = X.reshape(len(X), int(np.prod(X.shape[1:]))).astype(np.float64)  # also for 0 rows
        check_finite(X2, who)
        return X2

    def fit(self, X):
        """Learn the statistics from the training data ``X``; returns self."""
        who = f"{type(self).__name__}.fit"
        X2 = self._rows(X, who)
        if len(X2) < 2:
            raise DataError(f"{who}: needs at least 2 examples (rows) to fit, got {len(X2)}")
        self.shape_ = tuple(np.shape(X)[1:])
        self.n_features_ = X2.shape[1]
        self._fit(X2)
        return self

    def _check_fitted(self, who):
        if not self.fitted:
            raise NotFittedError(f"{type(self).__name__}.{who}: not fitted; call fit(X_train) first "
                               f"(preprocessing is fitted on the training split only)")

    def transform(self, X):
        """Apply the fitted transform; returns float32 for float32 input, else float64."""
        self._check_fitted("transform")
        X = np.asarray(X)
        X2 = self._rows(X, f"{type(self).__name__}.transform")
        if X2.shape[1] != self.n_features_:
            raise ShapeError(f"{type(self).__name__}.transform: fitted on {self.n_features_} features, got "
                             f"{describe(X)} ({X2.shape[1]} features)")
        Z = self._transform(X2)
        out_dtype = X.dtype if X.dtype.kind == "f" else np.float64
        if self.keeps_shape:
            Z = Z.reshape(X.shape)
        return Z.astype(out_dtype, copy=False)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        self._check_fitted("inverse_transform")
        Z = np.asarray(Z)
        out = self._inverse(Z.reshape(len(Z), int(np.prod(Z.shape[1:]))).astype(np.float64))
        shape = (len(Z),) + tuple(self.shape_) if self.shape_ else out.shape
        return out.reshape(shape).astype(Z.dtype if Z.dtype.kind == "f" else np.float64, copy=False)

    def _inverse(self, Z2):
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    # -- state ----------------------------------------------------------------------------------------------
    def config(self) -> dict:
        return {"type": type(self).__name__, **self._params()}

    def _params(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        self._check_fitted("state_dict")
        sd = {k: np.asarray(getattr(self, k)) for k in self._state}
        sd["shape_"] = np.asarray(self.shape_, dtype=np.int64)
        return sd

    def load_state_dict(self, sd):
        for k in self._state:
            if k not in sd:
                raise KeyError(f"{type(self).__name__}.load_state_dict: missing {k!r}")
            setattr(self, k, np.asarray(sd[k]))
        self.shape_ = tuple(int(s) for s in np.asarray(sd["shape_"]).ravel())
        self.n_features_ = int(np.prod(self.shape_)) if self.shape_ else int(np.asarray(sd[self._state[0]]).size)
        return self


class MeanCenter(Transformer):
    """x - mean (per feature)."""
    _state = ("mean_",)

    def _fit(self, X):
        self.mean_ = X.mean(axis=0)

    def _transform(self, X):
        return X - self.mean_

    def _inverse(self, Z):
        return Z + self.mean_


class Standardize(Transformer):
    """(x - mean) / std per feature; constant features are only centered (std treated as 1)."""
    _state = ("mean_", "std_")

    def _fit(self, X):
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.std_ = _nonzero_scale(std)

    def _transform(self, X):
        return (X - self.mean_) / self.std_

    def _inverse(self, Z):
        return Z * self.std_ + self.mean_


class MinMaxScale(Transformer):
    """Map each feature's training [min, max] to [lo, hi] (default [-1, 1])."""
    _state = ("min_", "scale_")

    def __init__(self, lo=-1.0, hi=1.0):
        super().__init__()
        if not lo < hi:
            raise ConfigError(f"MinMaxScale: lo must be below hi, got lo={lo}, hi={hi}")
        self.lo, self.hi = float(lo), float(hi)

    def _params(self):
        return {"lo": self.lo, "hi": self.hi}

    def _fit(self, X):
        self.min_ = X.min(axis=0)
        rng = X.max(axis=0) - self.min_
        self.scale_ = _nonzero_scale(rng)

    def _transform(self, X):
        return self.lo + (X - self.min_) / self.scale_ * (self.hi - self.lo)

    def _inverse(self, Z):
        return (Z - self.lo) / (self.hi - self.lo) * self.scale_ + self.min_


class PCA(Transformer):
    """Project centered data on the top ``n_components`` eigenvectors of the covariance
    (``U, S, V = svd(X.T @ X / N)``, as in the notes); output (N, n_components)."""
    _state = ("mean_", "components_", "variances_")
    keeps_shape = False

    def __init__(self, n_components):
        super().__init__()
        if not isinstance(n_components, int) or n_components < 1:
            raise ConfigError(f"PCA: n_components must be a positive integer, got {n_components!r}")
        self.n_components = n_components

    def _params(self):
        return {"n_components": self.n_components}

    def _fit(self, X):
        if self.n_components > X.shape[1]:
            raise ConfigError(f"PCA: n_components={self.n_components} exceeds the {X.shape[1]} features")
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        cov = Xc.T @ Xc / X.shape[0]
        U, S, _ = np.linalg.svd(cov)
        self.components_ = U[:, :self.n_components]
        self.variances_ = S

    def _transform(self, X):
        return (X - self.mean_) @ self.components_

    def _inverse(self, Z):
        return Z @ self.components_.T + self.mean_

    @property
    def explained_variance_ratio(self):
        return self.variances_[:self.n_components] / self.variances_.sum()


class Whiten(Transformer):
    """Decorrelate and equalize: ``Xrot / sqrt(S + eps)`` with ``Xrot = (X - mean) @ U``
    (the notes' recipe); the whitened training data has (near) identity covariance."""
    _state = ("mean_", "U_", "S_")
    keeps_shape = False

    def __init__(self, eps=1e-5, n_components=None):
        super().__init__()
        if not eps >= 0:
            raise ConfigError(f"Whiten: eps must be non-negative, got {eps!r}")
        self.eps, self.n_components = float(eps), n_components

    def _params(self):
        return {"eps": self.eps, "n_components": self.n_components}

    def _fit(self, X):
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        U, S, _ = np.linalg.svd(Xc.T @ Xc / X.shape[0])
        k = self.n_components or X.shape[1]
        self.U_, self.S_ = U[:, :k], S[:k]

    def _transform(self, X):
        return (X - self.mean_) @ self.U_ / np.sqrt(self.S_ + self.eps)

    def _inverse(self, Z):
        return (Z * np.sqrt(self.S_ + self.eps)) @ self.U_.T + self.mean_


class RunningStandardize(Standardize):
    """Standardize from a stream of batches: ``partial_fit(batch)`` repeatedly.

    With ``k=None`` the running mean and variance are exact (Chan et al.'s parallel update),
    equal to fitting on all the data at once. With a constant ``k`` they follow the notes'
    running mean ``mu = mu + k (x_batch_mean - mu)`` (and the same for the variance), which
    forgets old data."""
    _state = ("mean_", "std_", "var_", "count_")

    def __init__(self, k=None):
        super().__init__()
        if k is not None and not 0 < k <= 1:
            raise ConfigError(f"RunningStandardize: k must lie in (0, 1], got {k!r}")
        self.k = k
        self.count_ = 0

    def _params(self):
        return {"k": self.k}

    def _fit(self, X):
        self.count_ = 0
        self._update(X)

    def partial_fit(self, X):
        X2 = self._rows(X, "RunningStandardize.partial_fit")
        if not self.fitted:
            self.shape_ = tuple(np.shape(X)[1:])
            self.n_features_ = X2.shape[1]
            self.count_ = 0
        elif X2.shape[1] != self.n_features_:
            raise ShapeError(f"RunningStandardize.partial_fit: {self.n_features_} features expected, got {X2.shape[1]}")
        self._update(X2)
        return self

    def _update(self, X):
        m, v, n = X.mean(axis=0), X.var(axis=0), len(X)
        if self.count_ == 0:
            self.mean_, self.var_ = m, v
        elif self.k is None:
            total = self.count_ + n
            delta = m - self.mean_
            self.var_ = (self.var_ * self.count_ + v * n + delta ** 2 * self.count_ * n / total) / total
            self.mean_ = self.mean_ + delta * n / total
        else:
            self.mean_ = self.mean_ + self.k * (m - self.mean_)
            self.var_ = self.var_ + self.k * (v - self.var_)
        self.count_ = int(self.count_) + n
        std = np.sqrt(self.var_)
        self.std_ = _nonzero_scale(std)


class Pipeline(Transformer):
    """Transformers applied in order; fit fits each on the output of the previous ones."""

    def __init__(self, *steps):
        super().__init__()
        if len(steps) == 1 and isinstance(steps[0], (list, tuple)):
            steps = tuple(steps[0])
        for i, s in enumerate(steps):
            if not isinstance(s, Transformer):
                raise TypeError(f"Pipeline: step {i} must be a Transformer, got {type(s).__name__}")
        self.steps = list(steps)

    @property
    def fitted(self):
        return all(s.fitted for s in self.steps)

    def fit(self, X):
        for s in self.steps:
            X = s.fit_transform(X)
        return self

    def transform(self, X):
        if not self.steps:
            return np.asarray(X)
        for s in self.steps:
            X = s.transform(X)
        return X

    def inverse_transform(self, Z):
        for s in reversed(self.steps):
            Z = s.inverse_transform(Z)
        return Z

    def config(self):
        return {"type": "Pipeline", "steps": [s.config() for s in self.steps]}

    def state_dict(self):
        return {f"{i}.{k}": v for i, s in enumerate(self.steps) for k, v in s.state_dict().items()}

    def load_state_dict(self, sd):
        for i, s in enumerate(self.steps):
            s.load_state_dict({k[len(f"{i}."):]: v for k, v in sd.items() if k.startswith(f"{i}.")})
        return self


_TYPES = {c.__name__: c for c in (MeanCenter, Standardize, MinMaxScale, PCA, Whiten, RunningStandardize)}


def build_transformer(config, path="preprocessing"):
    """A Transformer (or Pipeline) from its ``config()`` (a list is a Pipeline); errors are
    ConfigError naming the path."""
    from ..config import build_object, show

    if isinstance(config, list):
        return Pipeline(*[build_transformer(c, f"{path}[{i}]") for i, c in enumerate(config)])
    if isinstance(config, dict) and config.get("type") == "Pipeline":
        steps = config.get("steps", [])
        if not isinstance(steps, list):
            raise ConfigError(f"{path}.steps: expected a list of transformer tables, got {show(steps)}")
        return build_transformer(steps, f"{path}.steps")
    return build_object(config, _TYPES, path, "transformer")
