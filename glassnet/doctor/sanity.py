"""Sanity checks before a long run (the notes' list): the initial loss is at chance,
regularization raises the loss, the model can overfit a tiny subset, gradients pass a sparse
gradient check at the current weights, the data looks sane, and a training step fits in
memory."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from ..backend import as_numpy
from .findings import Finding

__all__ = ["sanity_checks", "SanityCheck"]


@dataclass
class SanityCheck:
    name: str
    passed: bool
    detail: str
    finding: Finding | None = None

    def __str__(self):
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.name}: {self.detail}"


def _chance(loss, n_classes):
    kind = type(loss).__name__
    if kind == "SoftmaxCrossEntropy":
        return math.log(n_classes), "ln C"
    if kind == "MulticlassHinge":
        return float(n_classes - 1) * getattr(loss, "delta", 1.0), "(C - 1) * delta"
    return None, ""


def _batch_loss(model, loss, X, y, train=False):
    model.train(train)
    try:
        value = loss.forward(model.forward(X), y)
    finally:
        model.clear_cache()
        loss.clear_cache()
    return float(value)


#: the overfit check: steps it may take at most, and how often it looks whether the subset is fitted
OVERFIT_BUDGET, OVERFIT_EVERY = 3000, 100
#: it passes once the subset is fitted (every example right, or the loss below FITTED x its start) or,
#: after the whole budget, when the loss fell by MATERIAL (half) or more; it fails only below that
FITTED, MATERIAL = 0.05, 0.5


def sanity_checks(model, loss, X, y, penalty=None, make_optimizer=None, n_classes=None, tiny=40,
                  steps=OVERFIT_BUDGET, seed=0, val=None, batch_size=None, optimizer=None) -> list[SanityCheck]:
    """Run the checks on (a copy of) ``model``; the model itself is not changed.

    ``penalty`` defaults to ``L2(1e-2)`` for the regularization check; ``make_optimizer(model)``
    builds the optimizer for the overfit check (the user's optimizer and learning rate; default
    Adam, lr 1e-3), which trains on ``tiny`` examples without regularization until they are
    fitted or ``steps`` (3000) steps have run, and fails only if the loss did not fall by half;
    its detail shows the loss along the way. ``val=(Xv, yv)`` adds a check for examples that
    appear in both splits. ``batch_size`` (with the run's ``optimizer``) adds a check that a
    training step fits in memory (``memory_finding``).
    """
    from ..data.checks import check_data, leakage_finding
    from ..gradcheck import check_module
    from ..optim import L2, Adam

    X = np.asarray(as_numpy(X))
    y = np.asarray(as_numpy(y))
    rng = np.random.default_rng(seed)
    dtype = model.dtype or np.float32
    net = copy.deepcopy(model)
    out = []
    if n_classes is None and getattr(loss, "is_classifier", False) and y.ndim == 1:
        n_classes = int(y.max()) + 1
    idx = rng.permutation(len(X))
    batch = idx[:min(512, len(X))]
    Xb, yb = X[batch].astype(dtype), y[batch]

    # 1. the loss at the start
    first = _batch_loss(net, loss, Xb, yb)
    chance, formula = _chance(loss, n_classes) if n_classes else (None, "")
    if chance is not None:
        ok = 0.5 * chance <= first <= 1.5 * chance + 0.5  # the doctor's rule uses the same band
        detail = f"initial loss {first:.3f}, expected about {formula} = {chance:.3f}"
        out.append(SanityCheck("initial loss at chance", ok, detail, None if ok else Finding(
            "warning", "The loss at the start is far from chance.", detail,
            "Make the initial scores small (smaller last-layer weights); check labels and loss.", "loss.initial")))

    # 2. regularization raises the loss
    pen = penalty if penalty is not None else L2(1e-2)
    with_pen = first + float(pen.value(net))
    ok = with_pen > first
    detail = f"loss {first:.4f} without and {with_pen:.4f} with {type(pen).__name__}"
    out.append(SanityCheck("regularization raises the loss", ok, detail, None if ok else Finding(
        "warning", "Adding the penalty does not raise the loss: it applies to no weight.", detail,
        "Check that the model's weights have decay=True and the penalty strength is positive.", "penalty.inactive")))

    # 3. overfit a tiny subset with regularization off: until it is fitted, within a budget any
    # reasonable model meets; only a loss that does not fall materially fails
    small = idx[:min(tiny, len(X))]
    Xs, ys = X[small].astype(dtype), y[small]
    fit_net = copy.deepcopy(model)
    opt = make_optimizer(fit_net) if make_optimizer is not None else Adam(fit_net, lr=1e-3)
    start = _batch_loss(fit_net, loss, Xs, ys)
    classes = getattr(loss, "is_classifier", False) and ys.ndim == 1
    curve, acc, done = [(0, start)], None, 0
    fitted = False
    while done < steps and not fitted:
        fit_net.train()
        for _ in range(min(OVERFIT_EVERY, steps - done)):
            fit_net.zero_grad()
            loss.forward(fit_net.forward(Xs), ys)
            fit_net.backward(loss.backward())
            opt.step()
        done += min(OVERFIT_EVERY, steps - done)
        end = _batch_loss(fit_net, loss, Xs, ys)
        curve.append((done, end))
        if classes:
            fit_net.eval()
            acc = float((as_numpy(fit_net.forward(Xs)).argmax(1) == ys).mean())
            fit_net.clear_cache()
        fitted = (acc is not None and acc == 1.0) or end < FITTED * start
        if not math.isfinite(end):
            break
    end = curve[-1][1]
    ok = fitted or (math.isfinite(end) and end <= MATERIAL * start)
    shown = curve if len(curve) <= 8 else curve[:4] + curve[-4:]
    detail = (f"{len(small)} examples without regularization: loss " + ", ".join(f"{v:.3g} (step {s})" for s, v in shown)
              + (f", accuracy {acc:.2f}" if acc is not None else "")
              + ("; fitted" if fitted else f"; not fitted after {done} steps" + ("" if not ok else " but the loss "
                                                                                       "falls, so the model can learn")))
    out.append(SanityCheck("can overfit a tiny subset", ok, detail, None if ok else Finding(
        "error", "The model cannot overfit a tiny subset: the loss does not fall materially, so something in the "
        "model, loss, optimizer or data is broken.", detail,
        "Check the labels, the loss, the learning rate (lr_range_test; try 1e-3 with Adam), frozen layers, and that "
        "gradients flow (glassnet gradcheck).", "sanity.cannot_overfit")))

    # 4. a sparse gradient check at the current weights
    report = check_module(model, X[idx[:4]], seed=seed, max_coords=12)
    ok = report.passed
    detail = f"max relative error {report.max_rel_error:.1e} (threshold {report.threshold:.0e}) on {len(report.checks)} tensors"
    out.append(SanityCheck("gradient check", ok, detail, None if ok else Finding(
        "error", "The analytic gradients disagree with numerical ones.", detail + "\n" + str(report),
        "Fix the backward pass of the module named in the report.", "sanity.gradcheck")))

    # 5. the data (and examples shared between the splits)
    rep = check_data(X, y if y.ndim == 1 else None, n_classes)
    bad = [f for f in rep.findings if f.severity != "info"]
    leak = leakage_finding(X, as_numpy(val[0])) if val is not None else None  # any shared example
    if leak is not None:
        bad.append(leak)
    out.append(SanityCheck("data checks", not bad, "no problems" if not bad else "; ".join(f.what for f in bad),
                           bad[0] if bad else None))
    if batch_size is not None:
        from ..models.summary import available_memory, summary
        from .memory import finding_for
        m = summary(model, tuple(X.shape[1:]), batch_size, optimizer, exact=False).memory
        room = available_memory()
        finding = finding_for(m, room) if room is not None else None
        detail = finding.evidence if finding is not None else \
            f"a step at batch size {batch_size} needs about {m.peak / 2**20:,.0f} MiB" + \
            (f" of the {room / 2**20:,.0f} MiB available" if room is not None else "")
        out.append(SanityCheck("fits in memory", finding is None, detail, finding))
    return out
