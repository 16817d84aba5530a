"""A run page that follows training: ``LiveReport`` rewrites it every few seconds."""
from __future__ import annotations

import math
import os
import time

from .._checks import check_number
from ..errors import ConfigError
from ..train.callbacks.base import Callback

__all__ = ["LiveReport"]


class LiveReport(Callback):
    """Rewrite the run page at ``path`` while training runs, at most every ``every`` seconds (at the
    end of a batch or an epoch; also when training starts), atomically (a temporary file, then a
    rename: a reader never sees half a page). The page reloads itself at that interval, keeps the
    reader's scroll position, and shows the curves and the doctor's findings so far; the figures
    (histograms, weights, confusion matrix) come when training ends. With ``final=True`` the page
    written when training ends is a finished report that no longer reloads (``glassnet train
    --live`` leaves that to the run's full report). In a data-parallel run only rank 0 writes.

        trainer = gn.Trainer(net, loss, opt, callbacks=[gn.doctor.Monitor(), gn.report.LiveReport("run.html")])
    """

    def __init__(self, path, every=5.0, final=True, title=None, config=None):
        self.path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ConfigError(f"LiveReport: the folder of {self.path} does not exist")
        self.every = check_number(every, "every", "LiveReport", lo=0.0)
        self.final, self.title, self.config = bool(final), title, config
        self.writes = 0
        self._last = -math.inf

    def _write(self, trainer, live):
        from .html import write_report

        write_report(trainer, self.path, title=self.title, config=self.config, live=live)
        self.writes += 1
        self._last = time.monotonic()

    def _maybe(self, trainer):
        if trainer.is_main and time.monotonic() - self._last >= self.every:
            self._write(trainer, max(self.every, 1.0))

    def on_train_begin(self, trainer, logs):
        self._maybe(trainer)

    def on_batch_end(self, trainer, logs):
        self._maybe(trainer)

    def on_epoch_end(self, trainer, logs):
        self._maybe(trainer)

    def on_train_end(self, trainer, logs):
        if self.final and trainer.is_main:
            self._write(trainer, None)
