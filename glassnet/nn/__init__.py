"""The module level: stateful layers, containers and losses built on glassnet.functional."""
from . import init
from .build import build, register
from .containers import Add, Concat, Parallel, Residual, Sequential
from .layers import (BatchNorm1d, Dropout, Flatten, Identity, LeakyReLU, Linear, Maxout, ReLU,
                     Sigmoid, Softmax, Tanh)
from .losses import MSE, BinaryCrossEntropy, KLDivergence, Loss, MulticlassHinge, SoftmaxCrossEntropy
from .module import Module, Parameter, eval_scores

__all__ = ["Module", "Parameter", "eval_scores", "init", "build", "register",
           "Sequential", "Parallel", "Residual", "Add", "Concat",
           "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Maxout", "Dropout",
           "BatchNorm1d", "Flatten", "Identity",
           "Loss", "SoftmaxCrossEntropy", "MulticlassHinge", "BinaryCrossEntropy", "MSE", "KLDivergence"]
