"""`glassnet compare`: one page for several runs (the search-folder form is tested in
tests/test_tune.py with a real search)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from glassnet.errors import RunFolderError
from glassnet.report.compare import config_differences, find_runs, write_compare
from glassnet.train.run import run

CONFIG = {"name": "cmp", "seed": 0,
          "data": {"dataset": "digits", "val_fraction": 0.2, "preprocessing": [{"type": "Standardize"}]},
          "model": {"layers": [{"type": "Linear", "in_features": 64, "out_features": 16}, {"type": "ReLU"},
                               {"type": "Linear", "in_features": 16, "out_features": 10}]},
          "loss": {"type": "SoftmaxCrossEntropy"}, "optimizer": {"type": "Adam", "lr": 1e-3},
          "trainer": {"epochs": 2, "batch_size": 64, "verbose": 0, "monitor_every": 0}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    pytest.importorskip("sklearn")
    root = tmp_path_factory.mktemp("runs")
    out = []
    for lr, epochs in ((1e-2, 2), (1e-3, 3)):
        cfg = json.loads(json.dumps(CONFIG))
        cfg["optimizer"]["lr"], cfg["trainer"]["epochs"] = lr, epochs
        run(cfg, root / f"lr{lr:g}", verbose=0)
        out.append(root / f"lr{lr:g}")
    return out


def test_config_differences_are_the_dotted_settings_that_differ():
    a = {"optimizer": {"lr": 0.1, "type": "Adam"}, "model": {"layers": [{"out_features": 8}]}}
    b = {"optimizer": {"lr": 0.2, "type": "Adam"}, "model": {"layers": [{"out_features": 16}]}, "seed": 1}
    diff, same = config_differences([a, b])
    assert diff == {"model.layers[0].out_features": [8, 16], "optimizer.lr": [0.1, 0.2], "seed": [None, 1]}
    assert same == 1


def test_compare_page_has_the_runs_their_settings_curves_and_parallel_coordinates(runs, tmp_path):
    path = write_compare(runs, tmp_path / "c.html")
    page = open(path).read()
    for sid in ("runs", "curves", "parallel", "differences"):
        assert f'<section id="{sid}">' in page and f'href="#{sid}"' in page
    assert page.count('<tr data-run="') == 2 and "<code>optimizer.lr</code>" in page
    assert "<code>trainer.epochs</code>" in page  # a difference of any kind
    specs = json.loads(page.split('id="gn-charts">')[1].split("</script>")[0])
    val = next(s for s in specs if s["id"] == "cmp-val_accuracy")
    assert val["perRun"] and [s["run"] for s in val["series"]] == [0, 1]
    assert len(val["x"]) == 3 and val["series"][0]["y"][2] is None  # the shorter run ends early
    assert page.count('class="pc-line"') == 2
    metrics = [json.load(open(os.path.join(r, "metrics.json")))["selected"]["value"] for r in runs]
    best = os.path.basename(str(runs[metrics.index(max(metrics))]))
    assert f"best by val_accuracy: <b>{best}</b>" in page


def test_compare_refuses_what_it_cannot_compare(runs, tmp_path):
    with pytest.raises(RunFolderError, match="two runs or more"):
        write_compare(runs[:1], tmp_path / "c.html")
    with pytest.raises(RunFolderError, match="no such folder"):
        find_runs([tmp_path / "missing"])
    with pytest.raises(RunFolderError, match="neither a run folder"):
        find_runs([tmp_path])
    broken = tmp_path / "broken"
    shutil.copytree(runs[0], broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="not valid JSON"):
        write_compare([runs[1], broken], tmp_path / "c.html")


def test_cli_compare_one_line_errors_and_replacing(runs, tmp_path):
    cmd = [sys.executable, "-m", "glassnet", "compare"]
    out = tmp_path / "c.html"
    r = subprocess.run(cmd + [str(r) for r in runs] + ["--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "wrote" in r.stdout and out.exists()
    r = subprocess.run(cmd + [str(r) for r in runs] + ["--out", str(out)], capture_output=True, text=True, timeout=120)
    assert "(replacing the previous comparison)" in r.stdout
    r = subprocess.run(cmd + [str(runs[0])], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: compare needs two runs or more")
    assert len(r.stderr.strip().splitlines()) == 1


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_compare_page_renders_without_console_errors(runs, tmp_path):
    path = os.path.abspath(write_compare(runs, tmp_path / "c.html"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'p'}"]
    res = subprocess.run([CHROMIUM, *flags, "--enable-logging=stderr", "--v=0", "--dump-dom", f"file://{path}"],
                         capture_output=True, text=True, timeout=120)
    page = open(path).read()
    assert f'data-charts="{page.count(chr(60) + "div class=" + chr(34) + "chart" + chr(34))}"' in res.stdout
    assert not [line for line in res.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    # the link to one run: its row and its line highlighted, the other line dimmed (the click handler's work)
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", f"file://{path}#run=1"], capture_output=True, text=True,
                         timeout=120).stdout
    assert '<tr data-run="1" class="hl">' in dom and '<tr data-run="0">' in dom
    assert 'id="pc-1" class="pc-line hl"' in dom and 'id="pc-0" class="pc-line dim"' in dom
