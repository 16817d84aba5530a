"""Training history: per-iteration and per-epoch records, JSON round trip."""
from __future__ import annotations

import math


class History:
    """``iterations``: loss (data + penalty), data_loss, penalty, lr per iteration.
    ``epochs``: one dict per epoch (epoch, loss, data_loss, metrics on the training sample,
    val_loss, val_* metrics, lr, time). ``train_metrics_on`` says how training metrics were
    measured; ``stop_reason`` why training ended."""

    def __init__(self):
        self.iterations = {"loss": [], "data_loss": [], "penalty": [], "lr": []}
        self.epochs: list[dict] = []
        self.train_metrics_on = ""
        self.stop_reason = None

    def record_iteration(self, loss, data_loss, penalty, lr):
        it = self.iterations
        it["loss"].append(float(loss))
        it["data_loss"].append(float(data_loss))
        it["penalty"].append(float(penalty))
        it["lr"].append(float(lr))

    def record_epoch(self, row: dict):
        self.epochs.append(dict(row))

    def __getitem__(self, key):
        """``history["val_loss"]`` -> list over epochs (per-iteration data: ``history.iterations``)."""
        return [e.get(key) for e in self.epochs]

    def __len__(self):
        return len(self.epochs)

    def best(self, key, mode="min"):
        vals = [(v, i) for i, v in enumerate(self[key]) if v is not None and not math.isnan(v)]
        if not vals:
            return None, None
        v, i = (min if mode == "min" else max)(vals)
        return v, self.epochs[i]["epoch"]

    def epoch_line(self, total=None) -> str:
        e = self.epochs[-1]
        parts = [f"epoch {e['epoch']:>3}/{total or '?'}", f"loss {e['loss']:.4f}"]
        if abs(e.get("data_loss", e["loss"]) - e["loss"]) > 1e-12:  # a penalty is on: show both parts
            parts[-1] += f" (data {e['data_loss']:.4f} + penalty {e['loss'] - e['data_loss']:.4f})"
        for k, v in e.items():
            if k in ("epoch", "epochs", "loss", "data_loss", "lr", "time", "iteration") or not isinstance(v, float):
                continue
            parts.append(f"{k} {v:.4f}")
        parts.append(f"lr {e['lr']:.3g}")
        parts.append(f"{e['time']:.1f}s")
        return "  ".join(parts)

    def __repr__(self):
        n_it = len(self.iterations.get("loss", []))
        last = ""
        if self.epochs:
            e = self.epochs[-1]
            last = "; last epoch: " + ", ".join(f"{k} {v:.4g}" for k, v in e.items()
                                                 if isinstance(v, float) and k not in ("time", "lr"))
        return f"History({len(self.epochs)} epochs, {n_it} iterations{last})"

    def _repr_html_(self):
        from ..report.notebook import history_html
        return history_html(self)

    def to_dict(self) -> dict:
        return {"iterations": self.iterations, "epochs": self.epochs, "train_metrics_on": self.train_metrics_on,
                "stop_reason": self.stop_reason}

    @classmethod
    def from_dict(cls, d) -> "History":
        h = cls()
        h.iterations = {k: list(v) for k, v in d["iterations"].items()}
        h.epochs = [dict(e) for e in d["epochs"]]
        h.train_metrics_on = d.get("train_metrics_on", "")
        h.stop_reason = d.get("stop_reason")
        return h
