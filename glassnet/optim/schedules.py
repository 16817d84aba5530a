"""Learning-rate schedules: pure functions of the step or epoch ``t`` (0, 1, 2, ...) that
return a *factor* on each parameter group's initial learning rate, so groups with different
rates (pretrained body, new head) decay together.

    sched = LinearWarmup(StepDecay(every=10, factor=0.5), warmup=3)
    sched(0), sched(5)                    # pure values
    scheduler = Scheduler(opt, sched, plateau=Plateau(factor=0.1, patience=5), unit="epoch")
    scheduler.step(epoch)                 # sets lr = initial_lr * sched(epoch) * plateau.scale
    scheduler.observe(val_loss)           # the plateau multiplier on top

Formulas (the notes): step decay ``lr0 * factor**n``; exponential ``lr0 * exp(-k t)`` or
``lr0 * gamma**t``; 1/t ``lr0 / (1 + k t)``; 1/sqrt(t) ``lr0 * k / sqrt(t)``; cosine;
linear warmup around any of them; reduce-on-plateau as a multiplier on top.
"""
from __future__ import annotations

import math

from .._checks import check_int, check_number
from ..errors import ConfigError

__all__ = ["Schedule", "Constant", "StepDecay", "ExponentialDecay", "InverseTime", "InverseSqrt",
           "Cosine", "LinearWarmup", "Plateau", "Scheduler", "build_schedule"]


def _count(value, name, who, minimum=1):
    return check_int(value, name, who, lo=minimum)


class Schedule:
    """A pure function ``t -> factor``."""

    def __call__(self, t) -> float:
        raise NotImplementedError

    def config(self) -> dict:
        return {"type": type(self).__name__, **{k: (v.config() if isinstance(v, Schedule) else v)
                                                for k, v in vars(self).items()}}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Constant(Schedule):
    """factor 1."""

    def __call__(self, t):
        return 1.0


