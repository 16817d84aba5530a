"""Regularization on a small-data problem (500 MNIST-1D signals): none, L2, L1, dropout, early
stopping and augmentation by shifting, with train/validation curves.

    python examples/regularization.py [--quick]
"""
import sys


import glassnet as gn
from _common import figure, parse

SETTINGS = {
    "none": {},
    "L2 1e-2": {"penalty": lambda: gn.optim.L2(1e-2)},
    "L1 1e-4": {"penalty": lambda: gn.optim.L1(1e-4)},
    "dropout 0.5": {"dropout": 0.5},
    "early stopping": {"early": True},
    "shift augmentation": {"augment": lambda: gn.data.augment.RandomShift(4, mode="edge")},
}


def run(name, X, y, Xv, yv, epochs):
    s = SETTINGS[name]
    layers = [gn.nn.Linear(40, 256, rng=0), gn.nn.ReLU()]
    if s.get("dropout"):
        layers.append(gn.nn.Dropout(s["dropout"], rng=0))
    layers += [gn.nn.Linear(256, 256, rng=1), gn.nn.ReLU()]
    if s.get("dropout"):
        layers.append(gn.nn.Dropout(s["dropout"], rng=1))
    layers.append(gn.nn.Linear(256, 10, rng=2))
    net = gn.nn.Sequential(*layers)
    cbs = [gn.callbacks.EarlyStopping("val_loss", patience=5)] if s.get("early") else []
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=1e-3), callbacks=cbs, verbose=0,
                    penalty=s["penalty"]() if "penalty" in s else None,
                    augment=s["augment"]() if "augment" in s else None)
    h = tr.fit((X, y), val=(Xv, yv), epochs=epochs, batch_size=50, seed=0)
    final = tr.evaluate((Xv, yv))["accuracy"]
    return h, final


def main(argv=None):
    args = parse(argv, __doc__, "regularization")
    train, test = gn.data.load_mnist1d()
    prep = gn.data.Standardize().fit(train.X[:500])
    X, y = prep.transform(train.X[:500]), train.y[:500]
    Xv, yv = prep.transform(test.X), test.y
    epochs = 25 if args.quick else 100
    res = {}
    for name in SETTINGS:
        h, final = run(name, X, y, Xv, yv, epochs)
        res[name] = {"train": h["accuracy"], "val": h["val_accuracy"], "final_val": final,
                     "gap": h["accuracy"][-1] - final}
    print(f"500 training signals, {epochs} epochs: final training and validation accuracy")
    for name, r in res.items():
        print(f"  {name:<20} train {r['train'][-1]:.3f}  validation {r['final_val']:.3f}  gap {r['gap']:.3f}")

    def draw(ax):
        for name, r in res.items():
            line, = ax[0].plot(r["val"], label=name)
            ax[0].plot(r["train"], ls=":", color=line.get_color())
        ax[0].set_xlabel("epoch")
        ax[0].set_ylabel("accuracy (dotted: training)")
        ax[0].legend(fontsize=7)
    fig = figure(args, "regularization.png", draw, w=8)
    return {"results": res, "figure": fig}


if __name__ == "__main__":
    main(sys.argv[1:])
