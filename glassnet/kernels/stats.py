"""The doctor's monitor statistics, faster (used by ``glassnet.doctor.monitors``): a histogram
with ``np.histogram``'s arithmetic in one pass, and a mean and variance in two passes without a
float64 temporary. Used when ``_numba.usable`` holds for the values; NumPy otherwise."""
from __future__ import annotations

import math

import numpy as np

from . import _numba


# A histogram with np.histogram's equal-width arithmetic, in one pass instead of about a dozen.
def _histogram(v, first, denom, numer, edges, counts):  # pragma: no cover - compiled
    n_bins = counts.shape[0]
    for k in range(v.shape[0]):
        x = np.float64(v[k])  # in float64 (as NumPy on a float64 copy), whatever the values' dtype
        i = int(((x - first) / denom) * numer)
        if i == n_bins:  # the right edge belongs to the last bin
            i -= 1
        if x < edges[i]:  # within a rounding of an edge: NumPy's two corrections
            i -= 1
        elif x >= edges[i + 1] and i != n_bins - 1:
            i += 1
        counts[i] += 1


def _moments(v):  # pragma: no cover - compiled (with reassociation: the sums vectorize)
    s = 0.0
    for k in range(v.shape[0]):
        s += np.float64(v[k])
    mean = s / v.shape[0]
    q = 0.0
    for k in range(v.shape[0]):  # a second pass over centred values, as np.var
        d = np.float64(v[k]) - mean
        q += d * d
    return mean, q / v.shape[0]


def histogram(values, bins):
    """``np.histogram(values.astype(np.float64), bins)`` (counts as int64, float64 edges) of a
    contiguous 1-D array of finite float32/float64 values without the float64 copy, bin for bin
    the same: NumPy's outer edges, its equal-width index arithmetic and its two corrections near
    an edge, in one pass. (In float64 because float32 edges cannot resolve a narrow range of
    large values, where np.histogram raises.) A range that overflows float64 goes to NumPy
    (which raises ValueError)."""
    first, last = float(values.min()), float(values.max())
    if first == last:
        first, last = first - 0.5, last + 0.5
    if not math.isfinite(last - first):
        return np.histogram(values.astype(np.float64), bins=bins)
    edges = np.linspace(first, last, bins + 1, endpoint=True)
    counts = np.zeros(bins, dtype=np.int64)
    _numba.compiled(_histogram)(values, first, last - first, float(bins), edges, counts)
    return counts, edges


def mean_var(values):
    """(mean, variance) of a contiguous 1-D float32/float64 array, accumulated in float64 in two
    passes like ``np.mean``/``np.var`` with ``dtype=np.float64`` (other summation order: equal to
    float64 rounding), without their float64 temporary."""
    return _numba.compiled(_moments, reassociate=True)(values)
