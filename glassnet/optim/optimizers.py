"""Update rules in the notes' form: SGD (vanilla, momentum, Nesterov), Adagrad, RMSprop, Adam.

``opt = Adam(model, lr=1e-3)`` or ``Adam([{"params": head.parameters(), "lr": 1e-3},
{"params": body.parameters(), "lr": 1e-4}])``. ``opt.step()`` updates every non-frozen
parameter in place from its ``.grad``; ``opt.zero_grad()`` clears the gradients. Per-parameter
state (velocity, caches, moments) exists from construction, so ``state_dict()`` works at any
time and a resumed run continues exactly. Each step records the norm of every update, so the
notes' update/weight ratio ``||lr*dw|| / ||w||`` is ``opt.update_ratios()``.
"""
from __future__ import annotations

import math

from .. import _jit
from .._checks import check_number
from ..backend import as_numpy, get_array_module
from ..errors import CheckpointError, ConfigError, ShapeError
from ..nn.module import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam"]


class Applied:
    """Returned by an ``_update`` that has already added its step to the weights (fused kernels)."""

    __slots__ = ("delta",)

    def __init__(self, delta):
        self.delta = delta


class _Deferred:
    """A step that was not stored: recomputed on demand (for its norm) from the state the step
    left behind. Sliced like the flat step array it stands for; valid until the next step."""

    __slots__ = ("fn", "arrays", "args")

    def __init__(self, fn, arrays, args=()):
        self.fn, self.arrays, self.args = fn, tuple([a if a.ndim == 1 else a.reshape(-1) for a in arrays]), args

    def __getitem__(self, sl):
        return _Deferred(self.fn, [a[sl] for a in self.arrays], self.args)

    def reshape(self, *shape):  # already flat
        return self

    def value(self):
        return self.fn(*self.arrays, *self.args)


def _square_norm(d) -> float:
    if isinstance(d, _Deferred):
        d = d.value()
    return float(d @ d)


class _Pack:
    """One group's live (non-frozen) parameters packed into contiguous buffers: every parameter's
    data, gradient and state array is a view into one flat array of its kind, so an update rule
    runs once per group instead of once per parameter. Valid while every view is still in place
    (``matches``); a parameter moved by ``Module.to``, a replaced gradient or state array, or a
    change of the frozen set makes the optimizer pack again, copying the current values."""

    __slots__ = ("entries", "param", "grad", "state", "slots")

    def __init__(self, live, states):
        xp = get_array_module(live[0][1].data)
        dtype = live[0][1].data.dtype
        total = sum(int(p.data.size) for _, p in live)
        keys = list(states[id(live[0][1])])
        self.param = _FlatParam(xp.empty(total, dtype=dtype))
        self.grad = xp.empty(total, dtype=dtype)
        self.state = {k: xp.empty(total, dtype=dtype) for k in keys}
        self.entries, self.slots = [], []
        o = 0
        for name, p in live:
            n, shape, st = int(p.data.size), p.data.shape, states[id(p)]

            def view(flat, old):
                flat[o:o + n] = old.reshape(-1)
                return flat[o:o + n].reshape(shape)

            p.data = view(self.param.data, p.data)
            p.grad = view(self.grad, p.grad)
            for k in keys:
                st[k] = view(self.state[k], st[k])
            self.entries.append((p, p.data, p.grad, [st[k] for k in keys]))
            self.slots.append((name, o, n))
            o += n

    @staticmethod
    def packable(live, states):
        """Two or more parameters of one dtype and device whose state arrays are shaped like them."""
        if len(live) < 2:
            return False
        first = live[0][1].data
        xp, dtype = get_array_module(first), first.dtype
        keys = list(states[id(live[0][1])])
        for _, p in live:
            st = states[id(p)]
            if (p.data.dtype != dtype or p.grad.dtype != dtype or get_array_module(p.data, p.grad) is not xp
                    or list(st) != keys or p.grad.shape != p.data.shape):
                return False
            if any(st[k].shape != p.data.shape or st[k].dtype != dtype or get_array_module(st[k]) is not xp
                   for k in keys):
                return False
        return True

    def matches(self, live, states):
        if len(live) != len(self.entries):
            return False
        keys = tuple(self.state)
        for (_, p), (q, data, grad, views) in zip(live, self.entries):
            if p is not q or p.data is not data or p.grad is not grad:
                return False
            st = states[id(p)]
            for k, v in zip(keys, views):  # a plain loop: this runs at every step
                if st[k] is not v:
                    return False
        return True


