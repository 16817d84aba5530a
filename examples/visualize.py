"""What a small CNN learned on the digits: filters, activation maps, the inputs that excite a
channel most, saliency, guided backpropagation, Grad-CAM, occlusion and a t-SNE of its codes
(the notes' "Visualizing what ConvNets learn"), through glassnet.viz.

    python examples/visualize.py [--quick]

Prints what each picture shows in numbers and saves the figures under --out.
"""
import os

import numpy as np
from _common import parse

import glassnet as gn


def main(argv=None):
    args = parse(argv, __doc__, "visualize")
    from sklearn.datasets import load_digits
    d = load_digits()
    X = ((d.data - d.data.mean()) / d.data.std()).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target
    Xtr, ytr, Xv, yv = X[:1400], y[:1400], X[1400:], y[1400:]
    model = gn.nn.Sequential(gn.nn.Conv2d(1, 16, 3, padding=1, rng=0), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                             gn.nn.Conv2d(16, 32, 3, padding=1, rng=1), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                             gn.nn.Flatten(), gn.nn.Linear(128, 10, rng=2))
    gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-2), verbose=0).fit(
        (Xtr, ytr), epochs=3 if args.quick else 15, batch_size=64, seed=0)
    acc = float((gn.nn.eval_scores(model, Xv).argmax(1) == yv).mean())
    print(f"validation accuracy {acc:.3f}")

    rf = gn.viz.receptive_field(model, "3")
    print(f"a unit of layer 3 (second conv) sees {rf.size[0]}x{rf.size[1]} input pixels, every {rf.stride[0]}")
    top = gn.viz.max_activating(model, Xv, "3", unit=0, k=9)
    print(f"channel 0 of layer 3 fires most on inputs {top.indices.tolist()} (labels {yv[top.indices].tolist()})")
    acts = gn.viz.activations(model, Xv[:50], ["1", "4"])
    dead = {n: int((a.reshape(len(a), a.shape[1], -1).max(axis=(0, 2)) <= 0).sum()) for n, a in acts.items()}
    print(f"channels zero for all 50 inputs (dead filters): {dead}")
    pick = np.arange(4)
    sal = gn.viz.saliency(model, Xv[pick], yv[pick])
    occ = gn.viz.occlusion(model, Xv[pick], yv[pick], window=2, stride=1)
    cam = gn.viz.grad_cam(model, Xv[pick], yv[pick], "3")
    gb = gn.viz.guided_backprop(model, Xv[pick], yv[pick])
    print(f"occlusion: the true class's probability falls from {occ.max():.2f} to {occ.min():.2f} where the "
          f"occluder covers what matters")
    emb = gn.viz.embed(model, Xv, "6", method="tsne" if not args.quick else "pca", seed=0)
    print(f"embedding of the flattened codes: {emb.method}")
    out = {"accuracy": acc, "receptive_field": rf, "top": top, "dead": dead, "saliency": sal, "occlusion": occ,
           "grad_cam": cam, "guided": gb, "embedding": emb}
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return out
    os.makedirs(args.out, exist_ok=True)
    figs = {"filters.png": gn.viz.plot_filters(gn.viz.filters(model[0])),
            "activations.png": gn.viz.plot_activations(acts),
            "max_activating.png": gn.viz.plot_max_activating(top, "layer 3, channel 0"),
            "occlusion.png": gn.viz.plot_occlusion(Xv[pick], occ, yv[pick]),
            "embedding.png": gn.viz.plot_embedding(emb, labels=yv)}
    for name, fig in figs.items():
        fig.savefig(os.path.join(args.out, name), dpi=80)
    out["figures"] = sorted(figs)
    return out


if __name__ == "__main__":
    main()
