"""A/B of the convolution code against an earlier commit, in one process: the layers run with
``glassnet/functional/conv.py`` as it is now and as it was at REV (read with ``git show``),
alternating settled blocks with PyTorch's (see _common.round_robin_samples). Also the peak
memory (tracemalloc: NumPy's allocations) of two forward+backward calls with each.

    python benchmarks/bench_conv_ab.py f13e98c            # 7 rounds
    python benchmarks/bench_conv_ab.py f13e98c --rounds 9

Ratios are medians of the rounds' ratios. Needs git and a checkout that holds REV.
"""
import importlib.util
import pathlib
import subprocess
import sys
import tempfile
import tracemalloc

import _common
import numpy as np

import glassnet as gn
from glassnet import functional as F

ROUNDS = _common.int_flag("--rounds", 7)
NAMES = ("conv2d_forward", "conv2d_backward", "conv1d_forward", "conv1d_backward")
CASES = [  # (name, dims, N, C, L, F, k, padding)
    ("Conv2d 3x3 32->64, N=64, 32x32", 2, 64, 32, 32, 64, 3, 1),
    ("Conv1d k5 25->25, N=100, L=40", 1, 100, 25, 40, 25, 5, 2),
    ("Conv2d 3x3 64->64, N=32, 16x16", 2, 32, 64, 16, 64, 3, 1),
    ("Conv2d 5x5 3->32, N=64, 32x32", 2, 64, 3, 32, 32, 5, 2),
]


def load_old(rev):
    root = pathlib.Path(__file__).resolve().parent.parent
    src = subprocess.run(["git", "show", f"{rev}:glassnet/functional/conv.py"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    # its relative imports, made absolute, so that it loads beside the installed package
    src = src.replace("from ..backend", "from glassnet.backend").replace("from ..errors", "from glassnet.errors")
    src = src.replace("from .workspace", "from glassnet.functional.workspace")
    path = pathlib.Path(tempfile.mkdtemp()) / "conv_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("conv_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def use(module):
    for name in NAMES:
        setattr(F, name, getattr(module, name))


def main():
    import statistics

    import torch
    _common.set_torch_threads(torch)
    rev = next((a for a in sys.argv[1:] if not a.startswith("--") and not a.isdigit()), None)
    if rev is None:
        sys.exit("usage: python benchmarks/bench_conv_ab.py REV [--rounds K]")
    old, new = load_old(rev), F.conv
    rng = np.random.default_rng(0)
    print(f"conv.py now vs at {rev}; float32, {_common.THREADS} threads, torch {torch.__version__}, "
          f"{ROUNDS} rounds; ms: medians; ratios: medians of the rounds' ratios")
    print(f"{'case':<34} {'old ms':>8} {'new ms':>8} {'torch ms':>9} {'new/old':>8} {'old/torch':>10} "
          f"{'new/torch':>10} {'peak MiB old':>13} {'new':>5}")
    for name, dims, N, C, L, F_, k, p in CASES:
        shape = (N, C, L, L) if dims == 2 else (N, C, L)
        x = rng.standard_normal(shape).astype(np.float32)
        layer = (gn.nn.Conv2d if dims == 2 else gn.nn.Conv1d)(C, F_, k, padding=p, rng=0)
        dout = rng.standard_normal(layer.forward(x).shape).astype(np.float32)
        layer.backward(dout)

        def ours(module):
            def step():
                use(module)
                layer.zero_grad()
                layer.forward(x)
                layer.backward(dout)
            return step

        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(layer.W.data.copy()).requires_grad_()
        tb = torch.zeros(F_, requires_grad=True)
        td = torch.from_numpy(dout)
        conv = torch.nn.functional.conv2d if dims == 2 else torch.nn.functional.conv1d

        def theirs():
            conv(tx, tw, tb, padding=p).backward(td)

        s_old, s_new, s_torch = _common.round_robin_samples([ours(old), ours(new), theirs], rounds=ROUNDS)
        peak = []
        for module in (old, new):
            layer.clear_cache()
            tracemalloc.start()
            ours(module)()
            ours(module)()
            peak.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        use(new)
        med = lambda s: 1e3 * statistics.median(s)  # noqa: E731
        print(f"{name:<34} {med(s_old):>8.2f} {med(s_new):>8.2f} {med(s_torch):>9.2f} "
              f"{_common.paired_ratio(s_new, s_old):>7.2f}x {_common.paired_ratio(s_old, s_torch):>9.2f}x "
              f"{_common.paired_ratio(s_new, s_torch):>9.2f}x {peak[0]:>13.0f} {peak[1]:>5.0f}", flush=True)


if __name__ == "__main__":
    main()
