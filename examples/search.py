"""Hyperparameter search as the notes teach it: random values on a log scale, coarse to fine,
a warning when the best values sit at the border of a range, and an ensemble of the best trials.

    python examples/search.py [--quick] [--jobs 2]
"""
import os
import shutil
import sys
import tempfile

import numpy as np

import glassnet as gn
from _common import parse


class Objective:
    """One trial: an MLP on MNIST-1D with the trial's learning rate and L2 strength; the score is
    the validation accuracy. A class (not a closure) so worker processes can receive it."""

    def __init__(self, quick):
        self.quick = quick

    def data(self):
        train, _ = gn.data.load_mnist1d()
        n = 1500 if self.quick else 4000
        (X, y), (Xv, yv) = gn.data.train_val_test_split(train.X[:n], train.y[:n], ratios=(0.8, 0.2), seed=0)
        prep = gn.data.Standardize().fit(X)
        return prep.transform(X), y, prep.transform(Xv), yv

    def __call__(self, params, seed, epochs, trial_dir):
        X, y, Xv, yv = self.data()
        net = gn.nn.Sequential(gn.nn.Linear(40, 128, rng=seed), gn.nn.ReLU(), gn.nn.Linear(128, 10, rng=seed + 1))
        tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=params["lr"]),
                        penalty=gn.optim.L2(params["l2"]), verbose=0)
        h = tr.fit((X, y), val=(Xv, yv), epochs=epochs, batch_size=64, seed=seed)
        path = os.path.join(trial_dir, f"model-val_accuracy{h['val_accuracy'][-1]:.4f}.npz")
        gn.save(net, path)
        return {"score": h["val_accuracy"][-1], "metrics": {"val_accuracy": h["val_accuracy"]}, "checkpoint": path}


def main(argv=None):
    args = parse(argv, __doc__, "search", lambda ap: ap.add_argument("--jobs", type=int, default=1))
    space = gn.tune.Space({"lr": gn.tune.LogUniform(1e-5, 1e-1), "l2": gn.tune.LogUniform(1e-6, 1e-3)})
    folder = tempfile.mkdtemp(prefix="glassnet-search-")
    stages = [(8, 3), (6, 6)] if args.quick else [(30, 5), (15, 20)]
    executor = gn.tune.make_executor("process", args.jobs)
    try:
        result = gn.tune.Search(Objective(args.quick), space, folder, strategy="coarse-to-fine", stages=stages, seed=0,
                                executor=executor, jobs=args.jobs, verbose=0).run()
    finally:
        executor.shutdown()
    print(result.table(top=8))
    for stage in range(len(stages)):
        lrs = [r["params"]["lr"] for r in result.trials if r["stage"] == stage]
        print(f"stage {stage}: lr sampled in [{min(lrs):.1e}, {max(lrs):.1e}]")
    print("\n".join(f"warning: {w}" for w in result.warnings) or "no border warnings")
    best = sorted((r for r in result.trials if r["status"] == "done"), key=lambda r: -r["score"])[:3]
    X, y, Xv, yv = Objective(args.quick).data()
    ens = gn.ensemble.Ensemble([r["checkpoint"] for r in best])
    ens_acc = float((ens.predict(Xv) == yv).mean())
    print(f"ensemble of the top 3: validation accuracy {ens_acc:.3f} (best single trial {best[0]['score']:.3f})")
    shutil.rmtree(folder, ignore_errors=True)
    spans = [np.ptp(np.log10([r["params"]["lr"] for r in result.trials if r["stage"] == s]))
             for s in range(len(stages))]
    return {"best": result.best["score"], "warnings": result.warnings, "ensemble": ens_acc, "lr_spans": spans,
            "n_trials": len(result.trials)}


if __name__ == "__main__":
    main(sys.argv[1:])
