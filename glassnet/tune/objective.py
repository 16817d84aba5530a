"""The objective for config-driven searches: train one config with the trial's values and
return the validation score, the per-epoch history and the best checkpoint."""
from __future__ import annotations

import copy
import glob
import os
import re

from ..errors import ConfigError

__all__ = ["ConfigObjective", "base_config", "set_path"]

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


def set_path(cfg, path, value):
    """Set ``cfg["model"]["layers"][0]["out_features"]`` from ``"model.layers[0].out_features"``;
    errors name the path and the missing part."""
    node = cfg
    parts = path.split(".")
    for k, part in enumerate(parts):
        m = _STEP.fullmatch(part)
        if not m:
            raise ConfigError(f"search.space: cannot read the config path {path!r} at {part!r}")
        key, idx = m.group(1), m.group(2)
        last = k == len(parts) - 1
        if last and idx is None:
            if not isinstance(node, dict):
                raise ConfigError(f"search.space: {path!r}: {'.'.join(parts[:k]) or 'the config'} is not a table")
            node[key] = value
            return
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"search.space: {path!r}: no field {key!r} in {'.'.join(parts[:k]) or 'the config'}")
        node = node[key]
        if idx is not None:
            i = int(idx)
            if not isinstance(node, list) or i >= len(node):
                raise ConfigError(f"search.space: {path!r}: {key} has no item {i}")
            if last:
                node[i] = value
                return
            node = node[i]


def base_config(cfg):
    """The config every trial starts from: without the ``search`` section, and with the data split
    fixed (``data.split_seed`` = the config's seed) so all trials, and anything evaluated on the
    search's validation data afterwards, see the same split and preprocessing."""
    cfg = copy.deepcopy(cfg)
    cfg.pop("search", None)
    cfg.setdefault("data", {}).setdefault("split_seed", int(cfg.get("seed", 0)))
    return cfg


class ConfigObjective:
    """Picklable: ``ConfigObjective(cfg, metric="val_accuracy", targets={"width": [paths]})``.

    Each hyperparameter's value is written to the config paths in ``targets`` (default: its own
    name, e.g. ``"optimizer.lr"``); the trial trains with the trial's seed and epochs into its
    folder and scores ``metrics[split][name]`` of the final model (split "val" for
    ``val_accuracy``/``val_loss``; higher is better, so losses are negated).
    """

    def __init__(self, cfg, metric="val_accuracy", targets=None):
        self.cfg = base_config(cfg)
        self.metric = metric
        self.targets = dict(targets or {})

    def configure(self, params, seed, epochs):
        cfg = copy.deepcopy(self.cfg)  # the trial's own seed (below) only changes the training, not the split
        for name, value in params.items():
            for path in self.targets.get(name, [name]):
                set_path(cfg, path, value)
        cfg["seed"] = int(seed)
        cfg.setdefault("trainer", {})["verbose"] = 0
        if epochs:
            cfg["trainer"]["epochs"] = int(epochs)
        return cfg

    def __call__(self, params, seed, epochs, trial_dir):
        from ..train.run import run

        cfg = self.configure(params, seed, epochs)
        metrics = run(cfg, trial_dir, verbose=0, force=True)  # a re-run trial replaces what its first try left
        split, _, name = self.metric.partition("_")
        if split not in ("val", "test", "train") or name not in metrics.get(split, {}):
            raise ConfigError(f"search.metric {self.metric!r} was not measured (splits: "
                             f"{[k for k in ('train', 'val', 'test') if k in metrics]})")
        value = float(metrics[split][name])
        score = -value if "loss" in name else value
        history = metrics["trainer"].history.epochs
        ckpts = sorted(glob.glob(os.path.join(trial_dir, "checkpoints", "epoch*.npz")))
        return {"score": score, "metrics": {"epochs": history, self.metric: value},
                "checkpoint": ckpts[-1] if ckpts else os.path.join(trial_dir, "model.npz")}
