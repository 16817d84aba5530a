"""The learning-rate range test: sweep the learning rate exponentially over a few hundred
batches, watch the smoothed loss, stop when it diverges, put everything back."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import all_finite
from ..errors import ConfigError
from ..train.trainer import _as_xy

__all__ = ["lr_range_test", "LRRangeResult"]


@dataclass
class LRRangeResult:
    lrs: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    smoothed: list = field(default_factory=list)
    suggested_lr: float = float("nan")
    stopped: str = ""

    def __str__(self):
        return (f"lr range test: {len(self.lrs)} steps from {self.lrs[0]:.1e} to {self.lrs[-1]:.1e} ({self.stopped}); "
                f"suggested learning rate {self.suggested_lr:.2e}")


def lr_range_test(trainer, data, start_lr=1e-7, end_lr=10.0, num_steps=100, batch_size=64, beta=0.98,
                  diverge=4.0, seed=0) -> LRRangeResult:
    """Exponential sweep ``lr_i = start * (end/start)**(i/(num_steps-1))``, one batch per step.

    The loss is smoothed (exponential average with bias correction); the sweep stops when the
    smoothed loss exceeds ``diverge`` times its minimum or goes non-finite. The suggestion is
    the rate where the smoothed loss falls fastest (steepest slope against log lr), ignoring
    non-finite values, capped at a tenth of the rate of the minimum loss. Model weights,
    optimizer state and every random generator are restored afterwards.
    """
    if not (0 < start_lr < end_lr):
        raise ConfigError(f"lr_range_test: need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if not isinstance(num_steps, int) or num_steps < 5:
        raise ConfigError(f"lr_range_test: num_steps must be an integer >= 5, got {num_steps!r}")
    X, y = trainer._prepare(*_as_xy(data, "lr_range_test"), "lr_range_test")
    model, opt, loss_fn = trainer.model, trainer.optimizer, trainer.loss
    saved_model = model.state_dict()
    saved_opt = copy.deepcopy(opt.state_dict())
    saved_lrs = [g["lr"] for g in opt.param_groups]
    gens = [getattr(m, attr) for _, m, attr in model.named_generators()]
    saved_gens = [g.bit_generator.state for g in gens]
    rng = np.random.default_rng(seed)
    n = len(X)
    order = rng.permutation(n)
    res = LRRangeResult()
    avg, best = 0.0, math.inf
    was_training = model.training
    model.train()
    try:
        pos = 0
        for i in range(num_steps):
            lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
            for g in opt.param_groups:
                g["lr"] = lr
            if pos + batch_size > n:
                order, pos = rng.permutation(n), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            model.zero_grad()
            with np.errstate(all="ignore"):
                try:
                    value = loss_fn.forward(model.forward(X[idx]), y[idx])
                except (ValueError, FloatingPointError):  # NonFiniteError is a ValueError
                    model.clear_cache()
                    res.stopped = f"diverged at lr {lr:.2e} (non-finite values)"
                    break
                model.backward(loss_fn.backward())
                if trainer.penalty is not None:
                    value += trainer.penalty.add_to_grads(model)
                opt.step()
            value = float(value)
            if not math.isfinite(value) or not all(all_finite(p.data) for p in model.parameters()):
                res.stopped = f"diverged at lr {lr:.2e} (non-finite loss)"
                break
            avg = beta * avg + (1 - beta) * value
            smooth = avg / (1 - beta ** (i + 1))
            res.lrs.append(lr)
            res.losses.append(value)
            res.smoothed.append(smooth)
            best = min(best, smooth)
            if smooth > diverge * best and i > 5:
                res.stopped = f"loss diverged at lr {lr:.2e}"
                break
        else:
            res.stopped = "reached end_lr"
    finally:
        model.load_state_dict(saved_model)
        opt.load_state_dict(saved_opt)
        for g, lr in zip(opt.param_groups, saved_lrs):
            g["lr"] = lr
        for g, st in zip(gens, saved_gens):
            g.bit_generator.state = st
        model.zero_grad()
        model.clear_cache()
        model.train(was_training)
    res.suggested_lr = _suggest(res.lrs, res.smoothed)
    return res


def _suggest(lrs, smoothed):
    lrs, sm = np.asarray(lrs, float), np.asarray(smoothed, float)
    ok = np.isfinite(sm)
    lrs, sm = lrs[ok], sm[ok]
    if len(sm) < 5:
        return float("nan")
    slope = np.gradient(sm, np.log(lrs))
    skip = max(1, len(sm) // 10)  # the first steps are dominated by the smoothing's warm-up
    i = skip + int(np.argmin(slope[skip:]))
    at_min = lrs[int(np.argmin(sm))]
    return float(min(lrs[i], at_min / 10)) if at_min / 10 >= lrs[0] else float(lrs[i])
