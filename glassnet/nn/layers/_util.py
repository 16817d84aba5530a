"""Small helpers shared by the layers."""
from __future__ import annotations

import math

import numpy as np

from ..._checks import as_generator, check_dtype_match, check_float_array, describe, positive_int
from ...backend import DeviceMismatchError, device_of, get_array_module
from ...errors import ShapeError


def check_features(layer, x, n_features: int, who: str):
    """Validate a float input of shape (N, ...) whose trailing dims hold ``n_features``."""
    if type(x) is np.ndarray and x.ndim == 2 and x.shape[1] == n_features:  # the common case, in short
        p = next(iter(layer._parameters.values()), None)
        if p is not None and type(p.data) is np.ndarray and x.dtype == p.data.dtype:
            return
    check_float_array(x, who)
    if x.ndim < 2:
        raise ShapeError(f"{who}: expected input of shape (N, {n_features}) (a batch of rows), got "
                         f"{describe(x)}; for a single example use x[None, :]")
    got = math.prod(x.shape[1:])
    if got != n_features:
        raise ShapeError(f"{who}: expected {n_features} input features per example, i.e. shape "
                         f"(N, {n_features}), got {describe(x)} ({got} features)")
    check_values(x, layer, who)


def check_values(x, layer, who: str):
    """The input's dtype matches the layer's parameters and it is on their device. (Values are
    checked for NaN/inf where data enters glassnet and at the loss; ``glassnet.detect_anomaly``
    names the first module producing one.)"""
    check_dtype_match(x, layer.dtype, who)
    check_same_device(x, layer, who)


def check_same_device(x, layer, who: str):
    """One clear error when a NumPy input meets CuPy parameters (or the reverse)."""
    p = next(iter(layer._parameters.values()), None)
    if p is not None:
        try:
            get_array_module(x, p.data)
        except DeviceMismatchError:
            raise DeviceMismatchError(
                f"{who}: the input is on {device_of(x)} but the layer's parameters are on {device_of(p.data)}; "
                f"move one of them: glassnet.backend.to_device(x, '{device_of(p.data)}') or "
                f"model.to('{device_of(x)}')") from None


def check_dout(dout, shape, who: str):
    if tuple(dout.shape) != tuple(shape):
        raise ShapeError(f"{who}.backward: upstream gradient must have the output's shape "
                         f"{tuple(shape)}, got {describe(dout)}")


def accumulate(param, grad):
    """``param.accumulate(grad)`` unless the parameter is absent (None) or frozen."""
    if param is not None and param.requires_grad:
        param.accumulate(grad)


def fill(param, values):
    """Write (NumPy) ``values`` into a Parameter in place, on whatever device it lives."""
    xp = get_array_module(param.data)
    param.data[...] = xp.asarray(values)


__all__ = ["as_generator", "positive_int", "check_features", "check_values", "check_dout", "fill", "accumulate"]
