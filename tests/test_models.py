"""glassnet.models: the architectures (published parameter counts, a few training steps at
small sizes), named Sequentials, summary (rows, multiply-adds, optimizer state, the memory
estimate against tracemalloc), transfer learning, [model] arch configs and `glassnet summary`."""
import copy
import gc
import json
import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet import models as M
from glassnet.cli import main as cli
from glassnet.errors import ConfigError, ShapeError

# (builder, published count): torchvision's model table and the papers
PUBLISHED = [
    (lambda: M.resnet(18), 11_689_512), (lambda: M.resnet(34), 21_797_672), (lambda: M.resnet(50), 25_557_032),
    (lambda: M.resnet(101), 44_549_160),
    (lambda: M.googlenet(kernel_5x5=3), 6_624_904),
    (lambda: M.alexnet(channels=(64, 192, 384, 256, 256), lrn=False), 61_100_840),
    (lambda: M.alexnet(), 62_378_344),
    (lambda: M.vgg("vgg11"), 132_863_336), (lambda: M.vgg("vgg13"), 133_047_848), (lambda: M.vgg("vgg16"), 138_357_544),
    (lambda: M.vgg("vgg19"), 143_667_240), (lambda: M.vgg("vgg16", batch_norm=True), 138_365_992),
    (lambda: M.lenet5(), 61_706),
]


@pytest.mark.parametrize("i", range(len(PUBLISHED)))
def test_parameter_counts_equal_the_published_ones(i):
    build, count = PUBLISHED[i]
    model = build()
    assert model.num_parameters() == count
    del model
    gc.collect()


SMALL = {
    "lenet5-28": (lambda: M.lenet5(input_size=28), (1, 28, 28)),
    "lenet5-tanh": (lambda: M.lenet5(activation="tanh"), (1, 32, 32)),
    "alexnet-28": (lambda: M.alexnet(num_classes=10, in_channels=1, input_size=28), (1, 28, 28)),
    "vgg11-32": (lambda: M.vgg("vgg11", num_classes=10, input_size=32, batch_norm=True), (3, 32, 32)),
    "vgg16-28": (lambda: M.vgg("vgg16", num_classes=10, in_channels=1, input_size=28), (1, 28, 28)),
    "googlenet-32": (lambda: M.googlenet(num_classes=10, input_size=32), (3, 32, 32)),
    "resnet18-32": (lambda: M.resnet(18, num_classes=10, input_size=32), (3, 32, 32)),
    "resnet50-28": (lambda: M.resnet(50, num_classes=10, in_channels=1, input_size=28), (1, 28, 28)),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_builder_trains_at_small_sizes(name):
    build, shape = SMALL[name]
    model = build()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4,) + shape).astype(np.float32)
    y = np.arange(4) % 10
    loss = gn.nn.SoftmaxCrossEntropy()
    opt = gn.optim.SGD(model, lr=1e-3, momentum=0.9)
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    for _ in range(2):
        model.zero_grad()
        out = model.forward(x)
        value = loss.forward(out, y)
        model.backward(loss.backward(), need_input_grad=False)
        opt.step()
    assert out.shape == (4, 10) and np.isfinite(value)
    changed = [n for n, p in model.named_parameters() if not np.array_equal(p.data, before[n])]
    assert len(changed) == len(before)  # every parameter received a gradient and moved
    # the saved architecture rebuilds to the same network
    twin = gn.nn.build(json.loads(json.dumps(model.config())))
    twin.load_state_dict(model.state_dict())
    model.eval(), twin.eval()
    np.testing.assert_array_equal(model.forward(x), twin.forward(x))


def test_resnet_learns_a_small_batch():
    model = M.resnet(18, num_classes=4, in_channels=1, input_size=16, rng=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 1, 16, 16)).astype(np.float32)
    y = np.arange(8) % 4
    loss = gn.nn.SoftmaxCrossEntropy()
    opt = gn.optim.Adam(model, lr=1e-3)
    values = []
    for _ in range(15):
        model.zero_grad()
        values.append(loss.forward(model.forward(x), y))
        model.backward(loss.backward(), need_input_grad=False)
        opt.step()
    assert values[-1] < 0.3 * values[0]