class _FlatParam:
    """Stands in for a Parameter when an update rule runs on a whole pack (rules read ``.data``)."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


class Optimizer:
    """Base class. Subclasses define ``defaults``, ``_check(group)``, ``_init_state(p)`` and
    ``_update(p, g, state, group, t)`` which returns the update ``delta`` (w += delta)."""

    defaults: dict = {}

    def __init__(self, params, constraints=(), **hyper):
        who = type(self).__name__
        unknown = set(hyper) - set(self.defaults)
        if unknown:
            raise ConfigError(f"{who}: unknown hyperparameter(s) {sorted(unknown)}; accepted: "
                             f"{sorted(self.defaults)}")
        base = {**self.defaults, **hyper}
        self.param_groups = []
        for gi, (names, ps, overrides) in enumerate(self._groups(params)):
            unknown = set(overrides) - set(self.defaults)
            if unknown:
                raise ConfigError(f"{who}: unknown parameter group key(s) {sorted(unknown)} in group {gi}; "
                                 f"accepted: ['params'] + {sorted(self.defaults)}")
            group = {**base, **overrides}
            self._check(group)
            group["initial_lr"] = group["lr"]
            group["params"], group["names"] = ps, names
            self.param_groups.append(group)
        seen = set()
        for g in self.param_groups:
            for p in g["params"]:
                if id(p) in seen:
                    raise ConfigError(f"{who}: parameter {p.name!r} appears in more than one group")
                seen.add(id(p))
        if not seen:
            raise ConfigError(f"{who}: got no parameters to optimize")
        self.state = {id(p): self._init_state(p) for g in self.param_groups for p in g["params"]}
        self.step_count = 0
        self.constraints = list(constraints)
        self._update_sq_norms: dict = {}  # set through last_update_norms (LBFGS)
        self._last_steps: list = []  # (flat step taken, [(name, offset, size)]); norms are computed when asked for
        self._packs: dict = {}  # group index -> _Pack or None
        self._work: dict = {}  # id(gradient array) -> the scratch array its steps are computed in
        for gi, group in enumerate(self.param_groups):  # now, so that .data read after this line stays live
            self._pack(gi, self._live(group))

    # -- parameters ---------------------------------------------------------------------------
    @staticmethod
    def _named(items, prefix=""):
        if isinstance(items, Module):
            return [(n, p) for n, p in items.named_parameters()]
        out = []
        for i, p in enumerate(items):
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer: expected Parameters (or a Module), got {type(p).__name__}")
            out.append((f"{prefix}{p.name or i}", p))
        return out

    def _groups(self, params):
        if isinstance(params, Module):
            named = self._named(params)
            return [([n for n, _ in named], [p for _, p in named], {})]
        params = list(params)
        if params and isinstance(params[0], dict):
            groups = []
            for gi, g in enumerate(params):
                if "params" not in g:
                    raise ConfigError(f"{type(self).__name__}: parameter group {gi} has no 'params' key")
                named = self._named(g["params"] if isinstance(g["params"], Module) else list(g["params"]),
                                    prefix=f"group{gi}.")
                groups.append(([n for n, _ in named], [p for _, p in named],
                               {k: v for k, v in g.items() if k != "params"}))
            return groups
        named = self._named(params)
        return [([n for n, _ in named], [p for _, p in named], {})]

    def named_parameters(self):
        for g in self.param_groups:
            yield from zip(g["names"], g["params"])

    @property
    def lr(self) -> float:
        """The first group's current learning rate."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for g in self.param_groups:
            g["lr"] = value

    # -- hooks for subclasses ------------------------------------------------------------------
    def _check(self, group):
        check_number(group["lr"], "lr", type(self).__name__, lo=0.0)

    def _init_state(self, p) -> dict:
        return {}

    def _update(self, p, g, state, group, t):
        raise NotImplementedError

    # -- the step ---------------------------------------------------------------------------------
    def step(self):
        """Update every non-frozen parameter in place; keep the steps for the update norms; apply
        constraints. Groups of two or more parameters of one dtype and device are updated as one
        flat buffer (see ``_Pack``)."""
        self.step_count += 1
        t = self.step_count
        steps = []
        for gi, group in enumerate(self.param_groups):
            live = self._live(group)
            pack = self._pack(gi, live)
            if pack is not None:
                steps.append((self._apply(pack.param, pack.grad, pack.state, group, t), pack.slots))
            else:
                for name, p in live:
                    steps.append((self._apply(p, p.grad, self.state[id(p)], group, t).reshape(-1),
                                  ((name, 0, None),)))
        for c in self.constraints:
            c.apply(self)
        self._last_steps, self._update_sq_norms = steps, {}

    @property
    def _last_deltas(self) -> dict:
        """Parameter name -> the flat step it took in the last ``step()`` (a view, or a ``_Deferred``
        step). Sliced from the packed steps only when asked for: not at every step."""
        return {name: step if n is None else step[o:o + n]
                for step, slots in self._last_steps for name, o, n in slots}

    @staticmethod
    def _live(group):
        return [(n, p) for n, p in zip(group["names"], group["params"]) if not p.frozen]

    def _pack(self, gi, live):
        pack = self._packs.get(gi)
        if pack is not None and pack.matches(live, self.state):
            return pack
        old = pack
        pack = _Pack(live, self.state) if _Pack.packable(live, self.state) else None
        self._packs[gi] = pack
        if old is not None or pack is not None:
            self._work.clear()  # the gradient arrays changed: new scratch as needed
        return pack

    def _buffer(self, g):
        """A scratch array shaped like the gradient ``g``, the same one at every step: the update
        rules compute their step in it (the step is kept for ``last_update_norms`` until the next
        one), so no fresh parameter-sized array is allocated and faulted in per step."""
        buf = self._work.get(id(g))
        if buf is None or buf.shape != g.shape or buf.dtype != g.dtype or type(buf) is not type(g):
            if len(self._work) > 2 * len(self.state) + 8:  # gradients replaced again and again: forget old ones
                self._work.clear()
            buf = self._work[id(g)] = get_array_module(g).empty_like(g)
        return buf

    def _apply(self, p, g, state, group, t):
        delta = self._update(p, g, state, group, t)
        if isinstance(delta, Applied):  # a fused kernel already updated the weights
            return delta.delta
        p.data += delta
        return delta

    @property
    def last_update_norms(self) -> dict[str, float]:
        """``||lr * update||`` per parameter name for the last step."""
        deltas = self._last_deltas  # sliced from the kept steps on each read: once here
        if deltas:
            return {n: math.sqrt(max(_square_norm(d), 0.0)) for n, d in deltas.items()}
        return {n: math.sqrt(max(float(v), 0.0)) for n, v in self._update_sq_norms.items()}

    @last_update_norms.setter
    def last_update_norms(self, value):
        self._last_steps = []
        self._update_sq_norms = {n: float(v) ** 2 for n, v in dict(value).items()}

    # -- copying and pickling: the per-parameter state is keyed by id(p), which a copy changes ------------
    def __getstate__(self):
        d = dict(self.__dict__)
        params = [p for g in self.param_groups for p in g["params"]]
        d["state"] = [self.state[id(p)] for p in params]
        d["_packs"] = {}  # a copy's arrays are no longer views of the buffers: it packs again on its first step
        d["_work"] = {}
        return d

    def __setstate__(self, d):
        states = d["state"]
        self.__dict__.update(d)
        self.__dict__.setdefault("_work", {})
        self.__dict__.setdefault("_last_steps", [])  # pickled before steps were kept per pack
        self.__dict__.pop("_last_deltas", None)
        params = [p for g in self.param_groups for p in g["params"]]
        self.state = {id(p): st for p, st in zip(params, states)}

    def zero_grad(self):
        for g in self.param_groups:
            for p in g["params"]:
                p.zero_grad()

    def update_ratios(self) -> dict[str, float]:
        """``||update|| / ||w||`` per parameter for the last step (the notes aim for ~1e-3)."""
        out = {}
        norms = self.last_update_norms
        for name, p in self.named_parameters():
            if name in norms:
                flat = p.data.ravel()
                w = math.sqrt(float(flat @ flat))
                out[name] = norms[name] / w if w > 0 else float("inf")
        return out

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Hyperparameters, step count and per-parameter state (NumPy copies)."""
        groups = [{k: v for k, v in g.items() if k not in ("params", "names")} | {"names": list(g["names"])}
                  for g in self.param_groups]
        state = {}
        for gi, g in enumerate(self.param_groups):
            for pi, p in enumerate(g["params"]):
                for k, v in self.state[id(p)].items():
                    state[f"{gi}.{pi}.{k}"] = as_numpy(v).copy()
        return {"type": type(self).__name__, "step_count": self.step_count, "param_groups": groups,
                "state": state}

    def load_state_dict(self, sd: dict):
        """Restore a ``state_dict``; the parameter layout must match this optimizer's."""
        who = type(self).__name__
        if sd.get("type") != who:
            raise CheckpointError(f"{who}.load_state_dict: state is for a {sd.get('type')!r} optimizer")
        groups = sd["param_groups"]
        if len(groups) != len(self.param_groups):
            raise CheckpointError(f"{who}.load_state_dict: state has {len(groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        for gi, (g, saved) in enumerate(zip(self.param_groups, groups)):
            if len(saved["names"]) != len(g["params"]):
                raise CheckpointError(f"{who}.load_state_dict: group {gi} has {len(saved['names'])} "
                                 f"parameters in the state but {len(g['params'])} here")
        for gi, (g, saved) in enumerate(zip(self.param_groups, groups)):
            for pi, p in enumerate(g["params"]):
                st = self.state[id(p)]
                for k in st:
                    key = f"{gi}.{pi}.{k}"
                    if key not in sd["state"]:
                        raise KeyError(f"{who}.load_state_dict: missing state {key!r} for {g['names'][pi]}")
                    val = sd["state"][key]
                    if tuple(val.shape) != tuple(st[k].shape):
                        raise ShapeError(f"{who}.load_state_dict: state {k!r} of {g['names'][pi]} has shape "
                                         f"{tuple(val.shape)} but the parameter needs {tuple(st[k].shape)}")
                    xp = get_array_module(st[k])
                    st[k][...] = xp.asarray(val)
            for k, v in saved.items():
                if k != "names":
                    g[k] = tuple(v) if isinstance(v, list) else v
        self.step_count = int(sd["step_count"])
        self._last_steps, self._update_sq_norms = [], {}  # no step taken since: none to report (and a
        # step recomputed from the moments would now read the loaded ones)

    def __repr__(self):
        hyper = {k: v for k, v in self.param_groups[0].items() if k not in ("params", "names", "initial_lr")}
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in hyper.items())})"


