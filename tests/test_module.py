"""The Module / Parameter protocol."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import BackwardError, NonFiniteError, ShapeError


def mlp():
    return gn.nn.Sequential(gn.nn.Linear(4, 8, rng=0), gn.nn.BatchNorm1d(8), gn.nn.ReLU(),
                            gn.nn.Dropout(0.5, rng=1), gn.nn.Linear(8, 3, rng=2))


def test_backward_without_forward_raises():
    lin = gn.nn.Linear(3, 2)
    with pytest.raises(BackwardError, match="without a matching forward"):
        lin.backward(np.ones((1, 2), np.float32))
    lin.forward(np.ones((1, 3), np.float32))
    lin.backward(np.ones((1, 2), np.float32))
    with pytest.raises(BackwardError):  # the cache is consumed by the first backward
        lin.backward(np.ones((1, 2), np.float32))


def test_backward_accumulates_into_grad(rng):
    lin = gn.nn.Linear(3, 2, rng=0)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    dout = rng.standard_normal((5, 2)).astype(np.float32)
    lin.forward(x)
    lin.backward(dout)
    g1 = lin.W.grad.copy()
    lin.forward(x)
    lin.backward(dout)
    np.testing.assert_allclose(lin.W.grad, 2 * g1, rtol=1e-6)
    lin.zero_grad()
    assert not lin.W.grad.any() and not lin.b.grad.any()


@pytest.mark.parametrize("make", [lambda: gn.nn.Linear(3, 2, rng=0), lambda: gn.nn.BatchNorm1d(3),
                                  lambda: gn.nn.Conv1d(3, 2, 3, rng=0)])
def test_zero_grad_is_lazy_but_never_visible(make, rng):
    """After zero_grad the old values stay in memory until the next write, but every way of looking
    (reading .grad, the next backward, a second backward, an optimizer's packed buffer) sees zeros."""
    layer = make()
    x = rng.standard_normal((5, 3) if not isinstance(layer, gn.nn.Conv1d) else (5, 3, 6)).astype(np.float32)
    dout = rng.standard_normal(layer.forward(x).shape).astype(np.float32)
    layer.backward(dout)
    fresh = {n: p.grad.copy() for n, p in layer.named_parameters()}
    for p in layer.parameters():
        p.grad[...] = 123.0  # stale garbage
    layer.zero_grad()
    for p in layer.parameters():
        assert p.unwritten_grad() is not None  # marked, not yet written
    layer.forward(x)
    layer.backward(dout)  # written over the garbage, not added to it
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, fresh[n])
    layer.forward(x)
    layer.backward(dout)  # no zero_grad in between: accumulates
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * fresh[n], rtol=1e-6)
    layer.zero_grad()
    for p in layer.parameters():
        assert not p.grad.any() and p.unwritten_grad() is None  # reading wrote the zeros


def test_zeroed_gradient_of_an_unused_parameter_reaches_the_optimizer_as_zero(rng):
    """A packed optimizer reads one flat gradient buffer: a parameter zeroed but untouched by the
    backward pass must contribute zeros there, not its stale values."""
    net = gn.nn.Sequential(gn.nn.Linear(3, 4, rng=0), gn.nn.Linear(4, 2, rng=1))
    opt = gn.optim.SGD(net, lr=0.1)
    for p in net.parameters():
        p.grad[...] = 5.0
    before = [p.data.copy() for p in net[1].parameters()]
    net.zero_grad()
    net[0].forward(rng.standard_normal((2, 3)).astype(np.float32))
    net[0].backward(np.ones((2, 4), np.float32))  # only the first layer gets a gradient
    opt.step()
    for p, b in zip(net[1].parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    assert not np.array_equal(net[0].W.grad, 0)


def test_inplace_writes_to_data_and_grad_are_honoured(rng):
    lin = gn.nn.Linear(3, 2, rng=0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    W_obj, g_obj = lin.W.data, lin.W.grad
    lin.W.data[...] = 0
    lin.b.data[...] = 1.5
    np.testing.assert_array_equal(lin.forward(x), np.full((4, 2), 1.5, np.float32))
    lin.W.grad[...] = 10.0
    lin.backward(np.zeros((4, 2), np.float32))
    np.testing.assert_array_equal(lin.W.grad, 10.0)
    assert lin.W.data is W_obj and lin.W.grad is g_obj


def test_named_parameters_are_stable_dotted_names():
    names = [n for n, _ in mlp().named_parameters()]
    assert names == ["0.W", "0.b", "1.gamma", "1.beta", "4.W", "4.b"]
    assert [n for n, _ in mlp().named_buffers()] == ["1.running_mean", "1.running_var"]
    res = gn.nn.Residual(gn.nn.Sequential(gn.nn.Linear(3, 3)), gn.nn.Linear(3, 3))
    assert [n for n, _ in res.named_parameters()] == ["block.0.W", "block.0.b", "shortcut.W", "shortcut.b"]


def test_decay_flags_default_to_weights_only():
    flags = {n: p.decay for n, p in mlp().named_parameters()}
    assert flags == {"0.W": True, "0.b": False, "1.gamma": False, "1.beta": False, "4.W": True, "4.b": False}


def test_parameters_are_float32_by_default_and_to_converts_everything():
    m = mlp()
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert m.to(np.float64) is m
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())
    assert all(b.dtype == np.float64 for _, b in m.named_buffers())
    with pytest.raises(TypeError, match="float dtype"):
        m.to(np.int32)


def test_train_eval_recurse():
    m = mlp()
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())


