"""Config-driven runs: ``glassnet train CONFIG`` and ``glassnet demo``.

A config (TOML or YAML) names the data, the model (a list of layers), the loss, optimizer,
penalty, schedule and trainer settings, and a seed. Everything is checked, including that the
layers fit the data, before any training starts; errors name the field, e.g.
``optimizer.lr: expected a non-negative number, got 'fast'``.

The run folder receives: ``config.json`` (the checked config), ``history.json``,
``checkpoints/best.npz`` and ``checkpoints/last.npz`` (full training state, resumable),
``checkpoints/epochNNN-<monitor><score>.npz``, ``model.npz`` (the final model with its
preprocessing) and ``metrics.json`` (final train, validation and test metrics).
"""
from __future__ import annotations

import json
import os
import re
import time

import numpy as np

from .. import nn, optim
from ..errors import ShapeError
from ..optim.schedules import build_schedule
from ..serialization import atomic_write_text, save

__all__ = ["ConfigError", "load_config", "check_config", "run", "DEMO_CONFIG"]


class ConfigError(ValueError):
    """A config field is missing, unknown, of the wrong type or impossible."""


_SECTIONS = {
    "seed": int, "data": dict, "model": dict, "loss": dict, "optimizer": dict, "penalty": dict,
    "schedule": dict, "trainer": dict, "name": str, "search": dict,
}
_DATASETS = ("mnist1d", "digits", "fashion-mnist", "mnist", "spiral", "moons", "circles", "npz")
_DATA_FIELDS = {"dataset": str, "path": str, "root": str, "val_fraction": float, "test_fraction": float,
                "preprocessing": list, "limit_train": int, "flatten": bool, "split_seed": int}
_TRAINER_FIELDS = {"epochs": int, "batch_size": int, "shuffle": bool, "drop_last": bool, "early_stopping": dict,
                   "reduce_lr_on_plateau": dict, "gradient_clipping": float, "checkpoint_monitor": str,
                   "checkpoint_every": int, "save_best_only": bool, "verbose": int, "train_sample": int,
                   "terminate_on_nan": bool, "metrics": list, "monitor_every": int}
_OPTIMIZERS = {"SGD": optim.SGD, "Adam": optim.Adam, "RMSprop": optim.RMSprop, "Adagrad": optim.Adagrad}
_PENALTIES = {"L2": optim.L2, "L1": optim.L1, "ElasticNet": optim.ElasticNet}


def load_config(path) -> dict:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) config file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such config file")
    text = open(path, encoding="utf-8").read()
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise ConfigError("YAML configs need PyYAML: pip install 'glassnet[yaml]' (or use TOML)") from None
        try:
            cfg = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: invalid YAML: {err}") from None
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        try:
            cfg = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: invalid TOML: {err}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: the config must be a table of sections, got {type(cfg).__name__}")
    return cfg


def _type_ok(value, typ):
    if typ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typ)


def _fields(section, spec, path):
    for key, value in section.items():
        if key not in spec:
            raise ConfigError(f"{path}.{key}: unknown field; expected one of {sorted(spec)}")
        if not _type_ok(value, spec[key]):
            raise ConfigError(f"{path}.{key}: expected {spec[key].__name__}, got {type(value).__name__} {value!r}")


def _typed_object(section, registry, path):
    if "type" not in section:
        raise ConfigError(f"{path}.type: missing field (one of {sorted(registry)})")
    if section["type"] not in registry:
        raise ConfigError(f"{path}.type: unknown {path} {section['type']!r}; expected one of {sorted(registry)}")
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in section.items() if k != "type"}
    return registry[section["type"]], kw


