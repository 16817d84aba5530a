"""Hyperparameter search: spaces, strategies, executors, records that survive a SIGKILL."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from glassnet.tune import (Choice, ConfigObjective, IntUniform, LogInt, LogUniform, OneMinusLogUniform,
                           ProcessExecutor, Search, SerialExecutor, Space, TrialStore, Uniform, set_path)

import tune_helpers

HERE = os.path.dirname(os.path.abspath(__file__))


def ks_uniform(x, lo, hi):
    """Kolmogorov-Smirnov statistic of x against uniform(lo, hi)."""
    x = np.sort((np.asarray(x) - lo) / (hi - lo))
    n = len(x)
    cdf = np.arange(1, n + 1) / n
    return max(np.max(cdf - x), np.max(x - (cdf - 1 / n)))


def test_log_uniform_is_uniform_in_log10():
    rng = np.random.default_rng(0)
    v = np.array(LogUniform(1e-6, 1e1).sample(rng, 10_000))
    crit = 1.36 / np.sqrt(10_000)  # 5 % critical value
    assert ks_uniform(np.log10(v), -6, 1) < crit
    assert ks_uniform(v, 1e-6, 1e1) > 10 * crit  # and clearly not uniform on the linear scale
    assert v.min() >= 1e-6 and v.max() <= 1e1


def test_one_minus_log_uniform_samples_one_minus_beta_on_a_log_scale():
    rng = np.random.default_rng(1)
    b = np.array(OneMinusLogUniform(0.9, 0.999).sample(rng, 10_000))
    assert ks_uniform(np.log10(1 - b), -3, -1) < 1.36 / 100
    assert 0.9 <= b.min() and b.max() <= 0.999
    assert abs(np.mean(b > 0.99) - 0.5) < 0.02  # 0.9-0.99 and 0.99-0.999 equally likely


def test_integer_and_choice_dimensions():
    rng = np.random.default_rng(2)
    ints = IntUniform(1, 4).sample(rng, 4000)
    assert set(ints) == {1, 2, 3, 4} and all(abs(ints.count(k) - 1000) < 120 for k in range(1, 5))
    widths = np.array(LogInt(16, 1024).sample(rng, 4000))
    assert widths.min() >= 16 and widths.max() <= 1024 and abs(np.median(widths) - 128) < 30
    assert set(Choice(["relu", "tanh"]).sample(rng, 100)) == {"relu", "tanh"}
    with pytest.raises(ValueError, match="low must be positive"):
        LogUniform(0, 1)
    with pytest.raises(ValueError, match="need 0 <= low < high < 1"):
        OneMinusLogUniform(0.9, 1.0)


def test_jittered_grid_points_stay_inside_their_cells():
    space = Space({"a": Uniform(0, 1), "lr": LogUniform(1e-4, 1e0), "act": Choice(["relu", "tanh"])})
    pts = space.grid(4, np.random.default_rng(0))
    assert len(pts) == 4 * 4 * 2
    cells = set()
    for p in pts:
        ua, ul = space.dims["a"].to_unit(p["a"]), space.dims["lr"].to_unit(p["lr"])
        cells.add((int(ua * 4), int(ul * 4), p["act"]))
    assert len(cells) == 32  # one point per cell, each strictly inside its cell
    again = space.grid(4, np.random.default_rng(1))
    assert [p["a"] for p in pts] != [p["a"] for p in again]  # jitter differs between grids


def test_coarse_to_fine_ranges_shrink_around_the_best():
    space = Space({"lr": LogUniform(1e-5, 1e0), "w": LogInt(8, 1024), "act": Choice(["relu", "tanh", "sigmoid"])})
    best = [{"lr": 1e-3, "w": 100, "act": "relu"}, {"lr": 3e-3, "w": 150, "act": "tanh"}]
    fine = space.narrowed(best, margin=0.05)
    lr = fine.dims["lr"]
    assert 1e-5 < lr.low < 1e-3 < 3e-3 < lr.high < 1e0
    assert np.log10(lr.high / lr.low) < 0.5 * np.log10(1e0 / 1e-5)  # narrower on the log scale
    assert fine.dims["w"].low <= 100 and fine.dims["w"].high >= 150 and fine.dims["w"].high < 1024
    assert fine.dims["act"].options == ["relu", "tanh"]


def test_coarse_to_fine_search_narrows_each_stage(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_TEST_CENTER", "-3.5")
    s = Search(tune_helpers.bowl, {"lr": LogUniform(1e-6, 1e0)}, tmp_path, strategy="coarse-to-fine",
               stages=[(12, 1), (8, 2), (8, 4)], seed=0, verbose=0)
    res = s.run()
    by_stage = {st: [r for r in res.trials if r["stage"] == st] for st in range(3)}
    spread = [np.ptp([np.log10(r["params"]["lr"]) for r in by_stage[st]]) for st in range(3)]
    assert spread[0] > spread[1] > spread[2]
    assert [r["epochs"] for r in by_stage[2]] == [4] * 8
    assert abs(np.log10(res.best["params"]["lr"]) + 3.5) < 0.3


@pytest.mark.parametrize("center,expect", [(-1.0, "high end"), (-6.5, "low end"), (-3.5, None)])
def test_border_warning(tmp_path, monkeypatch, center, expect):
    monkeypatch.setenv("GLASSNET_TEST_CENTER", str(center))
    res = Search(tune_helpers.bowl, {"lr": LogUniform(1e-6, 1e-2)}, tmp_path, trials=40, seed=1, verbose=0).run()
    if expect is None:
        assert res.warnings == []
    else:
        assert len(res.warnings) == 1 and expect in res.warnings[0] and res.warnings[0].startswith("lr:")


def test_failed_trials_are_recorded_and_the_search_goes_on(tmp_path):
    res = Search(tune_helpers.flaky, {"x": Uniform(0, 1)}, tmp_path, trials=20, seed=0, verbose=0).run()
    status = [r["status"] for r in res.trials]
    assert status.count("done") + status.count("failed") == 20 and status.count("failed") >= 4
    errors = [r["error"] for r in res.trials if r["status"] == "failed"]
    assert any("RuntimeError: boom" in e for e in errors) and any("not finite" in e for e in errors)
    assert 0.2 <= res.best["score"] <= 0.8
    assert "failed" in res.table()
    page = res._repr_html_()  # in a notebook: the leaderboard, failed trials greyed with their error
    assert page.count("<tr") == 21 and "RuntimeError: boom" in page and "<b>Search</b>: 20 trials" in page
    assert repr(res).startswith("SearchResult(20 trials, ") and res.table() in repr(res)


def test_same_trials_whichever_executor(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_TEST_SLEEP", "0")  # inherited by the spawned workers
    space = {"x": Uniform(0, 1), "lr": LogUniform(1e-4, 1e-1)}
    a = Search(tune_helpers.slow, space, tmp_path / "a", trials=6, seed=5, executor=SerialExecutor(), verbose=0).run()
    ex = ProcessExecutor(2)
    try:
        b = Search(tune_helpers.slow, space, tmp_path / "b", trials=6, seed=5, executor=ex, jobs=2, verbose=0).run()
    finally:
        ex.shutdown()
    key = lambda rows: sorted((r["key"], r["seed"], tuple(sorted(r["params"].items()))) for r in rows)  # noqa: E731
    assert key(a.trials) == key(b.trials)
    assert all(r["status"] == "done" for r in b.trials)


def test_process_workers_get_their_numba_threads_and_the_driver_keeps_its_own(jit_on):
    """Workers run Numba's parallel kernels on their share of the cores; the driver, whose Numba
    threads may already run, keeps compiling (Numba raises if its thread count changes under it)."""
    import numba
    import numpy as np

    from glassnet.functional import conv
    out, cache = conv.conv2d_forward(np.ones((2, 16, 12, 12)), np.ones((16, 16, 3, 3)), None, 1, 1)
    conv.conv2d_backward(out, cache)  # the driver's Numba threads now run
    ex = ProcessExecutor(1, threads=1)
    try:
        numba.njit(lambda a: a.sum() + 1)(np.ones(3))  # a compilation in the driver meanwhile
        assert ex.submit(tune_helpers.numba_threads_after_a_conv).result(timeout=300) == 1
    finally:
        ex.shutdown()


def test_a_search_folder_refuses_another_search_and_extends_its_own(tmp_path):
    first = Search(tune_helpers.bowl, {"lr": LogUniform(1e-5, 1e-1)}, tmp_path, trials=3, verbose=0).run()
    more = Search(tune_helpers.bowl, {"lr": LogUniform(1e-5, 1e-1)}, tmp_path, trials=5, verbose=0).run()
    assert len(more.trials) == 5 and more.trials[:3] == first.trials  # the first three kept as they were
    with pytest.raises(ValueError, match="holds another search"):
        Search(tune_helpers.bowl, {"lr": LogUniform(1e-6, 1e-1)}, tmp_path, trials=3, verbose=0).run()


DRIVER = """
import sys
sys.path.insert(0, {here!r})
import tune_helpers
from glassnet.tune import Search, Uniform, ProcessExecutor
if __name__ == "__main__":
    ex = ProcessExecutor(2)
    Search(tune_helpers.slow, {{"x": Uniform(0, 1)}}, {folder!r}, trials=10, seed=3, executor=ex, jobs=2).run()
    ex.shutdown()
