"""Update rules, penalties, constraints, clipping and optimizer state."""
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.optim import SGD, Adagrad, Adam, RMSprop


def param(values):
    return gn.nn.Parameter(np.array(values, dtype=np.float64))


# --- one step by hand, with the notes' formulas ---------------------------------------------------
def test_vanilla_sgd_step():
    p = param([1.0, -2.0])
    p.grad[...] = [0.5, 1.0]
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.1])


def test_momentum_two_steps():
    p = param([1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad[...] = 2.0
    opt.step()  # v = -0.2; w = 0.8
    p.grad[...] = 1.0
    opt.step()  # v = 0.9*-0.2 - 0.1 = -0.28; w = 0.52
    np.testing.assert_allclose(p.data, [0.52])
    np.testing.assert_allclose(opt.state[id(p)]["velocity"], [-0.28])


def test_nesterov_two_steps():
    p = param([1.0])
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    p.grad[...] = 2.0
    opt.step()  # v_prev=0, v=-0.2, w += -0.9*0 + 1.9*-0.2 = -0.38 -> 0.62
    np.testing.assert_allclose(p.data, [0.62])
    p.grad[...] = 1.0
    opt.step()  # v_prev=-0.2, v=-0.28, w += 0.18 + 1.9*-0.28 = -0.352 -> 0.268
    np.testing.assert_allclose(p.data, [0.268])


def test_adagrad_step():
    p = param([1.0, 1.0])
    opt = Adagrad([p], lr=0.5)
    p.grad[...] = [3.0, 4.0]
    opt.step()
    p.grad[...] = [4.0, 3.0]
    opt.step()
    cache = np.array([25.0, 25.0])
    expected = 1 - 0.5 * np.array([3, 4]) / (np.array([3, 4]) + 1e-7) - 0.5 * np.array([4, 3]) / (np.sqrt(cache) + 1e-7)
    np.testing.assert_allclose(p.data, expected)


def test_rmsprop_step():
    p = param([1.0])
    opt = RMSprop([p], lr=0.01, decay_rate=0.9)
    p.grad[...] = 2.0
    opt.step()
    cache = 0.1 * 4.0
    np.testing.assert_allclose(p.data, [1 - 0.01 * 2 / (math.sqrt(cache) + 1e-8)])


@pytest.mark.parametrize("bias_correction", [True, False])
def test_adam_two_steps(bias_correction):
    p = param([1.0])
    opt = Adam([p], lr=0.1, betas=(0.9, 0.999), bias_correction=bias_correction)
    w, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([2.0, -1.0], start=1):
        p.grad[...] = g
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        mh, vh = (m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)) if bias_correction else (m, v)
        w -= 0.1 * mh / (math.sqrt(vh) + 1e-8)
        np.testing.assert_allclose(p.data, [w], rtol=1e-14)
    if bias_correction:  # first step of bias-corrected Adam moves by ~lr
        pass


def test_gradient_descent_solves_notes_example():
    """J(w) = w**2 - 10 w + 25 has its minimum at w = 5."""
    w = param([0.0])
    opt = SGD([w], lr=0.1)
    for _ in range(200):
        w.grad[...] = 2 * w.data - 10
        opt.step()
    assert w.data[0] == pytest.approx(5.0, abs=1e-9)


# --- the elongated quadratic of the notes (condition number 100) ----------------------------------
A = np.array([1.0, 100.0])


def _steps_to_optimum(make, lr, tol=1e-6, max_steps=2000, stay=50):
    p = param([1.3, -0.7])
    opt = make([p], lr)
    first = None
    with np.errstate(all="ignore"):
        for t in range(1, max_steps + 1):
            p.grad[...] = A * p.data
            opt.step()
            if not np.isfinite(p.data).all():
                return math.inf
            if np.linalg.norm(p.data) < tol:
                first = first or t
                if t - first >= stay:
                    return first
            else:
                first = None
    return math.inf


def _best_steps(make, lrs):
    return min(_steps_to_optimum(make, lr) for lr in lrs)


def test_momentum_rmsprop_adam_beat_sgd_on_ill_conditioned_quadratic():
    lrs = list(np.logspace(-3, 0, 13))
    # plain SGD at its best stable rate: the grid plus the theoretical optimum 2 / (L + mu)
    sgd = _best_steps(lambda ps, lr: SGD(ps, lr=lr), lrs + [2 / 101])
    assert math.isfinite(sgd)
    results = {
        "momentum": _best_steps(lambda ps, lr: SGD(ps, lr=lr, momentum=0.9), lrs),
        "rmsprop": _best_steps(lambda ps, lr: RMSprop(ps, lr=lr), lrs),
        "adam": _best_steps(lambda ps, lr: Adam(ps, lr=lr), lrs),
    }
    for name, steps in results.items():
        assert steps < sgd, f"{name} needed {steps} steps, SGD {sgd}"


# --- against PyTorch: 100-step trajectories in float64 -------------------------------------------------
def _torch_pair(name, torch):
    return {
        "sgd": (lambda ps: SGD(ps, lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05)),
        "momentum": (lambda ps: SGD(ps, lr=0.05, momentum=0.9),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
        "nesterov": (lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
        # eps placement is the same; only the defaults differ (ours 1e-7, torch 1e-10): map it
        "adagrad": (lambda ps: Adagrad(ps, lr=0.1, eps=1e-10), lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-10)),
        "rmsprop": (lambda ps: RMSprop(ps, lr=0.01, decay_rate=0.99, eps=1e-8),
                    lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8)),
        "adam": (lambda ps: Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
    }[name]


OPTS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.mark.parametrize("name", OPTS)
def test_quadratic_trajectory_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours_f, theirs_f = _torch_pair(name, torch)
    H = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
    c = np.array([1.0, -2.0, 0.5])
    p = param([0.5, 0.5, -1.0])
    tp = torch.tensor(p.data.copy(), requires_grad=True)
    ours, theirs = ours_f([p]), theirs_f([tp])
    for _ in range(100):
        p.grad[...] = H @ p.data - c
        ours.step()
        theirs.zero_grad()
        loss = 0.5 * tp @ torch.tensor(H) @ tp - torch.tensor(c) @ tp
        loss.backward()
        theirs.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", OPTS)
def test_network_trajectory_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours_f, theirs_f = _torch_pair(name, torch)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 5)), rng.integers(0, 3, 32)
    net = gn.nn.Sequential(gn.nn.Linear(5, 8, rng=0), gn.nn.Tanh(), gn.nn.Linear(8, 3, rng=1)).to(np.float64)
    tnet = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for i in (0, 2):
            tnet[i].weight.copy_(torch.tensor(net[i].W.data.T))
            tnet[i].bias.copy_(torch.tensor(net[i].b.data))
    ours, theirs = ours_f(net), theirs_f(tnet.parameters())
    ce = gn.nn.SoftmaxCrossEntropy()
    tX, ty = torch.tensor(X), torch.tensor(y)
    for _ in range(100):
        net.zero_grad()
        ce(net.forward(X), y)
        net.backward(ce.backward())
        ours.step()
        theirs.zero_grad()
        torch.nn.functional.cross_entropy(tnet(tX), ty).backward()
        theirs.step()
    for i in (0, 2):
        np.testing.assert_allclose(net[i].W.data, tnet[i].weight.detach().numpy().T, rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(net[i].b.data, tnet[i].bias.detach().numpy(), rtol=1e-6, atol=1e-10)


# --- groups, frozen parameters, update ratios -------------------------------------------------------------
def test_parameter_groups_have_their_own_learning_rate():
    body, head = gn.nn.Linear(3, 3, rng=0), gn.nn.Linear(3, 2, rng=1)
    opt = SGD([{"params": body.parameters(), "lr": 0.001}, {"params": head.parameters()}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.001, 0.1]
    for p in (body.W, head.W):
        p.grad[...] = 1.0
    w_body, w_head = body.W.data.copy(), head.W.data.copy()
    opt.step()
    np.testing.assert_allclose(body.W.data, w_body - 0.001, rtol=1e-6)
    np.testing.assert_allclose(head.W.data, w_head - 0.1, rtol=1e-6)


def test_frozen_parameters_are_skipped():
    net = gn.nn.Sequential(gn.nn.Linear(3, 3, rng=0), gn.nn.Linear(3, 2, rng=1))
    net[0].freeze()
    opt = Adam(net, lr=0.1)
    for p in net.parameters():
        p.grad[...] = 1.0
    before = net[0].W.data.copy()
    opt.step()
    np.testing.assert_array_equal(net[0].W.data, before)
    assert not opt.state[id(net[0].W)]["m"].any()
    assert opt.state[id(net[0].W)]["step"] == 0 and opt.state[id(net[1].W)]["step"] == 1


ALL_RULES = [lambda ps: SGD(ps, lr=0.05), lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
             lambda ps: Adagrad(ps, lr=0.05), lambda ps: RMSprop(ps, lr=0.01), lambda ps: Adam(ps, lr=0.01)]


def _two_layer():
    return gn.nn.Sequential(gn.nn.Linear(4, 6, rng=0), gn.nn.ReLU(), gn.nn.Linear(6, 3, rng=1)).to(np.float64)


@pytest.mark.parametrize("make", ALL_RULES)
def test_an_optimizer_never_rebinds_the_parameters_storage(make):
    """An array taken from p.data before creating the optimizer is still the parameter's storage
    after it and after its steps: the update is written into it."""
    net = _two_layer()
    held = [p.data for p in net.parameters()]
    grads_held = [p.grad for p in net.parameters()]
    opt = make(net)
    for p in net.parameters():
        p.grad[...] = 1.0
    opt.step()
    for p, a, g in zip(net.parameters(), held, grads_held):
        assert p.data is a and p.grad is g
    assert not np.allclose(held[0], _two_layer()[0].W.data)  # the held array moved with the step


def test_adam_counts_steps_per_parameter_and_follows_torch_through_freeze_and_unfreeze():
    """A layer frozen for some steps and then unfrozen takes its first step with t = 1 (PyTorch's
    per-parameter step count), not the optimizer's global count: float64 trajectories agree."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    net = gn.nn.Sequential(gn.nn.Linear(4, 6, rng=0), gn.nn.Tanh(), gn.nn.Linear(6, 3, rng=1)).to(np.float64)
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for i in (0, 2):
            tnet[i].weight.copy_(torch.tensor(net[i].W.data.T))
            tnet[i].bias.copy_(torch.tensor(net[i].b.data))
    ours, theirs = Adam(net, lr=0.01), torch.optim.Adam(tnet.parameters(), lr=0.01)
    ce = gn.nn.SoftmaxCrossEntropy()
    tX, ty = torch.tensor(X), torch.tensor(y)

    def step():
        net.zero_grad()
        ce(net.forward(X), y)
        net.backward(ce.backward())
        ours.step()
        theirs.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(tnet(tX), ty).backward()
        theirs.step()

    net[0].freeze()
    for p in tnet[0].parameters():
        p.requires_grad_(False)
    for _ in range(30):
        step()
    net[0].unfreeze()
    for p in tnet[0].parameters():
        p.requires_grad_(True)
    frozen_before = net[0].W.data.copy()
    step()
    first = np.abs(net[0].W.data - frozen_before).max()
    assert first == pytest.approx(0.01, rel=1e-3)  # |step| = lr at t = 1 (2.5x lr with a global t = 31)
    for _ in range(20):
        step()
    for i in (0, 2):
        np.testing.assert_allclose(net[i].W.data, tnet[i].weight.detach().numpy().T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(net[i].b.data, tnet[i].bias.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert ours.state[id(net[0].W)]["step"] == 21 and ours.state[id(net[2].W)]["step"] == 51


def test_step_counts_travel_in_the_state_dict_and_older_states_load():
    net = _two_layer()
    opt = Adam(net, lr=0.01)
    net[0].freeze()
    for p in net.parameters():
        p.grad[...] = 0.5
    opt.step(), opt.step()
    sd = opt.state_dict()
    assert int(sd["state"]["0.0.step"]) == 0 and int(sd["state"]["0.2.step"]) == 2
    fresh = Adam(_two_layer(), lr=0.01)
    fresh.load_state_dict(sd)
    assert [st["step"] for st in fresh.state.values()] == [0, 0, 2, 2]
    old = dict(sd, state={k: v for k, v in sd["state"].items() if not k.endswith(".step")})
    fresh.load_state_dict(old)  # saved before per-parameter counts: every parameter takes step_count
    assert [st["step"] for st in fresh.state.values()] == [2, 2, 2, 2]


# --- state round trip ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda m: SGD(m, lr=0.05, momentum=0.9, nesterov=True), lambda m: Adagrad(m, lr=0.05),
                                  lambda m: RMSprop(m, lr=0.01), lambda m: Adam(m, lr=0.01)])
def test_state_round_trip_resumes_exactly(make):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    ce = gn.nn.SoftmaxCrossEntropy()

    def build():
        return gn.nn.Sequential(gn.nn.Linear(4, 6, rng=0), gn.nn.ReLU(), gn.nn.Linear(6, 3, rng=1))

    def train(net, opt, steps):
        for _ in range(steps):
            net.zero_grad()
            ce(net.forward(X), y)
            net.backward(ce.backward())
            opt.step()

    straight = build()
    opt = make(straight)
    train(straight, opt, 20)

    first = build()
    opt1 = make(first)
    train(first, opt1, 10)
    saved_model, saved_opt = first.state_dict(), opt1.state_dict()
    resumed = build().reset_parameters(123)  # a fresh model with other weights
    resumed.load_state_dict(saved_model)
    opt2 = make(resumed)
    opt2.load_state_dict(saved_opt)
    train(resumed, opt2, 10)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert opt2.step_count == 20


def test_state_dict_before_any_step():
    opt = Adam(gn.nn.Linear(2, 2), lr=0.1)
    sd = opt.state_dict()
    assert sd["step_count"] == 0 and set(sd["state"]) == {"0.0.m", "0.0.v", "0.0.step", "0.1.m", "0.1.v", "0.1.step"}


def test_load_state_dict_mismatch_is_explained():
    opt = Adam(gn.nn.Linear(2, 2), lr=0.1)
    with pytest.raises(ValueError, match="state is for a 'SGD' optimizer"):
        opt.load_state_dict(SGD(gn.nn.Linear(2, 2)).state_dict())
    other = Adam(gn.nn.Linear(3, 2), lr=0.1).state_dict()
    with pytest.raises(gn.ShapeError, match=r"state 'm' of W has shape \(3, 2\) but the parameter needs \(2, 2\)"):
        opt.load_state_dict(other)


# --- bad hyperparameters ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("ctor,pattern", [
    (lambda p: SGD(p, lr=-0.1), r"SGD: lr must lie in \[0.0, inf\), got -0.1"),
    (lambda p: SGD(p, lr=0.1, momentum=1.0), r"SGD: momentum must lie in \[0.0, 1.0\), got 1.0"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), "nesterov=True needs a momentum"),
    (lambda p: Adam(p, betas=(0.9, 1.0)), r"Adam: betas\[1\] must lie in \[0.0, 1.0\), got 1.0"),
    (lambda p: Adam(p, betas=(-0.1, 0.9)), r"betas\[0\] must lie in \[0.0, 1.0\)"),
    (lambda p: Adam(p, eps=0), r"eps must lie in \(0.0, inf\)"),
    (lambda p: RMSprop(p, decay_rate=1.5), r"decay_rate must lie in \[0.0, 1.0\)"),
    (lambda p: Adam([{"params": p.parameters(), "lrr": 0.1}]), r"unknown parameter group key\(s\) \['lrr'\]"),
    (lambda p: SGD(p, lr=0.1, weight_decay=0.1), r"unknown hyperparameter\(s\) \['weight_decay'\]"),
    (lambda p: SGD([], lr=0.1), "got no parameters"),
])
def test_bad_hyperparameters_name_the_parameter_and_range(ctor, pattern):
    with pytest.raises(ValueError, match=pattern):
        ctor(gn.nn.Linear(2, 2))


# --- LBFGS ---------------------------------------------------------------------------------------------------------
def test_lbfgs_solves_least_squares_full_batch():
    pytest.importorskip("scipy")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 6))
    w_true = rng.standard_normal((6, 1))
    y = X @ w_true + 0.01 * rng.standard_normal((100, 1))
    lin = gn.nn.Linear(6, 1, bias=False, rng=0).to(np.float64)
    mse = gn.nn.MSE()
    opt = gn.optim.LBFGS(lin, max_iter=200, tol=1e-12)

    def closure():
        opt.zero_grad()
        loss = mse(lin.forward(X), y)
        lin.backward(mse.backward())
        return loss

    opt.step(closure)
    w_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(lin.W.data, w_ls, rtol=1e-6, atol=1e-8)
    with pytest.raises(TypeError, match="needs a closure|closure"):
        opt.step()


# --- the optional compiled kernel (Numba) ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias_correction", [True, False])
def test_compiled_adam_follows_the_reference_update(dtype, bias_correction, jit_on):
    from glassnet.backend import jit_enabled, set_jit

    def run(jit):
        set_jit(jit)  # the fixture restores the switch
        assert jit_enabled() is jit
        net = gn.nn.Sequential(gn.nn.Linear(7, 5, rng=0), gn.nn.Linear(5, 3, rng=1)).to(dtype)
        lone = gn.nn.Parameter(np.linspace(-1, 1, 6).astype(dtype))
        opt = Adam([{"params": net}, {"params": [lone], "lr": 0.05}], lr=0.01, bias_correction=bias_correction)
        grads = np.random.default_rng(1)
        for _ in range(6):
            for p in [*net.parameters(), lone]:
                p.grad[...] = grads.standard_normal(p.shape) * 10.0 ** grads.integers(-4, 2)
            opt.step()
        return [p.data.copy() for p in [*net.parameters(), lone]], opt.state_dict()["state"]

    (w1, s1), (w0, s0) = run(True), run(False)
    rtol, atol = (1e-6, 1e-7) if dtype == np.float32 else (1e-13, 1e-15)
    for a, b in zip(w1, w0):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for k in s0:
        np.testing.assert_allclose(s1[k], s0[k], rtol=rtol, atol=atol)


def test_compiled_adam_spreads_nan_like_numpy_and_skips_strided_arrays(jit_on):
    _jit = jit_on
    p = gn.nn.Parameter(np.ones(4, np.float32))
    p.grad[...] = [1.0, np.nan, -np.inf, 0.0]
    Adam([p], lr=0.1).step()
    assert np.isnan(p.data[1]) and np.isnan(p.data[2]) and p.data[3] == 1.0 and p.data[0] < 1.0
    a = np.ones((4, 4), np.float32)
    assert _jit.usable(a, a) and not _jit.usable(a[:, ::2], a[:, ::2]) and not _jit.usable(a, a.astype(np.float64))
    assert not _jit.usable(a.astype(np.float16), a.astype(np.float16))


def test_glassnet_jit_environment_variable_switches_the_kernels_off():
    import os
    import subprocess
    import sys
    code = "from glassnet.backend import jit_enabled; print(jit_enabled())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "GLASSNET_JIT": "0"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_optimizer_state_survives_pickling():
    import pickle
    net = _two_layer()
    opt = Adam(net, lr=0.01)
    for p in net.parameters():
        p.grad[...] = 0.5
    opt.step()
    twin_net, twin = pickle.loads(pickle.dumps((net, opt)))
    for p, q in zip(net.parameters(), twin_net.parameters()):
        np.testing.assert_array_equal(opt.state[id(p)]["m"], twin.state[id(q)]["m"])
        assert twin.state[id(q)]["step"] == 1
        q.grad[...] = 0.5
    twin.step()
    assert all(twin.state[id(q)]["step"] == 2 for q in twin_net.parameters())
    assert all(opt.state[id(p)]["step"] == 1 for p in net.parameters())


def test_one_table_names_the_update_rules():
    """Configs (class names), the Solver facade and the estimators (rule names) read one table."""
    from glassnet.config import registries
    from glassnet.errors import ConfigError
    from glassnet.optim import OPTIMIZERS, make_optimizer, optimizer_classes
    from glassnet.train import solver
    assert registries()["optimizer"] == optimizer_classes() == {"SGD": SGD, "Adagrad": Adagrad, "RMSprop": RMSprop,
                                                                 "Adam": Adam}
    assert solver._RULES == set(OPTIMIZERS)
    for name, (cls, fixed) in OPTIMIZERS.items():
        opt = make_optimizer(name, [param([1.0, 2.0])], 0.1, momentum=0.5)
        assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.1
        if "momentum" in fixed:
            assert opt.param_groups[0]["momentum"] == 0.5
    with pytest.raises(ConfigError, match=r"the update rule must be one of \['adagrad', .*got 'momentum'"):
        make_optimizer("momentum", [param([1.0])], 0.1)
