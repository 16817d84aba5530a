"""Input validation shared by the classic models and the estimators: a 2-D numeric X, a 1-D y,
and errors that say what was expected and what came (in scikit-learn's wording where its
estimator checks look for it)."""
from __future__ import annotations

import warnings

import numpy as np

from .._checks import check_finite
from ..errors import DataConversionWarning, not_fitted, sklearn_compatible


def check_X(X, who, n_features=None, dtype=np.float64):
    """X as a finite 2-D float array of shape (n_samples, n_features); ``dtype=None`` keeps
    float32 and float64 inputs as they are (anything else becomes float64)."""
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"{who}: sparse input is not supported (a dense array is required); "
                        f"convert it with X.toarray()")
    try:
        arr = np.asarray(X)
    except Exception as err:
        raise ValueError(f"{who}: X could not be read as an array: {err}") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{who}: Complex data not supported, got X of dtype {arr.dtype}")
    if arr.dtype.kind not in "fiub":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            # keep the built-in type: TypeError for objects that are no numbers, ValueError for bad strings
            raise type(err)(f"{who}: X must hold numbers, got an object array with a value that is not one: "
                            f"{err}") from None
    if arr.ndim != 2:
        hint = " Reshape your data with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a " \
               "single sample." if arr.ndim == 1 else ""
        raise ValueError(f"{who}: Expected 2D array of shape (n_samples, n_features), got {arr.ndim}D array "
                         f"of shape {arr.shape} instead.{hint}")
    if arr.shape[0] < 1:
        raise ValueError(f"{who}: Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if arr.shape[1] < 1:
        raise ValueError(f"{who}: Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = np.ascontiguousarray(arr, dtype=dtype)
    check_finite(arr, who, "X")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"X has {arr.shape[1]} features, but {who.split('.')[0]} is expecting {n_features} "
                         f"features as input.")
    return arr


def check_y(y, who, n_samples):
    """y as a 1-D array (a column vector is raveled) of ``n_samples`` entries."""
    if y is None:
        raise ValueError(f"{who.split('.')[0]} requires y to be passed, but the target y is None.")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(f"A column-vector y was passed when a 1d array was expected: {who} uses y of shape "
                      f"{arr.shape} as ({arr.shape[0]},); pass y.ravel() to silence this", sklearn_compatible(DataConversionWarning),
                      stacklevel=3)
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{who}: y must be 1-D (n_samples,), got shape {arr.shape}")
    if len(arr) != n_samples:
        raise ValueError(f"{who}: X has {n_samples} samples but y has {len(arr)}")
    if arr.dtype.kind == "f":
        check_finite(arr, who, "y")
    return arr


def check_Xy(X, y, who, dtype=np.float64):
    X = check_X(X, who, dtype=dtype)
    return X, check_y(y, who, len(X))


def check_fitted(est, attr):
    if not hasattr(est, attr):
        raise not_fitted(f"This {type(est).__name__} instance is not fitted yet: call fit(X, y) before "
                             f"using it.")
