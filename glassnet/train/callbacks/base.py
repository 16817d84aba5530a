"""Callback protocol: the Trainer calls these methods with itself and a flat ``logs`` dict.

Events, in order: on_train_begin; per epoch on_epoch_begin, per batch (on_batch_begin,
after_backward, after_step, on_batch_end), on_validation_begin, on_validation_end,
on_epoch_end; on_train_end (always, also after an error or a stop). Raise StopTraining to stop
after the current batch or epoch; on_train_end still runs.
"""
from __future__ import annotations

import math

from ..._checks import check_number
from ...errors import ConfigError

EVENTS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "after_backward", "after_step",
          "on_batch_end", "on_validation_begin", "on_validation_end", "on_epoch_end", "on_train_end")


class StopTraining(Exception):
    """Raised by a callback to stop training; ``reason`` lands in ``history.stop_reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Callback:
    """Base class with empty handlers; override the events you need."""

    def on_train_begin(self, trainer, logs): ...
    def on_epoch_begin(self, trainer, logs): ...
    def on_batch_begin(self, trainer, logs): ...
    def after_backward(self, trainer, logs): ...
    def after_step(self, trainer, logs): ...
    def on_batch_end(self, trainer, logs): ...
    def on_validation_begin(self, trainer, logs): ...
    def on_validation_end(self, trainer, logs): ...
    def on_epoch_end(self, trainer, logs): ...
    def on_train_end(self, trainer, logs): ...

    def state_dict(self) -> dict:
        """JSON-able state saved in checkpoints (arrays go under the key ``arrays``)."""
        return {}

    def load_state_dict(self, state: dict):
        pass


def infer_mode(monitor: str, mode: str) -> str:
    if not isinstance(monitor, str):
        raise ConfigError(f"monitor must be the name of a logged quantity such as 'val_loss', got {monitor!r}")
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ConfigError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    name = monitor.lower()
    if "loss" in name or "error" in name or name.endswith("mse") or name.endswith("mae"):
        return "min"
    if "acc" in name or "f1" in name or "auc" in name:
        return "max"
    raise ConfigError(f"cannot tell whether {monitor!r} should go up or down; pass mode='min' or 'max'")


class MonitorCallback(Callback):
    """Shared logic of EarlyStopping, ModelCheckpoint and ReduceLROnPlateau: watch one logged
    quantity, decide whether it improved by more than ``min_delta``."""

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        self.monitor = monitor
        self.mode = infer_mode(monitor, mode)
        self.min_delta = check_number(min_delta, "min_delta", type(self).__name__, lo=0.0)
        self.best = None

    def current(self, logs):
        if self.monitor not in logs:
            available = sorted(k for k, v in logs.items() if isinstance(v, (int, float)))
            raise KeyError(f"{type(self).__name__}: monitored quantity {self.monitor!r} is not logged; "
                           f"available: {available} (pass val=... to fit to get val_* quantities)")
        return float(logs[self.monitor])

    def improved(self, value) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state.get("best")


class CallbackList:
    """Calls an event on every callback in order."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def __iter__(self):
        return iter(self.callbacks)

    def call(self, event, trainer, logs):
        for cb in self.callbacks:
            getattr(cb, event)(trainer, logs)
