"""The training doctor: monitors, rules on induced pathologies, sanity checks, the learning-rate
range test, the report (also rendered in headless Chromium) and the command line."""
import html
import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.doctor import Monitor, examine, lr_range_test, pathologies, sanity_checks

pytest.importorskip("sklearn")  # the cases train on scikit-learn's digits
pytest.importorskip("mnist1d")


# ------------------------------------------------------------------------------------- the corpus
#: the healthy cases the suite runs (the slower MNIST-1D recurrent one and Fashion-MNIST run in
#: benchmarks/doctor_corpus.py)
FAST_HEALTHY = sorted(set(pathologies.HEALTHY) - {"mnist1d_gru", "fashion_mlp"})


def _corpus_case(name):
    case = pathologies.CASES[name]()
    if not pathologies.available(case):
        pytest.skip(f"{name} needs {case.needs}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = pathologies.run_case(name)
    return r, pathologies.examine_case(r)


@pytest.mark.parametrize("name", sorted(pathologies.PATHOLOGIES))
def test_each_pathology_gets_the_right_top_finding(name):
    r, findings = _corpus_case(name)
    serious = [f for f in findings if f.severity in ("warning", "error")]
    assert serious, "no warning-level finding"
    assert serious[0].code == r.expected, [f.code for f in serious]
    assert serious[0].evidence and serious[0].remedy
    sev = [{"error": 0, "warning": 1, "info": 2}[f.severity] for f in findings]
    assert sev == sorted(sev)  # most severe first
    if name == "dead_relu_high_lr":  # the root cause first, then what it did
        assert "units.dead" in [f.code for f in serious[1:]]


@pytest.mark.parametrize("name", FAST_HEALTHY)
def test_healthy_runs_get_no_warning_and_say_so(name):
    r, findings = _corpus_case(name)
    assert findings.healthy, [str(f) for f in findings if f.severity != "info"]
    text = gn.doctor.format_findings(findings)
    assert text.startswith("The run looks healthy") and "Checked:" in text and "inside the network" in text


# ----------------------------------------------------------------------------------------- monitor
def _digits():
    X, y, Xv, yv = pathologies._digits()
    return X, y, Xv, yv


def test_monitor_samples_every_n_iterations_and_counts_dead_units():
    X, y, _, _ = _digits()
    model = nn.Sequential(nn.Linear(64, 32, rng=0), nn.ReLU(), nn.Linear(32, 10, rng=1))
    model[0].b.data[:16] = -1e3  # half the units can never fire
    mon = Monitor(every=7)
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3), callbacks=[mon], verbose=0)
    tr.fit((X, y), epochs=2, batch_size=100, seed=0)
    its = tr.iteration
    assert [r["iteration"] for r in mon.records] == list(range(0, its, 7))
    assert mon.dead_fractions()["1"] == pytest.approx(0.5)
    rec = mon.records[-1]
    assert set(rec["layers"]) == {"0", "1", "2"} and rec["layers"]["1"]["zero_fraction"] >= 0.5
    assert rec["params"]["0.W"]["grad_norm"] > 0 and 0 < rec["params"]["0.W"]["update_ratio"] < 1
    assert sum(rec["layers"]["0"]["hist"]) == 100 * 32
    assert "forward" not in model[0].__dict__  # the wrappers are gone after sampling
    s = mon.summary()
    assert s["samples"] == len(mon.records) and s["order"][0] == "0.W"
    json.dumps(mon.to_dict())  # a run folder stores it as JSON


def test_monitor_saturation_of_tanh():
    x = np.random.default_rng(0).standard_normal((64, 20)).astype(np.float32) * 50
    model = nn.Sequential(nn.Linear(20, 16, rng=0), nn.Tanh(), nn.Linear(16, 2, rng=1))
    mon = Monitor(every=1)
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.SGD(model, lr=1e-3), callbacks=[mon], verbose=0)
    tr.fit((x, (x[:, 0] > 0).astype(int)), epochs=1, batch_size=64, seed=0)
    assert mon.records[0]["layers"]["1"]["saturated_fraction"] > 0.8