"""


def _kill_when(script, env, db, done):
    """Start a search driver, SIGKILL it once ``done`` trials are done and one is running; returns
    the rows done before the kill."""
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    finished = []
    while time.time() < deadline:
        time.sleep(0.2)
        if os.path.exists(db):
            try:
                store = TrialStore(db)
                finished, running = store.rows(status="done"), store.rows(status="running")
                store.close()
            except Exception:
                continue
            if len(finished) >= done and running:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return finished


def test_sigkill_and_restart_loses_and_duplicates_nothing(tmp_path):
    folder = str(tmp_path / "search")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(here=HERE, folder=folder))
    env = dict(os.environ, GLASSNET_TEST_SLEEP="0.8")
    db = os.path.join(folder, "trials.sqlite")
    done_before = _kill_when(script, env, db, done=3)
    assert 3 <= len(done_before) < 10
    pids = []
    for key in os.listdir(os.path.join(folder, "trials")):
        p = os.path.join(folder, "trials", key, "pid")
        if os.path.exists(p):
            pids.append(int(open(p).read()))
    time.sleep(4)  # the workers' watchdogs notice the driver is gone within a second or two
    for pid in set(pids):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    r = subprocess.run([sys.executable, str(script)], env=dict(env, GLASSNET_TEST_SLEEP="0.1"), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "re-queued" in r.stdout
    store = TrialStore(db)
    rows = store.rows()
    store.close()
    assert len(rows) == 10 and len({r["key"] for r in rows}) == 10
    assert all(r["status"] == "done" for r in rows)
    before = {r["key"]: r for r in done_before}
    for r in rows:
        if r["key"] in before:  # finished before the kill: kept as it was, never rerun
            assert r["attempts"] == 1 and r["score"] == before[r["key"]]["score"]


def test_ray_executor_gives_the_same_trials(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    from glassnet.tune import RayExecutor
    monkeypatch.setenv("GLASSNET_TEST_SLEEP", "0")
    space = {"x": Uniform(0, 1)}
    a = Search(tune_helpers.slow, space, tmp_path / "a", trials=4, seed=2, verbose=0).run()
    # Ray workers do not inherit sys.path: tell them where the objective's module lives
    ex = RayExecutor(num_cpus=2, runtime_env={"env_vars": {"GLASSNET_TEST_SLEEP": "0", "PYTHONPATH": HERE}})
    try:
        b = Search(tune_helpers.slow, space, tmp_path / "b", trials=4, seed=2, executor=ex, jobs=2, verbose=0).run()
    finally:
        ex.shutdown()
    assert [(r["key"], r["params"], r["seed"]) for r in a.trials] == [(r["key"], r["params"], r["seed"])
                                                                     for r in b.trials]
    assert all(r["status"] == "done" for r in b.trials), [r["error"] for r in b.trials]


def test_tpe_search_finds_the_optimum(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.setenv("GLASSNET_TEST_CENTER", "-3.5")
    res = Search(tune_helpers.bowl, {"lr": LogUniform(1e-6, 1e0)}, tmp_path, strategy="tpe", trials=25, seed=0,
                 verbose=0).run()
    assert len(res.trials) == 25 and abs(np.log10(res.best["params"]["lr"]) + 3.5) < 0.5


# ------------------------------------------------------------------------------------ configs and CLI
def test_set_path_and_config_objective():
    cfg = {"model": {"layers": [{"type": "Linear", "out_features": 3}]}, "optimizer": {"lr": 1.0}}
    set_path(cfg, "model.layers[0].out_features", 7)
    set_path(cfg, "optimizer.lr", 0.1)
    assert cfg["model"]["layers"][0]["out_features"] == 7 and cfg["optimizer"]["lr"] == 0.1
    with pytest.raises(ValueError, match="no field 'optimiser'"):
        set_path(cfg, "optimiser.lr", 1)
    with pytest.raises(ValueError, match="layers has no item 4"):
        set_path(cfg, "model.layers[4].out_features", 1)
    obj = ConfigObjective({"seed": 3, "data": {"dataset": "digits"}, "optimizer": {"lr": 1}},
                          targets={"width": ["optimizer.lr"]})
    c = obj.configure({"width": 5}, seed=11, epochs=2)
    assert c["optimizer"]["lr"] == 5 and c["seed"] == 11 and c["data"]["split_seed"] == 3


TOML = """seed = 0
[data]
dataset = "digits"
val_fraction = 0.2
preprocessing = [{type = "Standardize"}]
[model]
layers = [{type = "Linear", in_features = 64, out_features = 32}, {type = "ReLU"},
  {type = "Linear", in_features = 32, out_features = 10}]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Adam"
