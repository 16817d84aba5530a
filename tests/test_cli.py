"""The command line, run as a real subprocess."""
import subprocess
import sys


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "glassnet", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_gradcheck_prints_every_layer_and_loss():
    r = run("gradcheck")
    assert r.returncode == 0, r.stdout + r.stderr
    import glassnet as gn
    for name in gn.nn.layers.__all__ + ["SoftmaxCrossEntropy", "MulticlassHinge", "BCEWithLogits",
                                        "MSE", "KLDivergence", "Sequential", "Residual", "Parallel"]:
        assert name in r.stdout, name
    from glassnet.gradcheck import builtin_cases
    assert f"{len(builtin_cases())} passed, 0 failed" in r.stdout
    assert len(builtin_cases()) >= 38
    assert "FAIL" not in r.stdout


def test_no_command_prints_help():
    r = run()
    assert r.returncode == 2 and "gradcheck" in r.stdout


import json
import os

import numpy as np
import pytest

SMALL = """
seed = 1
[data]
dataset = "spiral"
val_fraction = 0.2
test_fraction = 0.2
preprocessing = [{type = "Standardize"}]

[model]
layers = [
  {type = "Linear", in_features = 2, out_features = 32},
  {type = "ReLU"},
  {type = "Linear", in_features = 32, out_features = 3},
]

[loss]
type = "SoftmaxCrossEntropy"

[optimizer]
type = "Adam"
lr = 0.01

[penalty]
type = "L2"
lam = 0.0001

[schedule]
type = "StepDecay"
every = 2
factor = 0.5

[trainer]
epochs = EPOCHS
batch_size = 32
early_stopping = {patience = 50}
"""


def write(tmp_path, text, name="run.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_train_writes_every_promised_file(tmp_path):
    cfg = write(tmp_path, SMALL.replace("EPOCHS", "4"))
    out = tmp_path / "run"
    r = run("train", cfg, "--out", str(out))
    assert r.returncode == 0, r.stderr
    for f in ["config.json", "history.json", "metrics.json", "model.npz", "checkpoints/best.npz",
              "checkpoints/last.npz"]:
        assert (out / f).exists(), f
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"train", "val", "test"} <= set(metrics) and 0 <= metrics["test"]["accuracy"] <= 1
    history = json.loads((out / "history.json").read_text())
    assert len(history["epochs"]) == 4
    assert any(n.startswith("epoch") for n in os.listdir(out / "checkpoints"))
    assert "Summary" in r.stdout and "test" in r.stdout

    # evaluate and predict on the saved model (preprocessing travels with it)
    from glassnet.data import make_spiral
    d = make_spiral(n_per_class=20, seed=1)
    np.savez(tmp_path / "eval.npz", X=d.X, y=d.y)
    r = run("evaluate", str(out / "model.npz"), "--data", str(tmp_path / "eval.npz"))
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["n"] == 60 and len(ev["confusion_matrix"]) == 3
    np.save(tmp_path / "x.npy", d.X[:5])
    r = run("predict", str(out / "model.npz"), str(tmp_path / "x.npy"), "--out", str(tmp_path / "pred.npz"))
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "pred.npz") as z:
        assert z["predictions"].shape == (5,) and np.allclose(z["probabilities"].sum(1), 1)


def test_train_resume_continues_an_interrupted_run(tmp_path):
    straight = tmp_path / "straight"
    assert run("train", write(tmp_path, SMALL.replace("EPOCHS", "4")), "--out", str(straight)).returncode == 0
    # a run stopped after 2 of its 4 epochs: its run folder holds last.npz from epoch 2
    part = tmp_path / "part"
    assert run("train", write(tmp_path, SMALL.replace("EPOCHS", "2"), "p.toml"), "--out", str(part)).returncode == 0
    cfg = json.loads((part / "config.json").read_text())
    cfg["trainer"]["epochs"] = 4
    (part / "config.json").write_text(json.dumps(cfg))
    r = run("train", "--resume", str(part))
    assert r.returncode == 0, r.stderr
    import glassnet as gn
    a = gn.load(straight / "model.npz", with_preprocessing=False)
    b = gn.load(part / "model.npz", with_preprocessing=False)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    h1 = json.loads((straight / "history.json").read_text())
    h2 = json.loads((part / "history.json").read_text())
    assert h1["iterations"] == h2["iterations"]


