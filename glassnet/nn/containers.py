"""Containers that build any graph from layers: Sequential, Parallel (fan-out) with Add or
Concat merges, and Residual. An exception inside a container names the failing child
(index, class) and the input shape it received."""
from __future__ import annotations

from ..backend import get_array_module
from ..errors import ConfigError, ShapeError
from .module import Module, _annotate


def _call(parent: str, name, child: Module, method: str, arg, **kw):
    try:
        return getattr(child, method)(arg, **kw)
    except Exception as err:
        shape = getattr(arg, "shape", None) if method == "forward" else None
        where = f"{parent}[{name}] ({type(child).__name__}){'' if method == 'forward' else '.backward'}"
        _annotate(err, where, shape)
        raise


class Sequential(Module):
    """Applies its children in order; backward runs them in reverse.

    ``Sequential(Linear(4, 8), ReLU(), Linear(8, 3))``; children are named "0", "1", ...
    so parameters are "0.W", "0.b", "2.W", ... A dict (or a list of (name, module) pairs)
    names them, as PyTorch's ``Sequential(OrderedDict(...))`` does:
    ``Sequential({"features": body, "fc": Linear(512, 10)})`` gives "features.*" and "fc.W".
    Supports ``len``, indexing by position or name, slicing (names kept) and ``append``.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            modules = tuple(modules[0].items())
        elif len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for m in modules:
            if isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str):
                self.append(m[1], name=m[0])
            else:
                self.append(m)

    def append(self, module, name=None):
        """Add ``module`` at the end, named ``name`` (default: its position); returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: children must be Modules, got {type(module).__name__} "
                            f"at position {len(self._modules)}")
        name = str(len(self._modules)) if name is None else name
        if not isinstance(name, str) or not name.isidentifier() and not name.isdigit():
            raise ConfigError(f"Sequential: a child's name must be an identifier (letters, digits, _), got {name!r}")
        if name in self._modules or name in self.__dict__ or hasattr(type(self), name):
            raise ConfigError(f"Sequential: the name {name!r} is taken; children need distinct names")
        setattr(self, name, module)
        return self

    def names(self):
        """The children's names, in order."""
        return list(self._modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, str):
            if idx not in self._modules:
                raise KeyError(f"Sequential has no child named {idx!r}; its children: {', '.join(self._modules)}")
            return self._modules[idx]
        items = list(self._modules.items())
        if isinstance(idx, slice):
            part = items[idx]
            default = all(n.isdigit() for n, _ in items)
            return Sequential(*(m for _, m in part)) if default else Sequential(part)
        return items[idx][1]

    def __setitem__(self, idx, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: children must be Modules, got {type(module).__name__}")
        name = idx if isinstance(idx, str) and idx in self._modules else list(self._modules)[idx]
        setattr(self, name, module)

    def forward(self, x):
        for name, child in self._modules.items():
            x = _call("Sequential", name, child, "forward", x)
        return x

    def backward(self, dout, need_input_grad=True):
        """Runs the children's backward in reverse; the first child is asked for the input
        gradient only when this container is."""
        first = next(iter(self._modules), None)
        for name, child in reversed(self._modules.items()):
            dout = _call("Sequential", name, child, "backward", dout,
                         need_input_grad=need_input_grad or name != first)
        return dout

    def config(self):
        config = {"type": "Sequential", "layers": [m.config() for m in self._modules.values()]}
        if list(self._modules) != [str(i) for i in range(len(self._modules))]:
            config["names"] = list(self._modules)
        return config


class Add(Module):
    """Merge for Parallel: elementwise sum of the branch outputs (all the same shape)."""

    def forward(self, xs):
        shapes = [tuple(x.shape) for x in xs]
        if len(set(shapes)) != 1:
            raise ShapeError(f"Add: all branch outputs must have the same shape to be summed, got {shapes}")
        out = xs[0].copy()
        for x in xs[1:]:
            out += x
        self._save(len(xs))
        return out

    def backward(self, dout, need_input_grad=True):
        return [dout] * self._pop()

    def config(self):
        return {"type": "Add"}


class Concat(Module):
    """Merge for Parallel: concatenation of the branch outputs along ``axis`` (default 1)."""

    def __init__(self, axis=1):
        super().__init__()
        self.axis = int(axis)

    def forward(self, xs):
        xp = get_array_module(*xs)
        try:
            out = xp.concatenate(xs, axis=self.axis)
        except ValueError:
            raise ShapeError(f"Concat(axis={self.axis}): branch outputs cannot be concatenated, "
                             f"shapes {[tuple(x.shape) for x in xs]}") from None
        self._save([x.shape[self.axis] for x in xs])
        return out

    def backward(self, dout, need_input_grad=True):
        sizes = self._pop()
        xp = get_array_module(dout)
        cuts = xp.cumsum(xp.asarray(sizes))[:-1].tolist()
        return xp.split(dout, cuts, axis=self.axis)

    def config(self):
        return {"type": "Concat", "axis": self.axis}


class Parallel(Module):
    """Feeds one input to every branch and merges their outputs (``Add()`` or ``Concat()``).

    Backward sends the merged gradient to each branch and sums their input gradients
    (fan-out). ``Parallel(Linear(4, 8), Linear(4, 8), merge=Add())``.
    """

    def __init__(self, *branches, merge=None):
        super().__init__()
        if not branches:
            raise ConfigError("Parallel: needs at least one branch")
        merge = Add() if merge is None else merge
        if isinstance(merge, str):
            merge = {"add": Add, "concat": Concat}[merge.lower()]()
        if not isinstance(merge, (Add, Concat)):
            raise TypeError(f"Parallel: merge must be Add() or Concat(), got {type(merge).__name__}")
        self._branch_names = []
        for i, b in enumerate(branches):
            self._add_branch(str(i), b)
        self.merge = merge

    def __len__(self):
        return len(self._branch_names)

    def __getitem__(self, idx):
        """The branch at position ``idx`` (for Residual: 0 is the block, 1 the shortcut)."""
        return self._modules[self._branch_names[idx]]

    def _add_branch(self, name, module):
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: branch {name} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)
        self._branch_names.append(name)

    def forward(self, x):
        me = type(self).__name__
        outs = [_call(me, n, self._modules[n], "forward", x) for n in self._branch_names]
        try:
            return self.merge.forward(outs)
        except ShapeError as err:
            _annotate(err, f"{me} merge ({type(self.merge).__name__})", getattr(x, "shape", None))
            raise

    def backward(self, dout, need_input_grad=True):
        me = type(self).__name__
        grads = self.merge.backward(dout)
        dx = None
        for n, g in zip(self._branch_names, grads):
            d = _call(me, n, self._modules[n], "backward", g, need_input_grad=need_input_grad)
            dx = d if dx is None else dx + d
        return dx

    def config(self):
        return {"type": "Parallel", "branches": [self._modules[n].config() for n in self._branch_names],
                "merge": self.merge.config()}


