"""The doctor's corpus: small, real training runs, healthy ones and ones broken on purpose, each
with the finding the doctor should put first (none for a healthy run). The tests run a fast
subset; ``benchmarks/doctor_corpus.py`` runs them all and writes the confusion table in
docs/doctor.md; learners can run one and read what the doctor says.

    r = gn.doctor.pathologies.run_case("lr_too_high")
    print(gn.doctor.format_findings(gn.doctor.pathologies.examine_case(r)))
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Case", "CaseRun", "PATHOLOGIES", "HEALTHY", "CASES", "available", "run", "run_case", "examine_case",
           "detection_table"]


# -- data --------------------------------------------------------------------------------------------------
def _standardized(X, Xv):
    from ..data import Standardize

    prep = Standardize().fit(X)
    return prep.transform(X).astype(np.float32), prep.transform(Xv).astype(np.float32)


def _digits():
    from ..data import load_digits, train_val_test_split

    d = load_digits()
    (X, y), (Xv, yv) = train_val_test_split(d.X, d.y, ratios=(0.8, 0.2), seed=0)
    X, Xv = _standardized(X, Xv)
    return X, y, Xv, yv


def _digit_images():
    X, y, Xv, yv = _digits()
    return X.reshape(-1, 1, 8, 8), y, Xv.reshape(-1, 1, 8, 8), yv


def _digit_rows():
    """Each 8x8 digit as a sequence of 8 rows of 8 pixels: (N, 8, 8)."""
    X, y, Xv, yv = _digits()
    return X.reshape(-1, 8, 8), y, Xv.reshape(-1, 8, 8), yv


def _mnist1d():
    from ..data import load_mnist1d

    train, test = load_mnist1d()
    X, Xv = _standardized(train.X, test.X)
    return X, train.y, Xv, test.y


def _mnist1d_sequences():
    X, y, Xv, yv = _mnist1d()
    return X[..., None], y, Xv[..., None], yv


def _moons(noise=0.1):
    from ..data import make_moons
    return make_moons(n=600, noise=noise, seed=0)


def _circles(noise=0.05):
    from ..data import make_circles
    return make_circles(n=600, noise=noise, seed=0)


def _spiral(n_per_class=100):
    from ..data import make_spiral
    return make_spiral(n_per_class=n_per_class, seed=0)


def _toy(maker, **kw):
    def load():
        from ..data import train_val_test_split

        d = maker(**kw)
        (X, y), (Xv, yv) = train_val_test_split(d.X, d.y, ratios=(0.75, 0.25), seed=0)
        X, Xv = _standardized(X, Xv)
        return X, y, Xv, yv
    return load


def _fashion():
    from ..data import load_fashion_mnist

    train, test = load_fashion_mnist(download=False)
    X, Xv = _standardized(train.X[:6000].reshape(6000, -1), test.X[:2000].reshape(2000, -1))
    return X, train.y[:6000], Xv, test.y[:2000]


# -- models --------------------------------------------------------------------------------------------------
def _mlp(n_in=64, width=64, depth=2, act="ReLU", init="he", seed=0, n_out=10, bn=False, dropout=0.0):
    from .. import nn

    layers, w = [], n_in
    for i in range(depth):
        layers.append(nn.Linear(w, width, init=init, rng=seed + i))
        if bn:
            layers.append(nn.BatchNorm1d(width))
        layers.append(getattr(nn, act)())
        if dropout:
            layers.append(nn.Dropout(dropout, rng=seed + 50 + i))
        w = width
    layers.append(nn.Linear(w, n_out, init=init, rng=seed + 99))
    return nn.Sequential(*layers)


def _cnn(bn=False, seed=0):
    from .. import nn

    body = [nn.Conv2d(1, 16, 3, padding=1, rng=seed)]
    if bn:
        body.append(nn.BatchNorm2d(16))
    body += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1, rng=seed + 1), nn.ReLU(),
             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 10, rng=seed + 2)]
    return nn.Sequential(*body)


def _cnn1d(seed=0):
    """benchmarks/bench_mnist1d_models.py's better CNN: three 1-D convolutions with batch norm, dropout."""
    from .. import nn

    return nn.Sequential(nn.Reshape(1, 40), nn.Conv1d(1, 32, 5, padding=2, rng=seed), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.Conv1d(32, 64, 3, stride=2, padding=1, rng=seed + 1), nn.BatchNorm1d(64), nn.ReLU(),
                         nn.Conv1d(64, 64, 3, stride=2, padding=1, rng=seed + 2), nn.BatchNorm1d(64), nn.ReLU(),
                         nn.Flatten(), nn.Dropout(0.3, rng=seed + 3), nn.Linear(640, 10, rng=seed + 4))


