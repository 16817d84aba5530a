"""Weight initializers, as in the notes.

Each initializer is ``fn(shape, rng=None, dtype=np.float32, **options) -> np.ndarray`` and
draws from the numpy Generator ``rng`` (an int seeds a new one; None uses fresh entropy).
Fans: a 2-D weight is laid out (in, out) as in ``Linear``; a weight of rank >= 3 is
(out, in, *kernel) as in convolutions, fan_in = in * prod(kernel).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import ConfigError, SymmetryWarning

__all__ = ["zeros", "constant", "small_normal", "normal", "xavier", "glorot", "he",
           "truncated_normal", "sparse", "orthogonal", "uniform_fan_in", "glorot_uniform", "fans", "get", "INITIALIZERS"]


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) for a weight of the given shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _warn_symmetric(role: str, how: str):
    if role == "weight":
        warnings.warn(
            f"weights initialized {how}: every unit of the layer computes the same function and "
            f"receives the same gradient, so they never differentiate (symmetry is not broken); "
            f"use init='he' for ReLU nets or init='xavier' for tanh", SymmetryWarning, stacklevel=3)


def zeros(shape, rng=None, dtype=np.float32, role="weight"):
    """All zeros (fine for biases; warns for weights)."""
    _warn_symmetric(role, "to zeros")
    return np.zeros(shape, dtype=dtype)


def constant(shape, rng=None, dtype=np.float32, value=0.0, role="weight"):
    """Every entry equal to ``value`` (warns for weights: symmetric)."""
    _warn_symmetric(role, f"to the constant {value}")
    return np.full(shape, value, dtype=dtype)


def normal(shape, rng=None, dtype=np.float32, std=1.0, mean=0.0):
    """N(mean, std^2)."""
    return (mean + std * _rng(rng).standard_normal(shape)).astype(dtype)


def small_normal(shape, rng=None, dtype=np.float32, std=0.01):
    """Small random numbers, N(0, 0.01^2): the notes' first fix for symmetry."""
    return normal(shape, rng, dtype, std=std)


def normal_fan_in(shape, rng=None, dtype=np.float32):
    """N(0, 1/fan_in): std 1/sqrt(fan_in), the notes' calibrated variance (``randn(n) / sqrt(n)``):
    keeps a linear unit's output variance equal to its input's. (The notes call it Xavier; in
    PyTorch and Keras Xavier/Glorot is ``glorot``'s 2/(fan_in + fan_out).)"""
    fan_in, _ = fans(shape)
    return normal(shape, rng, dtype, std=1.0 / math.sqrt(fan_in))


def glorot(shape, rng=None, dtype=np.float32):
    """N(0, 2/(fan_in + fan_out)) (Glorot & Bengio): PyTorch's ``xavier_normal_``, Keras's
    ``glorot_normal``; also available as ``xavier``."""
    fan_in, fan_out = fans(shape)
    return normal(shape, rng, dtype, std=math.sqrt(2.0 / (fan_in + fan_out)))


xavier = glorot  # PyTorch's name for the same initialization


def he(shape, rng=None, dtype=np.float32):
    """N(0, 2/fan_in): std sqrt(2/fan_in), the recommendation for ReLU networks."""
    fan_in, _ = fans(shape)
    return normal(shape, rng, dtype, std=math.sqrt(2.0 / fan_in))


def truncated_normal(shape, rng=None, dtype=np.float32, std=None, bound=2.0):
    """Normal with draws beyond ``bound`` standard deviations redrawn.

    ``std`` defaults to He's sqrt(2/fan_in).
    """
    rng = _rng(rng)
    if std is None:
        std = math.sqrt(2.0 / fans(shape)[0])
    z = rng.standard_normal(shape)
    bad = np.abs(z) > bound
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > bound
    return (std * z).astype(dtype)


def sparse(shape, rng=None, dtype=np.float32, k=15, std=None):
    """Each output unit gets exactly ``min(k, fan_in)`` nonzero incoming weights.

    The nonzero weights are N(0, std^2) with std defaulting to 1/sqrt(k), so the output
    variance matches ``normal_fan_in``. Works for (in, out) and (out, in, *kernel) layouts.
    """
    rng = _rng(rng)
    fan_in, _ = fans(shape)
    k = int(min(k, fan_in))
    if k < 1:
        raise ConfigError(f"sparse init: k must be >= 1, got {k}")
    std = 1.0 / math.sqrt(k) if std is None else std
    if len(shape) == 2:  # (in, out): choose k rows per column
        n_units, as_columns = shape[1], True
    else:  # (out, in, ...): choose k of in*prod(kernel) per output unit
        n_units, as_columns = shape[0], False
    w = np.zeros((n_units, fan_in))
    for u in range(n_units):  # one small draw per unit; init runs once
        idx = rng.choice(fan_in, size=k, replace=False)
        w[u, idx] = std * rng.standard_normal(k)
    w = w.T if as_columns else w.reshape(shape)
    return np.ascontiguousarray(w).astype(dtype)


def glorot_uniform(shape, rng=None, dtype=np.float32, gain=1.0):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)): Glorot & Bengio's uniform form
    (same variance as ``glorot``); scikit-learn's MLP uses it (gain sqrt(2) for logistic units)."""
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def uniform_fan_in(shape, rng=None, dtype=np.float32):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear and Conv weights
    (kaiming_uniform with a=sqrt(5)); useful to reproduce results obtained with PyTorch."""
    bound = 1.0 / math.sqrt(fans(shape)[0])
    return _rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def orthogonal(shape, rng=None, dtype=np.float32, gain=1.0):
    """A (semi-)orthogonal matrix (rows or columns orthonormal) times ``gain``; for (out, in, ...)
    shapes the trailing dims are flattened. Keeps the norm of a vector through repeated products,
    the usual choice for recurrent weights (Saxe et al.)."""
    rng = _rng(rng)
    rows = shape[0]
    cols = math.prod(shape[1:]) if len(shape) > 1 else 1
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # a uniform (Haar) draw, not biased by the QR sign convention
    q = q if rows >= cols else q.T
    return (gain * q).reshape(shape).astype(dtype)


INITIALIZERS = {
    "zeros": zeros, "constant": constant, "normal": normal, "small": small_normal,
    "small_normal": small_normal, "normal_fan_in": normal_fan_in, "xavier": glorot, "glorot": glorot, "he": he,
    "truncated_normal": truncated_normal, "sparse": sparse, "orthogonal": orthogonal,
    "uniform_fan_in": uniform_fan_in, "glorot_uniform": glorot_uniform, "xavier_uniform": glorot_uniform,
}


def get(init):
    """An initializer from a name (``"he"``) or a callable ``fn(shape, rng, dtype)``."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown initializer {init!r}: expected one of {sorted(INITIALIZERS)} "
                         f"or a callable fn(shape, rng, dtype)") from None
