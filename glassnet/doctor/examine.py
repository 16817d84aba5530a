"""``examine(trainer or run folder)``: the doctor's findings, most severe first."""
from __future__ import annotations

import json
import os

from ..errors import DataError, DataNotFoundError
from ..findings import Finding
from .monitors import Monitor
from .rules import RunView, run_rules

__all__ = ["examine", "run_view", "format_findings"]

_LOSS_KINDS = {"SoftmaxCrossEntropy": "softmax", "MulticlassHinge": "hinge", "BinaryCrossEntropy": "binary",
               "MSE": "mse", "KLDivergence": "kl"}


def _n_outputs(model):
    last = None
    for m in model.modules():
        for attr in ("out_features", "out_channels", "hidden_size"):
            if hasattr(m, attr) and not m._modules:
                last = getattr(m, attr)
    return last


def run_view(source, baseline_error=0.0, n_classes=None, data=None) -> RunView:
    """A RunView from a Trainer (live) or a run folder written by ``glassnet train``/``demo``."""
    data_findings = []
    if data is not None:
        from ..data.checks import check_data
        X, y = data
        data_findings = [f for f in check_data(X, y, n_classes).findings if f.severity != "info"]
    if isinstance(source, (str, os.PathLike)):
        return _from_folder(os.fspath(source), baseline_error, n_classes, data_findings)
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
                   data_findings=data_findings, records=mon.records if mon is not None else (),
                   iter_lr=h.iterations.get("lr"))


def _read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataNotFoundError(f"doctor: {what} not found at {path}; is this a run folder written by "
                                f"'glassnet train' or 'glassnet demo'?") from None
    except json.JSONDecodeError as err:
        raise DataError(f"doctor: {path} is not valid JSON ({err}); the file may be damaged") from None


def _from_folder(folder, baseline_error, n_classes, data_findings):
    hist = _read_json(os.path.join(folder, "history.json"), "history.json")
    monitor, records = {}, []
    mpath = os.path.join(folder, "monitor.json")
    if os.path.exists(mpath):
        saved = _read_json(mpath, "monitor.json")
        monitor, records = saved.get("summary", {}), saved.get("records", [])
    cfg = {}
    cpath = os.path.join(folder, "config.json")
    if os.path.exists(cpath):
        cfg = _read_json(cpath, "config.json")
    kind = _LOSS_KINDS.get(cfg.get("loss", {}).get("type"))
    if n_classes is None and kind in ("softmax", "hinge"):
        layers = cfg.get("model", {}).get("layers", [])
        outs = [lay.get("out_features") for lay in layers if lay.get("out_features")]
        n_classes = outs[-1] if outs else None
    t = cfg.get("trainer", {})
    it = hist.get("iterations", {})
    return RunView(it.get("loss", []), it.get("data_loss"), hist.get("epochs", []), monitor=monitor,
                   n_classes=n_classes, loss_kind=kind, batch_size=t.get("batch_size"),
                   stop_reason=hist.get("stop_reason") or "", epochs_requested=t.get("epochs"),
                   baseline_error=baseline_error, data_findings=data_findings, records=records,
                   iter_lr=it.get("lr"))


def examine(source, baseline_error=0.0, n_classes=None, data=None) -> list[Finding]:
    """Findings about a training run, most severe first (root causes before symptoms).

    ``source`` is a Trainer after ``fit`` (add a ``glassnet.doctor.Monitor`` callback for the
    rules that look inside the network) or a run folder. ``baseline_error`` is the error a
    good model should reach (human error, default 0); ``data=(X, y)`` adds data checks.
    """
    return run_rules(run_view(source, baseline_error, n_classes, data))


def format_findings(findings) -> str:
    if not findings:
        return "The doctor found nothing to report: the run looks healthy."
    return "\n\n".join(str(f) for f in findings)