def test_dropout_active_only_in_training(rng):
    d = gn.nn.Dropout(0.5, rng=0)
    x = np.ones((100, 100), np.float32)
    assert (d.forward(x) == 0).mean() == pytest.approx(0.5, abs=0.02)
    d.eval()
    np.testing.assert_array_equal(d.forward(x), x)


def test_load_state_dict_strict_and_shape_errors():
    m = mlp()
    sd = m.state_dict()
    sd.pop("0.b")
    with pytest.raises(KeyError, match=r"missing keys \['0.b'\]"):
        m.load_state_dict(sd)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["0.b"] and unexpected == []
    sd = m.state_dict()
    sd["0.W"] = np.zeros((5, 8))
    with pytest.raises(ShapeError, match=r"'0.W' has shape \(5, 8\) in the state but \(4, 8\)"):
        m.load_state_dict(sd)


def test_state_dict_returns_copies():
    m = gn.nn.Linear(2, 2)
    sd = m.state_dict()
    sd["W"][...] = 123
    assert not (m.W.data == 123).any()


def test_freeze_skips_parameter_gradients(rng):
    m = gn.nn.Sequential(gn.nn.Linear(3, 4, rng=0), gn.nn.ReLU(), gn.nn.Linear(4, 2, rng=1))
    m[0].freeze()
    x = rng.standard_normal((5, 3)).astype(np.float32)
    m.backward(np.ones_like(m.forward(x)))
    assert not m[0].W.grad.any() and m[2].W.grad.any()
    assert m.num_parameters(trainable_only=True) == 4 * 2 + 2


def test_reset_parameters_is_reproducible():
    a, b = mlp().reset_parameters(5), mlp().reset_parameters(5)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    c = mlp().reset_parameters(6)
    assert not np.array_equal(a[0].W.data, c[0].W.data)


def test_container_error_names_the_failing_child():
    net = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.ReLU(), gn.nn.Linear(5, 3))
    with pytest.raises(ShapeError) as info:
        net.forward(np.ones((2, 4), np.float32))
    msg = str(info.value)
    assert "Linear(5 -> 3)" in msg and "expected 5 input features" in msg
    assert "Sequential[2] (Linear)" in msg and "(2, 8)" in msg


def test_nested_container_error_has_full_path():
    net = gn.nn.Sequential(gn.nn.Linear(4, 4), gn.nn.Residual(gn.nn.Sequential(gn.nn.Linear(4, 4), gn.nn.Linear(3, 4))))
    with pytest.raises(ShapeError, match=r"Sequential\[1\] \(Residual\) > Residual\[block\] \(Sequential\) > Sequential\[1\] \(Linear\)"):
        net.forward(np.ones((2, 4), np.float32))


def test_residual_shape_mismatch_is_explained():
    res = gn.nn.Residual(gn.nn.Linear(4, 6))
    with pytest.raises(ShapeError, match=r"same shape.*\(2, 6\), \(2, 4\)"):
        res.forward(np.ones((2, 4), np.float32))


