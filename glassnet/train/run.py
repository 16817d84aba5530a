"""Config-driven runs: ``glassnet train CONFIG`` and ``glassnet demo``.

A config (TOML or YAML) names the data, the model (a list of layers), the loss, optimizer,
penalty, schedule and trainer settings, and a seed; glassnet/config.py declares every field.
Everything is checked before training starts, the config before any data is loaded, then what
depends on the data (the layers fit it, the labels fit the outputs); errors name the field, e.g.
``optimizer.lr: ... must lie in [0.0, inf), got -1.0``.

The run folder receives: ``config.json`` (the checked config, defaults filled in),
``history.json``, ``checkpoints/last.npz`` (the full training state, resumable),
``checkpoints/best.npz`` and the ``keep_best`` best ``checkpoints/epochNNN-<monitor><score>.npz``,
``model.npz`` (the best model by ``checkpoint_monitor``, with its preprocessing), ``metrics.json``
(train, validation and test metrics of that model, and which epoch it is), ``monitor.json``,
``findings.json`` and ``report.html``. While a run writes it, the folder holds a lock file.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import zipfile

import numpy as np

from .._checks import check_examples, check_targets
from ..config import build_model, build_object, registries, validate
from ..errors import ConfigError, DataError, DataNotFoundError, RunFolderError, ShapeError, one_line
from ..nn.module import as_model_input
from ..optim.schedules import build_schedule
from ..serialization import atomic_write_text, read_archive, save
from . import metrics as metric_fns
from .runfolder import FolderLock, claim_run_folder
from .trainer import check_batches

__all__ = ["ConfigError", "load_config", "check_config", "prepare", "run", "DEMO_CONFIG"]


def load_config(path) -> dict:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) config file; errors are ConfigError."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such config file")
    if os.path.isdir(path):
        raise ConfigError(f"{path}: is a folder, not a config file (to continue a run: glassnet train --resume "
                          f"{path})")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a text file ({err})") from None
    try:
        if path.endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise ConfigError("YAML configs need PyYAML: pip install 'glassnet[yaml]' (or use TOML)") from None
            try:
                cfg = yaml.safe_load(text)
            except yaml.YAMLError as err:
                raise ConfigError(f"{path}: invalid YAML: {err}") from None
        elif path.endswith(".json"):
            try:
                cfg = json.loads(text)
            except ValueError as err:
                raise ConfigError(f"{path}: invalid JSON: {err}") from None
        else:
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            try:
                cfg = tomllib.loads(text)
            except tomllib.TOMLDecodeError as err:
                raise ConfigError(f"{path}: invalid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: the config must be a table of sections, got {type(cfg).__name__}")
    return cfg


def check_config(cfg) -> dict:
    """Check a whole config against glassnet.config's schema; returns it with defaults filled in."""
    try:
        return validate(cfg)
    except RecursionError:
        raise ConfigError("config: nested too deeply") from None


def _build_parts(cfg):
    """Model, loss, optimizer, penalty, schedule from a checked config (errors with paths)."""
    reg = registries()
    model = build_model(cfg["model"])
    model.reset_parameters(cfg["seed"])
    loss = build_object(cfg["loss"], reg["loss"], "loss", "loss")
    optimizer = build_object(cfg["optimizer"], reg["optimizer"], "optimizer", "optimizer", extra=(model,))
    penalty = build_object(cfg["penalty"], reg["penalty"], "penalty", "penalty") if cfg.get("penalty") else None
    schedule, unit = None, "epoch"
    if cfg.get("schedule"):
        sc = dict(cfg["schedule"])
        unit = sc.pop("unit", "epoch")
        schedule = build_schedule(sc, "schedule")
    return model, loss, optimizer, penalty, schedule, unit


