"""MNIST-1D: reproduce the paper's CNN and GRU baselines, then beat them with glassnet's tools.

Published test accuracies (Greydanus 2020): CNN 94%, GRU 91%. The paper's settings: Adam
lr 1e-2, batch 100, 6000 steps (150 epochs of the 4000 training signals), no regularization;
CNN = three Conv1d layers of 25 channels (kernels 5/3/3, stride 2, padding 1) + Linear(125, 10);
GRU = bidirectional GRU with hidden size 6 over the 40 samples, all hidden states flattened
into Linear(480, 10). Every number is the mean (and spread) over 3 seeds.

    python benchmarks/bench_mnist1d_models.py            # all four models, 3 seeds each
    python benchmarks/bench_mnist1d_models.py cnn gru    # a subset
    python benchmarks/bench_mnist1d_models.py torch-cnn  # the paper's CNN and loop in PyTorch, same data
"""
import sys
import time

import _common  # noqa: F401  (thread counts)
import numpy as np

import glassnet as gn
from glassnet import nn

STEPS, BATCH = 6000, 100


def paper_cnn(rng):
    return nn.Sequential(
        nn.Reshape(1, 40),
        nn.Conv1d(1, 25, 5, stride=2, padding=1, rng=rng), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, rng=rng), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1, rng=rng), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10, rng=rng))


def paper_gru(rng):
    return nn.Sequential(nn.Reshape(40, 1), nn.Bidirectional(nn.GRU(1, 6, rng=rng), rng=rng),
                         nn.Flatten(), nn.Linear(480, 10, rng=rng))


def better_cnn(rng):
    """Wider, batch-normalized, dropout before the classifier."""
    return nn.Sequential(
        nn.Reshape(1, 40),
        nn.Conv1d(1, 32, 5, padding=2, rng=rng), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Conv1d(32, 64, 3, stride=2, padding=1, rng=rng), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Conv1d(64, 64, 3, stride=2, padding=1, rng=rng), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.3, rng=rng), nn.Linear(640, 10, rng=rng))


def better_gru(rng):
    """The paper's bidirectional GRU with a wider hidden state and a normalized input."""
    return nn.Sequential(nn.Reshape(40, 1), nn.Bidirectional(nn.GRU(1, 16, rng=rng), rng=rng),
                         nn.Flatten(), nn.Dropout(0.2, rng=rng), nn.Linear(1280, 10, rng=rng))


MODELS = {
    # name: (builder, uses glassnet's extras: schedule, augmentation, weight decay, clipping)
    "cnn": (paper_cnn, False),
    "gru": (paper_gru, False),
    "cnn+": (better_cnn, True),
    "gru+": (better_gru, True),
}


def train_once(name, seed, train, test):
    build, extras = MODELS[name]
    model = build(np.random.default_rng(seed))
    opt = gn.optim.Adam(model, lr=1e-2)
    epochs = STEPS * BATCH // len(train.X)
    kwargs = {}
    callbacks = []
    if extras:
        kwargs = dict(schedule=gn.optim.schedules.Cosine(STEPS), schedule_unit="step",
                      penalty=gn.optim.L2(1e-4), augment=gn.data.augment.RandomShift(3, mode="edge"))
        callbacks = [gn.callbacks.GradientClipping(5.0)]
    trainer = gn.Trainer(model, nn.SoftmaxCrossEntropy(), opt, callbacks=callbacks, verbose=0, **kwargs)
    t0 = time.perf_counter()
    trainer.fit((train.X, train.y), epochs=epochs, batch_size=BATCH, seed=seed)
    seconds = time.perf_counter() - t0
    acc = float((nn.eval_scores(model, test.X).argmax(1) == test.y).mean())
    return acc, seconds, model.num_parameters()


def torch_paper_cnn(seed, train, test):
    """The paper's CNN and training loop in PyTorch on the same data: is a gap glassnet's or the setting's?"""
    import torch
    _common.set_torch_threads(torch)
    torch.manual_seed(seed)
    T = torch.nn
    model = T.Sequential(T.Unflatten(1, (1, 40)), T.Conv1d(1, 25, 5, 2, 1), T.ReLU(), T.Conv1d(25, 25, 3, 2, 1),
                         T.ReLU(), T.Conv1d(25, 25, 3, 2, 1), T.ReLU(), T.Flatten(), T.Linear(125, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    X, y = torch.from_numpy(train.X), torch.from_numpy(train.y)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(STEPS):
        idx = torch.randint(0, len(X), (BATCH,), generator=g)  # the paper samples batches with replacement
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(torch.from_numpy(test.X)).argmax(1).numpy() == test.y).mean())
    return acc, seconds, sum(p.numel() for p in model.parameters())


def main(names):
    train, test = gn.data.load_mnist1d()
    print(f"MNIST-1D: {len(train.X)} train / {len(test.X)} test; {STEPS} steps of batch {BATCH}, Adam lr 1e-2; "
          f"{_common.THREADS} threads; BLAS: {_common.blas_info()}")
    print(f"{'model':<6} {'params':>7} {'test acc (3 seeds)':>26} {'mean':>7} {'s/run':>7}")
    for name in names:
        accs, secs = [], []
        for seed in (0, 1, 2):
            run = torch_paper_cnn if name == "torch-cnn" else train_once
            acc, s, n_params = run(name, seed, train, test) if run is train_once else run(seed, train, test)
            accs.append(acc)
            secs.append(s)
        runs = " ".join(f"{a:.3f}" for a in accs)
        print(f"{name:<6} {n_params:>7} {runs:>26} {np.mean(accs):>7.3f} {np.mean(secs):>7.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(MODELS))