def test_imagenet_shapes_follow_the_papers():
    s = M.summary(M.resnet(18), (3, 224, 224), batch_size=1, depth=1)
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes["maxpool"] == (1, 64, 56, 56) and shapes["layer4"] == (1, 512, 7, 7)
    a = M.alexnet(channels=(64, 192, 384, 256, 256), lrn=False)
    assert a.classifier.fc6.in_features == 256 * 6 * 6


def test_builders_refuse_bad_arguments():
    with pytest.raises(ConfigError, match="depth must be one of 18, 34, 50, 101, 152, got 20"):
        M.resnet(20)
    with pytest.raises(ConfigError, match="name must be one of"):
        M.vgg("vgg15")
    with pytest.raises(ConfigError, match="channels must list the five"):
        M.alexnet(channels=(1, 2))
    with pytest.raises(ConfigError, match="kernel_5x5 must be odd"):
        gn.nn.Inception(8, 2, 2, 2, 2, 2, 2, kernel_5x5=4)


def test_inception_and_bottleneck_shapes():
    inc = gn.nn.Inception(8, 4, 3, 5, 2, 3, 2, rng=0)
    assert inc.forward(np.zeros((2, 8, 6, 6), np.float32)).shape == (2, 4 + 5 + 3 + 2, 6, 6)
    b = gn.nn.Bottleneck(16, 32, stride=2, rng=0)
    assert b.width == 8 and b.forward(np.zeros((2, 16, 7, 7), np.float32)).shape == (2, 32, 4, 4)


# -- named Sequential ---------------------------------------------------------------------------------------------
def test_named_sequential_round_trip_and_errors():
    s = gn.nn.Sequential({"body": gn.nn.Sequential(gn.nn.Linear(3, 4, rng=0), gn.nn.ReLU()),
                          "fc": gn.nn.Linear(4, 2, rng=1)})
    assert [n for n, _ in s.named_parameters()] == ["body.0.W", "body.0.b", "fc.W", "fc.b"]
    assert s["fc"] is s.fc and s[:1].names() == ["body"]
    rebuilt = gn.nn.build(s.config())
    assert rebuilt.names() == ["body", "fc"]
    with pytest.raises(ConfigError, match="the name 'fc' is taken"):
        s.append(gn.nn.ReLU(), "fc")
    with pytest.raises(ConfigError, match="the name 'train' is taken"):
        gn.nn.Sequential({"train": gn.nn.ReLU()})
    with pytest.raises(KeyError, match="no child named 'head'"):
        s["head"]
    with pytest.raises(ConfigError, match=r"model.names: expected a list of 2 names"):
        gn.nn.build({"type": "Sequential", "layers": [{"type": "ReLU"}, {"type": "ReLU"}], "names": ["a"]})


# -- summary ------------------------------------------------------------------------------------------------------
def test_summary_rows_counts_and_multiply_adds():
    s = M.summary(M.lenet5(), (1, 32, 32), batch_size=16, optimizer="adam")
    rows = {r.name: r for r in s.rows}
    assert rows["conv1"].output_shape == (16, 6, 28, 28)
    assert rows["conv1"].macs == 6 * 28 * 28 * 5 * 5  # outputs x (in_channels x kernel)
    assert rows["conv2"].macs == 16 * 10 * 10 * 6 * 5 * 5
    assert rows["fc1"].macs == 400 * 120 and rows["fc1"].trainable == 48_120
    assert s.total_parameters == 61_706 and s.macs == sum(r.macs for r in s.rows)
    m = s.memory
    assert m.parameters == 61_706 * 4 and m.gradients == 61_706 * 4 and m.optimizer_state == 2 * 61_706 * 4
    assert m.input == 16 * 32 * 32 * 4
    assert m.peak > m.parameters + m.optimizer_state + m.activations
    text = str(s)
    assert "conv1" in text and "estimated peak of a training step" in text
    assert "<table>" in s._repr_html_() and "conv1" in s._repr_html_()
    assert s.as_dict()["memory"]["peak"] == m.peak


def test_summary_counts_frozen_parameters_and_depth():
    model = M.lenet5()
    model.conv1.freeze()
    s = model.summary((1, 32, 32), batch_size=4, depth=0)
    assert len(s.rows) == 1 and s.rows[0].name == ""
    assert s.frozen_parameters == 156 and s.memory.gradients == (61_706 - 156) * 4