class SGD(Optimizer):
    """Stochastic gradient descent, the notes' three forms.

    - vanilla (momentum=0): ``w -= lr * dw``
    - momentum: ``v = mu * v - lr * dw; w += v``
    - Nesterov: ``v_prev = v; v = mu * v - lr * dw; w += -mu * v_prev + (1 + mu) * v``

    Mapping to PyTorch's SGD: PyTorch keeps ``buf = mu * buf + dw`` and steps ``w -= lr * buf``
    (Nesterov: ``w -= lr * (dw + mu * buf)``), so ``v = -lr * buf``. With a constant learning
    rate both give identical trajectories; when ``lr`` changes, the notes' velocity keeps the
    old rate in its history while PyTorch's buffer applies the new rate to it.
    """

    defaults = {"lr": 0.01, "momentum": 0.0, "nesterov": False}

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, **kw):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, **kw)

    def _check(self, group):
        super()._check(group)
        check_number(group["momentum"], "momentum", "SGD", lo=0.0, hi=1.0, hi_open=True)
        if group["nesterov"] and group["momentum"] == 0:
            raise ConfigError("SGD: nesterov=True needs a momentum in (0, 1), got momentum=0")

    def _init_state(self, p):
        return {"velocity": get_array_module(p.data).zeros_like(p.data)}

    def _update(self, p, g, state, group, t):
        xp = get_array_module(g)
        lr, mu = group["lr"], group["momentum"]
        out = self._buffer(g)
        if mu == 0:
            return xp.multiply(g, -lr, out=out)
        v = state["velocity"]
        if group["nesterov"]:
            xp.multiply(v, -mu, out=out)  # -mu * v_prev
            v *= mu
            v -= lr * g
            out += (1 + mu) * v
            return out
        v *= mu
        v -= lr * g
        out[...] = v
        return out


