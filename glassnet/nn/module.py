"""Module and Parameter: the protocol every layer, container and model follows.

A Module's ``forward(x)`` computes the output and keeps one cache; ``backward(dout,
need_input_grad=True)`` uses that cache, adds each parameter's gradient with
``Parameter.accumulate`` and returns d(loss)/d(x) (None when ``need_input_grad`` is False:
containers pass False to the child that receives the data, whose input gradient nobody uses).
``backward`` without a matching ``forward`` raises BackwardError (the cache is consumed).

Hooks, with PyTorch's names and call shapes: ``register_forward_hook(hook)`` calls
``hook(module, inputs, output)`` after every forward (a returned value replaces the output);
``register_backward_hook(hook)`` calls ``hook(module, grad_input, grad_output)`` after every
backward (a returned tuple replaces ``grad_input``). Both return a handle whose ``remove()``
takes the hook off. Hooks run whoever calls ``forward``/``backward`` (the user, a container, the
Trainer): ``Module.__init_subclass__`` wraps each subclass's two methods once, at class creation.
"""
from __future__ import annotations

import functools
import inspect
import itertools
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from .._checks import as_generator
from ..backend import as_numpy, device_of, get_array_module, to_device
from ..errors import BackwardError, ConfigError, ShapeError
from ..kernels.workspace import release_scratch

__all__ = ["Module", "Parameter", "RemovableHandle", "eval_scores", "as_model_input", "takes_ids", "first_layer"]


class Parameter:
    """A trainable array with its gradient.

    Attributes: ``data`` (the array the optimizer updates in place; never replaced by glassnet
    except by ``Module.to``), ``grad`` (same shape and dtype), ``name`` (the dotted name, set by
    the owning module), ``decay`` (penalties apply; False for biases and normalization
    parameters) and ``requires_grad`` (False: no gradient is accumulated and optimizers skip
    it; ``frozen`` is its negation, kept as a readable alias).

    Gradients are added in one way only, ``accumulate(g)``. ``zero_grad()`` drops the gradient
    (as PyTorch's ``zero_grad(set_to_none=True)``): the next ``accumulate`` then takes ``g`` as
    the gradient instead of adding it to a pass of zeros, and reading ``grad`` before any
    ``accumulate`` gives zeros.
    """

    __slots__ = ("data", "_grad", "name", "decay", "requires_grad")

    def __init__(self, data, name: str = "", decay: bool = True, requires_grad: bool = True, frozen=None):
        if not hasattr(data, "dtype") or data.dtype.kind != "f":
            raise TypeError(f"Parameter {name!r}: data must be a floating-point array, got "
                            f"{getattr(data, 'dtype', type(data).__name__)}")
        if _limit.left is not None:  # building a model from a file: no larger than the weights it stores
            _limit.left -= data.size
            if _limit.left < 0:
                raise ConfigError(f"the architecture needs more than the {_limit.total} parameter values stored "
                                  f"with it (a layer of shape {tuple(data.shape)} alone has {data.size})")
        self.data = data
        self._grad = None  # None reads as zeros
        self.name = name
        self.decay = bool(decay)
        self.requires_grad = bool(requires_grad) if frozen is None else not frozen

    @property
    def grad(self):
        if self._grad is None:
            self._grad = get_array_module(self.data).zeros_like(self.data)
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value

    def accumulate(self, value):
        """``grad += value``. After ``zero_grad`` the gradient becomes ``value`` itself when it is
        a fresh array of the parameter's shape and dtype (the layer's product, owned by nobody
        else), else a copy of it."""
        if self._grad is not None:
            self._grad += value
        elif (type(value) is type(self.data) and value.base is None and value.shape == self.data.shape
              and value.dtype == self.data.dtype):
            self._grad = value
        else:
            grad = get_array_module(self.data).empty_like(self.data)
            grad[...] = value
            self._grad = grad

    def zero_grad(self):
        self._grad = None

    @property
    def frozen(self) -> bool:
        """``not requires_grad``: no gradient is accumulated and optimizers skip the parameter."""
        return not self.requires_grad

    @frozen.setter
    def frozen(self, value: bool):
        self.requires_grad = not value

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def __repr__(self):
        flags = "" if self.decay else ", decay=False"
        flags += ", requires_grad=False" if not self.requires_grad else ""
        return f"Parameter({self.name or '?'}, shape={tuple(self.data.shape)}, dtype={self.data.dtype}{flags})"


