"""Conformance: every kernel in glassnet.kernels against its operation's reference.

One parametrized test walks the registry: for each operation it runs the inputs below (odd
shapes, float32 and float64, ties for max pooling) through the reference and through every
kernel that applies, forward and backward, and compares within the kernel's stated tolerance.
An operation without cases here, or a kernel no case exercises (on this machine's backends),
fails the test."""
import numpy as np
import pytest

from glassnet import kernels
from glassnet.kernels import _numba


def _rand(rng, shape, dtype, ties=False):
    if ties:
        return rng.integers(0, 3, shape).astype(dtype)  # many ties, as after a ReLU
    return rng.standard_normal(shape).astype(dtype)


def _layer_cases(rng, dtype):
    """(op, args, kwargs) for the forward; the backward gets a random upstream gradient."""
    yield "relu", (_rand(rng, (7, 13), dtype),), {}
    yield "relu", (_rand(rng, (3, 5, 4, 6), dtype),), {}
    yield "relu", (np.zeros((0, 4), dtype),), {}
    yield "leaky_relu", (_rand(rng, (5, 3), dtype), 0.1), {}
    yield "sigmoid", (_rand(rng, (5, 3), dtype) * 30,), {}
    yield "tanh", (_rand(rng, (5, 3), dtype),), {}
    yield "softmax", (_rand(rng, (5, 7), dtype), -1), {}
    for op in ("max_pool2d", "avg_pool2d"):
        for shape, kernel, stride in (((2, 3, 8, 6), (2, 2), (2, 2)), ((1, 1, 2, 2), (2, 2), (2, 2)),
                                      ((2, 3, 7, 5), (2, 2), (2, 2)), ((2, 2, 7, 9), (3, 3), (2, 2)),
                                      ((1, 3, 6, 7), (3, 2), (1, 2)), ((2, 1, 5, 5), (1, 1), (1, 1))):
            for ties in (False, True):
                yield op, (_rand(rng, shape, dtype, ties), kernel, stride), {}
    # (x, w, bias?, stride, padding, dilation): 1x1, Winograd's case (16 channels, 12x12 outputs, odd
    # tiles), a 3-channel first layer, strides, dilation, rectangular kernels, an odd batch
    for xs, ws, bias, s, p, d in (((3, 4, 5, 7), (6, 4, 1, 1), True, 1, 0, 1), ((2, 16, 13, 12), (16, 16, 3, 3), True, 1, 1, 1),
                                  ((3, 3, 9, 8), (5, 3, 3, 3), False, 1, 1, 1), ((3, 2, 9, 8), (4, 2, 3, 3), True, 2, 1, 1),
                                  ((1, 2, 9, 10), (3, 2, 3, 2), True, (1, 2), (2, 0), (2, 1)),
                                  ((5, 2, 7, 7), (3, 2, 5, 5), True, 1, 2, 1), ((2, 3, 6, 6), (2, 3, 2, 2), True, 2, 0, 1)):
        b = _rand(rng, (ws[0],), dtype) if bias else None
        yield "conv2d", (_rand(rng, xs, dtype), _rand(rng, ws, dtype), b, s, p, d), {}
    # (N, C), (N, C, L) with rows long enough for the compiled loops and too short, (N, C, H, W); eval too
    for shape in ((9, 5), (4, 3, 17), (3, 2, 5), (2, 3, 4, 5)):
        C = shape[1]
        for train in (True, False):
            args = (_rand(rng, shape, dtype) * 2 + 3, _rand(rng, (C,), dtype), _rand(rng, (C,), dtype),
                    _rand(rng, (C,), dtype), np.abs(_rand(rng, (C,), dtype)) + 0.5)
            yield "batchnorm", args, dict(train=train, momentum=0.9, eps=1e-5)
    # integer labels of several widths, a huge row (stable), one class, probability targets
    for n, c, ldtype in ((7, 5, np.int64), (4, 3, np.int32), (3, 1, np.uint8)):
        s = _rand(rng, (n, c), dtype) * 5
        s[0, 0] = 1e4 if c > 1 else s[0, 0]
        yield "softmax_cross_entropy", (s, rng.integers(0, c, n).astype(ldtype)), {}
    # (N, T, D, H), with and without a bias
    for N, T, D, H, bias in ((3, 5, 4, 6, True), (1, 1, 2, 3, False), (4, 7, 3, 2, True)):
        b = _rand(rng, (4 * H,), dtype) if bias else None
        yield "lstm", (_rand(rng, (N, T, D), dtype), _rand(rng, (N, H), dtype), _rand(rng, (N, H), dtype),
                       _rand(rng, (D, 4 * H), dtype) * 0.5, _rand(rng, (H, 4 * H), dtype) * 0.5, b), {}
    p = np.abs(_rand(rng, (5, 4), dtype))
    yield "softmax_cross_entropy", (_rand(rng, (5, 4), dtype), p / p.sum(axis=1, keepdims=True)), {}