class Residual(Parallel):
    """y = block(x) + shortcut(x), shortcut defaulting to the identity (a ResNet unit).

    Parameters are named ``block.*`` and ``shortcut.*``. The block's output must have the
    shortcut's output shape; give a projection (e.g. ``Linear(in, out)``) as shortcut when not.
    """

    def __init__(self, block, shortcut=None):
        from .layers.shape import Identity

        Module.__init__(self)
        self._branch_names = []
        self._add_branch("block", block)
        self._add_branch("shortcut", Identity() if shortcut is None else shortcut)
        self.merge = Add()

    def config(self):
        return {"type": "Residual", "block": self.block.config(), "shortcut": self.shortcut.config()}


class TimeDistributed(Module):
    """Applies ``module`` to every time step: (N, T, ...) -> (N*T, ...) -> module -> (N, T, ...).

    ``TimeDistributed(Linear(H, C))`` maps every hidden state of an RNN to class scores.
    """

    def __init__(self, module):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"TimeDistributed: expected a Module, got {type(module).__name__}")
        self.module = module

    def forward(self, x):
        if getattr(x, "ndim", 0) < 3:
            raise ShapeError(f"TimeDistributed({type(self.module).__name__}): expected input of shape "
                             f"(N, T, ...), got shape {tuple(getattr(x, 'shape', ()))}")
        N, T = x.shape[:2]
        out = _call("TimeDistributed", "module", self.module, "forward", x.reshape((N * T,) + x.shape[2:]))
        self._save((N, T))
        return out.reshape((N, T) + out.shape[1:])

    def backward(self, dout, need_input_grad=True):
        N, T = self._pop()
        dx = _call("TimeDistributed", "module", self.module, "backward", dout.reshape((N * T,) + dout.shape[2:]),
                   need_input_grad=need_input_grad)
        return None if dx is None else dx.reshape((N, T) + dx.shape[1:])

    def config(self):
        return {"type": "TimeDistributed", "module": self.module.config()}


__all__ = ["Sequential", "Parallel", "Residual", "Add", "Concat", "TimeDistributed"]
