"""Built-in callbacks: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN,
PolyakAveraging, GradientClipping and ProgressBar."""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from ..._checks import all_finite, check_bool, check_int, check_number
from ...errors import ConfigError
from ...optim.clipping import clip_grad_norm
from ...optim.schedules import Plateau
from .base import Callback, MonitorCallback, StopTraining


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs. With ``restore_best`` the best weights are put back on *any* stop: patience run
    out, another callback's stop, the last epoch, or an error."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best=True, mode="auto"):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_int(patience, "patience", "EarlyStopping", lo=0)
        self.restore_best = check_bool(restore_best, "restore_best", "EarlyStopping")
        self.wait, self.best_epoch, self.best_weights = 0, None, None

    def on_train_begin(self, trainer, logs):
        if self.best_weights is None and self.best is None:
            self.wait = 0

    def on_epoch_end(self, trainer, logs):
        value = self.current(logs)
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            if self.restore_best:
                self.best_weights = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            raise StopTraining(f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                               f"(best {self.best:.6g} at epoch {self.best_epoch})")

    def on_train_end(self, trainer, logs):
        if self.restore_best and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)
            logs["restored_epoch"] = self.best_epoch

    def state_dict(self):
        arrays = {} if self.best_weights is None else {k: np.asarray(v) for k, v in self.best_weights.items()}
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch, "arrays": arrays}

    def load_state_dict(self, state):
        self.best, self.wait, self.best_epoch = state.get("best"), state.get("wait", 0), state.get("best_epoch")
        arrays = state.get("arrays") or {}
        self.best_weights = dict(arrays) if arrays else None


class ModelCheckpoint(MonitorCallback):
    """Save the full training state to ``directory``: numbered files named after the epoch and
    the monitored score (``epoch012-val_accuracy0.9731.npz``), plus ``best.npz`` (best score so
    far; ``save_best=False`` leaves it out) and ``last.npz``. ``save_best_only`` keeps numbered
    files only for improvements; ``every_n_epochs`` thins them out; ``keep_best=k`` keeps only the
    k best numbered files by the monitored value (the others are deleted as better ones come).
    ``best_epoch`` is the epoch of the best value so far."""

    def __init__(self, directory, monitor="val_loss", save_best_only=False, every_n_epochs=1, mode="auto",
                 save_last=True, keep_best=None, save_best=True):
        super().__init__(monitor, mode, 0.0)
        check_int(every_n_epochs, "every_n_epochs", "ModelCheckpoint", lo=1)
        check_int(keep_best, "keep_best", "ModelCheckpoint", lo=1, also=(None,))
        self.directory, self.save_best_only = os.fspath(directory), save_best_only
        self.every_n_epochs, self.save_last = every_n_epochs, save_last
        self.keep_best, self.save_best = keep_best, save_best
        self.saved: list[str] = []
        self.scores: list[float] = []
        self.best_path = None
        self.best_epoch = None

    def on_epoch_end(self, trainer, logs):
        epoch = logs["epoch"]
        value = self.current(logs)
        improved = self.improved(value)
        if improved:
            self.best, self.best_epoch = value, epoch
        name = f"epoch{epoch:03d}-{self.monitor}{value:.4f}.npz"
        if epoch % self.every_n_epochs == 0 and (improved or not self.save_best_only):
            path = os.path.join(self.directory, name)
            trainer.save_checkpoint(path)
            self.saved.append(path)
            self.scores.append(value)
            self._prune(remove=trainer.is_main)
        if improved and self.save_best:
            self.best_path = os.path.join(self.directory, "best.npz")
            trainer.save_checkpoint(self.best_path)
        if self.save_last:
            trainer.save_checkpoint(os.path.join(self.directory, "last.npz"))

    def _prune(self, remove=True):
        """Delete the numbered files beyond the ``keep_best`` best (ties: the earlier stays); the
        other ranks of a data-parallel fit (``remove=False``) only keep the books."""
        if self.keep_best is None or len(self.saved) <= self.keep_best:
            return
        sign = -1.0 if self.mode == "max" else 1.0
        rank = sorted(range(len(self.saved)),
                      key=lambda i: (math.isnan(self.scores[i]), sign * self.scores[i] if not math.isnan(self.scores[i])
                                     else 0.0, i))
        keep = set(rank[:self.keep_best])
        for i in range(len(self.saved)):
            if i not in keep and remove:
                try:
                    os.remove(self.saved[i])
                except FileNotFoundError:
                    pass
        self.saved = [p for i, p in enumerate(self.saved) if i in keep]
        self.scores = [v for i, v in enumerate(self.scores) if i in keep]

    def state_dict(self):
        return {"best": self.best, "saved": list(self.saved), "scores": list(self.scores),
                "best_path": self.best_path, "best_epoch": self.best_epoch}

    def load_state_dict(self, state):
        self.best, self.saved, self.best_path = state.get("best"), list(state.get("saved", [])), state.get("best_path")
        self.scores = list(state.get("scores", [float("nan")] * len(self.saved)))
        self.best_epoch = state.get("best_epoch")


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement;
    acts as a multiplier on top of any schedule (they compose)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=5, min_delta=1e-4, cooldown=0, min_lr_scale=0.0,
                 mode="auto"):
        super().__init__(monitor, mode, min_delta)
        self.plateau = Plateau(factor=factor, patience=patience, mode=self.mode, min_delta=min_delta,
                               cooldown=cooldown, min_scale=min_lr_scale)

    def on_train_begin(self, trainer, logs):
        trainer.scheduler.plateau = self.plateau
        trainer.scheduler.step(trainer.scheduler.t)  # re-apply (a resumed plateau scale included)

    def on_epoch_end(self, trainer, logs):
        before = self.plateau.scale
        trainer.scheduler.observe(self.current(logs))
        logs["lr"] = trainer.optimizer.lr
        if self.plateau.scale < before:
            trainer.log(f"ReduceLROnPlateau: {self.monitor} stalled, learning rate now {trainer.optimizer.lr:.3g}")

    def state_dict(self):
        return self.plateau.state_dict()

    def load_state_dict(self, state):
        if state:
            self.plateau.load_state_dict(state)


