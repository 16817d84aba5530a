"""Classic baselines and the MLPClassifier side by side with scikit-learn: same data, same
splits, same settings, in the same run. Prints test accuracy and fit time for both, and the
ratio glassnet time / scikit-learn time (below 1: glassnet is faster).

    python benchmarks/bench_classic.py

kNN times are the best of 5 runs (fit + predict); MLP times one fit per seed.
"""
import time
import warnings

import _common
import numpy as np

import glassnet as gn
from glassnet.classic import KNN, LinearSoftmax, LinearSVM
from glassnet.estimators import MLPClassifier


def datasets():
    d = gn.data.load_digits()
    (Xtr, ytr), (Xte, yte) = gn.data.train_val_test_split(d.X / 16.0, d.y, ratios=(0.8, 0.2), seed=0)
    yield "digits", Xtr.astype(np.float64), ytr, Xte.astype(np.float64), yte
    train, test = gn.data.load_mnist1d()
    yield "mnist1d", train.X.astype(np.float64), train.y, test.X.astype(np.float64), test.y


def timed(fn, repeat=1):
    """(result, best time of ``repeat`` runs)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main():
    from sklearn.linear_model import SGDClassifier  # noqa: F401  (imported to warm up sklearn)
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier as SkMLP

    print(f"{_common.THREADS} threads; BLAS: {_common.blas_info()}")
    print(f"{'data':<8} {'model':<34} {'glassnet acc':>12} {'sklearn acc':>11} {'glassnet s':>10} {'sklearn s':>9} "
          f"{'ratio':>6}")
    warnings.simplefilter("ignore")
    for name, Xtr, ytr, Xte, yte in datasets():
        for k in (1, 5):
            ours, t_ours = timed(lambda: KNN(k, tie_break="smallest").fit(Xtr, ytr).predict(Xte), repeat=5)
            theirs, t_theirs = timed(lambda: KNeighborsClassifier(k, algorithm="brute").fit(Xtr, ytr).predict(Xte),
                                     repeat=5)
            _row(name, f"kNN k={k} (L2, brute force)", (ours == yte).mean(), (theirs == yte).mean(), t_ours, t_theirs)
        mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
        Xs, Xts = (Xtr - mu) / sd, (Xte - mu) / sd
        for cls in (LinearSVM, LinearSoftmax):
            m, t = timed(lambda cls=cls: cls(random_state=0).fit(Xs, ytr))
            print(f"{name:<8} {cls.__name__ + ' (glassnet only)':<34} {m.score(Xts, yte):>12.3f} {'':>11} {t:>10.2f}")
        settings = dict(hidden_layer_sizes=(256, 256), solver="adam", alpha=1e-4, batch_size=128,
                        learning_rate_init=1e-3, max_iter=30, tol=0.0, n_iter_no_change=1000, shuffle=True)
        accs = []
        for seed in range(5):
            ours, t_ours = timed(lambda seed=seed: MLPClassifier(random_state=seed, **settings).fit(Xs, ytr))
            theirs, t_theirs = timed(lambda seed=seed: SkMLP(random_state=seed, **settings).fit(Xs, ytr))
            accs.append((ours.score(Xts, yte), theirs.score(Xts, yte), t_ours, t_theirs))
        a = np.mean(accs, axis=0)
        _row(name, "MLPClassifier 256-256, adam, 30 ep", a[0], a[1], a[2], a[3], note=" (mean of 5 seeds)")


def _row(data, model, acc_o, acc_t, t_o, t_t, note=""):
    print(f"{data:<8} {model:<34} {acc_o:>12.3f} {acc_t:>11.3f} {t_o:>10.2f} {t_t:>9.2f} {t_o / t_t:>5.2f}x{note}",
          flush=True)


if __name__ == "__main__":
    main()
