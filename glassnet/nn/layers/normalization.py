"""Batch normalization."""
from __future__ import annotations


import numpy as np

from ... import kernels
from ..._checks import check_float_array, check_number, describe
from ...errors import DataError, ShapeError
from ..module import Module, Parameter
from ._util import accumulate, check_dout, check_values, positive_int


class BatchNorm1d(Module):
    """Batch normalization over features of (N, C) or (N, C, L) inputs.

    Train mode normalizes with the batch mean and variance and updates the buffers
    ``running_mean``/``running_var`` as ``running = momentum * running + (1 - momentum) *
    batch`` (unbiased variance); eval mode uses the running statistics. Parameters ``gamma``
    (init 1) and ``beta`` (init 0) are exempt from weight decay. Note: PyTorch's
    ``momentum`` is our ``1 - momentum`` (ours 0.9 == PyTorch's 0.1).
    """

    _ndims = (2, 3)
    _layout = "(N, {C}) or (N, {C}, L)"

    def __init__(self, num_features, momentum=0.9, eps=1e-5, dtype=np.float32):
        super().__init__()
        me = type(self).__name__
        self.num_features = positive_int(num_features, me, "num_features")
        self.momentum = check_number(momentum, "momentum", me, lo=0.0, hi=1.0, hi_open=True,
                                     note="running = momentum * running + (1 - momentum) * batch")
        self.eps = check_number(eps, "eps", me, lo=0.0, lo_open=True)
        # allocated first, filled by init_parameters (as every layer does)
        self.gamma = Parameter(np.empty(self.num_features, dtype=dtype), decay=False)
        self.beta = Parameter(np.empty(self.num_features, dtype=dtype), decay=False)
        self.register_buffer("running_mean", np.empty(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.empty(self.num_features, dtype=dtype))
        self.init_parameters(None)

    def init_parameters(self, rng):
        self.gamma.data[...] = 1
        self.beta.data[...] = 0
        self.running_mean[...] = 0
        self.running_var[...] = 1

    def forward(self, x):
        who = f"{type(self).__name__}({self.num_features})"
        check_float_array(x, who)
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ShapeError(f"{who}: expected input of shape {self._layout.format(C=self.num_features)}, "
                             f"got {describe(x)}")
        if self.training and x.size // x.shape[1] < 2:
            raise DataError(f"{who}: training mode needs more than one value per feature to compute "
                             f"batch statistics, got {describe(x)}; use a batch of 2 or more, or eval()")
        check_values(x, self, who)
        out, cache = kernels.forward("batchnorm", x, self.gamma.data, self.beta.data, self.running_mean,
                                     self.running_var, train=self.training, momentum=self.momentum, eps=self.eps)
        if self.training:  # every implementation's cache carries the updated running statistics
            self.running_mean[...] = cache.value.running_mean
            self.running_var[...] = cache.value.running_var
        self._save((cache, tuple(x.shape)))
        return out

    def backward(self, dout):
        cache, shape = self._pop()
        check_dout(dout, shape, type(self).__name__)
        dx, dgamma, dbeta = kernels.backward("batchnorm", dout, cache)
        accumulate(self.gamma, dgamma)
        accumulate(self.beta, dbeta)
        return dx

    def extra_repr(self):
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"

    def config(self):
        return {"type": type(self).__name__, "num_features": self.num_features, "momentum": self.momentum,
                "eps": self.eps}



class BatchNorm2d(BatchNorm1d):
    """Spatial batch normalization of (N, C, H, W) inputs: one mean and variance per channel,
    over N, H and W (the notes' spatial batchnorm); otherwise as BatchNorm1d."""

    _ndims = (4,)
    _layout = "(N, {C}, H, W)"
