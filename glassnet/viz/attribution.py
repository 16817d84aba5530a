"""Which input pixels a class score depends on: saliency maps (Simonyan et al., 2014), guided
backpropagation (Springenberg et al., 2015), Grad-CAM (Selvaraju et al., 2017) and the notes'
occlusion maps. The gradient methods run glassnet's own backward passes (with module hooks
where a method changes a layer's backward); the model is left as it was: eval mode during,
its mode restored, no gradient added to any parameter."""
from __future__ import annotations

import numpy as np

from .._checks import check_int, check_int_pair, check_number
from ..backend import get_array_module
from ..errors import ConfigError, ShapeError
from ..functional.activations import softmax
from ..nn import layers as L
from ..nn.containers import Sequential
from ..backend import as_numpy
from ._common import as_input, batches, find_layer, inspecting, targets_for

__all__ = ["saliency", "guided_backprop", "grad_cam", "occlusion"]


def _seed(scores, t):
    """d score[target] / d scores: one-hot rows (the gradient each backward pass starts from)."""
    xp = get_array_module(scores)
    seed = xp.zeros_like(scores)
    seed[xp.arange(len(scores)), xp.asarray(t)] = 1
    return seed


def _input_gradient(model, X, target, who, batch_size):
    """d score[target] / d input for every row (the scores are the model's outputs)."""
    X = as_input(model, X, who)
    batch_size = check_int(batch_size, "batch_size", who, lo=1)
    grads, t = [], None
    with inspecting(model):
        for s, e in batches(len(X), batch_size):
            scores = model.forward(X[s:e])
            if scores.ndim != 2:
                raise ShapeError(f"{who}: the model must output class scores (N, K), got shape {tuple(scores.shape)}")
            if t is None:
                t = targets_for(target, len(X), scores.shape[1], who)
            grads.append(as_numpy(model.backward(_seed(scores, t[s:e]))))
    return np.concatenate(grads, axis=0)


def saliency(model, X, target, batch_size=256):
    """|d score_target / d input| for every input (the shape of ``X``): which pixels would change
    the class score most. ``target``: a class index, or one per row. (Simonyan et al. take the
    maximum over colour channels for a picture: ``saliency(...).max(axis=1)``.)"""
    return np.abs(_input_gradient(model, X, target, "viz.saliency", batch_size))


def guided_backprop(model, X, target, batch_size=256):
    """The gradient of the target score with every ReLU's backward letting only positive
    gradients through (Springenberg et al.): sharper pictures of what a unit looks for. The
    ReLUs' backward is changed through backward hooks for the duration of the call only."""
    relus = [m for m in model.modules() if isinstance(m, L.ReLU)]
    if not relus:
        raise ConfigError("viz.guided_backprop: the model has no ReLU layers (guided backpropagation "
                          "changes their backward pass); use saliency")

    def positive(module, grad_input, grad_output):
        g = grad_input[0]
        return (None,) if g is None else (get_array_module(g).maximum(g, 0),)

    handles = [m.register_backward_hook(positive) for m in relus]
    try:
        return _input_gradient(model, X, target, "viz.guided_backprop", batch_size)
    finally:
        for h in handles:
            h.remove()


def grad_cam(model, X, target, layer, relu=True, batch_size=256):
    """Grad-CAM (Selvaraju et al.) at ``layer`` (a convolution or anything with (N, C, H, W) or
    (N, C, L) outputs): each channel's map weighted by the mean gradient of the target score over
    its positions, summed over channels, then (``relu``) only the positive part. Returns
    (N, H, W) (or (N, L)) at the layer's resolution."""
    who = "viz.grad_cam"
    name, module = find_layer(model, layer, who)
    X = as_input(model, X, who)
    batch_size = check_int(batch_size, "batch_size", who, lo=1)
    seen = {}
    hooks = [module.register_forward_hook(lambda m, inputs, out: seen.__setitem__("A", out)),
             module.register_backward_hook(lambda m, grad_input, grad_output: seen.__setitem__("dA", grad_output[0]))]
    maps, t = [], None
    try:
        with inspecting(model):
            for s, e in batches(len(X), batch_size):
                scores = model.forward(X[s:e])
                A = seen.pop("A")
                if A.ndim not in (3, 4):
                    raise ShapeError(f"{who}: {name} must output feature maps (N, C, H, W) or (N, C, L), got shape "
                                     f"{tuple(A.shape)}")
                if t is None:
                    t = targets_for(target, len(X), scores.shape[1], who)
                model.backward(_seed(scores, t[s:e]), need_input_grad=False)  # wanted at the layer, not the input
                dA = seen.pop("dA")
                axes = tuple(range(2, A.ndim))
                weights = dA.mean(axis=axes, keepdims=True)  # (n, C, 1, 1): each channel's importance
                cam = (weights * A).sum(axis=1)
                maps.append(as_numpy(get_array_module(cam).maximum(cam, 0) if relu else cam))
    finally:
        for h in hooks:
            h.remove()
    return np.concatenate(maps, axis=0)


