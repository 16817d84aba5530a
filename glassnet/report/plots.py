"""Figures of a run, drawn with matplotlib's Figure API on the Agg backend (no display, no
global state); each function returns PNG bytes or None when there is nothing to draw."""
from __future__ import annotations

import io
import math

import numpy as np


def _figure(w=7.0, h=3.2, ncols=1, nrows=1):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("reports need matplotlib: pip install 'glassnet[plot]'") from None
    fig = Figure(figsize=(w, h), dpi=90)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _png(fig):
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _smooth(x, k):
    """The moving average, aligned with x (the first k - 1 points have none)."""
    from ..doctor.rules import moving_average

    x = np.asarray(x, float)
    if len(x) < k or k < 2:
        return x
    return np.concatenate([np.full(k - 1, np.nan), moving_average(np.nan_to_num(x), k)])


def loss_per_iteration(iter_loss):
    if not len(iter_loss):
        return None
    fig, ax = _figure()
    ax = ax[0, 0]
    loss = np.asarray(iter_loss, float)
    ax.plot(loss, lw=0.6, alpha=0.5, label="loss per iteration")
    ax.plot(_smooth(loss, max(5, len(loss) // 50)), lw=1.6, label="smoothed")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    if np.nanmin(loss) > 0 and np.nanmax(loss) / max(np.nanmin(loss), 1e-12) > 50:
        ax.set_yscale("log")
    ax.legend()
    return _png(fig)


def epoch_curves(epochs):
    if not epochs:
        return None
    fig, axes = _figure(w=10, ncols=2)
    ep = [e["epoch"] for e in epochs]
    for ax, key in zip(axes[0], ("loss", "accuracy")):
        train_key = "data_loss" if key == "loss" else key
        tr = [e.get(train_key) for e in epochs]
        va = [e.get(f"val_{key}") for e in epochs]
        if any(v is not None for v in tr):
            ax.plot(ep, [np.nan if v is None else v for v in tr], marker=".", label=f"train {key}")
        if any(v is not None for v in va):
            ax.plot(ep, [np.nan if v is None else v for v in va], marker=".", label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
    return _png(fig)


def learning_rate(epochs, iter_lr=None):
    fig, ax = _figure(h=2.6)
    ax = ax[0, 0]
    if iter_lr is not None and len(iter_lr):
        ax.plot(iter_lr)
        ax.set_xlabel("iteration")
    elif epochs:
        ax.plot([e["epoch"] for e in epochs], [e.get("lr") for e in epochs], marker=".")
        ax.set_xlabel("epoch")
    else:
        return None
    ax.set_ylabel("learning rate")
    ax.set_yscale("log")
    return _png(fig)


def update_ratios(records):
    series = {}
    for r in records:
        for name, p in r.get("params", {}).items():
            if p.get("decay") and p.get("update_ratio") is not None:
                series.setdefault(name, ([], []))
                series[name][0].append(r["iteration"])
                series[name][1].append(p["update_ratio"])
    if not series:
        return None
    fig, ax = _figure()
    ax = ax[0, 0]
    for name, (it, v) in series.items():
        ax.plot(it, v, marker=".", label=name)
    ax.axhline(1e-3, color="gray", ls="--", lw=1, label="1e-3 (the notes' rule of thumb)")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("||update|| / ||weight||")
    ax.legend(fontsize=9)
    return _png(fig)


def through_time(records, modules=None):
    """Per recurrent layer, the gradient of its last step's output carried back through time
    (relative to its size at the last step, log scale) on the first and the last monitor sample."""
    names = []
    for r in records:
        names += [n for n in r.get("through_time", {}) if n not in names]
    if not names:
        return None
    fig, ax = _figure()
    ax = ax[0, 0]
    picks = [records[0]] if len(records) == 1 else [records[0], records[-1]]
    for r in picks:
        for name in names:
            tt = r["through_time"].get(name)
            if tt is None:
                continue
            rel = np.maximum(np.asarray(tt["relative"][::-1]), 1e-30)  # steps back from the last
            back = np.linspace(0, tt["steps"] - 1, len(rel))
            label = f"{name} ({(modules or {}).get(name, tt['type'])}), iteration {r['iteration']}"
            ax.plot(back, rel, label=label, ls="-" if r is picks[-1] else "--")
    ax.axhline(1e-2, color="gray", ls=":", lw=1, label="1 % of the last step's gradient")
    ax.set_yscale("log")
    ax.set_xlabel("steps back from the last step")
    ax.set_ylabel("||dh_T / dx_t|| relative to t = T")
    ax.legend(fontsize=9)
    return _png(fig)


def histograms(hists, title, names=None):
    """``hists``: {name: {"hist": counts, "edges": edges}}, one small panel each, over the layer's
    own range, with a log count axis when one bin towers over the others; ``names``: {name: the
    title to show} (a layer's dotted path and type)."""
    items = [(n, h) for n, h in hists.items() if h.get("hist")]
    if not items:
        return None
    cols = min(4, len(items))
    rows = math.ceil(len(items) / cols)
    fig, axes = _figure(w=3.6 * cols, h=2.6 * rows, ncols=cols, nrows=rows)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(items):
            ax.axis("off")
            continue
        name, h = items[k]
        edges = np.asarray(h["edges"])
        counts = np.asarray(h["hist"], dtype=float)
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge")
        ax.set_xlim(edges[0], edges[-1])  # each layer its own range
        nonzero = counts[counts > 0]
        if nonzero.size and counts.max() > 50 * np.median(nonzero):  # a spike (ReLU zeros) hides the rest
            ax.set_yscale("log")
            ax.set_ylabel("count (log)", fontsize=9)
        label = (names or {}).get(name) or (f"{name} ({h.get('type', '')})" if h.get("type") else name)
        ax.set_title(label, fontsize=10)
        ax.tick_params(labelsize=9)
    fig.suptitle(title, fontsize=11)
    return _png(fig)


def first_layer_weights(W, input_shape=None, max_units=32):
    """Columns of the first weight matrix (in, out) as images, or filters (out, in, kh, kw),
    or, for 1-D inputs, as curves."""
    W = np.asarray(W, float)
    if W.ndim == 4:  # conv filters: show the first input channel
        tiles = W[:max_units, 0]
    elif W.ndim == 2 and input_shape is not None and len(input_shape) >= 2 and \
            int(np.prod(input_shape)) == W.shape[0]:
        tiles = W[:, :max_units].T.reshape((-1,) + tuple(input_shape[-2:]))
    elif W.ndim == 2:
        fig, ax = _figure()
        ax = ax[0, 0]
        for j in range(min(8, W.shape[1])):
            ax.plot(W[:, j], lw=1)
        ax.set_xlabel("input position")
        ax.set_title("first-layer weights of 8 units (1-D inputs)", fontsize=11)
        return _png(fig)
    else:
        return None
    n = len(tiles)
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig, axes = _figure(w=1.2 * cols, h=1.2 * rows, ncols=cols, nrows=rows)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < n:
            ax.imshow(tiles[k], cmap="gray")
    return _png(fig)


def confusion_matrix(cm, class_names=None):
    cm = np.asarray(cm)
    fig, ax = _figure(w=5, h=4.4)
    ax = ax[0, 0]
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    labels = class_names if class_names is not None and len(class_names) == len(cm) else range(len(cm))
    ax.set_xticks(range(len(cm)))
    ax.set_yticks(range(len(cm)))
    ax.set_xticklabels(labels, fontsize=9, rotation=90)
    ax.set_yticklabels(labels, fontsize=9)
    if len(cm) <= 12:
        for i in range(len(cm)):
            for j in range(len(cm)):
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=9,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    return _png(fig)


def wrong_examples(X, y_true, y_pred, confidence, input_shape=None, class_names=None, k=12):
    if len(X) == 0:
        return None
    X = np.asarray(X, float)
    cols = min(6, len(X))
    rows = math.ceil(min(k, len(X)) / cols)
    fig, axes = _figure(w=1.8 * cols, h=1.9 * rows, ncols=cols, nrows=rows)
    name = (lambda c: class_names[c]) if class_names is not None else (lambda c: str(c))
    for idx, ax in enumerate(axes.ravel()):
        if idx >= len(X):
            ax.axis("off")
            continue
        x = X[idx]
        if input_shape is not None and len(input_shape) >= 2 and x.size == int(np.prod(input_shape)):
            ax.imshow(x.reshape(input_shape)[0] if len(input_shape) == 3 else x.reshape(input_shape), cmap="gray")
            ax.axis("off")
        else:
            ax.plot(x.ravel(), lw=1)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(f"true {name(int(y_true[idx]))}\npred {name(int(y_pred[idx]))} ({confidence[idx]:.2f})",
                     fontsize=9)
    return _png(fig)


def lr_range(result):
    fig, ax = _figure()
    ax = ax[0, 0]
    ax.plot(result.lrs, result.losses, lw=0.6, alpha=0.5, label="loss")
    ax.plot(result.lrs, result.smoothed, lw=1.6, label="smoothed")
    if result.suggested_lr == result.suggested_lr:
        ax.axvline(result.suggested_lr, color="red", ls="--", label=f"suggested {result.suggested_lr:.1e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend()
    return _png(fig)