@pytest.mark.parametrize("layer,x,err,pattern", [
    (gn.nn.Linear(784, 10), np.ones((32, 100), np.float32), ShapeError,
     r"Linear\(784 -> 10\): expected 784 input features.*got float32 array of shape \(32, 100\)"),
    (gn.nn.Linear(4, 2), np.ones(4, np.float32), ShapeError, r"Linear\(4 -> 2\): expected input of shape \(N, 4\)"),
    (gn.nn.Linear(4, 2), np.ones((2, 4), np.int64), TypeError, r"Linear\(4 -> 2\): input must be a floating-point"),
    (gn.nn.Linear(4, 2), np.ones((2, 4), np.float64), TypeError, r"dtype float64 but the layer's parameters are float32"),
    (gn.nn.BatchNorm1d(3), np.ones((2, 4), np.float32), ShapeError, r"BatchNorm1d\(3\): expected input of shape \(N, 3\)"),
    (gn.nn.BatchNorm1d(3), np.ones((1, 3), np.float32), ValueError, r"more than one value per feature"),
    (gn.nn.Maxout(4, 2), np.ones((2, 4, 1, 1), np.float32), None, None),
])
def test_bad_inputs_name_the_layer(layer, x, err, pattern):
    if err is None:
        assert layer.forward(x).shape == (2, 2)
        return
    with pytest.raises(err, match=pattern):
        layer.forward(x)


def test_nan_input_is_refused_with_location():
    x = np.ones((3, 4), np.float32)
    x[1, 2] = np.nan
    with pytest.raises(NonFiniteError, match=r"Linear\(4 -> 2\): input contains 1 NaN and 0 inf.*index \(1, 2\)"):
        gn.nn.Linear(4, 2).forward(x)
    net = gn.nn.Sequential(gn.nn.ReLU(), gn.nn.Linear(4, 2))
    with pytest.raises(NonFiniteError, match=r"Sequential: input contains 1 NaN .*index \(1, 2\)") as info:
        net.forward(x)  # a container scans its input once, where the data enters
    assert info.value.where == "Sequential input"


def test_layers_inside_a_container_trust_their_inputs_and_the_loss_still_catches_nan():
    net = gn.nn.Sequential(gn.nn.Linear(4, 3, rng=0), gn.nn.ReLU(), gn.nn.Linear(3, 2, rng=1))
    net[0].W.data[0, 0] = np.inf  # the first layer's output becomes non-finite inside the net
    with np.errstate(invalid="ignore"):
        out = net.forward(np.ones((2, 4), np.float32))  # no per-layer scan inside the container
    assert not np.isfinite(out).all()
    with pytest.raises(NonFiniteError, match="scores contains"):
        gn.nn.SoftmaxCrossEntropy().forward(out, np.array([0, 1]))
    with pytest.raises(NonFiniteError, match=r"Linear\(3 -> 2\): input contains"):
        net[2].forward(np.full((2, 3), np.nan, np.float32))  # a layer called directly still scans


def test_trust_is_per_thread_and_restored_after_errors():
    """A container's "inputs already checked" block covers its own thread only: while one
    thread is inside a container's forward, a layer called in another thread still scans its
    input. The count is restored when a child raises."""
    import threading

    from glassnet._checks import _trust, trusted_inputs, trusted_labels
    inside, release, seen = threading.Event(), threading.Event(), []

    def hold():
        with trusted_inputs(), trusted_labels():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert inside.wait(10)
    try:
        with pytest.raises(NonFiniteError, match=r"Linear\(4 -> 2\): input contains 1 NaN"):
            gn.nn.Linear(4, 2).forward(np.array([[np.nan, 0, 0, 0]], np.float32))
        with pytest.raises(ValueError, match="got label 5"):
            gn.nn.SoftmaxCrossEntropy()(np.zeros((1, 3)), np.array([5]))
        seen.append((_trust.depth, _trust.labels))
    finally:
        release.set()
        t.join(10)
    assert seen == [(0, 0)]
    net = gn.nn.Sequential(gn.nn.Linear(4, 3, rng=0), gn.nn.Linear(5, 2, rng=1))
    with pytest.raises(ShapeError):
        net.forward(np.ones((2, 4), np.float32))  # the second child refuses its input
    assert (_trust.depth, _trust.labels) == (0, 0)


