"""Losses: each takes scores (logits) and targets, returns the batch-mean loss as a float,
and ``backward()`` gives d(loss)/d(scores).

``loss = criterion(scores, target); dscores = criterion.backward()``.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import kernels
from .._checks import (
    check_finite,
    check_int,
    check_float_array,
    check_labels,
    check_ndim,
    check_number,
    describe,
)
from ..backend import get_array_module
from ..errors import DataError, ShapeError
from .module import Module


class Loss(Module):
    """Base class: ``forward(scores, target) -> float``; ``backward(dloss=1.0) -> dscores``."""

    #: "labels" (integer classes), "labels_or_probs", "binary" or "real": what targets it takes
    target_kind = "real"
    #: True when the scores are class scores (enables accuracy and the confusion matrix)
    is_classifier = False
    _fwd = _bwd = None

    def __call__(self, scores, target):
        return self.forward(scores, target)

    def _validate(self, scores, target):
        who = type(self).__name__
        check_float_array(scores, who, "scores")
        if scores.ndim and scores.shape[0] == 0:
            raise DataError(f"{who}: no examples (scores of shape {tuple(scores.shape)}): the loss is a mean "
                            f"over the batch's examples and is undefined for none")
        check_finite(scores, who, "scores")
        return target

    def forward(self, scores, target):
        target = self._validate(scores, target)
        loss, cache = type(self)._fwd(scores, target)
        self._save((cache, scores.shape))
        return loss

    def backward(self, dloss=1.0):
        cache, _ = self._pop()
        return type(self)._bwd(cache, dloss)

    def config(self):
        return {"type": type(self).__name__}


def _class_scores(who, scores):
    check_ndim(scores, who, 2, "scores array", "of shape (N, C) (one row of class scores per example)")


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of softmax(scores) with integer labels (N,) or probability targets (N, C).

    L = -(1/N) sum_i log softmax(s_i)[y_i]; stable for scores of any magnitude.

    Sequences: scores (N, T, C) (one row of class scores per step, as ``TimeDistributed(Linear)``
    gives) with integer labels (N, T); the loss is the mean over every step. ``ignore_index``
    (PyTorch's name): steps whose label equals it (padding) take no part, the mean is over the
    others, and their scores get zero gradient.
    """
    target_kind = "labels_or_probs"
    is_classifier = True

    def __init__(self, ignore_index=None):
        super().__init__()
        self.ignore_index = None if ignore_index is None else check_int(ignore_index, "ignore_index",
                                                                        "SoftmaxCrossEntropy")

    def forward(self, scores, target):
        shape = tuple(getattr(scores, "shape", ()))
        keep = None
        if len(shape) == 3:  # per-step scores: the steps become rows
            who = "SoftmaxCrossEntropy"
            check_float_array(scores, who, "scores")
            if not hasattr(target, "dtype") or target.dtype.kind not in "iu" or tuple(target.shape) != shape[:2]:
                raise ShapeError(f"{who}: per-step scores of shape (N, T, C) = {shape} need integer labels of shape "
                                 f"{shape[:2]}, got {describe(target)}")
            scores, target = scores.reshape(shape[0] * shape[1], shape[2]), target.reshape(shape[0] * shape[1])
        if self.ignore_index is not None and getattr(target, "ndim", 0) == 1:
            xp = get_array_module(target)
            keep = xp.flatnonzero(target != self.ignore_index)
            if keep.size == 0:
                raise DataError(f"SoftmaxCrossEntropy: every label is ignore_index={self.ignore_index}; "
                                f"there is nothing to average")
            if keep.size == target.size:
                keep = None
            else:
                scores, target = scores[keep], target[keep]
        # The checks go to the operation as ``validate``: the reference runs them first; a kernel
        # that finds bad values in its own pass (NaN, a label out of range) runs them only then, to
        # raise the named error. A subclass with its own checks has them run first, always.
        if type(self)._validate is SoftmaxCrossEntropy._validate:
            loss, cache = kernels.forward("softmax_cross_entropy", scores, target, validate=self._validate)
        else:
            loss, cache = kernels.forward("softmax_cross_entropy", scores, self._validate(scores, target))
        self._save((cache, shape, keep))
        return loss

    def backward(self, dloss=1.0):
        cache, shape, keep = self._pop()
        d = kernels.backward("softmax_cross_entropy", dloss, cache)
        if keep is not None:  # the ignored rows get zero gradient
            full = get_array_module(d).zeros((int(np.prod(shape[:-1])), shape[-1]), dtype=d.dtype)
            full[keep] = d
            d = full
        return d if tuple(d.shape) == tuple(shape) else d.reshape(shape)

    def config(self):
        return {"type": "SoftmaxCrossEntropy"} if self.ignore_index is None else \
            {"type": "SoftmaxCrossEntropy", "ignore_index": self.ignore_index}

    def _validate(self, scores, target):
        who = "SoftmaxCrossEntropy"
        super()._validate(scores, target)
        _class_scores(who, scores)
        n, c = scores.shape
        if getattr(target, "ndim", None) == 2 and target.dtype.kind == "f":
            if target.shape != scores.shape:
                raise ShapeError(f"{who}: probability targets must have the scores' shape {(n, c)}, "
                                 f"got {describe(target)}")
            check_finite(target, who, "target")
            if bool((target < 0).any()):
                raise DataError(f"{who}: probability targets must be non-negative")
            return target.astype(scores.dtype, copy=False)
        check_labels(target, c, n, who)
        return target