def _adaptive_step(g, cache, lr, eps, buf):
    """``-lr * g / (sqrt(cache) + eps)``, the step of Adagrad and RMSprop, computed in ``buf``."""
    xp = get_array_module(g)
    denom = xp.sqrt(cache, out=buf)
    denom += eps
    delta = xp.divide(g, denom, out=denom)
    delta *= -lr
    return delta


class Adagrad(Optimizer):
    """``cache += dw**2; w -= lr * dw / (sqrt(cache) + eps)``.

    PyTorch's Adagrad is the same rule (with lr_decay=0, initial_accumulator_value=0); only
    its default eps differs (1e-10 there, the notes' 1e-7 here).
    """

    defaults = {"lr": 0.01, "eps": 1e-7}

    def __init__(self, params, lr=0.01, eps=1e-7, **kw):
        super().__init__(params, lr=lr, eps=eps, **kw)

    def _check(self, group):
        super()._check(group)
        check_number(group["eps"], "eps", "Adagrad", lo=0.0, lo_open=True)

    def _init_state(self, p):
        return {"cache": get_array_module(p.data).zeros_like(p.data)}

    def _update(self, p, g, state, group, t):
        sq = get_array_module(g).multiply(g, g, out=self._buffer(g))
        state["cache"] += sq
        return _adaptive_step(g, state["cache"], group["lr"], group["eps"], buf=sq)