def _load_arrays(path, loss):
    """The arrays of a ``dataset = "npz"`` file, checked in the file's own coordinates (its array
    names and rows), before any split."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ConfigError(f"data.path: cannot read {path!r}: {one_line(err)}") from None
    except Exception as err:  # zipfile raises many kinds on damaged files
        raise ConfigError(f"data.path: cannot read {path!r}: {type(err).__name__}: {err}") from None
    if not isinstance(arrays, dict) or "X_train" not in arrays or "y_train" not in arrays:
        found = sorted(arrays) if isinstance(arrays, dict) else "one array"
        raise ConfigError(f"data.path: {path} needs arrays X_train and y_train (and optionally X_val, y_val, X_test, "
                          f"y_test); found {found}")
    kind = getattr(loss, "target_kind", "real")
    out = {}
    for split in ("train", "val", "test"):
        X, y = arrays.get(f"X_{split}"), arrays.get(f"y_{split}")
        if X is None and y is None:
            continue
        if X is None or y is None:
            raise ConfigError(f"data.path: {path} has {'X' if y is None else 'y'}_{split} without "
                              f"{'y' if y is None else 'X'}_{split}")
        who = f"{path}"
        X = check_examples(X, who, f"X_{split}", allow_empty=split != "train")
        y = check_targets(y, len(X), who, kind, None, f"y_{split}")
        out[split] = (X, y)
    return out


def _text_data(cfg):
    """Windows of character ids for a language model: (X, Y) pairs of shape (rows, seq_len), rows
    laid out as contiguous streams for the trainer's batch size (``text_windows``)."""
    from ..data.text import load_text, text_windows

    d = cfg["data"]
    corpus = load_text(d["text"])
    if d.get("val_document"):
        train, val = corpus.split(val_documents=d["val_document"])
    elif d["val_fraction"] > 0 and len(corpus.documents) > 1:
        train, val = corpus.split(val_fraction=d["val_fraction"], seed=d.get("split_seed", cfg["seed"]))
    else:
        train, val = corpus, None
    b, t = cfg["trainer"]["batch_size"], d["seq_len"]
    windows = lambda part: text_windows(corpus.vocab.encode(part.text), b, t)  # noqa: E731
    desc = (f"{corpus.name}: {len(corpus.documents)} documents, {len(corpus.text):,} characters, "
            f"{len(corpus.vocab)} ids; windows of {t} characters in {b} streams"
            + (f"; validation: {', '.join(val.names)}" if val is not None else "")
            + (f". {corpus.notice}" if corpus.notice else ""))
    return windows(train), (windows(val) if val is not None else None), None, desc, corpus.vocab


def _check_vocab_size(cfg, model, vocab):
    """A language model's Embedding must take every id of the text's vocabulary."""
    from ..nn.layers.embedding import Embedding
    from ..nn.module import first_layer

    first = first_layer(model)
    n = len(vocab)
    if isinstance(first, Embedding) and first.num_embeddings != n:
        field = "model.vocab_size" if "arch" in cfg["model"] else "model.layers[0].num_embeddings"
        raise ConfigError(f"{field}: the text has {n} ids ({n - 1} characters and the unknown id), the model's "
                          f"Embedding takes {first.num_embeddings}; set it to {n}")


def _load_data(cfg, loss):
    """(train, val, test) as (X, y) pairs (val/test may be None), a description and, for text, the
    character vocabulary (else None). Problems of the data itself name the file and row; problems of
    the config name the field."""
    from ..data import datasets as ds
    from ..data.splits import train_val_test_split

    d = cfg["data"]
    name, seed = d["dataset"], d.get("split_seed", cfg["seed"])  # searches fix the split, vary the seed
    vf, tf = d["val_fraction"], d["test_fraction"]
    test = val = vocab = None
    try:
        if name == "mnist1d":
            tr, te = ds.load_mnist1d()
            train, test, desc = (tr.X, tr.y), (te.X, te.y), tr.description
        elif name in ("fashion-mnist", "mnist"):
            loader = ds.load_fashion_mnist if name == "fashion-mnist" else ds.load_mnist
            tr, te = loader(root=d.get("root"))
            train, test, desc = (tr.X, tr.y), (te.X, te.y), tr.description
        elif name == "text":
            try:
                train, val, test, desc, vocab = _text_data(cfg)
            except (DataError, ConfigError) as err:
                raise ConfigError(f"data.text: {one_line(err)}") from None
        elif name == "npz":
            arrays = _load_arrays(d["path"], loss)
            train, val, test = arrays["train"], arrays.get("val"), arrays.get("test")
            desc = f"arrays from {d['path']}"
        else:
            maker = {"digits": lambda: ds.load_digits(), "spiral": lambda: ds.make_spiral(seed=seed),
                     "moons": lambda: ds.make_moons(seed=seed), "circles": lambda: ds.make_circles(seed=seed)}[name]
            full = maker()
            train, val, test = train_val_test_split(full.X, full.y, (1 - vf - tf, vf, tf), stratify=True, seed=seed)
            desc = full.description
    except DataNotFoundError as err:
        raise ConfigError(f"data.dataset: {name!r} is not available: {one_line(err)}") from None
    except ImportError as err:
        raise ConfigError(f"data.dataset: {name!r} needs a package that is not installed: {err}") from None
    if val is None and vf > 0 and name != "text":  # text is split by document, or not at all
        y = np.asarray(train[1])
        stratify = y.ndim == 1 and y.dtype.kind in "iu" and len(np.unique(y)) < len(y)
        train, val = train_val_test_split(train[0], train[1], (1 - vf, vf), stratify=stratify, seed=seed)
    val = None if val is None or len(val[0]) == 0 else val
    test = None if test is None or len(test[0]) == 0 else test
    if d.get("limit_train"):
        train = (train[0][:d["limit_train"]], train[1][:d["limit_train"]])
    if len(train[0]) < 2:
        raise ConfigError(f"data.val_fraction: the split leaves {len(train[0])} training example(s) of "
                          f"{len(train[0]) + (len(val[0]) if val else 0) + (len(test[0]) if test else 0)}; lower "
                          f"data.val_fraction / data.test_fraction")
    if d.get("flatten"):
        flat = lambda p: None if p is None else (p[0].reshape(len(p[0]), -1), p[1])  # noqa: E731
        train, val, test = flat(train), flat(val), flat(test)
    return train, val, test, desc, vocab


