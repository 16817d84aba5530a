"""The functional level: pure forward/backward pairs in the style of the notes.

``out, cache = f_forward(...)`` and ``grads = f_backward(dout, cache)``; no state, the array
module is taken from the inputs (NumPy or CuPy).
"""
from .activations import (leaky_relu_backward, leaky_relu_forward, log_softmax, maxout_backward,
                          maxout_forward, relu_backward, relu_forward, sigmoid, sigmoid_backward,
                          sigmoid_forward, softmax, softmax_backward, softmax_forward, tanh_backward,
                          tanh_forward)
from .batchnorm import (BatchNormCache, SyncBatchNormCache, batchnorm_backward, batchnorm_forward,
                        sync_batchnorm_backward, sync_batchnorm_forward)
from .conv import col2im, conv1d_backward, conv1d_forward, conv2d_backward, conv2d_forward, im2col
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .linear import flatten_backward, flatten_forward, linear_backward, linear_forward
from .normalization import (group_norm_backward, group_norm_forward, layer_norm_backward, layer_norm_forward,
                            local_response_norm_backward, local_response_norm_forward)
from .pool import (avg_pool2d_backward, avg_pool2d_forward, global_avg_pool_backward,
                   global_avg_pool_forward, max_pool2d_backward, max_pool2d_forward)
from .recurrent import (gru_backward, gru_forward, lstm_backward, lstm_forward, rnn_backward,
                        rnn_forward)
from .losses import (binary_cross_entropy_with_logits_backward, binary_cross_entropy_with_logits_forward, cross_entropy,
                     entropy, kl_divergence, kl_divergence_backward, kl_divergence_forward,
                     mse_backward, mse_forward, multiclass_hinge_backward, multiclass_hinge_forward,
                     softmax_cross_entropy_backward, softmax_cross_entropy_forward)

__all__ = [
    "avg_pool2d_backward", "avg_pool2d_forward", "col2im", "conv1d_backward", "conv1d_forward",
    "conv2d_backward", "conv2d_forward", "global_avg_pool_backward", "global_avg_pool_forward",
    "gru_backward", "gru_forward", "im2col", "lstm_backward", "lstm_forward", "max_pool2d_backward",
    "max_pool2d_forward", "rnn_backward", "rnn_forward",
    "BatchNormCache",
    "group_norm_backward", "group_norm_forward", "layer_norm_backward", "layer_norm_forward",
    "local_response_norm_backward", "local_response_norm_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "SyncBatchNormCache", "sync_batchnorm_backward", "sync_batchnorm_forward",
    "binary_cross_entropy_with_logits_backward",
    "binary_cross_entropy_with_logits_forward",
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

# -- every layer operation's reference, registered with the dispatch point of glassnet.kernels -------
from .. import kernels as _kernels  # noqa: E402

for _op, _fwd, _bwd in (("relu", relu_forward, relu_backward), ("leaky_relu", leaky_relu_forward, leaky_relu_backward),
                        ("sigmoid", sigmoid_forward, sigmoid_backward), ("tanh", tanh_forward, tanh_backward),
                        ("softmax", softmax_forward, softmax_backward),
                        ("conv2d", conv2d_forward, conv2d_backward),
                        ("batchnorm", batchnorm_forward, batchnorm_backward),
                        ("lstm", lstm_forward, lstm_backward),
                        ("max_pool2d", max_pool2d_forward, max_pool2d_backward),
                        ("avg_pool2d", avg_pool2d_forward, avg_pool2d_backward)):
    _kernels.reference(_op, _fwd, _bwd)
del _op, _fwd, _bwd
# a loss's backward takes (cache, dloss); the dispatch point passes (dloss, cache), as layers' (dout, cache)
_kernels.reference("softmax_cross_entropy", softmax_cross_entropy_forward,
                   lambda dloss, cache: softmax_cross_entropy_backward(cache, dloss))
