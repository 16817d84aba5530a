"""glassnet: a deep-learning library you can see through.

    import glassnet as gn
    net = gn.nn.Sequential(gn.nn.Linear(40, 100), gn.nn.ReLU(), gn.nn.Linear(100, 10))
    trainer = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=1e-3))
    trainer.fit((X, y), val=(Xv, yv), epochs=20, batch_size=128, seed=0)
"""
import os as _os
import sys as _sys

# Shorten OpenBLAS's idle spin after each product (2**22 cycles instead of 2**28) so that its
# threads leave the cores to the compiled kernels. OpenBLAS reads the variable once, when NumPy
# loads: set only when glassnet comes first and the user has not set it. Why and what it cost:
# docs/decisions.md ("OpenBLAS's idle spin").
if "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")

from . import (backend, callbacks, classic, data, distributed, doctor, ensemble, estimators, functional, gradcheck, kernels, models, nn,
               optim, report, tune, viz)
from .errors import BackwardError, ConvergenceWarning, NonFiniteError, NotFittedError, ShapeError, SymmetryWarning
from .nn.anomaly import detect_anomaly
from .serialization import CheckpointError, load, save
from .train import History, Solver, Trainer

__version__ = "0.1.0"
__all__ = ["backend", "functional", "kernels", "gradcheck", "nn", "models", "optim", "callbacks", "data", "ensemble", "classic", "doctor", "distributed",
           "report", "tune", "viz",
           "estimators", "detect_anomaly", "Trainer", "Solver", "History", "save", "load", "BackwardError", "NonFiniteError",
           "ShapeError", "SymmetryWarning", "NotFittedError", "ConvergenceWarning", "CheckpointError", "__version__"]
