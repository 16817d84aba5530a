"""Training: the Trainer, callbacks, the Solver facade."""
from . import callbacks, metrics
from .history import History
from .solver import Solver
from .trainer import Trainer

__all__ = ["Trainer", "History", "Solver", "callbacks", "metrics"]
