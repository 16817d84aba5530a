"""Forward + backward of convolution, pooling and recurrent layers against PyTorch
(CPU, float32, same thread count, in the same run). Prints medians and the ratio
glassnet time / PyTorch time (below 1: glassnet is faster).

    python benchmarks/bench_conv.py                # all cases; the libraries alternate in settled blocks of
                                                   # calls (see _common.round_robin_times)
    python benchmarks/bench_conv.py --interleaved  # glassnet and PyTorch calls alternate (as layers do in
                                                   # a network: caches are not kept warm for either)
    python benchmarks/bench_conv.py --profile      # also where the conv time goes
    python benchmarks/bench_conv.py --only LSTM    # only the cases whose name contains LSTM
    python benchmarks/bench_conv.py --no-jit       # without the compiled kernels (NumPy only)
"""
import statistics
import sys
import time

import _common
import numpy as np


ROUNDS = _common.int_flag("--rounds", 7)


def median_ms(fn):
    return 1e3 * _common.median_time(fn, repeat=7, warmup=2)


def interleaved_ms(f, g, warmup=2, repeat=15):
    """Medians of f and g timed alternately, one call each per round."""
    for _ in range(warmup):
        f()
        g()
    a, b = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        t2 = time.perf_counter()
        a.append(t1 - t0)
        b.append(t2 - t1)
    return 1e3 * statistics.median(a), 1e3 * statistics.median(b)


def cases(gn, torch):
    F = torch.nn.functional
    return [
        ("Conv2d 3x3 32->64, N=64, 32x32, pad 1", (64, 32, 32, 32),
         lambda: gn.nn.Conv2d(32, 64, 3, padding=1, rng=0), lambda: torch.nn.Conv2d(32, 64, 3, padding=1)),
        ("MaxPool2d 2x2, N=64, 64ch, 32x32", (64, 64, 32, 32), lambda: gn.nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2)),
        ("AvgPool2d 2x2, N=64, 64ch, 32x32", (64, 64, 32, 32), lambda: gn.nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2)),
        ("MaxPool2d 3x3 stride 2, N=64, 64ch, 32x32", (64, 64, 32, 32), lambda: gn.nn.MaxPool2d(3, 2),
         lambda: torch.nn.MaxPool2d(3, 2)),
        ("BatchNorm2d(64), N=64, 32x32", (64, 64, 32, 32), lambda: gn.nn.BatchNorm2d(64), lambda: torch.nn.BatchNorm2d(64)),
        ("Conv1d k5 25->25, N=100, L=40, pad 2", (100, 25, 40),
         lambda: gn.nn.Conv1d(25, 25, 5, padding=2, rng=0), lambda: torch.nn.Conv1d(25, 25, 5, padding=2)),
        ("LSTM D=64 H=128, N=32, T=50", (32, 50, 64), lambda: gn.nn.LSTM(64, 128, rng=0),
         lambda: torch.nn.LSTM(64, 128, batch_first=True)),
        ("GRU D=64 H=128, N=32, T=50", (32, 50, 64), lambda: gn.nn.GRU(64, 128, rng=0),
         lambda: torch.nn.GRU(64, 128, batch_first=True)),
    ], F


