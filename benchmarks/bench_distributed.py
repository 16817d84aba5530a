"""Data-parallel training on MPI: what communication costs here, how two ranks scale on this
machine, and what the ring-allreduce model projects for 8 to 128 ranks on a real network.

1. Allreduce latency and bandwidth between 2 ranks (``mpiexec -n 2``): glassnet's communicator
   (non-blocking MPI with a deadline), raw mpi4py ``Allreduce``, and PyTorch's gloo backend
   (``torch.distributed``, when torch is installed) on the same buffers, in the same run.
2. Training throughput through the Trainer with 1 and 2 ranks (one thread per rank, a fixed batch
   per rank: weak scaling), with the gradient buckets started from backward hooks (overlap) and
   all at the end (no overlap); efficiency = throughput(2) / (2 * throughput(1)). The MLP and CNN
   of examples/configs/mnist_*.toml and a ResNet-18 at 32 x 32 pixels.
3. The projection: per step, ring allreduce of every bucket, ``2 (p-1)/p * bytes / bandwidth + 2 (p-1)
   * latency``, hidden behind the backward pass measured here except the last bucket's share;
   efficiency = step / (step + exposed communication), for 8-128 ranks on 10 and 100 Gbit/s.

    python benchmarks/bench_distributed.py [--quick]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("BENCH_THREADS", "1")  # one thread per rank: two ranks on two cores
sys.path.insert(0, HERE)
import _common  # noqa: E402

import numpy as np  # noqa: E402

QUICK = "--quick" in sys.argv
SIZES = [8, 1024, 64 * 1024, 1 << 20, 16 << 20, 64 << 20]
#: per-rank batch, input shape and step counts of each model
MODELS = {"mlp": (64, (784,)), "cnn": (64, (1, 28, 28)), "resnet18": (16, (3, 32, 32))}
#: networks of the projection: (name, bytes per second, latency per message in seconds)
NETWORKS = [("10 Gbit/s Ethernet", 10e9 / 8, 25e-6), ("100 Gbit/s InfiniBand", 100e9 / 8, 2e-6)]
RANKS = [8, 16, 32, 64, 128]


def build(kind):
    import glassnet as gn
    if kind == "mlp":
        return gn.nn.Sequential(gn.nn.Linear(784, 1024, rng=0), gn.nn.ReLU(), gn.nn.Linear(1024, 1024, rng=1),
                                gn.nn.ReLU(), gn.nn.Linear(1024, 10, rng=2))
    if kind == "cnn":
        return gn.nn.Sequential(gn.nn.Conv2d(1, 32, 3, padding=1, rng=0), gn.nn.SyncBatchNorm(32), gn.nn.ReLU(),
                                gn.nn.MaxPool2d(2), gn.nn.Conv2d(32, 64, 3, padding=1, rng=1),
                                gn.nn.SyncBatchNorm(64), gn.nn.ReLU(), gn.nn.MaxPool2d(2), gn.nn.Flatten(),
                                gn.nn.Linear(3136, 128, rng=2), gn.nn.ReLU(), gn.nn.Linear(128, 10, rng=3))
    net = gn.models.resnet(18, num_classes=10, input_size=32)
    return gn.nn.convert_sync_batchnorm(net)


# ------------------------------------------------------------------------------------------- workers
def worker_allreduce():
    import glassnet as gn
    comm = gn.distributed.init()
    raw = comm.comm
    from mpi4py import MPI
    out = {}
    for size in SIZES:
        a = np.ones(size // 4, dtype=np.float32)
        reps = 5 if size >= (16 << 20) else 50
        ours = _common.median_time(lambda: comm.allreduce(a), calls=1, repeat=reps, warmup=3)
        plain = _common.median_time(lambda: raw.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM), calls=1, repeat=reps,
                                    warmup=3)
        out[size] = {"glassnet": ours, "mpi4py": plain}
    if comm.rank == 0:
        print(json.dumps(out))


def worker_torch_allreduce(store):
    import torch
    import torch.distributed as tdist
    _common.set_torch_threads(torch)
    rank, size = int(os.environ["PMI_RANK"]), int(os.environ["PMI_SIZE"])
    tdist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=size)
    out = {}
    for nbytes in SIZES:
        t = torch.ones(nbytes // 4)
        reps = 5 if nbytes >= (16 << 20) else 50
        out[nbytes] = _common.median_time(lambda: tdist.all_reduce(t), calls=1, repeat=reps, warmup=3)
    if rank == 0:
        print(json.dumps(out))
    tdist.destroy_process_group()


def worker_train(kind, overlap):
    import glassnet as gn
    from glassnet.train.callbacks import Callback

    comm = gn.distributed.init()
    batch, shape = MODELS[kind]
    steps = 8 if kind == "resnet18" else 80
    if QUICK:
        steps = 2
    rng = np.random.default_rng(0)
    n = batch * comm.size * steps
    X = rng.normal(size=(n,) + shape).astype(np.float32)
    y = rng.integers(0, 10, n)
    model = build(kind)

    class Overlap(Callback):
        def on_train_begin(self, trainer, logs):
            if trainer.reducer is not None:
                trainer.reducer.overlap = overlap

    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model.parameters(), lr=1e-3),
                         callbacks=[Overlap()], verbose=0, train_sample=0, distributed=True)
    trainer.fit(X, y, epochs=2, batch_size=batch, shuffle=False)
    epoch_time = trainer.history["time"][-1]  # the second epoch: warm
    stats = trainer.reducer.stats if trainer.reducer is not None else {"waited": 0.0, "steps": 1}
    result = {"ranks": comm.size, "steps": steps, "step_seconds": epoch_time / steps,
              "examples_per_second": batch * comm.size * steps / epoch_time,
              "waited_per_step": stats["waited"] / max(stats["steps"], 1),
              "gradient_bytes": int(sum(p.data.nbytes for p in model.parameters() if p.requires_grad))}
    if comm.size == 1:  # forward and backward apart, for the projection
        xb, yb = X[:batch], y[:batch]
        loss = gn.nn.SoftmaxCrossEntropy()

        def fwd():
            loss.forward(model.forward(xb), yb)

        def fwd_bwd():
            model.zero_grad()
            loss.forward(model.forward(xb), yb)
            model.backward(loss.backward(), need_input_grad=False)

        f = _common.median_time(lambda: (fwd(), model.clear_cache()), repeat=3 if kind == "resnet18" else 7, warmup=1)
        fb = _common.median_time(fwd_bwd, repeat=3 if kind == "resnet18" else 7, warmup=1)
        result.update(forward_seconds=f, backward_seconds=max(fb - f, 0.0))
    if comm.rank == 0:
        print(json.dumps(result))


# -------------------------------------------------------------------------------------------- parent
def _mpiexec():
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.path.exists(local) else "mpiexec"


def _run(n, *args):
    cmd = ([_mpiexec(), "-n", str(n)] if n > 1 else []) + [sys.executable, os.path.abspath(__file__), *args]
    if QUICK:
        cmd.append("--quick")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", BENCH_THREADS="1")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def ring_seconds(nbytes, p, bandwidth, latency):
    return 2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * latency


def projected_efficiency(step, backward, bucket_sizes, p, bandwidth, latency):
    """Buckets start as backward produces them (reverse order, evenly over the backward pass); the
    last bucket starts when backward ends. The communication left after backward is exposed."""
    total = sum(bucket_sizes)
    clock, done = 0.0, 0.0
    produced = 0
    for b in bucket_sizes:
        produced += b
        ready = backward * produced / total  # when backward has produced this bucket's gradients
        start = max(ready, done)  # one allreduce at a time on the network
        done = start + ring_seconds(b, p, bandwidth, latency)
        clock = done
    exposed = max(clock - backward, 0.0)
    return step / (step + exposed)


def main():
    from glassnet.distributed.data_parallel import BUCKET_BYTES

    print(f"bench_distributed: MPI {'(quick)' if QUICK else ''} on this machine: {os.cpu_count()} cores, one thread per rank")
    ar = _run(2, "--worker", "allreduce")
    try:
        import torch  # noqa: F401
        with tempfile.TemporaryDirectory() as tmp:
            tar = _run(2, "--worker", "torch_allreduce", os.path.join(tmp, "store"))
    except ImportError:
        tar = None
    print("\n## Allreduce between 2 ranks (float32 buffers, median)\n")
    print("| bytes | glassnet | mpi4py Allreduce | PyTorch gloo | glassnet / gloo |")
    print("|---|---|---|---|---|")
    for size in SIZES:
        r = ar[str(size)]
        g = tar[str(size)] if tar else None
        gloo = f"{g * 1e6:.1f} us" if g else "-"
        ratio = f"{r['glassnet'] / g:.2f}" if g else "-"
        print(f"| {size:,} | {r['glassnet'] * 1e6:.1f} us | {r['mpi4py'] * 1e6:.1f} us | {gloo} | {ratio} |")
    lat = ar["8"]["glassnet"]
    big = SIZES[-1]
    bw = (2 * 1 / 2 * big) / max(ar[str(big)]["glassnet"] - 2 * lat, 1e-9)
    print(f"\nlatency (8 bytes): {lat * 1e6:.1f} us; bandwidth (ring model at {big >> 20} MB): {bw / 1e9:.2f} GB/s")

    print("\n## Training throughput, 1 and 2 ranks (weak scaling: the same batch per rank)\n")
    print("| model | batch per rank | gradient MB | 1 rank: ex/s | 2 ranks, overlap: ex/s | efficiency | "
          "waited per step | 2 ranks, no overlap: ex/s | efficiency | waited per step |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    single = {}
    for kind, (batch, _) in MODELS.items():
        one = _run(1, "--worker", "train", kind, "1")
        two = _run(2, "--worker", "train", kind, "1")
        flat = _run(2, "--worker", "train", kind, "0")
        single[kind] = one
        e2 = two["examples_per_second"] / (2 * one["examples_per_second"])
        e0 = flat["examples_per_second"] / (2 * one["examples_per_second"])
        print(f"| {kind} | {batch} | {one['gradient_bytes'] / 2 ** 20:.1f} | {one['examples_per_second']:.0f} | "
              f"{two['examples_per_second']:.0f} | {e2:.0%} | {two['waited_per_step'] * 1e3:.1f} ms | "
              f"{flat['examples_per_second']:.0f} | {e0:.0%} | {flat['waited_per_step'] * 1e3:.1f} ms |")

    print("\n## Projection: ring allreduce overlapped with the backward pass measured here\n")
    print(f"Buckets of {BUCKET_BYTES >> 20} MB; step and backward times of one rank (one thread) here; "
          f"'GPU-speed' divides both by 50 (a step as fast as a GPU's makes communication matter more).\n")
    head = " | ".join(f"{p}" for p in RANKS)
    print(f"| model | step | network | {head} |")
    print("|---|---|---|" + "---|" * len(RANKS))
    for kind, one in single.items():
        g = one["gradient_bytes"]
        buckets = [BUCKET_BYTES] * (g // BUCKET_BYTES) + ([g % BUCKET_BYTES] if g % BUCKET_BYTES else [])
        for speed, factor in (("here", 1.0), ("GPU-speed", 50.0)):
            step = one["step_seconds"] / factor
            backward = one["backward_seconds"] / factor
            for name, bandwidth, latency in NETWORKS:
                cells = " | ".join(f"{projected_efficiency(step, backward, buckets, p, bandwidth, latency):.0%}"
                                   for p in RANKS)
                print(f"| {kind} | {speed} {step * 1e3:.1f} ms | {name} | {cells} |")
    print("\nHorovod reports 88-90 % scaling efficiency at 128 GPUs (Inception V3, ResNet-101).")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        what = sys.argv[sys.argv.index("--worker") + 1]
        if what == "allreduce":
            worker_allreduce()
        elif what == "torch_allreduce":
            worker_torch_allreduce(sys.argv[sys.argv.index("--worker") + 2])
        else:
            worker_train(sys.argv[sys.argv.index("--worker") + 2], sys.argv[sys.argv.index("--worker") + 3] == "1")
    else:
        t0 = time.perf_counter()
        main()
        print(f"\n({time.perf_counter() - t0:.0f} s)")