def _recurrent(kind="GRU", n_in=8, hidden=32, seed=0, n_out=10):
    from .. import nn

    rnn = getattr(nn, kind)(n_in, hidden, return_sequences=False, rng=seed)
    return nn.Sequential(rnn, nn.Linear(hidden, n_out, rng=seed + 1))


# -- breaking things on purpose ------------------------------------------------------------------------------
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


def _noisy_labels(X, Xv, y, yv):
    """Half the training labels replaced by random classes (the validation labels stay right)."""
    rng = np.random.default_rng(0)
    y = y.copy()
    flip = rng.random(len(y)) < 0.5
    y[flip] = rng.integers(0, 10, int(flip.sum()))
    return X, Xv, y, yv


def _leak(X, Xv, y, yv):
    """The validation set is a part of the training set."""
    return X, X[:300].copy(), y, y[:300].copy()


def _imbalance(X, Xv, y, yv):
    """Class 0 kept whole, every other class cut to a twentieth."""
    keep = (y == 0) | (np.arange(len(y)) % 20 == 0)
    keep_v = (yv == 0) | (np.arange(len(yv)) % 20 == 0)
    return X[keep], Xv[keep_v], y[keep], yv[keep_v]


def _first_100(X, Xv, y, yv):
    return X[:100], Xv, y[:100], yv


@dataclass
class Case:
    """One corpus run: what it is, the first finding expected (None: healthy), and how to train it."""
    what: str
    expected: str | None
    model: object
    data: object
    opt: str = "adam"
    lr: float = 1e-3
    epochs: int = 20
    batch_size: int = 64
    penalty: float | None = None
    transform: object = None
    loss: str = "SoftmaxCrossEntropy"
    clip: float | None = None
    schedule: object = None
    baseline_error: float | None = None
    needs: tuple = ()  # packages or data sets it needs (skipped where absent)
    extra: dict = field(default_factory=dict)


def _c(what, expected, model, data, **kw):
    return lambda: Case(what, expected, model(), data, **kw)


#: name: builder of a Case whose expected first finding is a code
PATHOLOGIES = {
    "lr_too_high": _c("learning rate 10x too high (SGD+momentum 0.5 where 0.05 works)", "lr.too_high", _mlp, _digits,
                      opt="momentum", lr=0.5),
    "lr_too_low": _c("learning rate 1000x too low (Adam 1e-6)", "lr.too_low", _mlp, _digits, lr=1e-6),
    "zero_init": _c("all weights and biases initialized to zero", "init.zero", lambda: _zero(_mlp()), _digits),
    "saturated_tanh": _c("a 6-layer tanh net with weights of std 1 (a large initialization)", "units.saturated",
                         lambda: _mlp(depth=6, act="Tanh", init="normal"), _digits),
    "vanishing_sigmoid": _c("a 10-layer sigmoid net", "gradients.vanishing",
                            lambda: _mlp(depth=10, act="Sigmoid", init="normal_fan_in"), _digits, epochs=10),
    "overfitting": _c("a 512-512-512 net on 100 MNIST-1D examples", "fit.overfitting",
                      lambda: _mlp(n_in=40, width=512, depth=3), _mnist1d, epochs=60, transform=_first_100,
                      needs=("mnist1d",)),
    "underfitting": _c("a 4-unit net with L2 strength 1.0 (human error on digits: 2 %)", "fit.underfitting",
                       lambda: _mlp(width=4, depth=1), _digits, penalty=1.0, baseline_error=0.02),
    "unscaled_inputs": _c("each input feature multiplied by a random factor up to 1000", "data.unscaled_inputs",
                          _mlp, _digits, transform=_scale_features),
    "shuffled_labels": _c("training labels shuffled", "fit.cannot_learn", _mlp, _digits, epochs=5,
                          transform=_shuffle_labels),
    "dead_relu": _c("a ReLU net whose first layer starts with bias -10", "units.dead",
                    lambda: _negative_bias(_mlp()), _digits),
    "noisy_labels": _c("half the training labels replaced by random classes", "data.label_noise", _mlp, _digits,
                       transform=_noisy_labels),
    "leakage": _c("the validation examples are training examples", "data.leakage", _mlp, _digits,
                  transform=_leak),
    "class_imbalance": _c("one class kept whole, the nine others cut to a twentieth", "data.class_imbalance",
                          _mlp, _digits, transform=_imbalance),
    "exploding_rnn": _c("a vanilla RNN over MNIST-1D's 40 steps with recurrent weights of spectral radius ~3, "
                        "no clipping", "gradients.exploding", lambda: _recurrent("RNN", n_in=1, hidden=64),
                        _mnist1d_sequences, lr=1e-3, epochs=4, batch_size=128, extra={"recurrent_std": 3.0},
                        needs=("mnist1d",)),
    "dead_relu_high_lr": _c("ReLUs killed by a learning rate 100x too high for Adam (0.1): the root cause first",
                            "lr.too_high",
                            lambda: _mlp(width=128), _digits, lr=0.1),
    "init_too_small": _c("a 10-layer ReLU net with weights of std 0.01", "init.scale",
                         lambda: _mlp(depth=10, init="small"), _digits, epochs=10),
}

