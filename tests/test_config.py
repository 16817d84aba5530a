"""The one config schema (glassnet/config.py): complete validation before anything is loaded, the
generated reference, and a fuzzer: random configs, valid and invalid, through the validation and
one training step; nothing but a ConfigError may come out (issue 23, item 4)."""
import copy
import json
import os
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.config import SCHEMA, Field, Section, document, registries, validate
from glassnet.errors import ConfigError
from glassnet.train.run import check_config, make_trainer, prepare

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BASE = {
    "seed": 0,
    "data": {"dataset": "spiral", "val_fraction": 0.2, "test_fraction": 0.1, "preprocessing": [{"type": "Standardize"}]},
    "model": {"layers": [{"type": "Linear", "in_features": 2, "out_features": 16}, {"type": "ReLU"},
                         {"type": "Linear", "in_features": 16, "out_features": 3}]},
    "loss": {"type": "SoftmaxCrossEntropy"},
    "optimizer": {"type": "Adam", "lr": 0.01},
    "trainer": {"epochs": 2, "batch_size": 32, "verbose": 0},
}


def one_step(cfg):
    """Validate, build, load, and train one batch: what `glassnet train` does before its loop."""
    parts = prepare(cfg)
    X, y = parts["raw"]["train"]
    bs = parts["config"]["trainer"]["batch_size"]
    trainer = make_trainer(parts, callbacks=[], verbose=0)
    n = max(2, min(len(X), bs))  # one batch (two of one example with batch_size 1)
    if n % 2 == 1:  # keep BatchNorm's one-example rule out of this step
        n -= 1
    trainer.fit(X[:n], y[:n], epochs=1, batch_size=bs, seed=parts["config"]["seed"])
    return trainer


# -- the reference is generated from the schema -------------------------------------------------------------
def test_docs_config_md_is_generated_from_the_schema():
    with open(os.path.join(ROOT, "docs", "config.md"), encoding="utf-8") as f:
        assert f.read() == document(), "run: python docs/make_config.py"


def _fields(section, path=""):
    for key, f in section.fields.items():
        where = f"{path}.{key}" if path else key
        yield where, f
        if isinstance(f, Section):
            yield from _fields(f, where)


def test_every_field_and_type_is_documented_with_help():
    text = document()
    for where, f in _fields(SCHEMA):
        assert f.help, where
        assert f"`{where}`" in text, where
    for what, reg in registries().items():
        for name in reg:
            assert f"**{name}**(" in text, (what, name)


def test_the_examples_of_the_reference_are_valid_configs():
    import tomllib
    blocks = re.findall(r"```toml\n(.*?)```", document(), flags=re.S)
    assert len(blocks) >= 4  # an MLP, a CNN, an RNN, a search (with a schedule)
    kinds = set()
    for text in blocks:
        cfg = tomllib.loads(text)
        checked = check_config(cfg)
        kinds |= {lay["type"] for lay in checked["model"]["layers"]} | set(checked) & {"search", "schedule"}
        if checked["data"]["dataset"] in ("digits", "spiral"):  # small enough to build and train a step here
            one_step(dict(cfg, trainer=dict(checked["trainer"], verbose=0)))
    assert {"Conv2d", "LSTM", "search", "schedule"} <= kinds


