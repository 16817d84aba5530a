"""The doctor's rules: each reads a run (history, monitor summary, facts about the data and
the model) and returns Findings with the evidence and the remedy from the notes.

Ordering: most severe first; within a severity, root causes before symptoms (a learning
rate that blows up explains dead units; zero initialization explains a model that cannot
learn), by each rule's ``rank``.
"""
from __future__ import annotations

import math

import numpy as np

from ..findings import Finding

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

#: root causes first: a rule's rank orders findings of the same severity
RANKS = {
    "training.nonfinite": 0, "lr.too_high": 1, "init.zero": 2, "data.unscaled_inputs": 3, "units.dead": 4,
    "units.saturated": 5, "gradients.vanishing": 6, "gradients.exploding": 7, "lr.too_low": 8,
    "loss.initial": 9, "fit.cannot_learn": 10, "init.scale": 11, "fit.underfitting": 12,
    "fit.overfitting": 13, "lr.high_plateau": 14, "loss.noisy": 15, "training.stopped_early": 16,
    "data.class_imbalance": 17,
}


#: findings that are symptoms: when a root cause (a finding ranked before them) is present they
#: are kept but marked as explained and shown after it
SYMPTOMS = ("fit.cannot_learn", "fit.underfitting", "fit.overfitting", "loss.initial")


def sort_findings(findings):
    findings = list(findings)
    causes = [f for f in findings if f.code not in SYMPTOMS and f.severity in ("error", "warning")]
    for f in findings:
        if f.code in SYMPTOMS and causes and f.severity == "error":
            first = min(causes, key=lambda c: RANKS.get(c.code, 50))
            if RANKS.get(first.code, 50) < RANKS.get(f.code, 50):
                f.severity = "warning"
                f.evidence += f" (probably a consequence of: {first.what[0].lower() + first.what[1:]})"
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), RANKS.get(f.code, 50)))


class RunView:
    """What the rules read, from a live Trainer or a run folder.

    ``iter_loss``: per-iteration loss (with penalty), ``finite_loss`` the same without NaN/inf;
    ``data_loss``; ``epochs``: per-epoch rows;
    ``monitor``: a Monitor summary (may be empty); ``n_classes``; ``loss_kind`` ("softmax",
    "hinge", ...); ``batch_size``; ``n_train``; ``stop_reason``; ``epochs_requested``;
    ``baseline_error``: the error a good model is expected to reach (default 0); ``records``: the
    monitor's samples and ``iter_lr``: the learning rate per iteration (for reports).
    """

    def __init__(self, iter_loss, data_loss, epochs, monitor=None, n_classes=None, loss_kind=None,
                 batch_size=None, n_train=None, stop_reason="", epochs_requested=None, baseline_error=0.0,
                 data_findings=(), records=(), iter_lr=None):
        self.iter_loss = np.asarray(iter_loss, dtype=np.float64)
        self.finite_loss = self.iter_loss[np.isfinite(self.iter_loss)]  # what the loss-curve rules read
        self.data_loss = np.asarray(data_loss if data_loss is not None else iter_loss, dtype=np.float64)
        self.epochs = list(epochs)
        self.monitor = monitor or {}
        self.n_classes, self.loss_kind = n_classes, loss_kind
        self.batch_size, self.n_train = batch_size, n_train
        self.stop_reason = stop_reason or ""
        self.epochs_requested = epochs_requested
        self.baseline_error = float(baseline_error)
        self.data_findings = list(data_findings)
        self.records = list(records)
        self.iter_lr = iter_lr

    def col(self, key):
        return [e.get(key) for e in self.epochs if e.get(key) is not None]

    @property
    def chance_loss(self):
        if not self.n_classes:
            return None
        if self.loss_kind == "softmax":
            return math.log(self.n_classes)
        if self.loss_kind == "hinge":
            return float(self.n_classes - 1)  # delta = 1 and all scores ~ 0
        return None

    @property
    def chance_accuracy(self):
        return 1.0 / self.n_classes if self.n_classes else None