class TerminateOnNaN(Callback):
    """Stop when the loss (or a gradient) becomes NaN/inf, name the first module whose output
    or gradient went non-finite, and advise dividing the learning rate by 10."""

    def __init__(self, check_gradients=True):
        self.check_gradients = check_gradients
        self.report = None

    def _stop(self, trainer, logs, what):
        where = trainer.locate_nonfinite(logs.get("batch_x"), logs.get("batch_y"))
        lr = trainer.optimizer.lr
        self.report = (f"training stopped at epoch {logs.get('epoch')}, iteration {logs.get('iteration')}: {what}. "
                       f"{where}. Advice: divide the learning rate by 10 (from {lr:.3g} to {lr / 10:.3g}); if it "
                       f"persists, check the inputs are scaled and try gradient clipping.")
        raise StopTraining(self.report)

    def after_backward(self, trainer, logs):
        """Runs before the optimizer step, so non-finite gradients never reach the weights."""
        self.on_batch_end(trainer, logs)
        if self.check_gradients:
            for name, p in trainer.model.named_parameters():
                if not all_finite(p.grad):
                    self._stop(trainer, logs, f"the gradient of {name} became non-finite")

    def on_batch_end(self, trainer, logs):
        """Also reached when a layer refused a NaN input (no backward ran then)."""
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self._stop(trainer, logs, f"the loss became {loss}")


