"""Public home of ensembles (``glassnet.ensemble.Ensemble``); the code lives in
``glassnet.train.ensemble``."""
from .train.ensemble import *  # noqa: F401,F403
from .train.ensemble import __all__  # noqa: F401
