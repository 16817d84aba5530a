"""Every example of examples/ runs in --quick mode and shows what it claims."""
import importlib.util
import math
import os
import sys
import warnings

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
pytest.importorskip("sklearn")
pytest.importorskip("mnist1d")


def run(name, tmp_path, *extra):
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mod.main(["--quick", "--out", str(tmp_path), *extra])


def test_overfitting(tmp_path):
    pytest.importorskip("scipy")
    r = run("overfitting", tmp_path)
    tr, va = r["train"], r["val"]
    assert all(b <= a + 1e-6 for a, b in zip(tr, tr[1:]))  # training error never rises with the order
    best = int(np.argmin(va))
    assert 0 <= best <= 3 and va[-1] > 1.5 * va[best]  # validation: down, then up (overfitting)
    assert r["l2"][1e-4] < 0.7 * r["l2"][0.0]  # L2 pulls the order-9 fit back
    assert r["doubled"] < 0.8 * va[-1]  # so does more data


def test_classifiers(tmp_path):
    r = run("classifiers", tmp_path)
    assert [round(v, 2) for v in r["svm_by_hand"]] == [2.9, 0.0, 12.9]
    assert math.isclose(r["svm"], np.mean(r["svm_by_hand"]), rel_tol=1e-12)
    assert math.isclose(r["softmax"], np.mean(r["softmax_by_hand"]), rel_tol=1e-12)
    assert all(a > 0.9 for a in r["accuracy"].values()), r["accuracy"]


def test_initialization(tmp_path):
    r = run("initialization", tmp_path)
    he = np.array(r["stds"][("ReLU", "he")]) ** 2
    small = np.array(r["stds"][("ReLU", "small")])
    assert he.max() / he.min() < 2  # He keeps the variance within a factor 2 across ten layers
    assert small[-1] < 1e-6 * small[0]  # small random numbers collapse
    assert max(r["stds"][("Tanh", "zeros")]) == 0
    xav = np.array(r["stds"][("Tanh", "xavier")])
    assert xav[-1] > 0.25 * xav[0]


def test_optimizers(tmp_path):
    r = run("optimizers", tmp_path)
    f = r["bowl"]
    assert f["momentum"] < f["SGD"] and f["Nesterov"] < f["momentum"]
    assert max(f["Adagrad"], f["RMSprop"]) < 1e-3 * f["SGD"]
    for rule, curve in r["curves"].items():
        assert curve[-1] < curve[0], rule


def test_regularization(tmp_path):
    r = run("regularization", tmp_path)["results"]
    assert r["dropout 0.5"]["gap"] < r["none"]["gap"] - 0.1
    assert r["shift augmentation"]["final_val"] > r["none"]["final_val"] + 0.05
    assert r["none"]["train"][-1] > 0.95  # the unregularized net memorizes the 500 examples


def test_batchnorm(tmp_path):
    r = run("batchnorm", tmp_path)
    res = r["results"]
    assert math.isnan(res[(False, 0.5)]["val_accuracy"]) or res[(False, 0.5)]["val_accuracy"] < 0.2
    assert res[(True, 0.5)]["val_accuracy"] > 0.3  # batch norm trains at the rate that breaks the plain net
    assert max(res[(True, lr)]["val_accuracy"] for lr in (0.01, 0.1)) > \
        max(res[(False, lr)]["val_accuracy"] for lr in (0.01, 0.1))
    np.testing.assert_allclose(r["running_mean"], [10, -3, 0], atol=0.3)
    np.testing.assert_allclose(np.sqrt(r["running_var"]), [1, 5, 0.2], rtol=0.1)
    assert np.abs(r["eval_output"]).max() < 0.2


def test_vanishing(tmp_path):
    r = run("vanishing", tmp_path)
    n = r["norms"]
    assert n["sigmoid"][0] < 1e-3 * n["sigmoid"][-1]
    assert 0.1 < n["residual sigmoid"][0] / n["residual sigmoid"][-1] < 10
    assert 0.1 < n["ReLU (He)"][0] / n["ReLU (He)"][-1] < 10
    assert r["peak_clip"] < r["peak_no_clip"] and r["loss_clip"][-1] < r["loss_no_clip"][-1]


def test_fully_connected(tmp_path):
    r = run("fully_connected", tmp_path)
    assert r["test_accuracy"] > (0.75 if r["data"] != "digits" else 0.9)
    assert r["loss_history"][-1] < r["loss_history"][0]


def test_search(tmp_path):
    r = run("search", tmp_path)
    assert r["n_trials"] == 14 and r["lr_spans"][1] < 0.6 * r["lr_spans"][0]  # the second stage is narrower
    assert r["best"] > 0.3 and r["ensemble"] > 0.3


def test_doctor_at_work(tmp_path):
    r = run("doctor_at_work", tmp_path)
    assert r["lr_too_high"][0] == "lr.too_high"
    assert r["zero_init"][0] == "init.zero"
    assert r["unscaled_inputs"][0] == "data.unscaled_inputs"
    assert r["healthy"] == []


def test_visualize(tmp_path):
    r = run("visualize", tmp_path)
    assert r["accuracy"] > 0.8
    assert r["receptive_field"] == ((8, 8), (2, 2), (-3, -3))  # 3x3 conv, 2x2 pool, 3x3 conv (padding 1)
    assert len(r["top"].indices) == 9 and np.all(np.diff(r["top"].values) <= 0)
    assert r["saliency"].shape == (4, 1, 8, 8) and r["occlusion"].shape == (4, 7, 7) and r["grad_cam"].shape == (4, 4, 4)
    assert r["occlusion"].min() < r["occlusion"].max()
    if "figures" in r:
        assert all((tmp_path / f).stat().st_size > 500 for f in r["figures"])


def test_transfer_learning(tmp_path):
    r = run("transfer_learning", tmp_path)
    assert r["n_train"] == 50
    assert all(acc > 0.6 for acc in r["results"].values()), r["results"]  # chance is 0.2
    assert r["summary"].total_parameters == 160 + 4640 + 645


def test_char_rnn(tmp_path):
    r = run("char_rnn", tmp_path)
    m = r["metrics"]
    assert np.isclose(m["bits_per_char"], m["loss_nats"] / np.log(2))
    assert m["bits_per_char"] < 5.5  # below a uniform guess over the characters (log2 85 = 6.4)
    assert r["sample"].startswith("ROMEO:") and len(r["sample"]) == 306
    assert os.path.exists(r["path"])