def _f(severity, code, what, evidence, remedy, **data):
    return Finding(severity, what, evidence, remedy, code, data)


def moving_average(x, k):
    """Means of every k consecutive values (len(x) - k + 1 of them); x itself when shorter than k."""
    x = np.asarray(x, float)
    if len(x) < k or k < 2:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    return (c[k:] - c[:-k]) / k


# -- loss curve and learning rate -----------------------------------------------------------------
def rule_nonfinite(run):
    bad = ~np.isfinite(run.iter_loss)
    stopped = "nan" in run.stop_reason.lower() or "non-finite" in run.stop_reason
    if bad.any() or stopped:
        first = int(np.argmax(bad)) + 1 if bad.any() else len(run.iter_loss) + 1
        if first > 1 and np.isfinite(run.iter_loss[:first - 1]).all():  # finite first, then blew up
            start = float(run.iter_loss[0])
            peak = float(np.max(run.iter_loss[:first - 1])) if first > 1 else start
            return [_f("error", "lr.too_high", "The learning rate is too high: the loss blew up to NaN/inf.",
                       f"loss {start:.3g} at the start, up to {peak:.3g}, non-finite at iteration {first}"
                       + (f"; {run.stop_reason}" if run.stop_reason else ""),
                       "Divide the learning rate by 10 (or run lr_range_test); add gradient clipping "
                       "(GradientClipping) for recurrent nets.")]
        return [_f("error", "training.nonfinite", "The loss was NaN or infinite from the start.",
                   (f"first non-finite loss at iteration {first}" if first else "") +
                   (f"; {run.stop_reason}" if run.stop_reason else ""),
                   "Check the inputs and labels for NaN/inf, the initial weights, and the loss for log(0).")]
    return []


