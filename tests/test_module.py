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
                                  lambda: gn.nn.Conv1d(3, 2, 3, rng=0), lambda: gn.nn.Maxout(3, 2, rng=0)])
def test_zero_grad_drops_the_gradient_and_the_next_backward_sets_it(make, rng):
    """zero_grad drops the gradient (PyTorch's set_to_none): reading it gives zeros, the next
    backward sets it (not added to stale values), a second backward adds to it."""
    layer = make()
    x = rng.standard_normal((5, 3) if not isinstance(layer, gn.nn.Conv1d) else (5, 3, 6)).astype(np.float32)
    dout = rng.standard_normal(layer.forward(x).shape).astype(np.float32)
    layer.backward(dout)
    fresh = {n: p.grad.copy() for n, p in layer.named_parameters()}
    for p in layer.parameters():
        p.grad[...] = 123.0  # stale garbage
    layer.zero_grad()
    for p in layer.parameters():
        assert not p.grad.any()  # reads as zeros
    layer.zero_grad()
    layer.forward(x)
    layer.backward(dout)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, fresh[n])
    layer.forward(x)
    layer.backward(dout)  # no zero_grad in between: accumulates
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * fresh[n], rtol=1e-6)


def test_accumulate_never_aliases_an_array_someone_else_holds():
    p = gn.nn.Parameter(np.zeros((2, 3), np.float32))
    held = np.ones((3, 2), np.float32).T  # a view: not owned by the gradient
    p.accumulate(held)
    p.accumulate(held)
    np.testing.assert_array_equal(p.grad, 2.0)
    np.testing.assert_array_equal(held, 1.0)  # the caller's array was not modified
    fresh = np.full((2, 3), 3.0, np.float32)
    p.zero_grad()
    p.accumulate(fresh)
    assert p.grad is fresh  # a fresh product becomes the gradient: no copy, no pass of zeros
    q = gn.nn.Parameter(np.zeros(3, np.float64))
    q.accumulate(np.ones(3, np.float32))  # another dtype: converted into the parameter's
    assert q.grad.dtype == np.float64 and q.grad.sum() == 3


def test_requires_grad_is_the_one_flag_and_frozen_its_alias():
    p = gn.nn.Parameter(np.zeros(2, np.float32))
    assert p.requires_grad and not p.frozen
    p.frozen = True
    assert not p.requires_grad
    p.requires_grad = True
    assert not p.frozen
    assert "frozen" not in gn.nn.Parameter.__slots__


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


def test_nan_is_caught_at_the_loss_and_detect_anomaly_names_the_module(rng):
    """Layers do not scan their inputs (no per-layer cost, no hidden state): values are checked
    where data enters glassnet and at the loss; anomaly mode names the first module."""
    net = gn.nn.Sequential(gn.nn.Linear(4, 3, rng=0), gn.nn.ReLU(), gn.nn.Linear(3, 2, rng=1))
    net[2].W.data[0, 0] = np.inf  # the last layer's output becomes non-finite
    x = np.ones((2, 4), np.float32)
    with np.errstate(invalid="ignore"):
        out = net.forward(x)
    assert not np.isfinite(out).all()
    with pytest.raises(NonFiniteError, match="scores contains"):
        gn.nn.SoftmaxCrossEntropy().forward(out, np.array([0, 1]))
    with pytest.raises(NonFiniteError, match=r"parameter W of module '2' \(Linear\) holds NaN/inf") as info:
        with gn.detect_anomaly(net):
            net.forward(x)
    assert info.value.where.endswith("2.W")
    net[2].W.data[0, 0] = 0.0
    net[1].register_forward_hook(lambda m, inp, out: out * np.nan)  # a module producing NaN
    with pytest.raises(NonFiniteError, match=r"the output of module '1' \(ReLU\)"):
        with gn.detect_anomaly(net):
            net.forward(x)
    assert all(not m._forward_hooks or m is net[1] for m in net.modules())  # the checks were taken off


def test_detect_anomaly_names_the_backward_pass(rng):
    net = gn.nn.Sequential(gn.nn.Linear(4, 3, rng=0), gn.nn.Tanh(), gn.nn.Linear(3, 2, rng=1))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    net[1].register_backward_hook(lambda m, gin, gout: (gin[0] * np.inf,))
    with gn.detect_anomaly(net):
        net.forward(x)
        with pytest.raises(NonFiniteError, match=r"input gradient of module '1' \(Tanh\)"):
            net.backward(np.ones((2, 2), np.float32))


