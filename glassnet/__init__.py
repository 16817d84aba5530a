"""glassnet: a deep-learning library you can see through.

    import glassnet as gn
    net = gn.nn.Sequential(gn.nn.Linear(40, 100), gn.nn.ReLU(), gn.nn.Linear(100, 10))
    trainer = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=1e-3))
    trainer.fit((X, y), val=(Xv, yv), epochs=20, batch_size=128, seed=0)
"""
from . import backend, callbacks, classic, data, doctor, ensemble, estimators, functional, gradcheck, nn, optim, report, tune
from .errors import BackwardError, ConvergenceWarning, NonFiniteError, NotFittedError, ShapeError, SymmetryWarning
from .serialization import CheckpointError, load, save
from .train import History, Solver, Trainer

__version__ = "0.1.0"
__all__ = ["backend", "functional", "gradcheck", "nn", "optim", "callbacks", "data", "ensemble", "classic", "doctor",
           "report", "tune",
           "estimators", "Trainer", "Solver", "History", "save", "load", "BackwardError", "NonFiniteError",
           "ShapeError", "SymmetryWarning", "NotFittedError", "ConvergenceWarning", "CheckpointError", "__version__"]