# -- validation is complete and names the field --------------------------------------------------------------
BAD = [
    (("trainer", "checkpoint_every"), 0, r"^trainer.checkpoint_every: expected an integer >= 1, got 0$"),
    (("trainer", "monitor_every"), -1, r"^trainer.monitor_every: expected an integer >= 0, got -1$"),
    (("trainer", "train_sample"), "all", r"^trainer.train_sample: expected an integer >= 0, got string 'all'$"),
    (("trainer", "checkpoint_monitor"), "val_acc", r"checkpoint_monitor: expected 'auto' or one of .* did you mean 'val_accuracy'"),
    (("trainer", "gradient_clipping"), -1.0, r"^trainer.gradient_clipping: expected a number > 0, got -1.0$"),
    (("trainer", "metrics"), ["accuracy", "f1"], r"^trainer.metrics\[1\]: expected one of 'accuracy', 'mse', 'mae'"),
    (("trainer", "metrics"), "accuracy", r"^trainer.metrics: expected a list of names"),
    (("seed",), -3, r"^seed: expected an integer >= 0, got -3$"),
    (("data", "limit_train"), -5, r"^data.limit_train: expected an integer >= 1, got -5$"),
    (("data", "val_fraction"), 0.9, r"val_fraction \+ data.test_fraction: together 0.9 \+ 0.1 leave no training"),
    (("optimizer", "type"), ["Adam"], r"^optimizer.type: unknown optimizer \['Adam'\]"),
    (("optimizer", "type"), "adam", r"^optimizer.type: unknown optimizer 'adam'.*did you mean 'Adam'\?$"),
    (("loss",), "SoftmaxCrossEntropy", r"^loss: expected a table with a 'type' \(a loss\), got string"),
    (("trainer", "early_stopping"), {"patience": -1}, r"trainer.early_stopping.*patience must be an integer >= 0, got -1"),
    (("trainer", "early_stopping"), {"patients": 3}, r"early_stopping.patients: unknown parameter.*did you mean 'patience'"),
    (("data", "preprocessing"), [{"type": "PCA", "n_components": 5}],
     r"^data.preprocessing: PCA: n_components=5 exceeds the 2 features"),
    (("trainer", "checkpoint_monitor"), "val_mse", r"^trainer.checkpoint_monitor: 'val_mse' is not measured"),
    (("name",), ["exp"], r"^name: expected a string, got list"),
    (("trainer", "verbose"), True, r"^trainer.verbose: expected an integer in \[0, 2\], got boolean True$"),
    (("schedule",), {"type": "StepDecay", "every": 0}, r"^schedule.every \(StepDecay\): every must be a positive integer, got 0$"),
    (("schedule",), {"type": "Cosine", "period": 10, "unit": "epochs"}, r"^schedule.unit: .*did you mean 'epoch'"),
    (("data", "augment"), [{"type": "RandomRotation"}],
     r"^data.augment\[0\] \(RandomRotation\): expects images of shape \(N, C, H, W\), got .* \(the training data"),
    (("data", "augment"), [{"type": "RandomShfit"}], r"^data.augment\[0\].type: unknown augmentation .*did you mean 'RandomShift'"),
    (("data", "augment"), [{"type": "GaussianNoise", "std": 0.1}, {"type": "RandomShift", "padding": -1}],
     r"^data.augment\[1\].*padding must be a non-negative integer, got -1"),
    (("data", "augment"), {"type": "RandomShift"}, r"^data.augment: expected a list"),
]


@pytest.mark.parametrize("path,value,pattern", BAD, ids=[".".join(p) + f"={v!r}" for p, v, _ in BAD])
def test_bad_values_are_config_errors_with_their_path(path, value, pattern):
    cfg = copy.deepcopy(BASE)
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=pattern):
        prepare(cfg)


def test_a_split_that_leaves_no_training_data_is_named(tmp_path):
    np.savez(tmp_path / "d.npz", X_train=np.zeros((3, 2), np.float32), y_train=np.array([0, 1, 0]))
    cfg = copy.deepcopy(BASE)
    cfg["data"] = {"dataset": "npz", "path": str(tmp_path / "d.npz"), "val_fraction": 0.7}
    with pytest.raises(ConfigError, match=r"data.val_fraction: the split leaves 1 training example"):
        prepare(cfg)


def test_npz_data_is_checked_in_the_files_own_rows(tmp_path):
    X = np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)
    y = np.arange(50) % 3
    y[17] = -2
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y)
    cfg = copy.deepcopy(BASE)
    cfg["data"] = {"dataset": "npz", "path": str(tmp_path / "d.npz")}
    with pytest.raises(gn.errors.DataError, match=r"d.npz: y_train: row 17 has label -2"):
        prepare(cfg)


def test_validation_fills_the_defaults_and_is_idempotent():
    checked = validate(copy.deepcopy(BASE))
    assert checked["trainer"]["keep_best"] == 3 and checked["trainer"]["shuffle"] is True
    assert checked["data"]["flatten"] is False and checked["seed"] == 0
    assert validate(json.loads(json.dumps(checked))) == checked


def test_a_valid_config_trains_a_step_and_many_variants_do():
    variants = [{}, {"optimizer": {"type": "SGD", "lr": 0.1, "momentum": 0.9, "nesterov": True}},
                {"penalty": {"type": "L2", "lam": 1e-3}}, {"schedule": {"type": "Cosine", "period": 5, "unit": "step"}},
                {"trainer": {"early_stopping": {"patience": 2}, "gradient_clipping": 1.0, "batch_size": 8}},
                {"loss": {"type": "MulticlassHinge", "delta": 0.5}},
                {"data": {"dataset": "moons", "preprocessing": [{"type": "MinMaxScale"}]}}]
    for v in variants:
        cfg = copy.deepcopy(BASE)
        for k, val in v.items():
            cfg[k] = dict(cfg.get(k, {}), **val) if k in ("trainer", "data") else val
        if cfg["data"]["dataset"] == "moons":
            cfg["model"]["layers"][-1]["out_features"] = 2
        tr = one_step(cfg)
        assert tr.iteration == 1, v