class RMSprop(Optimizer):
    """``cache = decay_rate * cache + (1 - decay_rate) * dw**2; w -= lr * dw / (sqrt(cache) + eps)``.

    PyTorch's RMSprop is the same rule with ``alpha = decay_rate`` (no momentum, not centered).
    """

    defaults = {"lr": 0.01, "decay_rate": 0.99, "eps": 1e-8}

    def __init__(self, params, lr=0.01, decay_rate=0.99, eps=1e-8, **kw):
        super().__init__(params, lr=lr, decay_rate=decay_rate, eps=eps, **kw)

    def _check(self, group):
        super()._check(group)
        check_number(group["decay_rate"], "decay_rate", "RMSprop", lo=0.0, hi=1.0, hi_open=True)
        check_number(group["eps"], "eps", "RMSprop", lo=0.0, lo_open=True)

    def _init_state(self, p):
        return {"cache": get_array_module(p.data).zeros_like(p.data)}

    def _update(self, p, g, state, group, t):
        cache = state["cache"]
        d = group["decay_rate"]
        cache *= d
        sq = get_array_module(g).multiply(g, g, out=self._buffer(g))
        sq *= 1 - d
        cache += sq
        return _adaptive_step(g, cache, group["lr"], group["eps"], buf=sq)


class Adam(Optimizer):
    """Momentum plus RMSprop with bias-corrected moment estimates.

    ``m = b1 m + (1-b1) dw; v = b2 v + (1-b2) dw**2; m_hat = m / (1 - b1**t);
    v_hat = v / (1 - b2**t); w -= lr * m_hat / (sqrt(v_hat) + eps)``.
    With ``bias_correction=False`` it is the notes' uncorrected ``w -= lr * m / (sqrt(v) + eps)``.
    Identical to PyTorch's Adam (amsgrad=False, weight_decay=0) with the default settings.
    Computed in place as ``w -= (lr / (1 - b1**t)) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``,
    the same quantity with fewer temporary arrays.
    """

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "bias_correction": True}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, bias_correction=True, **kw):
        super().__init__(params, lr=lr, betas=betas, eps=eps, bias_correction=bias_correction, **kw)

    def _check(self, group):
        super()._check(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ConfigError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        check_number(betas[0], "betas[0]", "Adam", lo=0.0, hi=1.0, hi_open=True)
        check_number(betas[1], "betas[1]", "Adam", lo=0.0, hi=1.0, hi_open=True)
        group["betas"] = (float(betas[0]), float(betas[1]))
        check_number(group["eps"], "eps", "Adam", lo=0.0, lo_open=True)

    def _init_state(self, p):
        xp = get_array_module(p.data)
        return {"m": xp.zeros_like(p.data), "v": xp.zeros_like(p.data)}

    def _update(self, p, g, state, group, t):
        xp = get_array_module(g)
        b1, b2 = group["betas"]
        m, v = state["m"], state["v"]
        if group["bias_correction"]:
            step_size, root_bc2 = group["lr"] / (1 - b1 ** t), (1 - b2 ** t) ** 0.5
        else:
            step_size, root_bc2 = group["lr"], 1.0
        if xp.__name__ != "numpy":  # CuPy: one fused kernel (moments and weights) instead of a dozen
            from ._fused import adam_step
            return Applied(adam_step(p.data, g, m, v, b1, b2, step_size, root_bc2, group["eps"]))
        if _jit.usable(p.data, g, m, v):  # Numba: the same operations below in one pass, bit-identical
            eps, scale = group["eps"] * root_bc2, -step_size * root_bc2
            _jit.adam_step(p.data, g, m, v, b1, b2, eps, scale)
            return Applied(_Deferred(_adam_step_from_moments, (m, v), (eps, scale)))  # the step is not stored
        m *= b1
        tmp = xp.multiply(g, 1 - b1, out=self._buffer(g))
        m += tmp
        v *= b2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        # step_size * m / (sqrt(v) / rbc2 + eps) = (step_size * rbc2) * m / (sqrt(v) + eps * rbc2): one pass fewer
        denom = xp.sqrt(v, out=tmp)  # reuse the buffer
        denom += group["eps"] * root_bc2
        delta = xp.divide(m, denom, out=denom)
        delta *= -step_size * root_bc2
        return delta


def _adam_step_from_moments(m, v, eps, scale):
    """The step the compiled Adam kernel just added, recomputed from the moments it left with the
    operations of the NumPy update above (so the same values): ``m / (sqrt(v) + eps) * scale``."""
    f = m.dtype.type  # the scalars in the arrays' precision, as in the kernel
    return m / (get_array_module(m).sqrt(v) + f(eps)) * f(scale)


#: Solver names used by the estimators and the classic models: name -> (class, extra arguments).
SOLVERS = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
}


def make_optimizer(solver, params, lr, momentum=None, who="optimizer"):
    """An optimizer from a solver name (see ``SOLVERS``); ``momentum`` overrides 0.9 for
    "momentum"/"nesterov"."""
    if solver not in SOLVERS:
        raise ConfigError(f"{who}: solver must be one of {sorted(SOLVERS)}, got {solver!r}")
    cls, extra = SOLVERS[solver]
    extra = dict(extra)
    if momentum is not None and "momentum" in extra:
        extra["momentum"] = momentum
    return cls(params, lr=lr, **extra)
