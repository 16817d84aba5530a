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

Every field is declared in glassnet/config.py (the one schema); docs/config.md lists them.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .objective import ConfigObjective
from .space import Space, dimension_from_config

__all__ = ["search_from_config"]


def search_from_config(cfg):
    """(objective, space, Search keyword arguments, executor settings) from a config with a
    ``search`` section; errors are ConfigError naming the field."""
    from ..train.run import check_config

    if not isinstance(cfg, dict) or "search" not in cfg:
        raise ConfigError("search: missing section; glassnet tune needs [search] with a [search.space] table")
    checked = check_config(cfg)  # the whole config, the search section included
    s = checked["search"]
    dims, targets = {}, {}
    for name, d in s["space"].items():
        if isinstance(d, dict) and "targets" in d:
            targets[name] = d["targets"]
        dims[name] = dimension_from_config(d, f"search.space.{name}")
    space = Space(dims)
    base = {k: v for k, v in checked.items() if k != "search"}
    metric = s.get("metric", "val_accuracy")
    objective = ConfigObjective(base, metric=metric, targets=targets)
    # every value must land somewhere valid: apply a sample to a copy and check the result
    check_config(objective.configure(space.sample(np.random.default_rng(0)), 0, s.get("epochs")))
    stages = [(st["trials"], st.get("epochs")) for st in s["stages"]] if s.get("stages") else None
    kwargs = dict(strategy=s.get("strategy", "random"), trials=s.get("trials", 20), epochs=s.get("epochs"),
                  seed=s.get("seed", checked["seed"]), mode="max",  # the objective negates losses
                  stages=stages, grid_points=s.get("grid_points", 3), keep=s.get("keep", 0.25),
                  time_budget=s.get("time_budget"))
    execution = {"executor": s.get("executor", "process"), "jobs": s.get("jobs", 1), "address": s.get("address")}
    return objective, space, kwargs, execution
