"""Metrics computed from scores and targets (NumPy), chosen by name."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def _labels(target):
    target = np.asarray(target)
    return target.argmax(axis=1) if target.ndim == 2 and target.dtype.kind == "f" else target


def _kept(pred, labels, loss):
    """Predictions and labels flattened (sequences: every step), without the steps whose label is
    the loss's ``ignore_index``."""
    pred, labels = np.asarray(pred).ravel(), np.asarray(labels).ravel()
    ignore = getattr(loss, "ignore_index", None)
    if ignore is not None:
        keep = labels != ignore
        return pred[keep], labels[keep]
    return pred, labels


def accuracy(scores, target, loss=None) -> float:
    """The share of correct predictions (the argmax of the class scores, over the last axis; for
    sequences every step counts, ignored steps excepted)."""
    scores = np.asarray(scores)
    if loss is not None and getattr(loss, "target_kind", "") == "binary":
        return float(((scores > 0) == (np.asarray(target) > 0.5)).mean())
    pred, labels = _kept(scores.argmax(axis=-1), _labels(target), loss)
    return float((pred == labels).mean()) if labels.size else float("nan")


def mse(scores, target, loss=None) -> float:
    d = np.asarray(scores, dtype=np.float64) - np.asarray(target, dtype=np.float64).reshape(np.shape(scores))
    return float((d * d).mean())


def mae(scores, target, loss=None) -> float:
    d = np.asarray(scores, dtype=np.float64) - np.asarray(target, dtype=np.float64).reshape(np.shape(scores))
    return float(np.abs(d).mean())


METRICS = {"accuracy": accuracy, "mse": mse, "mae": mae}
#: the losses' target kinds that come with classes (accuracy applies) and with class labels (mse/mae do not)
CLASS_KINDS, LABEL_KINDS = ("labels", "labels_or_probs", "binary"), ("labels", "labels_or_probs")


def check_fit(names, loss, who):
    """Refuse a metric that does not fit the loss: accuracy needs class scores, mse/mae targets
    shaped like the outputs. ``who`` starts the message (``Trainer``, ``trainer.metrics``)."""
    kind = getattr(loss, "target_kind", "real")
    for m in names:
        if m == "accuracy" and kind not in CLASS_KINDS:
            raise ConfigError(f"{who}: metric 'accuracy' needs class scores; {type(loss).__name__} takes "
                              f"{kind} targets (use 'mse' or 'mae')")
        if m in ("mse", "mae") and kind in LABEL_KINDS:
            raise ConfigError(f"{who}: metric {m!r} compares outputs with targets of their shape; "
                              f"{type(loss).__name__} takes class labels (use 'accuracy')")


def monitor_problem(name, metric_names, has_val, has_train_metrics):
    """Why a run would never log the quantity ``name`` (a val_* one without validation data, a
    metric that is not measured), or None."""
    if name.startswith("val_") and not has_val:
        return f"{name!r} needs validation data, and this run has none; watch {name[4:]!r} instead"
    base = name[4:] if name.startswith("val_") else name
    if base in METRICS and base not in metric_names:
        return f"{name!r} is not measured by this run (metrics: {list(metric_names)}); add {base!r} to the metrics"
    if name in metric_names and not has_train_metrics:
        return f"{name!r} is not measured with train_sample=0; watch 'val_{name}' or 'loss'"
    return None


def get(name):
    if callable(name):
        return name
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; expected one of {sorted(METRICS)} or a callable "
                         f"fn(scores, target, loss)")
    return METRICS[name]


def confusion_matrix(pred, target, n_classes) -> np.ndarray:
    """counts[i, j] = number of examples of true class i predicted as j."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (_labels(target), np.asarray(pred)), 1)
    return cm


def per_class_accuracy(cm) -> list:
    totals = cm.sum(axis=1)
    return [float(cm[i, i] / totals[i]) if totals[i] else float("nan") for i in range(cm.shape[0])]


def evaluate_scores(scores, target, loss, metrics, details=True) -> dict:
    """Loss and ``metrics`` (name -> fn(scores, target, loss)) of ``scores`` against ``target``;
    with ``details`` and a classification loss, also per-class accuracy and the confusion
    matrix (rows: true class, columns: predicted)."""
    target = np.asarray(target)
    out = {"loss": float(loss.forward(scores, target))}
    loss.clear_cache()
    for name, fn in metrics.items():
        out[name] = fn(scores, target, loss)
    if details and getattr(loss, "is_classifier", False):
        pred, labels = _kept(scores.argmax(axis=-1), _labels(target), loss)
        cm = confusion_matrix(pred, labels, scores.shape[-1])
        out["per_class_accuracy"] = per_class_accuracy(cm)
        out["confusion_matrix"] = cm.tolist()
    return out
