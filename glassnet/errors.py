"""Exceptions glassnet raises, so callers can catch them precisely.

Each is a subclass of the built-in type a Python user would expect (ValueError for bad
values and shapes, TypeError for bad types), so ``except ValueError`` keeps working.
"""
from __future__ import annotations

from .backend import DeviceMismatchError

__all__ = ["ShapeError", "NonFiniteError", "DeviceMismatchError", "BackwardError", "SymmetryWarning",
           "NotFittedError", "ConvergenceWarning", "DataConversionWarning"]


class ShapeError(ValueError):
    """An array has the wrong shape or rank for the layer or loss that received it."""


class NonFiniteError(ValueError):
    """An array holds NaN or inf where finite numbers are required.

    ``where`` names the layer or loss that found it (e.g. ``"Sequential[2] (Linear) input"``).
    """

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


class BackwardError(RuntimeError):
    """``backward`` was called without a matching ``forward``."""


class SymmetryWarning(UserWarning):
    """Weights were initialized so that all units compute the same function."""


class NotFittedError(ValueError, AttributeError):
    """A model or estimator was used before ``fit`` (also an AttributeError, as in scikit-learn)."""


class DataConversionWarning(UserWarning):
    """Input data was converted to the expected form (e.g. a column-vector y raveled)."""


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at its iteration limit before it converged."""


def sklearn_compatible(cls, name=None):
    """``cls``, or where scikit-learn is in use (imported) a subclass of both ``cls`` and
    scikit-learn's class of the same name, so code written against either catches it."""
    import sys

    sk = sys.modules.get("sklearn.exceptions")
    theirs = getattr(sk, name or cls.__name__, None) if sk is not None else None
    if theirs is None:
        return cls
    key = (cls, theirs)
    if key not in _SK_CLASSES:
        _SK_CLASSES[key] = type(cls.__name__, (cls, theirs), {"__module__": __name__, "__doc__": cls.__doc__})
    return _SK_CLASSES[key]


def not_fitted(message: str) -> NotFittedError:
    """A NotFittedError (also scikit-learn's, where it is in use)."""
    return sklearn_compatible(NotFittedError)(message)


_SK_CLASSES: dict = {}