@pytest.mark.parametrize("name, slots", [("sgd", 0), ("sgd_momentum", 1), ("nesterov", 1), ("adagrad", 1),
                                         ("rmsprop", 1), ("adam", 2)])
def test_optimizer_state_is_read_from_the_optimizer(name, slots):
    model = gn.nn.Sequential(gn.nn.Linear(5, 7, rng=0))
    cls, fixed = gn.optim.OPTIMIZERS[name]
    opt = cls(model, lr=0.1, **fixed)
    assert opt.state_bytes() == slots * (5 * 7 + 7) * 4
    assert M.optimizer_state_slots(name)[0] == slots == M.optimizer_state_slots(opt)[0]
    assert M.summary(model, (5,), optimizer=opt).memory.optimizer_state == opt.state_bytes()


def test_summary_leaves_the_model_alone():
    model = gn.nn.Sequential(gn.nn.Linear(4, 6, rng=0), gn.nn.BatchNorm1d(6), gn.nn.Dropout(0.5, rng=1),
                             gn.nn.Linear(6, 2, rng=2))
    before = copy.deepcopy(model.state_dict())
    rng_state = model[2].rng.bit_generator.state
    s = M.summary(model, (4,), batch_size=8, optimizer="adam")
    assert s.total_parameters == 4 * 6 + 6 + 12 + 6 * 2 + 2
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert model[2].rng.bit_generator.state == rng_state
    assert all(p._grad is None for p in model.parameters())


def test_summary_of_a_model_without_parameters():
    s = M.summary(gn.nn.Sequential(gn.nn.ReLU()), (4,), batch_size=8, optimizer="adam")
    assert s.total_parameters == 0 and s.memory.parameters == 0 and s.memory.optimizer_state == 0
    assert s.memory.peak >= s.memory.input


def test_summary_errors_are_one_line():
    with pytest.raises(ShapeError, match=r"summary: the model does not take inputs of shape \(batch, 5\)"):
        M.summary(gn.nn.Sequential(gn.nn.Linear(4, 2)), (5,))
    with pytest.raises(ConfigError, match="input_shape must be a tuple of positive ints"):
        M.summary(gn.nn.Sequential(gn.nn.Linear(4, 2)), (0,))
    with pytest.raises(ConfigError, match="optimizer must be an Optimizer, one of sgd"):
        M.summary(gn.nn.Sequential(gn.nn.Linear(4, 2)), (4,), optimizer="adamw")


def _measured_peak(build, shape, batch, opt_name):
    gc.collect()
    tracemalloc.start()
    try:
        model = build()
        cls, fixed = gn.optim.OPTIMIZERS[opt_name]
        opt = cls(model, lr=1e-3, **fixed)
        loss = gn.nn.SoftmaxCrossEntropy()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        y = rng.integers(0, 10, batch)
        for step in range(3):
            if step == 2:
                tracemalloc.reset_peak()
            model.zero_grad()
            loss.forward(model.forward(x), y)
            model.backward(loss.backward(), need_input_grad=False)
            opt.step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


MEMORY_CASES = {
    "mlp": (lambda: gn.nn.Sequential(gn.nn.Linear(784, 512, rng=0), gn.nn.ReLU(), gn.nn.Dropout(0.2, rng=1),
                                     gn.nn.Linear(512, 10, rng=2)), (784,), 256, "adam"),
    "cnn": (lambda: gn.nn.Sequential(gn.nn.Conv2d(1, 16, 3, padding=1, rng=0), gn.nn.BatchNorm2d(16), gn.nn.ReLU(),
                                     gn.nn.MaxPool2d(2), gn.nn.Flatten(), gn.nn.Linear(16 * 14 * 14, 10, rng=1)),
            (1, 28, 28), 64, "sgd_momentum"),
    "lstm": (lambda: gn.nn.Sequential(gn.nn.LSTM(16, 64, return_sequences=False, rng=0), gn.nn.Linear(64, 10, rng=1)),
             (30, 16), 32, "adam"),
}


@pytest.mark.parametrize("name", sorted(MEMORY_CASES))
def test_memory_estimate_is_within_20_percent_of_the_measured_peak(name):
    build, shape, batch, opt = MEMORY_CASES[name]
    estimate = M.summary(build(), shape, batch_size=batch, optimizer=opt).memory.peak
    measured = _measured_peak(build, shape, batch, opt)
    assert 0.8 <= estimate / measured <= 1.2, (estimate, measured)


