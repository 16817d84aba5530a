"""The "What the network learned" section of a run page, and its own page (``glassnet viz``):
the first layer's filters, a few inputs' activation maps, the inputs that excite a few units
most, saliency (and occlusion for images) on correctly and wrongly classified examples, and a
2-D embedding of the penultimate layer's codes. Bounded work: at most ``MAX_EMBED`` points
embedded, a handful of examples for the per-example pictures."""
from __future__ import annotations

import html
import time

import numpy as np

from ..errors import ConfigError, ShapeError, one_line
from ..nn import layers as L
from ..nn.containers import Sequential
from ..nn.module import eval_scores

#: at most this many inputs are embedded (t-SNE's time grows with their square)
MAX_EMBED = 500
#: examples drawn for saliency and occlusion (half correctly classified, half wrong when there are)
EXAMPLES = 4
#: at most this many convolutions' activation maps are drawn (evenly spread, the first and the last among them)
MAX_MAP_LAYERS = 6


def _png(fig):
    from ..report.plots import _png as png
    return png(fig)


def _feature_layers(model):
    """Dotted names of the layers whose outputs are feature maps (convolutions and pools)."""
    kinds = (L.Conv2d, L.Conv1d, L.MaxPool2d, L.AvgPool2d, L.MaxPool1d, L.AvgPool1d)
    return [n for n, m in model.named_modules() if n and isinstance(m, kinds)]


def section(model, X, y=None, layer=None):
    """[(title, PNG bytes or None, note)] for the model and the inputs ``X`` (as the model takes
    them) with labels ``y``; ``layer`` (a dotted name) picks the layer for the max-activating
    units (default: the last feature-map layer). Parts that do not apply say why."""
    from . import activations, embed, filters, max_activating, occlusion, plots, saliency

    X = np.asarray(X)
    first = model[0] if isinstance(model, Sequential) and len(model) else None
    if X.ndim == 2 and isinstance(first, L.Reshape) and -1 not in first.shape:
        X = X.reshape((len(X),) + first.shape)  # the pictures in the model's own layout (Reshape takes it too)
    out = []
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, (L.Conv2d, L.Conv1d))]
    maps = _feature_layers(model)
    t0 = time.perf_counter()
    if convs:
        out.append((f"Filters of {convs[0][0]} ({type(convs[0][1]).__name__})",
                    _png(plots.plot_filters(filters(convs[0][1]))), ""))
        names = [n for n, m in convs]
        if len(names) > MAX_MAP_LAYERS:
            names = [names[i] for i in np.unique(np.linspace(0, len(names) - 1, MAX_MAP_LAYERS).round().astype(int))]
        which = "the convolutions" if len(names) == len(convs) else f"{len(names)} of the {len(convs)} convolutions"
        acts = activations(model, X[:3], names)
        out.append((f"Activation maps of {which} for three inputs (a map that is dark for every input "
                    "may be a dead filter)", _png(plots.plot_activations(acts, inputs=3, channels=8)), ""))
    else:
        out.append(("Filters and activation maps", None, "The model has no convolutions."))
    target_layer = layer or (maps[-1] if maps else None)
    if target_layer is not None:
        title = f"Inputs that excite two channels of {target_layer} most (cropped to the receptive field)"
        try:
            pngs = [_png(plots.plot_max_activating(max_activating(model, X, target_layer, unit=unit, k=9),
                                                   title=f"{target_layer}, channel {unit}")) for unit in range(2)]
            out += [(title, pngs[0], ""), ("", pngs[1], "")]
        except (ConfigError, ShapeError) as err:  # a geometry the receptive field cannot follow
            out.append((title, None, f"Not drawn: {one_line(err)}"))
    if y is not None and np.asarray(y).ndim == 1 and np.asarray(y).dtype.kind in "iu":
        y = np.asarray(y)
        pred = eval_scores(model, X[:512]).argmax(axis=1)
        right, wrong = np.flatnonzero(pred == y[:512]), np.flatnonzero(pred != y[:512])
        pick = np.concatenate([right[:EXAMPLES - min(len(wrong), EXAMPLES // 2)], wrong[:EXAMPLES // 2]])
        if len(pick):
            sal = saliency(model, X[pick], y[pick])
            names = [f"{'right' if pred[i] == y[i] else 'wrong'}: label {y[i]}, predicted {pred[i]}" for i in pick]
            out.append(("Saliency |d score / d input| for the true class", _png(_pairs(X[pick], sal, names)), ""))
            w = max(2, X.shape[-1] // 4)
            occ = occlusion(model, X[pick], y[pick], window=w if X.ndim < 4 else (max(2, X.shape[2] // 4), w),
                            stride=max(1, w // 2))
            what = "a grey square at each position" if X.ndim == 4 else f"{w} values set to 0 at each position"
            out.append((f"Occlusion: the probability of the true class with {what}",
                        _png(plots.plot_occlusion(X[pick], occ, names)), ""))
    else:
        out.append(("Saliency and occlusion", None, "Need integer class labels for the examples."))
    codes = [n for n, m in model.named_modules() if n and not m._modules]
    if len(codes) >= 2 and len(X) >= 3:
        n = min(len(X), MAX_EMBED)
        emb = embed(model, X[:n], codes[-2], method="tsne")
        labels = None if y is None else np.asarray(y)[:n]
        out.append((f"The codes of {codes[-2]} for {n} inputs, embedded in 2-D ({emb.method})",
                    _png(plots.plot_embedding(emb, labels=labels)), ""))
    out.append(("", None, f"Computed in {time.perf_counter() - t0:.1f} s."))
    return out


def _pairs(images, maps, names):
    """Each input beside its saliency map (the maximum over channels); a signal or a row of
    features as a curve with its saliency drawn along it."""
    from .plots import _image, _subplots
    n = len(images)
    if np.asarray(images).ndim < 4:
        fig, axes = _subplots(n, 1, (6, 1.8 * n))
        for i in range(n):
            sig = np.asarray(images[i]).reshape(-1, np.asarray(images[i]).shape[-1])
            sal = np.asarray(maps[i]).reshape(sig.shape).max(axis=0)
            ax = axes[i, 0]
            ax.plot(sig.T, color="0.6", lw=1)
            ax.set_title(names[i], fontsize=9)
            twin = ax.twinx()
            twin.plot(sal, color="C3", lw=1.5)
            twin.set_ylabel("saliency", fontsize=8)
        return fig
    fig, axes = _subplots(n, 2, (4.4, 2.2 * n))
    for i in range(n):
        axes[i, 0].imshow(_image(images[i]), cmap="gray", aspect="auto")
        axes[i, 0].set_title(names[i], fontsize=9)
        axes[i, 1].imshow(np.asarray(maps[i]).max(axis=0), cmap="hot", aspect="auto")
        axes[i, 1].set_title("saliency", fontsize=9)
        for ax in axes[i]:
            ax.axis("off")
    return fig


def section_html(parts):
    """HTML of ``section``'s parts (figures embedded as base64 PNG)."""
    import base64

    out = []
    for title, png, note in parts:
        if title:
            out.append(f"<h3>{html.escape(title)}</h3>")
        if png:
            out.append(f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
        if note:
            out.append(f'<p class="none">{html.escape(note)}</p>')
    return "\n".join(out)
