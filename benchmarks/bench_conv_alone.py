"""The 3x3 convolution benchmark (N=64, 32->64 channels, 32x32, padding 1, forward+backward,
float32) with each library in its own process, so that neither's idle threads (OpenBLAS's,
Numba's, PyTorch's OpenMP) run beside the other's timed calls. Processes alternate: PyTorch,
glassnet by Winograd, glassnet by im2col, then again, ``--rounds`` times. Prints each run's
median and the ratios of the medians over the rounds.

    python benchmarks/bench_conv_alone.py              # 3 rounds
    python benchmarks/bench_conv_alone.py --rounds 5
"""
import statistics
import subprocess
import sys
import time

import _common

KINDS = ("torch", "winograd", "im2col")


def one(kind):
    """Median ms of 20 timed calls after 0.5 s of warm-up, in this process."""
    import numpy as np
    x = np.random.default_rng(0).standard_normal((64, 32, 32, 32)).astype(np.float32)
    if kind == "torch":
        import torch
        _common.set_torch_threads(torch)
        conv, tx, d = torch.nn.Conv2d(32, 64, 3, padding=1), torch.from_numpy(x).requires_grad_(True), torch.ones(64, 64, 32, 32)

        def step():
            conv(tx).backward(d)
    else:
        import glassnet as gn
        from glassnet.kernels import conv as C
        C.ALGORITHM = kind
        layer, d = gn.nn.Conv2d(32, 64, 3, padding=1, rng=0), np.ones((64, 64, 32, 32), np.float32)

        def step():
            layer.forward(x)
            layer.backward(d)
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:
        step()
    return 1e3 * _common.median_time(step, repeat=20, warmup=0)


def main():
    if "--one" in sys.argv:
        print(f"{one(sys.argv[sys.argv.index('--one') + 1]):.3f}")
        return
    import numpy  # noqa: F401  (loads the BLAS that blas_info reports)
    rounds = _common.int_flag("--rounds", 3)
    print(f"3x3 conv 32->64, N=64, 32x32, forward+backward, float32, {_common.THREADS} threads, "
          f"one process per run, {rounds} rounds; BLAS: {_common.blas_info()}")
    ms = {k: [] for k in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            out = subprocess.run([sys.executable, __file__, "--one", kind], capture_output=True, text=True, check=True)
            ms[kind].append(float(out.stdout.split()[-1]))
    for kind in KINDS:
        print(f"{kind:<9} " + " ".join(f"{v:7.1f}" for v in ms[kind]) + f"   median {statistics.median(ms[kind]):.1f} ms")
    t = statistics.median(ms["torch"])
    print(f"glassnet / PyTorch: Winograd {statistics.median(ms['winograd']) / t:.2f}x, "
          f"im2col {statistics.median(ms['im2col']) / t:.2f}x")


if __name__ == "__main__":
    main()