def _dry_run(model, loss, train):
    """Push two examples through model and loss so impossible shapes fail before training, with
    the field of the config to change."""
    X, y = train
    model.eval()
    try:
        scores = model.forward(as_model_input(model, np.asarray(X[:2])))
    except (ShapeError, TypeError, ValueError, IndexError) as err:
        msg = str(err)
        first = msg.splitlines()[0]
        m = re.search(r"at Sequential\[(\d+)\]", msg)
        where = f"model.layers[{m.group(1)}]" if m else "model"
        raise ConfigError(f"{where}: {first} (the data has examples of shape {tuple(np.shape(X)[1:])})") from None
    finally:
        model.clear_cache()
        model.train()
    ya = np.asarray(y)
    kind = getattr(loss, "target_kind", "real")
    if kind in ("labels", "labels_or_probs") and ya.ndim == 1:
        n_out = scores.shape[1] if scores.ndim == 2 else None
        if ya.dtype.kind not in "iu":
            raise ConfigError(f"loss.type: {type(loss).__name__} needs integer class labels, the data has {ya.dtype}")
        if n_out is not None and len(ya) and int(ya.max()) >= n_out:
            raise ConfigError(f"model.layers[{len(model) - 1}]: the model outputs {n_out} scores but the data has "
                              f"labels up to {int(ya.max())} ({int(ya.max()) + 1} classes)")
    try:
        loss.forward(scores, check_targets(ya[:2], min(2, len(ya)), "data", kind, tuple(scores.shape[1:])))
    except (DataError, TypeError, ValueError) as err:
        raise ConfigError(f"loss: {type(loss).__name__} does not fit the data: {one_line(err)}") from None
    finally:
        loss.clear_cache()


def selection_monitor(cfg, has_val, is_classifier) -> str:
    """The value that selects a run's model: ``trainer.checkpoint_monitor`` or, for "auto",
    val_accuracy (classifiers with validation data), val_loss, or loss."""
    chosen = cfg["trainer"]["checkpoint_monitor"]
    if chosen != "auto":
        return chosen
    return "val_accuracy" if has_val and is_classifier else ("val_loss" if has_val else "loss")


