"""Overfitting: polynomials of order 1..9 fitted to the notes' noisy points, L2 with growing
lambda, and twice the data.

    python examples/overfitting.py [--quick]

The points lie on y = x plus noise. Training error falls with every extra order; validation
error falls, then rises (overfitting); L2 and more data pull the order-9 fit back.
"""
import sys

import numpy as np

import glassnet as gn
from _common import figure, parse


def features(x, order):
    """x scaled to [0, 1], then its powers 1..order (a Linear layer adds the constant)."""
    s = x / 20.0
    return np.hstack([s ** k for k in range(1, order + 1)]).astype(np.float64)


def fit(x, y, order, lam=0.0):
    """Least squares (+ lam/2 ||w||^2) with glassnet: a Linear layer, MSE, L-BFGS to convergence."""
    model = gn.nn.Linear(order, 1, init="small", rng=0).to(np.float64)
    loss, penalty = gn.nn.MSE(), gn.optim.L2(lam) if lam else None
    opt = gn.optim.LBFGS(model, max_iter=2000, tol=1e-12)
    X = features(x, order)

    def closure():
        opt.zero_grad()
        value = loss.forward(model.forward(X), y)
        model.backward(loss.backward())
        return value + (penalty.add_to_grads(model) if penalty else 0.0)

    opt.step(closure)
    return model


def mse(model, x, y, order):
    return float(((model.forward(features(x, order)) - y) ** 2).mean())


def main(argv=None):
    args = parse(argv, __doc__, "overfitting")
    train = gn.data.make_polynomial(n=12, noise=1.5, seed=0)
    val = gn.data.make_polynomial(n=200, noise=1.5, seed=1)
    more = gn.data.make_polynomial(n=24, noise=1.5, seed=2)
    xt, yt = train.X.astype(np.float64), train.y.astype(np.float64)
    xv, yv = val.X.astype(np.float64), val.y.astype(np.float64)
    orders = range(1, 10)
    tr_err, va_err = [], []
    for k in orders:
        m = fit(xt, yt, k)
        tr_err.append(mse(m, xt, yt, k))
        va_err.append(mse(m, xv, yv, k))
    lams = [0.0, 1e-4, 1e-2, 1.0]
    l2_err = [mse(fit(xt, yt, 9, lam), xv, yv, 9) for lam in lams]
    x2, y2 = np.vstack([xt, more.X]), np.vstack([yt, more.y]).astype(np.float64)
    doubled = mse(fit(x2, y2, 9), xv, yv, 9)
    print("order  train MSE  validation MSE")
    for k, a, b in zip(orders, tr_err, va_err):
        print(f"{k:>5}  {a:>9.3f}  {b:>14.3f}")
    print("order 9 with L2: " + ", ".join(f"lambda {lam:g}: {e:.3f}" for lam, e in zip(lams, l2_err)))
    print(f"order 9 with twice the data (24 points): validation MSE {doubled:.3f} (was {va_err[-1]:.3f})")

    def draw(ax):
        ax[0].plot(list(orders), tr_err, marker="o", label="train")
        ax[0].plot(list(orders), va_err, marker="o", label="validation")
        ax[0].set_yscale("log")
        ax[0].set_xlabel("polynomial order")
        ax[0].set_ylabel("MSE")
        ax[0].legend()
        grid = np.linspace(0, 20, 200)[:, None]
        ax[1].scatter(xt, yt, color="k", label="training points")
        for k in (1, 9):
            ax[1].plot(grid, fit(xt, yt, k).forward(features(grid, k)), label=f"order {k}")
        ax[1].set_ylim(-5, 25)
        ax[1].legend()
    fig = figure(args, "overfitting.png", draw, ncols=2)
    return {"train": tr_err, "val": va_err, "l2": dict(zip(lams, l2_err)), "doubled": doubled, "figure": fig}


if __name__ == "__main__":
    main(sys.argv[1:])
