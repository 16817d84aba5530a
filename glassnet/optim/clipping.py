"""Gradient clipping by the global norm over all gradients, and by value."""
from __future__ import annotations

import math

from .._checks import check_number
from ..backend import get_array_module
from .penalties import _named_params


def _grads(params):
    return [p.grad for _, p in _named_params(params) if p.requires_grad]


def global_grad_norm(params) -> float:
    """sqrt(sum of squared gradient entries over all parameters)."""
    return math.sqrt(sum(float(g.ravel() @ g.ravel()) for g in _grads(params)))


def clip_grad_norm(params, max_norm) -> float:
    """Scale all gradients by ``max_norm / max(global_norm, max_norm)`` in place.

    The direction is unchanged and the global norm becomes at most ``max_norm``. Returns the
    global norm before clipping (the notes' ``tf.clip_by_global_norm``).
    """
    check_number(max_norm, "max_norm", "clip_grad_norm", lo=0.0, lo_open=True)
    total = global_grad_norm(params)
    if total > max_norm:
        scale = max_norm / total
        for g in _grads(params):
            g *= scale
    return total


def clip_grad_value(params, limit):
    """Clip every gradient entry to [-limit, limit] in place."""
    check_number(limit, "limit", "clip_grad_value", lo=0.0, lo_open=True)
    for g in _grads(params):
        get_array_module(g).clip(g, -limit, limit, out=g)


__all__ = ["clip_grad_norm", "clip_grad_value", "global_grad_norm"]
