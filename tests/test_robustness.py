"""What a new user meets on the command line and in run folders, and files from elsewhere (issue 23):
one line for every mistake, nothing overwritten or mixed, locks, files bounded by their own size."""
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import CheckpointError, RunFolderError
from glassnet.serialization import read_archive, write_archive

MOONS = """
seed = 0
[data]
dataset = "moons"
val_fraction = 0.2
test_fraction = 0.2
preprocessing = [{type = "Standardize"}]
[model]
layers = [{type = "Linear", in_features = 2, out_features = 32}, {type = "ReLU"},
          {type = "Linear", in_features = 32, out_features = 2}]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Adam"
lr = 0.02
[trainer]
epochs = EPOCHS
batch_size = 32
verbose = 0
"""


def cli(*args, cwd=None, timeout=300, env=None):
    return subprocess.run([sys.executable, "-m", "glassnet", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def one_line_error(r, pattern=""):
    """A user error: exit 2, one line on stderr starting with 'error: ', no traceback."""
    import re
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of the moons config (the model classifies its validation set perfectly)."""
    d = tmp_path_factory.mktemp("trained")
    (d / "moons.toml").write_text(MOONS.replace("EPOCHS", "40"))
    r = cli("train", d / "moons.toml", "--out", d / "run")
    assert r.returncode == 0, r.stderr
    return d


# -- item 1: a perfect model ---------------------------------------------------------------------------------
def test_a_model_without_mistakes_gets_its_summary_metrics_and_report(trained):
    run = trained / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val"]["accuracy"] == 1.0  # the case that used to crash the report
    page = (run / "report.html").read_text()
    assert "None: the model classifies all" in page
    assert "The run looks healthy" in page and "Checked:" in page  # the doctor says so, and what it looked at
    r = cli("report", run)
    assert r.returncode == 0, r.stderr


def test_a_perfect_trial_is_a_finished_trial(tmp_path):
    from glassnet.tune import Search
    from glassnet.tune.config import search_from_config
    cfg = json_cfg(MOONS.replace("EPOCHS", "40"))
    cfg["search"] = {"trials": 1, "space": {"optimizer.lr": {"type": "Fixed", "value": 0.02}}}
    objective, space, kwargs, _ = search_from_config(cfg)
    res = Search(objective, space, tmp_path / "s", verbose=0, **kwargs).run()
    assert res.trials[0]["status"] == "done" and res.trials[0]["score"] == 1.0, res.trials[0]["error"]


def json_cfg(text):
    import tomllib
    return tomllib.loads(text)


# -- item 3: one line for every everyday mistake ---------------------------------------------------------------
def test_evaluate_and_predict_mistakes_are_one_line(trained, tmp_path):
    model = trained / "run" / "model.npz"
    d = gn.data.make_moons(seed=5)
    np.savez(tmp_path / "features.npz", X=np.c_[d.X, d.X], y=d.y)
    np.savez(tmp_path / "labels.npz", X=d.X, y=np.where(np.arange(len(d.y)) == 7, 4, d.y))
    np.savez(tmp_path / "flat.npz", X=d.X[:, 0], y=d.y)
    np.savez(tmp_path / "nan.npz", X=np.where(np.arange(d.X.size).reshape(d.X.shape) == 11, np.nan, d.X), y=d.y)
    np.save(tmp_path / "flat.npy", d.X[:, 0])
    np.save(tmp_path / "empty.npy", d.X[:0])
    one_line_error(cli("evaluate", model, "--data", tmp_path / "features.npz"), r"fitted on 2 features")
    one_line_error(cli("evaluate", model, "--data", tmp_path / "labels.npz"),
                   r"y: row 7 has label 4, but the model outputs 2 class scores")
    one_line_error(cli("evaluate", model, "--data", tmp_path / "flat.npz"), r"one row per example")
    one_line_error(cli("evaluate", model, "--data", tmp_path / "nan.npz"), r"X: row 5, column 1 is nan")
    one_line_error(cli("predict", model, tmp_path / "flat.npy"), r"one row per example")
    one_line_error(cli("predict", model, tmp_path / "missing.npy"), r"no such file")
    r = cli("predict", model, tmp_path / "empty.npy")  # zero rows: zero predictions
    assert r.returncode == 0 and r.stdout == "", r.stderr


def _crafted(path, src, change):
    arrays, meta = read_archive(src)
    arrays, meta = change(dict(arrays), json.loads(json.dumps(meta)))
    write_archive(path, arrays, meta)  # a valid checksum: only the content is wrong
    return path


def test_model_files_from_elsewhere_are_refused_in_one_line(trained, tmp_path):
    src, x = trained / "run" / "model.npz", tmp_path / "x.npy"
    np.save(x, np.zeros((2, 2), np.float32))

    def layer(t):
        def change(a, m):
            m["architecture"]["layers"][1]["type"] = t
            return a, m
        return change
    cases = [
        (layer("Relu"), r"the stored architecture cannot be built: .*unknown layer 'Relu'.*did you mean 'ReLU'"),
        (lambda a, m: (a, dict(m, dtype="complex64")), r"stores the dtype 'complex64'"),
        (lambda a, m: (a, dict(m, architecture=["not", "a", "table"])), r"the stored architecture is not a table"),
        (lambda a, m: ({**a, "model/0.W": a["model/0.W"].astype(np.complex64)}, m), r"holds complex64 values"),
    ]
    for i, (change, pattern) in enumerate(cases):
        path = _crafted(tmp_path / f"m{i}.npz", src, change)
        one_line_error(cli("predict", path, x), pattern)


def test_resume_from_a_truncated_checkpoint_is_one_line(trained, tmp_path):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    last = run / "checkpoints" / "last.npz"
    last.write_bytes(last.read_bytes()[:3000])
    one_line_error(cli("train", "--resume", run), r"last.npz: cannot be read .*truncated or corrupted")


def test_ctrl_c_exits_130_with_the_resume_command_and_the_checkpoint_intact(tmp_path):
    (tmp_path / "long.toml").write_text(MOONS.replace("EPOCHS", "100000"))
    out = tmp_path / "run"
    # PYTHONFAULTHANDLER: should the child ever not end after Ctrl-C, SIGABRT makes it print every
    # thread's stack, and the failure shows where it was stuck
    p = subprocess.Popen([sys.executable, "-m", "glassnet", "train", str(tmp_path / "long.toml"), "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    last = out / "checkpoints" / "last.npz"
    deadline = time.time() + 120
    while time.time() < deadline and not last.exists():
        time.sleep(0.1)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGABRT)
        _, err = p.communicate(timeout=30)
        pytest.fail(f"the run did not end within 60 s of Ctrl-C; its stacks:\n{err[-6000:]}")
    assert p.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"resume with: glassnet train --resume {out}" in lines[0]
    read_archive(last)  # the last complete checkpoint reads back (checksum verified)
    assert not (out / ".glassnet.lock").exists()  # the lock went with the process


def test_a_closed_pipe_ends_quietly(trained, tmp_path):
    # 200,000 predictions (about 1.4 MB) cannot all fit in the pipe's buffer before the reader goes
    np.save(tmp_path / "many.npy", np.random.default_rng(0).standard_normal((200_000, 2)).astype(np.float32))
    p = subprocess.Popen([sys.executable, "-m", "glassnet", "predict", str(trained / "run" / "model.npz"),
                          str(tmp_path / "many.npy")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()  # what `| head -1` does
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert p.returncode == 141


def test_debug_shows_the_traceback(trained, tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros(3, np.float32))
    r = cli("predict", trained / "run" / "model.npz", tmp_path / "flat.npy", "--debug")
    assert r.returncode == 1 and "Traceback" in r.stderr and "DataError" in r.stderr


# -- item 7: run folders are never overwritten silently --------------------------------------------------------
def test_an_existing_run_folder_is_refused_unless_resumed_or_forced(trained, tmp_path):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    before = (run / "model.npz").read_bytes()
    one_line_error(cli("train", trained / "moons.toml", "--out", run),
                   r"already holds a run; resume it with: glassnet train --resume .*--force")
    assert (run / "model.npz").read_bytes() == before
    (run / "checkpoints" / "epoch999-val_accuracy0.1234.npz").write_bytes(b"old")
    (run / "notes.txt").write_text("mine")
    cfg = trained / "short.toml"
    cfg.write_text(MOONS.replace("EPOCHS", "3"))
    r = cli("train", cfg, "--out", run, "--force")
    assert r.returncode == 0, r.stderr
    names = os.listdir(run / "checkpoints")
    assert "epoch999-val_accuracy0.1234.npz" not in names  # nothing of the old run mixes in
    assert all(int(n[5:8]) <= 3 for n in names if n.startswith("epoch"))
    assert (run / "notes.txt").read_text() == "mine"  # files that are not glassnet's stay


def test_without_out_every_run_gets_a_fresh_folder(trained, tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('name = "my exp"\n' + MOONS.replace("EPOCHS", "2"))
    for _ in range(2):
        assert cli("train", cfg, cwd=tmp_path).returncode == 0
    runs = sorted(os.listdir(tmp_path / "runs"))
    assert len(runs) == 2 and all(r.startswith("my-exp-") for r in runs), runs


def test_two_processes_never_write_one_folder(tmp_path):
    from glassnet.train.runfolder import FolderLock
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from glassnet.train.runfolder import "
                               "FolderLock\nwith FolderLock(sys.argv[1]):\n    print('locked', flush=True); "
                               "time.sleep(60)", str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        (tmp_path / "c.toml").write_text(MOONS.replace("EPOCHS", "2"))
        line = one_line_error(cli("train", tmp_path / "c.toml", "--out", tmp_path / "run"),
                              rf"this run folder is in use by process {holder.pid}")
        assert "wait for it to finish or use another folder" in line
        with pytest.raises(RunFolderError, match="in use by process"):
            FolderLock(tmp_path / "run").acquire()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (killed): its lock is taken over, with a note
    r = cli("train", tmp_path / "c.toml", "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    assert f"taking over the lock of {tmp_path / 'run'}, left by process {holder.pid}" in r.stderr


# -- items 8 and 9: permissions, the best k checkpoints and one best model -------------------------------------
def test_files_honour_the_umask_and_the_folder_holds_the_best_k(tmp_path):
    (tmp_path / "c.toml").write_text(MOONS.replace("EPOCHS", "30").replace("verbose = 0", "verbose = 0\n"
                                                                              "save_best_only = false"))
    old = os.umask(0o022)
    try:
        r = cli("train", tmp_path / "c.toml", "--out", tmp_path / "run")
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "run"
    for f in ("model.npz", "metrics.json", "report.html", "checkpoints/last.npz"):
        if (run / f).exists():
            assert stat.S_IMODE(os.stat(run / f).st_mode) == 0o644, f
    names = sorted(os.listdir(run / "checkpoints"))
    epochs = [n for n in names if n.startswith("epoch")]
    assert len(epochs) == 3 and {"best.npz", "last.npz"} <= set(names), names
    metrics = json.loads((run / "metrics.json").read_text())
    sel = metrics["selected"]
    assert sel["monitor"] == "val_accuracy" and sel["value"] == max(
        e["val_accuracy"] for e in json.loads((run / "history.json").read_text())["epochs"])
    # the three kept are the three best by the monitor, and model.npz is the best of them
    scores = sorted((float(n.split("val_accuracy")[1][:-4]) for n in epochs), reverse=True)
    assert scores[0] == pytest.approx(sel["value"], abs=1e-4)
    best = gn.load(run / "checkpoints" / "best.npz", with_preprocessing=False)
    model = gn.load(run / "model.npz", with_preprocessing=False)
    for k, v in best.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


# -- item 10: files from elsewhere, bounded by their own size --------------------------------------------------
def _small_model_file(path):
    net = gn.nn.Sequential(gn.nn.Linear(3, 2, rng=0), gn.nn.ReLU(), gn.nn.Linear(2, 2, rng=1))
    prep = gn.data.Standardize().fit(np.random.default_rng(0).standard_normal((10, 3)))
    gn.save(net, path, preprocessing=prep)
    return net, prep


def test_every_flipped_byte_loads_identical_weights_or_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    net, prep = _small_model_file(path)
    data = path.read_bytes()
    flipped = tmp_path / "f.npz"
    refused = identical = 0
    for i in range(len(data)):
        flipped.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        try:
            model, p2 = gn.load(flipped, with_preprocessing=True)
        except CheckpointError:
            refused += 1
            continue
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(model.state_dict()[k], v)
        np.testing.assert_array_equal(p2.mean_, prep.mean_)
        identical += 1
    # flips in checksummed content are refused; a flip in a field nobody reads (a zip timestamp, the
    # padding of a header) leaves the same file content
    assert refused + identical == len(data) and refused > len(data) // 2


def test_a_huge_architecture_is_refused_before_it_is_built(tmp_path):
    path = tmp_path / "m.npz"
    _small_model_file(path)

    def huge(a, m):
        m["architecture"]["layers"][0]["out_features"] = 10 ** 7  # 30 million values, ~100 stored
        m["architecture"]["layers"][2]["in_features"] = 10 ** 7
        return a, m
    crafted = _crafted(tmp_path / "huge.npz", path, huge)
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match="the architecture needs more than the .* parameter values stored"):
        gn.load(crafted)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB: nothing was filled


def _rewrite_member(src, dst, name, payload):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, payload if info.filename == name else zin.read(info))


def test_npy_headers_nesting_and_zip_oddities_are_checkpoint_errors(tmp_path):
    path = tmp_path / "m.npz"
    _small_model_file(path)
    # a header that claims a huge shape
    with zipfile.ZipFile(path) as z:
        raw = z.read("model/0.W.npy")
    header = raw[:raw.index(b"\n") + 1]
    claim = header.replace(b"(3, 2)", b"(300000, 200000)")
    claim = claim[:-1].ljust(len(header) - 1) + b"\n" if len(claim) <= len(header) else claim
    _rewrite_member(path, tmp_path / "shape.npz", "model/0.W.npy", claim + raw[len(header):])
    with pytest.raises(CheckpointError, match=r"claims shape \(300000, 200000\)"):
        gn.load(tmp_path / "shape.npz")
    # metadata nested deeply: json's own recursion limit, and glassnet's cap below it
    import io
    for depth, pattern in ((100_000, "nests too deeply"), (500, "nests deeper than 100 levels")):
        text = '{"kind": "model", "extra": ' + "[" * depth + "]" * depth + "}"
        buf = io.BytesIO()
        np.save(buf, np.frombuffer(text.encode(), dtype=np.uint8))
        _rewrite_member(path, tmp_path / "deep.npz", "__meta__.json.npy", buf.getvalue())
        with pytest.raises(CheckpointError, match=pattern):
            gn.load(tmp_path / "deep.npz")
    # a member compressed with a method glassnet never writes
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp_path / "bz.npz", "w", zipfile.ZIP_BZIP2) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    with pytest.raises(CheckpointError, match="not a plain .npy array"):
        gn.load(tmp_path / "bz.npz")
    # an encrypted member (flag bit 0 in its directory entry): zipfile raises RuntimeError for it
    data = bytearray(path.read_bytes())
    i = data.index(b"PK\x01\x02")
    data[i + 8] |= 1
    (tmp_path / "enc.npz").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="RuntimeError.*encrypted"):
        gn.load(tmp_path / "enc.npz")
    with pytest.raises(CheckpointError, match="is a folder"):
        gn.load(tmp_path)


def test_ctrl_c_inside_a_finalizer_is_not_lost(tmp_path):
    """Python swallows an exception raised while the garbage collector runs a ``__del__`` (it
    prints "Exception ignored" and carries on): a Ctrl-C landing there would leave a command
    running. The CLI's handler sends it again once the finalizer has returned. A child process
    installs that handler, gets SIGINT in the middle of a slow ``__del__`` and must be interrupted
    right after it, with nothing printed."""
    script = tmp_path / "finalizer.py"
    script.write_text(
        "import os, signal, sys, threading, time\n"
        "from glassnet.cli import _on_interrupt\n"
        "signal.signal(signal.SIGINT, _on_interrupt)\n"
        "class Slow:\n"
        "    def __del__(self):\n"
        "        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "        end = time.time() + 0.5\n"
        "        while time.time() < end:\n"
        "            pass\n"
        "t0 = time.time()\n"
        "try:\n"
        "    Slow()\n"
        "    while time.time() < t0 + 5:\n"
        "        pass\n"
        "    print('not interrupted')\n"
        "except KeyboardInterrupt:\n"
        "    print(f'interrupted after {time.time() - t0:.1f} s')\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.startswith("interrupted after 0."), r.stdout


# -- a run folder's files: one reader, one answer for every command ------------------------------------------------

@pytest.mark.parametrize("name", ["history.json", "metrics.json", "config.json"])
def test_a_damaged_run_file_is_named_by_every_command_that_reads_it(trained, tmp_path, name):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    (run / name).write_text('{"epochs": [')  # cut short, as by a full disk in another tool
    other = tmp_path / "other"
    shutil.copytree(trained / "run", other)
    for args in (("doctor", run), ("report", run), ("compare", run, other, "--out", tmp_path / "c.html")):
        one_line_error(cli(*args), rf"{name}: not valid JSON .*the file is damaged")


def test_a_missing_history_is_named_by_every_command_that_needs_it(trained, tmp_path):
    import shutil
    from glassnet.errors import DataNotFoundError
    from glassnet.train.runfolder import read_run_file
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    os.remove(run / "history.json")
    assert read_run_file(run, "history.json", required=False) is None
    with pytest.raises(DataNotFoundError, match="has no history.json"):
        read_run_file(run, "history.json")
    one_line_error(cli("doctor", run), "has no history.json; is it a run folder written by 'glassnet train'")
    (run / "metrics.json").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(RunFolderError, match="metrics.json: not valid JSON"):
        read_run_file(run, "metrics.json", required=False)
