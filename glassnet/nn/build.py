"""Rebuild a module from its JSON-able ``config()`` (used by glassnet.load and configs)."""
from __future__ import annotations

from ..config import build_object, check_params, show
from ..errors import ConfigError
from . import blocks, containers, layers, losses

_TYPES = {name: getattr(layers, name) for name in layers.__all__}
_TYPES.update({name: getattr(losses, name) for name in losses.__all__ if name != "Loss"})
_TYPES.update({"Sequential": containers.Sequential, "Add": containers.Add, "Concat": containers.Concat,
               "BasicBlock": blocks.BasicBlock, "Bottleneck": blocks.Bottleneck, "Inception": blocks.Inception})
#: containers take their children as nested configs
_CONTAINERS = {"Sequential": containers.Sequential, "Residual": containers.Residual,
               "Parallel": containers.Parallel, "Bidirectional": layers.Bidirectional,
               "TimeDistributed": containers.TimeDistributed}


def register(cls, name=None):
    """Make a user-defined Module class buildable from configs (it must define ``config()``)."""
    _TYPES[name or cls.__name__] = cls
    return cls


def _children(value, path):
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list of layers (tables with a 'type'), got {show(value)}")
    return [build(c, f"{path}[{i}]") for i, c in enumerate(value)]


def build(config, path="model"):
    """Module from ``{"type": "Linear", "in_features": 4, ...}`` (nested for containers).

    Errors are ConfigError naming the config path, e.g. ``model.layers[2].type: unknown layer
    'Relu'; ... did you mean 'ReLU'?``.
    """
    kind = config.get("type") if isinstance(config, dict) else None
    if isinstance(kind, str) and kind in _CONTAINERS:
        cls = _CONTAINERS[kind]
        check_params(config, cls, path)
        if kind == "Sequential":
            children = _children(config["layers"], f"{path}.layers")
            names = config.get("names")
            if names is None:
                return containers.Sequential(*children)
            if not isinstance(names, list) or len(names) != len(children) \
                    or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"{path}.names: expected a list of {len(children)} names (one per layer), "
                                  f"got {show(names)}")
            try:
                return containers.Sequential(list(zip(names, children)))
            except ConfigError as err:
                raise ConfigError(f"{path}.names: {err}") from None
        if kind == "Residual":
            sc = config.get("shortcut")
            shortcut = None if sc is None or (isinstance(sc, dict) and sc.get("type") == "Identity") \
                else build(sc, f"{path}.shortcut")
            return containers.Residual(build(config["block"], f"{path}.block"), shortcut)
        if kind == "Parallel":
            branches = _children(config["branches"], f"{path}.branches")
            if not branches:
                raise ConfigError(f"{path}.branches: expected at least one branch, got an empty list")
            merge = build(config.get("merge", {"type": "Add"}), f"{path}.merge")
            return containers.Parallel(*branches, merge=merge)
        if kind == "Bidirectional":
            return layers.Bidirectional(build(config["layer"], f"{path}.layer"))
        return containers.TimeDistributed(build(config["module"], f"{path}.module"))
    registry = dict(_TYPES)
    registry.update(_CONTAINERS)
    return build_object(config, registry, path, "layer")
