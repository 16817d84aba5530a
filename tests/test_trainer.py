"""The Trainer: the notes' sanity checks, callbacks, reproducibility and ensembles."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    PolyakAveraging,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


def spiral(n=100, seed=0):
    d = gn.data.make_spiral(n_per_class=n, seed=seed)
    return d.X, d.y


def mlp(seed=0, hidden=32, p=0.0):
    layers = [gn.nn.Linear(2, hidden, rng=seed), gn.nn.ReLU()]
    if p:
        layers.append(gn.nn.Dropout(p))
    layers += [gn.nn.Linear(hidden, hidden, rng=seed + 1), gn.nn.ReLU(), gn.nn.Linear(hidden, 3, rng=seed + 2)]
    return gn.nn.Sequential(*layers)


def trainer_for(net, lr=1e-2, **kw):
    kw.setdefault("verbose", 0)
    return gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net, lr=lr), **kw)


def test_overfits_a_tiny_real_subset_to_100_percent():
    train, _ = gn.data.load_mnist1d()
    X, y = train.X[:50], train.y[:50]
    X = gn.data.Standardize().fit_transform(X)
    net = gn.nn.Sequential(gn.nn.Linear(40, 128, rng=0), gn.nn.ReLU(), gn.nn.Linear(128, 128, rng=1), gn.nn.ReLU(),
                           gn.nn.Linear(128, 10, rng=2))
    tr = trainer_for(net, lr=3e-3)  # no penalty, no dropout
    h = tr.fit((X, y), epochs=200, batch_size=25, seed=0)
    assert tr.evaluate((X, y))["accuracy"] == 1.0
    assert h.epochs[-1]["accuracy"] == 1.0
    assert h.iterations["loss"][-1] < 0.05 * h.iterations["loss"][0]


def test_loss_at_start_is_about_log_C():
    X, y = spiral()
    net = gn.nn.Sequential(gn.nn.Linear(2, 50, init="small_normal", rng=0), gn.nn.ReLU(),
                           gn.nn.Linear(50, 3, init="small_normal", rng=1))
    tr = trainer_for(net, lr=1e-9)
    h = tr.fit((X, y), epochs=1, batch_size=len(X), seed=0)
    assert h.iterations["loss"][0] == pytest.approx(np.log(3), rel=1e-3)


def test_early_stopping_restores_best_validation_weights():
    X, y = spiral(60, seed=0)
    Xv, yv = spiral(30, seed=1)
    net = mlp(hidden=64)
    es = EarlyStopping(monitor="val_loss", patience=3)
    tr = trainer_for(net, lr=5e-2, callbacks=[es])
    h = tr.fit((X, y), val=(Xv, yv), epochs=200, batch_size=16, seed=0)
    best, best_epoch = h.best("val_loss")
    assert "early stopping" in h.stop_reason
    assert best_epoch < len(h)  # training went on past the best epoch
    assert tr.evaluate((Xv, yv))["loss"] == pytest.approx(best, rel=1e-5)


def test_early_stopping_restores_on_any_stop():
    X, y = spiral(30)

    class StopAt(Callback):
        def on_epoch_end(self, trainer, logs):
            if logs["epoch"] == 4:
                raise gn.callbacks.StopTraining("stop requested by test")

    net = mlp()
    es = EarlyStopping(monitor="loss", patience=100)
    tr = trainer_for(net, callbacks=[es, StopAt()])
    tr.fit((X, y), epochs=10, batch_size=10, seed=0)
    assert tr.history.stop_reason == "stop requested by test"
    for k, v in es.best_weights.items():
        np.testing.assert_array_equal(net.state_dict()[k], v)


def test_epochs_are_permutations_and_partial_batch_is_kept():
    X = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    y = np.zeros(10, dtype=np.int64)
    seen = []

    class Record(Callback):
        def on_batch_begin(self, trainer, logs):
            seen.append(logs["batch_x"][:, 0].copy())

    net = gn.nn.Sequential(gn.nn.Linear(2, 3, rng=0))
    tr = trainer_for(net, callbacks=[Record()])
    tr.fit((X, y), epochs=3, batch_size=4, seed=0)
    assert [len(b) for b in seen] == [4, 4, 2] * 3
    epochs = [np.sort(np.concatenate(seen[i:i + 3])) for i in (0, 3, 6)]
    for e in epochs:
        np.testing.assert_array_equal(e, np.arange(10))
    assert not np.array_equal(np.concatenate(seen[0:3]), np.concatenate(seen[3:6]))  # reshuffled
    seen.clear()
    tr.fit((X, y), epochs=1, batch_size=4, seed=0, drop_last=True)
    assert [len(b) for b in seen] == [4, 4]
    seen.clear()
    tr.fit((X, y), epochs=1, batch_size=1, seed=0)
    assert len(seen) == 10
    seen.clear()
    tr.fit((X, y), epochs=2, batch_size=10, seed=0)  # batch gradient descent
    assert [len(b) for b in seen] == [10, 10]


def test_train_mode_for_training_eval_mode_for_evaluation():
    modes = []

    class Spy(gn.nn.Identity):
        def forward(self, x):
            modes.append(self.training)
            return super().forward(x)

    class Phase(Callback):
        def on_batch_begin(self, trainer, logs):
            modes.append("batch")

        def on_validation_begin(self, trainer, logs):
            modes.append("validation")

    X, y = spiral(10)
    net = gn.nn.Sequential(Spy(), gn.nn.Linear(2, 3, rng=0))
    tr = trainer_for(net, callbacks=[Phase()])
    tr.fit((X, y), val=(X, y), epochs=1, batch_size=30, seed=0)
    i = modes.index("validation")
    # before the first batch: the data checks' forward pass, in eval mode (it must not touch batch statistics)
    first = modes.index("batch")
    assert modes[:first] and all(m is False for m in modes[:first])
    assert all(m is True for m in modes[first:i] if m != "batch")
    assert all(m is False for m in modes[i + 1:])
    tr.predict(X)
    assert modes[-1] is False and net.training  # back to train mode after predicting


def test_same_seed_same_run_bit_for_bit():
    X, y = spiral(40)
    runs = []
    for _ in range(2):
        net = mlp(p=0.3)
        tr = trainer_for(net, penalty=gn.optim.L2(1e-3))
        h = tr.fit((X, y), val=(X, y), epochs=3, batch_size=16, seed=7)
        runs.append((net.state_dict(), h.iterations["loss"], h["val_loss"]))
    for k in runs[0][0]:
        np.testing.assert_array_equal(runs[0][0][k], runs[1][0][k])
    assert runs[0][1] == runs[1][1] and runs[0][2] == runs[1][2]
    net = mlp(p=0.3)
    trainer_for(net).fit((X, y), epochs=3, batch_size=16, seed=8)
    assert not np.array_equal(net.state_dict()["0.W"], runs[0][0]["0.W"])


def test_seed_none_draws_and_records_a_seed():
    X, y = spiral(10)
    tr = trainer_for(mlp())
    tr.fit((X, y), epochs=1, batch_size=10, seed=None)
    assert isinstance(tr.seed, int)
    again = trainer_for(mlp())
    again.fit((X, y), epochs=1, batch_size=10, seed=tr.seed)
    assert again.history.iterations == tr.history.iterations


def test_history_separates_data_loss_and_penalty():
    X, y = spiral(20)
    net = mlp()
    pen = gn.optim.L2(0.1)
    tr = trainer_for(net, penalty=pen)
    h = tr.fit((X, y), epochs=2, batch_size=20, seed=0)
    it = h.iterations
    assert all(p > 0 for p in it["penalty"])
    np.testing.assert_allclose(np.array(it["loss"]), np.array(it["data_loss"]) + np.array(it["penalty"]))
    assert h.epochs[0]["loss"] > h.epochs[0]["data_loss"]
    assert "sample" in h.train_metrics_on or "whole training set" in h.train_metrics_on


def test_evaluate_returns_per_class_accuracy_and_confusion_matrix():
    X, y = spiral(30)
    tr = trainer_for(mlp())
    tr.fit((X, y), epochs=5, batch_size=30, seed=0)
    r = tr.evaluate((X, y))
    cm = np.array(r["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == len(y)
    assert r["accuracy"] == pytest.approx(np.trace(cm) / len(y))
    np.testing.assert_allclose(r["per_class_accuracy"], np.diag(cm) / cm.sum(axis=1))
    np.testing.assert_allclose(tr.predict_proba(X).sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(tr.predict(X), tr.predict_proba(X).argmax(axis=1))


def test_regression_with_mse():
    d = gn.data.make_polynomial(n=40, degree=1, noise=0.5)
    X = (d.X - 10) / 6
    net = gn.nn.Sequential(gn.nn.Linear(1, 16, rng=0), gn.nn.Tanh(), gn.nn.Linear(16, 1, rng=1))
    tr = gn.Trainer(net, gn.nn.MSE(), gn.optim.Adam(net, lr=3e-2), metrics=("mse", "mae"), verbose=0)
    h = tr.fit((X, d.y), epochs=600, batch_size=40, seed=0)
    # the noise variance is 0.25: a good fit of y = x gets close to it
    assert "accuracy" not in h.epochs[-1] and h.epochs[-1]["mse"] < 0.5
    assert tr.predict(X).shape == (40, 1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow warnings are expected in a divergent run
def test_nan_from_huge_learning_rate_stops_and_names_the_module():
    X, y = spiral(50)
    net = gn.nn.Sequential(gn.nn.Linear(2, 64, rng=0), gn.nn.ReLU(), gn.nn.Linear(64, 64, rng=1), gn.nn.ReLU(),
                           gn.nn.Linear(64, 3, rng=2))
    stop = TerminateOnNaN()
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=1e8, momentum=0.9), callbacks=[stop],
                    verbose=0)
    h = tr.fit((X * 100, y), epochs=20, batch_size=10, seed=0)
    assert stop.report is not None
    assert "module '" in h.stop_reason and "Linear" in h.stop_reason
    assert "divide the learning rate by 10" in h.stop_reason
    assert "1e+08" in h.stop_reason and "1e+07" in h.stop_reason
    assert len(h) < 20


def test_nonfinite_without_terminate_on_nan_raises_with_location():
    X, y = spiral(10)
    net = mlp()
    net[0].W.data[0, 0] = np.nan
    tr = trainer_for(net)
    # the loss finds the NaN scores; the trainer then names the module where they started
    with pytest.raises(gn.NonFiniteError, match=r"scores contains .*\n.*parameter W of module '0' \(Linear\)"):
        tr.fit((X, y), epochs=1, batch_size=10, seed=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_localizes_a_nan_parameter():
    X, y = spiral(10)
    net = mlp()
    net[2].W.data[1, 1] = np.inf
    tr = trainer_for(net, callbacks=[TerminateOnNaN()])
    h = tr.fit((X, y), epochs=3, batch_size=10, seed=0)
    assert "parameter W of module '2' (Linear)" in h.stop_reason


def test_reduce_lr_on_plateau_composes_with_schedule():
    X, y = spiral(20)
    net = mlp()
    rl = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=10.0)  # never improves after the first
    tr = trainer_for(net, lr=1e-2, schedule=gn.optim.schedules.StepDecay(every=2, factor=0.1), callbacks=[rl])
    h = tr.fit((X, y), val=(X, y), epochs=4, batch_size=60, seed=0)
    lrs = h["lr"]  # the rate used during each epoch
    assert lrs[0] == pytest.approx(1e-2)
    assert lrs[1] == pytest.approx(1e-2)          # epoch 1 set the best; no decay step yet
    assert lrs[2] == pytest.approx(1e-3 * 0.5)    # step decay at t=2, plateau after epoch 2
    assert lrs[3] == pytest.approx(1e-3 * 0.25)   # plateau again after epoch 3


def test_polyak_average_is_used_for_evaluation_and_at_the_end():
    X, y = spiral(30)
    net = mlp()
    pa = PolyakAveraging(decay=0.9)
    tr = trainer_for(net, callbacks=[pa])
    tr.fit((X, y), val=(X, y), epochs=3, batch_size=15, seed=0)
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.data, pa.average[name])
    # the average differs from the raw last iterate
    net2 = mlp()
    trainer_for(net2).fit((X, y), epochs=3, batch_size=15, seed=0)
    assert not np.allclose(net2[0].W.data, net[0].W.data)


def test_transfer_learning_freeze_replace_head_group_lrs():
    X, y = spiral(30)
    net = mlp()
    trainer_for(net).fit((X, y), epochs=3, batch_size=30, seed=0)
    body = net[:4]
    body.freeze()
    frozen = {k: v.copy() for k, v in body.state_dict().items()}
    net[4] = gn.nn.Linear(32, 3, rng=5)  # a new head
    opt = gn.optim.SGD([{"params": body.parameters(), "lr": 0.0}, {"params": net[4].parameters(), "lr": 0.1}])
    head_before = net[4].W.data.copy()
    gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), opt, verbose=0).fit((X, y), epochs=2, batch_size=30, seed=0)
    for k, v in body.state_dict().items():
        np.testing.assert_array_equal(v, frozen[k])
    assert not np.array_equal(net[4].W.data, head_before)
    body.unfreeze()
    assert all(not p.frozen for p in net.parameters())


def test_callback_events_in_order():
    events = []

    class Log(Callback):
        pass

    for ev in gn.callbacks.EVENTS:
        setattr(Log, ev, lambda self, tr, logs, ev=ev: events.append(ev))
    X, y = spiral(4)
    trainer_for(mlp(), callbacks=[Log()]).fit((X, y), val=(X, y), epochs=1, batch_size=12, seed=0)
    assert events == ["on_train_begin", "on_epoch_begin", "on_batch_begin", "after_backward", "after_step",
                      "on_batch_end", "on_validation_begin", "on_validation_end", "on_epoch_end", "on_train_end"]


def test_monitor_errors_are_clear():
    X, y = spiral(4)
    tr = trainer_for(mlp(), callbacks=[EarlyStopping()])
    with pytest.raises(gn.errors.ConfigError, match="EarlyStopping: monitor 'val_loss' needs validation data"):
        tr.fit((X, y), epochs=1, batch_size=12)
    assert tr.iteration == 0  # refused before training, not after the first epoch
    with pytest.raises(gn.errors.ConfigError, match="monitor 'val_mae' is not measured by this run"):
        trainer_for(mlp(), callbacks=[EarlyStopping("val_mae")]).fit((X, y), val=(X, y), epochs=1)
    with pytest.raises(ValueError, match="pass mode='min' or 'max'"):
        EarlyStopping(monitor="val_f00")


def test_bad_fit_arguments():
    X, y = spiral(4)
    tr = trainer_for(mlp())
    with pytest.raises(ValueError, match="X has 12 rows but y has 11"):
        tr.fit((X, y[:-1]))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        tr.fit((X, y), batch_size=0)
    with pytest.raises(ValueError, match=r"row 0 has label 5, but the model outputs 3 class scores \(labels 0..2\)"):
        tr.fit((X, np.full(12, 5)), epochs=1)


def test_model_checkpoint_file_names():
    X, y = spiral(20)
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        mc = ModelCheckpoint(d, monitor="val_accuracy", save_best_only=False)
        trainer_for(mlp(), callbacks=[mc]).fit((X, y), val=(X, y), epochs=3, batch_size=30, seed=0)
        names = sorted(os.listdir(d))
        numbered = [n for n in names if n.startswith("epoch")]
        assert len(numbered) == 3 and {"best.npz", "last.npz"} <= set(names)
        import re
        assert all(re.fullmatch(r"epoch\d{3}-val_accuracy\d\.\d{4}\.npz", n) for n in numbered)


def test_ensemble_of_five_seeds_is_at_least_as_accurate_as_its_members():
    train, test = gn.data.load_mnist1d()
    prep = gn.data.Standardize().fit(train.X)
    Xtr, Xte = prep.transform(train.X[:1500]), prep.transform(test.X)
    ytr, yte = train.y[:1500], test.y

    def build(seed):
        net = gn.nn.Sequential(gn.nn.Linear(40, 64, rng=seed), gn.nn.ReLU(), gn.nn.Linear(64, 10, rng=seed + 100))
        return trainer_for(net, lr=3e-3)

    ens = gn.ensemble.Ensemble.from_seeds(build, (Xtr, ytr), seeds=range(5), fit_kwargs={"epochs": 15, "batch_size": 64})
    r = ens.evaluate(Xte, yte)
    assert len(r["member_accuracy"]) == 5
    assert r["accuracy"] >= r["mean_member_accuracy"]
    vote = gn.ensemble.Ensemble(ens.models, method="vote").evaluate(Xte, yte)
    weighted = gn.ensemble.Ensemble(ens.models, method="weighted").evaluate(Xte, yte)
    assert vote["accuracy"] >= r["mean_member_accuracy"] - 0.01
    assert weighted["accuracy"] >= r["mean_member_accuracy"] - 0.01


def test_ensemble_methods_on_hand_made_members():
    class Fixed(gn.nn.Module):
        def __init__(self, scores):
            super().__init__()
            self.scores = np.log(np.asarray(scores))
            self.p = gn.nn.Parameter(np.zeros(1, np.float32))

        def forward(self, x):
            return np.repeat(self.scores[None], len(x), axis=0)

    members = [Fixed([0.6, 0.4]), Fixed([0.45, 0.55]), Fixed([0.4, 0.6])]
    X = np.zeros((1, 1), np.float32)
    assert gn.ensemble.Ensemble(members, "mean").predict(X)[0] == 1      # mean (0.483, 0.517)
    assert gn.ensemble.Ensemble(members, "vote").predict(X)[0] == 1      # 2 votes to 1
    heavy = [Fixed([0.99, 0.01]), Fixed([0.45, 0.55]), Fixed([0.45, 0.55])]
    assert gn.ensemble.Ensemble(heavy, "vote").predict(X)[0] == 1
    assert gn.ensemble.Ensemble(heavy, "weighted").predict(X)[0] == 1    # 0.99 < 0.55 + 0.55
    with pytest.raises(ValueError, match="method must be one of"):
        gn.ensemble.Ensemble(members, "median")


def test_solver_facade():
    X, y = spiral(40)
    Xv, yv = spiral(20, seed=1)
    data = {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv}
    solver = gn.Solver(mlp(), data, update_rule="sgd_momentum", optim_config={"learning_rate": 5e-2, "momentum": 0.9},
                       lr_decay=0.95, num_epochs=5, batch_size=20, print_every=1000, verbose=False)
    solver.train()
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 5
    assert len(solver.loss_history) == 5 * 6
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert solver.check_accuracy(Xv, yv) == pytest.approx(solver.best_val_acc)
    assert solver.trainer.history["lr"][1] == pytest.approx(5e-2 * 0.95)
    with pytest.raises(ValueError, match=r"Unrecognized arguments \['num_epoch'\]"):
        gn.Solver(mlp(), data, num_epoch=3)
    with pytest.raises(ValueError, match='Invalid update_rule "sgd_nesterov"'):
        gn.Solver(mlp(), data, update_rule="sgd_nesterov")


def test_progress_output_levels():
    import io
    X, y = spiral(20)
    outputs = {}
    for verbose in (0, 1, 2):
        buf = io.StringIO()
        net = mlp()
        gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net), verbose=0,
                   callbacks=[gn.callbacks.ProgressBar(verbose, stream=buf)]).fit((X, y), epochs=2, batch_size=6)
        outputs[verbose] = buf.getvalue()
    assert outputs[0] == ""
    assert outputs[1].count("epoch") == 2 and "batch" not in outputs[1]  # not a terminal: no bar
    assert outputs[2].count("batch") == 20  # ten lines per epoch


def test_ensemble_of_checkpoint_snapshots(tmp_path):
    X, y = spiral(40)
    mc = ModelCheckpoint(tmp_path, monitor="val_accuracy", save_best_only=False)
    trainer_for(mlp(), callbacks=[mc]).fit((X, y), val=(X, y), epochs=4, batch_size=20, seed=0)
    snapshots = sorted(str(p) for p in tmp_path.glob("epoch*.npz"))[-3:]
    ens = gn.ensemble.Ensemble(snapshots, method="mean")
    assert len(ens.models) == 3
    r = ens.evaluate(X, y)
    assert r["accuracy"] >= min(r["member_accuracy"])
    with pytest.raises(gn.CheckpointError, match="no such file"):
        gn.ensemble.Ensemble([str(tmp_path / "nope.npz")])


def test_epoch_line_shows_data_loss_and_penalty_separately():
    import io
    X, y = spiral(10)
    buf = io.StringIO()
    net = mlp()
    gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(net), penalty=gn.optim.L2(0.1), verbose=0,
               callbacks=[gn.callbacks.ProgressBar(1, stream=buf)]).fit((X, y), epochs=1, batch_size=30)
    assert "(data " in buf.getvalue() and "+ penalty " in buf.getvalue()


def test_huge_but_finite_gradients_are_not_called_non_finite():
    from glassnet._checks import all_finite
    g = np.full(1000, 3e38, np.float32)  # each finite; their sum overflows float32 and float64 does not
    big = np.full(10, 1e308)            # here even the float64 sum overflows
    assert all_finite(g) and all_finite(big) and all_finite(None)
    big[3] = np.nan
    assert not all_finite(big)
    with warnings.catch_warnings():  # an overflowing dot product is no warning to the user
        warnings.simplefilter("error")
        assert all_finite(np.full(100, 1e30, np.float32))
    for dtype in (np.float16, np.float32, np.float64):  # dot product, plain sum and full scan all agree
        x = np.full((3, 4), np.finfo(dtype).max / 2, dtype)
        assert all_finite(x) and all_finite(x.T) and all_finite(x[:, ::2])
        for bad in (np.nan, np.inf, -np.inf):
            x[1, 2] = bad
            assert not all_finite(x) and not all_finite(x.T) and not all_finite(x[:, ::2])


def test_labels_are_range_checked_once_for_the_whole_set():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    y[-1] = 7  # only in the last batch
    net = gn.nn.Sequential(gn.nn.Linear(4, 3, rng=0))
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1), verbose=0)
    with pytest.raises(ValueError, match=r"row 39 has label 7, but the model outputs 3 class scores"):
        tr.fit((X, y), epochs=1, batch_size=10, seed=0, shuffle=False)
    assert tr.iteration == 0  # refused before the first update, not at the last batch


def test_detect_anomaly_names_the_module_at_the_step_it_happens(rng):
    """Trainer(detect_anomaly=True) checks every module at every step; the error names the
    first module whose values went non-finite. Without it the run trains at full speed and a
    non-finite loss is traced afterwards to the same module."""
    X = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.integers(0, 2, 32)
    for flag in (True, False):
        net = gn.nn.Sequential(gn.nn.Linear(4, 8, rng=0), gn.nn.ReLU(), gn.nn.Linear(8, 2, rng=1))
        net[2].register_forward_hook(lambda m, i, out: np.full_like(out, np.inf))
        tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1), verbose=0,
                        detect_anomaly=flag)
        with pytest.raises(gn.NonFiniteError, match=r"the output of module .2. \(Linear\)"):
            tr.fit((X, y), epochs=1, batch_size=8)
    with pytest.raises(ValueError, match="detect_anomaly must be True or False"):
        gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1), detect_anomaly="yes")