def _run_cases(rng, dtype):
    w, g = _rand(rng, (7, 5), dtype), _rand(rng, (7, 5), dtype)
    m, v = _rand(rng, (7, 5), dtype) * 0.1, np.abs(_rand(rng, (7, 5), dtype)) * 0.01
    for t, bc in ((1, True), (5, True), (3, False)):
        b1, b2 = 0.9, 0.999
        yield "adam_update", (w, g, m, v), dict(lr=1e-2, b1=b1, b2=b2, eps=1e-8,
                                                bc1=1 - b1 ** t if bc else 1.0, bc2=1 - b2 ** t if bc else 1.0)


def _copy(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _close(a, b, tol, what):
    if a is None or b is None:
        assert a is None and b is None, what
        return
    if isinstance(a, (tuple, list)):
        for x, y in zip(a, b):
            _close(x, y, tol, what)
        return
    rtol, atol = tol
    assert np.asarray(a).shape == np.asarray(b).shape, what
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


PAIRS = [(op, k.name) for op in kernels.ops() for k in kernels.implementations(op)]


def test_every_operation_has_conformance_cases():
    ops = {op for d in (np.float32,) for gen in (_layer_cases, _run_cases)
           for op, _, _ in gen(np.random.default_rng(0), d)}
    assert set(kernels.ops()) <= ops, f"operations without cases here: {sorted(set(kernels.ops()) - ops)}"


@pytest.mark.parametrize("op,name", PAIRS)
def test_kernel_agrees_with_the_reference(op, name, kernels_on):
    kernel = next(k for k in kernels.implementations(op) if k.name == name)
    ref = kernels._REFERENCES[op]
    exercised = 0
    for dtype in (np.float32, np.float64):
        tol = kernel.tolerance[np.dtype(dtype).name]
        rng = np.random.default_rng(0)
        for case_op, args, kw in [*_layer_cases(rng, dtype), *_run_cases(rng, dtype)]:
            if case_op != op or not kernel.applies(*args, **kw):
                continue
            exercised += 1
            what = f"{op} {name} {np.dtype(dtype).name} {[getattr(a, 'shape', a) for a in args]}"
            if kernel.backward is None:  # an in-place update: compare the arrays it leaves
                ours, theirs = _copy(args), _copy(args)
                kernel.forward(*ours, **kw)
                ref.forward(*theirs, **kw)
                _close(ours, theirs, tol, what)
                continue
            with np.errstate(all="ignore"):
                out, cache = kernel.forward(*_copy(args), **kw)
                ref_out, ref_cache = ref.forward(*_copy(args), **kw)
            _close(out, ref_out, tol, what + " forward")
            dout = np.random.default_rng(1).standard_normal(np.shape(out)).astype(dtype)
            _close(kernel.backward(dout.copy(), cache), ref.backward(dout.copy(), ref_cache), tol, what + " backward")
    if exercised == 0:
        if name == "cupy":
            pytest.skip("needs CuPy and a GPU")
        if name == "numba" and not _numba.available():
            pytest.skip("needs Numba")
        pytest.fail(f"no case exercises {op}/{name}")


def test_switching_kernels_off_runs_the_reference(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    before = kernels.enabled()
    try:
        kernels.set_enabled(False)
        _, cache = kernels.forward("relu", x)
        assert cache.impl is kernels._REFERENCES["relu"]
        kernels.set_enabled(True)
        _, cache = kernels.forward("relu", x)
        assert cache.impl.name in ("numba", "numpy")
    finally:
        kernels.set_enabled(before)
