"""Forward + backward time of single layers against PyTorch (CPU, float32, same threads).

    python benchmarks/bench_layers.py
"""
import sys

import _common
import numpy as np


def main():
    import torch

    import glassnet as gn
    _common.set_torch_threads(torch)
    rng = np.random.default_rng(0)
    cases = [
        ("Linear 1024->1024, batch 256", lambda: gn.nn.Linear(1024, 1024, rng=0), lambda: torch.nn.Linear(1024, 1024),
         (256, 1024)),
        ("BatchNorm1d(1024), batch 256", lambda: gn.nn.BatchNorm1d(1024), lambda: torch.nn.BatchNorm1d(1024), (256, 1024)),
        ("ReLU, 256x4096", gn.nn.ReLU, torch.nn.ReLU, (256, 4096)),
        ("Tanh, 256x4096", gn.nn.Tanh, torch.nn.Tanh, (256, 4096)),
        ("Dropout(0.5), 256x4096", lambda: gn.nn.Dropout(0.5, rng=0), lambda: torch.nn.Dropout(0.5), (256, 4096)),
    ]
    print(f"forward+backward, float32, {_common.THREADS} threads; BLAS: {_common.blas_info()}")
    print(f"{'layer':<32} {'glassnet ms':>12} {'pytorch ms':>11} {'ratio':>7}")
    for name, ours_f, theirs_f, shape in cases:
        x = rng.standard_normal(shape).astype(np.float32)
        ours = ours_f()
        dout = np.ones(shape[:1] + ((1024,) if "Linear" in name else shape[1:]), np.float32)

        def g():
            ours.forward(x)
            ours.backward(dout)

        theirs = theirs_f()
        tx = torch.from_numpy(x).requires_grad_(True)
        tdout = torch.from_numpy(dout)

        def t():
            tx.grad = None
            theirs(tx).backward(tdout)

        for fn in (g, t):
            fn()
        tg, tt = _common.best_of(lambda: [g() for _ in range(20)]), _common.best_of(lambda: [t() for _ in range(20)])
        print(f"{name:<32} {tg / 20 * 1e3:12.3f} {tt / 20 * 1e3:11.3f} {tg / tt:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