def main():
    import torch

    import glassnet as gn
    _common.set_torch_threads(torch)
    rng = np.random.default_rng(0)
    gn.backend.set_jit("--no-jit" not in sys.argv)
    mode = ("alternating calls, median of 15" if "--interleaved" in sys.argv
            else f"alternating settled blocks (0.3 s untimed, 0.4 s timed, {ROUNDS} rounds; times: medians, "
                 f"ratio: median of the rounds' ratios)")
    print(f"forward+backward, float32, {_common.THREADS} threads, {mode}; "
          f"torch {torch.__version__}; BLAS: {_common.blas_info()}; compiled kernels: {gn.backend.jit_enabled()}")
    print(f"{'case':<44} {'glassnet ms':>12} {'pytorch ms':>11} {'ratio':>7}")
    table, _ = cases(gn, torch)
    if "--only" in sys.argv:
        key = sys.argv[sys.argv.index("--only") + 1]
        table = [c for c in table if key in c[0]]
    for name, shape, ours_f, theirs_f in table:
        x = rng.standard_normal(shape).astype(np.float32)
        ours, theirs = ours_f(), theirs_f()
        out = ours.forward(x)
        ours.clear_cache()
        dout = rng.standard_normal(out.shape).astype(np.float32)

        def g():
            ours.forward(x)
            ours.backward(dout)

        tx = torch.from_numpy(x).requires_grad_(True)
        tdout = torch.from_numpy(dout)

        def t():
            o = theirs(tx)
            o = o[0] if isinstance(o, tuple) else o
            o.backward(tdout)

        if "--interleaved" in sys.argv:
            tg, tt = interleaved_ms(g, t)
            ratio = tg / tt
        else:
            sg, st = _common.round_robin_samples([g, t], rounds=ROUNDS)
            tg, tt = 1e3 * statistics.median(sg), 1e3 * statistics.median(st)
            ratio = _common.paired_ratio(sg, st)  # median of each round's ratio: drift cancels
        print(f"{name:<44} {tg:>12.2f} {tt:>11.2f} {ratio:>6.2f}x", flush=True)
    if "--profile" in sys.argv:
        profile(gn, rng)


def profile(gn, rng):
    """Where the 3x3 convolution's time goes on the NumPy path: the whole forward and backward,
    then their parts summed over the chunks (columns gathered, the three products, the adds)."""
    from glassnet import functional as F
    from glassnet.functional.workspace import scratch
    x = rng.standard_normal((64, 32, 32, 32)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    out, cache = F.conv2d_forward(x, w, None, 1, 1)
    dout = np.ones_like(out)
    n, N, CK, P = cache.chunk, 64, 32 * 9, 32 * 32
    ws = scratch()
    xpad = F.conv.pad2d(x, (1, 1))
    cols = np.empty((CK, n, P), np.float32)
    d2 = np.ones((64, n * P), np.float32)
    dw_t = np.empty((CK, 64), np.float32)
    chunks = range(0, N - N % n if N % n else N, n)  # whole chunks only
    w_kc = w.transpose(2, 3, 1, 0).reshape(-1, 64)
    frame = np.zeros((64, n * 34 * 34), np.float32)
    dcols = np.empty((CK, n * 34 * 34), np.float32)
    parts = {
        "forward": lambda: F.conv2d_forward(x, w, None, 1, 1),
        "backward": lambda: F.conv2d_backward(dout, cache),
        "gather columns": lambda: [F.conv._gather(xpad, s, s + n, (3, 3), (32, 32), (1, 1), (1, 1), cols)
                                   for s in chunks],
        "forward GEMM": lambda: [np.matmul(w.reshape(64, -1), cols.reshape(CK, -1), out=d2) for _ in chunks],
        "dW GEMM": lambda: [np.matmul(cols.reshape(CK, -1), d2.T, out=dw_t) for _ in chunks],  # dw transposed
        # column gradients on the padded grid (a product 34*34/(32*32) larger), then the 9 contiguous adds
        "dx GEMM": lambda: [np.matmul(w_kc, frame, out=dcols) for _ in chunks],
        "dx (GEMM+adds)": lambda: [F.conv._chunk_input_grad(d2.reshape(64, n, P), w, w_kc, cache, ws, np.float32)
                                   for _ in chunks],
    }
    print(f"  (chunks of {n} images, F.conv.CHUNK_BYTES = {F.conv.CHUNK_BYTES >> 20} MiB of columns)")
    for k, fn in parts.items():
        print(f"  {k:<18} {median_ms(fn):8.2f} ms")


if __name__ == "__main__":
    main()