def check_config(cfg) -> dict:
    """Check the structure and types of a config; returns it with defaults filled in."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: expected a table, got {type(cfg).__name__}")
    for key, value in cfg.items():
        if key not in _SECTIONS:
            raise ConfigError(f"{key}: unknown section; expected one of {sorted(_SECTIONS)}")
        if not _type_ok(value, _SECTIONS[key]):
            raise ConfigError(f"{key}: expected {_SECTIONS[key].__name__}, got {type(value).__name__}")
    for required in ("data", "model", "loss", "optimizer"):
        if required not in cfg:
            raise ConfigError(f"{required}: missing section")
    cfg = json.loads(json.dumps(cfg))  # a deep copy with plain types
    cfg.setdefault("seed", 0)
    data = cfg["data"]
    _fields(data, _DATA_FIELDS, "data")
    if data.get("dataset") not in _DATASETS:
        raise ConfigError(f"data.dataset: expected one of {list(_DATASETS)}, got {data.get('dataset')!r}")
    if data["dataset"] == "npz" and "path" not in data:
        raise ConfigError("data.path: missing field (an .npz with X_train, y_train and optionally X_val, y_val, "
                          "X_test, y_test)")
    for key in ("val_fraction", "test_fraction"):
        if key in data and not 0.0 <= data[key] < 1.0:
            raise ConfigError(f"data.{key}: expected a fraction in [0, 1), got {data[key]}")
    if "layers" not in cfg["model"] or not isinstance(cfg["model"]["layers"], list) or not cfg["model"]["layers"]:
        raise ConfigError("model.layers: expected a non-empty list of layers")
    extra = set(cfg["model"]) - {"layers"}
    if extra:
        raise ConfigError(f"model.{sorted(extra)[0]}: unknown field; expected 'layers'")
    trainer = cfg.setdefault("trainer", {})
    _fields(trainer, _TRAINER_FIELDS, "trainer")
    for key in ("epochs", "batch_size"):
        if key in trainer and trainer[key] < 1:
            raise ConfigError(f"trainer.{key}: expected a positive integer, got {trainer[key]}")
    return cfg


def _build_parts(cfg):
    """Model, loss, optimizer, penalty, schedule from a checked config (errors with paths)."""
    try:
        model = nn.build({"type": "Sequential", "layers": cfg["model"]["layers"]}, path="model")
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None
    if cfg.get("seed") is not None:
        model.reset_parameters(cfg["seed"])
    loss_cls_registry = {k: getattr(nn, k) for k in ("SoftmaxCrossEntropy", "MulticlassHinge", "BinaryCrossEntropy",
                                                      "MSE", "KLDivergence")}
    cls, kw = _typed_object(cfg["loss"], loss_cls_registry, "loss")
    try:
        loss = cls(**kw)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"loss: {err}") from None
    cls, kw = _typed_object(cfg["optimizer"], _OPTIMIZERS, "optimizer")
    try:
        optimizer = cls(model, **kw)
    except (TypeError, ValueError) as err:
        msg = str(err)
        field = next((k for k in kw if f"{k} " in msg or f"'{k}'" in msg), None)
        raise ConfigError(f"optimizer{'.' + field if field else ''}: {msg}") from None
    penalty = None
    if cfg.get("penalty"):
        cls, kw = _typed_object(cfg["penalty"], _PENALTIES, "penalty")
        try:
            penalty = cls(**kw)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"penalty: {err}") from None
    schedule, unit = None, "epoch"
    if cfg.get("schedule"):
        sc = dict(cfg["schedule"])
        unit = sc.pop("unit", "epoch")
        if unit not in ("epoch", "step"):
            raise ConfigError(f"schedule.unit: expected 'epoch' or 'step', got {unit!r}")
        try:
            schedule = build_schedule(sc, "schedule")
        except (TypeError, ValueError) as err:
            raise ConfigError(str(err)) from None
    return model, loss, optimizer, penalty, schedule, unit


def _load_data(cfg):
    """(train, val, test) as (X, y) pairs (val/test may be None) and a description."""
    from ..data import datasets as ds
    from ..data.splits import train_val_test_split

    d = cfg["data"]
    name, seed = d["dataset"], d.get("split_seed", cfg["seed"])  # searches fix the split, vary the seed
    vf, tf = d.get("val_fraction", 0.1), d.get("test_fraction", 0.1)
    test = val = None
    if name == "mnist1d":
        tr, te = ds.load_mnist1d()
        train, test, desc = (tr.X, tr.y), (te.X, te.y), tr.description
    elif name in ("fashion-mnist", "mnist"):
        loader = ds.load_fashion_mnist if name == "fashion-mnist" else ds.load_mnist
        tr, te = loader(root=d.get("root"))
        train, test, desc = (tr.X, tr.y), (te.X, te.y), tr.description
    elif name == "npz":
        try:
            with np.load(d["path"], allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            raise ConfigError(f"data.path: cannot read {d['path']!r}: {err}") from None
        for key in ("X_train", "y_train"):
            if key not in arrays:
                raise ConfigError(f"data.path: {d['path']} has no array {key!r} (found {sorted(arrays)})")
        train = (arrays["X_train"], arrays["y_train"])
        val = (arrays["X_val"], arrays["y_val"]) if "X_val" in arrays else None
        test = (arrays["X_test"], arrays["y_test"]) if "X_test" in arrays else None
        desc = f"arrays from {d['path']}"
    else:
        maker = {"digits": lambda: ds.load_digits(), "spiral": lambda: ds.make_spiral(seed=seed),
                 "moons": lambda: ds.make_moons(seed=seed), "circles": lambda: ds.make_circles(seed=seed)}[name]
        full = maker()
        parts = train_val_test_split(full.X, full.y, (1 - vf - tf, vf, tf), stratify=True, seed=seed)
        train, val, test = parts
        desc = full.description
    if val is None and vf > 0:
        stratify = np.asarray(train[1]).ndim == 1 and np.asarray(train[1]).dtype.kind in "iu"
        train, val = train_val_test_split(train[0], train[1], (1 - vf, vf), stratify=stratify, seed=seed)
    val = None if val is None or len(val[0]) == 0 else val
    test = None if test is None or len(test[0]) == 0 else test
    if d.get("limit_train"):
        train = (train[0][:d["limit_train"]], train[1][:d["limit_train"]])
    if d.get("flatten"):
        flat = lambda p: None if p is None else (p[0].reshape(len(p[0]), -1), p[1])  # noqa: E731
        train, val, test = flat(train), flat(val), flat(test)
    return train, val, test, desc


def _dry_run(model, loss, train):
    """Push two examples through model and loss so impossible shapes fail before training."""
    X, y = train
    model.eval()
    try:
        scores = model.forward(np.asarray(X[:2], dtype=model.dtype))
    except (ShapeError, TypeError, ValueError) as err:
        msg = str(err)
        first = msg.splitlines()[0]
        m = re.search(r"at Sequential\[(\d+)\]", msg)
        where = f"model.layers[{m.group(1)}]" if m else "model"
        raise ConfigError(f"{where}: {first} (the data has examples of shape {tuple(np.shape(X)[1:])})") from None
    finally:
        model.clear_cache()
        model.train()
    ya = np.asarray(y)
    if getattr(loss, "is_classifier", False) and ya.ndim == 1:
        n_out = scores.shape[1] if scores.ndim == 2 else None
        if ya.dtype.kind not in "iu":
            raise ConfigError(f"loss.type: {type(loss).__name__} needs integer class labels, the data has {ya.dtype}")
        if n_out is not None and int(ya.max()) >= n_out:
            raise ConfigError(f"model.layers[{len(model) - 1}]: the model outputs {n_out} scores but the data has "
                              f"labels up to {int(ya.max())} ({int(ya.max()) + 1} classes)")
    try:
        loss.forward(scores, ya[:2])
    except (ShapeError, TypeError, ValueError) as err:
        raise ConfigError(f"loss: {str(err).splitlines()[0]}") from None
    finally:
        loss.clear_cache()


def prepare(cfg):
    """Check a config and build everything it names; nothing is trained. Returns a dict."""
    from ..data.preprocessing import build_transformer
    from .callbacks import EarlyStopping, GradientClipping, ReduceLROnPlateau, TerminateOnNaN

    cfg = check_config(cfg)
    model, loss, optimizer, penalty, schedule, unit = _build_parts(cfg)
    train, val, test, desc = _load_data(cfg)
    prep = None
    if cfg["data"].get("preprocessing"):
        try:
            prep = build_transformer(cfg["data"]["preprocessing"], "data.preprocessing")
        except (TypeError, ValueError) as err:
            raise ConfigError(str(err)) from None
        prep.fit(train[0])  # the training split only
        train = (prep.transform(train[0]), train[1])
        val = None if val is None else (prep.transform(val[0]), val[1])
        test = None if test is None else (prep.transform(test[0]), test[1])
    _dry_run(model, loss, train)
    t = cfg["trainer"]
    callbacks = []
    if t.get("terminate_on_nan", True):
        callbacks.append(TerminateOnNaN())
    if t.get("gradient_clipping"):
        callbacks.append(GradientClipping(t["gradient_clipping"]))
    has_val = val is not None
    for key, cls in (("reduce_lr_on_plateau", ReduceLROnPlateau), ("early_stopping", EarlyStopping)):
        if t.get(key):
            kw = dict(t[key])
            kw.setdefault("monitor", "val_loss" if has_val else "loss")
            try:
                callbacks.append(cls(**kw))
            except (TypeError, ValueError) as err:
                raise ConfigError(f"trainer.{key}: {err}") from None
    monitor = t.get("checkpoint_monitor", "val_accuracy" if has_val and loss.is_classifier else
                    ("val_loss" if has_val else "loss"))
    metrics = tuple(t.get("metrics", ["accuracy"] if loss.is_classifier else ["mse"]))
    return {"config": cfg, "model": model, "loss": loss, "optimizer": optimizer, "penalty": penalty,
            "schedule": schedule, "unit": unit, "train": train, "val": val, "test": test, "description": desc,
            "preprocessing": prep, "callbacks": callbacks, "monitor": monitor, "metrics": metrics}


def _json_dump(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=float, allow_nan=True))


def run(cfg, out_dir, resume=False, verbose=None):
    """Train from a config into ``out_dir``; returns the metrics dict. With ``resume`` the
    run continues from ``out_dir/checkpoints/last.npz``."""
    from .callbacks import ModelCheckpoint
    from .trainer import Trainer

    out_dir = os.fspath(out_dir)
    parts = prepare(cfg)
    cfg = parts["config"]
    t = cfg["trainer"]
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    callbacks = parts["callbacks"] + [ModelCheckpoint(ckpt_dir, monitor=parts["monitor"],
                                                      save_best_only=t.get("save_best_only", True),
                                                      every_n_epochs=t.get("checkpoint_every", 1))]
    from ..doctor import Monitor
    monitor = Monitor(every=t.get("monitor_every", 50)) if t.get("monitor_every", 50) else None
    if monitor is not None:
        callbacks.append(monitor)
    verbose = t.get("verbose", 1) if verbose is None else verbose
    trainer = Trainer(parts["model"], parts["loss"], parts["optimizer"], penalty=parts["penalty"],
                      schedule=parts["schedule"], schedule_unit=parts["unit"], callbacks=callbacks,
                      metrics=parts["metrics"], train_sample=t.get("train_sample", 1000), verbose=verbose,
                      preprocessing=parts["preprocessing"])
    os.makedirs(out_dir, exist_ok=True)
    _json_dump(os.path.join(out_dir, "config.json"), cfg)
    resume_path = None
    if resume:
        resume_path = os.path.join(ckpt_dir, "last.npz")
        if not os.path.exists(resume_path):
            raise ConfigError(f"--resume: {resume_path} does not exist; nothing to resume in {out_dir}")
    t0 = time.perf_counter()
    history = trainer.fit(parts["train"], val=parts["val"], epochs=t.get("epochs", 10),
                          batch_size=t.get("batch_size", 64), seed=cfg["seed"], shuffle=t.get("shuffle", True),
                          drop_last=t.get("drop_last", False), resume=resume_path)
    elapsed = time.perf_counter() - t0
    _json_dump(os.path.join(out_dir, "history.json"), history.to_dict())
    metrics = {"train": trainer.evaluate(parts["train"]), "epochs_run": trainer.epoch,
               "stop_reason": history.stop_reason, "train_seconds": elapsed,
               "train_metrics_on": history.train_metrics_on, "data": parts["description"]}
    if parts["val"] is not None:
        metrics["val"] = trainer.evaluate(parts["val"])
    if parts["test"] is not None:
        metrics["test"] = trainer.evaluate(parts["test"])
    save(trainer.model, os.path.join(out_dir, "model.npz"), preprocessing=parts["preprocessing"],
         extra={"loss": parts["loss"].config()})
    metrics["input_shape"] = input_shape(cfg, parts["train"][0])
    _write_doctor_outputs(trainer, monitor, out_dir, parts, metrics)
    _json_dump(os.path.join(out_dir, "metrics.json"), metrics)
    metrics["trainer"] = trainer
    return metrics


_IMAGE_SHAPES = {"fashion-mnist": (1, 28, 28), "mnist": (1, 28, 28), "digits": (8, 8)}


def input_shape(cfg, X):
    """Per-example shape for drawing inputs: the data's own shape for images, the known image
    shape of a flattened image set, or None (1-D signals)."""
    shape = tuple(int(s) for s in X.shape[1:])
    if len(shape) >= 2:
        return list(shape)
    known = _IMAGE_SHAPES.get(cfg["data"].get("dataset"))
    return list(known) if known and int(np.prod(known)) == shape[0] else None


def _write_doctor_outputs(trainer, monitor, out_dir, parts, metrics):
    """monitor.json, findings.json and report.html (when matplotlib is installed)."""
    from ..doctor import examine

    if monitor is not None:
        _json_dump(os.path.join(out_dir, "monitor.json"), monitor.to_dict())
    findings = examine(trainer, data=parts["train"])  # with the data checks (class balance, scales, ...)
    _json_dump(os.path.join(out_dir, "findings.json"),
               [{"severity": f.severity, "code": f.code, "what": f.what, "evidence": f.evidence, "remedy": f.remedy}
                for f in findings])
    metrics["findings"] = [f"[{f.severity}] {f.what}" for f in findings]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        metrics["report"] = None
        return
    from ..report import write_report
    data = parts["val"] if parts["val"] is not None else parts["test"]
    shape = metrics.get("input_shape")
    metrics["report"] = write_report(trainer, os.path.join(out_dir, "report.html"), data=data,
                                     input_shape=tuple(shape) if shape else None, findings=findings,
                                     title=parts["config"].get("name") or os.path.basename(os.path.abspath(out_dir)))


DEMO_CONFIG = {
    # chosen by validation accuracy among a handful of settings (see docs/decisions.md)
    "name": "demo: MLP on MNIST-1D",
    "seed": 0,
    "data": {"dataset": "mnist1d", "val_fraction": 0.1, "preprocessing": [{"type": "Standardize"}]},
    "model": {"layers": [
        {"type": "Linear", "in_features": 40, "out_features": 256, "init": "he"},
        {"type": "BatchNorm1d", "num_features": 256},
        {"type": "ReLU"},
        {"type": "Dropout", "p": 0.2},
        {"type": "Linear", "in_features": 256, "out_features": 256, "init": "he"},
        {"type": "BatchNorm1d", "num_features": 256},
        {"type": "ReLU"},
        {"type": "Dropout", "p": 0.2},
        {"type": "Linear", "in_features": 256, "out_features": 10, "init": "he"},
    ]},
    "loss": {"type": "SoftmaxCrossEntropy"},
    "optimizer": {"type": "Adam", "lr": 3e-3},
    "penalty": {"type": "L2", "lam": 1e-2},
    "schedule": {"type": "Cosine", "period": 100, "min_factor": 0.05},
    "trainer": {"epochs": 100, "batch_size": 128, "early_stopping": {"patience": 12, "monitor": "val_loss"},
                "checkpoint_monitor": "val_accuracy"},
}


def summary_lines(metrics) -> list:
    """A short human summary of a finished run."""
    lines = []
    for split in ("train", "val", "test"):
        if split in metrics:
            m = metrics[split]
            acc = f", accuracy {m['accuracy'] * 100:.1f}%" if "accuracy" in m else ""
            lines.append(f"  {split:<5} loss {m['loss']:.4f}{acc}")
    lines.append(f"  epochs {metrics['epochs_run']} ({metrics['stop_reason']}), {metrics['train_seconds']:.1f} s")
    return lines
