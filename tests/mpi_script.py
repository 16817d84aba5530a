"""Run by tests/test_distributed.py under ``mpiexec -n N`` (and alone, as the one-process
reference): trains a small float64 model data-parallel and writes what each rank ends with.

    python tests/mpi_script.py OUT MODEL BATCH EPOCHS [--fail-at E] [--kill-at E] [--hang-at E] [--disagree] [--seed-none] [--resume] [--single]

MODEL: mlp, cnn (SyncBatchNorm), dropout. ``--single`` trains in this process alone
(distributed=False); ``--fail-at E``: rank 1 raises at the start of epoch E; ``--kill-at E``: rank
1 kills itself (SIGKILL) at the start of epoch E; ``--hang-at E``: rank 1 sleeps there (the others
time out after $TEST_TIMEOUT seconds); ``--disagree``: rank 1 trains on 90 of the 100 rows; ``--seed-none``: fit(seed=None); ``--resume``: continue from OUT/ckpt/last.npz.
"""
import os
import signal
import time
import sys

import numpy as np

import glassnet as gn
from glassnet.train.callbacks import Callback, ModelCheckpoint


def model_for(kind):
    rng = np.random.default_rng(0)
    f64 = np.float64
    if kind == "mlp":
        return gn.nn.Sequential(gn.nn.Linear(6, 16, rng=rng, dtype=f64), gn.nn.Tanh(),
                                gn.nn.Linear(16, 3, rng=rng, dtype=f64))
    if kind == "dropout":
        return gn.nn.Sequential(gn.nn.Linear(6, 16, rng=rng, dtype=f64), gn.nn.ReLU(), gn.nn.Dropout(0.5),
                                gn.nn.Linear(16, 3, rng=rng, dtype=f64))
    if kind == "cnn":
        return gn.nn.Sequential(gn.nn.Conv2d(1, 4, 3, padding=1, bias=False, rng=rng, dtype=f64),
                                gn.nn.SyncBatchNorm(4, dtype=f64), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                                gn.nn.Flatten(), gn.nn.Linear(4 * 3 * 3, 3, rng=rng, dtype=f64))
    raise SystemExit(f"unknown model {kind}")


def data_for(kind):
    rng = np.random.default_rng(1)
    n = 100
    X = rng.normal(size=(n, 1, 6, 6)) if kind == "cnn" else rng.normal(size=(n, 6))
    y = rng.integers(0, 3, n)
    return X, y, X[:30], y[:30]


class Fault(Callback):
    def __init__(self, epoch, kill):
        self.epoch, self.kill = epoch, kill

    def on_epoch_begin(self, trainer, logs):
        if trainer.comm.rank == 1 and trainer.epoch + 1 == self.epoch:
            if self.kill == "hang":
                time.sleep(3600)
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError(f"a planned failure at epoch {self.epoch}")


def main():
    out, kind, batch, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    flags = sys.argv[5:]
    single = "--single" in flags
    if not single:
        gn.distributed.init(timeout=float(os.environ.get("TEST_TIMEOUT", "60")))
    fault = Fault(0, False)  # always there (a checkpoint records its callbacks); epoch 0 never comes
    for name, kill in (("--fail-at", False), ("--kill-at", True), ("--hang-at", "hang")):
        if name in flags:
            fault = Fault(int(flags[flags.index(name) + 1]), kill)
    X, y, Xv, yv = data_for(kind)
    if "--disagree" in flags and gn.distributed.world().rank == 1:
        X, y = X[:90], y[:90]  # another data set on rank 1
    model = model_for(kind)
    ckpt = ModelCheckpoint(os.path.join(out, "ckpt"), monitor="val_loss", save_best_only=False)
    callbacks = [ckpt, fault]
    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model.parameters(), lr=1e-2),
                         penalty=gn.optim.L2(1e-3), callbacks=callbacks, verbose=0, train_sample=50,
                         distributed=False if single else True)
    resume = os.path.join(out, "ckpt", "last.npz") if "--resume" in flags else None
    seed = None if "--seed-none" in flags else 3  # None: fresh entropy, rank 0's for every rank
    history = trainer.fit(X, y, val=(Xv, yv), epochs=epochs, batch_size=batch, seed=seed, resume=resume)
    state = {k: v.copy() for k, v in model.state_dict().items()}
    model.train()
    probe = model.forward(X[:8])  # train mode: a rank's own dropout masks
    rank = trainer.comm.rank
    np.savez(os.path.join(out, f"rank{rank}{'-single' if single else ''}.npz"),
             probe=probe, loss=np.array(history.iterations["loss"]), val_loss=np.array(history["val_loss"]),
             accuracy=np.array(history["accuracy"]), ranks=trainer.comm.size, seed=trainer.seed,
             **{f"p/{name}": p.data for name, p in model.named_parameters()},
             **{f"b/{k}": v for k, v in state.items()})


if __name__ == "__main__":
    main()
