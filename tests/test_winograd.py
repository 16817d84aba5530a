"""Winograd F(4x4, 3x3) convolution (kernels/winograd.py): against the loop oracle and the
im2col path, numerical gradients, float32 accuracy, and when ``kernels.conv.ALGORITHM``
chooses it."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.kernels import conv as kconv, winograd
from glassnet.gradcheck import check_module

import naive


def _fwd(x, w, b=None, stride=1, padding=0, dilation=1):
    """A convolution through the dispatch point: (out, kernels.Cache) of whichever implementation ran."""
    return gn.kernels.forward("conv2d", x, w, b, stride, padding, dilation)


def _bwd(dout, cache, **kw):
    return gn.kernels.backward("conv2d", dout, cache, **kw)


@pytest.fixture
def wino(monkeypatch, jit_on):
    """Every applicable 3x3 convolution through Winograd's algorithm for one test."""
    monkeypatch.setattr(kconv, "ALGORITHM", "winograd")
    return monkeypatch


def _im2col(monkeypatch, fn):
    monkeypatch.setattr(kconv, "ALGORITHM", "im2col")
    try:
        return fn()
    finally:
        monkeypatch.setattr(kconv, "ALGORITHM", "winograd")


# sizes that are and are not multiples of the 4x4 output tile, padding 0-2, a one-pixel output
@pytest.mark.parametrize("H,W,p", [(8, 8, 1), (13, 10, 0), (9, 14, 2), (3, 3, 1), (4, 5, 0), (6, 7, 2)])
@pytest.mark.parametrize("per_chunk", [1, 2, 0])  # 0: the whole batch in one chunk
def test_winograd_matches_loops_and_im2col(rng, wino, H, W, p, per_chunk):
    N, C, Fo = 5, 3, 4
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fo, C, 3, 3))
    b = rng.standard_normal(Fo)
    Ty, Tx = -(-(H + 2 * p - 2) // 4), -(-(W + 2 * p - 2) // 4)
    wino.setattr(winograd, "CHUNK_BYTES", per_chunk * 36 * C * Ty * Tx * 8 if per_chunk else 1 << 30)
    out, cache = _fwd(x, w, b, 1, p)
    assert isinstance(cache.value, winograd.WinogradCache) and cache.value.chunk == (per_chunk or N)
    np.testing.assert_allclose(out, naive.conv2d(x, w, b, (1, 1), (p, p)), rtol=1e-11, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = _bwd(dout, cache)
    ref_out, ref_cache = _im2col(wino, lambda: _fwd(x, w, b, 1, p))
    assert ref_cache.impl.name == "chunked"
    rdx, rdw, rdb = _bwd(dout, ref_cache)
    np.testing.assert_allclose(dx, rdx, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(dw, rdw, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(db, rdb, rtol=1e-13, atol=1e-13)
    # only what is asked
    dx2, dw2, db2 = _bwd(dout, cache, need_dx=False)
    assert dx2 is None
    np.testing.assert_allclose(dw2, dw, rtol=1e-14, atol=1e-14)
    dx3, dw3, db3 = _bwd(dout, cache, need_dw=False)
    assert dw3 is None and db3 is None
    np.testing.assert_allclose(dx3, dx, rtol=1e-14, atol=1e-14)
    assert _bwd(dout, cache, need_dx=False, need_dw=False) == (None, None, None)


@pytest.mark.parametrize("p,bias", [(1, True), (0, False), (2, True)])
def test_winograd_conv2d_layer_gradient_check(rng, wino, p, bias):
    wino.setattr(winograd, "CHUNK_BYTES", 36 * 2 * 4 * 8)  # a few tiles per chunk: several chunks
    conv = gn.nn.Conv2d(2, 3, 3, padding=p, bias=bias, rng=0).to(np.float64)
    x = rng.standard_normal((3, 2, 7, 6))
    conv.forward(x)
    assert isinstance(conv._cache[0].value, winograd.WinogradCache)
    conv.backward(np.ones((3, 3, 7 + 2 * p - 2, 6 + 2 * p - 2)))
    report = check_module(conv, x, seed=3)
    assert report.passed, str(report)


def test_winograd_float32_error_is_small_against_exact(rng, wino):
    """Float32 Winograd against the exact (float64) convolution: the transforms cost precision
    (about 10x im2col's error), but the error stays at float32 scale relative to the outputs."""
    x = rng.standard_normal((4, 32, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((32, 32, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    out, cache = _fwd(x, w, b, 1, 1)
    assert out.dtype == np.float32 and isinstance(cache.value, winograd.WinogradCache)
    # the exact reference: im2col in float64 (its products exact to float64 rounding; tested against loops)
    exact, ref_cache = _im2col(wino, lambda: _fwd(x.astype(np.float64), w.astype(np.float64),
                                                              b.astype(np.float64), 1, 1))
    assert np.abs(out - exact).max() / np.abs(exact).max() < 2e-5
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw, db = _bwd(dout, cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    rdx, rdw, _ = _bwd(dout.astype(np.float64), ref_cache)
    assert np.abs(dx - rdx).max() / np.abs(rdx).max() < 2e-5
    assert np.abs(dw - rdw).max() / np.abs(rdw).max() < 2e-5


def test_algorithm_choice(rng, monkeypatch, jit_on):
    x16 = rng.standard_normal((2, 16, 12, 12)).astype(np.float32)
    w16 = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    w3 = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    x3 = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    kind = lambda x, w, **kw: _fwd(x, w, None, **kw)[1].impl.name  # noqa: E731
    assert kconv.ALGORITHM == "auto"
    assert kind(x16, w16, padding=1) == "winograd"
    assert kind(x3, w3, padding=1) == "chunked"  # 3 input channels: im2col pays more
    assert kind(x16, w16, stride=2, padding=1) == "chunked"  # stride 2: not applicable
    assert kind(x16, w16, padding=1, dilation=2) == "chunked"
    assert kind(x16, w16, padding=0) == "chunked"  # 10x10 outputs: too few tiles per image
    assert kind(x16, w16, padding=3) == "chunked"  # padding above 2
    assert kind(x16, w16[:, :, :2], padding=1) == "chunked"  # not 3x3
    monkeypatch.setattr(kconv, "ALGORITHM", "winograd")
    assert kind(x3, w3, padding=1) == "winograd"
    monkeypatch.setattr(kconv, "ALGORITHM", "im2col")
    assert kind(x16, w16, padding=1) == "chunked"
    monkeypatch.setattr(kconv, "ALGORITHM", "fast")
    with pytest.raises(ValueError, match="ALGORITHM must be one of.*'fast'"):
        _fwd(x16, w16, None, padding=1)
    monkeypatch.setattr(kconv, "ALGORITHM", "winograd")
    gn.kernels.set_enabled(False)  # kernels off: the reference (im2col)
    assert kind(x16, w16, padding=1) == "reference"


def test_winograd_in_a_trained_cnn_matches_im2col(rng, wino):
    """A few float64 training steps of a small CNN with 16-channel 3x3 convolutions: the same
    parameters whichever algorithm runs the convolutions."""
    def run():
        model = gn.nn.Sequential(gn.nn.Conv2d(1, 16, 3, padding=1, rng=0), gn.nn.ReLU(),
                                 gn.nn.Conv2d(16, 16, 3, padding=1, rng=1), gn.nn.ReLU(),
                                 gn.nn.GlobalAvgPool(), gn.nn.Linear(16, 3, rng=2)).to(np.float64)
        opt = gn.optim.SGD(model.parameters(), lr=0.1)
        loss = gn.nn.SoftmaxCrossEntropy()
        data, caches = np.random.default_rng(5), set()
        for _ in range(3):
            x, y = data.standard_normal((4, 1, 9, 9)), data.integers(0, 3, 4)
            loss.forward(model.forward(x), y)
            caches.add(model[2]._cache[0].impl.name)
            model.zero_grad()
            model.backward(loss.backward())
            opt.step()
        return model, caches
    trained, kinds = run()
    reference, ref_kinds = _im2col(wino, run)
    assert kinds == {"winograd"} and ref_kinds == {"chunked"}
    for a, b in zip(trained.parameters(), reference.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


def test_winograd_from_two_threads_at_once(rng, wino):
    """The transforms run on Numba's threads; two Python threads convolving at the same time
    (whatever Numba's threading layer: launches take turns where it is not thread-safe) each
    get their own, correct result."""
    import threading
    x = [rng.standard_normal((6, 16, 9, 9)) for _ in range(2)]
    w = rng.standard_normal((16, 16, 3, 3))
    refs = [_im2col(wino, lambda xi=xi: _fwd(xi, w, None, 1, 1)) for xi in x]
    results, errors = [None, None], []

    def work(j):
        try:
            for _ in range(5):
                out, cache = _fwd(x[j], w, None, 1, 1)
                dx, _, _ = _bwd(np.ones_like(out), cache)
            results[j] = out, dx
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(j,)) for j in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (out, dx), (ref_out, ref_cache) in zip(results, refs):
        np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dx, _bwd(np.ones_like(ref_out), ref_cache)[0], rtol=1e-10, atol=1e-10)


def test_workqueue_layer_launches_take_turns(jit_on, tmp_path):
    """Under Numba's "workqueue" layer two threads launching parallel kernels at once abort the
    process; ``_jit.launch`` makes them take turns (run in a child process with that layer)."""
    import os
    import subprocess
    import sys
    script = tmp_path / "two_threads.py"
    script.write_text(
        "import threading, numpy as np, numba\n"
        "from glassnet import kernels\n"
        "from glassnet.kernels import conv as kconv\n"
        "kconv.ALGORITHM = 'winograd'\n"
        "x = np.random.default_rng(0).standard_normal((4, 16, 9, 9)); w = np.ones((16, 16, 3, 3))\n"
        "def work():\n"
        "    for _ in range(20):\n"
        "        out, cache = kernels.forward('conv2d', x, w, None, 1, 1); kernels.backward('conv2d', out, cache)\n"
        "ts = [threading.Thread(target=work) for _ in range(2)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(numba.threading_layer(), 'done')\n")
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", GLASSNET_JIT="1")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["workqueue", "done"]


@pytest.mark.parametrize("code,env,expect", [
    ("import glassnet", None, "22"),  # glassnet first, variable unset: shortened spin
    ("import glassnet", "25", "25"),  # the user's value stays
    ("import numpy; import glassnet", None, "None"),  # NumPy (and OpenBLAS) already loaded: left alone
])
def test_openblas_idle_spin_setting(code, env, expect):
    import os
    import subprocess
    import sys
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if env is not None:
        environ["OPENBLAS_THREAD_TIMEOUT"] = env
    proc = subprocess.run([sys.executable, "-c", code + "; import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"],
                          env=environ, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == expect


def test_kernels_are_the_transform_matrices(rng, jit_on):
    """Each compiled transform equals the product with Lavin and Gray's matrices on one tile:
    input B^T d B, output A^T m A (+ bias), upstream gradient A dY A^T (and its sum for the
    bias), input adjoint B v B^T."""
    from glassnet.kernels import _numba as _jit
    k = winograd._constants(np.float64)
    BT, AT = winograd.BT, winograd.AT
    d = rng.standard_normal((1, 1, 6, 6))
    V = np.empty((1, 36, 1))
    _jit.launch(winograd._kernel(winograd._input_tiles), d, 0, 1, 0, 0, 1, 1, V, k)
    np.testing.assert_allclose(V.reshape(6, 6), BT @ d[0, 0] @ BT.T, rtol=1e-13, atol=1e-13)
    m = rng.standard_normal((1, 36, 1))
    out = np.empty((1, 1, 4, 4))
    _jit.launch(winograd._kernel(winograd._output_tiles), m, 0, 1, 1, np.array([0.5]), out, k)
    np.testing.assert_allclose(out[0, 0], AT @ m.reshape(6, 6) @ AT.T + 0.5, rtol=1e-13, atol=1e-13)
    dy = rng.standard_normal((1, 1, 4, 4))
    Z, db = np.empty((1, 36, 1)), np.zeros(1)
    _jit.launch(winograd._kernel(winograd._grad_tiles), dy, 0, 1, 1, 1, Z, k, db)
    np.testing.assert_allclose(Z.reshape(6, 6), AT.T @ dy[0, 0] @ AT, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(db, [dy.sum()], rtol=1e-13)
    v = rng.standard_normal((1, 36, 1))
    dx = np.empty((1, 1, 6, 6))
    _jit.launch(winograd._kernel(winograd._input_tiles_adjoint), v, 0, 0, 0, 1, 1, dx, k)
    np.testing.assert_allclose(dx[0, 0], BT.T @ v.reshape(6, 6) @ BT, rtol=1e-13, atol=1e-13)
