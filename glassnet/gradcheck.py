"""Gradient checking: analytic gradients against centered differences, in float64.

The notes' recipe: centered differences ``(f(x+h) - f(x-h)) / 2h``, relative error
``|a - n| / max(|a|, |n|)`` per element (and ``||a - n|| / (||a|| + ||n||)`` overall),
double precision, dropout under a fixed mask, kinks (ReLU, max, hinge) detected by
comparing the one-sided differences and left out of the grade. Large tensors are checked
on a seeded random subset of coordinates.

    report = check_module(gn.nn.Linear(5, 3), x)
    print(report)          # worst error per tensor, graded with the notes' thresholds
    assert report.passed
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .backend import as_numpy

__all__ = ["rel_error", "overall_rel_error", "numerical_gradient", "grade", "TensorCheck",
           "GradcheckReport", "check_gradients", "check_module", "check_loss",
           "SMOOTH_THRESHOLD", "KINK_THRESHOLD"]

#: pass thresholds on the worst per-element relative error
SMOOTH_THRESHOLD = 1e-7
KINK_THRESHOLD = 1e-5


def rel_error(a, n):
    """Elementwise ``|a - n| / max(|a|, |n|)`` (0 where both are 0)."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    denom = np.maximum(np.abs(a), np.abs(n))
    out = np.zeros(np.broadcast(a, n).shape)
    nz = denom > 0
    out[nz] = np.abs(a - n)[nz] / denom[nz]
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


def numerical_gradient(f, x, h=1e-5, indices=None, detect_kinks=False):
    """Centered-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``x`` is perturbed in place (and restored), so ``f`` must read it. ``indices`` is a list
    of index tuples (default: every element). Returns (grads at indices, kink flags).
    """
    if indices is None:
        indices = list(np.ndindex(x.shape))
    f0 = f() if detect_kinks else None
    grads = np.empty(len(indices))
    kinks = np.zeros(len(indices), dtype=bool)
    for k, idx in enumerate(indices):
        old = x[idx].item()
        x[idx] = old + h
        fp = f()
        x[idx] = old - h
        fm = f()
        x[idx] = old
        grads[k] = (fp - fm) / (2 * h)
        if detect_kinks:
            kinks[k] = _is_kink((fp - f0) / h, (f0 - fm) / h)
    return grads, kinks


@dataclass
class TensorCheck:
    """Result for one tensor: worst elementwise relative error and where it is."""
    name: str
    shape: tuple
    n_checked: int
    n_kinks: int
    max_rel_error: float
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
    def passed(self) -> bool:
        return self.max_rel_error < self.threshold

    @property
    def grade(self) -> str:
        return grade(self.max_rel_error, self.has_kinks)

    def __str__(self):
        lines = [f"gradient check of {self.subject}: worst relative error {self.max_rel_error:.2e} "
                 f"({self.grade}; threshold {self.threshold:.0e}) -> {'PASS' if self.passed else 'FAIL'}"]
        for c in self.checks:
            where = "" if c.worst_index is None else (
                f" at {c.worst_index} (analytic {c.analytic_at_worst:.6g}, numeric {c.numeric_at_worst:.6g})")
            kinks = f", {c.n_kinks} at kinks skipped" if c.n_kinks else ""
            lines.append(f"  {c.name:<12} {str(c.shape):<14} checked {c.n_checked}{kinks}: max "
                         f"{c.max_rel_error:.2e}, overall {c.overall_rel_error:.2e}{where}")
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
    for name, x in tensors.items():
        a_full = as_numpy(analytic[name])
        if a_full.shape != x.shape:
            raise ValueError(f"{subject}: analytic gradient for {name!r} has shape {a_full.shape}, "
                             f"expected {x.shape}")
        idx = _pick_indices(x.shape, max_coords, rng)
        num, kinks = numerical_gradient(f, x, h, idx, detect_kinks=has_kinks)
        ana = np.array([a_full[i] for i in idx], dtype=np.float64)
        keep = ~kinks
        errs = rel_error(ana[keep], num[keep])
        if errs.size:
            w = int(np.argmax(errs))
            kept_idx = [i for i, k in zip(idx, keep) if k]
            worst = (kept_idx[w], float(ana[keep][w]), float(num[keep][w]), float(errs[w]))
        else:
            worst = (None, None, None, 0.0)
        report.checks.append(TensorCheck(
            name, tuple(x.shape), int(keep.sum()), int(kinks.sum()), worst[3],
            overall_rel_error(ana[keep], num[keep]), worst[0], worst[1], worst[2]))
    return report


def _generators(module):
    gens = []
    for m in module.modules():
        g = getattr(m, "rng", None)
        if isinstance(g, np.random.Generator):
            gens.append(g)
    return gens


def check_module(module, x, *, dout=None, seed=0, h=1e-5, max_coords=150, check_params=True,
                 copy_module=True):
    """Gradient-check ``module`` at input ``x``: the input gradient and every parameter's.

    Works on a float64 copy of the module (unless ``copy_module=False``). The objective is
    ``sum(module(x) * dout)`` with ``dout`` standard normal (seeded). Random layers
    (Dropout) are checked under a fixed mask: their Generators are rewound before every
    forward. Returns a GradcheckReport; ``report.passed`` uses 1e-7 for smooth modules and
    1e-5 for modules with kinks.
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
        val = float((as_numpy(m.forward(x)) * dout).sum())
        m.clear_cache()
        return val

    m.zero_grad()
    rewind()
    m.forward(x)
    dx = m.backward(dout)
    tensors = {"input": x}
    analytic = {"input": dx}
    if check_params:
        for name, p in m.named_parameters():
            if not p.frozen:
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