lr = 1e-3
[trainer]
epochs = 3
batch_size = 64
[search]
trials = 4
jobs = 1
[search.space]
"optimizer.lr" = {type = "LogUniform", low = 1e-3, high = 3e-2}
width = {type = "LogInt", low = 16, high = 64, targets = ["model.layers[0].out_features", "model.layers[2].in_features"]}
"""


def test_cli_tune_trials_ensemble(tmp_path):
    pytest.importorskip("sklearn")
    cfg = tmp_path / "s.toml"
    cfg.write_text(TOML)
    run = lambda *a: subprocess.run([sys.executable, "-m", "glassnet", *a], capture_output=True, text=True,  # noqa: E731
                                    timeout=600)
    r = run("tune", str(cfg), "--out", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    assert "rank" in r.stdout and "s0-0003" in r.stdout
    r = run("trials", str(tmp_path / "s"))
    assert "4 trials: 4 done" in r.stdout
    ckpts = [f for k in os.listdir(tmp_path / "s" / "trials") for f in
             os.listdir(tmp_path / "s" / "trials" / k / "checkpoints") if "val_accuracy" in f]
    assert ckpts  # checkpoint file names carry the validation score
    r = run("ensemble", str(tmp_path / "s"), "--top", "3")
    assert r.returncode == 0, r.stderr
    assert "ensemble of the top 3 trials" in r.stdout and "best single trial" in r.stdout
    # one page comparing every trial of the search
    r = run("compare", str(tmp_path / "s"), "--out", str(tmp_path / "cmp.html"))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "cmp.html").read_text()
    assert "glassnet comparison: 4 runs" in page and page.count('<tr data-run="') == 4
    assert "<code>optimizer.lr</code>" in page and "<code>model.layers[0].out_features</code>" in page
    assert page.count('class="pc-line"') == 4
    bad = tmp_path / "bad.toml"
    bad.write_text(TOML.replace('"optimizer.lr"', '"optimiser.lr"'))
    r = run("tune", str(bad), "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and "no field 'optimiser'" in r.stderr


def test_search_space_from_yaml(tmp_path):
    pytest.importorskip("yaml")
    from glassnet.train.run import load_config
    from glassnet.tune.config import search_from_config
    (tmp_path / "s.yaml").write_text("""
