"""Losses as forward/backward pairs, plus entropy helpers.

Each ``*_forward(scores, target)`` returns ``(loss, cache)`` with the loss averaged over the
batch (N rows); each ``*_backward(cache, dloss=1.0)`` returns d(loss)/d(scores).
Labels are validated by the loss modules in ``glassnet.nn``, not here.
"""
from __future__ import annotations

from ..backend import get_array_module
from .activations import log_softmax, sigmoid


def _rows(xp, n):
    return xp.arange(n)


# Softmax cross-entropy: L_i = -sum_j t_ij log softmax(s_i)_j (t one-hot for integer labels).
def softmax_cross_entropy_forward(scores, target, validate=None):
    """``validate(scores, target)``, when given, runs first and returns the target to use (the
    loss module's checks: a faster kernel runs them only when its own pass finds a bad value)."""
    if validate is not None:
        target = validate(scores, target)
    xp = get_array_module(scores)
    n = scores.shape[0]
    logp = log_softmax(scores, axis=1)
    if target.ndim == 1:  # integer labels
        loss = -logp[_rows(xp, n), target].sum() / n
    else:  # probability targets (N, C)
        loss = -(target * logp).sum() / n
    return float(loss), (xp.exp(logp), target)


def softmax_cross_entropy_backward(cache, dloss=1.0):
    # dL/ds_k = p_k * sum_j t_j - t_k  (= p - onehot for labels)
    probs, target = cache
    xp = get_array_module(probs)
    n = probs.shape[0]
    if target.ndim == 1:
        d = probs.copy()
        d[_rows(xp, n), target] -= 1
    else:
        d = probs * target.sum(axis=1, keepdims=True) - target
    return d * (dloss / n)


# Multiclass hinge (SVM): L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + delta).
def multiclass_hinge_forward(scores, labels, delta=1.0):
    xp = get_array_module(scores)
    n = scores.shape[0]
    rows = _rows(xp, n)
    margins = xp.maximum(0, scores - scores[rows, labels][:, None] + delta)
    margins[rows, labels] = 0
    return float(margins.sum() / n), (margins, labels)


def multiclass_hinge_backward(cache, dloss=1.0):
    margins, labels = cache
    xp = get_array_module(margins)
    n = margins.shape[0]
    d = (margins > 0).astype(margins.dtype)
    d[_rows(xp, n), labels] = -d.sum(axis=1)
    return d * (dloss / n)


# Binary cross-entropy on logits, mean over all elements:
# l = max(x, 0) - x t + log(1 + exp(-|x|))  (stable form of -t log s(x) - (1-t) log(1-s(x)))
def binary_cross_entropy_with_logits_forward(logits, target):
    xp = get_array_module(logits)
    per = xp.maximum(logits, 0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
    return float(per.mean()), (logits, target)


def binary_cross_entropy_with_logits_backward(cache, dloss=1.0):
    logits, target = cache
    return (sigmoid(logits) - target) * (dloss / logits.size)


# Mean squared error, mean over all elements: L = mean((s - t)^2).
def mse_forward(scores, target):
    diff = scores - target
    return float((diff * diff).mean()), diff


def mse_backward(cache, dloss=1.0):
    return cache * (2.0 * dloss / cache.size)


def _xlogx(xp, t):
    safe = xp.where(t > 0, t, 1)
    return xp.where(t > 0, t * xp.log(safe), 0)


# KL divergence D_KL(t || softmax(s)) = sum_j t_j (log t_j - log p_j), batch mean.
def kl_divergence_forward(scores, target):
    xp = get_array_module(scores)
    logp = log_softmax(scores, axis=1)
    loss = (_xlogx(xp, target) - target * logp).sum() / scores.shape[0]
    return float(loss), (xp.exp(logp), target)


def kl_divergence_backward(cache, dloss=1.0):
    probs, target = cache
    return (probs * target.sum(axis=1, keepdims=True) - target) * (dloss / probs.shape[0])


# Information-theory helpers on probability vectors (last axis), as in the notes.
def entropy(p, base=2.0):
    """H(p) = -sum p log p (in bits by default)."""
    xp = get_array_module(p)
    return -_xlogx(xp, p).sum(axis=-1) / xp.log(base)


def cross_entropy(p, q, base=None):
    """H(p, q) = -sum p log q (natural log unless ``base`` is given)."""
    xp = get_array_module(p, q)
    h = -(p * xp.log(q)).sum(axis=-1)
    return h if base is None else h / xp.log(base)


def kl_divergence(p, q, base=None):
    """D_KL(p || q) = H(p, q) - H(p)."""
    xp = get_array_module(p, q)
    d = (_xlogx(xp, p) - xp.where(p > 0, p * xp.log(q), 0)).sum(axis=-1)
    return d if base is None else d / xp.log(base)
