"""Train the same MLP with glassnet, PyTorch (CPU) and scikit-learn's MLPClassifier on the same
data, same architecture, optimizer (Adam), batch size and epochs; print time per epoch, the
ratios to PyTorch and scikit-learn, and test accuracy.

    python benchmarks/bench_mlp.py [--data fashion|mnist1d] [--n 10000] [--epochs 5]
    python benchmarks/bench_mlp.py --n 60000 --isolate   # end to end on all of Fashion-MNIST, each
                                                         # library in its own process: time, accuracy
                                                         # and peak resident memory (issue 10, cases 4-5)
    --rounds 3  with --isolate: the three processes three times round-robin; median time ratios of
                the rounds (the shared host's speed drifts over minutes)
    --seeds 3   trains each library with seeds 0, 1, 2 and reports the means (and the accuracy range):
                one seed cannot say whether two accuracies differ
"""
import argparse
import sys
import time

import _common  # noqa: F401  (sets thread counts first)
import numpy as np


class RSSSampler:
    """Samples this process's resident memory (/proc/self/statm) every 5 ms from a thread:
    ``peak`` during the block, ``base`` when it started (MiB). ru_maxrss cannot be used: loading
    the data set has a higher peak than training."""

    def __enter__(self):
        import os
        import threading
        self._page = os.sysconf("SC_PAGE_SIZE") / 2 ** 20
        self.base = self.peak = self._now()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _now(self):
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _run(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._now())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._now())


def load(name, n):
    import glassnet as gn
    if name == "fashion":
        tr, te = gn.data.load_fashion_mnist(download=False)
        Xtr, ytr, Xte, yte = tr.X[:n].reshape(-1, 784), tr.y[:n], te.X.reshape(-1, 784), te.y
    else:
        tr, te = gn.data.load_mnist1d()
        Xtr, ytr, Xte, yte = tr.X[:n], tr.y[:n], te.X, te.y
    prep = gn.data.Standardize().fit(Xtr)
    return prep.transform(Xtr).astype(np.float32), ytr, prep.transform(Xte).astype(np.float32), yte


INIT = "he"  # --init: glassnet's initializer ("glorot_uniform" is scikit-learn's)


def run_glassnet(Xtr, ytr, Xte, yte, hidden, epochs, bs, lr, seed=0):
    import glassnet as gn
    d = Xtr.shape[1]
    net = gn.nn.Sequential(gn.nn.Linear(d, hidden, rng=3 * seed, init=INIT), gn.nn.ReLU(),
                           gn.nn.Linear(hidden, hidden, rng=3 * seed + 1, init=INIT), gn.nn.ReLU(),
                           gn.nn.Linear(hidden, 10, rng=3 * seed + 2, init=INIT))
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=lr), verbose=0, train_sample=1)
    t0 = time.perf_counter()
    tr.fit((Xtr, ytr), epochs=epochs, batch_size=bs, seed=seed)
    t = time.perf_counter() - t0
    return t / epochs, float((tr.predict(Xte) == yte).mean())


def run_torch(Xtr, ytr, Xte, yte, hidden, epochs, bs, lr, seed=0):
    import torch
    _common.set_torch_threads(torch)
    torch.manual_seed(seed)
    d = Xtr.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                              torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    X, y = torch.from_numpy(Xtr), torch.from_numpy(ytr)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), bs):
            idx = perm[i:i + bs]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
    t = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((net(torch.from_numpy(Xte)).argmax(1).numpy() == yte).mean())
    return t / epochs, acc


