"""A small CNN on Fashion-MNIST (60,000 train / 10,000 test, 28x28): target >= 91% test accuracy.

conv3x3(32)-BN-ReLU-maxpool2 -> conv3x3(64)-BN-ReLU-maxpool2 -> dropout -> Linear(3136, 128)-ReLU
-> Linear(128, 10); Adam lr 1e-3 with a cosine schedule, batch 128, random shifts of up to 2
pixels, L2 1e-4. Runs on the CPU, or on a GPU with ``--device cuda`` (CuPy).

    python benchmarks/bench_fashion_cnn.py [--epochs 12] [--device cpu|cuda] [--root DIR]
"""
import argparse
import time

import _common  # noqa: F401  (thread counts)
import numpy as np

import glassnet as gn
from glassnet import nn


def build(rng):
    return nn.Sequential(
        nn.Reshape(1, 28, 28),
        nn.Conv2d(1, 32, 3, padding=1, rng=rng), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, rng=rng), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3, rng=rng), nn.Linear(64 * 49, 128, rng=rng), nn.ReLU(),
        nn.Linear(128, 10, rng=rng))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--root", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    train, test = gn.data.load_fashion_mnist(root=args.root)
    Xtr = (train.X.reshape(len(train.X), -1) / 255.0).astype(np.float32)
    Xte = (test.X.reshape(len(test.X), -1) / 255.0).astype(np.float32)
    mean, std = Xtr.mean(), Xtr.std()
    Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    model = build(np.random.default_rng(args.seed))
    if args.device != "cpu":
        model.to(args.device)
    steps = args.epochs * int(np.ceil(len(Xtr) / 128))
    trainer = gn.Trainer(model, nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3),
                         schedule=gn.optim.schedules.Cosine(steps), schedule_unit="step", penalty=gn.optim.L2(1e-4),
                         augment=_Shift2D(2), verbose=1)
    t0 = time.perf_counter()
    trainer.fit((Xtr, train.y), val=(Xte[:2000], test.y[:2000]), epochs=args.epochs, batch_size=128, seed=args.seed)
    seconds = time.perf_counter() - t0
    acc = float((nn.eval_scores(model, Xte).argmax(1) == test.y).mean())
    print(f"Fashion-MNIST small CNN on {args.device}: test accuracy {acc:.4f} after {args.epochs} epochs "
          f"({seconds:.0f} s training); target >= 0.91")


class _Shift2D(gn.data.augment.Augmentation):
    """Random shifts of flattened 28x28 images (RandomShift works on (N, C, H, W))."""

    def __init__(self, padding):
        self.inner = gn.data.augment.RandomShift(padding)

    def _apply(self, X, rng):
        n = len(X)
        return self.inner._apply(X.reshape(n, 1, 28, 28), rng).reshape(n, -1)


if __name__ == "__main__":
    main()