def test_yaml_config(tmp_path):
    pytest.importorskip("yaml")
    text = """
seed: 0
data: {dataset: moons, val_fraction: 0.2, test_fraction: 0.0}
model:
  layers:
    - {type: Linear, in_features: 2, out_features: 8}
    - {type: Tanh}
    - {type: Linear, in_features: 8, out_features: 2}
loss: {type: SoftmaxCrossEntropy}
optimizer: {type: SGD, lr: 0.1, momentum: 0.9}
trainer: {epochs: 2, batch_size: 20}
"""
    r = run("train", write(tmp_path, text, "c.yaml"), "--out", str(tmp_path / "y"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "y" / "metrics.json").exists()


BAD = [
    ('{type = "ReLU"},', '{type = "Relu"},', r"^error: model.layers\[1\].type: unknown layer 'Relu'; .*did you mean 'ReLU'\?$"),
    ('lr = 0.01', 'lr = "fast"', r"^error: optimizer.lr \(Adam\): lr must be a finite number, got 'fast'$"),
    ('lr = 0.01', 'lr = -1.0', r"^error: optimizer.lr \(Adam\): lr must lie in \[0.0, inf\), got -1.0$"),
    ('epochs = EPOCHS', 'epochs = "ten"', r"trainer.epochs: expected an integer >= 1, got string 'ten'"),
    ('batch_size = 32', 'batch_size = 32\nbatchsize = 3', r"trainer.batchsize: unknown field; .*did you mean 'batch_size'\?"),
    ('[loss]\ntype = "SoftmaxCrossEntropy"', '[loss]', r"loss.type: missing; name the loss"),
    ('{type = "Linear", in_features = 32, out_features = 3}',
     '{type = "Linear", in_features = 30, out_features = 3}',
     r"model.layers\[2\]: Linear\(30 -> 3\): expected 30 input features"),
    ('{type = "Linear", in_features = 32, out_features = 3}', '{type = "Linear", in_features = 32, out_features = 2}',
     r"model.layers\[2\]: the model outputs 2 scores but the data has labels up to 2"),
    ('dataset = "spiral"', 'dataset = "imagenet"', r"data.dataset: expected one of"),
    ('{type = "Linear", in_features = 2, out_features = 32},', '{type = "Linear", in_features = 2},',
     r"model.layers\[0\].out_features: missing; Linear needs it"),
]


@pytest.mark.parametrize("old,new,pattern", BAD)
def test_bad_configs_fail_with_the_field_path_before_training(tmp_path, old, new, pattern):
    import re
    text = SMALL.replace("EPOCHS", "3")
    assert old.replace("EPOCHS", "3") in text
    cfg = write(tmp_path, text.replace(old.replace("EPOCHS", "3"), new))
    out = tmp_path / "bad"
    r = run("train", cfg, "--out", str(out))
    assert r.returncode == 2
    assert re.search(pattern, r.stderr), r.stderr
    assert not (out / "checkpoints").exists()  # nothing trained


def test_evaluate_refuses_a_corrupt_model(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"PK\x03\x04 definitely not a model")
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 2)), y=np.zeros(2, dtype=int))
    r = run("evaluate", str(p), "--data", str(tmp_path / "d.npz"))
    assert r.returncode == 2 and "truncated or corrupted" in r.stderr


def test_evaluate_uses_the_runs_own_loss_for_regression(tmp_path):
    text = """
seed = 0
[data]
dataset = "npz"
path = "DATA"
val_fraction = 0.0
[model]
layers = [{type = "Linear", in_features = 1, out_features = 1}]
[loss]
type = "MSE"
[optimizer]
type = "SGD"
lr = 0.1
[trainer]
epochs = 30
batch_size = 50
"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 1))
    np.savez(tmp_path / "d.npz", X_train=x, y_train=3 * x + 1, X=x, y=3 * x + 1)
    cfg = write(tmp_path, text.replace("DATA", str(tmp_path / "d.npz")))
    r = run("train", cfg, "--out", str(tmp_path / "reg"))
    assert r.returncode == 0, r.stderr
    r = run("evaluate", str(tmp_path / "reg" / "model.npz"), "--data", str(tmp_path / "d.npz"))
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["loss_function"] == "MSE" and ev["mse"] < 1e-3 and "accuracy" not in ev


def test_every_command_and_option_has_help_and_every_command_an_example():
    from glassnet.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(sub.choices) == {"demo", "train", "evaluate", "predict", "gradcheck", "doctor", "report", "compare", "viz", "tune",
                                "trials", "ensemble", "summary", "sample"}
    for name, p in sub.choices.items():
        assert p.description and "examples:\n  glassnet " + name in p.epilog, name
        for action in p._actions:
            assert action.help, f"{name} {action.dest} has no help text"


def test_config_errors_say_it_once(tmp_path):
    r = run("train", write(tmp_path, "[data]\ndataset = 'spiral'\n"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2
    assert r.stderr.strip() == "error: model: missing; the network."
    r = run("doctor", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert r.stderr.strip().endswith("nowhere: no such folder") and r.stderr.count("error: ") == 1, r.stderr


def test_train_detect_anomaly_flag_reaches_the_trainer(tmp_path):
    """--detect-anomaly runs every step in anomaly mode (recorded in the run's config); a healthy
    run trains to the same model as without it."""
    cfg = write(tmp_path, SMALL.replace("EPOCHS", "2"))
    outs = []
    for flags in ((), ("--detect-anomaly",)):
        out = tmp_path / f"run{len(flags)}"
        r = run("train", cfg, "--out", str(out), *flags)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads((out / "config.json").read_text()))
    assert outs[0]["trainer"]["detect_anomaly"] is False and outs[1]["trainer"]["detect_anomaly"] is True
    m0, m1 = (json.loads((tmp_path / f"run{i}" / "metrics.json").read_text()) for i in (0, 1))
    assert m0["test"] == m1["test"]