def test_doctor_warns_when_a_step_will_not_fit():
    model = gn.nn.Sequential(gn.nn.Linear(1000, 1000, rng=0), gn.nn.ReLU(), gn.nn.Linear(1000, 10, rng=1))
    assert gn.doctor.memory_finding(model, (1000,), 64, "adam", available=2**30) is None
    f = gn.doctor.memory_finding(model, (1000,), 4096, "adam", available=40 * 2**20)
    assert f is not None and f.code == "memory.too_large"
    assert 1 <= f.data["largest_batch"] < 4096 and f"at most {f.data['largest_batch']}" in f.remedy
    # the batch it proposes does fit by the same estimate
    assert gn.doctor.memory_finding(model, (1000,), f.data["largest_batch"], "adam", available=40 * 2**20) is None
    tiny = gn.doctor.memory_finding(model, (1000,), 8, "adam", available=2**20)
    assert "Even a batch of one example does not fit" in tiny.remedy
    rng = np.random.default_rng(0)
    checks = gn.doctor.sanity_checks(model, gn.nn.SoftmaxCrossEntropy(), rng.standard_normal((64, 1000)),
                                     np.arange(64) % 10, steps=5, batch_size=32, optimizer="adam")
    fits = next(c for c in checks if c.name == "fits in memory")
    assert fits.passed and "a step at batch size 32 needs about" in fits.detail


# -- transfer learning ---------------------------------------------------------------------------------------------
def test_feature_extractor_shares_layers_and_cuts_where_asked():
    model = M.alexnet(num_classes=10, in_channels=1, input_size=28, rng=0)
    body = M.feature_extractor(model, upto="features.relu5")
    assert body.names() == ["features"] and body.features.names()[-1] == "relu5"
    assert body.features.conv1 is model.features.conv1
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    seen = {}
    handle = model.features.relu5.register_forward_hook(lambda m, i, o: seen.setdefault("out", o.copy()))
    model.eval(), body.eval()
    model.forward(x)
    handle.remove()
    np.testing.assert_array_equal(body.forward(x), seen["out"])
    with pytest.raises(ConfigError, match="no layer 'featurs'.*did you mean 'features'"):
        M.feature_extractor(model, "featurs")
    with pytest.raises(ConfigError, match="cannot be cut inside"):
        M.feature_extractor(M.lenet5(), "conv1.W")


def test_replace_head_freeze_and_fine_tune_groups():
    model = M.lenet5(rng=0)
    pretrained = model.state_dict()
    head = M.replace_head(model, 3, rng=1)
    assert model.fc3 is head and head.out_features == 3 and head.in_features == 84
    model.freeze()
    head.unfreeze()
    x = np.random.default_rng(0).standard_normal((6, 1, 32, 32)).astype(np.float32)
    y = np.arange(6) % 3
    gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-2), verbose=0).fit(
        (x, y), epochs=2, batch_size=3, seed=0)
    for name, value in model.state_dict().items():  # the body did not move, the head did
        if not name.startswith("fc3."):
            np.testing.assert_array_equal(value, pretrained[name])
    # fine-tuning: the body in a group with a smaller learning rate
    model.unfreeze()
    opt = gn.optim.SGD([{"params": M.body_parameters(model, head), "lr": 1e-4}, {"params": list(head.parameters())}],
                       lr=1e-2)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-2]
    assert len(opt.param_groups[0]["params"]) == 8 and len(opt.param_groups[1]["params"]) == 2
    # a pretrained body loads into a model with a new head (the head's keys left out)
    fresh = M.lenet5(num_classes=3, rng=5)
    body_state = {k: v for k, v in pretrained.items() if not k.startswith("fc3.")}
    missing, unexpected = fresh.load_state_dict(body_state, strict=False)
    assert missing == ["fc3.W", "fc3.b"] and not unexpected
    np.testing.assert_array_equal(fresh.conv1.W.data, pretrained["conv1.W"])


