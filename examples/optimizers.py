"""Update rules of the notes: SGD, momentum, Nesterov, Adagrad, RMSprop and Adam on an
ill-conditioned 2-D bowl (trajectories) and on MNIST-1D (loss curves).

    python examples/optimizers.py [--quick]

On the bowl f(w) = (w0^2 + 50 w1^2) / 2 plain SGD zig-zags across the steep direction and
crawls along the shallow one; momentum and the adaptive rules get much closer in the same
number of steps.
"""
import sys

import numpy as np

import glassnet as gn
from _common import figure, parse

RULES = {
    "SGD": lambda p: gn.optim.SGD(p, lr=0.035),
    "momentum": lambda p: gn.optim.SGD(p, lr=0.005, momentum=0.9),
    "Nesterov": lambda p: gn.optim.SGD(p, lr=0.005, momentum=0.9, nesterov=True),
    "Adagrad": lambda p: gn.optim.Adagrad(p, lr=1.0),
    "RMSprop": lambda p: gn.optim.RMSprop(p, lr=0.1),
    "Adam": lambda p: gn.optim.Adam(p, lr=0.3),
}
CURV = np.array([1.0, 50.0])


def bowl(rule, steps):
    w = gn.nn.Parameter(np.array([-4.0, 1.0]), name="w")
    opt = RULES[rule]([w])
    path = [w.data.copy()]
    for _ in range(steps):
        w.zero_grad()
        w.grad += CURV * w.data  # gradient of (w0^2 + 50 w1^2) / 2
        opt.step()
        path.append(w.data.copy())
    path = np.array(path)
    return path, float(0.5 * (CURV * path[-1] ** 2).sum())


def mnist1d_curve(rule, epochs, quick):
    train, _ = gn.data.load_mnist1d()
    prep = gn.data.Standardize().fit(train.X)
    X, y = prep.transform(train.X), train.y
    if quick:
        X, y = X[:1000], y[:1000]
    net = gn.nn.Sequential(gn.nn.Linear(40, 128, rng=0), gn.nn.ReLU(), gn.nn.Linear(128, 10, rng=1))
    lrs = {"SGD": 0.05, "momentum": 0.01, "Nesterov": 0.01, "Adagrad": 0.02, "RMSprop": 1e-3, "Adam": 1e-3}
    opt = {"SGD": lambda: gn.optim.SGD(net, lr=lrs[rule]),
           "momentum": lambda: gn.optim.SGD(net, lr=lrs[rule], momentum=0.9),
           "Nesterov": lambda: gn.optim.SGD(net, lr=lrs[rule], momentum=0.9, nesterov=True),
           "Adagrad": lambda: gn.optim.Adagrad(net, lr=lrs[rule]),
           "RMSprop": lambda: gn.optim.RMSprop(net, lr=lrs[rule]),
           "Adam": lambda: gn.optim.Adam(net, lr=lrs[rule])}[rule]()
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), opt, verbose=0)
    return tr.fit((X, y), epochs=epochs, batch_size=64, seed=0)["loss"]


def main(argv=None):
    args = parse(argv, __doc__, "optimizers")
    steps = 50
    paths, final = {}, {}
    for rule in RULES:
        paths[rule], final[rule] = bowl(rule, steps)
    print(f"ill-conditioned bowl, {steps} steps from (-4, 1): final value of f (start 33.0)")
    for rule, f in final.items():
        print(f"  {rule:<9} {f:.2e}")
    epochs = 5 if args.quick else 20
    curves = {rule: mnist1d_curve(rule, epochs, args.quick) for rule in RULES}
    print(f"\nMNIST-1D MLP, training loss per epoch ({epochs} epochs)")
    for rule, c in curves.items():
        print(f"  {rule:<9} " + " ".join(f"{v:.3f}" for v in c))

    def draw(ax):
        g0, g1 = np.meshgrid(np.linspace(-4.5, 1, 100), np.linspace(-1.2, 1.2, 100))
        ax[0].contour(g0, g1, 0.5 * (g0 ** 2 + 50 * g1 ** 2), levels=20, colors="#ccc")
        for rule, p in paths.items():
            ax[0].plot(p[:, 0], p[:, 1], marker=".", ms=3, label=rule)
        ax[0].legend(fontsize=7)
        ax[0].set_title("trajectories on (w0^2 + 50 w1^2) / 2")
        for rule, c in curves.items():
            ax[1].plot(range(1, len(c) + 1), c, marker="o", label=rule)
        ax[1].set_xlabel("epoch")
        ax[1].set_ylabel("training loss")
        ax[1].legend(fontsize=7)
    fig = figure(args, "optimizers.png", draw, ncols=2)
    return {"bowl": final, "curves": curves, "figure": fig}


if __name__ == "__main__":
    main(sys.argv[1:])
