"""The module level: stateful layers, containers and losses built on glassnet.functional."""
from . import init
from .build import build, register
from .blocks import BasicBlock, Bottleneck, Inception
from .containers import Add, Concat, Parallel, Residual, Sequential, TimeDistributed
from .layers import (GRU, LSTM, RNN, AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, Bidirectional,
                     Conv1d, Conv2d, Dropout, Embedding, Flatten, GlobalAvgPool, GroupNorm, Identity, LayerNorm,
                     LeakyReLU, Linear, LocalResponseNorm, Maxout, MaxPool1d, MaxPool2d, ReLU, Reshape, Sigmoid,
                     Softmax, SyncBatchNorm, Tanh)
from .layers.normalization import convert_sync_batchnorm
from .losses import MSE, BCEWithLogits, KLDivergence, Loss, MulticlassHinge, SoftmaxCrossEntropy
from .anomaly import detect_anomaly
from .module import Module, Parameter, RemovableHandle, eval_scores

__all__ = ["Module", "Parameter", "RemovableHandle", "eval_scores", "detect_anomaly", "init", "build", "register",
           "Sequential", "Parallel", "Residual", "Add", "Concat", "TimeDistributed", "BasicBlock", "Bottleneck", "Inception",
           "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Maxout", "Dropout",
           "BatchNorm1d", "BatchNorm2d", "SyncBatchNorm", "convert_sync_batchnorm", "LayerNorm", "GroupNorm", "LocalResponseNorm", "Flatten", "Identity", "Reshape",
           "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "GlobalAvgPool",
           "RNN", "LSTM", "GRU", "Bidirectional", "Embedding",
           "Loss", "SoftmaxCrossEntropy", "MulticlassHinge", "BCEWithLogits", "MSE", "KLDivergence"]