def test_monitor_overhead_is_a_sample_not_every_step():
    X, y, _, _ = _digits()
    model = nn.Sequential(nn.Linear(64, 32, rng=0), nn.ReLU(), nn.Linear(32, 10, rng=1))
    mon = Monitor(every=1000)
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model), callbacks=[mon], verbose=0)
    tr.fit((X, y), epochs=1, batch_size=32, seed=0)
    assert len(mon.records) == 1  # only iteration 0 was sampled


def _histogram_cases(rng):
    yield rng.standard_normal(4000)
    yield rng.integers(-5, 5, 3000).astype(float)  # many values exactly on bin edges
    yield np.full(17, 3.7)  # one value: NumPy's +-0.5 outer edges
    yield rng.uniform(-1e-30, 1e-30, 500)
    yield np.linspace(-2, 2, 1001) * 37.0
    yield np.array([1.0])
    yield 16777216.0 + rng.integers(0, 3, 200)  # a narrow range of large values: float32 edges fail


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_histogram_is_numpys_in_float64_bin_for_bin(jit_on, dtype):
    from glassnet.kernels import stats as fast_stats
    rng = np.random.default_rng(0)
    for values in _histogram_cases(rng):
        v = values.astype(dtype)
        for bins in (1, 7, 30):
            counts, edges = fast_stats.histogram(v, bins)
            ref_counts, ref_edges = np.histogram(v.astype(np.float64), bins=bins)
            assert edges.dtype == np.float64
            np.testing.assert_array_equal(counts, ref_counts)
            np.testing.assert_array_equal(edges, ref_edges)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_moments_equal_numpys_in_float64(jit_on, dtype):
    from glassnet.kernels import stats as fast_stats
    rng = np.random.default_rng(2)
    for v in (rng.standard_normal(100_003) * 0.05 + 0.01, 1e4 + rng.standard_normal(5000), np.full(7, 2.5),
              np.array([3.0])):
        v = v.astype(dtype)
        mean, var = fast_stats.mean_var(v)
        assert mean == pytest.approx(v.mean(dtype=np.float64), rel=1e-12, abs=1e-300)
        assert var == pytest.approx(v.var(dtype=np.float64), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("jit", [False, True])
def test_monitor_statistics_equal_float64_numpy(jit):
    """The monitor's statistics are computed in the arrays' own precision (no float64 copies):
    they still agree with float64 NumPy, NaN/inf are reported as non-finite, and finite values
    whose squares overflow float32 still give a finite norm."""
    from glassnet.doctor import monitors as M
    if jit:
        pytest.importorskip("numba")
    from glassnet import kernels
    before = kernels.enabled()
    kernels.set_enabled(jit)
    try:
        rng = np.random.default_rng(1)
        a = (rng.standard_normal((64, 300)) * 3 + 1).astype(np.float32)
        st = M._stats(a, 30)
        a64 = a.astype(np.float64)
        assert st["finite"] and st["mean"] == pytest.approx(a64.mean(), rel=1e-12)
        assert st["std"] == pytest.approx(a64.std(), rel=1e-12)
        ref_counts, ref_edges = np.histogram(a.ravel().astype(np.float64), bins=30)
        assert st["hist"] == ref_counts.tolist() and st["edges"] == ref_edges.tolist()
        narrow = np.float32(16777216) + np.arange(3, dtype=np.float32)  # float32 edges cannot bin these
        assert sum(M._stats(narrow, 30)["hist"]) == 3
        huge = np.array([-1.7e308, 1.7e308])  # a range beyond float64: no histogram, no exception
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert M._stats(huge, 30)["hist"] == [] and M._stats(huge, 30)["finite"]
        sq, finite = M._sq_norm(a.ravel())
        assert finite and sq == pytest.approx(float(a64.ravel() @ a64.ravel()), rel=1e-5)
        big = np.full(10, 1e20, np.float32)  # finite, but the float32 sum of squares overflows
        assert M._sq_norm(big) == (pytest.approx(1e41, rel=1e-6), True)
        bad = a.copy()
        bad[3, 4], bad[5, 6] = np.nan, np.inf
        st = M._stats(bad, 30)
        assert not st["finite"] and sum(st["hist"]) == a.size - 2
        assert st["mean"] == pytest.approx(np.delete(a64.ravel(), [3 * 300 + 4, 5 * 300 + 6]).mean(), rel=1e-12)
        assert M._sq_norm(bad.ravel())[1] is False
    finally:
        kernels.set_enabled(before)


def test_examine_a_run_folder_matches_the_live_trainer(tmp_path):
    from glassnet.train.run import run
    cfg = {"seed": 0, "data": {"dataset": "digits", "val_fraction": 0.2, "preprocessing": [{"type": "Standardize"}]},
           "model": {"layers": [{"type": "Linear", "in_features": 64, "out_features": 4}, {"type": "ReLU"},
                                {"type": "Linear", "in_features": 4, "out_features": 10}]},
           "loss": {"type": "SoftmaxCrossEntropy"}, "optimizer": {"type": "Adam", "lr": 1e-3},
           "penalty": {"type": "L2", "lam": 1.0},
           "trainer": {"epochs": 5, "batch_size": 64, "verbose": 0, "monitor_every": 10}}
    metrics = run(cfg, tmp_path / "run")
    live = [f.code for f in examine(metrics["trainer"], kept_epoch=metrics["selected"]["epoch"])]
    folder = [f.code for f in examine(tmp_path / "run")]
    assert live == folder and "fit.underfitting" not in folder  # without a baseline: no verdict on bias
    with_baseline = examine(tmp_path / "run", baseline_error=0.02)
    assert "fit.underfitting" in [f.code for f in with_baseline if f.severity == "warning"]
    saved = json.loads((tmp_path / "run" / "findings.json").read_text())
    assert [f["code"] for f in saved] == live
    assert (tmp_path / "run" / "report.html").exists()
    with pytest.raises(FileNotFoundError, match="has no history.json"):
        examine(tmp_path)


# ------------------------------------------------------------------------------------------ sanity
def test_sanity_checks_pass_on_a_healthy_model_and_catch_broken_ones():
    X, y, _, _ = _digits()
    model = nn.Sequential(nn.Linear(64, 64, rng=0), nn.ReLU(), nn.Linear(64, 10, init="small", rng=1))
    before = model.state_dict()
    checks = sanity_checks(model, nn.SoftmaxCrossEntropy(), X, y)
    assert [c.name for c in checks] == ["initial loss at chance", "regularization raises the loss",
                                        "can overfit a tiny subset", "gradient check", "data checks"]
    assert all(c.passed for c in checks), [str(c) for c in checks]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # the model itself is untouched
    # weights that the penalty skips, and a loss at 100x chance
    frozen = nn.Sequential(nn.Linear(64, 10, init="normal", rng=0))
    frozen[0].W.decay = False
    checks = {c.name: c for c in sanity_checks(frozen, nn.SoftmaxCrossEntropy(), X * 30, y)}
    assert not checks["regularization raises the loss"].passed
    assert not checks["initial loss at chance"].passed
    assert checks["initial loss at chance"].finding.code == "loss.initial"
    checks = {c.name: c for c in sanity_checks(model, nn.SoftmaxCrossEntropy(), X, y, val=(X[:5], y[:5]))}
    assert not checks["data checks"].passed and checks["data checks"].finding.code == "data.leakage"
    # a model that cannot fit: all its parameters frozen
    stuck = nn.Sequential(nn.Linear(64, 10, rng=0)).freeze()
    checks = {c.name: c for c in sanity_checks(stuck, nn.SoftmaxCrossEntropy(), X, y)}
    assert not checks["can overfit a tiny subset"].passed


# ---------------------------------------------------------------------------------------- lr range
def test_lr_range_test_restores_everything_and_suggests_a_rate():
    X, y, _, _ = _digits()
    model = nn.Sequential(nn.Linear(64, 64, rng=0), nn.ReLU(), nn.Dropout(0.1, rng=3), nn.Linear(64, 10, rng=1))
    opt = gn.optim.SGD(model, lr=0.01, momentum=0.9)
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), opt, verbose=0)
    before = model.state_dict()
    rng_state = model[2].rng.bit_generator.state
    res = lr_range_test(tr, (X, y), start_lr=1e-5, end_lr=100.0, num_steps=120)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert model[2].rng.bit_generator.state == rng_state and opt.lr == 0.01
    assert "diverged" in res.stopped  # SGD at lr 100 blows up
    assert 1e-5 <= res.suggested_lr <= 1.0 and np.isfinite(res.suggested_lr)
    assert len(res.lrs) == len(res.losses) == len(res.smoothed) and np.all(np.diff(res.lrs) > 0)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_range_test(tr, (X, y), start_lr=1.0, end_lr=0.1)


