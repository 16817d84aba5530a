"""The notes' Solver, kept with its keyword arguments, implemented on the Trainer.

    solver = Solver(model, data, update_rule="sgd_momentum", optim_config={"learning_rate": 1e-2},
                    lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
    solver.train()
    solver.loss_history, solver.train_acc_history, solver.val_acc_history, solver.best_val_acc

``data`` is a dict with X_train, y_train, X_val, y_val. Unknown arguments raise. Differences
from the course code, on purpose: epochs are permutations (no sampling with replacement), no
global reseeding, the validation *loss* is tracked too, and checkpoints are resumable.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..nn.losses import SoftmaxCrossEntropy
from ..optim import OPTIMIZERS, make_optimizer
from ..optim.schedules import ExponentialDecay
from .callbacks import Callback, EarlyStopping, ModelCheckpoint
from .trainer import Trainer

_RULES = set(OPTIMIZERS)
_KWARGS = {"update_rule", "optim_config", "lr_decay", "num_epochs", "batch_size", "print_every",
           "checkpoint_name", "verbose", "num_train_samples", "num_val_samples", "seed", "loss"}


# the course's optim_config keys -> the constructor's arguments, per rule, with the course's defaults
_CONFIG = {"sgd": {}, "sgd_momentum": {"momentum": ("momentum", 0.9)}, "nesterov": {"momentum": ("momentum", 0.9)},
           "adagrad": {"epsilon": ("eps", 1e-7)},
           "rmsprop": {"decay_rate": ("decay_rate", 0.99), "epsilon": ("eps", 1e-8)},
           "adam": {"beta1": ("beta1", 0.9), "beta2": ("beta2", 0.999), "epsilon": ("eps", 1e-8)}}


def _optimizer(rule, cfg, model):
    cfg = dict(cfg or {})
    lr = cfg.pop("learning_rate", 1e-2)
    allowed = _CONFIG[rule]
    unknown = set(cfg) - set(allowed)
    if unknown:
        raise ConfigError(f"Solver: optim_config keys {sorted(unknown)} are not used by update_rule {rule!r}; "
                         f"accepted: ['learning_rate'] + {sorted(allowed)}")
    args = {arg: cfg.get(key, default) for key, (arg, default) in allowed.items()}
    if rule == "adam":
        args["betas"] = (args.pop("beta1"), args.pop("beta2"))
    return make_optimizer(rule, model, lr, who="Solver", **args)


class _PrintEvery(Callback):
    def __init__(self, every, solver):
        self.every, self.solver = every, solver

    def on_batch_end(self, trainer, logs):
        if self.solver.verbose and self.every and trainer.iteration % self.every == 0:
            print(f"(Iteration {trainer.iteration} / {self.solver.num_iterations}) loss: {logs['loss']:.6f}")


class Solver:
    """cs231n-compatible facade (see the module docstring)."""

    def __init__(self, model, data, **kwargs):
        unknown = set(kwargs) - _KWARGS
        if unknown:
            raise ConfigError(f"Unrecognized arguments {sorted(unknown)}; accepted: {sorted(_KWARGS)}")
        for key in ("X_train", "y_train", "X_val", "y_val"):
            if key not in data:
                raise ConfigError(f"Solver: data must contain {key!r}")
        self.model, self.data = model, data
        self.update_rule = kwargs.get("update_rule", "sgd")
        if self.update_rule not in _RULES:
            raise ConfigError(f'Invalid update_rule "{self.update_rule}"; expected one of {sorted(_RULES)}')
        self.optim_config = kwargs.get("optim_config", {})
        self.lr_decay = float(kwargs.get("lr_decay", 1.0))
        self.num_epochs = int(kwargs.get("num_epochs", 10))
        self.batch_size = int(kwargs.get("batch_size", 100))
        self.print_every = int(kwargs.get("print_every", 10))
        self.checkpoint_name = kwargs.get("checkpoint_name")
        self.verbose = bool(kwargs.get("verbose", True))
        self.num_train_samples = int(kwargs.get("num_train_samples", 1000))
        self.seed = int(kwargs.get("seed", 0))
        self.loss = kwargs.get("loss") or SoftmaxCrossEntropy()
        self.optimizer = _optimizer(self.update_rule, self.optim_config, model)
        n = len(data["X_train"])
        self.num_iterations = self.num_epochs * max(n // self.batch_size + (n % self.batch_size > 0), 1)
        self._best = EarlyStopping(monitor="val_accuracy", patience=10 ** 9, restore_best=True)
        callbacks = [self._best, _PrintEvery(self.print_every, self)]
        if self.checkpoint_name:
            callbacks.append(ModelCheckpoint(f"{self.checkpoint_name}", monitor="val_accuracy"))
        schedule = ExponentialDecay(gamma=self.lr_decay) if self.lr_decay != 1.0 else None
        self.trainer = Trainer(model, self.loss, self.optimizer, schedule=schedule, callbacks=callbacks,
                               train_sample=self.num_train_samples, verbose=1 if self.verbose else 0)
        self.loss_history, self.train_acc_history, self.val_acc_history = [], [], []
        self.best_val_acc, self.best_params = 0.0, {}

    def train(self):
        h = self.trainer.fit((self.data["X_train"], self.data["y_train"]),
                             val=(self.data["X_val"], self.data["y_val"]), epochs=self.num_epochs,
                             batch_size=self.batch_size, seed=self.seed)
        self.loss_history = list(h.iterations["loss"])
        self.train_acc_history = h["accuracy"]
        self.val_acc_history = h["val_accuracy"]
        self.best_val_acc = float(self._best.best) if self._best.best is not None else 0.0
        self.best_params = self.model.state_dict()  # the best weights are already restored
        return h

    def check_accuracy(self, X, y, batch_size=100):
        return self.trainer.evaluate((X, y), batch_size=batch_size)["accuracy"]
