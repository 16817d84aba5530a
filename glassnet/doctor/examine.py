"""``examine(trainer or run folder)``: the doctor's findings, most severe first."""
from __future__ import annotations

import os

from ..train.runfolder import read_run_file
from .monitors import Monitor
from .rules import RunView, checked, run_rules

__all__ = ["examine", "run_view", "format_findings", "Findings"]

_LOSS_KINDS = {"SoftmaxCrossEntropy": "softmax", "MulticlassHinge": "hinge", "BCEWithLogits": "binary",
               "MSE": "mse", "KLDivergence": "kl"}


class Findings(list):
    """The findings (most severe first) and what the doctor checked: ``healthy`` is True when no
    finding is a warning or an error."""

    def __init__(self, findings=(), checked=()):
        super().__init__(findings)
        self.checked = list(checked)

    @property
    def healthy(self) -> bool:
        return not any(f.severity in ("warning", "error") for f in self)

    def __repr__(self):
        return format_findings(self)

    def _repr_html_(self):
        from ..report.notebook import findings_html
        return findings_html(self)


def _n_outputs(model):
    last = None
    for m in model.modules():
        for attr in ("out_features", "out_channels", "hidden_size"):
            if hasattr(m, attr) and not m._modules:
                last = getattr(m, attr)
    return last


def _data_findings(data, val, n_classes):
    """The data checks' warnings and errors on the training data, and examples shared with the
    validation data."""
    out = []
    if data is not None:
        from ..data.checks import check_data, leakage_finding
        X, y = data
        out = [f for f in check_data(X, y, n_classes).findings if f.severity != "info"]
        leak = leakage_finding(X, val[0], min_share=0.01) if val is not None else None  # 1 % or more
        if leak is not None:
            out.append(leak)
    return out


def _kept_epoch(trainer):
    """The epoch whose weights the trainer's model holds after fit: early stopping's restored one."""
    from ..train.callbacks import EarlyStopping

    for cb in trainer.callbacks:
        if isinstance(cb, EarlyStopping) and cb.restore_best and cb.best_epoch is not None:
            return cb.best_epoch
    return None


def run_view(source, baseline_error=None, n_classes=None, data=None, val=None, kept_epoch=None) -> RunView:
    """A RunView from a Trainer (live) or a run folder written by ``glassnet train``/``demo``."""
    if isinstance(source, (str, os.PathLike)):
        return _from_folder(os.fspath(source), baseline_error, n_classes, _data_findings(data, val, n_classes))
    trainer = source
    h = trainer.history
    mon = next((c for c in trainer.callbacks if isinstance(c, Monitor)), None)
    kind = _LOSS_KINDS.get(type(trainer.loss).__name__)
    if n_classes is None and kind in ("softmax", "hinge"):
        n_classes = _n_outputs(trainer.model)
    return RunView(h.iterations["loss"], h.iterations["data_loss"], h.epochs,
                   monitor=mon.summary() if mon is not None else {}, n_classes=n_classes, loss_kind=kind,
                   batch_size=trainer.batch_size, n_train=trainer.n_train, stop_reason=h.stop_reason or "",
                   epochs_requested=trainer.epochs_requested, baseline_error=baseline_error,
                   data_findings=_data_findings(data, val, n_classes), records=mon.records if mon is not None else (),
                   iter_lr=h.iterations.get("lr"),
                   kept_epoch=kept_epoch if kept_epoch is not None else _kept_epoch(trainer))


def _from_folder(folder, baseline_error, n_classes, data_findings):
    hist = read_run_file(folder, "history.json")
    saved = read_run_file(folder, "monitor.json", required=False) or {}
    monitor, records = saved.get("summary", {}), saved.get("records", [])
    cfg = read_run_file(folder, "config.json", required=False) or {}
    kept = ((read_run_file(folder, "metrics.json", required=False) or {}).get("selected") or {}).get("epoch")
    kind = _LOSS_KINDS.get(cfg.get("loss", {}).get("type"))
    if n_classes is None and kind in ("softmax", "hinge"):
        layers = cfg.get("model", {}).get("layers", [])
        outs = [lay.get("out_features") for lay in layers if isinstance(lay, dict) and lay.get("out_features")]
        n_classes = outs[-1] if outs else cfg.get("model", {}).get("num_classes")
    t = cfg.get("trainer", {})
    it = hist.get("iterations", {})
    return RunView(it.get("loss", []), it.get("data_loss"), hist.get("epochs", []), monitor=monitor,
                   n_classes=n_classes, loss_kind=kind, batch_size=t.get("batch_size"),
                   stop_reason=hist.get("stop_reason") or "", epochs_requested=t.get("epochs"),
                   baseline_error=baseline_error, data_findings=data_findings, records=records,
                   iter_lr=it.get("lr"), kept_epoch=kept)


def examine(source, baseline_error=None, n_classes=None, data=None, val=None, kept_epoch=None) -> Findings:
    """Findings about a training run, most severe first (root causes before symptoms).

    ``source`` is a Trainer after ``fit`` (add a ``glassnet.doctor.Monitor`` callback for the
    rules that look inside the network) or a run folder. ``baseline_error`` is the error a good
    model can reach on the task (human or Bayes error): with it the doctor judges bias by the
    notes' recipe; without it, it does not call a training error high. ``data=(X, y)`` adds the
    data checks, ``val=(X_val, y_val)`` with it the check for examples in both. The fit rules
    read the epoch whose weights were kept (early stopping's, a run folder's selected one) unless
    ``kept_epoch`` says otherwise. The result's ``checked`` says what the rules looked at.
    """
    run = run_view(source, baseline_error, n_classes, data, val, kept_epoch)
    return Findings(run_rules(run), checked(run, with_data=data is not None))


def format_findings(findings) -> str:
    """The findings as text; a run without warnings or errors is called healthy, with what was checked."""
    serious = [f for f in findings if f.severity in ("warning", "error")]
    if serious:
        return "\n\n".join(str(f) for f in findings)
    lines = ["The run looks healthy: the doctor found nothing that costs accuracy or time."]
    done = getattr(findings, "checked", None)
    if done:
        lines.append("Checked:")
        lines += [f"  - {c}" for c in done]
    if findings:
        lines += ["", "Worth knowing:", "", "\n\n".join(str(f) for f in findings)]
    return "\n".join(lines)