# ------------------------------------------------------------------------------------------ report
def _small_run():
    X, y, Xv, yv = _digits()
    model = nn.Sequential(nn.Linear(64, 32, rng=0), nn.ReLU(), nn.Linear(32, 10, rng=1))
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3), penalty=gn.optim.L2(1e-4),
                    callbacks=[Monitor(every=10)], verbose=0)
    tr.fit((X, y), val=(Xv, yv), epochs=3, batch_size=64, seed=0)
    return tr, (Xv, yv)


def test_report_is_one_self_contained_file_with_every_section(tmp_path):
    pytest.importorskip("matplotlib")
    import re

    from glassnet.report import SECTIONS, write_report
    from glassnet.report.html import CHART_SECTIONS
    tr, val = _small_run()
    path = write_report(tr, tmp_path / "r.html", data=val, input_shape=(8, 8))
    page = open(path).read()
    for sid, title in SECTIONS:
        assert f'<section id="{sid}">' in page and html.escape(title) in page
        assert f'href="#{sid}"' in page  # the table of contents
        body = page.split(f'<section id="{sid}">')[1].split("</section>")[0]
        if sid in CHART_SECTIONS:  # interactive, drawn by the inlined uPlot from the page's own data
            assert '<div class="chart" id="chart-' in body and "<img" not in body, sid
        elif sid in ("findings", "config", "architecture"):
            assert "<img" not in body, sid
        elif sid == "through-time":  # an MLP has no recurrent layer: it says so
            assert "No recurrent layer" in body
        else:
            assert "data:image/png;base64," in body, sid
    specs = json.loads(page.split('<script type="application/json" id="gn-charts">')[1].split("</script>")[0])
    assert {s["id"] for s in specs} >= {"loss", "epoch-loss", "epoch-accuracy", "lr", "update-ratio"}
    loss = next(s for s in specs if s["id"] == "loss")
    assert len(loss["x"]) == len(tr.history.iterations["loss"]) and loss["series"][0]["smooth"]
    # labels that say which quantity and which mode
    assert "data loss + penalty" in page and "validation loss (eval mode)" in page
    assert "train accuracy (" in page and "eval mode" in page
    # the header: the kept model's results and the rule, the verdict, the machine
    assert "the model after the last epoch" in page or "restored by early stopping" in page
    assert "The doctor:" in page and "machine" in page and "optimizer.lr" in page
    # nothing is fetched from the network: no external scripts, styles, images or links
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<img" not in page.split('id="findings"')[1].split("</section>")[0]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from glassnet.report import SECTIONS, write_report
    tr, val = _small_run()
    path = os.path.abspath(write_report(tr, tmp_path / "r.html", data=val, input_shape=(8, 8)))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'p'}"]
    res = subprocess.run([CHROMIUM, *flags, "--enable-logging=stderr", "--v=0", "--dump-dom", f"file://{path}"],
                         capture_output=True, text=True, timeout=120)
    dom = res.stdout
    for sid, _ in SECTIONS:
        assert f'id="{sid}"' in dom
    page = open(path).read()
    n_charts = page.count('<div class="chart" id="chart-')
    assert f'data-charts="{n_charts}"' in dom  # the script ran to its end and drew every chart
    assert dom.count('class="uplot') >= n_charts
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console  # no JavaScript errors
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1200,3000", f"file://{path}"],
                   capture_output=True, timeout=120)
    img = imread(str(shot))
    assert img.shape[0] >= 3000 and img.shape[1] >= 1200
    dark = (img[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.005 < dark < 0.5  # text and figures were drawn, the page is not blank


def test_tensorboard_export(tmp_path):
    pytest.importorskip("tensorboardX")
    from glassnet.report import write_tensorboard
    tr, _ = _small_run()
    logdir = write_tensorboard(tr, tmp_path / "tb")
    files = os.listdir(logdir)
    assert len(files) == 1 and files[0].startswith("events.out.tfevents")
    raw = open(os.path.join(logdir, files[0]), "rb").read()
    for tag in (b"iteration/loss", b"epoch/val_accuracy", b"update_ratio/0.W", b"activations/1", b"gradients/0.W"):
        assert tag in raw


# ----------------------------------------------------------------------------------------- the CLI
def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "glassnet", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def test_cli_doctor_report_and_sanity(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('seed = 0\n[data]\ndataset = "digits"\nval_fraction = 0.2\npreprocessing = [{type = "Standardize"}]\n'
                   '[model]\nlayers = [{type = "Linear", in_features = 64, out_features = 32}, {type = "ReLU"},\n'
                   '  {type = "Linear", in_features = 32, out_features = 10}]\n[loss]\ntype = "SoftmaxCrossEntropy"\n'
                   '[optimizer]\ntype = "SGD"\nlr = 1e-6\n[trainer]\nepochs = 3\nbatch_size = 64\nverbose = 0\n'
                   'monitor_every = 5\n')
    r = _cli("train", str(cfg), "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    r = _cli("doctor", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    assert "The learning rate looks too low" in r.stdout.splitlines()[0]
    r = _cli("report", str(tmp_path / "run"), "--out", str(tmp_path / "rep.html"))
    assert r.returncode == 0, r.stderr
    assert 'id="confusion"' in (tmp_path / "rep.html").read_text()
    # the sanity checks train with the config's own optimizer: SGD at 1e-6 cannot fit 40 examples
    r = _cli("doctor", "--sanity", str(cfg))
    assert r.returncode == 1 and "[FAIL] can overfit a tiny subset" in r.stdout and "(step 3000)" in r.stdout
    assert "[PASS] gradient check" in r.stdout
    cfg.write_text(cfg.read_text().replace("lr = 1e-6", "lr = 0.1"))
    r = _cli("doctor", "--sanity", str(cfg))
    assert r.returncode == 0 and "[PASS] can overfit a tiny subset" in r.stdout and "fitted" in r.stdout
    r = _cli("doctor", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "nothing: no such folder" in r.stderr


def test_examine_with_data_reports_class_imbalance():
    X, y, Xv, yv = _digits()
    keep = (y != 3) | (np.arange(len(y)) % 20 == 0)  # class 3 cut to 1/20
    model = nn.Sequential(nn.Linear(64, 32, rng=0), nn.ReLU(), nn.Linear(32, 10, rng=1))
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3), verbose=0)
    tr.fit((X[keep], y[keep]), val=(Xv, yv), epochs=3, batch_size=64, seed=0)
    codes = [f.code for f in examine(tr, data=(X[keep], y[keep]))]
    assert "data.class_imbalance" in codes
    assert "data.class_imbalance" not in [f.code for f in examine(tr)]


def test_monitor_counts_dead_channels_of_a_convolution():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64, 3, rng=1))
    model[0].b.data[:3] = -100.0  # three of four channels can never fire
    mon = Monitor(every=1)
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3), callbacks=[mon], verbose=0)
    tr.fit((X, rng.integers(0, 3, 64)), epochs=2, batch_size=32, seed=0)
    assert mon.dead_fractions()["1"] == pytest.approx(0.75)
    assert mon.summary()["dead_filters"] == {"1": [3, 4]}
    codes = [f.code for f in examine(tr)]
    assert "units.dead" in codes and "filters.dead" not in codes  # more than half: units.dead says it


