"""Exceptions glassnet raises, so callers can catch them precisely.

One hierarchy: every mistake a user can make (a config, the data, a shape, a model file, a
search, a run folder) raises a subclass of :class:`GlassnetError`, whose message says what was
expected and what came, in the user's coordinates (a config field path, a row of their array,
a file name). The command line prints such an error in one line and exits with status 2; any
other exception is a bug in glassnet and keeps its traceback.

Each class is also a subclass of the built-in type a Python user would expect (ValueError for
bad values and shapes, TypeError for bad types), so ``except ValueError`` keeps working.

    GlassnetError
      ConfigError         a config field or an argument is missing, unknown, mistyped or impossible
      DataError           the data: lengths, labels, NaN/inf, empty sets, missing data sets
        ShapeError        an array has the wrong shape or rank for a layer or loss
        NonFiniteError    NaN or inf where finite numbers are required
        DataNotFoundError a data set or a file to read is not on disk (also a FileNotFoundError)
      CheckpointError     a model or checkpoint file is missing, corrupt, crafted or does not fit
      SearchError         a hyperparameter search or its folder
      RunFolderError      a run or search folder exists, or another process is using it
      DeviceMismatchError CPU and GPU arrays met (also a TypeError)
      NotFittedError      used before fit (also an AttributeError, as in scikit-learn)
      DistributedError    a data-parallel job: MPI missing, a rank that failed or stopped answering
"""
from __future__ import annotations

__all__ = ["GlassnetError", "DistributedError", "ConfigError", "DataError", "ShapeError", "NonFiniteError", "DataNotFoundError",
           "CheckpointError", "SearchError", "RunFolderError", "DeviceMismatchError", "BackwardError",
           "SymmetryWarning", "NotFittedError", "ConvergenceWarning", "DataConversionWarning", "one_line"]


class GlassnetError(Exception):
    """Base of every error that reports a user's mistake (as opposed to a bug in glassnet)."""


class ConfigError(GlassnetError, ValueError):
    """A config field or a constructor argument is missing, unknown, of the wrong type or
    impossible; the message names it (``trainer.epochs: expected an integer >= 1, got -1``)."""


class DataError(GlassnetError, ValueError):
    """The data cannot be used as given: lengths differ, labels are out of range, values are
    not finite, a set is empty. The message points at the user's own array, row and column."""


class ShapeError(DataError):
    """An array has the wrong shape or rank for the layer or loss that received it."""


class NonFiniteError(DataError):
    """An array holds NaN or inf where finite numbers are required.

    ``where`` names the layer or loss that found it (e.g. ``"Sequential[2] (Linear) input"``).
    """

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


class DataNotFoundError(DataError, FileNotFoundError):
    """A data set is not on disk and could not be downloaded, or a file a command reads (a run
    folder's history) is missing."""

    def __str__(self):  # FileNotFoundError would format (errno, strerror) otherwise
        return str(self.args[0]) if self.args else ""


class CheckpointError(GlassnetError, ValueError):
    """A model or checkpoint file is missing, truncated, corrupted, crafted or does not fit."""


class SearchError(GlassnetError, ValueError):
    """A hyperparameter search cannot run as asked (its space, its arguments or its folder)."""


class DistributedError(GlassnetError, RuntimeError):
    """A data-parallel job cannot go on: launched by mpiexec without mpi4py, ranks that disagree
    (a different config or data), or a collective that timed out waiting for a rank that stopped."""


class RunFolderError(GlassnetError, RuntimeError):
    """A run or search folder already holds a run (and neither resume nor force was asked), or
    another live process is using it."""


class DeviceMismatchError(GlassnetError, TypeError):
    """Raised when CPU (NumPy) and GPU (CuPy) arrays meet in one operation."""


class BackwardError(RuntimeError):
    """``backward`` was called without a matching ``forward``."""


class SymmetryWarning(UserWarning):
    """Weights were initialized so that all units compute the same function."""


class NotFittedError(GlassnetError, ValueError, AttributeError):
    """A model or estimator was used before ``fit`` (also an AttributeError, as in scikit-learn)."""


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (layer errors carry their location on a second line)."""
    text = err.args[0] if len(err.args) == 1 and isinstance(err.args[0], str) else str(err)
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


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
