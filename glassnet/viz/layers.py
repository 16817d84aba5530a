"""Looking at layers: their activations for some inputs, their filters, the receptive field of
their units and the inputs that activate a unit most (the notes' "Visualizing what ConvNets
learn": activations, first-layer weights, maximally activating images)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import check_int
from ..errors import ConfigError
from ..nn import layers as L
from ..nn.containers import Sequential
from ..backend import as_numpy
from ._common import as_input, batches, find_layer, inspecting

__all__ = ["activations", "filters", "receptive_field", "ReceptiveField", "max_activating", "MaxActivating"]


def activations(model, X, layers=None, batch_size=256):
    """{dotted layer name: its output for every row of ``X``} (NumPy arrays), captured by forward
    hooks in eval mode. ``layers``: names or modules (default: every layer that is not a
    container)."""
    who = "viz.activations"
    X = as_input(model, X, who)
    batch_size = check_int(batch_size, "batch_size", who, lo=1)
    if layers is None:
        chosen = [(n, m) for n, m in model.named_modules() if n and not m._modules]
    else:
        chosen = [find_layer(model, layer, who) for layer in ([layers] if isinstance(layers, str) else layers)]
    outs = {n: [] for n, _ in chosen}
    handles = [m.register_forward_hook(lambda mod, inputs, out, n=n: outs[n].append(as_numpy(out)))
               for n, m in chosen]
    try:
        with inspecting(model):
            for s, e in batches(len(X), batch_size):
                model.forward(X[s:e])
    finally:
        for h in handles:
            h.remove()
    return {n: np.concatenate(v, axis=0) for n, v in outs.items() if v}


def filters(layer, normalize=True):
    """The weights of a Conv2d/Conv1d (or Linear) layer as images: (F, C, kh, kw) for a conv layer
    (one kh x kw image per output and input channel; a first layer with 3 input channels is read
    as colour), (F, 1, 1, k) for Conv1d, (out, 1, 1, in) for Linear. With ``normalize`` each
    filter is scaled to [0, 1] on its own (its minimum to 0, its maximum to 1), as the notes'
    pictures are."""
    if isinstance(layer, L.Conv2d):
        w = as_numpy(layer.W.data).astype(np.float64)
    elif isinstance(layer, L.Conv1d):
        w = as_numpy(layer.W.data).astype(np.float64)[:, :, None, :]
    elif isinstance(layer, L.Linear):
        w = as_numpy(layer.W.data).astype(np.float64).T[:, None, None, :]
    else:
        raise ConfigError(f"viz.filters: expected a Conv2d, Conv1d or Linear layer, got {type(layer).__name__}")
    if normalize:
        lo = w.min(axis=(1, 2, 3), keepdims=True)
        span = w.max(axis=(1, 2, 3), keepdims=True) - lo
        w = (w - lo) / np.where(span > 0, span, 1.0)
    return w


# -- receptive fields --------------------------------------------------------------------------------------------
class ReceptiveField(NamedTuple):
    """Unit (i, j) of a layer depends on the input rows ``offset[0] + i*stride[0]`` to that plus
    ``size[0] - 1`` (and the same for columns), clipped to the image. An offset below 0 means the
    field starts in the padding."""
    size: tuple
    stride: tuple
    offset: tuple

    def window(self, i, j=0):
        """(row start, row stop, column start, column stop) of unit (i, j), unclipped."""
        r0 = self.offset[0] + i * self.stride[0]
        c0 = self.offset[1] + j * self.stride[1]
        return r0, r0 + self.size[0], c0, c0 + self.size[1]


_PASS_THROUGH = (L.ReLU, L.LeakyReLU, L.Sigmoid, L.Tanh, L.Dropout, L.BatchNorm1d, L.BatchNorm2d, L.GroupNorm,
                 L.LocalResponseNorm)


def _geometry(module):
    """(kernel, stride, padding, dilation) pairs of a layer that moves windows, else None."""
    if isinstance(module, L.Conv2d):
        return module._k, module._s, module._p, module._d
    if isinstance(module, L.Conv1d):
        return module._k, module._s, module._p, module._d
    if isinstance(module, (L.MaxPool2d, L.AvgPool2d, L.MaxPool1d, L.AvgPool1d)):
        return module._k, module._s, module._p, (1, 1)
    return None


def _chain(model):
    """The layers of a (nested) Sequential in the order data flows through them."""
    if isinstance(model, Sequential):
        for m in model:
            yield from _chain(m)
    else:
        yield model


def receptive_field(model, layer):
    """The receptive field of one unit of ``layer`` (a dotted name or module) in input pixels:
    size, stride between neighbouring units and offset of unit (0, 0), from the geometry of the
    convolutions and pools before it (element-wise layers and batch norm pass it through).
    For 1-D layers the first axis is trivial (size 1)."""
    who = "viz.receptive_field"
    _, target = find_layer(model, layer, who)
    size, stride, offset = [1, 1], [1, 1], [0, 0]
    moved = False  # a Reshape before any window only lays the input out as an image
    for m in _chain(model):
        geo = _geometry(m)
        if isinstance(m, (L.Reshape, L.Identity)) and not moved:
            pass
        elif geo is not None:
            moved = True
            k, s, p, d = geo
            for a in (0, 1):
                offset[a] -= p[a] * stride[a]
                size[a] += (d[a] * (k[a] - 1)) * stride[a]
                stride[a] *= s[a]
        elif not isinstance(m, _PASS_THROUGH) and m is not target:
            raise ConfigError(f"{who}: cannot follow the receptive field through {type(m).__name__} "
                              f"(only convolutions, pools and element-wise layers in a Sequential)")
        if m is target:
            return ReceptiveField(tuple(size), tuple(stride), tuple(offset))
    raise ConfigError(f"{who}: {layer!r} is not on the model's main path (a layer of a Sequential chain)")


# -- maximally activating inputs ----------------------------------------------------------------------------------
class MaxActivating(NamedTuple):
    indices: np.ndarray  # (k,) rows of X, most activating first
    values: np.ndarray  # (k,) the unit's activation (a channel: its maximum over positions)
    positions: np.ndarray  # (k, 2) where in the channel's map the maximum is ((0, 0) for a dense unit)
    patches: np.ndarray  # (k, C, size_h, size_w): the inputs cropped to that position's receptive field


def max_activating(model, X, layer, unit, k=9, batch_size=256):
    """The ``k`` rows of ``X`` that activate ``unit`` of ``layer`` most: for a convolution (or
    pool) a channel, scored by its maximum over positions; for a dense layer an output feature.
    Returns their indices, values, the position of each maximum and the input patches under
    the unit's receptive field at that position (zeros where it reaches past the image), in
    batches of ``batch_size`` inputs (memory bounded by one batch's activations)."""
    who = "viz.max_activating"
    name, module = find_layer(model, layer, who)
    X = as_input(model, X, who)
    k = check_int(k, "k", who, lo=1)
    batch_size = check_int(batch_size, "batch_size", who, lo=1)
    unit = check_int(unit, "unit", who, lo=0)
    values, positions = [], []
    seen, dense = {}, True

    def grab(mod, inputs, out):
        seen["out"] = as_numpy(out)

    handle = module.register_forward_hook(grab)
    try:
        with inspecting(model):
            for s, e in batches(len(X), batch_size):
                model.forward(X[s:e])
                out = seen.pop("out")
                if unit >= out.shape[1]:
                    raise ConfigError(f"{who}: unit must lie in [0, {out.shape[1] - 1}] for {name} "
                                      f"({out.shape[1]} channels or features), got {unit}")
                a = out[:, unit]
                dense = a.ndim == 1
                if dense:
                    values.append(a)
                    positions.append(np.zeros((len(a), 2), np.int64))
                else:
                    flat = a.reshape(len(a), -1)
                    arg = flat.argmax(axis=1)
                    values.append(flat[np.arange(len(a)), arg])
                    grid = a.shape[1:] if a.ndim == 3 else (1,) + a.shape[1:]
                    positions.append(np.stack(np.unravel_index(arg, grid), axis=1))
    finally:
        handle.remove()
    values, positions = np.concatenate(values), np.concatenate(positions)
    top = np.argsort(-values, kind="stable")[:k]
    Xh = as_numpy(X)
    if Xh.ndim == 3:
        Xh = Xh[:, :, None, :]
    if not dense:
        rf = receptive_field(model, module)
        patches = np.stack([_crop(Xh[i], rf, *positions[i]) for i in top])
    else:  # a dense unit sees the whole input
        patches = Xh[top] if Xh.ndim == 4 else Xh[top].reshape(len(top), 1, 1, -1)
    return MaxActivating(top, values[top], positions[top], patches)


def _crop(image, rf, i, j):
    """image (C, H, W) under the receptive field of unit (i, j), zero where it leaves the image."""
    C, H, W = image.shape
    r0, r1, c0, c1 = rf.window(i, j)
    patch = np.zeros((C, r1 - r0, c1 - c0), image.dtype)
    rs, re, cs, ce = max(r0, 0), min(r1, H), max(c0, 0), min(c1, W)
    if rs < re and cs < ce:
        patch[:, rs - r0:re - r0, cs - c0:ce - c0] = image[:, rs:re, cs:ce]
    return patch
