"""Normalization layers: batch, layer and group normalization, and AlexNet's local response
normalization."""
from __future__ import annotations


import numpy as np

from ... import kernels
from ...functional import batchnorm as F_bn
from ...functional import normalization as F
from ..._checks import check_bool, check_float_array, check_number, describe
from ...errors import ConfigError, DataError, ShapeError
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


class SyncBatchNorm(BatchNorm1d):
    """Batch normalization over every rank's batch together, for data-parallel training (PyTorch's
    ``nn.SyncBatchNorm``): in train mode the mean and variance are those of the whole global batch
    (the per-channel sums are summed across ranks), so N ranks at batch B normalize exactly as one
    process at batch N * B. Inputs (N, C) or (N, C, ...) (images too). ``comm``: a communicator
    from ``glassnet.distributed`` (default: the job's, ``glassnet.distributed.world()``, read at
    every forward). In one process it is BatchNorm1d/2d. Eval mode uses the running statistics,
    which are the same on every rank. ``convert_sync_batchnorm(model)`` swaps a model's
    BatchNorm1d/2d layers for it."""

    _ndims = None
    _layout = "(N, {C}, ...)"

    def __init__(self, num_features, momentum=0.9, eps=1e-5, comm=None, dtype=np.float32):
        super().__init__(num_features, momentum=momentum, eps=eps, dtype=dtype)
        from ...distributed import Communicator
        if comm is not None and not isinstance(comm, Communicator):
            raise ConfigError(f"SyncBatchNorm: comm must be a glassnet.distributed Communicator or None (the job's), "
                              f"got {comm!r}")
        self.comm = comm

    def _world(self):
        if self.comm is not None:
            return self.comm
        from ...distributed import world
        return world()

    def forward(self, x):
        who = f"SyncBatchNorm({self.num_features})"
        check_float_array(x, who)
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ShapeError(f"{who}: expected input of shape (N, {self.num_features}, ...), got {describe(x)}")
        check_values(x, self, who)
        comm = self._world()
        out, cache = F_bn.sync_batchnorm_forward(x, self.gamma.data, self.beta.data, self.running_mean,
                                                 self.running_var, comm.allreduce, train=self.training,
                                                 momentum=self.momentum, eps=self.eps)
        if self.training:
            if cache.count < 2:
                raise DataError(f"{who}: training mode needs more than one value per feature over all ranks to "
                                f"compute batch statistics, got {describe(x)} on {comm.size} rank(s)")
            self.running_mean[...] = cache.running_mean
            self.running_var[...] = cache.running_var
        self._save((cache, tuple(x.shape), comm))
        return out

    def backward(self, dout):
        cache, shape, comm = self._pop()
        check_dout(dout, shape, "SyncBatchNorm")
        dx, dgamma, dbeta = F_bn.sync_batchnorm_backward(dout, cache, comm.allreduce)
        accumulate(self.gamma, dgamma)
        accumulate(self.beta, dbeta)
        return dx


def convert_sync_batchnorm(model, comm=None):
    """Replace every BatchNorm1d and BatchNorm2d inside ``model`` by a SyncBatchNorm with the same
    parameters, running statistics and settings (in place; returns the model). A model that is a
    batch-norm layer itself comes back as a new SyncBatchNorm."""
    def convert(m):
        if isinstance(m, BatchNorm1d) and not isinstance(m, SyncBatchNorm):
            new = SyncBatchNorm(m.num_features, momentum=m.momentum, eps=m.eps, comm=comm, dtype=m.gamma.dtype)
            new.load_state_dict(m.state_dict())
            new.train(m.training)
            return new
        return m

    for m in list(model.modules()):
        for name, child in list(m._modules.items()):
            new = convert(child)
            if new is not child:
                setattr(m, name, new)
    return convert(model)


def _check_input(layer, x, who, ndim_at_least, expected):
    check_float_array(x, who)
    if x.ndim < ndim_at_least:
        raise ShapeError(f"{who}: expected input of shape {expected}, got {describe(x)}")
    if layer._parameters:
        check_values(x, layer, who)


class _Standardize(Module):
    """What LayerNorm and GroupNorm share: ``gamma``/``beta`` of a given shape (or none),
    initialized to 1 and 0 and exempt from weight decay, and the backward pass (the cache
    carries the functional backward that belongs to it)."""

    def _affine(self, shape, affine, dtype):
        self.gamma = self.beta = None
        if affine:
            self.gamma = Parameter(np.empty(shape, dtype=dtype), decay=False)
            self.beta = Parameter(np.empty(shape, dtype=dtype), decay=False)
        self.init_parameters(None)

    def init_parameters(self, rng):
        if self.gamma is not None:
            self.gamma.data[...] = 1
            self.beta.data[...] = 0

    def _forward(self, forward, backward, x, *args):
        gamma, beta = (None, None) if self.gamma is None else (self.gamma.data, self.beta.data)
        out, cache = forward(x, gamma, beta, *args)
        self._save((cache, tuple(x.shape), backward))
        return out

    def backward(self, dout):
        cache, shape, backward = self._pop()
        check_dout(dout, shape, type(self).__name__)
        dx, dgamma, dbeta = backward(dout, cache)
        accumulate(self.gamma, dgamma)
        accumulate(self.beta, dbeta)
        return dx