def run_sklearn(Xtr, ytr, Xte, yte, hidden, epochs, bs, lr, seed=0):
    import warnings
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(hidden, hidden), solver="adam", batch_size=bs, learning_rate_init=lr,
                        max_iter=epochs, alpha=0.0, random_state=seed, shuffle=True, tol=0.0, n_iter_no_change=10 ** 9)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xtr, ytr)
    t = time.perf_counter() - t0
    return t / epochs, float((clf.predict(Xte) == yte).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="fashion", choices=["fashion", "mnist1d"])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--only", choices=["glassnet", "pytorch", "sklearn"], default=None)
    ap.add_argument("--isolate", action="store_true", help="one process per library, with peak memory")
    ap.add_argument("--seeds", type=int, default=1, help="train with seeds 0..K-1 and report means")
    ap.add_argument("--init", default="he", help="glassnet's initializer (glorot_uniform: scikit-learn's)")
    ap.add_argument("--rounds", type=int, default=1, help="with --isolate: repeat the three processes round-robin")
    args = ap.parse_args()
    global INIT
    INIT = args.init
    if args.isolate:
        return isolated(args)
    data = load(args.data, args.n)
    print(f"MLP {data[0].shape[1]}-{args.hidden}-{args.hidden}-10, Adam lr 1e-3, batch {args.batch_size}, "
          f"{args.epochs} epochs on {len(data[0])} {args.data} examples, float32, {_common.THREADS} threads")
    print(f"BLAS: {_common.blas_info()}")
    results = {}
    for name, fn in (("glassnet", run_glassnet), ("pytorch", run_torch), ("sklearn", run_sklearn)):
        if args.only and name != args.only:
            continue
        try:
            import gc
            gc.collect()
            with RSSSampler() as mem:
                runs = [fn(*data, args.hidden, args.epochs, args.batch_size, 1e-3, seed) for seed in range(args.seeds)]
            accs = [a for _, a in runs]
            results[name] = (float(np.mean([t for t, _ in runs])), float(np.mean(accs)), mem.peak - mem.base,
                             min(accs), max(accs))
        except ImportError as err:
            print(f"{name}: skipped ({err})")
    for name, (t, acc, extra, lo, hi) in results.items():
        spread = f" (seeds 0-{args.seeds - 1}: {lo * 100:.1f}-{hi * 100:.1f}%)" if args.seeds > 1 else ""
        print(f"{name:<9} {t * 1000:8.1f} ms/epoch  test accuracy {acc * 100:5.1f}%  peak RSS {extra:.0f} MiB "
              f"above the loaded data{spread}")
    if args.only:
        return 0
    g = results["glassnet"][0]
    for other in ("pytorch", "sklearn"):
        if other in results:
            print(f"glassnet / {other} time ratio: {g / results[other][0]:.2f} (below 1 = glassnet faster)")
    return 0


def isolated(args):
    """Each library in its own process, ``--rounds`` times round-robin (glassnet, PyTorch,
    scikit-learn, glassnet, ...), one line per process; the ratios are medians of each round's
    ratio, so a slow spell of the shared host (minutes long) hits every library."""
    import re
    import statistics
    import subprocess
    runs = {name: [] for name in ("glassnet", "pytorch", "sklearn")}
    for r in range(args.rounds):
        for name in runs:
            cmd = [sys.executable, __file__, "--data", args.data, "--n", str(args.n), "--epochs", str(args.epochs),
                   "--hidden", str(args.hidden), "--batch-size", str(args.batch_size), "--only", name,
                   "--seeds", str(args.seeds), "--init", args.init]
            out = subprocess.run(cmd, capture_output=True, text=True).stdout
            if name == "glassnet" and r == 0:
                print("\n".join(out.splitlines()[:2]) + (f"; {args.rounds} rounds" if args.rounds > 1 else ""))
            m = re.search(rf"^{name}\s+([\d.]+) ms/epoch\s+test accuracy\s+([\d.]+)%\s+peak RSS (-?\d+) MiB", out, re.M)
            if m:
                runs[name].append(tuple(float(v) for v in m.groups()))
                print(out.strip().splitlines()[-1], flush=True)
            else:
                print(f"{name}: no result\n{out}")
    done = {n: rs for n, rs in runs.items() if len(rs) == args.rounds}
    if "glassnet" in done:
        g = done["glassnet"]
        for other in ("pytorch", "sklearn"):
            if other in done:
                o = done[other]
                ratio = statistics.median(a[0] / b[0] for a, b in zip(g, o))
                mem = statistics.median(a[2] / b[2] for a, b in zip(g, o))
                print(f"glassnet / {other}: time {ratio:.2f}, peak memory {mem:.2f}, "
                      f"accuracy {g[0][1]:.1f}% vs {o[0][1]:.1f}%" + (" (medians of the rounds' ratios)" if args.rounds > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
