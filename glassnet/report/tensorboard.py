"""TensorBoard event files from a run, through tensorboardX (optional extra)."""
from __future__ import annotations

import os

import numpy as np

__all__ = ["write_tensorboard"]


def write_tensorboard(source, logdir):
    """Write scalars (loss per iteration, epoch metrics, learning rate, update ratios) and
    histograms (activations and weight gradients from the monitor) for ``source`` (a
    Trainer or a run folder) into ``logdir``; returns ``logdir``."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("TensorBoard export needs tensorboardX: pip install 'glassnet[tensorboard]'") from None
    from ..doctor.examine import run_view

    view = run_view(source)
    records = view.records
    with SummaryWriter(logdir=os.fspath(logdir)) as w:
        for i, v in enumerate(view.iter_loss):
            if np.isfinite(v):
                w.add_scalar("iteration/loss", float(v), i + 1)
        for e in view.epochs:
            for k, v in e.items():
                if k not in ("epoch", "iteration", "time") and isinstance(v, (int, float)) and np.isfinite(v):
                    w.add_scalar(f"epoch/{k}", float(v), e["epoch"])
        for r in records:
            step = r["iteration"]
            for name, p in r.get("params", {}).items():
                if p.get("update_ratio") is not None:
                    w.add_scalar(f"update_ratio/{name}", p["update_ratio"], step)
            for name, h in r.get("layers", {}).items():
                _hist(w, f"activations/{name}", h, step)
            for name, h in r.get("grad_hist", {}).items():
                _hist(w, f"gradients/{name}", h, step)
    return os.fspath(logdir)


def _hist(writer, tag, h, step):
    counts, edges = np.asarray(h.get("hist", []), float), np.asarray(h.get("edges", []), float)
    if counts.size == 0 or counts.sum() == 0:
        return
    centers = (edges[:-1] + edges[1:]) / 2
    sum_ = float((counts * centers).sum())
    sum_sq = float((counts * centers ** 2).sum())
    writer.add_histogram_raw(tag, min=float(edges[0]), max=float(edges[-1]), num=float(counts.sum()), sum=sum_,
                             sum_squares=sum_sq, bucket_limits=edges[1:].tolist(), bucket_counts=counts.tolist(),
                             global_step=step)
