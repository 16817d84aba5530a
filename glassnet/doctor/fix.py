"""Try the doctor's remedy: re-run a short training from a run folder's config with the first
finding's remedy applied, in a new folder, and compare the curves and metrics before and after.

    result = gn.doctor.try_fix("runs/exp1", epochs=10)
    print(result.table())

The original run is read, never written: the new run goes to ``<run>-try-<remedy>`` (a fresh
name when that exists). "Before" is the original run's own history over the same epochs (the
same seed gives the same run, so re-training it would repeat it).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

from ..errors import ConfigError, RunFolderError

__all__ = ["REMEDIES", "apply_remedy", "try_fix", "FixResult"]

_WEIGHTED = ("Linear", "Conv1d", "Conv2d", "Maxout")
_SQUASHING = ("Sigmoid", "Tanh")


def _layers(cfg):
    return cfg["model"].get("layers", [])  # an `arch` model has no layer list a remedy could edit


def _lr(factor):
    def apply(cfg):
        opt = cfg["optimizer"]
        lr = opt.get("lr", {"SGD": 0.01, "Adam": 1e-3, "RMSprop": 0.01, "Adagrad": 0.01}.get(opt.get("type"), 1e-3))
        opt["lr"] = float(lr) * factor
        return f"learning rate {lr:g} -> {opt['lr']:g}"
    return apply


def _init(name):
    def apply(cfg):
        changed = [i for i, lay in enumerate(_layers(cfg)) if lay.get("type") in _WEIGHTED]
        if not changed:
            raise ConfigError("the model has no Linear or convolution layer to initialize")
        for i in changed:
            _layers(cfg)[i]["init"] = name
        return f"init = {name!r} for layers {changed}"
    return apply


def _relu_he(cfg):
    swapped = [i for i, lay in enumerate(_layers(cfg)) if lay.get("type") in _SQUASHING]
    if not swapped:
        return _init("he")(cfg)
    for i in swapped:
        _layers(cfg)[i] = {"type": "ReLU"}
    _init("he")(cfg)
    return f"ReLU instead of sigmoid/tanh at layers {swapped}, init = 'he'"


def _clip(cfg):
    t = cfg.setdefault("trainer", {})
    before = t.get("gradient_clipping")
    t["gradient_clipping"] = 5.0 if before is None else before / 2
    return f"gradient clipping at global norm {t['gradient_clipping']:g}" + (f" (was {before:g})" if before else "")


def _standardize(cfg):
    prep = cfg["data"].setdefault("preprocessing", [])
    if any(p.get("type") in ("Standardize", "MinMaxScale", "Whiten", "RunningStandardize") for p in prep):
        raise ConfigError("the inputs are scaled already (data.preprocessing); look at how the data is made")
    prep.insert(0, {"type": "Standardize"})
    return "data.preprocessing starts with Standardize (fitted on the training split)"


def _more_regularization(cfg):
    pen = cfg.get("penalty")
    if not pen:
        cfg["penalty"] = {"type": "L2", "lam": 1e-3}
        return "an L2 penalty of 1e-3"
    if pen.get("type") == "L2":
        pen["lam"] = float(pen["lam"]) * 10
        return f"L2 penalty x10 (now {pen['lam']:g})"
    raise ConfigError(f"the run's penalty is {pen.get('type')}; change its strength by hand")


def _less_regularization(cfg):
    pen = cfg.get("penalty")
    if pen and pen.get("type") == "L2":
        pen["lam"] = float(pen["lam"]) / 10
        return f"L2 penalty /10 (now {pen['lam']:g})"
    return _widen(cfg)


def _widen(cfg):
    """A bigger network (the notes' first remedy for bias): every hidden Linear twice as wide."""
    layers = _layers(cfg)
    linear = [i for i, lay in enumerate(layers) if lay.get("type") == "Linear"]
    if len(linear) < 2 or any(lay.get("type") not in ("Linear", "BatchNorm1d", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
                                                      "Dropout", "Flatten") for lay in layers):
        raise ConfigError("widening applies to MLPs (Linear layers with activations, batch norm and dropout)")
    for i in linear[:-1]:
        layers[i]["out_features"] *= 2
    for i in linear[1:]:
        layers[i]["in_features"] *= 2
    for lay in layers:
        if lay.get("type") == "BatchNorm1d":
            lay["num_features"] *= 2
    return "every hidden layer twice as wide"


#: a finding's ``data["fix"]`` -> (what it does, how it changes a config)
REMEDIES = {
    "lr_down": ("divide the learning rate by 10", _lr(0.1)),
    "lr_up": ("multiply the learning rate by 10", _lr(10.0)),
    "he_init": ("He initialization", _init("he")),
    "xavier_init": ("Xavier/Glorot initialization (smaller weights for tanh/sigmoid)", _init("xavier")),
    "relu_he": ("ReLU units with He initialization", _relu_he),
    "clip": ("gradient clipping", _clip),
    "standardize": ("standardized inputs", _standardize),
    "more_regularization": ("more regularization", _more_regularization),
    "less_regularization": ("less regularization or a bigger network", _less_regularization),
}


def apply_remedy(cfg, fix):
    """(a changed copy of the config, a sentence saying what changed)."""
    if fix not in REMEDIES:
        raise ConfigError(f"no remedy named {fix!r}; known: {', '.join(sorted(REMEDIES))}")
    new = copy.deepcopy(cfg)
    return new, REMEDIES[fix][1](new)


@dataclass
class FixResult:
    """What ``try_fix`` did: the finding, the change, the new folder, and the per-epoch rows and
    final metrics of the run before (the original) and after (with the remedy)."""
    finding: object
    change: str
    folder: str
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    before_metrics: dict = field(default_factory=dict)
    after_metrics: dict = field(default_factory=dict)

    def verdict(self) -> str:
        """One sentence: did the remedy help over the epochs both runs have?"""
        n = min(len(self.before), len(self.after))
        if not n:
            return "no epochs to compare"
        b, a = self.before[n - 1], self.after[n - 1]
        for key, higher in (("val_accuracy", True), ("val_loss", False), ("accuracy", True), ("loss", False)):
            if key in a and key in b and a[key] is not None and b[key] is not None:
                better = a[key] > b[key] if higher else a[key] < b[key]
                return (f"after {n} epochs the remedied run's {key} is {a[key]:.4f} against {b[key]:.4f} without the "
                        f"remedy: {'it helped' if better else 'it did not help here'}")
        return "no metric to compare"

    def table(self) -> str:
        rows = self.before + self.after
        keys = [k for k in ("loss", "val_loss", "val_accuracy") if any(k in r for r in rows)]
        if not any("val_accuracy" in r for r in rows) and any("accuracy" in r for r in rows):
            keys.append("accuracy")
        head = f"{'epoch':>5}  " + "  ".join(f"{'before ' + k:>18} {'after ' + k:>18}" for k in keys)
        lines = [head, "-" * len(head)]
        for i in range(max(len(self.before), len(self.after))):
            b = self.before[i] if i < len(self.before) else {}
            a = self.after[i] if i < len(self.after) else {}
            cells = []
            for k in keys:
                cells.append(f"{_fmt(b.get(k)):>18} {_fmt(a.get(k)):>18}")
            lines.append(f"{i + 1:>5}  " + "  ".join(cells))
        return "\n".join(lines)


def _fmt(v):
    return "" if v is None else f"{v:.4f}"


def try_fix(run_dir, epochs=None, baseline_error=None, out=None, verbose=0) -> FixResult:
    """Re-run a short training (``epochs``, default the original's, at most 20) from ``run_dir``'s
    config with the first finding's remedy applied, into a new folder; returns a FixResult.
    Raises RunFolderError when the run has no finding with a remedy to try."""
    from ..train.run import run
    from ..train.runfolder import fresh_folder, read_run_file
    from .examine import examine

    run_dir = os.fspath(run_dir)
    findings = examine(run_dir, baseline_error=baseline_error)
    serious = [f for f in findings if f.severity in ("error", "warning")]
    if not serious:
        raise RunFolderError(f"{run_dir}: the doctor found nothing material in this run, so there is no remedy to "
                             f"try")
    first = serious[0]
    fix = first.data.get("fix")
    if fix is None:
        raise RunFolderError(f"{run_dir}: the first finding ({first.code}: {first.what}) has no remedy the doctor can "
                             f"apply by itself; its advice: {first.remedy}")
    cfg = read_run_file(run_dir, "config.json")
    try:
        new, change = apply_remedy(cfg, fix)
    except ConfigError as err:
        raise ConfigError(f"{run_dir}: the remedy for {first.code} ({REMEDIES[fix][0]}) does not apply: {err}") from None
    before = read_run_file(run_dir, "history.json").get("epochs", [])
    n = epochs or min(int(cfg.get("trainer", {}).get("epochs", 10)), 20)
    new.setdefault("trainer", {})["epochs"] = n
    new["trainer"]["verbose"] = verbose
    parent, base = os.path.split(os.path.abspath(run_dir))
    folder = out or fresh_folder(parent, f"{base}-try-{fix}")
    metrics = run(new, folder, verbose=verbose)
    after = metrics["trainer"].history.epochs
    keep = lambda m: {k: m[k] for k in ("train", "val", "test") if k in m}  # noqa: E731
    original = read_run_file(run_dir, "metrics.json", required=False) or {}
    result = FixResult(first, change, folder, before[:n], after, keep(original), keep(metrics))
    from ..train.run import _json_dump
    _json_dump(os.path.join(folder, "tryfix.json"), {
        "original": os.path.abspath(run_dir), "finding": {"code": first.code, "what": first.what},
        "remedy": REMEDIES[fix][0], "change": change, "epochs": n, "before": result.before, "after": after,
        "before_metrics": result.before_metrics, "after_metrics": result.after_metrics})
    return result
