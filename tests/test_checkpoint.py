"""Saving, loading and resuming: exact, atomic and defensive."""
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.serialization import CheckpointError, read_archive

import ckpt_script

HERE = os.path.dirname(os.path.abspath(__file__))


def test_kill_and_resume_in_a_new_process_matches_uninterrupted(tmp_path):
    straight, data = ckpt_script.build()
    straight.fit(data, val=data, epochs=6, batch_size=16, seed=3)

    path = tmp_path / "half.npz"
    r = subprocess.run([sys.executable, os.path.join(HERE, "ckpt_script.py"), "first-half", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    resumed, data = ckpt_script.build()
    resumed.model.reset_parameters(99)  # nothing of the fresh model may leak into the resumed run
    resumed.fit(data, val=data, epochs=6, batch_size=16, seed=3, resume=path)

    for k, v in straight.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[k], v, err_msg=k)
    assert resumed.history.iterations == straight.history.iterations
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time"} for r in rows]  # noqa: E731
    assert strip(resumed.history.epochs) == strip(straight.history.epochs)
    assert resumed.history.stop_reason == straight.history.stop_reason == "completed 6 epochs"
    pick = lambda tr: next(c for c in tr.callbacks if isinstance(c, gn.callbacks.PolyakAveraging))  # noqa: E731
    pa_s, pa_r = pick(straight), pick(resumed)
    for k in pa_s.average:
        np.testing.assert_array_equal(pa_s.average[k], pa_r.average[k])


def test_resume_with_step_schedule_and_every_optimizer_state(tmp_path):
    d = gn.data.make_spiral(n_per_class=30, seed=1)

    def build():
        net = gn.nn.Sequential(gn.nn.Linear(2, 16, rng=0), gn.nn.Tanh(), gn.nn.Linear(16, 3, rng=1))
        return gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1, momentum=0.9, nesterov=True),
                          schedule=gn.optim.schedules.LinearWarmup(gn.optim.schedules.InverseTime(0.01), warmup=5),
                          schedule_unit="step", verbose=0)

    a = build()
    a.fit((d.X, d.y), epochs=4, batch_size=20, seed=1)
    b = build()
    b.fit((d.X, d.y), epochs=2, batch_size=20, seed=1)
    b.save_checkpoint(tmp_path / "c.npz")
    c = build()
    c.fit((d.X, d.y), epochs=4, batch_size=20, seed=1, resume=tmp_path / "c.npz")
    for k, v in a.model.state_dict().items():
        np.testing.assert_array_equal(c.model.state_dict()[k], v)
    assert c.optimizer.lr == a.optimizer.lr


def test_a_resumed_run_draws_the_same_augmentations(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 60)

    def build():
        net = gn.nn.Sequential(gn.nn.Conv2d(1, 4, 3, padding=1, rng=0), gn.nn.ReLU(), gn.nn.Flatten(),
                               gn.nn.Linear(144, 3, rng=1))
        return gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=0.01), verbose=0,
                          augment=gn.data.Compose(gn.data.RandomShift(1), gn.data.GaussianNoise(0.2)))

    straight = build()
    straight.fit((X, y), epochs=4, batch_size=16, seed=5)
    half = build()
    half.fit((X, y), epochs=2, batch_size=16, seed=5)
    half.save_checkpoint(tmp_path / "half.npz")
    resumed = build()
    resumed.fit((X, y), epochs=4, batch_size=16, seed=5, resume=tmp_path / "half.npz")
    for k, v in straight.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[k], v, err_msg=k)
    plain = build()
    plain.augment = None
    plain.fit((X, y), epochs=4, batch_size=16, seed=5)
    assert not np.allclose(plain.model.state_dict()["3.W"], straight.model.state_dict()["3.W"])


def test_a_run_killed_mid_write_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "ckpt.npz"
    rng = np.random.default_rng(0)
    for _attempt in range(4):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "ckpt_script.py"), "write-forever", str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(float(rng.uniform(0.05, 0.4)))  # somewhere in the middle of some write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        arrays, meta = read_archive(path)  # must be a complete, verified checkpoint
        assert meta["kind"] == "checkpoint" and arrays["model/0.W"].shape == (1000, 2000)
    # a kill can leave a stray ".tmp-*" file beside it; the checkpoint itself is always whole


