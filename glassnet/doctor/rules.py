"""The doctor's rules: each reads a run (history, monitor summary, facts about the data and
the model) and returns Findings with the evidence and the remedy from the notes.

Severities by impact (docs/doctor.md):

- **error**: the run is broken: it diverged, it was never finite, it learns nothing, or its
  weights can never break symmetry.
- **warning**: material and actionable: it costs accuracy or time, with the evidence to show it.
  What the monitor sees inside the network (dead or saturated units, vanishing or exploding
  gradients, a badly scaled initialization, the loss at the start) is a warning only when the
  run did not learn well (``LEARNED_WELL``); on a run that learned well it is info.
- **info**: worth knowing.

Ordering: most severe first; within a severity, root causes before symptoms (a learning rate
that blows up explains dead units; zero initialization explains a model that cannot learn), by
each rule's ``RANKS`` entry. Every threshold is a constant below, named in the rule's docstring
and in docs/doctor.md.
"""
from __future__ import annotations

import math

import numpy as np

from .findings import Finding

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

# -- thresholds (each used by one rule; docs/doctor.md lists them) ---------------------------------------------
#: a run "learned well" when its kept training accuracy closed this share of the gap from chance to
#: 100 % (classification), or its loss fell by this share (otherwise)
LEARNED_WELL = 0.8
#: lr.too_high: the smoothed loss climbs above this multiple of its start (and by 0.1 or more)
RISE = 1.5
#: lr.too_low: median update/weight ratio below this, or below LOW_RATIO_SLOW with a descent of less than
#: SLOW_DROP over the whole run that is still going down at the end about as fast as in the middle
LOW_RATIO, LOW_RATIO_SLOW, SLOW_DROP = 1e-5, 1e-4, 0.1
#: loss.initial: the first loss outside [0.5, 1.5] x the chance value (+0.5)
INITIAL_BAND = (0.5, 1.5, 0.5)
#: fit.cannot_learn: validation accuracy within this of chance while training is within CANNOT_TRAIN of it
CANNOT_VAL, CANNOT_TRAIN = 0.05, 0.3
#: fit.overfitting / fit.underfitting: a gap of VARIANCE_WARN (BIAS_WARN) is a warning, of NOTE_GAP information
VARIANCE_WARN, BIAS_WARN, NOTE_GAP = 0.10, 0.10, 0.05
#: data.label_noise: validation accuracy above training accuracy (both in eval mode) by this much
NOISE_GAP = 0.10
#: gradients.vanishing / exploding: first/last median gradient norm below 1/GRAD_RATIO or above GRAD_RATIO;
#: or a sampled gradient norm SPIKE times the median of the samples
GRAD_RATIO, SPIKE = 1e3, 50.0
#: units.dead: more than this share of a ReLU layer's units never fired; units.saturated: of the outputs
DEAD, SATURATED = 0.5, 0.5
#: filters.dead: at least this share of a convolution's channels never fired (and at most DEAD);
#: filters.noisy: the first convolution's filters at least this rough (white noise: about 1)
DEAD_FILTERS, NOISY_FILTERS = 0.1, 0.8
#: init.scale: the activation std changes by this factor between the first and last nonlinearity
SCALE = 1e2
#: data.unscaled_inputs: inputs (99th percentile) above ABS_MAX, feature spreads (5th-95th percentile) SPREAD
#: apart, or feature means (95th percentile) above MEAN
ABS_MAX, SPREAD, MEAN = 50.0, 100.0, 10.0
#: loss.noisy: batch size below NOISY_BATCH and an iteration-to-iteration spread above NOISY_CV of the loss
NOISY_BATCH, NOISY_CV = 16, 0.5

#: root causes first: a rule's rank orders findings of the same severity
RANKS = {
    "training.nonfinite": 0, "lr.too_high": 1, "init.zero": 2, "data.leakage": 3, "data.label_noise": 4,
    "data.unscaled_inputs": 5, "data.class_imbalance": 6, "init.scale": 6.5, "units.dead": 7, "filters.dead": 7.5, "units.saturated": 8, "filters.noisy": 21,
    "gradients.vanishing": 9, "gradients.exploding": 10, "lr.too_low": 12,
    "loss.initial": 13, "fit.cannot_learn": 14, "fit.underfitting": 15, "fit.overfitting": 16, "fit.bias_unknown": 17,
    "lr.high_plateau": 18, "loss.noisy": 19, "training.stopped_early": 20,
}

#: findings that are symptoms: when a root cause (a finding ranked before them) is present they
#: are kept but marked as explained and shown after it
SYMPTOMS = ("fit.cannot_learn", "fit.underfitting", "fit.overfitting", "loss.initial")