@pytest.mark.parametrize("dead,expected", [(0, False), (1, False), (2, True), (4, True)])
def test_dead_filters_are_found_when_a_few_channels_never_fire(dead, expected):
    """filters.dead: some (at least a tenth, at most half) of a convolution's channels output zero
    for every input; one of 16 is too few to report, none is healthy."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(256, 3, rng=1))
    model[0].b.data[:dead] = -100.0  # these channels can never fire
    mon = Monitor(every=1)
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3), callbacks=[mon], verbose=0)
    tr.fit((X, rng.integers(0, 3, 64)), epochs=2, batch_size=32, seed=0)
    assert mon.summary()["dead_filters"]["1"] == [dead, 16]
    found = [f for f in examine(tr) if f.code == "filters.dead"]
    assert bool(found) == expected
    if found:
        assert f"{dead} of the 16 channels after 1 (ReLU after 0, Conv2d 1->16)" in found[0].evidence
        assert "learning rate" in found[0].remedy


# ------------------------------------------------------------------------------------ issue 30's examples
SPIRAL = """seed = 0
[data]
dataset = "spiral"
val_fraction = 0.2
test_fraction = 0.2
[model]
layers = [{type = "Linear", in_features = 2, out_features = 100}, {type = "ReLU"},
          {type = "Linear", in_features = 100, out_features = 3}]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Adam"