def test_data_augment_is_built_and_changes_training_only():
    from glassnet.data.augment import Compose, GaussianNoise, RandomShift

    def fitted(augment):
        cfg = copy.deepcopy(BASE)
        if augment:
            cfg["data"]["augment"] = augment
        parts = prepare(cfg)
        trainer = make_trainer(parts, callbacks=[], verbose=0)
        X, y = parts["train"]
        trainer.fit(X, y, epochs=2, batch_size=32, seed=0)
        return parts, trainer, [p.data.copy() for p in trainer.model.parameters()]

    aug = [{"type": "GaussianNoise", "std": 0.3}, {"type": "RandomShift", "padding": 1}]
    parts, trainer, weights = fitted(aug)
    assert isinstance(parts["augment"], Compose) and trainer.augment is parts["augment"]
    assert [type(a) for a in parts["augment"].augmentations] == [GaussianNoise, RandomShift]
    assert trainer.augment.augmentations[0].std == 0.3 and trainer.augment.augmentations[1].padding == 1
    _, _, again = fitted(aug)
    _, plain_trainer, plain = fitted(None)
    assert plain_trainer.augment is None
    assert all(np.array_equal(a, b) for a, b in zip(weights, again))  # drawn from the run's seed
    assert not all(np.allclose(a, b) for a, b in zip(weights, plain))  # the batches were augmented
    one = copy.deepcopy(BASE)
    one["data"]["augment"] = aug[:1]
    assert isinstance(prepare(one)["augment"], GaussianNoise)


# -- the fuzzer ---------------------------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

NAMES = ["ReLU", "Relu", "Linear", "Conv2d", "BatchNorm1d", "Dropout", "Adam", "SGD", "sgd", "L2", "L1", "StepDecay",
         "Cosine", "LinearWarmup", "Standardize", "PCA", "MinMaxScale", "val_loss", "val_accuracy", "accuracy", "loss",
         "mse", "epoch", "step", "spiral", "moons", "circles", "digits", "npz", "imagenet", "auto", "he", "xavier",
         "SoftmaxCrossEntropy", "MSE", "MulticlassHinge", "BCEWithLogits", "KLDivergence", "min", "max", ""]
SCALARS = st.one_of(st.integers(-3, 300), st.sampled_from([0, 1, 2, -1, 10 ** 4, 2 ** 62]),
                    st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2), st.booleans(),
                    st.sampled_from(NAMES), st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["type", "p", "lr", "every", "x", "monitor", "patience", "in_features"]),
                    inner, max_size=3)), max_leaves=6)


