"""Anomaly mode: name the first module that produces NaN or inf.

Values are checked where data enters glassnet (``Trainer.fit``/``evaluate``/``predict``) and at
the loss, once per batch. Inside ``with detect_anomaly(model):`` every module is also checked
through forward and backward hooks, in the order the passes run, so the error names the first
one whose parameters, output, input gradient or parameter gradients are not finite. It costs
one scan of every array per module: for hunting a NaN, not for every run (PyTorch's
``torch.autograd.detect_anomaly`` plays the same role).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .._checks import all_finite
from ..errors import NonFiniteError


def _label(name, m):
    return f"module '{name or type(m).__name__}' ({type(m).__name__})"


def _arrays(value):
    """The arrays in a forward output or gradient (an array, or a list/tuple of them, or None)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    return [value] if getattr(value, "dtype", None) is not None else []


def _forward_check(name):
    def hook(m, inputs, out):
        label = _label(name, m)
        for pn, p in m._parameters.items():
            if not all_finite(p.data):
                raise NonFiniteError(f"first non-finite value: parameter {pn} of {label} holds NaN/inf "
                                     f"(a previous update blew it up)", where=f"{name or type(m).__name__}.{pn}")
        if not all(all_finite(a) for a in _arrays(out)):
            raise NonFiniteError(f"first non-finite value: the output of {label} (forward pass)",
                                 where=name or type(m).__name__)
    return hook


def _backward_check(name):
    def hook(m, grad_input, grad_output):
        label = _label(name, m)
        for pn, p in m._parameters.items():
            if p._grad is not None and not all_finite(p._grad):
                raise NonFiniteError(f"first non-finite value: the gradient of parameter {pn} of {label} "
                                     f"(backward pass)", where=f"{name or type(m).__name__}.{pn}")
        if not all(all_finite(a) for a in _arrays(grad_input)):
            raise NonFiniteError(f"first non-finite value: the input gradient of {label} (backward pass)",
                                 where=name or type(m).__name__)
    return hook


@contextmanager
def detect_anomaly(model):
    """Inside this block, every forward and backward of ``model``'s modules raises
    NonFiniteError naming the first module (by dotted name) whose parameters, output or
    gradients hold NaN or inf; NumPy's floating-point warnings are silenced (the error says it)."""
    handles = []
    for name, m in model.named_modules():
        handles.append(m.register_forward_hook(_forward_check(name)))
        handles.append(m.register_backward_hook(_backward_check(name)))
    try:
        with np.errstate(all="ignore"):
            yield model
    finally:
        for h in handles:
            h.remove()


__all__ = ["detect_anomaly"]