seed: 0
data: {dataset: digits, val_fraction: 0.2}
model:
  layers:
    - {type: Linear, in_features: 64, out_features: 10}
loss: {type: SoftmaxCrossEntropy}
optimizer: {type: Adam, lr: 0.001}
search:
  strategy: grid
  grid_points: 2
  space:
    optimizer.lr: {type: LogUniform, low: 0.0001, high: 0.1}
    optimizer.betas: {type: Fixed, value: [0.9, 0.999]}
""")
    objective, space, kwargs, execution = search_from_config(load_config(tmp_path / "s.yaml"))
    assert kwargs["strategy"] == "grid" and isinstance(space.dims["optimizer.lr"], LogUniform)
    assert objective.configure({"optimizer.lr": 0.01, "optimizer.betas": [0.9, 0.999]}, 1, None)["optimizer"]["lr"] == 0.01
    with pytest.raises(ValueError, match=r"search.space.optimizer.lr.type: unknown dimension 'Log'"):
        bad = load_config(tmp_path / "s.yaml")
        bad["search"]["space"]["optimizer.lr"]["type"] = "Log"
        search_from_config(bad)


# ------------------------------------------------------------------ searches that lose nothing (issue 23, item 11)
TPE_DRIVER = """
import sys
sys.path.insert(0, {here!r})
import tune_helpers
from glassnet.tune import Search, Uniform, ProcessExecutor
if __name__ == "__main__":
    ex = ProcessExecutor(2)
    Search(tune_helpers.slow, {{"x": Uniform(0, 1)}}, {folder!r}, strategy="tpe", trials=8, seed=3, executor=ex,
           jobs=2).run()
    ex.shutdown()
