"""The memory estimate of ``glassnet.models.summary`` against the peak that tracemalloc measures
during real training steps (NumPy reports its allocations to tracemalloc).

For each model: tracemalloc starts before the model is built, so the measured peak holds the
parameters, the optimizer's state, the batch and everything a step allocates. Three steps run
(zero_grad, forward, loss, backward, optimizer step, in the Trainer's order, with the real
loss); the peak of the third is the steady state of a run. The estimate is computed first,
in the same process, from the model alone, twice: as ``summary`` does by default (a probe
step at the batch size when it fits in memory) and with ``exact=False`` (extrapolated from
probe steps at batch 1 and 2, what it does when the batch would not fit).

    python benchmarks/bench_memory.py
"""
import gc
import tracemalloc

import _common  # noqa: F401  (thread settings)
import numpy as np

import glassnet as gn


def mlp():
    return gn.nn.Sequential(gn.nn.Linear(784, 1024, rng=0), gn.nn.ReLU(), gn.nn.Dropout(0.2, rng=1),
                            gn.nn.Linear(1024, 1024, rng=2), gn.nn.ReLU(), gn.nn.Linear(1024, 10, rng=3))


def cnn():
    return gn.nn.Sequential(gn.nn.Conv2d(1, 32, 3, padding=1, rng=0), gn.nn.BatchNorm2d(32), gn.nn.ReLU(),
                            gn.nn.MaxPool2d(2), gn.nn.Conv2d(32, 64, 3, padding=1, rng=1), gn.nn.BatchNorm2d(64),
                            gn.nn.ReLU(), gn.nn.MaxPool2d(2), gn.nn.Flatten(), gn.nn.Linear(64 * 7 * 7, 128, rng=2),
                            gn.nn.ReLU(), gn.nn.Linear(128, 10, rng=3))


def lstm():
    return gn.nn.Sequential(gn.nn.LSTM(32, 256, return_sequences=False, rng=0), gn.nn.Linear(256, 10, rng=1))


CASES = [("MLP 784-1024-1024-10", mlp, (784,), 512, "adam"),
         ("CNN 2 conv + BN, 28x28", cnn, (1, 28, 28), 128, "sgd_momentum"),
         ("LSTM 256 units, 50 steps", lstm, (50, 32), 64, "adam"),
         ("ResNet-18 at 32x32", lambda: gn.models.resnet(18, num_classes=10, input_size=32), (3, 32, 32), 32, "sgd"),
         ("LeNet-5", gn.models.lenet5, (1, 32, 32), 256, "adam")]


def measure(build, input_shape, batch, opt_name):
    gc.collect()
    tracemalloc.start()
    try:
        model = build()
        cls, fixed = gn.optim.OPTIMIZERS[opt_name]
        opt = cls(model, lr=1e-3, **fixed)
        loss = gn.nn.SoftmaxCrossEntropy()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch,) + input_shape).astype(np.float32)
        y = rng.integers(0, 10, batch)
        for step in range(3):
            if step == 2:
                tracemalloc.reset_peak()
            model.zero_grad()
            out = model.forward(x)
            loss.forward(out, y)
            model.backward(loss.backward(), need_input_grad=False)
            opt.step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main():
    print("| model | batch | optimizer | measured peak (tracemalloc) | estimate | estimate / measured "
          "| extrapolated (exact=False) | extrapolated / measured |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, build, shape, batch, opt in CASES:
        est = gn.models.summary(build(), shape, batch_size=batch, optimizer=opt).memory.peak
        ext = gn.models.summary(build(), shape, batch_size=batch, optimizer=opt, exact=False).memory.peak
        got = measure(build, shape, batch, opt)
        print(f"| {name} | {batch} | {opt} | {got / 2**20:.1f} MiB | {est / 2**20:.1f} MiB | {est / got:.2f} "
              f"| {ext / 2**20:.1f} MiB | {ext / got:.2f} |")


if __name__ == "__main__":
    main()
