"""Softmax cross-entropy with integer labels, faster: the reference is ``functional.losses``.

- "narrow" (NumPy scores with at most 64 classes, integer labels): the reference's arithmetic
  with softmax's short-row reductions (``activations.narrow_rows``), for NumPy without Numba.
- "numba" (NumPy scores (N, C) float32/float64, contiguous integer labels (N,)): the loss and
  the gradient ``(softmax(s) - onehot(y)) / N`` in one pass over each row instead of about
  fifteen NumPy calls. The same pass finds a non-finite score or a label out of range; only
  then is the caller's ``validate`` run (which raises the named error), so valid batches are
  not scanned twice. It calls the C library's exp and log (NumPy's vectorized ones differ in
  the last bit) and sums the rows' losses in float64: equal to the reference to float rounding.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..functional import losses as L
from . import Kernel, _numba, register
from . import activations as A


class GradientCache(NamedTuple):
    grad: object  # d(loss)/d(scores) at dloss = 1


def _softmax_xent(s, y, d, scale):  # pragma: no cover - compiled
    N, C = s.shape
    total = 0.0  # float64 accumulator
    for n in range(N):
        row, d_n = s[n], d[n]
        top = row[0]
        for j in range(1, C):
            top = max(top, row[j])
        z = row[0] - row[0]  # zero in the scores' precision
        bad = z  # stays 0 unless a score is NaN or +-inf (x - x is NaN for those)
        for j in range(C):
            e = math.exp(row[j] - top)
            d_n[j] = e
            z += e
            bad += row[j] - row[j]
        if bad != 0:
            return -2.0  # a non-finite score
        for j in range(C):
            d_n[j] = d_n[j] / z
        k = y[n]
        if k < 0 or k >= C:
            return -1.0  # a label out of range
        total += math.log(z) - (row[k] - top)
        d_n[k] -= 1
        for j in range(C):
            d_n[j] *= scale
    return total


def _applies(scores, target, validate=None):
    return (type(target) is np.ndarray and type(scores) is np.ndarray and scores.ndim == 2
            and target.shape == scores.shape[:1] and scores.size > 0 and target.dtype.kind in "iu"
            and target.flags.c_contiguous and _numba.usable(scores))


def _forward(scores, target, validate=None):
    d = np.empty_like(scores)
    n = scores.shape[0]
    labels = target.astype(np.int64, copy=False)  # one compiled version per float dtype, not per label dtype
    total = _numba.compiled(_softmax_xent)(scores, labels, d, scores.dtype.type(1.0 / n))
    if total < 0:  # a non-finite score or a label out of range (the loss itself is never negative)
        if validate is not None:
            validate(scores, target)  # raises the named error
        return L.softmax_cross_entropy_forward(scores, target)  # no validator: the reference's result
    return total / n, GradientCache(d)


def _backward(dloss, cache):
    if isinstance(cache, GradientCache):
        if dloss.__class__ in (float, int) and dloss == 1:
            return cache.grad  # handed over: the caller's popped cache holds the only other reference
        return cache.grad * dloss
    return L.softmax_cross_entropy_backward(cache, dloss)  # the reference's cache (see _forward)


def _narrow_applies(scores, target, validate=None):
    return A.narrow_rows(scores) and getattr(target, "ndim", 0) == 1


def _narrow_forward(scores, target, validate=None):
    """The reference's arithmetic with the short-row reductions of ``activations.narrow_rows``."""
    if validate is not None:
        target = validate(scores, target)
    n = scores.shape[0]
    shifted = scores - A.row_max(scores)
    logp = shifted - np.log(A.row_sum(np.exp(shifted)))
    loss = -logp[np.arange(n), target].sum() / n
    return float(loss), (np.exp(logp), target)


def _reference_backward(dloss, cache):
    return L.softmax_cross_entropy_backward(cache, dloss)


register(Kernel("softmax_cross_entropy", "numba", _applies, _forward, _backward,
                {"float32": (1e-5, 1e-7), "float64": (1e-12, 1e-15)}))
register(Kernel("softmax_cross_entropy", "narrow", _narrow_applies, _narrow_forward, _reference_backward,
                {"float32": (1e-5, 1e-7), "float64": (1e-12, 1e-15)}))