class _Limit(threading.local):
    left = None
    total = None


_limit = _Limit()


@contextmanager
def parameter_limit(n_values: int):
    """Inside this block the Parameters created (in this thread) may hold at most ``n_values``
    numbers in all; one more raises ConfigError before its layer initializes (fills) it.
    ``glassnet.load`` builds a stored architecture under the number of values the file stores, so
    a crafted file cannot make it build a model larger than itself. Layers allocate their
    parameters lazily (``np.empty``/``np.zeros``) and fill them after creating the Parameter."""
    saved = (_limit.left, _limit.total)
    _limit.left, _limit.total = int(n_values), int(n_values)
    try:
        yield
    finally:
        _limit.left, _limit.total = saved


class RemovableHandle:
    """Returned by ``register_*_hook``: ``remove()`` takes the hook off (also on leaving a
    ``with`` block)."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = next(self._ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _with_forward_hooks(raw):
    @functools.wraps(raw)
    def forward(self, x, *args, **kw):
        out = raw(self, x, *args, **kw)
        # a subclass's forward calling super().forward() runs the hooks once, in the outermost call
        if self._forward_hooks and type(self).forward is forward:
            for hook in tuple(self._forward_hooks.values()):
                result = hook(self, (x, *args), out)
                if result is not None:
                    out = result
        return out
    return forward


def _with_backward_hooks(raw):
    takes_flag = "need_input_grad" in inspect.signature(raw).parameters

    @functools.wraps(raw)
    def backward(self, *args, need_input_grad=True, **kw):
        if takes_flag:
            dx = raw(self, *args, need_input_grad=need_input_grad, **kw)
        else:
            dx = raw(self, *args, **kw)
        if not need_input_grad:
            dx = None
        if self._backward_hooks and type(self).backward is backward:
            for hook in tuple(self._backward_hooks.values()):
                result = hook(self, (dx,), args[:1])
                if result is not None:
                    dx = result[0]
        return dx
    return backward


def _annotate(err: BaseException, where: str, shape) -> None:
    """Prefix the location of a failing child to an exception's message, in place."""
    if not isinstance(err, (ValueError, TypeError, RuntimeError, ArithmeticError, IndexError)):
        return
    if len(err.args) > 1:
        return
    trail = getattr(err, "_gn_trail", None)
    if trail is None:
        err._gn_msg = str(err.args[0]) if err.args else ""
        err._gn_shape = shape
        trail = []
    trail.insert(0, where)
    err._gn_trail = trail
    shape_txt = f" (input shape {tuple(err._gn_shape)})" if err._gn_shape is not None else ""
    err.args = (f"{err._gn_msg}\n  at {' > '.join(trail)}{shape_txt}",)
    if hasattr(err, "where"):
        err.where = f"{' > '.join(trail)}" + (f": {err.where}" if err.where else "")


