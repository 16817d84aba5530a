"""Built-in layers."""
from .activations import LeakyReLU, Maxout, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, LocalResponseNorm, SyncBatchNorm
from .pooling import AvgPool1d, AvgPool2d, GlobalAvgPool, MaxPool1d, MaxPool2d
from .recurrent import GRU, LSTM, RNN, Bidirectional
from .shape import Flatten, Identity, Reshape

__all__ = ["Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Maxout", "Dropout",
           "BatchNorm1d", "BatchNorm2d", "SyncBatchNorm", "LayerNorm", "GroupNorm", "LocalResponseNorm", "Flatten", "Identity", "Reshape",
           "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "GlobalAvgPool",
           "RNN", "LSTM", "GRU", "Bidirectional", "Embedding"]
