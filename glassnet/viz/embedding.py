"""The notes' t-SNE picture: a layer's codes (its output for each input) laid out in two
dimensions so that inputs with similar codes sit close together."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import check_choice, check_int
from ..errors import ConfigError
from .layers import activations

__all__ = ["embed", "Embedding"]


class Embedding(NamedTuple):
    coords: np.ndarray  # (N, 2)
    method: str  # "tsne (scikit-learn)", "tsne (openTSNE)" or "pca"


def embed(model, X, layer, method="tsne", seed=0, batch_size=256):
    """2-D coordinates of ``layer``'s codes for every row of ``X`` (each code flattened).
    ``method``: "tsne" (scikit-learn's TSNE, else openTSNE's, else PCA, and the result says
    which ran) or "pca" (the top two principal components, computed here). Deterministic for
    a given ``seed``."""
    who = "viz.embed"
    method = check_choice(method, "method", who, ("tsne", "pca"))
    seed = check_int(seed, "seed", who, lo=0)
    codes = next(iter(activations(model, X, [layer], batch_size=batch_size).values()))
    codes = codes.reshape(len(codes), -1).astype(np.float64)
    if len(codes) < 3:
        raise ConfigError(f"{who}: an embedding needs at least 3 inputs, got {len(codes)}")
    if method == "tsne":
        perplexity = float(min(30.0, (len(codes) - 1) / 3))
        try:
            from sklearn.manifold import TSNE
            coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(codes)
            return Embedding(coords, "tsne (scikit-learn)")
        except ImportError:
            pass
        try:
            from openTSNE import TSNE as OpenTSNE
            coords = np.asarray(OpenTSNE(n_components=2, perplexity=perplexity, random_state=seed).fit(codes))
            return Embedding(coords, "tsne (openTSNE)")
        except ImportError:
            pass
    return Embedding(pca(codes), "pca")


def pca(codes):
    """The codes (N, D) projected on their top two principal components (N, 2), signs fixed so
    that each component's largest loading is positive (deterministic)."""
    centred = codes - codes.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    top = vt[:2]
    if top.shape[0] < 2:  # one-dimensional codes: the second axis is zero
        top = np.vstack([top, np.zeros_like(top)])
    signs = np.sign(top[np.arange(2), np.abs(top).argmax(axis=1)])
    return centred @ (top * np.where(signs == 0, 1, signs)[:, None]).T