def _start_loss(loss):
    """The loss at the start of a run: the median of its first 2 % of iterations (at least 3)."""
    return float(np.median(loss[:max(3, len(loss) // 50)]))


def rule_lr_too_high(run):
    loss = run.finite_loss
    n = len(loss)
    if n < 10:
        return []
    start = _start_loss(loss)
    k = max(5, n // 20)
    sm = moving_average(loss, k)
    peak = float(sm.max())
    out = []
    if peak > 1.5 * start and peak > start + 0.1 and int(np.argmax(sm)) < len(sm) * 0.9:
        out.append(_f("warning", "lr.too_high", "The learning rate looks too high: the loss rises instead of falling.",
                      f"the smoothed loss climbs from {start:.3g} to {peak:.3g}",
                      "Divide the learning rate by 3-10 (or run lr_range_test); add a warmup or gradient clipping."))
        return out
    end = float(np.median(loss[-max(3, n // 10):]))
    if end > start * 0.98 and end > 0.05:
        steps = np.abs(np.diff(loss))
        jumps = steps > 20 * (np.median(steps) + 1e-12)  # a change 20x the typical one
        if jumps.mean() > 0.02 or float(np.std(loss[-max(3, n // 5):])) > 0.25 * end:
            out.append(_f("warning", "lr.too_high",
                          "The learning rate looks too high: the loss does not go down and jumps around.",
                          f"loss {start:.3g} at the start and {end:.3g} at the end, with large jumps between iterations",
                          "Divide the learning rate by 3-10; check with lr_range_test."))
    return out


def rule_lr_too_low(run):
    loss = run.finite_loss
    n = len(loss)
    if n < 20:
        return []
    start = _start_loss(loss)
    end = float(np.median(loss[-max(3, n // 20):]))
    ratios = [v.get("update_ratio_median") for v in run.monitor.get("params", {}).values()
              if v.get("decay") and v.get("update_ratio_median") == v.get("update_ratio_median")]
    ur = float(np.median(ratios)) if ratios else None
    if end > start:  # the loss went up: not a learning rate that is too low
        return []
    drop = (start - end) / max(abs(start), 1e-12)
    # almost linear and slow: the loss still falls at the end about as fast as in the middle
    third = max(n // 3, 1)
    first_rate = (loss[:third].mean() - loss[third:2 * third].mean())
    last_rate = (loss[third:2 * third].mean() - loss[2 * third:].mean())
    linear = first_rate > 0 and last_rate > 0.5 * first_rate
    if (ur is not None and ur < 1e-5) or (drop < 0.1 and linear and (ur is None or ur < 1e-4)):
        ev = f"loss {start:.3g} -> {end:.3g} ({100 * drop:.1f}% lower) over {n} iterations"
        if ur is not None:
            ev += f"; median update/weight ratio {ur:.1e} (the notes aim for about 1e-3)"
        return [_f("warning", "lr.too_low", "The learning rate looks too low: the loss falls slowly and steadily.",
                   ev, "Multiply the learning rate by 10 (or run lr_range_test); the update/weight ratio should be "
                       "around 1e-3.", update_ratio=ur)]
    return []


def rule_high_plateau(run):
    loss = run.finite_loss
    n = len(loss)
    if n < 50 or run.chance_loss is None:
        return []
    start = _start_loss(loss)
    q = max(n // 5, 1)
    early = float(loss[q:2 * q].mean())
    late = float(loss[-q:].mean())
    if (start - early) > 0.3 * start and abs(early - late) < 0.02 * early and late > 0.3 * run.chance_loss:
        return [_f("info", "lr.high_plateau",
                   "The loss dropped fast and then stayed flat at a high level: a good but high learning rate.",
                   f"loss {start:.3g} -> {early:.3g} in the first 40% of the run, then {late:.3g}",
                   "Decay the learning rate (step or cosine schedule, or ReduceLROnPlateau).")]
    return []


def rule_initial_loss(run):
    chance = run.chance_loss
    if chance is None or len(run.data_loss) == 0 or not np.isfinite(run.data_loss[0]):
        return []
    first = float(run.data_loss[0])
    if first > 1.5 * chance + 0.5 or first < 0.5 * chance:
        return [_f("warning", "loss.initial", "The loss at the start is far from its expected value at chance.",
                   f"first data loss {first:.3g}; with {run.n_classes} classes and small random weights it should "
                   f"be about {chance:.3g}" + (" (ln C)" if run.loss_kind == "softmax" else " (C - 1)"),
                   "Check the weight scale of the last layer (small initial scores), the labels and the loss.")]
    return []


def rule_noisy(run):
    loss = run.finite_loss
    if len(loss) < 50:
        return []
    tail = loss[len(loss) // 2:]
    trend = moving_average(tail, 25)
    resid = tail[12:12 + len(trend)] - trend
    cv = float(np.std(resid) / (abs(np.mean(trend)) + 1e-12))
    if cv > 0.5 and run.batch_size is not None and run.batch_size < 16:
        return [_f("info", "loss.noisy", "The loss is very noisy from one batch to the next.",
                   f"batch size {run.batch_size}; iteration-to-iteration spread {cv:.2f} of the loss level",
                   "Use a larger batch (32-256) or a smaller learning rate.")]
    return []


# -- fit: bias and variance -------------------------------------------------------------------------
def _final(run, key):
    vals = run.col(key)
    return float(vals[-1]) if vals else None


def rule_cannot_learn(run):
    acc = _final(run, "accuracy")
    chance = run.chance_accuracy
    if acc is None or chance is None:
        return []
    val = _final(run, "val_accuracy")
    # nothing generalizes: validation at chance while training is not far above it (shuffled labels
    # end like this), or, without validation data, training at chance
    if (val is not None and val <= chance + 0.05 and acc <= chance + 0.3) or (val is None and acc < chance + 0.1):
        return [_f("error", "fit.cannot_learn", "The network learns nothing that generalizes: accuracy stays near chance.",
                   f"training accuracy {acc:.3f}" + (f", validation {val:.3f}" if val is not None else "") +
                   f"; chance is {chance:.3f}",
                   "Check that inputs and labels belong together (shuffled or misaligned labels), the loss, and "
                   "that a small subset can be overfit (glassnet.doctor.sanity).")]
    return []


def rule_underfitting(run):
    acc = _final(run, "accuracy")
    if acc is None:
        return []
    err = 1.0 - acc
    if err > run.baseline_error + 0.1:
        return [_f("warning", "fit.underfitting", "High bias (underfitting): the training error is far above the "
                   "baseline error.",
                   f"training error {err:.3f} against a baseline of {run.baseline_error:.3f}",
                   "In this order: a bigger network (more units/layers), train longer, a better optimizer or "
                   "learning rate (Adam, lr_range_test), less regularization, another architecture.")]
    return []


def rule_overfitting(run):
    acc, val = _final(run, "accuracy"), _final(run, "val_accuracy")
    if acc is None or val is None:
        return []
    gap = acc - val
    if gap > 0.1:
        return [_f("warning", "fit.overfitting", "High variance (overfitting): training accuracy is far above "
                   "validation accuracy.",
                   f"training {acc:.3f} vs validation {val:.3f} (gap {gap:.3f})",
                   "In this order: more data, regularization (L2, dropout), data augmentation, early stopping, a "
                   "smaller network.")]
    return []


def rule_stopped_early(run):
    val = run.col("val_accuracy") or [-v for v in run.col("val_loss")]
    if len(val) < 5 or not run.stop_reason.startswith("completed"):
        return []
    best = int(np.argmax(val))
    recent = np.polyfit(np.arange(min(5, len(val))), val[-5:], 1)[0]
    if best >= len(val) - 2 and recent > 0:
        return [_f("info", "training.stopped_early", "The validation metric was still improving when training stopped.",
                   f"best validation value at the last epochs ({best + 1} of {len(val)})",
                   "Train for more epochs (with EarlyStopping to stop at the right time).")]
    return []


# -- inside the network -------------------------------------------------------------------------------
def _weights(run):
    params = run.monitor.get("params", {})
    order = [n for n in run.monitor.get("order", params.keys()) if params.get(n, {}).get("decay")]
    return order, params


def rule_zero_init(run):
    order, params = _weights(run)
    bad = [n for n in order if params[n]["first_weight_std"] < 1e-8]
    if bad:
        return [_f("error", "init.zero", "Weights start all equal (e.g. all zeros): every unit of a layer computes "
                   "the same thing and symmetry is never broken.",
                   f"weights with zero spread at the start: {', '.join(bad)}",
                   "Initialize with small random numbers: init='he' for ReLU, init='xavier' for tanh.")]
    return []


def rule_gradients(run):
    order, params = _weights(run)
    gn = [(n, params[n]["grad_norm_median"]) for n in order if params[n]["grad_norm_median"] == params[n]["grad_norm_median"]]
    if len(gn) < 3:
        return []
    first, last = gn[0][1], gn[-1][1]
    if last <= 0:
        return []
    ratio = first / last
    if ratio < 1e-3:
        return [_f("warning", "gradients.vanishing", "Vanishing gradients: the first layers receive gradients orders "
                   "of magnitude smaller than the last.",
                   f"median gradient norm {first:.2e} at {gn[0][0]} vs {last:.2e} at {gn[-1][0]} (ratio {ratio:.1e}) "
                   f"over {len(gn)} weight tensors",
                   "Use ReLU instead of sigmoid/tanh, He initialization, batch normalization, residual connections, "
                   "or a shallower network.", ratio=ratio)]
    if ratio > 1e3:
        return [_f("warning", "gradients.exploding", "Exploding gradients: the first layers receive gradients orders "
                   "of magnitude larger than the last.",
                   f"median gradient norm {first:.2e} at {gn[0][0]} vs {last:.2e} at {gn[-1][0]} (ratio {ratio:.1e})",
                   "Clip gradients (GradientClipping), lower the learning rate, use batch normalization or smaller "
                   "initial weights.", ratio=ratio)]
    return []


def rule_dead_units(run):
    dead = run.monitor.get("dead_fraction", {})
    worst = sorted(((f, n) for n, f in dead.items()), reverse=True)
    if worst and worst[0][0] > 0.5:
        f, n = worst[0]
        return [_f("warning", "units.dead", "Dead ReLUs: many units never fired on any sampled batch, so they never "
                   "learn.",
                   f"{100 * f:.0f}% of the units of {n} never fired"
                   + (f" (also {', '.join(f'{m} {100 * g:.0f}%' for g, m in worst[1:3] if g > 0.2)})"
                      if any(g > 0.2 for g, _ in worst[1:3]) else ""),
                   "Lower the learning rate, check the bias initialization (start biases at 0), use He "
                   "initialization, or LeakyReLU.", fraction=f)]
    return []


def rule_saturation(run):
    layers = run.monitor.get("layers", {})
    sat = [(v["last"].get("saturated_fraction", v["first"].get("saturated_fraction")), n) for n, v in layers.items()
           if v.get("type") in ("Sigmoid", "Tanh")]
    sat = [(f, n) for f, n in sat if f is not None]
    if not sat:
        return []
    f, n = max(sat)
    if f > 0.5:
        return [_f("warning", "units.saturated", "Saturated sigmoid/tanh units: their outputs sit at the flat ends, "
                   "where the local gradient is almost zero.",
                   f"{100 * f:.0f}% of the outputs of {n} are saturated",
                   "Smaller initial weights (init='xavier'), normalized inputs, batch normalization, or ReLU units.",
                   fraction=f)]
    return []


def rule_init_scale(run):
    layers = run.monitor.get("layers", {})
    order = [n for n in run.monitor.get("layer_order", layers) if layers.get(n, {}).get("type") in
             ("ReLU", "LeakyReLU", "Tanh", "Sigmoid")]
    stds = [(n, layers[n]["first"].get("std")) for n in order if layers[n]["first"].get("std")]
    if len(stds) < 3:
        return []
    a, b = stds[0][1], stds[-1][1]
    if a > 0 and (b / a < 1e-2 or b / a > 1e2):
        return [_f("warning", "init.scale", "Badly scaled initialization: activations shrink or grow layer after "
                   "layer at the start.",
                   f"activation std {a:.2e} at {stds[0][0]} vs {b:.2e} at {stds[-1][0]}",
                   "Use init='he' for ReLU and init='xavier' for tanh (variance 2/fan_in or 1/fan_in), or batch "
                   "normalization.")]
    return []


def rule_unscaled_inputs(run):
    inp = run.monitor.get("input", {})
    if not inp:
        return []
    lo, hi = inp.get("feature_std_min", 0), inp.get("feature_std_max", 0)
    big = inp.get("abs_max", 0)
    if big > 50 or (lo > 0 and hi / lo > 100) or inp.get("feature_mean_abs_max", 0) > 10:
        return [_f("warning", "data.unscaled_inputs", "The inputs are not normalized: features have very different "
                   "or very large scales.",
                   f"largest |value| {big:.3g}; feature std from {lo:.3g} to {hi:.3g}",
                   "Standardize the features (glassnet.data.Standardize, fitted on the training data only).")]
    return []


RULES = [rule_nonfinite, rule_lr_too_high, rule_lr_too_low, rule_high_plateau, rule_initial_loss, rule_noisy,
         rule_cannot_learn, rule_underfitting, rule_overfitting, rule_stopped_early, rule_zero_init, rule_gradients,
         rule_dead_units, rule_saturation, rule_init_scale, rule_unscaled_inputs]


def run_rules(run) -> list:
    findings = []
    for rule in RULES:
        findings.extend(rule(run))
    if any(f.code == "lr.too_high" for f in findings):  # a diverged run also looks slow and flat afterwards
        findings = [f for f in findings if f.code not in ("lr.too_low", "lr.high_plateau")]
    findings.extend(run.data_findings)
    return sort_findings(findings)