@pytest.mark.parametrize("ctor,pattern", [
    (lambda: gn.nn.Linear(0, 3), "in_features must be a positive integer"),
    (lambda: gn.nn.Linear(3, 2.5), "out_features must be a positive integer"),
    (lambda: gn.nn.Dropout(1.5), r"p is the probability of dropping a unit and must lie in \[0, 1\]"),
    (lambda: gn.nn.BatchNorm1d(3, momentum=1.0), r"momentum must lie in \[0, 1\)"),
    (lambda: gn.nn.Linear(3, 2, init="kaiming"), "unknown initializer 'kaiming'"),
    (lambda: gn.nn.LeakyReLU(-1), "alpha must be a non-negative"),
])
def test_bad_hyperparameters(ctor, pattern):
    with pytest.raises(ValueError, match=pattern):
        ctor()


def test_build_from_config_round_trip(rng):
    net = gn.nn.Sequential(gn.nn.Linear(4, 8), gn.nn.BatchNorm1d(8), gn.nn.LeakyReLU(0.2),
                           gn.nn.Residual(gn.nn.Sequential(gn.nn.Linear(8, 8), gn.nn.Tanh())),
                           gn.nn.Parallel(gn.nn.Linear(8, 2), gn.nn.Maxout(8, 2, pieces=3), merge="concat"),
                           gn.nn.Dropout(0.1), gn.nn.Linear(4, 3))
    clone = gn.nn.build(net.config())
    clone.load_state_dict(net.state_dict())
    x = rng.standard_normal((5, 4)).astype(np.float32)
    net.eval(), clone.eval()
    np.testing.assert_array_equal(net.forward(x), clone.forward(x))
    with pytest.raises(ValueError, match=r"model.layers\[1\].type: unknown layer 'Conv9d'.*did you mean 'Conv2d'\?"):
        gn.nn.build({"type": "Sequential", "layers": [{"type": "ReLU"}, {"type": "Conv9d"}]})


def test_repr_lists_children():
    text = repr(mlp())
    assert "(0): Linear(4, 8" in text and "(3): Dropout(p=0.5)" in text


def test_entry_layer_skips_unused_input_gradient_only_during_fit(rng):
    lin = gn.nn.Linear(3, 2, rng=0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    lin.forward(x)
    full_dx = lin.backward(np.ones((4, 2), np.float32))
    g_full = lin.W.grad.copy()
    lin.zero_grad()
    lin.skip_input_grad = True
    lin.forward(x)
    assert lin.backward(np.ones((4, 2), np.float32)) is None
    np.testing.assert_array_equal(lin.W.grad, g_full)  # parameter gradients unchanged
    lin.skip_input_grad = False
    net = gn.nn.Sequential(gn.nn.Sequential(lin, gn.nn.ReLU()), gn.nn.Linear(2, 2, rng=1))
    seen = []

    class Spy(gn.callbacks.Callback):
        def after_backward(self, trainer, logs):
            seen.append(lin.skip_input_grad)

    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1), callbacks=[Spy()], verbose=0)
    tr.fit((x, np.array([0, 1, 0, 1])), epochs=1, batch_size=4)
    assert seen == [True] and lin.skip_input_grad is False
    assert full_dx.shape == x.shape


def test_parallel_and_residual_index_their_branches():
    a, b = gn.nn.Linear(2, 2), gn.nn.Linear(2, 2)
    par = gn.nn.Parallel(a, b)
    assert len(par) == 2 and par[0] is a and par[1] is b and par[-1] is b
    res = gn.nn.Residual(a)
    assert res[0] is a and isinstance(res[1], gn.nn.Identity)


def test_modules_walks_like_named_modules():
    """``modules()`` (which zero_grad and train() walk at every call) visits exactly what
    ``named_modules()`` visits, in the same order, for nested containers and a shared child."""
    shared = gn.nn.Linear(3, 3, rng=0)
    net = gn.nn.Sequential(gn.nn.Sequential(shared, gn.nn.ReLU()), gn.nn.Residual(gn.nn.Sequential(shared)),
                           gn.nn.Linear(3, 2, rng=1))
    walked = list(net.modules())
    assert [id(m) for m in walked] == [id(m) for _, m in net.named_modules()]
    assert [type(m).__name__ for m in walked] == ["Sequential", "Sequential", "Linear", "ReLU", "Residual",
                                                 "Sequential", "Linear", "Identity", "Add", "Linear"]
    assert walked[0] is net and sum(m is shared for m in walked) == 2