"""


def test_a_killed_tpe_search_finishes_the_trials_asked_for_after_a_restart(tmp_path):
    pytest.importorskip("optuna")
    folder = str(tmp_path / "search")
    script = tmp_path / "driver.py"
    script.write_text(TPE_DRIVER.format(here=HERE, folder=folder))
    db = os.path.join(folder, "trials.sqlite")
    _kill_when(script, dict(os.environ, GLASSNET_TEST_SLEEP="0.8"), db, done=2)
    time.sleep(3)  # the workers notice the driver is gone
    r = subprocess.run([sys.executable, str(script)], env=dict(os.environ, GLASSNET_TEST_SLEEP="0.05"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    store = TrialStore(db)
    rows = store.rows()
    store.close()
    finished = [x for x in rows if x["status"] in ("done", "failed")]
    interrupted = [x for x in rows if x["status"] == "interrupted"]
    assert len(finished) == 8 and all(x["status"] == "done" for x in finished)  # the 8 asked for, all finished
    assert interrupted and all("replaces it with a new proposal" in x["error"] for x in interrupted)
    assert len({x["key"] for x in rows}) == len(rows)
    assert "will be replaced by new proposals" in r.stdout


def test_a_second_driver_on_a_search_folder_is_refused(tmp_path):
    from glassnet.errors import RunFolderError
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from glassnet.train.runfolder import "
                               "FolderLock\nwith FolderLock(sys.argv[1], 'search'):\n    print('locked', flush=True); "
                               "time.sleep(60)", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderError, match=f"this search folder is in use by process {holder.pid}"):
            Search(tune_helpers.bowl, {"lr": LogUniform(1e-5, 1e-1)}, tmp_path, trials=3, verbose=0).run()
        assert not os.path.exists(tmp_path / "trials.sqlite")  # refused before touching anything
    finally:
        holder.kill()
        holder.wait()


def test_spaces_and_search_arguments_are_validated():
    from glassnet.errors import ConfigError, SearchError
    with pytest.raises(ConfigError, match=r"Choice: options must be a list of values, got str 'relu' "
                                          r"\(a list of one: \['relu'\]\?\)"):
        Choice("relu")
    with pytest.raises(ConfigError, match="options must be numbers, strings"):
        Choice([object()])
    for bad in (-1, 0, 2.5, True):
        with pytest.raises(SearchError, match=r"trials must be a positive integer"):
            Search(tune_helpers.bowl, {"lr": LogUniform(1e-5, 1e-1)}, "unused", trials=bad)
    with pytest.raises(SearchError, match="jobs must be a positive integer"):
        Search(tune_helpers.bowl, {"lr": LogUniform(1e-5, 1e-1)}, "unused", jobs=0)
    with pytest.raises(ConfigError, match=r"search.space.lr.options: unknown parameter of LogUniform \(accepted: low, high\)"):
        Space({"lr": {"type": "LogUniform", "low": 1e-3, "high": 1, "options": [1]}})
    with pytest.raises(ConfigError, match=r"search.space.lr.type: unknown dimension 'Loguniform'.*did you mean"):
        Space({"lr": {"type": "Loguniform", "low": 1e-3, "high": 1}})


def test_the_leaderboard_shows_the_epochs_each_trial_ran(tmp_path):
    from glassnet.tune import leaderboard
    rows = [{"key": "s0-0000", "status": "done", "score": 0.5, "epochs": None, "params": {"lr": 0.1},
             "metrics": {"epochs": [{}, {}, {}]}, "error": None},
            {"key": "s0-0001", "status": "done", "score": 0.4, "epochs": 7, "params": {"lr": 0.2}, "metrics": {},
             "error": None}]
    lines = leaderboard(rows).splitlines()
    assert lines[2].split()[3] == "3" and lines[3].split()[3] == "7"


def test_a_smaller_request_runs_only_the_trials_it_asks_for(tmp_path):
    """A search stopped with trials queued, continued with fewer trials, runs those and no more."""
    from glassnet.tune.store import TrialStore as Store
    Search(tune_helpers.bowl, {"lr": LogUniform(1e-5, 1e-1)}, tmp_path, trials=2, seed=1, verbose=0).run()
    store = Store(tmp_path / "trials.sqlite")
    for i in range(2, 10):  # what an interrupted request for 10 leaves behind
        store.add(f"s0-{i:04d}", 0, {"lr": 1e-3}, i, None)
    store.close()
    res = Search(tune_helpers.bowl, {"lr": LogUniform(1e-5, 1e-1)}, tmp_path, trials=4, seed=1, verbose=0).run()
    status = {r["key"]: r["status"] for r in res.trials}
    assert [k for k, s in status.items() if s == "done"] == ["s0-0000", "s0-0001", "s0-0002", "s0-0003"]
    assert sum(s == "pending" for s in status.values()) == 6