class MulticlassHinge(Loss):
    """The multiclass SVM loss: L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + delta), batch mean."""
    target_kind = "labels"
    is_classifier = True
    has_kinks = True

    def __init__(self, delta=1.0):
        super().__init__()
        self.delta = check_number(delta, "delta", "MulticlassHinge", lo=0.0)

    def _validate(self, scores, target):
        super()._validate(scores, target)
        _class_scores("MulticlassHinge", scores)
        check_labels(target, scores.shape[1], scores.shape[0], "MulticlassHinge")
        return target

    def _fwd(self, scores, target):
        return F.multiclass_hinge_forward(scores, target, self.delta)

    def forward(self, scores, target):
        target = self._validate(scores, target)
        loss, cache = self._fwd(scores, target)
        self._save((cache, scores.shape))
        return loss

    _bwd = staticmethod(F.multiclass_hinge_backward)

    def config(self):
        return {"type": "MulticlassHinge", "delta": self.delta}


def _same_shape_target(who, scores, target):
    if not hasattr(target, "shape"):
        raise TypeError(f"{who}: target must be an array, got {type(target).__name__}")
    if tuple(target.shape) != tuple(scores.shape):
        hint = ""
        if target.ndim == 1 and scores.ndim == 2 and scores.shape[1] == 1:
            hint = "; reshape it with target[:, None]"
        raise ShapeError(f"{who}: target must have the scores' shape {tuple(scores.shape)}, "
                         f"got {describe(target)}{hint}")
    if target.dtype.kind not in "fiub":
        raise TypeError(f"{who}: numeric target expected, got {describe(target)}")
    target = target.astype(scores.dtype, copy=False)
    check_finite(target, who, "target")
    return target


class BCEWithLogits(Loss):
    """Binary cross-entropy on logits (PyTorch's ``BCEWithLogitsLoss``, Keras's
    ``BinaryCrossentropy(from_logits=True)``), for binary and multi-label targets in [0, 1].

    L = mean over all elements of -[t log s(x) + (1 - t) log(1 - s(x))], computed stably.
    """
    target_kind = "binary"
    _fwd = staticmethod(F.binary_cross_entropy_with_logits_forward)
    _bwd = staticmethod(F.binary_cross_entropy_with_logits_backward)

    def _validate(self, scores, target):
        super()._validate(scores, target)
        target = _same_shape_target("BCEWithLogits", scores, target)
        if bool(((target < 0) | (target > 1)).any()):
            xp = get_array_module(target)
            raise DataError(f"BCEWithLogits: targets must lie in [0, 1], got values from "
                             f"{float(xp.min(target))} to {float(xp.max(target))}")
        return target


class MSE(Loss):
    """Mean squared error over all elements: L = mean((s - t)^2)."""
    _fwd = staticmethod(F.mse_forward)
    _bwd = staticmethod(F.mse_backward)

    def _validate(self, scores, target):
        super()._validate(scores, target)
        return _same_shape_target("MSE", scores, target)


class KLDivergence(Loss):
    """D_KL(target || softmax(scores)), batch mean; targets are distributions (N, C)."""
    target_kind = "probs"
    is_classifier = True
    _fwd = staticmethod(F.kl_divergence_forward)
    _bwd = staticmethod(F.kl_divergence_backward)

    def _validate(self, scores, target):
        super()._validate(scores, target)
        _class_scores("KLDivergence", scores)
        target = _same_shape_target("KLDivergence", scores, target)
        if bool((target < 0).any()):
            raise DataError("KLDivergence: target distributions must be non-negative")
        return target


__all__ = ["Loss", "SoftmaxCrossEntropy", "MulticlassHinge", "BCEWithLogits", "MSE", "KLDivergence"]