def _paths(cfg):
    """Every place in a config a mutation can touch (tables, list items and leaves)."""
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                out.append(path + (k,))
                walk(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out.append(path + (i,))
                walk(v, path + (i,))
    walk(cfg, ())
    return out


SECTION_KEYS = [(k,) for k in SCHEMA.fields] + [("data", k) for k in SCHEMA.fields["data"].fields] + \
    [("trainer", k) for k in SCHEMA.fields["trainer"].fields] + [("search", k) for k in SCHEMA.fields["search"].fields]


def valid_value(field):
    """A value the schema accepts for ``field`` (the fuzzer mixes these with arbitrary ones)."""
    if field.kind == "int":
        lo = 0 if field.lo is None else int(field.lo) + (1 if field.lo_open else 0)
        return st.integers(lo, int(field.hi) if field.hi is not None else lo + 40)
    if field.kind == "number":
        lo = 0.0 if field.lo is None else field.lo
        hi = field.hi if field.hi is not None else lo + 10
        return st.floats(lo, hi, exclude_min=field.lo_open, exclude_max=field.hi_open)
    if field.kind == "bool":
        return st.booleans()
    if field.kind == "choice":
        return st.sampled_from(field.choices)
    if field.kind == "names":
        return st.lists(st.sampled_from(field.choices), min_size=1, max_size=2)
    return VALUES


SCHEMA_FIELDS = {("data", k): f for k, f in SCHEMA.fields["data"].fields.items() if k not in ("path", "root")}
SCHEMA_FIELDS.update({("trainer", k): f for k, f in SCHEMA.fields["trainer"].fields.items()})
SCHEMA_FIELDS[("seed",)] = SCHEMA.fields["seed"]
LAYER_VALUES = {("model", "layers", 0, "out_features"): st.integers(1, 64),
                ("model", "layers", 2, "in_features"): st.integers(1, 64),
                ("optimizer", "lr"): st.floats(1e-5, 1.0), ("optimizer", "type"): st.sampled_from(["SGD", "Adam",
                                                                                                "RMSprop", "Adagrad"]),
                ("loss", "type"): st.sampled_from(["SoftmaxCrossEntropy", "MulticlassHinge", "MSE"])}


@st.composite
def configs(draw):
    cfg = copy.deepcopy(BASE)
    if draw(st.booleans()):  # sometimes a richer base: more sections to break
        cfg["penalty"] = {"type": "L2", "lam": 1e-3}
        cfg["schedule"] = {"type": "StepDecay", "every": 2, "factor": 0.5}
        cfg["trainer"]["early_stopping"] = {"patience": 3}
        cfg["model"]["layers"].insert(1, {"type": "BatchNorm1d", "num_features": 16})
        cfg["model"]["layers"].insert(3, {"type": "Dropout", "p": 0.1})
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["set", "set", "valid", "valid", "delete", "add"]))
        if kind == "valid":
            path = draw(st.sampled_from(sorted(SCHEMA_FIELDS) + sorted(LAYER_VALUES)))
            strategy = SCHEMA_FIELDS[path] if path in SCHEMA_FIELDS else None
            value = draw(valid_value(strategy) if strategy is not None else LAYER_VALUES[path])
            node = cfg
            try:
                for key in path[:-1]:
                    node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
                node[path[-1]] = value
            except (KeyError, IndexError, TypeError):  # an earlier mutation changed the structure there
                pass
            continue
        if kind == "add":
            path = draw(st.sampled_from(SECTION_KEYS + [("model", "layers", 0, "bias"), ("optimizer", "momentum"),
                                                          ("loss", "delta"), ("trainer", "early_stopping", "mode"),
                                                          ("data", "preprocessing", 0, "n_components"), ("zzz",),
                                                          ("trainer", "epoch")]))
        else:
            paths = _paths(cfg)
            if not paths:
                break
            path = draw(st.sampled_from(paths))
        node = cfg
        try:
            for key in path[:-1]:
                node = node[key] if not isinstance(node, dict) else node.setdefault(key, {})
        except (KeyError, IndexError, TypeError):
            continue
        last = path[-1]
        if kind == "delete":
            try:
                del node[last]
            except (KeyError, IndexError, TypeError):
                pass
        else:
            try:
                node[last] = draw(VALUES)
            except (IndexError, TypeError):
                pass
    return cfg


OUTCOMES = {"ok": 0, "config": 0}


@hypothesis.settings(max_examples=500, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(configs())
def test_fuzzed_configs_end_in_a_config_error_or_a_training_step(cfg):
    try:
        tr = one_step(cfg)
    except ConfigError as err:
        msg = str(err)
        assert msg and "\n" not in msg.strip() or "at Sequential" in msg, msg
        OUTCOMES["config"] += 1
        return
    assert tr.iteration >= 1
    OUTCOMES["ok"] += 1


def test_the_fuzzer_saw_both_outcomes():
    """Runs after the fuzzer (file order): it produced valid configs as well as invalid ones."""
    if OUTCOMES["ok"] + OUTCOMES["config"] < 500:
        pytest.skip("run with the fuzzer above")
    assert OUTCOMES["ok"] >= 50 and OUTCOMES["config"] >= 200, OUTCOMES


def test_schema_field_kinds_are_all_known():
    kinds = {"int", "number", "bool", "str", "choice", "names", "object", "objects", "params", "table"}
    for where, f in _fields(SCHEMA):
        if isinstance(f, Field):
            assert f.kind in kinds, where


def test_a_renamed_type_names_its_new_name():
    from glassnet.config import build_object, registries
    with pytest.raises(ConfigError, match=r"^loss.type: 'BinaryCrossEntropy' was renamed 'BCEWithLogits' \(it takes logits"):
        build_object({"type": "BinaryCrossEntropy"}, registries()["loss"], "loss", "loss")
    assert type(build_object({"type": "BCEWithLogits"}, registries()["loss"], "loss", "loss")).__name__ == "BCEWithLogits"


def test_every_example_config_is_valid_and_builds():
    """The ready configs under examples/configs/ pass the schema and build their models (training
    them is for benchmarks: they need the full data sets)."""
    import glob

    from glassnet.config import build_model
    from glassnet.train.run import check_config, load_config
    paths = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                          "examples", "configs", "*.toml")))
    assert len(paths) >= 5
    for path in paths:
        cfg = check_config(load_config(path))
        model = build_model(cfg["model"])
        assert model.num_parameters() > 0, path