def test_plain_sgd_keeps_no_state_and_momentum_state_survives_a_checkpoint():
    model = gn.nn.Sequential(gn.nn.Linear(3, 2, rng=0))
    plain = gn.optim.SGD(model, lr=0.1)
    assert plain.state_bytes() == 0
    with_momentum = gn.optim.SGD(model, lr=0.1, momentum=0.9)
    model.zero_grad()
    model[0].W.accumulate(np.ones((3, 2), np.float32))
    with_momentum.step()
    plain.load_state_dict(with_momentum.state_dict())  # the saved rule had momentum: its velocity comes along
    v = plain.state[id(model[0].W)]["velocity"]
    np.testing.assert_allclose(v, -0.1 * np.ones((3, 2)))


# -- configs and the CLI -----------------------------------------------------------------------------------------
def _cfg(tmp_path, model):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 1, 12, 12)).astype(np.float32)
    y = np.arange(60) % 3
    np.savez(tmp_path / "img.npz", X_train=X, y_train=y)
    return {"data": {"dataset": "npz", "path": str(tmp_path / "img.npz")}, "model": model,
            "loss": {"type": "SoftmaxCrossEntropy"}, "optimizer": {"type": "Adam", "lr": 1e-3},
            "trainer": {"epochs": 1, "batch_size": 16}}


def test_arch_configs_train_and_are_checked(tmp_path):
    from glassnet.train.run import check_config, run
    model = {"arch": "googlenet", "num_classes": 3, "in_channels": 1, "input_size": 12, "kernel_5x5": 3}
    cfg = _cfg(tmp_path, model)
    cfg["trainer"]["monitor_every"] = 0
    metrics = run(cfg, tmp_path / "run", verbose=0)
    assert metrics["epochs_run"] == 1
    loaded = gn.load(str(tmp_path / "run" / "model.npz"))
    assert isinstance(loaded.inception3a, gn.nn.Inception)
    assert loaded.num_parameters() == M.googlenet(num_classes=3, in_channels=1, input_size=12,
                                                  kernel_5x5=3).num_parameters()
    with pytest.raises(ConfigError, match=r"model.dept: unknown parameter of resnet .*did you mean 'depth'"):
        check_config(_cfg(tmp_path, {"arch": "resnet", "dept": 18}))
    with pytest.raises(ConfigError, match=r"model.arch: expected one of .*did you mean 'resnet'"):
        check_config(_cfg(tmp_path, {"arch": "resnt"}))
    with pytest.raises(ConfigError, match="give either `layers` or `arch`, not both"):
        check_config(_cfg(tmp_path, {"arch": "resnet", "layers": [{"type": "ReLU"}]}))
    with pytest.raises(ConfigError, match=r"model: missing `layers` \(a list of layers\) or `arch` \(one of lenet5"):
        check_config(_cfg(tmp_path, {"depth": 18}))
    with pytest.raises(ConfigError, match="model: resnet: depth must be one of 18, 34, 50, 101, 152, got 19"):
        run(_cfg(tmp_path, {"arch": "resnet", "depth": 19}), tmp_path / "bad", verbose=0)


def test_cli_summary_of_a_config_and_a_model_file(tmp_path, capsys):
    cfg = _cfg(tmp_path, {"arch": "lenet5", "num_classes": 3, "input_size": 12})
    path = tmp_path / "lenet.json"
    path.write_text(json.dumps(cfg))
    assert cli(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "on input (16, 1, 12, 12)" in out and "conv1" in out and "Adam(lr=0.001" in out
    model = M.lenet5(num_classes=3, input_size=12)
    gn.save(model, str(tmp_path / "m.npz"))
    assert cli(["summary", str(tmp_path / "m.npz"), "--input-shape", "1,12,12", "--batch-size", "4",
                "--optimizer", "adam", "--depth", "0"]) == 0
    out = capsys.readouterr().out
    assert "on input (4, 1, 12, 12)" in out and "adam (2 arrays per parameter)" in out
    assert cli(["summary", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "--input-shape: needed for a model file" in err and len(err.strip().splitlines()) == 1


def test_summary_of_a_stateful_language_model_counts_every_step():
    model = M.char_lstm(50, embedding=8, hidden=16, rng=0)
    s = M.summary(model, (20,), batch_size=4, optimizer="adam")
    rows = {r.name: r for r in s.rows}
    assert rows["lstm"].macs == 20 * 4 * 16 * (8 + 16)  # T steps x 4 gates x H x (D + H)
    assert rows["head.module"].output_shape == (4 * 20, 50) and rows["head.module"].macs == 20 * 16 * 50
    assert model.lstm.last_state is None  # the probes ran on a copy; the model carries nothing