#: name: builder of a Case that should get no warning and no error
HEALTHY = {
    "digits_mlp": _c("a 64-64 ReLU MLP, Adam 1e-3, standardized digits", None, _mlp, _digits),
    "digits_mlp_bn_dropout": _c("128-128 with batch norm and dropout 0.2, Adam 3e-3", None,
                                lambda: _mlp(width=128, bn=True, dropout=0.2), _digits, lr=3e-3),
    "digits_mlp_momentum": _c("64-64, SGD with momentum 0.9 at lr 0.05", None, _mlp, _digits,
                              opt="momentum", lr=0.05),
    "digits_mlp_rmsprop": _c("64-64, RMSprop 1e-3, L2 1e-3", None, _mlp, _digits, opt="rmsprop", penalty=1e-3),
    "digits_mlp_hinge": _c("64-64 with the multiclass SVM loss", None, _mlp, _digits, loss="MulticlassHinge"),
    "digits_mlp_deep_bn": _c("four 64-unit layers with batch norm, Adam 1e-3, cosine schedule", None,
                             lambda: _mlp(depth=4, bn=True), _digits, schedule="cosine"),
    "digits_cnn": _c("a small CNN (two 3x3 convolutions, He init everywhere), Adam 1e-3", None, _cnn, _digit_images,
                     epochs=15),
    "digits_cnn_bn": _c("the small CNN with batch norm, Adam 3e-3", None, lambda: _cnn(bn=True), _digit_images,
                        lr=3e-3, epochs=15),
    "digits_gru": _c("a GRU reading the 8 rows of each digit, Adam 1e-2", None, lambda: _recurrent("GRU"),
                     _digit_rows, lr=1e-2, epochs=15),
    "digits_lstm": _c("an LSTM reading the 8 rows of each digit, Adam 1e-2", None, lambda: _recurrent("LSTM"),
                      _digit_rows, lr=1e-2, epochs=15),
    "moons_mlp": _c("2-64-2 on two moons, Adam 1e-2 (reaches 100 %)", None, lambda: _mlp(2, 64, 1, n_out=2),
                    _toy(_moons, noise=0.1), lr=1e-2, epochs=40, batch_size=32),
    "moons_tanh_sgd": _c("2-16-16-2 tanh on two moons, SGD momentum 0.9 at 0.1", None,
                         lambda: _mlp(2, 16, 2, act="Tanh", init="normal_fan_in", n_out=2), _toy(_moons, noise=0.1),
                         opt="momentum", lr=0.1, epochs=40, batch_size=32),
    "moons_adagrad": _c("2-32-2 on two moons, Adagrad 0.1", None, lambda: _mlp(2, 32, 1, n_out=2),
                        _toy(_moons, noise=0.15), opt="adagrad", lr=0.1, epochs=40, batch_size=32),
    "circles_mlp": _c("2-32-32-2 on circles, Adam 1e-2 (reaches 100 %)", None, lambda: _mlp(2, 32, 2, n_out=2),
                      _toy(_circles, noise=0.05), lr=1e-2, epochs=40, batch_size=32),
    "circles_bn_dropout": _c("2-64-64-2 with batch norm and dropout 0.1 on circles", None,
                             lambda: _mlp(2, 64, 2, n_out=2, bn=True, dropout=0.1), _toy(_circles, noise=0.1),
                             lr=1e-2, epochs=40, batch_size=32),
    "spiral_mlp": _c("2-100-3 on the spiral, Adam 1e-2", None, lambda: _mlp(2, 100, 1, n_out=3),
                     _toy(_spiral, n_per_class=200), lr=1e-2, epochs=60, batch_size=32),
    "spiral_deep": _c("2-64-64-3 with batch norm on the spiral, Adam 1e-2", None,
                      lambda: _mlp(2, 64, 2, n_out=3, bn=True), _toy(_spiral, n_per_class=200), lr=1e-2,
                      epochs=60, batch_size=32),
    "mnist1d_cnn": _c("a 1-D CNN with batch norm and dropout on MNIST-1D, Adam 3e-3", None, _cnn1d, _mnist1d,
                      lr=3e-3, epochs=10,
                      batch_size=128, needs=("mnist1d",)),
    "mnist1d_gru": _c("a GRU over MNIST-1D's 40 steps, Adam 1e-2, clipped at norm 5", None,
                      lambda: _recurrent("GRU", n_in=1, hidden=64), _mnist1d_sequences, lr=1e-2, epochs=10,
                      batch_size=128, clip=5.0, needs=("mnist1d",)),
    "mnist1d_mlp_regularized": _c("40-256-256-10 with batch norm, dropout 0.5 and L2 on MNIST-1D", None,
                                  lambda: _mlp(40, 256, 2, bn=True, dropout=0.5), _mnist1d, lr=3e-3,
                                  penalty=1e-2, epochs=30, batch_size=128, needs=("mnist1d",)),
    "fashion_mlp": _c("784-256-10 with dropout 0.5 on 6000 Fashion-MNIST images, Adam 1e-3", None,
                      lambda: _mlp(784, 256, 1, dropout=0.5), _fashion, epochs=8, batch_size=128,
                      needs=("fashion-mnist",)),
}

