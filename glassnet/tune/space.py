"""Search spaces: one Dimension per hyperparameter, sampled from a numpy Generator.

Log-scale dimensions sample ``10**uniform(log10 a, log10 b)`` (the notes: learning rates and
regularization strengths vary multiplicatively); ``OneMinusLogUniform(0.9, 0.999)`` samples
``1 - beta`` on a log scale, so 0.9-0.99 and 0.99-0.999 are equally likely. Every dimension maps
to and from the unit interval (``to_unit``/``from_unit``), which is what grids, jitter and
coarse-to-fine narrowing work in.
"""
from __future__ import annotations

import json
import math

from .._checks import check_int, check_number
from ..errors import ConfigError

__all__ = ["Dimension", "LogUniform", "Uniform", "IntUniform", "LogInt", "Choice", "OneMinusLogUniform", "Fixed",
           "Space", "dimension_from_config"]


def _num(v, who, name):
    return check_number(v, name, who)


class Dimension:
    """Base: subclasses define ``from_unit(u)`` (u in [0, 1]) and ``to_unit(value)``."""

    log = False

    def sample(self, rng, n=None):
        u = rng.random() if n is None else rng.random(n)
        return self.from_unit(u) if n is None else [self.from_unit(x) for x in u]

    def narrow(self, lo_u, hi_u):
        """The same kind of dimension over the unit sub-interval [lo_u, hi_u]."""
        return type(self)(self.from_unit(lo_u), self.from_unit(hi_u))

    def config(self):
        return {"type": type(self).__name__, "low": self.low, "high": self.high}


class Uniform(Dimension):
    """uniform(low, high)."""

    def __init__(self, low, high):
        self.low, self.high = _num(low, "Uniform", "low"), _num(high, "Uniform", "high")
        if not self.low < self.high:
            raise ConfigError(f"Uniform: need low < high, got {low} and {high}")

    def from_unit(self, u):
        return float(self.low + u * (self.high - self.low))

    def to_unit(self, v):
        return (float(v) - self.low) / (self.high - self.low)

    def __repr__(self):
        return f"{type(self).__name__}({self.low:g}, {self.high:g})"


class LogUniform(Uniform):
    """``10**uniform(log10 low, log10 high)``; low > 0."""

    log = True

    def __init__(self, low, high):
        super().__init__(low, high)
        if self.low <= 0:
            raise ConfigError(f"LogUniform: low must be positive, got {low}")

    def from_unit(self, u):
        a, b = math.log10(self.low), math.log10(self.high)
        return float(min(max(10 ** (a + u * (b - a)), self.low), self.high))

    def to_unit(self, v):
        a, b = math.log10(self.low), math.log10(self.high)
        return (math.log10(float(v)) - a) / (b - a)


class IntUniform(Uniform):
    """An integer from low to high inclusive, each equally likely."""

    def __init__(self, low, high):
        check_int(low, "low", type(self).__name__)
        check_int(high, "high", type(self).__name__)
        super().__init__(low, high)

    def from_unit(self, u):
        # the unit interval is cut into high - low + 1 equal cells
        n = int(self.high - self.low) + 1
        return int(self.low + min(int(u * n), n - 1))

    def to_unit(self, v):
        n = int(self.high - self.low) + 1
        return (int(v) - self.low + 0.5) / n

    def narrow(self, lo_u, hi_u):
        lo, hi = self.from_unit(lo_u), self.from_unit(hi_u)
        return type(self)(lo, max(hi, lo + 1)) if hi > lo else Fixed(lo)


class LogInt(IntUniform):
    """An integer spread evenly on a log scale (widths, layer sizes); low >= 1."""

    log = True

    def __init__(self, low, high):
        super().__init__(low, high)
        if self.low < 1:
            raise ConfigError(f"LogInt: low must be >= 1, got {low}")

    def from_unit(self, u):
        a, b = math.log(self.low - 0.5), math.log(self.high + 0.5)
        return int(min(max(round(math.exp(a + u * (b - a))), self.low), self.high))

    def to_unit(self, v):
        a, b = math.log(self.low - 0.5), math.log(self.high + 0.5)
        return (math.log(float(v)) - a) / (b - a)


class OneMinusLogUniform(Uniform):
    """beta with ``1 - beta`` log-uniform between ``1 - high`` and ``1 - low``: for momentum and
    Adam's betas (``OneMinusLogUniform(0.9, 0.999)``). The bounds of 1 - beta are computed as
    ``1 - x`` once and kept; sampled values are returned as ``1 - 10**u``."""

    log = True

    def __init__(self, low, high):
        super().__init__(low, high)
        if not 0 <= self.low < self.high < 1:
            raise ConfigError(f"OneMinusLogUniform: need 0 <= low < high < 1, got {low} and {high}")
        self._a, self._b = math.log10(1 - self.high), math.log10(1 - self.low)  # log10 of 1 - beta

    def from_unit(self, u):
        return float(1 - 10 ** (self._b - u * (self._b - self._a)))  # u=0 -> low, u=1 -> high

    def to_unit(self, v):
        return (self._b - math.log10(1 - float(v))) / (self._b - self._a)