def occlusion(model, X, target, window=(8, 8), stride=(4, 4), baseline=0.0, batch_size=256):
    """The notes' occlusion maps: for each image (N, C, H, W), the probability the model gives
    ``target`` while a ``window`` of every channel is set to ``baseline``, for each position of
    the window: rows 0, sh, 2*sh, ... until the window has reached the last row (the last
    window may stick out of the image and is clipped, so that every pixel is occluded at least
    once; Captum's positions). Returns (N, nH, nW) with ``nH = ceil((H - wh) / sh) + 1``; a
    low value marks a region the decision depends on. Signals (N, C, L) and feature rows (N, D)
    are occluded along their last axis (``window`` and ``stride`` ints, or pairs whose first
    entry is 1) and give (N, nL). Occluded copies are built and scored ``batch_size`` at a
    time (bounded memory). Probabilities are the softmax of the model's outputs (the outputs
    themselves when the last layer is Softmax)."""
    who = "viz.occlusion"
    X = as_input(model, X, who)
    if X.ndim not in (2, 3, 4):
        raise ShapeError(f"{who}: expected images (N, C, H, W), signals (N, C, L) or rows (N, D), got shape "
                         f"{tuple(X.shape)}")
    flat = X.ndim < 4
    if flat:  # one row of pixels: windows move along the last axis only
        window = (1, window) if not isinstance(window, (tuple, list)) else window
        stride = (1, stride) if not isinstance(stride, (tuple, list)) else stride
    (wh, ww), (sh, sw) = check_int_pair(window, "window", who, lo=1), check_int_pair(stride, "stride", who, lo=1)
    baseline = check_number(baseline, "baseline", who)
    X4 = X.reshape(len(X), -1, 1, X.shape[-1]) if flat else X
    N, C, H, W = X4.shape
    if wh > H or ww > W:
        raise ConfigError(f"{who}: window {(wh, ww) if not flat else ww} is larger than the inputs "
                          f"{(H, W) if not flat else W}")
    batch_size = check_int(batch_size, "batch_size", who, lo=1)
    rows = range(0, sh * (-(-(H - wh) // sh)) + 1, sh)
    cols = range(0, sw * (-(-(W - ww) // sw)) + 1, sw)
    positions = [(r, c) for r in rows for c in cols]
    probs_out = _probabilities(model)
    xp = get_array_module(X)
    out = np.empty((N, len(positions)))
    t = None
    with inspecting(model):
        for i in range(N):
            image = X4[i]
            for s, e in batches(len(positions), batch_size):
                batch = xp.broadcast_to(image, (e - s,) + image.shape).copy()
                for b, (r, c) in enumerate(positions[s:e]):
                    batch[b, :, r:r + wh, c:c + ww] = baseline
                p = probs_out(model.forward(batch.reshape((e - s,) + X.shape[1:]) if flat else batch))
                if t is None:
                    t = targets_for(target, N, p.shape[1], who)
                out[i, s:e] = as_numpy(p[:, int(t[i])])
    return out.reshape(N, len(cols)) if flat else out.reshape(N, len(rows), len(cols))


def _probabilities(model):
    """How to turn the model's outputs into probabilities: as they are after a final Softmax,
    else their softmax."""
    last = model
    while isinstance(last, Sequential) and len(last):
        last = last[len(last) - 1]
    if isinstance(last, L.Softmax):
        return lambda out: out
    return lambda out: softmax(out, axis=1)