class PolyakAveraging(Callback):
    """Keep an exponential running average of the parameters (``avg = decay * avg + (1 - decay)
    * w`` after every step) and use it for validation and, at the end, in the model."""

    def __init__(self, decay=0.999, apply_at_end=True):
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"PolyakAveraging: decay must lie in (0, 1), got {decay!r}")
        self.decay, self.apply_at_end = float(decay), apply_at_end
        self.average, self._backup = None, None

    def _params(self, trainer):
        return list(trainer.model.named_parameters())

    def on_train_begin(self, trainer, logs):
        if self.average is None:
            self.average = {n: p.data.copy() for n, p in self._params(trainer)}

    def after_step(self, trainer, logs):
        d = self.decay
        for n, p in self._params(trainer):
            a = self.average[n]
            a *= d
            a += (1 - d) * p.data

    def _swap_in(self, trainer):
        self._backup = {n: p.data.copy() for n, p in self._params(trainer)}
        for n, p in self._params(trainer):
            p.data[...] = self.average[n]

    def _swap_out(self, trainer):
        if self._backup is not None:
            for n, p in self._params(trainer):
                p.data[...] = self._backup[n]
            self._backup = None

    def on_validation_begin(self, trainer, logs):
        self._swap_in(trainer)

    def on_validation_end(self, trainer, logs):
        self._swap_out(trainer)

    def on_train_end(self, trainer, logs):
        self._swap_out(trainer)
        if self.apply_at_end and self.average is not None:
            for n, p in self._params(trainer):
                p.data[...] = self.average[n]

    def state_dict(self):
        return {"arrays": {} if self.average is None else {k: np.asarray(v) for k, v in self.average.items()}}

    def load_state_dict(self, state):
        arrays = state.get("arrays") or {}
        self.average = {k: np.array(v) for k, v in arrays.items()} if arrays else None


class GradientClipping(Callback):
    """Clip gradients by their global norm after every backward pass; logs ``grad_norm``."""

    def __init__(self, max_norm=5.0):
        self.max_norm = check_number(max_norm, "max_norm", "GradientClipping", lo=0.0, lo_open=True)

    def after_backward(self, trainer, logs):
        logs["grad_norm"] = clip_grad_norm(trainer.model, self.max_norm)


class ProgressBar(Callback):
    """Progress output. verbose=0: silent. verbose=1: on a terminal a tqdm bar per epoch and a
    summary line per epoch; elsewhere (logs, CI) only the summary lines. verbose=2: also, when
    not on a terminal, a line with the running loss every tenth of an epoch. In a Jupyter
    notebook (verbose >= 1, no ``stream``): one output updated in place through a display handle,
    a progress bar, the last epoch's line and the curves so far (glassnet.report.notebook)."""

    def __init__(self, verbose=1, stream=None):
        self.verbose = int(verbose)
        self.stream = stream
        self._bar = None
        self._t0 = None
        self._notebook = None  # in Jupyter: one output updated in place (glassnet.report.notebook)

    def on_train_begin(self, trainer, logs):
        from ...report.notebook import NotebookProgress, in_notebook

        self._notebook = NotebookProgress() if self.verbose >= 1 and self.stream is None and in_notebook() else None

    def _out(self):
        return self.stream or sys.stdout

    def _tty(self):
        out = self._out()
        return hasattr(out, "isatty") and out.isatty()

    def on_epoch_begin(self, trainer, logs):
        self._t0 = time.perf_counter()
        if self._notebook is not None:
            return
        if self.verbose >= 1 and self._tty():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=logs["batches_per_epoch"], desc=f"epoch {logs['epoch']}/{logs['epochs']}",
                             leave=False, file=self._out(), dynamic_ncols=True)

    def on_batch_end(self, trainer, logs):
        if self._notebook is not None:
            self._notebook.update(trainer, logs)
        elif self._bar is not None:
            self._bar.update(1)
            if logs["batch"] % 10 == 0:
                self._bar.set_postfix(loss=f"{logs['loss']:.4f}")
        elif self.verbose >= 2:
            n = logs["batches_per_epoch"]
            step = max(n // 10, 1)
            if (logs["batch"] + 1) % step == 0 or logs["batch"] + 1 == n:
                print(f"  epoch {logs['epoch']} batch {logs['batch'] + 1}/{n}  loss {logs['loss']:.4f}",
                      file=self._out(), flush=True)

    def on_epoch_end(self, trainer, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._notebook is not None:
            self._notebook.update(trainer, logs, force=True)
        elif self.verbose >= 1:
            print(trainer.history.epoch_line(logs.get("epochs")), file=self._out(), flush=True)

    def on_train_end(self, trainer, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._notebook is not None:
            self._notebook.update(trainer, logs, running=False, force=True)
            self._notebook = None
