"""Data-parallel training on MPI (glassnet.distributed).

The MPI tests start real jobs with ``mpiexec -n 2`` (mpi4py and the MPICH wheel; they skip
without them): two ranks at batch B end with the same float64 weights as one process at batch
2B (an MLP, a CNN with SyncBatchNorm), dropout draws each rank's own masks, a killed run resumes
with two ranks or with one, a failing or hanging rank ends the job with its rank named, and
``mpiexec -n 2 glassnet train`` writes one run folder and prints once. The rest runs in every
environment: the one-process communicator, sharding, the gradient buckets, SyncBatchNorm in one
process, and the Trainer's argument."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.distributed import GradientReducer, SingleProcess, launched_size, shard

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "mpi_script.py")


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.path.exists(local) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="MPI is not installed (pip install 'glassnet[mpi]')")


def _env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **extra)
    # the launcher's variables of an enclosing job would confuse the children
    for var in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(var, None)
    return env


def _mpi(n, *args, timeout=120, **env):
    cmd = [MPIEXEC, "-n", str(n), sys.executable, SCRIPT, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(**env))


def _single(*args):
    cmd = [sys.executable, SCRIPT, *map(str, args), "--single"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_env())
    assert res.returncode == 0, res.stderr
    return res


def _weights(path):
    data = np.load(path)
    return {k: data[k] for k in data.files if k.startswith(("p/", "b/"))}, data


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


# --------------------------------------------------------------------------------------------- MPI jobs
@needs_mpi
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_two_ranks_at_batch_b_equal_one_process_at_batch_2b(tmp_path, model):
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir(), one.mkdir()
    res = _mpi(2, two, model, 16, 3)
    assert res.returncode == 0, res.stderr
    _single(one, model, 32, 3)
    w0, d0 = _weights(two / "rank0.npz")
    w1, _ = _weights(two / "rank1.npz")
    ws, ds = _weights(one / "rank0-single.npz")
    assert int(d0["ranks"]) == 2
    assert _max_diff(w0, w1) == 0.0  # the ranks hold one model
    assert _max_diff(w0, ws) < 1e-10  # and it is the one-process model (with the running statistics)
    # 100 rows, global batch 32: 4 steps per epoch, the last of 4 rows (2 per rank)
    assert len(d0["loss"]) == 12
    np.testing.assert_allclose(d0["loss"], ds["loss"], rtol=0, atol=1e-12)  # the global batch's loss
    np.testing.assert_allclose(d0["val_loss"], ds["val_loss"], rtol=0, atol=1e-12)  # over every rank's part
    np.testing.assert_array_equal(d0["accuracy"], ds["accuracy"])
    # only rank 0 wrote checkpoints (one file each), all in the folder
    assert sorted(os.listdir(two / "ckpt"))[-2:] == ["epoch003-val_loss%.4f.npz" % d0["val_loss"][-1], "last.npz"]


@needs_mpi
def test_dropout_draws_each_ranks_own_masks_and_the_weights_stay_one(tmp_path):
    res = _mpi(2, tmp_path, "dropout", 16, 2)
    assert res.returncode == 0, res.stderr
    w0, d0 = _weights(tmp_path / "rank0.npz")
    w1, d1 = _weights(tmp_path / "rank1.npz")
    assert _max_diff(w0, w1) == 0.0
    assert np.abs(d0["probe"] - d1["probe"]).max() > 1e-3  # the same input, other masks


@needs_mpi
def test_a_killed_job_resumes_with_two_ranks_or_with_one(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir(), killed.mkdir()
    assert _mpi(2, whole, "mlp", 16, 4).returncode == 0
    res = _mpi(2, killed, "mlp", 16, 4, "--kill-at", 3)
    assert res.returncode != 0 and not (killed / "rank0.npz").exists()
    assert (killed / "ckpt" / "last.npz").exists()
    alone = tmp_path / "alone"
    shutil.copytree(killed, alone)
    res = _mpi(2, killed, "mlp", 16, 4, "--resume")
    assert res.returncode == 0, res.stderr
    _single(alone, "mlp", 32, 4, "--resume")  # the same global batch in one process
    ref, dref = _weights(whole / "rank0.npz")
    for path in (killed / "rank0.npz", alone / "rank0-single.npz"):
        w, d = _weights(path)
        assert _max_diff(w, ref) < 1e-10
        np.testing.assert_allclose(d["loss"], dref["loss"], rtol=0, atol=1e-12)


@needs_mpi
def test_a_failing_rank_ends_the_job_and_is_named(tmp_path):
    res = _mpi(2, tmp_path, "mlp", 16, 4, "--fail-at", 2, TEST_TIMEOUT="600")
    assert res.returncode != 0
    assert "waited" not in res.stderr  # ended by the failing rank's abort, not by the others' deadline
    assert ("glassnet: rank 1 of 2 failed (ValueError: a planned failure at epoch 2); stopping every rank"
            in res.stderr)


@needs_mpi
def test_a_hanging_rank_times_out_the_others(tmp_path):
    res = _mpi(2, tmp_path, "mlp", 16, 4, "--hang-at", 2, TEST_TIMEOUT="2")
    assert res.returncode != 0
    assert "rank 0 of 2: allreduce" in res.stderr and "waited 2 s for the other ranks" in res.stderr


@needs_mpi
def test_ranks_with_other_data_stop_before_the_first_step(tmp_path):
    res = _mpi(2, tmp_path, "mlp", 16, 2, "--disagree")
    assert res.returncode != 0
    assert "rank 1 of 2: the ranks do not agree: training rows 90 here, 100 on rank 0" in res.stderr
    assert not (tmp_path / "ckpt").exists() or not os.listdir(tmp_path / "ckpt")  # nothing written


@needs_mpi
def test_a_fresh_seed_is_rank_0s_on_every_rank(tmp_path):
    res = _mpi(2, tmp_path, "dropout", 16, 2, "--seed-none")
    assert res.returncode == 0, res.stderr
    (w0, d0), (w1, d1) = _weights(tmp_path / "rank0.npz"), _weights(tmp_path / "rank1.npz")
    assert int(d0["seed"]) == int(d1["seed"]) and _max_diff(w0, w1) == 0.0


CONFIG = """
name = "digits-dp"
seed = 0
[data]
dataset = "digits"
val_fraction = 0.2
preprocessing = [{type = "Standardize"}]
[model]
layers = [{type = "Linear", in_features = 64, out_features = 32}, {type = "SyncBatchNorm", num_features = 32},
          {type = "ReLU"}, {type = "Linear", in_features = 32, out_features = 10}]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Adam"
