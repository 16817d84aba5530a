"""Optimization: update rules, penalties and constraints, clipping, learning-rate schedules."""
from . import schedules
from .clipping import clip_grad_norm, clip_grad_value, global_grad_norm
from .lbfgs import LBFGS
from .optimizers import OPTIMIZERS, SGD, Adagrad, Adam, Optimizer, RMSprop, make_optimizer, optimizer_classes
from .penalties import L1, L2, ElasticNet, MaxNorm, Penalty
from .schedules import Plateau, Scheduler

__all__ = ["Optimizer", "OPTIMIZERS", "make_optimizer", "optimizer_classes", "SGD", "Adagrad", "RMSprop", "Adam", "LBFGS", "Penalty", "L2",
           "L1", "ElasticNet", "MaxNorm", "clip_grad_norm", "clip_grad_value", "global_grad_norm", "schedules", "Scheduler", "Plateau"]
