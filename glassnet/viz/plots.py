"""Matplotlib figures beside the array functions (``pip install glassnet[plot]``): each takes
what its array function returned and gives back a ``matplotlib.figure.Figure``."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_activations", "plot_filters", "plot_max_activating", "plot_occlusion", "plot_embedding"]


def _subplots(nrows, ncols, figsize):
    """A Figure and its axes grid, without pyplot (no global figure registry to fill up)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is in the plot extra
        raise ImportError("glassnet.viz plots need matplotlib: pip install glassnet[plot]") from err
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _image(a):
    """(C, H, W) -> something imshow draws: colour for 3 channels, else the first channel."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 3:
        lo, hi = a.min(), a.max()
        return ((a - lo) / (hi - lo if hi > lo else 1.0)).transpose(1, 2, 0)
    return a[0] if a.ndim == 3 else a


def plot_activations(acts, inputs=3, channels=8):
    """Each feature-map layer of ``activations(...)`` (name -> (N, C, H, W) or (N, C, L)): a row
    per input for its first ``channels`` maps, images for 2-D maps and curves (on one shared
    vertical scale per layer, so a weak channel looks weak) for 1-D ones. Maps that are zero for
    every input shown are dead filters (the notes: often a learning rate set too high)."""
    maps = {n: a for n, a in acts.items() if a.ndim in (3, 4)}
    if not maps:
        raise ValueError("plot_activations: no layer with feature maps (N, C, H, W) or (N, C, L)")
    rows = sum(min(inputs, len(a)) for a in maps.values())
    fig, axes = _subplots(rows, channels, (1.3 * channels, 1.4 * rows))
    r = 0
    for name, a in maps.items():
        if a.ndim == 3:  # curves: one vertical scale for the layer's maps shown
            shown = a[:inputs, :channels]
            low, high = float(shown.min()), float(shown.max())
            pad = 0.05 * (high - low) or 1.0
        for i in range(min(inputs, len(a))):
            for c in range(channels):
                ax = axes[r, c]
                ax.axis("off")
                if c < a.shape[1]:
                    m = a[i, c]
                    if m.ndim == 2:
                        ax.imshow(m, cmap="gray")
                    else:  # a 1-D map: its values along the sequence
                        ax.plot(m, lw=1)
                        ax.set_ylim(low - pad, high + pad)
            axes[r, 0].set_title(f"{name}, input {i}", fontsize=9, loc="left")
            r += 1
    fig.tight_layout()
    return fig


def plot_filters(w, columns=16, channels=8):
    """The images of ``filters(layer)`` (F, C, kh, kw): a first layer's filters in a grid (colour
    when C is 3, grey when 1); a deeper layer's as one row per filter and one column per input
    channel (the first ``channels`` of them, the first ``columns`` filters); 1-D filters (kh = 1)
    as curves, one per input channel."""
    F_, C = w.shape[:2]
    line = w.shape[2] == 1  # Conv1d / Linear weights: curves, not one-pixel-high images
    if C not in (1, 3) and not line:
        rows, cols = min(F_, columns), min(C, channels)
        fig, axes = _subplots(rows, cols, (0.8 * cols, 0.8 * rows))
        for f in range(rows):
            for c in range(cols):
                axes[f, c].axis("off")
                axes[f, c].imshow(w[f, c], cmap="gray", interpolation="nearest")
        return fig
    n = F_
    cols = min(columns, n)
    rows = -(-n // cols)
    fig, axes = _subplots(rows, cols, (0.8 * cols if not line else 1.1 * cols, 0.8 * rows))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            if line:
                ax.plot(w[k, :, 0, :].T, lw=1)
            else:
                ax.imshow(_image(w[k]), cmap="gray", interpolation="nearest")
    return fig


def plot_max_activating(result, title=""):
    """The patches of ``max_activating(...)``, most activating first, with their values."""
    k = len(result.patches)
    cols = min(k, 9)
    rows = -(-k // cols)
    fig, axes = _subplots(rows, cols, (1.2 * cols, 1.35 * rows))
    for j, ax in enumerate(axes.flat):
        ax.axis("off")
        if j < k:
            ax.imshow(_image(result.patches[j]), cmap="gray", interpolation="nearest")
            ax.set_title(f"#{result.indices[j]}: {result.values[j]:.2f}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_occlusion(images, maps, labels=None):
    """Each image beside its occlusion map (the probability of the target class with the
    occluder at each position; dark: the decision depends on that region); for signals, the
    signal with that probability drawn along it."""
    n = len(maps)
    if np.asarray(maps).ndim == 2:  # signals: the input and the probability along it
        fig, axes = _subplots(n, 1, (6, 1.8 * n))
        for i in range(n):
            sig = np.asarray(images[i]).reshape(-1, np.asarray(images[i]).shape[-1])
            ax = axes[i, 0]
            ax.plot(sig.T, color="0.6", lw=1)
            ax.set_title("input" if labels is None else f"input ({labels[i]})", fontsize=9)
            twin = ax.twinx()
            twin.plot(np.linspace(0, sig.shape[1] - 1, len(maps[i])), maps[i], color="C3", lw=1.5)
            twin.set_ylim(0, 1)
            twin.set_ylabel("P(target)", fontsize=8)
        fig.tight_layout()
        return fig
    fig, axes = _subplots(n, 2, (4.4, 2.2 * n))
    for i in range(n):
        axes[i, 0].imshow(_image(images[i]), cmap="gray")
        axes[i, 0].set_title("input" if labels is None else f"input ({labels[i]})", fontsize=9)
        im = axes[i, 1].imshow(maps[i], cmap="viridis", vmin=0, vmax=1)
        axes[i, 1].set_title("P(target), occluder here", fontsize=9)
        for ax in axes[i]:
            ax.axis("off")
        fig.colorbar(im, ax=axes[i, 1], fraction=0.046)
    fig.tight_layout()
    return fig


def plot_embedding(coords, labels=None, images=None, grid=20):
    """Points of ``embed(...)`` coloured by class, or, with ``images``, a mosaic: the plane cut
    into ``grid`` x ``grid`` cells and each cell showing the input whose point lies nearest its
    centre (as the notes' t-SNE figure)."""
    xy = np.asarray(getattr(coords, "coords", coords), dtype=np.float64)
    fig, axes = _subplots(1, 1, (7, 7))
    ax = axes[0, 0]
    if images is None:
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=labels, s=8, cmap="tab10")
        if labels is not None:
            ax.legend(*sc.legend_elements(), fontsize=8, loc="best", title="class")
        ax.set_xticks([]), ax.set_yticks([])
        return fig
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    unit = (xy - lo) / np.where(hi > lo, hi - lo, 1.0)
    cells = np.minimum((unit * grid).astype(int), grid - 1)
    centres = (cells + 0.5) / grid
    dist = ((unit - centres) ** 2).sum(axis=1)
    best = {}
    for i in np.argsort(dist):
        best.setdefault((cells[i, 0], cells[i, 1]), i)
    for (cx, cy), i in best.items():
        ax.imshow(_image(images[i]), cmap="gray", extent=(cx, cx + 1, cy, cy + 1))
    ax.set_xlim(0, grid), ax.set_ylim(0, grid)
    ax.set_xticks([]), ax.set_yticks([])
    return fig
