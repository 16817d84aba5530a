"""Built-in layers."""
from .activations import LeakyReLU, Maxout, ReLU, Sigmoid, Softmax, Tanh
from .dropout import Dropout
from .linear import Linear
from .normalization import BatchNorm1d
from .shape import Flatten, Identity

__all__ = ["Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Maxout", "Dropout",
           "BatchNorm1d", "Flatten", "Identity"]