CASES = {**HEALTHY, **PATHOLOGIES}


def available(case) -> bool:
    """False when a case needs a package or data set that is not here."""
    for need in case.needs:
        if need == "fashion-mnist":
            try:
                from ..data import load_fashion_mnist
                load_fashion_mnist(download=False)
            except Exception:
                return False
        else:
            import importlib.util
            if importlib.util.find_spec(need) is None:
                return False
    return True


@dataclass
class CaseRun:
    """A trained corpus case: the trainer, the finding expected first, and what a user would pass
    to ``examine`` (the training and validation data, a baseline error where the case knows one)."""
    name: str
    case: Case
    trainer: object
    data: tuple
    val: tuple

    @property
    def expected(self):
        return self.case.expected


def run(name, seed=0):
    """Train the named case (a few seconds) with a Monitor; returns (trainer, expected code)."""
    r = run_case(name, seed)
    return r.trainer, r.expected


def run_case(name, seed=0) -> CaseRun:
    """Train the named case (a few seconds) with a Monitor."""
    from .. import callbacks, nn, optim
    from ..optim.schedules import Cosine
    from ..train import Trainer
    from .monitors import Monitor

    if name not in CASES:
        raise KeyError(f"unknown case {name!r}; choose from {sorted(CASES)}")
    case = CASES[name]()
    X, y, Xv, yv = case.data()
    if case.transform is not None:
        X, Xv, y, yv = case.transform(X, Xv, y, yv)
    model = case.model
    if "recurrent_std" in case.extra:  # recurrent weights of a chosen scale (spectral radius ~ std)
        rng = np.random.default_rng(seed)
        for mname, p in model.named_parameters():
            if mname.endswith("Wh"):
                p.data[...] = rng.normal(0, case.extra["recurrent_std"] / np.sqrt(p.shape[0]), p.shape)
    opt = {"momentum": lambda: optim.SGD(model, lr=case.lr, momentum=0.9),
           "rmsprop": lambda: optim.RMSprop(model, lr=case.lr), "adagrad": lambda: optim.Adagrad(model, lr=case.lr),
           "adam": lambda: optim.Adam(model, lr=case.lr)}[case.opt]()
    penalty = optim.L2(case.penalty) if case.penalty else None
    cbs = [Monitor(every=10), callbacks.TerminateOnNaN()]
    if case.clip:
        cbs.append(callbacks.GradientClipping(case.clip))
    trainer = Trainer(model, getattr(nn, case.loss)(), opt, penalty=penalty, verbose=0, callbacks=cbs,
                      schedule=Cosine(case.epochs) if case.schedule == "cosine" else None)
    trainer.fit((X, y), val=(Xv, yv), epochs=case.epochs, batch_size=case.batch_size, seed=seed)
    return CaseRun(name, case, trainer, (X, y), (Xv, yv))


def examine_case(r: CaseRun):
    """The doctor's findings on a corpus run, with its data and baseline (as a user would pass them)."""
    from .examine import examine

    return examine(r.trainer, data=r.data, val=r.val, baseline_error=r.case.baseline_error)


def detection_table(names=None):
    """Rows (case, what, expected first finding, found first finding, its severity, seconds)."""
    import time

    rows = []
    for name in names or CASES:
        case = CASES[name]()
        if not available(case):
            continue
        t0 = time.perf_counter()
        r = run_case(name)
        findings = [f for f in examine_case(r) if f.severity != "info"]
        top = findings[0] if findings else None
        rows.append((name, case.what, case.expected or "(none)", top.code if top else "(none)",
                     top.severity if top else "-", time.perf_counter() - t0))
    return rows