class Module:
    """Base class of layers, containers and models.

    Subclasses implement ``forward(x)`` and ``backward(dout)``. Assigning a Parameter or a
    Module to an attribute registers it; ``register_buffer`` registers non-trainable state
    (e.g. BatchNorm running statistics) that ``state_dict`` saves.
    """

    #: True for modules whose function has kinks (ReLU, max, hinge): gradient checks then
    #: use the looser threshold of the notes.
    has_kinks = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _with_forward_hooks(cls.__dict__["forward"])
        if "backward" in cls.__dict__:
            cls.backward = _with_backward_hooks(cls.__dict__["backward"])

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_generators", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_cache", None)

    # -- registration -------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               f"before assigning attributes")
        for d in (self._parameters, self._modules, self._buffers):
            if not (isinstance(value, Module) and d is self._modules or isinstance(value, Parameter)
                    and d is self._parameters):  # a replaced child or parameter keeps its place
                d.pop(name, None)
        if isinstance(value, Parameter):
            if not value.name:
                value.name = name
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array):
        """Non-trainable state saved by ``state_dict`` and moved by ``to``."""
        object.__setattr__(self, name, array)
        self._buffers[name] = True

    def register_generator(self, name: str, rng=None):
        """A NumPy Generator this module draws from (Dropout's masks), kept as attribute ``name``.
        The Trainer reseeds every registered Generator from its seed and saves their states in
        checkpoints; gradient checks rewind them. ``rng``: a Generator, a seed or None."""
        object.__setattr__(self, name, as_generator(rng))
        self._generators[name] = True

    def named_generators(self) -> Iterator[tuple[str, "Module", str]]:
        """(dotted name, owning module, attribute) of every registered Generator, in a stable order."""
        for mname, m in self.named_modules():
            for gname in m._generators:
                yield (f"{mname}.{gname}" if mname else gname), m, gname

    # -- hooks ------------------------------------------------------------------------------
    def register_forward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward of this module (``inputs``:
        the tuple of positional arguments); a non-None return value replaces the output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_backward_hook(self, hook) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` after every backward of this module
        (one-element tuples: d(loss)/d(input), None when it was not asked for, and the upstream
        gradient); a non-None return value (a tuple) replaces ``grad_input``."""
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    # -- forward / backward ---------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dout, need_input_grad=True):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x, *args, **kwargs):
        return self.forward(x, *args, **kwargs)

    def _save(self, cache):
        object.__setattr__(self, "_cache", cache)

    def _pop(self):
        cache = self._cache
        if cache is None:
            raise BackwardError(
                f"{type(self).__name__}.backward() called without a matching forward(): call "
                f"forward(x) first (each forward allows one backward)")
        object.__setattr__(self, "_cache", None)
        return cache

    def clear_cache(self):
        """Drop the forward caches and scratch buffers of this module and its children (frees memory)."""
        for m in self.modules():
            m.drop_cache()
        release_scratch()

    def drop_cache(self):
        """Drop this module's own forward cache; layers that keep scratch memory between steps
        (Conv2d's column buffer) extend this to free it too."""
        object.__setattr__(self, "_cache", None)

    # -- traversal ----------------------------------------------------------------------------
    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        """Every module, this one first, in ``named_modules`` order (without building the names:
        ``zero_grad`` walks this at every step)."""
        yield self
        for child in self._modules.values():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs in a stable order, e.g. ``"0.W"``, ``"2.gamma"``."""
        seen = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, object]]:
        for mname, m in self.named_modules():
            for bname in m._buffers:
                yield (f"{mname}.{bname}" if mname else bname), getattr(m, bname)

    def apply(self, fn):
        """Call ``fn(module)`` on every module (children first), return self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes ----------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        """Training mode (dropout active, batch statistics); recurses; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (dropout off, running statistics); recurses; returns self."""
        return self.train(False)

    def zero_grad(self):
        for m in self.modules():  # no dotted names needed (runs every step); a shared one is marked twice
            for p in m._parameters.values():
                p.zero_grad()

    def reset_state(self):
        """Forget state carried from one batch to the next (stateful recurrent layers' hidden
        state) here and in every child; returns self. Layers that carry state override it."""
        for child in self.children():
            child.reset_state()
        return self

    def freeze(self):
        """Freeze every parameter (``requires_grad = False``; transfer learning); returns self."""
        for p in self.parameters():
            p.requires_grad = False
        return self

    def unfreeze(self):
        for p in self.parameters():
            p.requires_grad = True
        return self

    def summary(self, input_shape, batch_size=32, optimizer=None, depth=None, exact=True):
        """``glassnet.models.summary(self, ...)``: layers, output shapes, parameters,
        multiply-adds and the memory of a training step (``input_shape`` without the batch)."""
        from ..models.summary import summary
        return summary(self, input_shape, batch_size=batch_size, optimizer=optimizer, depth=depth, exact=exact)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return int(sum(p.data.size for p in self.parameters() if p.requires_grad or not trainable_only))

    def init_parameters(self, rng):
        """Fill this module's own parameters (and reset its buffers) from the Generator ``rng``.
        Layers with parameters override it and call it from their constructor; containers
        have none of their own."""

    def reset_parameters(self, rng=None):
        """Re-initialize every parameter from one Generator, in a stable order; returns self."""
        rng = as_generator(rng)
        for m in self.modules():
            m.init_parameters(rng)
        return self

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, object]":
        """Copies of every parameter and buffer, keyed by dotted name."""
        sd = OrderedDict()
        for name, p in self.named_parameters():
            sd[name] = p.data.copy()
        for name, b in self.named_buffers():
            sd[name] = b.copy()
        return sd

    def load_state_dict(self, state, strict: bool = True):
        """Copy arrays from ``state`` into the parameters and buffers, in place.

        With ``strict`` every key must match exactly; shapes must always match. Values are
        converted to each parameter's dtype and device. Returns (missing, unexpected) keys.
        """
        params = dict(self.named_parameters())
        buffers = {}
        for mname, m in self.named_modules():
            for bname in m._buffers:
                buffers[f"{mname}.{bname}" if mname else bname] = (m, bname)
        own = set(params) | set(buffers)
        missing = sorted(own - set(state))
        unexpected = sorted(set(state) - own)
        if strict and (missing or unexpected):
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for key, value in state.items():
            if key not in own:
                continue
            target = params[key].data if key in params else getattr(*buffers[key])
            if tuple(value.shape) != tuple(target.shape):
                raise ShapeError(f"{type(self).__name__}.load_state_dict: '{key}' has shape "
                                 f"{tuple(value.shape)} in the state but {tuple(target.shape)} in the model")
            xp = get_array_module(target)
            target[...] = xp.asarray(as_numpy(value) if xp is np else value).astype(target.dtype, copy=False)
        return missing, unexpected

    def to(self, dtype_or_device):
        """Convert parameters, gradients and buffers to a float dtype (``np.float64``) or
        move them to a device (``"cpu"`` / ``"cuda"``); returns self."""
        if isinstance(dtype_or_device, str) and dtype_or_device.split(":")[0].lower() in ("cpu", "cuda", "gpu"):
            convert = lambda a: to_device(a, dtype_or_device)  # noqa: E731
        else:
            dtype = np.dtype(dtype_or_device)
            if dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}.to: expected a float dtype or 'cpu'/'cuda', "
                                f"got {dtype_or_device!r}")
            convert = lambda a: a.astype(dtype) if a.dtype.kind == "f" else a  # noqa: E731
        for m in self.modules():
            for p in m._parameters.values():
                p.data = convert(p.data)
                p.grad = None if p._grad is None else convert(p._grad)
            for bname in m._buffers:
                object.__setattr__(m, bname, convert(getattr(m, bname)))
        self.clear_cache()
        return self

    @property
    def dtype(self):
        """dtype of the first parameter (None for a module without parameters)."""
        for p in self._parameters.values():  # a layer's own first (read on every forward)
            return p.data.dtype
        p = next(self.parameters(), None)
        return None if p is None else p.data.dtype

    # -- description ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"

    def config(self) -> dict:
        """JSON-able description from which ``glassnet.nn.build`` rebuilds this module."""
        raise NotImplementedError(f"{type(self).__name__} cannot describe itself as a config")


def first_layer(model):
    """The first layer (a module without children) the data meets, or None."""
    return next((m for m in model.modules() if not m._modules), None)


def takes_ids(model) -> bool:
    """True when the first layer data meets is an Embedding: the inputs are integer ids, which
    stay integers (not converted to the model's float dtype)."""
    from .layers.embedding import Embedding
    return isinstance(first_layer(model), Embedding)


def as_model_input(model, X):
    """``X`` on the model's device and in its dtype (the data follows the model, as in the Trainer);
    integer ids for a model that starts with an Embedding stay integers."""
    first = next(model.parameters(), None)
    if first is not None and device_of(first.data) != device_of(X):
        X = to_device(X, device_of(first.data))
    dtype = model.dtype
    if dtype is not None and X.dtype != dtype and not (X.dtype.kind in "iu" and takes_ids(model)):
        X = X.astype(dtype)
    return X


def eval_scores(model, X, batch_size=1024):
    """``model``'s outputs for ``X`` in eval mode, in batches, as one NumPy array.

    ``X`` is converted to the model's dtype and moved to its device (as the Trainer does); the model's mode is restored
    and its caches are cleared afterwards. A stateful recurrent model starts from zero state,
    carries it from batch to batch (rows in order: stream i of the data in row i of every batch),
    starts afresh at a batch of another size, and is reset at the end.
    """
    xp = get_array_module(X) if hasattr(X, "dtype") else np
    X = as_model_input(model, xp.asarray(X))
    was_training = model.training
    model.eval()
    model.reset_state()
    try:
        # at least one pass, so that 0 rows give 0 rows of outputs of the right width
        outs, rows = [], None
        for i in range(0, max(len(X), 1), batch_size):
            xb = X[i:i + batch_size]
            if rows is not None and len(xb) != rows:  # a stateful model carries state between equal batches only
                model.reset_state()
            rows = len(xb)
            outs.append(as_numpy(model.forward(xb)))
    finally:
        model.clear_cache()
        model.reset_state()
        model.train(was_training)
    return np.concatenate(outs, axis=0)
