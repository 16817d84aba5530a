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


class Im2col:
    """A layer run with ``kernels.conv.ALGORITHM = "im2col"`` (exact products instead of
    Winograd's algorithm, which "auto" picks for this layer)."""

    def __init__(self, layer):
        self.layer = layer

    def _with(self, fn, arg):
        from glassnet.kernels import conv
        before, conv.ALGORITHM = conv.ALGORITHM, "im2col"
        try:
            return fn(arg)
        finally:
            conv.ALGORITHM = before

    def forward(self, x):
        return self._with(self.layer.forward, x)

    def backward(self, dout):
        return self._with(self.layer.backward, dout)

    def clear_cache(self):
        self.layer.clear_cache()


def cases(gn, torch):
    F = torch.nn.functional
    return [
        ("Conv2d 3x3 32->64, N=64, 32x32, pad 1", (64, 32, 32, 32),
         lambda: gn.nn.Conv2d(32, 64, 3, padding=1, rng=0), lambda: torch.nn.Conv2d(32, 64, 3, padding=1)),
        ("Conv2d 3x3 as above, by im2col (exact)", (64, 32, 32, 32),
         lambda: Im2col(gn.nn.Conv2d(32, 64, 3, padding=1, rng=0)), lambda: torch.nn.Conv2d(32, 64, 3, padding=1)),
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
    """Where the 3x3 convolution's time goes on the NumPy path: by im2col, the whole forward and
    backward, then their parts summed over the chunks (columns gathered, the three products, the
    adds); then the same for Winograd's algorithm (when the compiled kernels are on)."""
    from glassnet import kernels
    from glassnet.kernels import conv as K
    from glassnet.kernels.workspace import scratch
    x = rng.standard_normal((64, 32, 32, 32)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    before, K.ALGORITHM = K.ALGORITHM, "im2col"
    out, kcache = kernels.forward("conv2d", x, w, None, 1, 1)
    cache = kcache.value
    dout = np.ones_like(out)
    n, N, CK, P = cache.chunk, 64, 32 * 9, 32 * 32
    ws = scratch()
    xpad = gn.functional.conv.pad2d(x, (1, 1))
    cols = np.empty((CK, n, P), np.float32)
    d2 = np.ones((64, n * P), np.float32)
    dw_t = np.empty((CK, 64), np.float32)
    chunks = range(0, N - N % n if N % n else N, n)  # whole chunks only
    w_kc = w.transpose(2, 3, 1, 0).reshape(-1, 64)
    frame = np.zeros((64, n * 34 * 34), np.float32)
    dcols = np.empty((CK, n * 34 * 34), np.float32)
    parts = {
        "forward": lambda: kernels.forward("conv2d", x, w, None, 1, 1),
        "backward": lambda: kernels.backward("conv2d", dout, kcache),
        "gather columns": lambda: [K._gather(xpad, s, s + n, (3, 3), (32, 32), (1, 1), (1, 1), cols)
                                   for s in chunks],
        "forward GEMM": lambda: [np.matmul(w.reshape(64, -1), cols.reshape(CK, -1), out=d2) for _ in chunks],
        "dW GEMM": lambda: [np.matmul(cols.reshape(CK, -1), d2.T, out=dw_t) for _ in chunks],  # dw transposed
        # column gradients on the padded grid (a product 34*34/(32*32) larger), then the 9 contiguous adds
        "dx GEMM": lambda: [np.matmul(w_kc, frame, out=dcols) for _ in chunks],
        "dx (GEMM+adds)": lambda: [K._chunk_input_grad(d2.reshape(64, n, P), w, w_kc, cache, ws, np.float32)
                                   for _ in chunks],
    }
    print(f"  im2col (chunks of {n} images, kernels.conv.CHUNK_BYTES = {K.CHUNK_BYTES >> 20} MiB of columns)")
    for k, fn in parts.items():
        print(f"  {k:<18} {median_ms(fn):8.2f} ms")
    K.ALGORITHM = before
    if gn.backend.jit_enabled():
        profile_winograd(x, w, dout)


def profile_winograd(x, w, dout):
    """Winograd F(4x4, 3x3): forward, backward, and their parts summed over whole chunks."""
    from glassnet.kernels import _numba as _jit
    from glassnet.kernels import winograd as wg
    b = np.zeros(w.shape[0], np.float32)
    out, cache = wg.forward(x, w, b, (1, 1))
    n, (Ty, Tx) = cache.chunk, cache.tiles
    T, (N, C), F_ = n * Ty * Tx, x.shape[:2], w.shape[0]
    chunks = range(0, N - N % n if N % n else N, n)
    k = wg._constants(np.float32)
    V, dV = np.empty((C, 36, T), np.float32), np.empty((C, 36, T), np.float32)
    M, Z = np.empty((F_, 36, T), np.float32), np.empty((F_, 36, T), np.float32)
    dU, dx, db = np.empty((36, F_, C), np.float32), np.empty_like(x), np.zeros(F_)
    U = cache.U

    def run(kernel):  # the parallel kernel, launched as the library launches it
        return lambda *args: _jit.launch(wg._kernel(kernel), *args)
    parts = {
        "forward": lambda: wg.forward(x, w, b, (1, 1)),
        "backward": lambda: wg.backward(dout, cache),
        "input tiles": lambda: [run(wg._input_tiles)(x, s, s + n, 1, 1, Ty, Tx, V, k) for s in chunks],
        "forward GEMMs": lambda: [np.matmul(U, V.transpose(1, 0, 2), out=M.transpose(1, 0, 2)) for _ in chunks],
        "output tiles": lambda: [run(wg._output_tiles)(M, s, Ty, Tx, b, out, k) for s in chunks],
        "gradient tiles": lambda: [run(wg._grad_tiles)(dout, s, s + n, Ty, Tx, Z, k, db) for s in chunks],
        "dW GEMMs": lambda: [np.matmul(Z.transpose(1, 0, 2), V.transpose(1, 2, 0), out=dU) for _ in chunks],
        "dx GEMMs": lambda: [np.matmul(U.transpose(0, 2, 1), Z.transpose(1, 0, 2), out=dV.transpose(1, 0, 2))
                             for _ in chunks],
        "dx tiles (adjoint)": lambda: [run(wg._input_tiles_adjoint)(dV, s, 1, 1, Ty, Tx, dx, k) for s in chunks],
    }
    print(f"  Winograd F(4x4, 3x3) (chunks of {n} images, winograd.CHUNK_BYTES = "
          f"{wg.CHUNK_BYTES >> 10} KiB of transformed input); backward transforms the input again")
    for key, fn in parts.items():
        print(f"  {key:<18} {median_ms(fn):8.2f} ms")


if __name__ == "__main__":
    main()