def sort_findings(findings):
    findings = list(findings)
    causes = [f for f in findings if f.code not in SYMPTOMS and f.severity in ("error", "warning")]
    for f in findings:
        if f.code in SYMPTOMS and causes and f.severity in ("error", "warning"):
            first = min(causes, key=lambda c: RANKS.get(c.code, 50))
            if RANKS.get(first.code, 50) < RANKS.get(f.code, 50):
                f.severity = "warning"
                f.evidence += f" (probably a consequence of: {first.what[0].lower() + first.what[1:]})"
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), RANKS.get(f.code, 50)))


class RunView:
    """What the rules read, from a live Trainer or a run folder.

    ``iter_loss``: per-iteration loss (with penalty), ``finite_loss`` the same without NaN/inf;
    ``data_loss``; ``epochs``: per-epoch rows; ``kept``: the row of the epoch whose weights the
    run kept (early stopping's restored epoch, a run folder's selected epoch; else the last);
    ``monitor``: a Monitor summary (may be empty); ``modules``: {dotted name: description};
    ``n_classes``; ``loss_kind`` ("softmax", "hinge", ...); ``batch_size``; ``n_train``;
    ``stop_reason``; ``epochs_requested``; ``baseline_error``: the error a good model is expected
    to reach (human or Bayes error), None when not known; ``data_findings``; ``records``: the
    monitor's samples and ``iter_lr``: the learning rate per iteration (for reports).
    """

    def __init__(self, iter_loss, data_loss, epochs, monitor=None, n_classes=None, loss_kind=None,
                 batch_size=None, n_train=None, stop_reason="", epochs_requested=None, baseline_error=None,
                 data_findings=(), records=(), iter_lr=None, kept_epoch=None):
        self.iter_loss = np.asarray(iter_loss, dtype=np.float64)
        self.finite_loss = self.iter_loss[np.isfinite(self.iter_loss)]  # what the loss-curve rules read
        self.data_loss = np.asarray(data_loss if data_loss is not None else iter_loss, dtype=np.float64)
        self.epochs = list(epochs)
        self.monitor = monitor or {}
        self.modules = dict(self.monitor.get("modules", {}))
        self.n_classes, self.loss_kind = n_classes, loss_kind
        self.batch_size, self.n_train = batch_size, n_train
        self.stop_reason = stop_reason or ""
        self.epochs_requested = epochs_requested
        self.baseline_error = None if baseline_error is None else float(baseline_error)
        self.data_findings = list(data_findings)
        self.records = list(records)
        self.iter_lr = iter_lr
        rows = [e for e in self.epochs if e.get("epoch") == kept_epoch]
        self.kept = rows[0] if rows else (self.epochs[-1] if self.epochs else {})

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

    def accuracy(self, key="accuracy"):
        """The kept epoch's value of ``key`` (training or validation accuracy), or None."""
        v = self.kept.get(key)
        return None if v is None or v != v else float(v)

    @property
    def progress(self):
        """How far the run got: the share of the gap from chance to 100 % that its kept training
        accuracy closed (classification), else the share by which its loss fell; None if unknown."""
        acc, chance = self.accuracy(), self.chance_accuracy
        if acc is not None and chance is not None and chance < 1:
            return (acc - chance) / (1 - chance)
        loss = self.finite_loss
        if len(loss) >= 10 and np.isfinite(self.iter_loss).all():
            start, end = _start_loss(loss), float(np.median(loss[-max(3, len(loss) // 20):]))
            return (start - end) / max(abs(start), 1e-12)
        return None

    @property
    def learned_well(self) -> bool:
        p = self.progress
        return p is not None and p >= LEARNED_WELL

    def name(self, key) -> str:
        """A layer as people recognise it: ``features.3 (Conv2d 16->32)``, an activation with the
        layer it follows, ``1 (ReLU after 0, Linear 64->64)``; a parameter ``0.W`` as
        ``0 (Linear 64->64) W``."""
        if key in self.modules:
            desc = self.modules[key]
            if "->" not in desc:  # an activation, a pooling: say which layer it follows
                names = list(self.modules)
                parent = key.rpartition(".")[0]
                before = [n for n in names[:names.index(key)] if n.rpartition(".")[0] == parent and n != parent]
                prev = next((n for n in reversed(before) if "->" in self.modules[n]), None)
                if prev is not None:
                    return f"{key} ({desc} after {prev}, {self.modules[prev]})"
            return f"{key} ({desc})"
        module, _, pname = key.rpartition(".")
        if module in self.modules:
            return f"{module} ({self.modules[module]}) {pname}"
        if not module and "" in self.modules:
            return f"{key} of the {self.modules['']}"
        return key


def _f(severity, code, what, evidence, remedy, **data):
    return Finding(severity, what, evidence, remedy, code, data)


def _inside(run):
    """The severity of a finding from inside the network: warning unless the run learned well."""
    return "info" if run.learned_well else "warning"


def _learned_note(run):
    if not run.learned_well:
        return ""
    acc = run.accuracy()
    how = f"training accuracy {acc:.3f}" if acc is not None else "the loss fell"
    return f"; the run learned well anyway ({how}), so this costs little here"


def moving_average(x, k):
    """Means of every k consecutive values (len(x) - k + 1 of them); x itself when shorter than k."""
    x = np.asarray(x, float)
    if len(x) < k or k < 2:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    return (c[k:] - c[:-k]) / k


def _start_loss(loss):
    """The loss at the start of a run: the median of its first 2 % of iterations (at least 3)."""
    return float(np.median(loss[:max(3, len(loss) // 50)]))


# -- loss curve and learning rate -----------------------------------------------------------------
def rule_nonfinite(run):
    """error lr.too_high: the loss was finite, then NaN/inf (diverged). error training.nonfinite:
    NaN/inf from the first iteration."""
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
                       "(GradientClipping) for recurrent nets.", fix="lr_down")]
        return [_f("error", "training.nonfinite", "The loss was NaN or infinite from the start.",
                   (f"first non-finite loss at iteration {first}" if first else "") +
                   (f"; {run.stop_reason}" if run.stop_reason else ""),
                   "Check the inputs and labels for NaN/inf, the initial weights, and the loss for log(0).")]
    return []


def rule_lr_too_high(run):
    """warning lr.too_high: the smoothed loss climbs above RISE (1.5) x its start (and by 0.1) before
    the last tenth of the run; or the smoothed data loss ends above RISE x its minimum (and by 0.1),
    reached before the last fifth; or the loss ends where it began (98 %) with jumps 20x the
    typical step. The second is a warning only when the run did not learn well (a noisy but
    successful run ends like this too)."""
    loss = run.finite_loss
    n = len(loss)
    if n < 10:
        return []
    start = _start_loss(loss)
    k = max(5, n // 20)
    sm = moving_average(loss, k)
    peak = float(sm.max())
    if peak > RISE * start and peak > start + 0.1 and int(np.argmax(sm)) < len(sm) * 0.9:
        return [_f("warning", "lr.too_high", "The learning rate looks too high: the loss rises instead of falling.",
                   f"the smoothed loss climbs from {start:.3g} to {peak:.3g}",
                   "Divide the learning rate by 3-10 (or run lr_range_test); add a warmup or gradient clipping.",
                   fix="lr_down")]
    data = run.data_loss[np.isfinite(run.data_loss)]
    sm_data = moving_average(data, k) if len(data) >= k else data
    low, low_at = float(sm_data.min()), int(np.argmin(sm_data))
    last = float(sm_data[-1])
    if last > RISE * low and last > low + 0.1 and low_at < 0.8 * len(sm_data):
        return [_f(_inside(run), "lr.too_high", "The learning rate looks too high: the loss went down, then climbed "
                   "back up and stayed there.",
                   f"the smoothed training loss (without the penalty) fell to {low:.3g} by iteration "
                   f"{low_at + k} and ended at {last:.3g}" + _learned_note(run),
                   "Divide the learning rate by 3-10, or decay it (a step or cosine schedule, ReduceLROnPlateau).",
                   fix="lr_down")]
    end = float(np.median(loss[-max(3, n // 10):]))
    if end > start * 0.98 and end > 0.05:
        steps = np.abs(np.diff(loss))
        jumps = steps > 20 * (np.median(steps) + 1e-12)  # a change 20x the typical one
        if jumps.mean() > 0.02 or float(np.std(loss[-max(3, n // 5):])) > 0.25 * end:
            return [_f("warning", "lr.too_high",
                       "The learning rate looks too high: the loss does not go down and jumps around.",
                       f"loss {start:.3g} at the start and {end:.3g} at the end, with large jumps between iterations",
                       "Divide the learning rate by 3-10; check with lr_range_test.", fix="lr_down")]
    return []


def rule_lr_too_low(run):
    """warning lr.too_low: the median update/weight ratio is below LOW_RATIO (1e-5), or below
    LOW_RATIO_SLOW (1e-4) while the loss fell by less than SLOW_DROP (10 %), almost linearly."""
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
    third = max(n // 3, 1)
    first_rate = (loss[:third].mean() - loss[third:2 * third].mean())
    last_rate = (loss[third:2 * third].mean() - loss[2 * third:].mean())
    linear = first_rate > 0 and last_rate > 0.5 * first_rate
    if run.learned_well:
        return []
    if (ur is not None and ur < LOW_RATIO) or (drop < SLOW_DROP and linear and (ur is None or ur < LOW_RATIO_SLOW)):
        ev = f"loss {start:.3g} -> {end:.3g} ({100 * drop:.1f}% lower) over {n} iterations"
        if ur is not None:
            ev += f"; median update/weight ratio {ur:.1e} (the notes aim for about 1e-3)"
        return [_f("warning", "lr.too_low", "The learning rate looks too low: the loss falls slowly and steadily.",
                   ev, "Multiply the learning rate by 10 (or run lr_range_test); the update/weight ratio should be "
                       "around 1e-3.", update_ratio=ur, fix="lr_up")]
    return []


def rule_high_plateau(run):
    """info lr.high_plateau: the loss fell by 30 % in the first 40 % of the run, then stayed within
    2 % while still above 0.3 x the chance loss."""
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
    """loss.initial: the first data loss below 0.5 x or above 1.5 x + 0.5 the chance value (ln C for
    softmax, C - 1 for the hinge loss): warning unless the run learned well (then info)."""
    chance = run.chance_loss
    if chance is None or len(run.data_loss) == 0 or not np.isfinite(run.data_loss[0]):
        return []
    first = float(run.data_loss[0])
    lo, hi, extra = INITIAL_BAND
    if first > hi * chance + extra or first < lo * chance:
        return [_f(_inside(run), "loss.initial", "The loss at the start is far from its expected value at chance.",
                   f"first data loss {first:.3g}; with {run.n_classes} classes and small random weights it should "
                   f"be about {chance:.3g}" + (" (ln C)" if run.loss_kind == "softmax" else " (C - 1)")
                   + _learned_note(run),
                   "Check the weight scale of the last layer (small initial scores, e.g. init='small' for it), the "
                   "labels and the loss.")]
    return []


def rule_noisy(run):
    """info loss.noisy: batch size below NOISY_BATCH (16) and an iteration-to-iteration spread above
    NOISY_CV (0.5) of the loss level over the second half of the run."""
    loss = run.finite_loss
    if len(loss) < 50:
        return []
    tail = loss[len(loss) // 2:]
    trend = moving_average(tail, 25)
    resid = tail[12:12 + len(trend)] - trend
    cv = float(np.std(resid) / (abs(np.mean(trend)) + 1e-12))
    if cv > NOISY_CV and run.batch_size is not None and run.batch_size < NOISY_BATCH:
        return [_f("info", "loss.noisy", "The loss is very noisy from one batch to the next.",
                   f"batch size {run.batch_size}; iteration-to-iteration spread {cv:.2f} of the loss level",
                   "Use a larger batch (32-256) or a smaller learning rate.")]
    return []


# -- fit: bias and variance (the notes' basic recipe) ------------------------------------------------------------
def _errors(run):
    acc, val = run.accuracy("accuracy"), run.accuracy("val_accuracy")
    return (None if acc is None else 1 - acc), (None if val is None else 1 - val)


def rule_cannot_learn(run):
    """error fit.cannot_learn: validation accuracy within CANNOT_VAL (0.05) of chance while training
    accuracy is within CANNOT_TRAIN (0.3) of it (shuffled or misaligned labels end like this);
    without validation data, training within 0.1 of chance."""
    acc, val = run.accuracy("accuracy"), run.accuracy("val_accuracy")
    chance = run.chance_accuracy
    if acc is None or chance is None:
        return []
    if (val is not None and val <= chance + CANNOT_VAL and acc <= chance + CANNOT_TRAIN) or \
            (val is None and acc < chance + 0.1):
        return [_f("error", "fit.cannot_learn", "The network learns nothing that generalizes: accuracy stays near "
                   "chance.",
                   f"training accuracy {acc:.3f}" + (f", validation {val:.3f}" if val is not None else "") +
                   f"; chance is {chance:.3f}",
                   "Check that inputs and labels belong together (shuffled or misaligned labels), the loss, and "
                   "that a small subset can be overfit (glassnet doctor --sanity).")]
    return []


def rule_bias(run):
    """With a baseline error (human or Bayes error): fit.underfitting when the avoidable bias, training
    error minus baseline, is BIAS_WARN (0.10) or more (warning) or NOTE_GAP (0.05) or more (info).
    Without a baseline the doctor does not judge the training error: fit.bias_unknown (info) gives
    the numbers and how to pass one, when the training error is NOTE_GAP or more."""
    err, val_err = _errors(run)
    if err is None:
        return []
    if run.baseline_error is None:
        if err < NOTE_GAP:
            return []
        return [_f("info", "fit.bias_unknown", "Is the training error high? That depends on the error a good model "
                   "can reach on this task, which the doctor was not told.",
                   f"training error {err:.3f}" + (f", validation error {val_err:.3f}" if val_err is not None else ""),
                   "Give the human (or best known) error: glassnet doctor RUN --baseline-error 0.02, or "
                   "examine(..., baseline_error=0.02); the notes' recipe then says whether to fight bias.")]
    avoidable = err - run.baseline_error
    if avoidable < NOTE_GAP:
        return []
    sev = "warning" if avoidable >= BIAS_WARN else "info"
    return [_f(sev, "fit.underfitting", "High bias (underfitting): the training error is far above the baseline "
               "error." if sev == "warning" else "Some avoidable bias: the training error is above the baseline error.",
               f"training error {err:.3f} against a baseline of {run.baseline_error:.3f} (avoidable bias "
               f"{avoidable:.3f})",
               "In this order: a bigger network (more units/layers), train longer, a better optimizer or "
               "learning rate (Adam, lr_range_test), less regularization, another architecture.",
               avoidable_bias=avoidable, fix="less_regularization")]


def rule_variance(run):
    """fit.overfitting: training accuracy above validation accuracy (both measured in eval mode, at
    the kept epoch) by VARIANCE_WARN (0.10) or more (warning) or NOTE_GAP (0.05) or more (info)."""
    acc, val = run.accuracy("accuracy"), run.accuracy("val_accuracy")
    if acc is None or val is None:
        return []
    gap = acc - val
    if gap < NOTE_GAP:
        return []
    sev = "warning" if gap >= VARIANCE_WARN else "info"
    return [_f(sev, "fit.overfitting", "High variance (overfitting): training accuracy is far above "
               "validation accuracy." if sev == "warning" else "Some variance: training accuracy is above "
               "validation accuracy.",
               f"training {acc:.3f} vs validation {val:.3f} (gap {gap:.3f})",
               "In this order: more data, regularization (L2, dropout), data augmentation (a config's "
               "data.augment, e.g. RandomShift for images), early stopping, a smaller network.",
               gap=gap, fix="more_regularization")]


def rule_label_noise(run):
    """warning data.label_noise: validation accuracy above training accuracy by NOISE_GAP (0.10) or
    more, both in eval mode (dropout off): the model does better on data it never saw than on the
    data it was fitted to, as when training labels are wrong."""
    acc, val = run.accuracy("accuracy"), run.accuracy("val_accuracy")
    if acc is None or val is None or val - acc < NOISE_GAP:
        return []
    return [_f("warning", "data.label_noise", "The training labels look noisy: the model is more accurate on the "
               "validation data than on the data it was trained on.",
               f"training accuracy {acc:.3f} vs validation {val:.3f}, both measured in eval mode",
               "Check the training labels (a sample by hand; duplicates with different labels); relabel or drop "
               "the wrong ones, or use a loss robust to label noise.")]


def rule_stopped_early(run):
    """info training.stopped_early: the best validation value came in the last two epochs of a run
    that completed its epochs, still rising."""
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
    """error init.zero: a weight tensor starts with zero spread (all equal), so its units compute the
    same function and symmetry is never broken."""
    order, params = _weights(run)
    bad = [n for n in order if params[n]["first_weight_std"] < 1e-8]
    if bad:
        return [_f("error", "init.zero", "Weights start all equal (e.g. all zeros): every unit of a layer computes "
                   "the same thing and symmetry is never broken.",
                   f"weights with zero spread at the start: {', '.join(run.name(n) for n in bad)}",
                   "Initialize with small random numbers: init='he' for ReLU, init='xavier' for tanh.",
                   fix="he_init")]
    return []


def rule_gradients(run):
    """gradients.vanishing / gradients.exploding: the median gradient norm of the first weight
    tensor is below 1/GRAD_RATIO (1e-3) or above GRAD_RATIO times the last's (three tensors or
    more); exploding also when a sampled global gradient norm is SPIKE (50) times the median of the
    samples before it. Warning unless the run learned well (then info)."""
    order, params = _weights(run)
    gn = [(n, params[n]["grad_norm_median"]) for n in order if params[n]["grad_norm_median"] == params[n]["grad_norm_median"]]
    sev = _inside(run)
    note = _learned_note(run)
    if len(gn) >= 3 and gn[-1][1] > 0:
        first, last = gn[0][1], gn[-1][1]
        ratio = first / last
        if ratio < 1 / GRAD_RATIO:
            return [_f(sev, "gradients.vanishing", "Vanishing gradients: the first layers receive gradients orders "
                       "of magnitude smaller than the last.",
                       f"median gradient norm {first:.2e} at {run.name(gn[0][0])} vs {last:.2e} at "
                       f"{run.name(gn[-1][0])} (ratio {ratio:.1e}) over {len(gn)} weight tensors" + note,
                       "Use ReLU instead of sigmoid/tanh, He initialization, batch normalization, residual "
                       "connections, or a shallower network.", ratio=ratio, fix="relu_he")]
        if ratio > GRAD_RATIO:
            return [_f(sev, "gradients.exploding", "Exploding gradients: the first layers receive gradients orders "
                       "of magnitude larger than the last.",
                       f"median gradient norm {first:.2e} at {run.name(gn[0][0])} vs {last:.2e} at "
                       f"{run.name(gn[-1][0])} (ratio {ratio:.1e})" + note,
                       "Clip gradients (GradientClipping), lower the learning rate, use batch normalization or "
                       "smaller initial weights.", ratio=ratio, fix="clip")]
    norms = [r.get("global_grad_norm") for r in run.records if r.get("global_grad_norm") is not None]
    norms = [v for v in norms if v == v]
    # a sample SPIKE times the median of the samples before it (gradients that shrink as the loss
    # falls are healthy; gradients that suddenly grow are not)
    jumps = [(norms[i] / float(np.median(norms[:i])), i) for i in range(3, len(norms)) if np.median(norms[:i]) > 0]
    if jumps:
        jump, at = max(jumps)
        if jump > SPIKE:
            return [_f(sev, "gradients.exploding", "Exploding gradients: the gradient norm jumps by orders of "
                       "magnitude from one step to another.",
                       f"sampled gradient norm {norms[at]:.3g} at sample {at + 1} of {len(norms)}, {jump:.0f}x the "
                       f"median of the samples before it" + note,
                       "Clip gradients by their global norm (GradientClipping, trainer.gradient_clipping = 5), lower "
                       "the learning rate; for recurrent nets, orthogonal recurrent weights, an LSTM or GRU.",
                       spike=jump, fix="clip")]
    return []


#: a gradient at an early step this many times its size at the last step explodes through time
THROUGH_TIME_EXPLODE = 1e2


def rule_through_time(run):
    """gradients.exploding_through_time / gradients.vanishing_through_time, per recurrent layer from
    the monitor's ``gradient_through_time`` probe: exploding when the gradient of the last step's
    output, carried back, grows above THROUGH_TIME_EXPLODE (100) times its size at the last step
    (median over the samples); vanishing when a vanilla RNN over 10 steps or more carries it back
    fewer than a quarter of its steps before it falls below 1 % (an LSTM or GRU forgetting the far
    past is how it works, so for them this is not reported). Warning unless the run learned well."""
    out = []
    sev = _inside(run)
    note = _learned_note(run)
    for name, tt in (run.monitor.get("through_time") or {}).items():
        kind, steps, reach = tt["type"], tt["steps"], tt["reach"]
        where = run.name(name)
        if tt["max_ratio"] == tt["max_ratio"] and tt["max_ratio"] > THROUGH_TIME_EXPLODE:
            better = " or use an LSTM or GRU, whose gated cell keeps gradients bounded" if kind == "RNN" else ""
            out.append(_f("warning", "gradients.exploding_through_time", "Exploding gradients through time: carried "
                          "back through the recurrence, the gradient grows instead of shrinking.",
                          f"at {where}, carried back over {steps} steps, the gradient of the last step's output grows "
                          f"to {tt['max_ratio']:.1e} times its size at the last step (median over {tt['samples']} "
                          f"samples)" + note,
                          "Clip gradients by their global norm (trainer.gradient_clipping = 5, or the "
                          "GradientClipping callback), lower the learning rate, keep the recurrent weights "
                          f"orthogonal (recurrent_init='orthogonal'){better}.", ratio=tt["max_ratio"], fix="clip"))
        elif kind == "RNN" and steps >= 10 and reach < steps / 4:
            out.append(_f(sev, "gradients.vanishing_through_time", "Vanishing gradients through time: the RNN cannot "
                          "learn from steps far in the past.",
                          f"at {where} the gradient of the last step falls below 1 % of its size {reach} steps back "
                          f"(of {steps}); at the first step it is {tt['first_ratio']:.1e} of it" + note,
                          "Use an LSTM or GRU (gates let gradients through many steps), or shorter sequences if "
                          f"about {max(reach, 1)} steps of context are enough.", reach=reach, steps=steps))
    return out


def rule_dead_units(run):
    """units.dead: more than DEAD (half) of the units of a ReLU layer never fired on any sampled
    batch, or fired on none of the last three samples (died during training). Warning unless the
    run learned well (then info)."""
    dead = run.monitor.get("dead_fraction", {})
    end = run.monitor.get("dead_fraction_end", {})
    died = sorted(((f, n) for n, f in end.items() if f > dead.get(n, 0.0)), reverse=True)
    worst = sorted(((f, n) for n, f in dead.items()), reverse=True)
    if died and died[0][0] > DEAD and (not worst or worst[0][0] <= DEAD):
        f, n = died[0]
        return [_f(_inside(run), "units.dead", "Dead ReLUs: units that fired earlier stopped firing during training "
                   "and no longer learn.",
                   f"{100 * f:.0f}% of the units of {run.name(n)} fired on none of the last samples"
                   f" ({100 * dead.get(n, 0.0):.0f}% never fired at all)" + _learned_note(run),
                   "Lower the learning rate (a step too large pushes units where they never fire again), use "
                   "LeakyReLU, or He initialization with biases at 0.", fraction=f, fix="lr_down")]
    if worst and worst[0][0] > DEAD:
        f, n = worst[0]
        return [_f(_inside(run), "units.dead", "Dead ReLUs: many units never fired on any sampled batch, so they "
                   "never learn.",
                   f"{100 * f:.0f}% of the units of {run.name(n)} never fired"
                   + (f" (also {', '.join(f'{run.name(m)} {100 * g:.0f}%' for g, m in worst[1:3] if g > 0.2)})"
                      if any(g > 0.2 for g, _ in worst[1:3]) else "") + _learned_note(run),
                   "Lower the learning rate, check the bias initialization (start biases at 0), use He "
                   "initialization, or LeakyReLU.", fraction=f, fix="lr_down")]
    return []


def rule_saturation(run):
    """units.saturated: more than SATURATED (half) of a sigmoid/tanh layer's outputs sit at the flat
    ends (below 0.01 or above 0.99; |tanh| above 0.99) on the last sample. Warning unless the run
    learned well (then info)."""
    layers = run.monitor.get("layers", {})
    sat = [(v["last"].get("saturated_fraction", v["first"].get("saturated_fraction")), n) for n, v in layers.items()
           if v.get("type") in ("Sigmoid", "Tanh")]
    sat = [(f, n) for f, n in sat if f is not None]
    if not sat:
        return []
    f, n = max(sat)
    if f > SATURATED:
        return [_f(_inside(run), "units.saturated", "Saturated sigmoid/tanh units: their outputs sit at the flat "
                   "ends, where the local gradient is almost zero.",
                   f"{100 * f:.0f}% of the outputs of {run.name(n)} are saturated" + _learned_note(run),
                   "Smaller initial weights (init='xavier'), normalized inputs, batch normalization, or ReLU units.",
                   fraction=f, fix="xavier_init")]
    return []


def rule_init_scale(run):
    """init.scale: the activation std at the start changes by SCALE (100x) or more between the first
    and last nonlinearity (three or more). Warning unless the run learned well (then info)."""
    layers = run.monitor.get("layers", {})
    order = [n for n in run.monitor.get("layer_order", layers) if layers.get(n, {}).get("type") in
             ("ReLU", "LeakyReLU", "Tanh", "Sigmoid")]
    stds = [(n, layers[n]["first"].get("std")) for n in order if layers[n]["first"].get("std")]
    if len(stds) < 3:
        return []
    a, b = stds[0][1], stds[-1][1]
    if a > 0 and (b / a < 1 / SCALE or b / a > SCALE):
        return [_f(_inside(run), "init.scale", "Badly scaled initialization: activations shrink or grow layer after "
                   "layer at the start.",
                   f"activation std {a:.2e} at {run.name(stds[0][0])} vs {b:.2e} at {run.name(stds[-1][0])}"
                   + _learned_note(run),
                   "Use init='he' for ReLU and init='xavier' for tanh (variance 2/fan_in or 2/(fan_in + fan_out)), or batch "
                   "normalization.", fix="he_init")]
    return []


def rule_unscaled_inputs(run):
    """warning data.unscaled_inputs: in the first sampled batch, the 99th percentile of |input| above
    ABS_MAX (50), the 5th and 95th percentiles of the features' standard deviations SPREAD (100x)
    apart, or the 95th percentile of |feature mean| above MEAN (10). Percentiles, not extremes: the
    rare pixels of a standardized image may take large values."""
    inp = run.monitor.get("input", {})
    if not inp:
        return []
    lo, hi = inp.get("feature_std_p05", inp.get("feature_std_min", 0)), inp.get("feature_std_p95", inp.get("feature_std_max", 0))
    big = inp.get("abs_p99", inp.get("abs_max", 0))
    mean = inp.get("feature_mean_abs_p95", inp.get("feature_mean_abs_max", 0))
    if big > ABS_MAX or (lo > 0 and hi / lo > SPREAD) or mean > MEAN:
        return [_f("warning", "data.unscaled_inputs", "The inputs are not normalized: features have very different "
                   "or very large scales.",
                   f"99 % of the |values| below {big:.3g}; feature standard deviations from {lo:.3g} to {hi:.3g} "
                   f"(5th and 95th percentiles); feature means up to {mean:.3g}",
                   "Standardize the features (glassnet.data.Standardize, fitted on the training data only).",
                   fix="standardize")]
    return []


def rule_dead_filters(run):
    """filters.dead: a convolution's channels whose maps were zero on every sampled input (the
    notes' dead filters, "often a symptom of high learning rates"), when at least one in
    DEAD_FILTERS of a layer's channels is dead and units.dead does not already report the layer
    (more than half). Warning unless the run learned well (then info)."""
    counts = run.monitor.get("dead_filters", {})
    worst = sorted(((d / n, n_, d, n) for n_, (d, n) in counts.items() if n and d), reverse=True)
    if not worst or worst[0][0] < DEAD_FILTERS or worst[0][0] > DEAD:
        return []
    frac, name, dead, total = worst[0]
    return [_f(_inside(run), "filters.dead", "Dead filters: some convolution channels output zero for every input "
               "and no longer learn.",
               f"{dead} of the {total} channels after {run.name(name)} were zero on every sampled input"
               + _learned_note(run),
               "Lower the learning rate (dead filters are often its symptom), or use LeakyReLU; "
               "`glassnet.viz.activations` shows the maps.", fraction=frac, fix="lr_down")]


def rule_noisy_filters(run):
    """filters.noisy (info): the first convolution's filters (5x5 or larger) look like noise
    (roughness above NOISY_FILTERS; white noise is about 1): the notes read that as too little
    training or too little regularization."""
    first = run.monitor.get("first_filters") or {}
    r = first.get("roughness")
    if r is None or r < NOISY_FILTERS:
        return []
    return [_f("info", "filters.noisy", "The first layer's filters look like noise rather than smooth patterns.",
               f"neighbouring weights of {run.name(first['layer'])} differ as much as random ones would "
               f"(roughness {r:.2f}; white noise about 1, a smooth 5x5 blob 0.46)",
               "Train longer or regularize more (L2); `glassnet.viz.filters` shows them.", roughness=r)]


RULES = [rule_nonfinite, rule_lr_too_high, rule_lr_too_low, rule_high_plateau, rule_initial_loss, rule_noisy,
         rule_cannot_learn, rule_bias, rule_variance, rule_label_noise, rule_stopped_early, rule_zero_init,
         rule_gradients, rule_through_time, rule_dead_units, rule_dead_filters, rule_saturation, rule_init_scale, rule_unscaled_inputs,
         rule_noisy_filters]

#: what each part of a run the rules read lets them check (for a healthy run's summary)
CHECKED = {
    "loss": "the loss curve: divergence and NaN, a learning rate too high or too low, plateaus, noise",
    "accuracy": "the fit: learning at all, bias against the baseline, variance (train vs validation), label noise",
    "monitor": "inside the network: dead ReLUs and dead filters, saturated units, vanishing and exploding gradients "
               "(also through time in recurrent layers), the initialization's scale, update/weight ratios, the inputs' scale",
    "data": "the data: class balance, feature scales, NaN, examples shared by training and validation",
}


def checked(run, with_data=False) -> list:
    """What the rules could check on this run (a healthy verdict lists it, so silence is not taken
    for "not run")."""
    out = []
    if len(run.finite_loss):
        out.append(CHECKED["loss"])
    if run.accuracy() is not None:
        out.append(CHECKED["accuracy"])
    if run.monitor.get("samples"):
        out.append(CHECKED["monitor"])
    if with_data:
        out.append(CHECKED["data"])
    return out


def run_rules(run) -> list:
    findings = []
    for rule in RULES:
        findings.extend(rule(run))
    codes = {f.code for f in findings}
    if "lr.too_high" in codes:  # a diverged run also looks slow and flat afterwards
        findings = [f for f in findings if f.code not in ("lr.too_low", "lr.high_plateau")]
    if "data.unscaled_inputs" in codes:  # the data check says it again, from the whole training set
        run.data_findings = [f for f in run.data_findings if f.code != "data.unscaled_features"]
    if codes & {"data.label_noise", "fit.cannot_learn"}:  # the training error is explained already
        findings = [f for f in findings if f.code != "fit.bias_unknown"]
    findings.extend(run.data_findings)
    return sort_findings(findings)