def test_failed_write_never_replaces_a_good_checkpoint(tmp_path, monkeypatch):
    from glassnet import serialization
    net = gn.nn.Linear(3, 2, rng=0)
    gn.save(net, tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(serialization.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        gn.save(gn.nn.Linear(3, 2, rng=1), tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert [p for p in os.listdir(tmp_path)] == ["m.npz"]  # the temporary file was removed


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    net = gn.nn.Sequential(gn.nn.Linear(4, 8, rng=0), gn.nn.BatchNorm1d(8), gn.nn.LeakyReLU(0.2),
                           gn.nn.Residual(gn.nn.Sequential(gn.nn.Linear(8, 8, rng=1), gn.nn.Tanh())),
                           gn.nn.Dropout(0.5), gn.nn.Maxout(8, 3, pieces=2, rng=2))
    X = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    net.forward(X)  # running statistics move
    net.eval()
    prep = gn.data.Standardize().fit(X * 3 + 1)
    gn.save(net, tmp_path / "model.npz", preprocessing=prep, extra={"class_names": ["a", "b", "c"]})
    loaded, prep2, extra = gn.load(tmp_path / "model.npz", with_preprocessing=True, return_extra=True)
    loaded.eval()
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    np.testing.assert_array_equal(prep2.transform(X), prep.transform(X))
    assert extra["class_names"] == ["a", "b", "c"]
    assert not zipfile.ZipFile(tmp_path / "model.npz").namelist() == []
    with np.load(tmp_path / "model.npz", allow_pickle=False) as z:  # plain npz, no pickle needed
        assert "model/0.W" in z.files


def test_corrupted_truncated_and_foreign_files_are_refused(tmp_path):
    net = gn.nn.Linear(30, 20, rng=0)
    good = tmp_path / "good.npz"
    gn.save(net, good)
    data = bytearray(good.read_bytes())
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        gn.load(trunc)
    # flip bytes inside the stored weights (npz is an uncompressed zip: the array bytes are verbatim)
    w = net.W.data.tobytes()
    pos = bytes(data).find(w[:64])
    assert pos > 0
    data[pos + 10] ^= 0xFF
    flipped = tmp_path / "flipped.npz"
    flipped.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch|truncated or corrupted"):
        gn.load(flipped)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, W=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a glassnet file"):
        gn.load(foreign)
    with pytest.raises(CheckpointError, match="no such file"):
        gn.load(tmp_path / "missing.npz")


def test_checkpoint_for_another_architecture_is_refused(tmp_path):
    d = gn.data.make_spiral(n_per_class=10)
    a = gn.nn.Sequential(gn.nn.Linear(2, 8, rng=0), gn.nn.ReLU(), gn.nn.Linear(8, 3, rng=1))
    ta = gn.Trainer(a, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(a), verbose=0)
    ta.fit((d.X, d.y), epochs=1, batch_size=10)
    ta.save_checkpoint(tmp_path / "a.npz")
    b = gn.nn.Sequential(gn.nn.Linear(2, 16, rng=0), gn.nn.ReLU(), gn.nn.Linear(16, 3, rng=1))
    tb = gn.Trainer(b, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(b), verbose=0)
    with pytest.raises(CheckpointError, match=r"'0.W' has shape \(2, 8\) in the state but \(2, 16\)"):
        tb.fit((d.X, d.y), epochs=2, resume=tmp_path / "a.npz")
    c = gn.nn.Sequential(gn.nn.Linear(2, 3, rng=0))
    tc = gn.Trainer(c, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(c), verbose=0)
    with pytest.raises(CheckpointError, match="written for a model with parameters"):
        tc.load_checkpoint(tmp_path / "a.npz")
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        gn.save(a, tmp_path / "model.npz")
        ta.load_checkpoint(tmp_path / "model.npz")


def test_optimizer_state_created_eagerly_so_checkpoint_before_training_works(tmp_path):
    net = gn.nn.Linear(2, 2, rng=0)
    tr = gn.Trainer(net, gn.nn.MSE(), gn.optim.Adam(net), verbose=0)
    tr.rng = np.random.default_rng(0)
    tr.save_checkpoint(tmp_path / "zero.npz")
    arrays, meta = read_archive(tmp_path / "zero.npz")
    assert meta["epoch"] == 0 and "optim/0.0.m" in arrays


def test_checkpoints_carry_the_loss_for_evaluation(tmp_path):
    net = gn.nn.Linear(2, 1, rng=0)
    tr = gn.Trainer(net, gn.nn.MSE(), gn.optim.SGD(net), verbose=0)
    tr.rng = np.random.default_rng(0)
    tr.save_checkpoint(tmp_path / "c.npz")
    _, extra = gn.load(tmp_path / "c.npz", return_extra=True)
    assert extra["loss"] == {"type": "MSE"}