class LayerNorm(_Standardize):
    """Layer normalization (Ba et al.): each example is standardized over its last axes, the
    ones ``normalized_shape`` names, then scaled by ``gamma`` and shifted by ``beta`` (both of
    shape ``normalized_shape``; init 1 and 0; exempt from weight decay). The same in train and
    eval mode (no running statistics). PyTorch's ``LayerNorm(normalized_shape, eps,
    elementwise_affine)``; its ``weight``/``bias`` are ``gamma``/``beta`` here.
    ``LayerNorm(64)`` normalizes the features of (N, 64) or (N, T, 64) inputs."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=np.float32):
        super().__init__()
        me = "LayerNorm"
        shape = (normalized_shape,) if not isinstance(normalized_shape, (tuple, list)) else tuple(normalized_shape)
        if not shape:
            raise ConfigError(f"{me}: normalized_shape must name at least one axis, got {normalized_shape!r}")
        self.normalized_shape = tuple(positive_int(s, me, "normalized_shape") for s in shape)
        self.eps = check_number(eps, "eps", me, lo=0.0, lo_open=True)
        self.elementwise_affine = check_bool(elementwise_affine, "elementwise_affine", me)
        self._affine(self.normalized_shape, self.elementwise_affine, dtype)

    def forward(self, x):
        n = len(self.normalized_shape)
        who = f"LayerNorm({', '.join(map(str, self.normalized_shape))})"
        expected = f"(N, ..., {', '.join(map(str, self.normalized_shape))})"
        _check_input(self, x, who, n + 1, expected)
        if tuple(x.shape[-n:]) != self.normalized_shape:
            raise ShapeError(f"{who}: expected input of shape {expected}, got {describe(x)}")
        return self._forward(F.layer_norm_forward, F.layer_norm_backward, x, n, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def config(self):
        return {"type": "LayerNorm", "normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine}


class GroupNorm(_Standardize):
    """Group normalization (Wu and He): the channels of (N, C, ...) inputs are split into
    ``num_groups`` groups of consecutive channels; each example's group is standardized over
    its channels and positions, then every channel is scaled by ``gamma`` and shifted by
    ``beta`` ((C,), init 1 and 0, exempt from weight decay). One group is layer norm over
    (C, H, W); C groups is instance norm. Independent of the batch size; the same in train and
    eval mode. PyTorch's ``GroupNorm(num_groups, num_channels, eps, affine)``."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=np.float32):
        super().__init__()
        me = "GroupNorm"
        self.num_groups = positive_int(num_groups, me, "num_groups")
        self.num_channels = positive_int(num_channels, me, "num_channels")
        if self.num_channels % self.num_groups:
            raise ConfigError(f"{me}: num_channels ({self.num_channels}) must be divisible by num_groups "
                              f"({self.num_groups})")
        self.eps = check_number(eps, "eps", me, lo=0.0, lo_open=True)
        self.affine = check_bool(affine, "affine", me)
        self._affine(self.num_channels, self.affine, dtype)

    def forward(self, x):
        who = f"GroupNorm({self.num_groups}, {self.num_channels})"
        _check_input(self, x, who, 2, f"(N, {self.num_channels}, ...)")
        if x.shape[1] != self.num_channels:
            raise ShapeError(f"{who}: expected input of shape (N, {self.num_channels}, ...), got {describe(x)}")
        return self._forward(F.group_norm_forward, F.group_norm_backward, x, self.num_groups, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def config(self):
        return {"type": "GroupNorm", "num_groups": self.num_groups, "num_channels": self.num_channels,
                "eps": self.eps, "affine": self.affine}


class LocalResponseNorm(Module):
    """Local response normalization across channels (AlexNet): each channel of (N, C, ...) is
    divided by ``(k + alpha / size * sum of the squares of the size neighbouring channels) **
    beta`` (the window centred on the channel, zeros beyond the edges). No parameters.
    PyTorch's ``LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0)``; AlexNet used size 5,
    alpha 1e-4, beta 0.75, k 2."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        me = "LocalResponseNorm"
        self.size = positive_int(size, me, "size")
        self.alpha = check_number(alpha, "alpha", me)
        self.beta = check_number(beta, "beta", me)
        self.k = check_number(k, "k", me, lo=0.0, lo_open=True)

    def forward(self, x):
        who = f"LocalResponseNorm({self.size})"
        _check_input(self, x, who, 3, "(N, C, ...) with at least one position axis")
        out, cache = F.local_response_norm_forward(x, self.size, self.alpha, self.beta, self.k)
        self._save(cache)
        return out

    def backward(self, dout):
        cache = self._pop()
        check_dout(dout, cache.out.shape, "LocalResponseNorm")
        return F.local_response_norm_backward(dout, cache)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def config(self):
        return {"type": "LocalResponseNorm", "size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}
