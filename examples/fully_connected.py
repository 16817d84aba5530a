"""The notes' fully connected walk-through: a FullyConnectedNet with hidden layers 100-50-25
trained with the Solver, on MNIST or CIFAR-10 when their files are present, on Fashion-MNIST
otherwise (and, with --quick on a machine without any of them, on the embedded digits).

    python examples/fully_connected.py [--quick] [--data mnist|cifar10|fashion-mnist]

The notes' targets: MNIST 98 %+, CIFAR-10 50 %+ (Fashion-MNIST has no target in the notes; a
good MLP reaches 88-90 %).
"""
import sys

import numpy as np

import glassnet as gn
from _common import parse

TARGETS = {"mnist": 0.98, "cifar10": 0.50}


def fully_connected_net(input_dim, hidden_dims=(100, 50, 25), num_classes=10, dropout=0.0, batchnorm=True, seed=0):
    """The assignment's FullyConnectedNet: {affine - [batch norm] - relu - [dropout]} x L - affine."""
    layers, w = [], input_dim
    for i, h in enumerate(hidden_dims):
        layers.append(gn.nn.Linear(w, h, rng=seed + i))
        if batchnorm:
            layers.append(gn.nn.BatchNorm1d(h))
        layers.append(gn.nn.ReLU())
        if dropout:
            layers.append(gn.nn.Dropout(dropout, rng=seed + i))
        w = h
    layers.append(gn.nn.Linear(w, num_classes, rng=seed + 99))
    return gn.nn.Sequential(*layers)


def load(name, quick):
    tried = []
    for candidate in ([name] if name else ["mnist", "cifar10", "fashion-mnist"]):
        loader = {"mnist": gn.data.load_mnist, "cifar10": gn.data.load_cifar10,
                  "fashion-mnist": gn.data.load_fashion_mnist}[candidate]
        try:
            train, test = loader(download=False)
            return candidate, train, test
        except (FileNotFoundError, OSError, ImportError) as err:
            tried.append(f"{candidate}: {str(err).splitlines()[0]}")
    if quick:
        d = gn.data.load_digits()
        (Xtr, ytr), (Xte, yte) = gn.data.train_val_test_split(d.X, d.y, ratios=(0.8, 0.2), seed=0)
        print("no MNIST, CIFAR-10 or Fashion-MNIST files found; --quick falls back to digits\n  " + "\n  ".join(tried))
        return "digits", gn.data.Dataset(Xtr, ytr), gn.data.Dataset(Xte, yte)
    raise SystemExit("no data set found:\n  " + "\n  ".join(tried))


def main(argv=None):
    args = parse(argv, __doc__, "fully_connected",
                 lambda ap: ap.add_argument("--data", choices=["mnist", "cifar10", "fashion-mnist"], default=None))
    name, train, test = load(args.data, args.quick)
    X = train.X.reshape(len(train.X), -1).astype(np.float32)
    Xt = test.X.reshape(len(test.X), -1).astype(np.float32)
    y, yt = train.y, test.y
    if args.quick:
        X, y, Xt, yt = X[:5000], y[:5000], Xt[:2000], yt[:2000]
    prep = gn.data.Standardize().fit(X)
    X, Xt = prep.transform(X), prep.transform(Xt)
    n_val = len(X) // 10
    data = {"X_train": X[n_val:], "y_train": y[n_val:], "X_val": X[:n_val], "y_val": y[:n_val]}
    model = fully_connected_net(X.shape[1], dropout=0.1)
    # --quick: 3 epochs on a large set; the 1295 training digits make 13 batches an epoch, so they get 25 epochs
    epochs = 20 if not args.quick else (25 if name == "digits" else 3)
    solver = gn.Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, lr_decay=0.95,
                       num_epochs=epochs, batch_size=100, print_every=0, verbose=False)
    solver.train()
    acc = float((gn.nn.eval_scores(model, Xt).argmax(1) == yt).mean())
    target = TARGETS.get(name)
    print(f"{name}: FullyConnectedNet {X.shape[1]}-100-50-25-10, Adam 1e-3, {solver.num_epochs} epochs on "
          f"{len(data['X_train'])} images: best validation {solver.best_val_acc:.3f}, test {acc:.3f}"
          + (f" (the notes' target: {target:.0%})" if target else " (no target in the notes for this set)"))
    return {"data": name, "test_accuracy": acc, "best_val": solver.best_val_acc,
            "loss_history": list(solver.loss_history), "target": target}


if __name__ == "__main__":
    main(sys.argv[1:])