@pytest.mark.parametrize("ctor,pattern", [
    (lambda: gn.nn.Linear(0, 3), "in_features must be a positive integer"),
    (lambda: gn.nn.Linear(3, 2.5), "out_features must be a positive integer"),
    (lambda: gn.nn.Dropout(1.5), r"Dropout: p must lie in \[0.0, 1.0\], got 1.5 \(the probability of dropping a unit\)"),
    (lambda: gn.nn.BatchNorm1d(3, momentum=1.0), r"BatchNorm1d: momentum must lie in \[0.0, 1.0\), got 1.0 \(running ="),
    (lambda: gn.nn.Linear(3, 2, init="kaiming"), "unknown initializer 'kaiming'"),
    (lambda: gn.nn.LeakyReLU(-1), r"LeakyReLU: alpha must lie in \[0.0, inf\), got -1"),
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


def test_need_input_grad_reaches_the_first_child_only(rng):
    lin = gn.nn.Linear(3, 2, rng=0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    lin.forward(x)
    full_dx = lin.backward(np.ones((4, 2), np.float32))
    g_full = lin.W.grad.copy()
    lin.zero_grad()
    lin.forward(x)
    assert lin.backward(np.ones((4, 2), np.float32), need_input_grad=False) is None
    np.testing.assert_array_equal(lin.W.grad, g_full)  # parameter gradients unchanged
    second = gn.nn.Linear(2, 2, rng=1)
    net = gn.nn.Sequential(gn.nn.Sequential(lin, gn.nn.ReLU()), second)
    asked = {}
    for name, m in net.named_modules():
        m.register_backward_hook(lambda m, gin, gout, name=name: asked.setdefault(name, []).append(gin[0] is not None))
    tr = gn.Trainer(net, gn.nn.SoftmaxCrossEntropy(), gn.optim.SGD(net, lr=0.1), verbose=0)
    tr.fit((x, np.array([0, 1, 0, 1])), epochs=1, batch_size=4)
    # the Trainer asks for no input gradient: only the layer that receives the data skips it
    assert asked == {"1": [True], "0.1": [True], "0.0": [False], "0": [False], "": [False]}
    net.forward(x)
    assert net.backward(np.ones((4, 2), np.float32)).shape == x.shape  # asked for: computed
    assert full_dx.shape == x.shape


def test_hooks_have_pytorchs_call_shapes_and_are_removable(rng):
    net = gn.nn.Sequential(gn.nn.Linear(3, 4, rng=0), gn.nn.ReLU(), gn.nn.Linear(4, 2, rng=1))
    x = rng.standard_normal((5, 3)).astype(np.float32)
    seen = []
    h1 = net[1].register_forward_hook(lambda m, inputs, out: seen.append((m, inputs[0].shape, out.shape)))
    h2 = net[1].register_backward_hook(lambda m, gin, gout: seen.append((m, gin[0].shape, gout[0].shape)))
    net.forward(x)
    net.backward(np.ones((5, 2), np.float32))
    assert seen == [(net[1], (5, 4), (5, 4)), (net[1], (5, 4), (5, 4))]
    h1.remove(), h2.remove()
    net.forward(x)
    net.backward(np.ones((5, 2), np.float32))
    assert len(seen) == 2
    with net[2].register_forward_hook(lambda m, inputs, out: out * 0):  # a returned value replaces the output
        assert not net.forward(x).any()
    assert net.forward(x).any()  # leaving the block removed the hook
    with net[0].register_backward_hook(lambda m, gin, gout: (gin[0] * 0,)):
        net.forward(x)
        assert not net.backward(np.ones((5, 2), np.float32)).any()


def test_a_hook_runs_once_when_a_subclass_calls_super(rng):
    class Scaled(gn.nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

        def backward(self, dout, need_input_grad=True):
            return super().backward(dout * 2, need_input_grad=need_input_grad)

    layer = Scaled(3, 2, rng=0)
    calls = []
    layer.register_forward_hook(lambda m, i, o: calls.append("f"))
    layer.register_backward_hook(lambda m, gi, go: calls.append("b"))
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layer.forward(x)
    layer.backward(np.ones((4, 2), np.float32))
    assert calls == ["f", "b"]


def test_a_custom_layer_without_the_flag_still_works(rng):
    class Double(gn.nn.Module):
        def forward(self, x):
            return 2 * x

        def backward(self, dout):
            return 2 * dout

    net = gn.nn.Sequential(Double(), gn.nn.Linear(3, 2, rng=0))
    x = rng.standard_normal((4, 3)).astype(np.float32)
    net.forward(x)
    assert net.backward(np.ones((4, 2), np.float32), need_input_grad=False) is None
    net.forward(x)
    assert net.backward(np.ones((4, 2), np.float32)).shape == x.shape


def test_generators_are_registered_not_found_by_attribute_name():
    net = gn.nn.Sequential(gn.nn.Linear(3, 3), gn.nn.Dropout(0.5, rng=1), gn.nn.Dropout(0.2, rng=2))
    assert [(n, a) for n, _, a in net.named_generators()] == [("1.rng", "rng"), ("2.rng", "rng")]
    lin = net[0]
    object.__setattr__(lin, "rng", np.random.default_rng(0))  # an attribute called rng is not a generator
    assert len(list(net.named_generators())) == 2
    with pytest.raises(ValueError, match="rng must be a numpy Generator"):
        gn.nn.Dropout(0.5, rng="seed")


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