lr = 1e-3
[trainer]
epochs = 200
batch_size = 32
"""


def test_a_correct_model_passes_the_sanity_overfit_check(tmp_path):
    """The 2-D spiral with a 100-unit layer used to fail after 300 Adam steps at 97 %, still learning."""
    cfg = tmp_path / "spiral.toml"
    cfg.write_text(SPIRAL)
    r = _cli("doctor", "--sanity", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if "can overfit a tiny subset" in x)
    assert line.startswith("  [PASS]") and "accuracy 1.00; fitted" in line and "(step 0)" in line


def test_the_overfit_check_fails_only_when_the_loss_does_not_fall():
    X, y, _, _ = _digits()
    slow = nn.Sequential(nn.Linear(64, 10, rng=0))
    checks = {c.name: c for c in sanity_checks(slow, nn.SoftmaxCrossEntropy(), X, y, steps=200,
                                               make_optimizer=lambda m: gn.optim.SGD(m, lr=1e-2))}
    c = checks["can overfit a tiny subset"]
    assert c.passed and "not fitted after 200 steps but the loss falls" in c.detail  # slow, but learning
    frozen = nn.Sequential(nn.Linear(64, 10, rng=0)).freeze()
    c = {c.name: c for c in sanity_checks(frozen, nn.SoftmaxCrossEntropy(), X, y, steps=200)}[
        "can overfit a tiny subset"]
    assert not c.passed and c.finding.severity == "error" and "(step 200)" in c.detail


def test_bias_needs_a_baseline_and_both_diagnoses_need_their_own_gap(tmp_path):
    """The README's MNIST-1D config: without a baseline no high-bias verdict; with one, each of
    bias and variance is a warning exactly when its own gap is material."""
    pytest.importorskip("mnist1d")
    import tomllib

    from glassnet.train.run import run
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    cfg = tomllib.loads(readme.split("## Configs for `glassnet train`")[1].split("```toml\n")[1].split("```")[0])
    cfg["trainer"]["verbose"] = 0
    metrics = run(cfg, tmp_path / "run")
    assert "fit.underfitting" not in [f.code for f in examine(tmp_path / "run")]
    kept = next(e for e in metrics["trainer"].history.epochs if e["epoch"] == metrics["selected"]["epoch"])
    train_err, gap = 1 - kept["accuracy"], kept["accuracy"] - kept["val_accuracy"]
    sev = {f.code: f.severity for f in examine(tmp_path / "run", baseline_error=0.0)}
    assert (sev.get("fit.underfitting") == "warning") == (train_err >= 0.10)
    assert (sev.get("fit.overfitting") == "warning") == (gap >= 0.10)


def test_findings_name_layers_by_path_and_type():
    r, findings = _corpus_case("dead_relu")
    dead = next(f for f in findings if f.code == "units.dead")
    assert "1 (ReLU after 0, Linear 64->64)" in dead.evidence
    r, findings = _corpus_case("vanishing_sigmoid")
    van = next(f for f in findings if f.code == "gradients.vanishing")
    assert "0 (Linear 64->64) W" in van.evidence and "20 (Linear 64->10) W" in van.evidence
    from glassnet.doctor.monitors import describe
    assert describe(nn.Conv2d(16, 32, 3)) == "Conv2d 16->32" and describe(nn.BatchNorm1d(8)) == "BatchNorm1d 8"
    assert describe(nn.LSTM(8, 32)) == "LSTM 8->32" and describe(nn.ReLU()) == "ReLU"


def test_doctor_md_states_every_rule_and_threshold():
    import runpy
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    gen = runpy.run_path(os.path.join(root, "docs", "make_doctor.py"))
    text = open(os.path.join(root, "docs", "doctor.md"), encoding="utf-8").read()
    assert gen["updated"](text) == text, "run: python docs/make_doctor.py"
    for code in gn.doctor.rules.RANKS:
        if not code.startswith("data.") or code in ("data.label_noise", "data.unscaled_inputs"):
            assert code in text, code
    assert "<!-- corpus:begin -->" in text and "0 with a warning or error" in text


def test_try_fix_reruns_with_the_remedy_and_leaves_the_run_alone(tmp_path):
    import hashlib
    cfg = tmp_path / "hi.toml"
    cfg.write_text(SPIRAL.replace("lr = 1e-3", "lr = 3.0").replace("epochs = 200", "epochs = 8"))
    r = _cli("train", str(cfg), "--out", str(tmp_path / "hi"))
    assert r.returncode == 0, r.stderr

    def digest(folder):
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}
    before = digest(tmp_path / "hi")
    r = _cli("doctor", str(tmp_path / "hi"), "--try-fix", "--epochs", "5")
    assert r.returncode == 0, r.stderr
    assert "remedy:  divide the learning rate by 10: learning rate 3 -> 0.3" in r.stdout
    assert "after 5 epochs the remedied run's val_accuracy is" in r.stdout
    assert digest(tmp_path / "hi") == before  # nothing of the original run changed
    new = [p for p in tmp_path.iterdir() if p.name.startswith("hi-try-lr_down-")]
    assert len(new) == 1
    saved = json.loads((new[0] / "tryfix.json").read_text())
    assert saved["epochs"] == 5 and len(saved["after"]) == 5 and len(saved["before"]) == 5
    assert json.loads((new[0] / "config.json").read_text())["optimizer"]["lr"] == pytest.approx(0.3)
    # a healthy run has nothing to fix: one line, exit 2
    cfg.write_text(SPIRAL.replace("epochs = 200", "epochs = 3"))
    assert _cli("train", str(cfg), "--out", str(tmp_path / "ok")).returncode == 0
    r = _cli("doctor", str(tmp_path / "ok"), "--try-fix")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_each_remedy_changes_a_config_as_it_says():
    from glassnet.doctor.fix import REMEDIES, apply_remedy
    from glassnet.train.run import check_config
    import tomllib
    base = tomllib.loads(SPIRAL.replace("{type = \"ReLU\"}", "{type = \"Tanh\"}"))
    for fix in REMEDIES:
        new, change = apply_remedy(base, fix)
        assert new != base and change, fix
        check_config(new)  # still a valid config
    assert apply_remedy(base, "lr_down")[0]["optimizer"]["lr"] == pytest.approx(1e-4)
    assert apply_remedy(base, "relu_he")[0]["model"]["layers"][1] == {"type": "ReLU"}
    widened = apply_remedy(base, "less_regularization")[0]["model"]["layers"]
    assert widened[0]["out_features"] == 200 and widened[2]["in_features"] == 200


@pytest.mark.parametrize("smooth", [False, True])
def test_noisy_first_layer_filters_are_an_info(smooth):
    """filters.noisy: 5x5 first-layer filters that look like white noise (as initialized) give an
    info; smooth ones (a Gaussian blob with a sign per filter) do not. (lr 0: the filters stay.)"""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    model = nn.Sequential(nn.Conv2d(1, 8, 5, rng=0), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 3, rng=1))
    if smooth:
        g = np.exp(-((np.arange(5) - 2.0) ** 2) / 4)
        model[0].W.data[...] = (np.outer(g, g) * np.sign(rng.standard_normal((8, 1, 1, 1)))).astype(np.float32)
    mon = Monitor(every=1)
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.SGD(model, lr=0.0), callbacks=[mon], verbose=0)
    tr.fit((X, rng.integers(0, 3, 32)), epochs=1, batch_size=16, seed=0)
    rough = mon.summary()["first_filters"]
    assert rough["layer"] == "0" and (rough["roughness"] < 0.6 if smooth else rough["roughness"] > 0.8)
    found = [f for f in examine(tr) if f.code == "filters.noisy"]
    assert (not found) if smooth else (found[0].severity == "info" and "0 (Conv2d 1->8)" in found[0].evidence)
