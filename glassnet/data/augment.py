"""Data augmentation applied on the fly to each training batch.

Each augmentation is called as ``aug(X, rng, train=True)`` with a numpy Generator (the
Trainer passes its own, so runs stay reproducible and resumable) and returns a new array of
the same shape; labels are untouched. With ``train=False`` it is the identity (test time).
Everything is vectorized over the batch: no Python loop over samples or pixels.

Layouts: images (N, C, H, W); sequences (N, C, L) or (N, L) (shift and noise only).

    trainer = gn.Trainer(..., augment=Compose(RandomShift(4), GaussianNoise(0.05)))
"""
from __future__ import annotations

import math

import numpy as np

from .._checks import check_number, describe
from ..backend import get_array_module
from ..errors import ConfigError, ShapeError

__all__ = ["Augmentation", "HorizontalFlip", "RandomShift", "RandomRotation", "GaussianNoise", "Compose"]


class Augmentation:
    """Base class: subclasses implement ``_apply(X, rng)``."""

    def __call__(self, X, rng, train=True):
        if not train:
            return X
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{type(self).__name__}: rng must be a numpy Generator, got {type(rng).__name__}")
        return self._apply(X, rng)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _images(X, who):
    if X.ndim != 4:
        raise ShapeError(f"{who}: expects images of shape (N, C, H, W), got {describe(X)}")


def _prob(p, who):
    return check_number(p, "p", who, lo=0.0, hi=1.0)


class HorizontalFlip(Augmentation):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = _prob(p, "HorizontalFlip")

    def _apply(self, X, rng):
        _images(X, "HorizontalFlip")
        xp = get_array_module(X)
        flip = xp.asarray(rng.random(len(X)) < self.p)
        return xp.where(flip[:, None, None, None], X[..., ::-1], X)


class RandomShift(Augmentation):
    """Random crop with padding: pad every spatial side by ``padding`` (zeros, or the edge
    value with ``mode="edge"``) and crop back to the original size at a random offset per
    example; for images and sequences alike."""

    def __init__(self, padding=4, mode="constant"):
        if not isinstance(padding, int) or padding < 0:
            raise ConfigError(f"RandomShift: padding must be a non-negative integer, got {padding!r}")
        if mode not in ("constant", "edge"):
            raise ConfigError(f"RandomShift: mode must be 'constant' or 'edge', got {mode!r}")
        self.padding, self.mode = padding, mode

    def _apply(self, X, rng):
        xp = get_array_module(X)
        if X.ndim not in (2, 3, 4):
            raise ShapeError(f"RandomShift: expects (N, L), (N, C, L) or (N, C, H, W), got {describe(X)}")
        p = self.padding
        if p == 0:
            return X.copy()
        n = len(X)
        if X.ndim == 2:
            return self._apply(X[:, None, :], rng)[:, 0, :]
        spatial = X.ndim - 2
        pad = [(0, 0), (0, 0)] + [(p, p)] * spatial
        padded = xp.pad(X, pad, mode=self.mode)
        offsets = xp.asarray(rng.integers(0, 2 * p + 1, size=(n, spatial)))
        N = xp.arange(n)[:, None, None]
        C = xp.arange(X.shape[1])[None, :, None]
        if spatial == 1:
            L = X.shape[2]
            idx = offsets[:, 0, None] + xp.arange(L)[None, :]
            return padded[N, C, idx[:, None, :]]
        H, W = X.shape[2], X.shape[3]
        rows = offsets[:, 0, None] + xp.arange(H)[None, :]
        cols = offsets[:, 1, None] + xp.arange(W)[None, :]
        return padded[N[..., None], C[..., None], rows[:, None, :, None], cols[:, None, None, :]]


class RandomRotation(Augmentation):
    """Rotate each image by a random angle in [-max_degrees, max_degrees] about its centre
    (bilinear interpolation, zeros outside)."""

    def __init__(self, max_degrees=10.0):
        self.max_degrees = check_number(max_degrees, "max_degrees", "RandomRotation", lo=0.0, hi=180.0)

    def _apply(self, X, rng):
        _images(X, "RandomRotation")
        xp = get_array_module(X)
        n, c, h, w = X.shape
        theta = xp.asarray(rng.uniform(-1, 1, n) * math.radians(self.max_degrees))
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy, xx = xp.meshgrid(xp.arange(h) - cy, xp.arange(w) - cx, indexing="ij")  # (H, W)
        cos, sin = xp.cos(theta)[:, None, None], xp.sin(theta)[:, None, None]
        # inverse map: the source of each output pixel
        sy = cos * yy[None] + sin * xx[None] + cy
        sx = -sin * yy[None] + cos * xx[None] + cx
        y0, x0 = xp.floor(sy).astype(np.int64), xp.floor(sx).astype(np.int64)
        wy, wx = (sy - y0).astype(X.dtype), (sx - x0).astype(X.dtype)
        out = xp.zeros_like(X)
        N = xp.arange(n)[:, None, None]
        for dy, dx, weight in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx), (1, 0, wy * (1 - wx)),
                               (1, 1, wy * wx)):
            yi, xi = y0 + dy, x0 + dx
            valid = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
            vals = X[N, :, xp.clip(yi, 0, h - 1), xp.clip(xi, 0, w - 1)]  # (N, H, W, C)
            out += xp.moveaxis(vals * (weight * valid)[..., None], -1, 1)
        return out


class GaussianNoise(Augmentation):
    """Add N(0, std^2) noise to every value."""

    def __init__(self, std=0.1):
        self.std = check_number(std, "std", "GaussianNoise", lo=0.0)

    def _apply(self, X, rng):
        xp = get_array_module(X)
        noise = rng.standard_normal(X.shape).astype(X.dtype if X.dtype.kind == "f" else np.float64)
        return X + xp.asarray(noise) * self.std


class Compose(Augmentation):
    """Apply augmentations in order."""

    def __init__(self, *augmentations):
        for a in augmentations:
            if not isinstance(a, Augmentation):
                raise TypeError(f"Compose: expected Augmentations, got {type(a).__name__}")
        self.augmentations = list(augmentations)

    def _apply(self, X, rng):
        for a in self.augmentations:
            X = a(X, rng, train=True)
        return X
