"""Gradient checking: analytic gradients against centered differences, in float64.

The notes' recipe: centered differences ``(f(x+h) - f(x-h)) / 2h``, relative error
``|a - n| / max(|a|, |n|)`` per element (and ``||a - n|| / (||a|| + ||n||)`` overall),
double precision, dropout under a fixed mask, kinks (ReLU, max, hinge) detected by
comparing the one-sided differences and left out of the grade. Large tensors are checked
on a seeded random subset of coordinates.

Resolution: a centered difference cannot resolve a derivative more finely than its
rounding noise, about ``eps * |f| / h`` (~1e-11 for |f| ~ 1, h = 1e-5). Two things keep the
grade honest: objectives may return the *array* of terms (``out * dout``) so terms that a
perturbation does not touch cancel exactly, and each coordinate's rounding noise is
estimated from the terms it did change, ``NOISE_FACTOR * eps * sum(|f+| + |f-|) / 2h``, plus
the analytic side's own rounding, ``NOISE_FACTOR * eps * g`` with g the largest analytic
gradient in the check. The graded error is ``max(|a - n| - noise, 0) / max(|a|, |n|)``; the raw notes-formula
error is reported beside it. A wrong gradient differs by about its own size and fails.

    report = check_module(gn.nn.Linear(5, 3), x)
    print(report)          # worst error per tensor, graded with the notes' thresholds
    assert report.passed
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .backend import as_numpy

__all__ = ["rel_error", "rel_error_with_noise", "overall_rel_error", "numerical_gradient", "grade", "TensorCheck",
           "GradcheckReport", "check_gradients", "check_module", "check_loss",
           "SMOOTH_THRESHOLD", "KINK_THRESHOLD"]

#: pass thresholds on the worst per-element relative error
SMOOTH_THRESHOLD = 1e-7
KINK_THRESHOLD = 1e-5
#: multiple of eps * max(|f|, 1) / h below which a derivative is indistinguishable from 0
NOISE_FACTOR = 10.0


def rel_error(a, n):
    """Elementwise ``|a - n| / max(|a|, |n|)`` (0 where both are 0)."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    denom = np.maximum(np.abs(a), np.abs(n))
    out = np.zeros(np.broadcast(a, n).shape)
    nz = denom > 0
    out[nz] = np.abs(a - n)[nz] / denom[nz]
    return out


def rel_error_with_noise(a, n, noise):
    """``max(|a - n| - noise, 0) / max(|a|, |n|)``: relative error beyond measurement noise."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    denom = np.maximum(np.abs(a), np.abs(n))
    excess = np.maximum(np.abs(a - n) - noise, 0.0)
    out = np.zeros(np.broadcast(a, n).shape)
    nz = denom > 0
    out[nz] = excess[nz] / denom[nz]
    return out


def overall_rel_error(a, n) -> float:
    """``||a - n|| / (||a|| + ||n||)`` (0 when both are 0)."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)


def grade(err: float, has_kinks: bool = False) -> str:
    """The notes' reading of a relative error."""
    if err > 1e-2:
        return "wrong"
    if err > 1e-4:
        return "uncomfortable"
    if err > 1e-7:
        return "ok (kinks)" if has_kinks else "too high for a smooth function"
    return "good"


def _is_kink(dp, dm):
    # one-sided slopes that disagree by more than curvature can explain: a kink between x-h and x+h
    return abs(dp - dm) > 1e-2 * (abs(dp) + abs(dm)) + 1e-6