def prepare(cfg):
    """Check a config and build everything it names; nothing is trained. Every check that does not
    need the data runs before the data is loaded. Returns a dict with the parts; "train", "val"
    and "test" are preprocessed (as the model sees them), "raw" holds them as loaded."""
    from ..data.augment import Compose
    from ..data.preprocessing import build_transformer
    from .callbacks import EarlyStopping, GradientClipping, ReduceLROnPlateau, TerminateOnNaN

    cfg = check_config(cfg)
    model, loss, optimizer, penalty, schedule, unit = _build_parts(cfg)
    t = cfg["trainer"]
    classes = getattr(loss, "target_kind", "real") in metric_fns.CLASS_KINDS
    metrics = tuple(t.get("metrics") or (["accuracy"] if classes else ["mse"]))
    metric_fns.check_fit(metrics, loss, "trainer.metrics")
    prep = build_transformer(cfg["data"]["preprocessing"], "data.preprocessing") \
        if cfg["data"]["preprocessing"] else None
    steps = [build_object(spec, registries()["augmentation"], f"data.augment[{i}]", "augmentation")
             for i, spec in enumerate(cfg["data"]["augment"])]
    raw = _load_data(cfg, loss)
    train, val, test, desc, vocab = raw
    if prep is not None:
        try:
            prep.fit(train[0])  # the training split only
        except (ConfigError, DataError, ValueError) as err:
            raise ConfigError(f"data.preprocessing: {one_line(err)} (the training data has examples of shape "
                              f"{tuple(np.shape(train[0])[1:])})") from None
        tf = lambda p: None if p is None else (prep.transform(p[0]), p[1])  # noqa: E731
        train, val, test = tf(train), tf(val), tf(test)
    if vocab is not None:
        _check_vocab_size(cfg, model, vocab)
    _check_augment(cfg["data"]["augment"], steps, train[0])
    augment = None if not steps else steps[0] if len(steps) == 1 else Compose(*steps)
    _dry_run(model, loss, train)
    from ..nn.layers.recurrent import is_stateful
    if is_stateful(model) and t["shuffle"]:
        raise ConfigError("trainer.shuffle: the model has a stateful recurrent layer, which carries each batch's "
                          "final state into the next batch's rows; set trainer.shuffle = false")
    try:
        check_batches(model, len(train[0]), t["batch_size"], t["drop_last"])
    except DataError as err:
        raise ConfigError(f"trainer.batch_size: {one_line(err).removeprefix('fit: ')}") from None
    has_val = val is not None
    monitor = selection_monitor(cfg, has_val, loss.is_classifier)
    for key, name in (("checkpoint_monitor", monitor),) + tuple(
            (f"{k}.monitor", t[k].get("monitor", monitor)) for k in ("early_stopping", "reduce_lr_on_plateau")
            if t.get(k)):
        problem = metric_fns.monitor_problem(name, metrics, has_val, t["train_sample"] > 0)
        if problem:
            raise ConfigError(f"trainer.{key}: {problem}")
    callbacks = []
    if t["terminate_on_nan"]:
        callbacks.append(TerminateOnNaN())
    if t.get("gradient_clipping"):
        callbacks.append(GradientClipping(t["gradient_clipping"]))
    for key, cls in (("reduce_lr_on_plateau", ReduceLROnPlateau), ("early_stopping", EarlyStopping)):
        if t.get(key):
            kw = dict(t[key])
            kw.setdefault("monitor", monitor)
            callbacks.append(build_object(dict(kw, type=cls.__name__), {cls.__name__: cls}, f"trainer.{key}"))
    return {"config": cfg, "model": model, "loss": loss, "optimizer": optimizer, "penalty": penalty,
            "schedule": schedule, "unit": unit, "train": train, "val": val, "test": test, "description": desc,
            "preprocessing": prep, "augment": augment, "callbacks": callbacks, "monitor": monitor, "metrics": metrics,
            "raw": {"train": raw[0], "val": raw[1], "test": raw[2]}, "vocab": vocab}


def _check_augment(specs, steps, X):
    """Each augmentation on two training examples, before training: one that does not fit the
    data's layout (a rotation of sequences) is a ConfigError naming it, and it must keep the shape."""
    rng = np.random.default_rng(0)
    sample = X[:2]
    for i, (spec, step) in enumerate(zip(specs, steps)):
        try:
            out = step(sample, rng, train=True)
        except (DataError, ValueError) as err:
            raise ConfigError(f"data.augment[{i}] ({spec['type']}): {one_line(err).split(': ', 1)[-1]} "
                              f"(the training data after preprocessing)") from None
        if np.shape(out) != np.shape(sample):
            raise ConfigError(f"data.augment[{i}] ({spec['type']}): changed the examples' shape from "
                              f"{tuple(np.shape(sample)[1:])} to {tuple(np.shape(out)[1:])}")
        sample = out


def _json_dump(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=float, allow_nan=True))


