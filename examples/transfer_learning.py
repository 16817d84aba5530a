"""Transfer learning as the notes teach it: a CNN trained on the digits 0-4 is reused for the
digits 5-9 three ways, with only a few labelled examples of the new digits:

1. frozen features: the trained body is a fixed feature extractor; only a new classifier
   (``replace_head``) is trained;
2. fine-tuning: the whole network trains, the body with a 10x smaller learning rate than the
   new head (two optimizer parameter groups);
3. from scratch: the same architecture, freshly initialized.

    python examples/transfer_learning.py [--quick]

Prints the test accuracy on 5-9 of each, and the memory summary of the network. On these
8x8 digits the three end close together (about 0.91, 0.95 and 0.94 with 20 examples per
digit): a body this small learns little that random filters lack, so training from scratch
on 100 examples catches up. Transfer pays where the notes place it: a large body trained on
much data, a new task with little.
"""
import numpy as np
from _common import parse

import glassnet as gn


def cnn(rng):
    return gn.nn.Sequential({
        "conv1": gn.nn.Conv2d(1, 16, 3, padding=1, rng=rng), "relu1": gn.nn.ReLU(), "pool1": gn.nn.MaxPool2d(2),
        "conv2": gn.nn.Conv2d(16, 32, 3, padding=1, rng=rng), "relu2": gn.nn.ReLU(), "pool2": gn.nn.MaxPool2d(2),
        "flatten": gn.nn.Flatten(), "fc": gn.nn.Linear(128, 5, rng=rng)})


def train(model, opt, X, y, epochs):
    gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), opt, verbose=0).fit((X, y), epochs=epochs, batch_size=32, seed=0)


def accuracy(model, X, y):
    return float((gn.nn.eval_scores(model, X).argmax(1) == y).mean())


def main(argv=None):
    args = parse(argv, __doc__, "transfer_learning")
    from sklearn.datasets import load_digits
    d = load_digits()
    X = ((d.data - d.data.mean()) / d.data.std()).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target
    rng = np.random.default_rng(0)
    old, new = np.flatnonzero(y < 5), rng.permutation(np.flatnonzero(y >= 5))
    few = 10 if args.quick else 20  # labelled examples per new digit
    train_new = np.concatenate([new[y[new] == c][:few] for c in range(5, 10)])
    test_new = np.setdiff1d(new, train_new)
    Xn, yn = X[train_new], y[train_new] - 5
    Xt, yt = X[test_new], y[test_new] - 5
    epochs_old, epochs_new = (4, 15) if args.quick else (15, 40)

    base = cnn(0)
    train(base, gn.optim.Adam(base, lr=1e-2), X[old], y[old], epochs_old)
    print(f"trained on digits 0-4: accuracy {accuracy(base, X[old], y[old]):.3f} on its training set")
    pretrained = base.state_dict()

    results = {}
    # 1. frozen features: load the trained body, replace the head, train the head alone
    frozen = cnn(1)
    frozen.load_state_dict(pretrained)
    frozen.freeze()
    head = gn.models.replace_head(frozen, 5, rng=2)
    train(frozen, gn.optim.Adam(head, lr=1e-2), Xn, yn, epochs_new)
    results["frozen features"] = accuracy(frozen, Xt, yt)
    codes = gn.models.feature_extractor(frozen, upto="flatten")
    print(f"the feature extractor maps an image to {codes.forward(Xt[:1]).shape[1]} numbers")

    # 2. fine-tuning: everything trains, the body 10x slower than the new head
    tuned = cnn(1)
    tuned.load_state_dict(pretrained)
    head = gn.models.replace_head(tuned, 5, rng=2)
    opt = gn.optim.Adam([{"params": gn.models.body_parameters(tuned, head), "lr": 1e-3},
                         {"params": list(head.parameters())}], lr=1e-2)
    train(tuned, opt, Xn, yn, epochs_new)
    results["fine-tuning"] = accuracy(tuned, Xt, yt)

    # 3. from scratch
    scratch = cnn(3)
    train(scratch, gn.optim.Adam(scratch, lr=1e-2), Xn, yn, epochs_new)
    results["from scratch"] = accuracy(scratch, Xt, yt)

    print(f"digits 5-9 with {few} labelled examples each, test accuracy on the other {len(test_new)}:")
    for name, acc in results.items():
        print(f"  {name:<16} {acc:.3f}")
    s = gn.models.summary(tuned, (1, 8, 8), batch_size=32, optimizer=opt)
    print(s)
    return {"results": results, "summary": s, "n_train": len(train_new)}


if __name__ == "__main__":
    main()
