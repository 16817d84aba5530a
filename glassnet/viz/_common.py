"""What every visualization needs: the model in eval mode with its state restored afterwards,
inputs as the model's dtype, layers found by dotted name, and a backward pass that leaves the
parameters' gradients alone."""
from __future__ import annotations

import contextlib

import numpy as np

from .._checks import check_examples
from ..nn.module import as_model_input
from ..errors import ConfigError


def as_input(model, X, who):
    """``X`` checked (rows of finite numbers), in the model's dtype and on its device."""
    return as_model_input(model, check_examples(X, who))


def find_layer(model, layer, who):
    """(dotted name, module) of ``layer``: a dotted name from ``model.named_modules()`` or a
    module inside ``model``."""
    names = [(n, m) for n, m in model.named_modules() if n]
    if isinstance(layer, str):
        for n, m in names:
            if n == layer:
                return n, m
        shown = ", ".join(f"{n} ({type(m).__name__})" for n, m in names[:30])
        raise ConfigError(f"{who}: no layer named {layer!r} in the model; its layers: {shown}")
    for n, m in names:
        if m is layer:
            return n, m
    raise ConfigError(f"{who}: layer must be a dotted name or a module inside the model, got "
                      f"{type(layer).__name__}")


@contextlib.contextmanager
def inspecting(model):
    """The model in eval mode with no gradient accumulated into its parameters (their
    ``requires_grad`` is off for the duration; their gradients are not touched); training mode,
    the flags and empty caches are restored afterwards."""
    was_training = model.training
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    model.eval()
    for p in params:
        p.requires_grad = False
    try:
        yield model
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad = flag
        model.clear_cache()
        model.train(was_training)


def targets_for(target, n, n_classes, who):
    """One class index per row: an int for all rows, or an array of n ints, in [0, n_classes)."""
    t = np.asarray(target)
    if t.ndim == 0:
        t = np.full(n, int(t))
    if t.shape != (n,) or t.dtype.kind not in "iu":
        raise ConfigError(f"{who}: target must be a class index or one per input ({n}), got {target!r}"[:200])
    if n and (int(t.min()) < 0 or int(t.max()) >= n_classes):
        raise ConfigError(f"{who}: target must lie in [0, {n_classes - 1}] for a model with {n_classes} "
                          f"outputs, got {int(t.min())}..{int(t.max())}")
    return t.astype(np.int64)


def batches(n, batch_size):
    for s in range(0, n, batch_size):
        yield s, min(n, s + batch_size)
