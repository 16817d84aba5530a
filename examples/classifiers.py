"""Classifiers of the notes side by side on digits: k-nearest neighbours, a linear SVM, a
softmax classifier and a small MLP; then the SVM and softmax losses worked out by hand.

    python examples/classifiers.py [--quick]
"""
import math
import sys

import numpy as np

import glassnet as gn
from _common import figure, parse

# three examples, three classes (cat, car, frog), correct classes 0, 1, 2
SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LABELS = np.array([0, 1, 2])


def by_hand():
    """The losses written out as in the notes, one term at a time."""
    svm = []
    for s, y in zip(SCORES, LABELS):
        svm.append(sum(max(0.0, s[j] - s[y] + 1.0) for j in range(3) if j != y))
    soft = [-s[y] + math.log(sum(math.exp(v) for v in s)) for s, y in zip(SCORES, LABELS)]
    return svm, soft


def main(argv=None):
    args = parse(argv, __doc__, "classifiers")
    svm_terms, soft_terms = by_hand()
    svm = gn.nn.MulticlassHinge(delta=1.0).forward(SCORES, LABELS)
    soft = gn.nn.SoftmaxCrossEntropy().forward(SCORES, LABELS)
    print("SVM loss (delta 1) per example: " + ", ".join(f"{v:.2f}" for v in svm_terms) +
          f"; mean {np.mean(svm_terms):.2f}; glassnet.nn.MulticlassHinge: {svm:.2f}")
    print("softmax loss per example: " + ", ".join(f"{v:.2f}" for v in soft_terms) +
          f"; mean {np.mean(soft_terms):.2f}; glassnet.nn.SoftmaxCrossEntropy: {soft:.2f}")
    d = gn.data.load_digits()
    (Xtr, ytr), (Xte, yte) = gn.data.train_val_test_split(d.X, d.y, ratios=(0.8, 0.2), seed=0)
    if args.quick:
        Xtr, ytr = Xtr[:600], ytr[:600]
    prep = gn.data.Standardize().fit(Xtr)
    Xs, Xts = prep.transform(Xtr), prep.transform(Xte)
    acc = {}
    best_k, scores = gn.classic.choose_k(Xtr, ytr, ks=(1, 3, 5, 7), folds=3)
    acc[f"kNN (k={best_k}, chosen by 3-fold CV)"] = gn.classic.KNN(best_k).fit(Xtr, ytr).score(Xte, yte)
    svm_model = gn.classic.LinearSVM(random_state=0).fit(Xs, ytr)
    acc["linear SVM"] = svm_model.score(Xts, yte)
    acc["softmax"] = gn.classic.LinearSoftmax(random_state=0).fit(Xs, ytr).score(Xts, yte)
    mlp = gn.estimators.MLPClassifier(hidden_layer_sizes=(128,), max_iter=40 if args.quick else 100,
                                      random_state=0, early_stopping=True)
    acc["MLP 64-128-10"] = mlp.fit(Xs, ytr).score(Xts, yte)
    print(f"\ntest accuracy on digits ({len(Xtr)} training images):")
    for name, a in acc.items():
        print(f"  {name:<34} {a:.3f}")

    def draw(ax):
        t = svm_model.templates((8, 8))
        ax[0].imshow(np.hstack(list(t)), cmap="coolwarm")
        ax[0].set_title("linear SVM: one template per digit")
        ax[0].axis("off")
    fig = figure(args, "templates.png", draw, w=10, h=1.8)
    return {"svm_by_hand": svm_terms, "softmax_by_hand": soft_terms, "svm": svm, "softmax": soft, "accuracy": acc,
            "figure": fig}


if __name__ == "__main__":
    main(sys.argv[1:])
