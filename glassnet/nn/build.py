"""Rebuild a module from its JSON-able ``config()`` (used by glassnet.load and configs)."""
from __future__ import annotations

from . import blocks, containers, layers, losses

_TYPES = {name: getattr(layers, name) for name in layers.__all__}
_TYPES.update({name: getattr(losses, name) for name in losses.__all__ if name != "Loss"})
_TYPES.update({"Sequential": containers.Sequential, "Add": containers.Add, "Concat": containers.Concat,
               "BasicBlock": blocks.BasicBlock})


def register(cls, name=None):
    """Make a user-defined Module class buildable from configs (it must define ``config()``)."""
    _TYPES[name or cls.__name__] = cls
    return cls


def build(config, path="model"):
    """Module from ``{"type": "Linear", "in_features": 4, ...}`` (nested for containers).

    Errors name the config path, e.g. ``model.layers[2].type``.
    """
    if not isinstance(config, dict):
        raise TypeError(f"{path}: expected a table/dict describing a layer, got {type(config).__name__}")
    if "type" not in config:
        raise ValueError(f"{path}: missing field 'type' (one of {sorted(_TYPES)})")
    kind = config["type"]
    kwargs = {k: v for k, v in config.items() if k != "type"}
    if kind == "Sequential":
        items = kwargs.pop("layers", None)
        if not isinstance(items, list):
            raise ValueError(f"{path}.layers: expected a list of layers, got {type(items).__name__}")
        _no_extra(kwargs, path, "Sequential")
        return containers.Sequential(*[build(c, f"{path}.layers[{i}]") for i, c in enumerate(items)])
    if kind == "Residual":
        block = build(kwargs.pop("block", None), f"{path}.block")
        sc = kwargs.pop("shortcut", None)
        shortcut = None if sc is None or sc.get("type") == "Identity" else build(sc, f"{path}.shortcut")
        _no_extra(kwargs, path, "Residual")
        return containers.Residual(block, shortcut)
    if kind == "Parallel":
        branches = kwargs.pop("branches", None)
        if not isinstance(branches, list):
            raise ValueError(f"{path}.branches: expected a list of layers")
        merge = build(kwargs.pop("merge", {"type": "Add"}), f"{path}.merge")
        _no_extra(kwargs, path, "Parallel")
        return containers.Parallel(*[build(c, f"{path}.branches[{i}]") for i, c in enumerate(branches)],
                                   merge=merge)
    if kind == "Bidirectional":
        layer = build(kwargs.pop("layer", None), f"{path}.layer")
        _no_extra(kwargs, path, "Bidirectional")
        return layers.Bidirectional(layer)
    if kind == "TimeDistributed":
        module = build(kwargs.pop("module", None), f"{path}.module")
        _no_extra(kwargs, path, "TimeDistributed")
        return containers.TimeDistributed(module)
    if kind not in _TYPES:
        raise ValueError(f"{path}.type: unknown layer type {kind!r}; expected one of {sorted(_TYPES)}")
    try:
        return _TYPES[kind](**kwargs)
    except TypeError as err:
        raise TypeError(f"{path} ({kind}): {err}") from None
    except ValueError as err:
        raise ValueError(f"{path} ({kind}): {err}") from None


def _no_extra(kwargs, path, kind):
    if kwargs:
        raise ValueError(f"{path}: unknown field(s) {sorted(kwargs)} for {kind}")
