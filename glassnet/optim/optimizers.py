"""Update rules in the notes' form: SGD (vanilla, momentum, Nesterov), Adagrad, RMSprop, Adam.

``opt = Adam(model, lr=1e-3)`` or ``Adam([{"params": head.parameters(), "lr": 1e-3},
{"params": body.parameters(), "lr": 1e-4}])``. ``opt.step()`` updates every parameter that
requires a gradient, in place, from its ``.grad``, one parameter at a time, by the rule as the
notes write it; ``opt.zero_grad()`` clears the gradients. The state of each parameter
(velocity, caches, moments and its own step count) exists from construction, so
``state_dict()`` works at any time and a resumed run continues exactly. Creating an optimizer
leaves every ``p.data`` the array it was. Adam's one-pass update (Numba on the CPU, one fused
kernel on CuPy) is in ``glassnet.kernels``; ``step`` uses it where it applies.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._checks import check_bool, check_number
from ..backend import as_numpy, get_array_module
from ..errors import CheckpointError, ConfigError, ShapeError
from ..nn.module import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam"]


class Optimizer:
    """Base class. Subclasses define ``defaults``, ``_check(group)``, ``init_state(p, group)`` (the
    arrays of a parameter's state) and ``update(p, g, state, group)``, which changes ``p.data``
    in place; ``state["step"]`` counts the steps this parameter has taken, this one included."""

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
        self.state = {id(p): {"step": 0, **self.init_state(p, g)} for g in self.param_groups for p in g["params"]}
        self.step_count = 0  # calls of step()
        self.constraints = list(constraints)

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

    # -- what subclasses define ----------------------------------------------------------------
    def _check(self, group):
        check_number(group["lr"], "lr", type(self).__name__, lo=0.0)

    def init_state(self, p, group) -> dict:
        """The arrays this rule keeps for parameter ``p`` of ``group`` (none by default)."""
        return {}

    def state_bytes(self) -> int:
        """Bytes of the per-parameter state arrays (what the optimizer adds to memory)."""
        return int(sum(v.nbytes for st in self.state.values() for k, v in st.items() if k != "step"))

    def update(self, p, g, state, group):
        raise NotImplementedError

    # -- the step ---------------------------------------------------------------------------------
    def step(self):
        """Update every parameter that requires a gradient, in place; then apply the constraints."""
        self.step_count += 1
        for group in self.param_groups:
            for p in group["params"]:
                if p.requires_grad:
                    state = self.state[id(p)]
                    state["step"] += 1
                    self.update(p, p.grad, state, group)
        for c in self.constraints:
            c.apply(self)

    def zero_grad(self):
        for g in self.param_groups:
            for p in g["params"]:
                p.zero_grad()

    # -- copying and pickling: the per-parameter state is keyed by id(p), which a copy changes ------------
    def __getstate__(self):
        d = dict(self.__dict__)
        d["state"] = [self.state[id(p)] for g in self.param_groups for p in g["params"]]
        return d

    def __setstate__(self, d):
        states = d["state"]
        self.__dict__.update(d)
        params = [p for g in self.param_groups for p in g["params"]]
        self.state = {id(p): st for p, st in zip(params, states)}

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Hyperparameters, the number of steps and per-parameter state (NumPy copies; each
        parameter's step count as a 0-d integer array)."""
        groups = [{k: v for k, v in g.items() if k not in ("params", "names")} | {"names": list(g["names"])}
                  for g in self.param_groups]
        state = {}
        for gi, g in enumerate(self.param_groups):
            for pi, p in enumerate(g["params"]):
                for k, v in self.state[id(p)].items():
                    state[f"{gi}.{pi}.{k}"] = as_numpy(v).copy() if k != "step" else np.asarray(v, dtype=np.int64)
        return {"type": type(self).__name__, "step_count": self.step_count, "param_groups": groups,
                "state": state}

    def load_state_dict(self, sd: dict):
        """Restore a ``state_dict``; the parameter layout must match this optimizer's. (A state
        saved before steps were counted per parameter gives every parameter ``step_count``.)"""
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
                    if k == "step":
                        st["step"] = int(sd["state"][key]) if key in sd["state"] else int(sd["step_count"])
                        continue
                    if key not in sd["state"]:
                        raise KeyError(f"{who}.load_state_dict: missing state {key!r} for {g['names'][pi]}")
                    val = sd["state"][key]
                    if tuple(val.shape) != tuple(st[k].shape):
                        raise ShapeError(f"{who}.load_state_dict: state {k!r} of {g['names'][pi]} has shape "
                                         f"{tuple(val.shape)} but the parameter needs {tuple(st[k].shape)}")
                    xp = get_array_module(st[k])
                    st[k][...] = xp.asarray(val)
                prefix = f"{gi}.{pi}."
                for key, val in sd["state"].items():  # state the saved rule kept and this one has not made yet
                    k = key[len(prefix):]
                    if key.startswith(prefix) and k not in st:
                        if tuple(val.shape) != tuple(p.data.shape):
                            raise ShapeError(f"{who}.load_state_dict: state {k!r} of {g['names'][pi]} has shape "
                                             f"{tuple(val.shape)} but the parameter has {tuple(p.data.shape)}")
                        st[k] = get_array_module(p.data).asarray(val).astype(p.data.dtype)
            for k, v in saved.items():
                if k != "names":
                    g[k] = tuple(v) if isinstance(v, list) else v
        self.step_count = int(sd["step_count"])

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
        check_bool(group["nesterov"], "nesterov", "SGD")
        if group["nesterov"] and group["momentum"] == 0:
            raise ConfigError("SGD: nesterov=True needs a momentum in (0, 1), got momentum=0")

    def init_state(self, p, group):
        if group["momentum"] == 0:  # plain SGD keeps nothing
            return {}
        return {"velocity": get_array_module(p.data).zeros_like(p.data)}

    def update(self, p, g, state, group):
        lr, mu = group["lr"], group["momentum"]
        w = p.data
        if mu == 0:
            w -= lr * g
            return
        if "velocity" not in state:  # momentum switched on after the start
            state["velocity"] = get_array_module(w).zeros_like(w)
        v = state["velocity"]
        if group["nesterov"]:
            v_prev = v.copy()
            v *= mu
            v -= lr * g
            w += -mu * v_prev + (1 + mu) * v
        else:
            v *= mu
            v -= lr * g
            w += v


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

    def init_state(self, p, group):
        return {"cache": get_array_module(p.data).zeros_like(p.data)}

    def update(self, p, g, state, group):
        xp = get_array_module(g)
        cache = state["cache"]
        cache += g * g
        p.data -= group["lr"] * g / (xp.sqrt(cache) + group["eps"])


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

    def init_state(self, p, group):
        return {"cache": get_array_module(p.data).zeros_like(p.data)}

    def update(self, p, g, state, group):
        xp = get_array_module(g)
        d, cache = group["decay_rate"], state["cache"]
        cache *= d
        cache += (1 - d) * (g * g)
        p.data -= group["lr"] * g / (xp.sqrt(cache) + group["eps"])


class Adam(Optimizer):
    """Momentum plus RMSprop with bias-corrected moment estimates; t is this parameter's step:

    ``m = b1 m + (1-b1) dw; v = b2 v + (1-b2) dw**2; m_hat = m / (1 - b1**t);
    v_hat = v / (1 - b2**t); w -= lr * m_hat / (sqrt(v_hat) + eps)``.
    With ``bias_correction=False`` it is the notes' uncorrected ``w -= lr * m / (sqrt(v) + eps)``.
    PyTorch's Adam (amsgrad=False, weight_decay=0) with the default settings is the same rule,
    its step count per parameter too (a layer unfrozen late starts at t = 1).
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
        check_bool(group["bias_correction"], "bias_correction", "Adam")

    def init_state(self, p, group):
        xp = get_array_module(p.data)
        return {"m": xp.zeros_like(p.data), "v": xp.zeros_like(p.data)}

    def update(self, p, g, state, group):
        b1, b2 = group["betas"]
        t = state["step"]
        bc1, bc2 = (1 - b1 ** t, 1 - b2 ** t) if group["bias_correction"] else (1.0, 1.0)
        kernels.run("adam_update", p.data, g, state["m"], state["v"],
                    lr=group["lr"], b1=b1, b2=b2, eps=group["eps"], bc1=bc1, bc2=bc2)


def adam_update(w, g, m, v, *, lr, b1, b2, eps, bc1, bc2):
    """Adam's update of one parameter in place, the reference for the kernels: the moments, their
    bias-corrected estimates (``bc1 = 1 - b1**t``, ``bc2 = 1 - b2**t``; 1 without correction) and
    the step."""
    xp = get_array_module(w)
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * (g * g)
    m_hat = m / bc1
    v_hat = v / bc2
    w -= lr * m_hat / (xp.sqrt(v_hat) + eps)


kernels.reference("adam_update", adam_update)


#: The update rules, one table: the one-string names (the estimators' ``solver=``, the Solver's
#: ``update_rule=``: the notes' names) -> (class, fixed arguments). Configs name the class itself
#: (``{"type": "SGD", "momentum": 0.9}``, as ``torch.optim.SGD``); ``optimizer_classes()`` lists them.
OPTIMIZERS = {
    "sgd": (SGD, {}),
    "sgd_momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
}


def optimizer_classes() -> dict:
    """{class name: class} of every update rule in ``OPTIMIZERS`` (what a config's ``type`` names)."""
    return {cls.__name__: cls for cls, _ in OPTIMIZERS.values()}


def make_optimizer(name, params, lr, who="optimizer", momentum=None, field="the update rule", **kwargs):
    """The optimizer a rule name stands for (see ``OPTIMIZERS``) with learning rate ``lr``.
    ``momentum`` replaces 0.9 in the rules that have momentum and is not passed to the others
    (one estimator setting, whatever the rule); ``kwargs`` go to the class. ``who``/``field`` name
    the caller and its setting in the error for an unknown name."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"{who}: {field} must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    cls, fixed = OPTIMIZERS[name]
    args = dict(fixed)
    if momentum is not None and "momentum" in fixed:
        args["momentum"] = momentum
    args.update(kwargs)
    return cls(params, lr=lr, **args)
