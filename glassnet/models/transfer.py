"""Transfer learning as the notes teach it: use a trained network without its last layers as a
feature extractor, or replace its classifier and fine-tune (the body with a smaller learning
rate, through optimizer parameter groups).

    body = feature_extractor(model, upto="flatten")    # shares the trained layers
    head = replace_head(model, num_classes=5)          # a fresh last Linear layer
    model.freeze(); head.unfreeze()                    # features only, or:
    opt = Adam([{"params": body_parameters(model, head), "lr": 1e-4}, {"params": head}], lr=1e-3)
"""
from __future__ import annotations

from ..errors import ConfigError
from ..nn import Linear, Sequential
from ..nn.module import Module

__all__ = ["feature_extractor", "replace_head", "body_parameters"]


def _path_names(model):
    return [n for n, _ in model.named_modules() if n]


def feature_extractor(model, upto):
    """A Sequential of ``model``'s layers from the input up to and including the one named
    ``upto`` (a dotted name from ``model.named_modules()``, e.g. ``"layer3"`` or
    ``"features.pool5"``). The layers are shared, not copied (as slicing a PyTorch Sequential):
    freezing or training them changes the model too. The model must be a (nested) Sequential,
    as every ``glassnet.models`` builder returns."""
    if not isinstance(model, Sequential):
        raise ConfigError(f"feature_extractor: expected a Sequential model (as glassnet.models builds), "
                          f"got {type(model).__name__}")
    if not isinstance(upto, str) or not upto:
        raise ConfigError(f"feature_extractor: upto must be a layer's dotted name, got {upto!r}")
    head, _, rest = upto.partition(".")
    if head not in model.names():
        names = _path_names(model)
        from ..config import did_you_mean
        raise ConfigError(f"feature_extractor: the model has no layer {upto!r}{did_you_mean(upto, names)} "
                          f"(top-level layers: {', '.join(model.names())})")
    parts = []
    for name in model.names():
        child = model[name]
        if name != head:
            parts.append((name, child))
            continue
        if rest:
            if not isinstance(child, Sequential):
                raise ConfigError(f"feature_extractor: {head!r} is a {type(child).__name__}, which cannot be cut "
                                  f"inside; cut after it with upto={head!r}")
            child = feature_extractor(child, rest)
        parts.append((name, child))
        break
    return Sequential(parts)


def _last_linear(model):
    """(parent, name, layer) of the last Linear layer in ``model`` (in registration order)."""
    found = None
    for mname, m in model.named_modules():
        for cname, child in m._modules.items():
            if isinstance(child, Linear):
                found = (m, cname, child, f"{mname}.{cname}" if mname else cname)
    return found


def replace_head(model, num_classes, rng=None):
    """Replace ``model``'s last Linear layer (its classifier) by a new one with
    ``num_classes`` outputs, the same inputs and dtype, freshly initialized and trainable;
    returns the new layer (``model`` is changed in place, keeping the layer's name, so
    ``state_dict`` keys other than the head's stay valid)."""
    from .._checks import positive_int
    num_classes = positive_int(num_classes, "replace_head", "num_classes")
    if not isinstance(model, Module):
        raise TypeError(f"replace_head: expected a glassnet Module, got {type(model).__name__}")
    found = _last_linear(model)
    if found is None:
        raise ConfigError(f"replace_head: {type(model).__name__} has no Linear layer to replace")
    parent, name, old, _ = found
    new = Linear(old.in_features, num_classes, bias=old.b is not None, init=old.init, rng=rng, dtype=old.W.dtype)
    setattr(parent, name, new)
    return new


def body_parameters(model, head):
    """The trainable parameters of ``model`` that are not ``head``'s (for a parameter group with
    a smaller learning rate when fine-tuning)."""
    own = {id(p) for p in head.parameters()}
    return [p for p in model.parameters() if id(p) not in own and p.requires_grad]
