"""Cost of the doctor's monitors: the same training run with the default Monitor (every 50
iterations) and without, in the same process; prints the ratio (target: at most 1.10).

    python benchmarks/bench_doctor.py
"""
import statistics
import time

import _common
import numpy as np

import glassnet as gn
from glassnet import nn


def one_run(X, y, monitor):
    model = nn.Sequential(nn.Linear(784, 256, rng=0), nn.ReLU(), nn.Linear(256, 256, rng=1), nn.ReLU(),
                          nn.Linear(256, 10, rng=2))
    cbs = [gn.doctor.Monitor()] if monitor else []
    tr = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3), callbacks=cbs, verbose=0)
    t0 = time.perf_counter()
    tr.fit((X, y), epochs=2, batch_size=128, seed=0)
    return time.perf_counter() - t0, (len(cbs[0].records) if cbs else 0)


def main():
    rng = np.random.default_rng(0)
    try:
        train, _ = gn.data.load_fashion_mnist(download=False)
        X = (train.X[:10000].reshape(10000, -1) / 255.0).astype(np.float32)
        y = train.y[:10000]
        src = "Fashion-MNIST (10,000 images)"
    except Exception:
        X = rng.standard_normal((10000, 784)).astype(np.float32)
        y = rng.integers(0, 10, 10000)
        src = "random Fashion-MNIST-shaped data"
    print(f"784-256-256-10 MLP, Adam, batch 128, 2 epochs on {src}; {_common.THREADS} threads")
    off, on = [], []
    for _ in range(5):  # interleaved, so drifts of the machine hit both alike
        off.append(one_run(X, y, False)[0])
        t, n = one_run(X, y, True)
        on.append(t)
    a, b = statistics.median(off), statistics.median(on)
    print(f"monitors off {a:.3f} s, on (every 50 iterations, {n} samples) {b:.3f} s: ratio {b / a:.3f}")


if __name__ == "__main__":
    main()
