"""Batch normalization: the same deep MLP with and without it at several learning rates (the
notes: BN allows higher rates), and the train/test behaviour of its running statistics.

    python examples/batchnorm.py [--quick]
"""
import sys

import numpy as np

import glassnet as gn
from _common import figure, parse


def net(bn, depth=6, width=128):
    layers, w = [], 40
    for i in range(depth):
        layers.append(gn.nn.Linear(w, width, rng=i))
        if bn:
            layers.append(gn.nn.BatchNorm1d(width))
        layers.append(gn.nn.ReLU())
        w = width
    layers.append(gn.nn.Linear(w, 10, rng=99))
    return gn.nn.Sequential(*layers)


def main(argv=None):
    args = parse(argv, __doc__, "batchnorm")
    train, test = gn.data.load_mnist1d()
    prep = gn.data.Standardize().fit(train.X)
    X, y, Xv, yv = prep.transform(train.X), train.y, prep.transform(test.X), test.y
    if args.quick:
        X, y = X[:2000], y[:2000]
    epochs = 4 if args.quick else 20
    lrs = [0.01, 0.1, 0.5]
    res = {}
    for bn in (False, True):
        for lr in lrs:
            model = net(bn)
            tr = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(model, lr=lr, momentum=0.9), verbose=0,
                            callbacks=[gn.callbacks.TerminateOnNaN()])
            with np.errstate(all="ignore"):  # the plain net at the highest rate blows up, on purpose
                h = tr.fit((X, y), val=(Xv, yv), epochs=epochs, batch_size=64, seed=0)
            acc = h["val_accuracy"][-1] if h.epochs and h.epochs[-1].get("val_accuracy") is not None else float("nan")
            res[(bn, lr)] = {"val_accuracy": acc, "stop": h.stop_reason, "loss": h["loss"]}
    print(f"6-layer MLP, SGD+momentum, {epochs} epochs: validation accuracy")
    for lr in lrs:
        a, b = res[(False, lr)], res[(True, lr)]
        print(f"  lr {lr:<5} without BN {a['val_accuracy']:.3f}   with BN {b['val_accuracy']:.3f}")
    # train/test behaviour: batch statistics in train mode, running statistics in eval mode
    bn = gn.nn.BatchNorm1d(3)
    rng = np.random.default_rng(0)
    for _ in range(200):
        bn.forward((rng.standard_normal((32, 3)) * [1, 5, 0.2] + [10, -3, 0]).astype(np.float32))
    bn.clear_cache()
    one = np.array([[10.0, -3.0, 0.0]], np.float32)
    bn.eval()
    test_out = bn.forward(one)
    print(f"\nrunning mean after 200 batches {np.round(bn.running_mean, 2)}, running std "
          f"{np.round(np.sqrt(bn.running_var), 2)} (the data: mean [10, -3, 0], std [1, 5, 0.2])")
    print(f"eval mode normalizes a single example with them: {np.round(test_out[0], 3)}")

    def draw(ax):
        for (use_bn, lr), r in res.items():
            ax[0].plot(r["loss"], ls="-" if use_bn else "--", label=f"{'BN' if use_bn else 'plain'} lr {lr}")
        ax[0].set_yscale("log")
        ax[0].set_xlabel("epoch")
        ax[0].set_ylabel("training loss")
        ax[0].legend(fontsize=7)
    fig = figure(args, "batchnorm.png", draw, w=7)
    return {"results": res, "running_mean": bn.running_mean.copy(), "running_var": bn.running_var.copy(),
            "eval_output": test_out, "figure": fig}


if __name__ == "__main__":
    main(sys.argv[1:])
