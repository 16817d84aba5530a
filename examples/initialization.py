"""Initialization: activation statistics layer by layer in a 10-layer net of 500 units under
zeros, small random numbers, Xavier and He, with ReLU and with tanh (the notes' histograms).

    python examples/initialization.py [--quick]

Small random weights make the activations collapse towards zero layer after layer; zeros make
every unit identical; Xavier keeps tanh nets alive and He keeps ReLU nets alive: the variance
of the activations stays about the same across depth.
"""
import sys
import warnings

import numpy as np

import glassnet as gn
from _common import figure, parse

INITS = ["zeros", "small", "xavier", "he"]


def activation_stds(init, act, width, depth, X):
    layers = []
    for i in range(depth):
        layers += [gn.nn.Linear(width, width, init=init, rng=i), getattr(gn.nn, act)()]
    net = gn.nn.Sequential(*layers).to(np.float64)
    stds, hists, h = [], [], X
    for k in range(depth):
        h = net[2 * k + 1].forward(net[2 * k].forward(h))
        stds.append(float(h.std()))
        hists.append(np.histogram(h, bins=30)[0])
    return stds, hists


def main(argv=None):
    args = parse(argv, __doc__, "initialization")
    width = 500
    depth = 10
    X = np.random.default_rng(0).standard_normal((500 if args.quick else 2000, width))
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.SymmetryWarning)  # zeros warns on purpose; we show why
        for act in ("ReLU", "Tanh"):
            for init in INITS:
                stds, _ = activation_stds(init, act, width, depth, X)
                results[(act, init)] = stds
    print("std of each layer's output (layers 1..10)")
    for (act, init), stds in results.items():
        print(f"  {act:<5} {init:<7} " + " ".join(f"{s:8.2e}" for s in stds))

    def draw(ax):
        for k, act in enumerate(("ReLU", "Tanh")):
            for init in INITS:
                ax[k].plot(range(1, depth + 1), np.maximum(results[(act, init)], 1e-30), marker="o", label=init)
            ax[k].set_yscale("log")
            ax[k].set_title(f"{act}: std of activations per layer")
            ax[k].set_xlabel("layer")
            ax[k].legend()
    fig = figure(args, "activation_std.png", draw, ncols=2)
    return {"stds": results, "figure": fig}


if __name__ == "__main__":
    main(sys.argv[1:])