def run(cfg, out_dir, resume=False, verbose=None, force=False, live=None):
    """Train from a config into ``out_dir``; returns the metrics dict.

    The config and the data are checked completely before the folder is touched. A folder that
    already holds a run is refused unless ``resume`` (continue from ``checkpoints/last.npz``) or
    ``force`` (glassnet's files of the old run are removed first); a folder in use by another
    process is refused (a lock file). ``model.npz`` is the best model by the run's
    ``checkpoint_monitor``; ``metrics.json`` says which epoch that was. ``live`` (seconds): the run's
    report.html follows training (``glassnet.report.LiveReport``) until the full report replaces it.

    Started by ``mpiexec -n N`` (N > 1), the N processes train one model
    data-parallel (docs/distributed.md): every rank checks the config and loads the data, rank 0
    alone claims the folder and writes every file, and the others take rank 0's decisions.
    """
    from .. import distributed as dist
    from ..doctor import Monitor
    from .callbacks import ModelCheckpoint

    out_dir = os.fspath(out_dir)
    comm = dist.init() if dist.launched_size() > 1 else dist.SingleProcess()
    parts = dist.on_every_rank(comm, lambda: prepare(cfg), "checking the config and the data")
    cfg = parts["config"]
    t = cfg["trainer"]
    if comm.size > 1 and t["lr_scaling"] == "linear":
        dist.scale_learning_rate(parts["optimizer"], comm.size)
    if comm.is_main:
        with dist.alone():  # the probe's training steps are rank 0's own
            _warn_memory(parts, t["batch_size"])
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    with FolderLock(out_dir, "run") if comm.is_main else contextlib.nullcontext():
        problem = None
        if comm.is_main:
            try:
                claim_run_folder(out_dir, resume=resume, force=force)
            except RunFolderError as err:
                problem = err
        problem = comm.broadcast_object(problem)  # rank 0's verdict on the folder, for every rank
        if problem is not None:
            raise dist.every_rank(problem)
        resume_path = None
        if resume:
            resume_path = os.path.join(ckpt_dir, "last.npz")
            if not os.path.exists(resume_path):
                raise dist.every_rank(RunFolderError(
                    f"{out_dir}: nothing to resume (no checkpoints/last.npz: the run stopped before its first epoch "
                    f"ended); start it again with --force"))
        checkpoint = ModelCheckpoint(ckpt_dir, monitor=parts["monitor"], save_best_only=t["save_best_only"],
                                     every_n_epochs=t["checkpoint_every"], keep_best=t["keep_best"])
        callbacks = parts["callbacks"] + [checkpoint]
        monitor = Monitor(every=t["monitor_every"]) if t["monitor_every"] else None
        if monitor is not None:
            callbacks.append(monitor)
        if live is not None and comm.is_main:
            from ..report import LiveReport
            callbacks.append(LiveReport(os.path.join(out_dir, "report.html"), every=live, final=False,
                                        title=cfg.get("name"), config=cfg))
        trainer = make_trainer(parts, callbacks, verbose, comm)
        raw = parts["raw"]
        if comm.is_main:
            _json_dump(os.path.join(out_dir, "config.json"), cfg)
        t0 = time.perf_counter()
        history = trainer.fit(raw["train"], val=raw["val"], epochs=t["epochs"], batch_size=t["batch_size"],
                              seed=cfg["seed"], shuffle=t["shuffle"], drop_last=t["drop_last"], resume=resume_path)
        elapsed = time.perf_counter() - t0
        if comm.is_main:
            _json_dump(os.path.join(out_dir, "history.json"), history.to_dict())
        selected = _select_best(trainer, checkpoint) if comm.is_main else None
        if comm.size > 1:  # rank 0 read the kept weights: every rank evaluates them
            selected = comm.broadcast_object(selected)
            dist.broadcast_state(trainer.model, comm)
        metrics = {"epochs_run": trainer.epoch,
                   "stop_reason": history.stop_reason, "train_seconds": elapsed, "selected": selected,
                   "train_metrics_on": history.train_metrics_on, "data": parts["description"],
                   "split_sizes": {k: None if raw[k] is None else len(raw[k][0]) for k in ("train", "val", "test")}}
        metrics["train"] = trainer.evaluate(raw["train"])
        if raw["val"] is not None:
            metrics["val"] = trainer.evaluate(raw["val"])
        if raw["test"] is not None:
            metrics["test"] = trainer.evaluate(raw["test"])
        if cfg["data"]["dataset"] == "text":  # the loss per character in the units language models use
            from ..models.language import language_model_metrics
            for split in ("train", "val", "test"):
                if split in metrics:
                    metrics[split]["language_model"] = language_model_metrics(metrics[split]["loss"])
        extra = {"loss": parts["loss"].config()}
        if parts["vocab"] is not None:  # the vocabulary, for glassnet sample
            extra["vocab"] = parts["vocab"].config()
        metrics["ranks"], metrics["global_batch"] = comm.size, t["batch_size"] * comm.size
        if not comm.is_main:
            metrics["trainer"] = trainer
            return metrics
        save(trainer.model, os.path.join(out_dir, "model.npz"), preprocessing=trainer.preprocessing, extra=extra)
        metrics["input_shape"] = input_shape(cfg, parts["train"][0])
        with dist.alone():  # rank 0's report runs the model by itself
            _write_doctor_outputs(trainer, monitor, out_dir, parts, metrics)
        _json_dump(os.path.join(out_dir, "metrics.json"), metrics)
    metrics["trainer"] = trainer
    return metrics