class Choice(Dimension):
    """One of ``options``, each equally likely (no order: grids use every option, narrowing keeps
    the options of the best trials)."""

    def __init__(self, options):
        if isinstance(options, (str, bytes, dict)) or not hasattr(options, "__iter__"):
            raise ConfigError(f"Choice: options must be a list of values, got {type(options).__name__} {options!r}"
                              + (f" (a list of one: [{options!r}]?)" if isinstance(options, str) else ""))
        options = list(options)
        if not options:
            raise ConfigError("Choice: needs at least one option")
        try:
            json.dumps(options)
        except (TypeError, ValueError):
            raise ConfigError(f"Choice: options must be numbers, strings, booleans or lists of them (they are "
                              f"stored as JSON), got {options!r}") from None
        self.options = options

    def from_unit(self, u):
        n = len(self.options)
        return self.options[min(int(u * n), n - 1)]

    def to_unit(self, v):
        return (self.options.index(v) + 0.5) / len(self.options)

    def narrow_to(self, values):
        keep = [o for o in self.options if o in values]
        return Choice(keep) if len(keep) > 1 else Fixed(keep[0])

    def config(self):
        return {"type": "Choice", "options": list(self.options)}

    def __repr__(self):
        return f"Choice({self.options!r})"


class Fixed(Dimension):
    """Always ``value``."""

    def __init__(self, value):
        self.value = value

    def from_unit(self, u):
        return self.value

    def to_unit(self, v):
        return 0.5

    def narrow(self, lo_u, hi_u):
        return self

    def config(self):
        return {"type": "Fixed", "value": self.value}

    def __repr__(self):
        return f"Fixed({self.value!r})"


_KINDS = {c.__name__: c for c in (LogUniform, Uniform, IntUniform, LogInt, OneMinusLogUniform)}


def dimension_from_config(cfg, path="search.space"):
    """``{"type": "LogUniform", "low": 1e-4, "high": 1e-1}``, ``{"type": "Choice", "options": [...]}``,
    ``{"type": "Fixed", "value": v}`` (each may add ``targets``); errors are ConfigError naming the
    config path."""
    from ..config import build_object

    if isinstance(cfg, Dimension):
        return cfg
    kinds = dict(_KINDS, Choice=Choice, Fixed=Fixed)
    return build_object(cfg, kinds, path, "dimension", skip=("targets",))


class Space:
    """Named dimensions: ``Space({"lr": LogUniform(1e-4, 1e-1), "width": LogInt(32, 512)})``."""

    def __init__(self, dims):
        self.dims = {name: dimension_from_config(d, f"search.space.{name}") for name, d in dict(dims).items()}
        if not self.dims:
            raise ConfigError("Space: needs at least one dimension")

    def sample(self, rng):
        return {name: d.sample(rng) for name, d in self.dims.items()}

    def grid(self, points, rng=None):
        """Every combination of ``points`` values per dimension (all options for Choice). With
        ``rng`` each point is jittered uniformly within its cell, so repeated grids never test the
        same values and no dimension is stuck on a lattice."""
        import itertools

        axes = {}
        for name, d in self.dims.items():
            if isinstance(d, Choice):
                axes[name] = [("choice", o) for o in d.options]
            elif isinstance(d, Fixed):
                axes[name] = [("fixed", d.value)]
            else:
                axes[name] = [("cell", (k, points)) for k in range(points)]
        out = []
        for combo in itertools.product(*axes.values()):
            params = {}
            for (name, d), (kind, v) in zip(self.dims.items(), combo):
                if kind == "cell":
                    k, n = v
                    u = (k + (rng.random() if rng is not None else 0.5)) / n
                    params[name] = d.from_unit(u)
                else:
                    params[name] = v
            out.append(params)
        return out

    def narrowed(self, best_params, margin=0.1):
        """A new Space covering the best trials' values (in unit coordinates, so on the log scale
        for log dimensions), widened by ``margin`` of the current range on each side."""
        dims = {}
        for name, d in self.dims.items():
            vals = [p[name] for p in best_params if name in p]
            if not vals or isinstance(d, Fixed):
                dims[name] = d
            elif isinstance(d, Choice):
                dims[name] = d.narrow_to(vals)
            else:
                us = [d.to_unit(v) for v in vals]
                lo, hi = max(0.0, min(us) - margin), min(1.0, max(us) + margin)
                dims[name] = d.narrow(lo, hi)
        return Space(dims)

    def config(self):
        return {name: d.config() for name, d in self.dims.items()}

    def __repr__(self):
        return "Space(" + ", ".join(f"{n}={d!r}" for n, d in self.dims.items()) + ")"
