"""glassnet: a deep-learning library you can see through.

    import glassnet as gn
    net = gn.nn.Sequential(gn.nn.Linear(40, 100), gn.nn.ReLU(), gn.nn.Linear(100, 10))
"""
from . import backend, functional, gradcheck, nn, optim
from .errors import BackwardError, NonFiniteError, ShapeError, SymmetryWarning

__version__ = "0.1.0"
__all__ = ["backend", "functional", "gradcheck", "nn", "optim", "BackwardError", "NonFiniteError",
           "ShapeError", "SymmetryWarning", "__version__"]
