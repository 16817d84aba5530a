"""Penalties added to the loss (L2, L1, ElasticNet) and constraints applied after a step
(MaxNorm).

A penalty applies to weights only by default: parameters with ``decay=False`` (biases,
BatchNorm's gamma and beta) are exempt. ``strengths`` sets a per-layer strength by dotted-name
prefix, e.g. ``L2(1e-4, strengths={"0": 1e-3})`` regularizes the first layer ten times more.

    value = penalty.add_to_grads(model)   # adds d(penalty)/dW into p.grad, returns the penalty
"""
from __future__ import annotations


from .._checks import check_number
from ..backend import get_array_module
from ..nn.module import Module


def _strength(value, name, who):
    return check_number(value, name, who, lo=0.0)


def _named_params(target):
    if isinstance(target, Module):
        return list(target.named_parameters())
    if hasattr(target, "named_parameters"):  # an optimizer
        return list(target.named_parameters())
    return [(p.name, p) for p in target]


class Penalty:
    """Base class: ``value(params)`` and ``add_to_grads(params)``; subclasses define
    ``_value(W, lam)`` and ``_grad(W, lam)`` for one weight array."""

    def __init__(self, strengths=None):
        self.strengths = {k: _strength(v, f"strengths[{k!r}]", type(self).__name__)
                          for k, v in (strengths or {}).items()}

    def _lam_for(self, name, default):
        best, lam = -1, default
        for prefix, value in self.strengths.items():
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, lam = len(prefix), value
        return lam

    def _targets(self, target):
        for name, p in _named_params(target):
            if p.decay and p.requires_grad:
                yield name, p

    def value(self, target) -> float:
        """The penalty's contribution to the loss."""
        return float(sum(self._value(p.data, self._scale(name)) for name, p in self._targets(target)))

    def add_to_grads(self, target) -> float:
        """Add the penalty's gradient into each weight's ``.grad``; return the penalty."""
        total = 0.0
        for name, p in self._targets(target):
            scale = self._scale(name)
            total += self._value(p.data, scale)
            p.accumulate(self._grad(p.data, scale))
        return float(total)

    def config(self):
        return {"type": type(self).__name__, **self._args(), "strengths": dict(self.strengths)}


class _Lambda(Penalty):
    """A penalty with one strength ``lam`` (overridable per layer)."""

    def __init__(self, lam, strengths=None):
        self.lam = _strength(lam, "lam", type(self).__name__)
        super().__init__(strengths)

    def _scale(self, name):
        return self._lam_for(name, self.lam)

    def _args(self):
        return {"lam": self.lam}


class L2(_Lambda):
    """``0.5 * lam * sum(W**2)``; gradient ``lam * W`` (weight decay)."""

    @staticmethod
    def _value(W, lam):
        flat = W.ravel()
        return 0.5 * lam * float(flat @ flat)

    @staticmethod
    def _grad(W, lam):
        return lam * W


class L1(_Lambda):
    """``lam * sum(|W|)``; (sub)gradient ``lam * sign(W)`` (0 at W = 0). Drives weights to zero."""

    @staticmethod
    def _value(W, lam):
        return lam * float(get_array_module(W).abs(W).sum())

    @staticmethod
    def _grad(W, lam):
        return lam * get_array_module(W).sign(W)


class ElasticNet(Penalty):
    """``l1 * sum(|W|) + 0.5 * l2 * sum(W**2)``. ``strengths`` scale both terms by ratio."""

    def __init__(self, l1, l2, strengths=None):
        self.l1 = _strength(l1, "l1", "ElasticNet")
        self.l2 = _strength(l2, "l2", "ElasticNet")
        super().__init__(strengths)

    def _scale(self, name):
        return self._lam_for(name, 1.0)

    def _args(self):
        return {"l1": self.l1, "l2": self.l2}

    def _value(self, W, scale):
        return L1._value(W, self.l1 * scale) + L2._value(W, self.l2 * scale)

    def _grad(self, W, scale):
        return L1._grad(W, self.l1 * scale) + L2._grad(W, self.l2 * scale)


class MaxNorm:
    """Projected gradient descent: after each step, rescale every unit's incoming weight vector
    to norm <= c. For a Linear weight (in, out) a unit is a column; for a conv weight
    (out, in, ...) a unit is everything but axis 0. Only ``decay=True`` parameters (weights).

    Pass it to an optimizer: ``SGD(model, lr=0.1, constraints=[MaxNorm(3.0)])``.
    """

    def __init__(self, c):
        self.c = check_number(c, "c", "MaxNorm", lo=0.0, lo_open=True)

    def apply(self, target):
        for _, p in _named_params(target):
            if not p.decay or not p.requires_grad or p.data.ndim < 2:
                continue
            xp = get_array_module(p.data)
            W = p.data
            if W.ndim == 2:
                norms = xp.sqrt((W * W).sum(axis=0, keepdims=True))
            else:
                norms = xp.sqrt((W * W).reshape(W.shape[0], -1).sum(axis=1)).reshape((-1,) + (1,) * (W.ndim - 1))
            W *= xp.minimum(1.0, self.c / xp.maximum(norms, 1e-12)).astype(W.dtype)

    def config(self):
        return {"type": "MaxNorm", "c": self.c}


__all__ = ["Penalty", "L2", "L1", "ElasticNet", "MaxNorm"]