def _diff(a, b) -> float:
    # difference the terms first: terms that did not change cancel exactly
    return float(np.sum(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def numerical_gradient(f, x, h=1e-5, indices=None, detect_kinks=False):
    """Centered-difference gradient of ``sum(f())`` with respect to the array ``x``.

    ``f`` returns a scalar or an array of terms whose sum is the objective; ``x`` is
    perturbed in place (and restored), so ``f`` must read it. ``indices`` is a list of index
    tuples (default: every element). Returns (grads at indices, kink flags).
    """
    if indices is None:
        indices = list(np.ndindex(x.shape))
    f0 = f() if detect_kinks else None
    grads = np.empty(len(indices))
    noise = np.empty(len(indices))
    kinks = np.zeros(len(indices), dtype=bool)
    eps = np.finfo(np.float64).eps
    for k, idx in enumerate(indices):
        old = x[idx].item()
        x[idx] = old + h
        fp = np.asarray(f(), dtype=np.float64)
        x[idx] = old - h
        fm = np.asarray(f(), dtype=np.float64)
        x[idx] = old
        grads[k] = _diff(fp, fm) / (2 * h)
        changed = fp != fm
        noise[k] = NOISE_FACTOR * eps * float((np.abs(fp) + np.abs(fm))[changed].sum()) / (2 * h)
        if detect_kinks:
            kinks[k] = _is_kink(_diff(fp, f0) / h, _diff(f0, fm) / h)
    numerical_gradient.last_noise = noise
    return grads, kinks


@dataclass
class TensorCheck:
    """Result for one tensor: worst elementwise relative error and where it is."""
    name: str
    shape: tuple
    n_checked: int
    n_kinks: int
    n_below_noise: int
    max_rel_error: float
    raw_max_rel_error: float
    overall_rel_error: float
    worst_index: tuple | None
    analytic_at_worst: float | None
    numeric_at_worst: float | None


@dataclass
class GradcheckReport:
    """Per-tensor results of a gradient check, graded with the notes' thresholds."""
    subject: str
    checks: list = field(default_factory=list)
    has_kinks: bool = False

    @property
    def threshold(self) -> float:
        return KINK_THRESHOLD if self.has_kinks else SMOOTH_THRESHOLD

    @property
    def worst(self) -> TensorCheck | None:
        return max(self.checks, key=lambda c: c.max_rel_error, default=None)

    @property
    def max_rel_error(self) -> float:
        w = self.worst
        return 0.0 if w is None else w.max_rel_error

    @property
    def raw_max_rel_error(self) -> float:
        """Worst elementwise |a-n|/max(|a|,|n|) with no allowance for rounding noise."""
        return max((c.raw_max_rel_error for c in self.checks), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_rel_error < self.threshold

    @property
    def grade(self) -> str:
        return grade(self.max_rel_error, self.has_kinks)

    def __str__(self):
        lines = [f"gradient check of {self.subject}: worst relative error {self.max_rel_error:.2e} beyond "
                 f"rounding noise (raw {self.raw_max_rel_error:.2e}; {self.grade}; threshold "
                 f"{self.threshold:.0e}) -> {'PASS' if self.passed else 'FAIL'}"]
        for c in self.checks:
            where = "" if c.worst_index is None else (
                f" at {c.worst_index} (analytic {c.analytic_at_worst:.6g}, numeric {c.numeric_at_worst:.6g})")
            kinks = f", {c.n_kinks} at kinks skipped" if c.n_kinks else ""
            kinks += f", {c.n_below_noise} within noise" if c.n_below_noise else ""
            lines.append(f"  {c.name:<12} {str(c.shape):<14} checked {c.n_checked}{kinks}: max "
                         f"{c.max_rel_error:.2e} (raw {c.raw_max_rel_error:.2e}), overall "
                         f"{c.overall_rel_error:.2e}{where}")
        return "\n".join(lines)


def _pick_indices(shape, max_coords, rng):
    size = int(np.prod(shape))
    if size <= max_coords:
        return list(np.ndindex(shape))
    flat = rng.choice(size, size=max_coords, replace=False)
    return [tuple(int(i) for i in np.unravel_index(j, shape)) for j in sorted(flat)]


def check_gradients(f, tensors, analytic, *, subject="function", has_kinks=False, h=1e-5,
                    max_coords=150, seed=0):
    """Check ``analytic[name]`` against numerical gradients of the scalar ``f()``.

    ``tensors`` maps names to float64 arrays that ``f`` reads (they are perturbed in place);
    ``analytic`` maps the same names to the analytic gradients. Returns a GradcheckReport.
    """
    rng = np.random.default_rng(seed)
    report = GradcheckReport(subject, has_kinks=has_kinks)
    gscale = max((float(np.abs(as_numpy(a)).max()) for a in analytic.values() if np.size(a)), default=0.0)
    analytic_noise = NOISE_FACTOR * np.finfo(np.float64).eps * gscale
    for name, x in tensors.items():
        a_full = as_numpy(analytic[name])
        if a_full.shape != x.shape:
            raise ValueError(f"{subject}: analytic gradient for {name!r} has shape {a_full.shape}, "
                             f"expected {x.shape}")
        idx = _pick_indices(x.shape, max_coords, rng)
        num, kinks = numerical_gradient(f, x, h, idx, detect_kinks=has_kinks)
        noise = numerical_gradient.last_noise + analytic_noise
        ana = np.array([a_full[i] for i in idx], dtype=np.float64)
        keep = ~kinks
        raw = rel_error(ana[keep], num[keep])
        errs = rel_error_with_noise(ana[keep], num[keep], noise[keep])
        tiny = raw > errs
        if errs.size:
            w = int(np.argmax(errs))
            kept_idx = [i for i, k in zip(idx, keep) if k]
            worst = (kept_idx[w], float(ana[keep][w]), float(num[keep][w]), float(errs[w]))
        else:
            worst = (None, None, None, 0.0)
        report.checks.append(TensorCheck(
            name, tuple(x.shape), int(keep.sum()), int(kinks.sum()), int(tiny.sum()), worst[3],
            float(raw.max()) if raw.size else 0.0,
            overall_rel_error(ana[keep], num[keep]), worst[0], worst[1], worst[2]))
    return report


def _generators(module):
    return [getattr(m, attr) for _, m, attr in module.named_generators()]


def check_module(module, x, *, dout=None, seed=0, h=1e-5, max_coords=150, check_params=True,
                 copy_module=True, check_input=True):
    """Gradient-check ``module`` at input ``x``: the input gradient and every parameter's.

    Works on a float64 copy of the module (unless ``copy_module=False``). The objective is
    ``sum(module(x) * dout)`` with ``dout`` standard normal (seeded). Random layers
    (Dropout) are checked under a fixed mask: their Generators are rewound before every
    forward. ``check_input=False`` skips the input (for integer ids, as in Embedding). Returns
    a GradcheckReport; ``report.passed`` uses 1e-7 for smooth modules and 1e-5 for modules
    with kinks.
    """
    m = copy.deepcopy(module) if copy_module else module
    m.to(np.float64)
    x = np.array(as_numpy(x), dtype=np.float64)
    gens = _generators(m)
    states = [g.bit_generator.state for g in gens]

    def rewind():
        for g, s in zip(gens, states):
            g.bit_generator.state = s

    rewind()
    out = m.forward(x)
    m.clear_cache()
    if dout is None:
        dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    dout = np.asarray(dout, dtype=np.float64)

    def f():
        rewind()
        terms = as_numpy(m.forward(x)) * dout
        m.clear_cache()
        return terms

    m.zero_grad()
    rewind()
    m.forward(x)
    dx = m.backward(dout)
    tensors, analytic = ({"input": x}, {"input": dx}) if check_input else ({}, {})
    if check_params:
        for name, p in m.named_parameters():
            if p.requires_grad:
                tensors[name] = p.data
                analytic[name] = p.grad.copy()
    kinks = any(getattr(mm, "has_kinks", False) for mm in m.modules())
    return check_gradients(f, tensors, analytic, subject=type(module).__name__, has_kinks=kinks,
                           h=h, max_coords=max_coords, seed=seed)


def check_loss(loss, scores, target, *, seed=0, h=1e-5, max_coords=150):
    """Gradient-check a loss: d(loss)/d(scores) against centered differences, in float64."""
    scores = np.array(as_numpy(scores), dtype=np.float64)
    if getattr(target, "dtype", None) is not None and target.dtype.kind == "f":
        target = np.asarray(target, dtype=np.float64)

    def f():
        val = loss.forward(scores, target)
        loss.clear_cache()
        return val

    loss.forward(scores, target)
    ds = loss.backward()
    return check_gradients(f, {"scores": scores}, {"scores": ds}, subject=type(loss).__name__,
                           has_kinks=getattr(loss, "has_kinks", False), h=h,
                           max_coords=max_coords, seed=seed)


def builtin_layers(seed=0, rng=None):
    """(name, module factory, input shape) of every built-in layer and container, as the
    gradient checks (and the tests of empty batches) use them."""
    from . import nn

    rng = np.random.default_rng(seed) if rng is None else rng

    def bn_eval():
        m = nn.BatchNorm1d(5)
        m.running_mean[...] = rng.standard_normal(5)
        m.running_var[...] = rng.random(5) + 0.5
        return m.eval()

    return [
        ("Linear", lambda: nn.Linear(6, 4, rng=seed), (5, 6)),
        ("ReLU", nn.ReLU, (5, 6)),
        ("LeakyReLU", lambda: nn.LeakyReLU(0.1), (5, 6)),
        ("Sigmoid", nn.Sigmoid, (5, 6)),
        ("Tanh", nn.Tanh, (5, 6)),
        ("Softmax", nn.Softmax, (5, 6)),
        ("Maxout", lambda: nn.Maxout(6, 4, pieces=3, rng=seed), (5, 6)),
        ("Dropout (fixed mask)", lambda: nn.Dropout(0.5, rng=seed), (5, 6)),
        ("BatchNorm1d (train)", lambda: nn.BatchNorm1d(5), (8, 5)),
        ("BatchNorm1d (eval)", bn_eval, (8, 5)),
        ("Flatten", nn.Flatten, (4, 2, 3)),
        ("Identity", nn.Identity, (4, 3)),
        ("Conv2d", lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=seed), (2, 2, 7, 6)),
        ("Conv1d", lambda: nn.Conv1d(2, 3, 3, dilation=2, rng=seed), (2, 2, 9)),
        ("MaxPool2d", lambda: nn.MaxPool2d(3, 2), (2, 2, 7, 5)),
        ("AvgPool2d", lambda: nn.AvgPool2d(2), (2, 2, 4, 6)),
        ("MaxPool1d", lambda: nn.MaxPool1d(2), (2, 2, 6)),
        ("AvgPool1d", lambda: nn.AvgPool1d(3, 1), (2, 2, 6)),
        ("GlobalAvgPool", nn.GlobalAvgPool, (2, 3, 4, 4)),
        ("BatchNorm2d (train)", lambda: nn.BatchNorm2d(3), (4, 3, 3, 3)),
        ("SyncBatchNorm (train, one rank)", lambda: nn.SyncBatchNorm(3), (4, 3, 2, 2)),
        ("LayerNorm", lambda: nn.LayerNorm(5), (4, 3, 5)),
        ("GroupNorm", lambda: nn.GroupNorm(2, 6), (3, 6, 2, 3)),
        ("LocalResponseNorm", lambda: nn.LocalResponseNorm(3, alpha=0.5, k=2.0), (2, 5, 3, 3)),
        ("MaxPool2d (padded)", lambda: nn.MaxPool2d(3, 2, padding=1), (2, 2, 5, 6)),
        ("Reshape", lambda: nn.Reshape(3, 2), (4, 6)),
        ("RNN", lambda: nn.RNN(3, 4, rng=seed), (2, 5, 3)),
        ("LSTM", lambda: nn.LSTM(3, 4, rng=seed), (2, 5, 3)),
        ("GRU", lambda: nn.GRU(3, 4, return_sequences=False, rng=seed), (2, 5, 3)),
        ("Bidirectional (GRU)", lambda: nn.Bidirectional(nn.GRU(3, 2, rng=seed), rng=seed + 1), (2, 4, 3)),
        ("TimeDistributed", lambda: nn.TimeDistributed(nn.Linear(3, 2, rng=seed)), (2, 4, 3)),
        ("BasicBlock", lambda: nn.BasicBlock(2, 3, stride=2, rng=seed), (2, 2, 5, 5)),
        ("Bottleneck", lambda: nn.Bottleneck(4, 8, stride=2, rng=seed), (2, 4, 5, 5)),
        ("Inception", lambda: nn.Inception(3, 2, 2, 3, 1, 2, 2, kernel_5x5=3, rng=seed), (2, 3, 4, 4)),
        ("Sequential MLP", lambda: nn.Sequential(nn.Linear(6, 8, rng=seed), nn.BatchNorm1d(8), nn.ReLU(),
                                                 nn.Dropout(0.2, rng=seed), nn.Linear(8, 3, rng=seed + 1)), (6, 6)),
        ("Residual", lambda: nn.Residual(nn.Sequential(nn.Linear(6, 6, rng=seed), nn.Tanh())), (5, 6)),
        ("Parallel (Concat)", lambda: nn.Parallel(nn.Linear(6, 3, rng=seed), nn.Sigmoid(), merge=nn.Concat()), (5, 6)),
        ("Parallel (Add)", lambda: nn.Parallel(nn.Linear(6, 4, rng=seed), nn.Linear(6, 4, rng=seed + 1)), (5, 6)),
    ]


def builtin_cases(seed=0):
    """(name, thunk) pairs that gradient-check every built-in layer, container and loss."""
    from . import nn
    from .functional import softmax

    rng = np.random.default_rng(seed)

    def away(shape):
        x = rng.standard_normal(shape)
        return np.where(np.abs(x) < 0.05, 0.05 * np.sign(x + 1e-12), x)

    layers = builtin_layers(seed, rng)
    cases = [(name, (lambda f=f, s=s: check_module(f(), away(s), seed=seed))) for name, f, s in layers]
    cases.append(("Embedding (weights)", lambda: check_module(nn.Embedding(6, 3, rng=seed), rng.integers(0, 6, (4, 5)),
                                                                seed=seed, check_input=False)))
    n, c = 7, 5
    losses = [
        ("SoftmaxCrossEntropy (labels)", nn.SoftmaxCrossEntropy, lambda: rng.integers(0, c, n)),
        ("SoftmaxCrossEntropy (probs)", nn.SoftmaxCrossEntropy, lambda: softmax(rng.standard_normal((n, c)))),
        ("MulticlassHinge", nn.MulticlassHinge, lambda: rng.integers(0, c, n)),
        ("BCEWithLogits", nn.BCEWithLogits, lambda: rng.random((n, c))),
        ("MSE", nn.MSE, lambda: rng.standard_normal((n, c))),
        ("KLDivergence", nn.KLDivergence, lambda: softmax(rng.standard_normal((n, c)))),
    ]
    cases += [(name, (lambda L=L, t=t: check_loss(L(), 2 * rng.standard_normal((n, c)), t(), seed=seed)))
              for name, L, t in losses]
    return cases


def check_builtins(seed=0):
    """Gradient-check every built-in layer and loss; returns [(name, GradcheckReport)]."""
    return [(name, run()) for name, run in builtin_cases(seed)]


def format_table(results) -> str:
    """The table ``glassnet gradcheck`` prints."""
    head = (f"{'module':<30} {'tensors':<34} {'raw rel. error':>14} {'beyond noise':>12} "
            f"{'threshold':>9}  {'grade':<30} result")
    lines = [head, "-" * len(head)]
    for name, r in results:
        tensors = ",".join(c.name for c in r.checks)
        if len(tensors) > 33:
            tensors = tensors[:30] + "..."
        lines.append(f"{name:<30} {tensors:<34} {r.raw_max_rel_error:>14.2e} {r.max_rel_error:>12.2e} "
                     f"{r.threshold:>9.0e}  {r.grade:<30} {'PASS' if r.passed else 'FAIL'}")
    n_fail = sum(not r.passed for _, r in results)
    lines.append(f"{len(results) - n_fail} passed, {n_fail} failed")
    return "\n".join(lines)
