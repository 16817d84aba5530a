"""Induced pathologies: small, real training runs broken on purpose, each with the finding the
doctor should put first. The tests run every one; ``detection_table()`` makes the table in
docs/doctor.md; learners can run one and read what the doctor says.

    trainer, expected = gn.doctor.pathologies.run("lr_too_high")
    print(gn.doctor.format_findings(gn.doctor.examine(trainer)))
"""
from __future__ import annotations

import numpy as np

__all__ = ["PATHOLOGIES", "run", "detection_table"]


def _digits():
    from ..data import Standardize, load_digits, train_val_test_split

    d = load_digits()
    (X, y), (Xv, yv) = train_val_test_split(d.X, d.y, ratios=(0.8, 0.2), seed=0)
    prep = Standardize().fit(X)
    return prep.transform(X).astype(np.float32), y, prep.transform(Xv).astype(np.float32), yv


def _mnist1d():
    from ..data import Standardize, load_mnist1d

    train, test = load_mnist1d()
    prep = Standardize().fit(train.X)
    return (prep.transform(train.X).astype(np.float32), train.y, prep.transform(test.X).astype(np.float32),
            test.y)


def _mlp(n_in=64, width=64, depth=2, act="ReLU", init="he", seed=0):
    from .. import nn

    layers, w = [], n_in
    for i in range(depth):
        layers += [nn.Linear(w, width, init=init, rng=seed + i), getattr(nn, act)()]
        w = width
    layers.append(nn.Linear(w, 10, init=init, rng=seed + 99))
    return nn.Sequential(*layers)


def _case(model, data, opt="adam", lr=1e-3, epochs=20, penalty=None, batch_size=64, transform=None):
    return dict(model=model, data=data, opt=opt, lr=lr, epochs=epochs, penalty=penalty, batch_size=batch_size,
                transform=transform)


def _zero(m):
    for p in m.parameters():
        p.data[...] = 0
    return m


def _negative_bias(m):
    m[0].b.data[...] = -10.0
    return m


def _scale_features(X, Xv, y, yv):
    s = 10 ** np.random.default_rng(0).uniform(0, 3, X.shape[1])  # up to 1000x, per feature at random
    return X * s, Xv * s, y, yv


def _shuffle_labels(X, Xv, y, yv):
    return X, Xv, np.random.default_rng(0).permutation(y), yv


def _first_100(X, Xv, y, yv):
    return X[:100], Xv, y[:100], yv


#: name: (what is broken, the finding expected first, case builder)
PATHOLOGIES = {
    "healthy": ("nothing: a 64-64 ReLU MLP, Adam 1e-3, standardized digits", None,
                lambda: _case(_mlp(), _digits)),
    "lr_too_high": ("learning rate 10x too high (SGD+momentum 0.5 where 0.05 works)", "lr.too_high",
                    lambda: _case(_mlp(), _digits, opt="momentum", lr=0.5)),
    "lr_too_low": ("learning rate 1000x too low (Adam 1e-6)", "lr.too_low",
                   lambda: _case(_mlp(), _digits, lr=1e-6)),
    "zero_init": ("all weights and biases initialized to zero", "init.zero",
                  lambda: _case(_zero(_mlp()), _digits)),
    "saturated_tanh": ("a 6-layer tanh net with weights of std 1", "units.saturated",
                       lambda: _case(_mlp(depth=6, act="Tanh", init="normal"), _digits)),
    "vanishing_sigmoid": ("a 10-layer sigmoid net", "gradients.vanishing",
                          lambda: _case(_mlp(depth=10, act="Sigmoid", init="xavier"), _digits, epochs=10)),
    "overfitting": ("a 512-512-512 net on 100 MNIST-1D examples", "fit.overfitting",
                    lambda: _case(_mlp(n_in=40, width=512, depth=3), _mnist1d, epochs=60, transform=_first_100)),
    "underfitting": ("a 4-unit net with L2 strength 1.0", "fit.underfitting",
                     lambda: _case(_mlp(width=4, depth=1), _digits, penalty=1.0)),
    "unscaled_inputs": ("each input feature multiplied by a random factor up to 1000", "data.unscaled_inputs",
                        lambda: _case(_mlp(), _digits, transform=_scale_features)),
    "shuffled_labels": ("training labels shuffled", "fit.cannot_learn",
                        lambda: _case(_mlp(), _digits, epochs=5, transform=_shuffle_labels)),
    "dead_relu": ("a ReLU net whose first layer starts with bias -10", "units.dead",
                  lambda: _case(_negative_bias(_mlp()), _digits)),
}


def run(name, seed=0):
    """Train the named case (a few seconds) with a Monitor; returns (trainer, expected code)."""
    from .. import callbacks, nn, optim
    from ..train import Trainer
    from .monitors import Monitor

    if name not in PATHOLOGIES:
        raise KeyError(f"unknown pathology {name!r}; choose from {sorted(PATHOLOGIES)}")
    _, expected, build = PATHOLOGIES[name]
    case = build()
    X, y, Xv, yv = case["data"]()
    if case["transform"] is not None:
        X, Xv, y, yv = case["transform"](X, Xv, y, yv)
    model = case["model"]
    if case["opt"] == "momentum":
        opt = optim.SGD(model, lr=case["lr"], momentum=0.9)
    else:
        opt = optim.Adam(model, lr=case["lr"])
    penalty = optim.L2(case["penalty"]) if case["penalty"] else None
    trainer = Trainer(model, nn.SoftmaxCrossEntropy(), opt, penalty=penalty, verbose=0,
                      callbacks=[Monitor(every=10), callbacks.TerminateOnNaN()])
    trainer.fit((X, y), val=(Xv, yv), epochs=case["epochs"], batch_size=case["batch_size"], seed=seed)
    return trainer, expected


def detection_table():
    """Rows (case, what is broken, expected first finding, found first finding, its severity)."""
    from .examine import examine

    rows = []
    for name, (what, expected, _) in PATHOLOGIES.items():
        trainer, _ = run(name)
        findings = [f for f in examine(trainer) if f.severity != "info"]
        top = findings[0] if findings else None
        rows.append((name, what, expected or "(no warning)", top.code if top else "(no warning)",
                     top.severity if top else "-"))
    return rows