def _warn_memory(parts, batch_size):
    """Before training: the doctor's warning when a step is estimated not to fit in memory."""
    from ..doctor import memory_finding

    X = parts["train"][0]
    finding = memory_finding(parts["model"], tuple(int(s) for s in X.shape[1:]), min(batch_size, len(X)),
                             parts["optimizer"])
    if finding is not None:
        print(f"warning: {finding.what} {finding.evidence}. {finding.remedy}", file=sys.stderr)
    return finding


def make_trainer(parts, callbacks=None, verbose=None, comm=None):
    """The Trainer a config describes (``parts`` from ``prepare``); ``callbacks`` default to the
    config's own (early stopping, clipping, ...), without checkpoints or the monitor. ``comm``:
    the communicator of a data-parallel run (default: one process)."""
    from .trainer import Trainer

    t = parts["config"]["trainer"]
    return Trainer(parts["model"], parts["loss"], parts["optimizer"], penalty=parts["penalty"],
                   schedule=parts["schedule"], schedule_unit=parts["unit"],
                   callbacks=parts["callbacks"] if callbacks is None else callbacks, metrics=parts["metrics"],
                   train_sample=t["train_sample"], verbose=t["verbose"] if verbose is None else verbose,
                   preprocessing=parts["preprocessing"], augment=parts["augment"], detect_anomaly=t["detect_anomaly"],
                   distributed=comm if comm is not None else False)


def _select_best(trainer, checkpoint):
    """Put the best weights by the checkpoint's monitor into the model (model.npz is this one
    model); returns what was selected."""
    if checkpoint.best_path is None or not os.path.exists(checkpoint.best_path):
        return {"monitor": checkpoint.monitor, "epoch": trainer.epoch, "value": None,
                "note": "no epoch had a finite value; the last weights are kept"}
    arrays, _ = read_archive(checkpoint.best_path)
    trainer.model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")})
    return {"monitor": checkpoint.monitor, "epoch": checkpoint.best_epoch, "value": checkpoint.best}


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
    # with the data checks (class balance, scales, examples shared with validation), on the selected epoch
    findings = examine(trainer, data=parts["train"], val=parts["val"],
                       kept_epoch=(metrics.get("selected") or {}).get("epoch"))
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
                                     title=parts["config"].get("name") or os.path.basename(os.path.abspath(out_dir)),
                                     metrics=metrics, config=parts["config"],
                                     data_name="validation" if parts["val"] is not None else "test")


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
    # one value selects the model and stops the run: the validation loss (smoother than the accuracy of 400
    # signals); model.npz is the epoch early stopping restores
    "trainer": {"epochs": 100, "batch_size": 128, "early_stopping": {"patience": 12},
                "checkpoint_monitor": "val_loss"},
}


def summary_lines(metrics) -> list:
    """A short human summary of a finished run."""
    lines = []
    for split in ("train", "val", "test"):
        if split in metrics:
            m = metrics[split]
            acc = f", accuracy {m['accuracy'] * 100:.1f}%" if "accuracy" in m else ""
            lm = m.get("language_model")
            per_char = (f" nats/char = {lm['bits_per_char']:.3f} bits/char, perplexity {lm['perplexity']:.2f}"
                        if lm else "")
            lines.append(f"  {split:<5} loss {m['loss']:.4f}{per_char}{acc}")
    ranks = metrics.get("ranks", 1)
    on = (f" on {ranks} ranks (global batch {metrics['global_batch']}: {metrics['global_batch'] // ranks} per rank)"
          if ranks > 1 else "")
    lines.append(f"  epochs {metrics['epochs_run']} ({metrics['stop_reason']}), {metrics['train_seconds']:.1f} s{on}")
    sel = metrics.get("selected") or {}
    if sel.get("value") is not None:
        lines.append(f"  model: the weights of epoch {sel['epoch']}, the best {sel['monitor']} ({sel['value']:.4g})")
    return lines
