"""The ``[search]`` section of a ``glassnet train`` config, for ``glassnet tune CONFIG``:

    [search]
    strategy = "random"          # random | grid | coarse-to-fine | tpe
    trials = 20
    epochs = 10                  # per trial (coarse-to-fine: stages = [{trials = 20, epochs = 5}, ...])
    seed = 0
    metric = "val_accuracy"      # or val_loss (lower is better)
    jobs = 2
    [search.space]
    "optimizer.lr" = {type = "LogUniform", low = 1e-4, high = 1e-1}
    width = {type = "LogInt", low = 32, high = 512, targets = ["model.layers[0].out_features",
                                                              "model.layers[2].in_features"]}
"""
from __future__ import annotations

from .objective import ConfigObjective
from .space import Space, dimension_from_config

__all__ = ["search_from_config"]

_FIELDS = {"strategy": str, "trials": int, "epochs": int, "seed": int, "metric": str, "jobs": int, "space": dict,
           "stages": list, "grid_points": int, "keep": float, "time_budget": (int, float), "executor": str,
           "address": str}


def search_from_config(cfg):
    """(objective, space, Search keyword arguments, executor settings) from a config with a
    ``search`` section; errors name the field."""
    from ..train.run import ConfigError, check_config

    if "search" not in cfg:
        raise ConfigError("search: missing section; glassnet tune needs [search] with a [search.space] table")
    s = cfg["search"]
    for key, value in s.items():
        if key not in _FIELDS:
            raise ConfigError(f"search.{key}: unknown field; expected one of {sorted(_FIELDS)}")
        if not isinstance(value, _FIELDS[key]) or isinstance(value, bool):
            want = _FIELDS[key].__name__ if isinstance(_FIELDS[key], type) else "number"
            raise ConfigError(f"search.{key}: expected {want}, got {value!r}")
    if not s.get("space"):
        raise ConfigError("search.space: missing or empty; name at least one hyperparameter")
    try:
        dims, targets = {}, {}
        for name, d in s["space"].items():
            if isinstance(d, dict) and "targets" in d:
                t = d["targets"]
                if not isinstance(t, list) or not all(isinstance(x, str) for x in t):
                    raise ValueError(f"search.space.{name}.targets: expected a list of config paths")
                targets[name] = t
            dims[name] = dimension_from_config(d, f"search.space.{name}")
        space = Space(dims)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    base = check_config({k: v for k, v in cfg.items() if k != "search"})
    metric = s.get("metric", "val_accuracy")
    objective = ConfigObjective(base, metric=metric, targets=targets)
    # every value must land somewhere: apply the first sample to a copy and check the result
    import numpy as np
    try:
        check_config(objective.configure(space.sample(np.random.default_rng(0)), 0, s.get("epochs")))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    stages = None
    if s.get("stages"):
        try:
            stages = [(int(st["trials"]), st.get("epochs")) for st in s["stages"]]
        except (TypeError, KeyError):
            raise ConfigError("search.stages: expected a list of {trials = N, epochs = E} tables") from None
    kwargs = dict(strategy=s.get("strategy", "random"), trials=s.get("trials", 20), epochs=s.get("epochs"),
                  seed=s.get("seed", cfg.get("seed", 0)), mode="max",  # the objective negates losses
                  stages=stages, grid_points=s.get("grid_points", 3), keep=s.get("keep", 0.25),
                  time_budget=s.get("time_budget"))
    execution = {"executor": s.get("executor", "process"), "jobs": s.get("jobs", 1), "address": s.get("address")}
    return objective, space, kwargs, execution
