"""The functional level: pure forward/backward pairs in the style of the notes.

``out, cache = f_forward(...)`` and ``grads = f_backward(dout, cache)``; no state, the array
module is taken from the inputs (NumPy or CuPy).
"""
from .activations import (leaky_relu_backward, leaky_relu_forward, log_softmax, maxout_backward,
                          maxout_forward, relu_backward, relu_forward, sigmoid, sigmoid_backward,
                          sigmoid_forward, softmax, softmax_backward, softmax_forward, tanh_backward,
                          tanh_forward)
from .batchnorm import BatchNormCache, batchnorm_backward, batchnorm_forward
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .linear import flatten_backward, flatten_forward, linear_backward, linear_forward
from .losses import (binary_cross_entropy_backward, binary_cross_entropy_forward, cross_entropy,
                     entropy, kl_divergence, kl_divergence_backward, kl_divergence_forward,
                     mse_backward, mse_forward, multiclass_hinge_backward, multiclass_hinge_forward,
                     softmax_cross_entropy_backward, softmax_cross_entropy_forward)

__all__ = [
    "BatchNormCache",
    "batchnorm_backward",
    "batchnorm_forward",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_forward",
    "cross_entropy",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "entropy",
    "flatten_backward",
    "flatten_forward",
    "kl_divergence",
    "kl_divergence_backward",
    "kl_divergence_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "log_softmax",
    "maxout_backward",
    "maxout_forward",
    "mse_backward",
    "mse_forward",
    "multiclass_hinge_backward",
    "multiclass_hinge_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
    "softmax_forward",
    "tanh_backward",
    "tanh_forward",
]