lr = 1e-3
[trainer]
epochs = 2
batch_size = %d
lr_scaling = "linear"
"""


@needs_mpi
def test_mpiexec_glassnet_train_writes_one_run_and_prints_once(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG % 32)
    glassnet = [sys.executable, "-m", "glassnet"]
    run = lambda *a: subprocess.run([MPIEXEC, "-n", "2", *glassnet, *a], capture_output=True, text=True,  # noqa: E731
                                    timeout=180, env=_env())
    res = run("train", str(cfg), "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("Summary") == 1 and res.stdout.count("epoch   1/2") == 1
    assert "on 2 ranks (global batch 64: 32 per rank)" in res.stdout
    assert "lr 0.002" in res.stdout  # the linear scaling rule: 1e-3 * 2 ranks
    import json
    metrics = json.load(open(tmp_path / "run" / "metrics.json"))
    assert metrics["ranks"] == 2 and 0 < metrics["test"]["accuracy"] <= 1
    model = gn.load(str(tmp_path / "run" / "model.npz"), with_preprocessing=True)[0]
    assert type(model[1]).__name__ == "SyncBatchNorm"
    # a folder that holds a run: rank 0's verdict, printed once
    res = run("train", str(cfg), "--out", str(tmp_path / "run"))
    assert res.returncode == 2 and res.stderr.count("already holds a run") == 1
    assert len(res.stderr.strip().splitlines()) == 1
    # a config error every rank finds: one line
    cfg.write_text(CONFIG % 0)
    res = run("train", str(cfg), "--out", str(tmp_path / "other"))
    assert res.returncode == 2 and res.stderr.strip() == "error: trainer.batch_size: expected an integer >= 1, got 0"


# ----------------------------------------------------------------------------------- one process, always
def test_the_one_process_world_leaves_data_as_it_is():
    comm = SingleProcess()
    a = np.arange(4.0)
    assert comm.allreduce(a) is a and comm.broadcast(a) is a and comm.allgather(a) is a
    assert comm.iallreduce(a).done and comm.broadcast_object({"x": 1}) == {"x": 1}
    assert comm.rank == 0 and comm.size == 1 and comm.is_main
    assert gn.distributed.world().size == 1


def test_shard_splits_a_global_batch_as_array_split():
    class Rank(SingleProcess):
        def __init__(self, rank, size):
            self.rank, self.size = rank, size

    for n in (0, 1, 5, 32, 33):
        for p in (2, 3, 4):
            idx = np.arange(100, 100 + n)
            parts = [shard(idx, Rank(r, p)) for r in range(p)]
            expected = np.array_split(idx, p)
            for got, want in zip(parts, expected):
                np.testing.assert_array_equal(got, want)


def test_launched_size_reads_the_launchers_variables(monkeypatch):
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_STEP_ID"):
        monkeypatch.delenv(var, raising=False)
    assert launched_size() == 1
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert launched_size() == 4
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE")
    monkeypatch.setenv("SLURM_STEP_ID", "0")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "8")
    assert launched_size() == 8


def test_buckets_hold_every_gradient_in_reverse_order_and_start_during_backward():
    rng = np.random.default_rng(0)
    net = gn.nn.Sequential(gn.nn.Linear(8, 64, rng=rng), gn.nn.ReLU(), gn.nn.Linear(64, 64, rng=rng), gn.nn.ReLU(),
                           gn.nn.Linear(64, 3, rng=rng))
    net[0].b.frozen = True  # frozen parameters are not reduced
    reducer = GradientReducer(net, SingleProcess(), bucket_bytes=64 * 64 * 4).attach()
    order = [p for b in reducer.buckets for p in b.params]
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert [id(p) for p in order] == [id(p) for p in reversed(trainable)]
    assert len(reducer.buckets) == 2 and all(b.buffer.dtype == np.float32 for b in reducer.buckets)
    x = rng.normal(size=(5, 8)).astype(np.float32)
    reducer.begin()
    out = net.forward(x)
    net.backward(np.ones_like(out))
    expected = [p.grad.copy() for p in trainable]
    assert reducer.stats["started_in_backward"] == 2  # both buckets began before backward returned
    reducer.finish()
    for p, g in zip(trainable, expected):
        np.testing.assert_array_equal(p.grad, g)
    reducer.detach()
    assert all(not m._backward_hooks for m in net.modules())


def test_sync_batchnorm_in_one_process_is_batchnorm():
    rng = np.random.default_rng(0)
    for shape, plain in (((6, 3), gn.nn.BatchNorm1d(3, dtype=np.float64)),
                         ((6, 3, 4, 4), gn.nn.BatchNorm2d(3, dtype=np.float64))):
        sync = gn.nn.SyncBatchNorm(3, dtype=np.float64)
        x = rng.normal(size=shape)
        d = rng.normal(size=shape)
        np.testing.assert_allclose(sync.forward(x), plain.forward(x), rtol=0, atol=1e-14)
        np.testing.assert_allclose(sync.backward(d), plain.backward(d), rtol=0, atol=1e-13)
        np.testing.assert_allclose(sync.gamma.grad, plain.gamma.grad, rtol=0, atol=1e-12)
        np.testing.assert_allclose(sync.running_var, plain.running_var, rtol=0, atol=1e-15)
        sync.eval(), plain.eval()
        np.testing.assert_allclose(sync.forward(x), plain.forward(x), rtol=0, atol=1e-14)


def test_sync_batchnorm_refuses_a_comm_that_is_not_one():
    with pytest.raises(gn.errors.ConfigError, match="comm must be a glassnet.distributed Communicator"):
        gn.nn.build({"type": "SyncBatchNorm", "num_features": 3, "comm": "world"})


def test_sync_batchnorm_gradient_check():
    from glassnet.gradcheck import check_module

    rng = np.random.default_rng(1)
    layer = gn.nn.SyncBatchNorm(3, dtype=np.float64)
    layer.gamma.data[...] = rng.normal(size=3)
    report = check_module(layer, rng.normal(size=(4, 3, 2, 2)))
    assert report.passed, report


def test_convert_sync_batchnorm_keeps_order_values_and_mode():
    rng = np.random.default_rng(0)
    net = gn.nn.Sequential(gn.nn.Conv2d(1, 2, 3, rng=rng), gn.nn.BatchNorm2d(2), gn.nn.ReLU(), gn.nn.Flatten(),
                           gn.nn.Linear(8, 4, rng=rng), gn.nn.BatchNorm1d(4))
    net[1].running_mean[...] = [1.0, 2.0]
    net.eval()
    x = rng.normal(size=(3, 1, 4, 4)).astype(np.float32)
    before = net.forward(x)
    gn.nn.convert_sync_batchnorm(net)
    assert net.names() == ["0", "1", "2", "3", "4", "5"]
    assert [type(m).__name__ for m in net] == ["Conv2d", "SyncBatchNorm", "ReLU", "Flatten", "Linear", "SyncBatchNorm"]
    assert not net[1].training
    np.testing.assert_array_equal(net.forward(x), before)
    assert gn.nn.build(net.config())[5].num_features == 4


def test_sequential_item_assignment_keeps_the_childs_place():
    net = gn.nn.Sequential(gn.nn.Linear(2, 3), gn.nn.ReLU(), gn.nn.Linear(3, 1))
    net[0] = gn.nn.Linear(2, 3)
    assert net.names() == ["0", "1", "2"]
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear"]


def test_trainer_distributed_argument():
    net = gn.nn.Linear(3, 2)
    with pytest.raises(gn.errors.ConfigError, match="distributed must be None"):
        gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net.parameters(), lr=0.1), distributed="mpi")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    results = []
    for distributed in (True, False):  # one process alone: the same run either way
        net = gn.nn.Linear(3, 2, rng=0)
        tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net.parameters(), lr=0.1), verbose=0,
                        distributed=distributed)
        tr.fit(X, y, epochs=2, batch_size=8)
        assert tr.comm.size == 1 and tr.is_main
        results.append(net.W.data.copy())
    np.testing.assert_array_equal(results[0], results[1])