class StepDecay(Schedule):
    """Multiply by ``factor`` every ``every`` units, the first time at ``start`` (default
    ``every``): ``factor ** n`` with ``n = floor((t - start) / every) + 1`` once t >= start.

    The notes' example: ``StepDecay(every=20000, factor=0.95, start=10000)``.
    """

    def __init__(self, every, factor=0.1, start=None):
        self.every = _count(every, "every", "StepDecay")
        self.factor = check_number(factor, "factor", "StepDecay", lo=0.0, hi=1.0, lo_open=True)
        self.start = self.every if start is None else _count(start, "start", "StepDecay", minimum=0)

    def __call__(self, t):
        if t < self.start:
            return 1.0
        return self.factor ** ((t - self.start) // self.every + 1)


class ExponentialDecay(Schedule):
    """``exp(-k t)`` (give ``k``) or ``gamma ** t`` (give ``gamma``, e.g. 0.95 per epoch)."""

    def __init__(self, k=None, gamma=None):
        if (k is None) == (gamma is None):
            raise ConfigError("ExponentialDecay: give exactly one of k (exp(-k t)) or gamma (gamma**t)")
        self.k = None if k is None else check_number(k, "k", "ExponentialDecay", lo=0.0)
        self.gamma = None if gamma is None else check_number(gamma, "gamma", "ExponentialDecay", lo=0.0, hi=1.0,
                                                         lo_open=True)

    def __call__(self, t):
        return math.exp(-self.k * t) if self.k is not None else self.gamma ** t


class InverseTime(Schedule):
    """``1 / (1 + k t)`` (the notes' 1/t decay; with t in epochs, ``decay_rate * epoch_num``)."""

    def __init__(self, k):
        self.k = check_number(k, "k", "InverseTime", lo=0.0)

    def __call__(self, t):
        return 1.0 / (1.0 + self.k * t)


class InverseSqrt(Schedule):
    """``k / sqrt(t)`` for t >= 1 (the notes count epochs from 1; t = 0 is treated as 1)."""

    def __init__(self, k=1.0):
        self.k = check_number(k, "k", "InverseSqrt", lo=0.0, lo_open=True)

    def __call__(self, t):
        return self.k / math.sqrt(max(t, 1))


class Cosine(Schedule):
    """Half a cosine from 1 down to ``min_factor`` over ``period`` units, then flat."""

    def __init__(self, period, min_factor=0.0):
        self.period = _count(period, "period", "Cosine")
        self.min_factor = check_number(min_factor, "min_factor", "Cosine", lo=0.0, hi=1.0)

    def __call__(self, t):
        c = 0.5 * (1 + math.cos(math.pi * min(t, self.period) / self.period))
        return self.min_factor + (1 - self.min_factor) * c


class LinearWarmup(Schedule):
    """Ramp linearly from ``start_factor`` to the wrapped schedule's start over ``warmup``
    units, then follow the wrapped schedule shifted by ``warmup`` (so its decay starts after
    the warmup): t < warmup: ``inner(0) * (start + (1 - start) * t / warmup)``;
    else ``inner(t - warmup)``."""

    def __init__(self, schedule=None, warmup=1, start_factor=0.0):
        self.schedule = Constant() if schedule is None else schedule
        if not callable(self.schedule):
            raise TypeError(f"LinearWarmup: schedule must be a Schedule, got {type(schedule).__name__}")
        self.warmup = _count(warmup, "warmup", "LinearWarmup")
        self.start_factor = check_number(start_factor, "start_factor", "LinearWarmup", lo=0.0, hi=1.0)

    def __call__(self, t):
        if t < self.warmup:
            return self.schedule(0) * (self.start_factor + (1 - self.start_factor) * t / self.warmup)
        return self.schedule(t - self.warmup)


class Plateau:
    """Reduce-on-plateau multiplier: after ``patience`` observations without an improvement
    of more than ``min_delta`` (absolute, as in EarlyStopping), multiply ``scale`` by ``factor``;
    wait ``cooldown`` observations after each reduction; never go below ``min_scale``."""

    def __init__(self, factor=0.1, patience=10, mode="min", min_delta=1e-4, cooldown=0, min_scale=0.0):
        self.factor = check_number(factor, "factor", "Plateau", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        self.patience = _count(patience, "patience", "Plateau", minimum=0)
        if mode not in ("min", "max"):
            raise ConfigError(f"Plateau: mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.min_delta = check_number(min_delta, "min_delta", "Plateau", lo=0.0)
        self.cooldown = _count(cooldown, "cooldown", "Plateau", minimum=0)
        self.min_scale = check_number(min_scale, "min_scale", "Plateau", lo=0.0, hi=1.0)
        self.scale, self.best, self.bad, self.cooldown_left = 1.0, None, 0, 0

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value) -> float:
        """Record one observation (e.g. the validation loss); returns the current scale."""
        value = float(value)
        if math.isnan(value):
            self.bad += 1
        elif self._improved(value):
            self.best, self.bad = value, 0
        else:
            self.bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad = 0
        elif self.bad > self.patience:
            self.scale = max(self.scale * self.factor, self.min_scale)
            self.cooldown_left, self.bad = self.cooldown, 0
        return self.scale

    def state_dict(self):
        return {"scale": self.scale, "best": self.best, "bad": self.bad, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, sd):
        self.scale, self.best = float(sd["scale"]), sd["best"]
        self.bad, self.cooldown_left = int(sd["bad"]), int(sd["cooldown_left"])

    def config(self):
        return {"type": "Plateau", "factor": self.factor, "patience": self.patience, "mode": self.mode,
                "min_delta": self.min_delta, "cooldown": self.cooldown, "min_scale": self.min_scale}


class Scheduler:
    """Attaches a schedule (and an optional plateau multiplier) to an optimizer.

    ``step(t)`` sets every group's ``lr = initial_lr * schedule(t) * plateau.scale`` and
    returns the first group's lr; ``observe(value)`` feeds the plateau and re-applies.
    ``unit`` ("epoch" or "step") tells the Trainer when to call ``step``.
    """

    def __init__(self, optimizer, schedule=None, plateau=None, unit="epoch"):
        if unit not in ("epoch", "step"):
            raise ConfigError(f"Scheduler: unit must be 'epoch' or 'step', got {unit!r}")
        self.optimizer, self.schedule, self.plateau, self.unit = optimizer, schedule or Constant(), plateau, unit
        self.t = 0
        self.step(0)

    def factor(self, t=None) -> float:
        t = self.t if t is None else t
        return self.schedule(t) * (self.plateau.scale if self.plateau is not None else 1.0)

    def step(self, t=None) -> float:
        self.t = self.t + 1 if t is None else int(t)
        f = self.factor()
        for g in self.optimizer.param_groups:
            g["lr"] = g["initial_lr"] * f
        return self.optimizer.param_groups[0]["lr"]

    def observe(self, value) -> float:
        if self.plateau is None:
            raise RuntimeError("Scheduler.observe: no Plateau attached")
        self.plateau.update(value)
        return self.step(self.t)

    def state_dict(self):
        return {"t": self.t, "plateau": None if self.plateau is None else self.plateau.state_dict()}

    def load_state_dict(self, sd):
        if self.plateau is not None and sd.get("plateau") is not None:
            self.plateau.load_state_dict(sd["plateau"])
        self.step(int(sd["t"]))


_SCHEDULES = {c.__name__: c for c in (Constant, StepDecay, ExponentialDecay, InverseTime, InverseSqrt,
                                      Cosine, LinearWarmup)}


def build_schedule(config, path="schedule"):
    """A Schedule from ``{"type": "StepDecay", "every": 10, "factor": 0.5}`` (nested for warmup);
    errors are ConfigError naming the path."""
    from ..config import build_object

    if config is None:
        return None
    return build_object(config, _SCHEDULES, path, "schedule", nested={"schedule": build_schedule})
