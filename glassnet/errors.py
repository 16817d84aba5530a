"""Exceptions glassnet raises, so callers can catch them precisely.

Each is a subclass of the built-in type a Python user would expect (ValueError for bad
values and shapes, TypeError for bad types), so ``except ValueError`` keeps working.
"""
from __future__ import annotations

from .backend import DeviceMismatchError

__all__ = ["ShapeError", "NonFiniteError", "DeviceMismatchError", "BackwardError", "SymmetryWarning",
           "NotFittedError", "ConvergenceWarning"]


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


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at its iteration limit before it converged."""
