"""Vanishing and exploding gradients: per-layer gradient norms of a deep sigmoid net, a deep
ReLU net and a deep residual net; then gradient clipping on an RNN.

    python examples/vanishing.py [--quick]
"""
import sys

import numpy as np

import glassnet as gn
from _common import figure, parse


def grad_norms(model, X, rng):
    model.to(np.float64)
    out = model.forward(X)
    model.backward(rng.standard_normal(out.shape))
    return [float(np.linalg.norm(p.grad)) for n, p in model.named_parameters() if n.endswith("W")]


def nets(depth, width):
    lin = lambda i, init: gn.nn.Linear(width, width, init=init, rng=i)  # noqa: E731
    return {
        "sigmoid": gn.nn.Sequential(*[m for i in range(depth) for m in (lin(i, "xavier"), gn.nn.Sigmoid())]),
        "ReLU (He)": gn.nn.Sequential(*[m for i in range(depth) for m in (lin(i, "he"), gn.nn.ReLU())]),
        "residual sigmoid": gn.nn.Sequential(*[gn.nn.Residual(gn.nn.Sequential(lin(i, "xavier"), gn.nn.Sigmoid()))
                                               for i in range(depth)]),
    }


def rnn_clipping(clip, epochs):
    """A tanh RNN summing a 30-step signal, SGD+momentum at a rate that is too high for it: the
    loss spikes without clipping; clipping the global gradient norm at 1 keeps it in check."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 30, 4)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    model = gn.nn.Sequential(gn.nn.RNN(4, 32, return_sequences=False, rng=0), gn.nn.Linear(32, 2, rng=1))
    norms = []

    class Record(gn.callbacks.Callback):
        def after_backward(self, trainer, logs):
            norms.append(logs.get("grad_norm") or gn.optim.global_grad_norm(trainer.model))

    cbs = [gn.callbacks.GradientClipping(clip)] if clip else []
    tr = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(model, lr=0.2, momentum=0.9), verbose=0,
                    callbacks=cbs + [Record()])
    with np.errstate(all="ignore"):
        h = tr.fit((X, y), epochs=epochs, batch_size=32, seed=0)
    return norms, h["loss"], max(h.iterations["loss"])


def main(argv=None):
    args = parse(argv, __doc__, "vanishing")
    rng = np.random.default_rng(0)
    depth, width = 20, 64
    X = rng.standard_normal((128, width))
    norms = {name: grad_norms(m, X, rng) for name, m in nets(depth, width).items()}
    print(f"{depth}-layer nets: gradient norm of the first and last weight matrix")
    for name, g in norms.items():
        print(f"  {name:<17} first {g[0]:.2e}  last {g[-1]:.2e}  ratio {g[0] / g[-1]:.1e}")
    epochs = 15 if args.quick else 30
    raw, loss_raw, peak_raw = rnn_clipping(None, epochs)
    clipped, loss_clip, peak_clip = rnn_clipping(1.0, epochs)
    print(f"\ntanh RNN, 30-step sequences, SGD+momentum lr 0.2, {epochs} epochs:")
    print(f"  without clipping: worst batch loss {peak_raw:.2f}, final epoch loss {loss_raw[-1]:.3f}, "
          f"largest gradient norm {max(raw):.1f}")
    print(f"  clipped at 1:     worst batch loss {peak_clip:.2f}, final epoch loss {loss_clip[-1]:.3f}")

    def draw(ax):
        for name, g in norms.items():
            ax[0].plot(range(1, len(g) + 1), g, marker="o", label=name)
        ax[0].set_yscale("log")
        ax[0].set_xlabel("layer")
        ax[0].set_ylabel("||dL/dW||")
        ax[0].legend()
        ax[1].plot(raw, label="no clipping")
        ax[1].plot(clipped, label="clipped at 1 (norm before clipping)")
        ax[1].set_yscale("log")
        ax[1].set_xlabel("step")
        ax[1].set_ylabel("global gradient norm")
        ax[1].legend()
    fig = figure(args, "vanishing.png", draw, ncols=2)
    return {"norms": norms, "rnn_grad_norms": raw, "loss_no_clip": loss_raw, "loss_clip": loss_clip,
            "peak_no_clip": peak_raw, "peak_clip": peak_clip, "figure": fig}


if __name__ == "__main__":
    main(sys.argv[1:])
