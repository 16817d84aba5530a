"""Convolution, pooling and spatial batch norm: against loop oracles and numerical gradients."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import functional as F
from glassnet.errors import ShapeError
from glassnet.gradcheck import check_module
from glassnet.kernels import conv as kconv

import naive

GEOMETRIES = [  # (H, W, kernel, stride, padding, dilation)
    (5, 5, 3, 1, 0, 1),
    (7, 6, 3, 2, 1, 1),
    (8, 9, (3, 2), (2, 1), (1, 0), 1),
    (9, 9, 3, 1, 2, 2),
    (6, 7, 4, 3, 1, 1),      # kernel larger than stride, odd sizes
    (5, 5, 1, 2, 0, 1),      # 1x1 with stride
    (4, 4, 1, 1, 0, 1),      # 1x1 fast path
    (3, 3, 5, 1, 1, 1),      # kernel larger than the input, padding makes it fit
    (8, 9, (3, 2), 1, (2, 1), (2, 3)),  # stride 1 (the padded-grid backward) with uneven kernel/padding/dilation
    (6, 5, (2, 3), 1, (0, 2), 1),
]


@pytest.mark.parametrize("H,W,k,s,p,d", GEOMETRIES)
@pytest.mark.parametrize("N", [1, 3])
def test_conv2d_matches_loops_and_gradients(rng, N, H, W, k, s, p, d):
    conv = gn.nn.Conv2d(2, 3, k, stride=s, padding=p, dilation=d, rng=0).to(np.float64)
    conv.b.data[...] = rng.standard_normal(3)
    x = rng.standard_normal((N, 2, H, W))
    out = conv.forward(x)
    pair = F.conv.pair
    ref = naive.conv2d(x, conv.W.data, conv.b.data, pair(s), pair(p), pair(d))
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    report = check_module(conv, x, seed=1)
    assert report.passed, str(report)


@pytest.mark.parametrize("L,k,s,p,d", [(9, 3, 1, 0, 1), (10, 4, 2, 1, 1), (11, 3, 1, 2, 2), (5, 1, 1, 0, 1)])
def test_conv1d_is_conv2d_with_one_row(rng, L, k, s, p, d):
    conv = gn.nn.Conv1d(2, 4, k, stride=s, padding=p, dilation=d, rng=0).to(np.float64)
    x = rng.standard_normal((3, 2, L))
    out = conv.forward(x)
    ref = naive.conv2d(x[:, :, None, :], conv.W.data[:, :, None, :], conv.b.data, (1, s), (0, p), (1, d))[:, :, 0]
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    assert conv.output_shape((2, L)) == out.shape[1:]
    report = check_module(conv, x, seed=2)
    assert report.passed, str(report)


def test_conv_geometry_errors_show_the_arithmetic():
    conv = gn.nn.Conv2d(1, 1, 5)
    with pytest.raises(ShapeError, match=r"3 \+ 2\*padding 0 = 3 is smaller than the \(dilated\) kernel span"):
        conv.forward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, 1, H, W\)"):
        conv.forward(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        gn.nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="kernel_size must be an int"):
        gn.nn.Conv1d(1, 1, (3, 3))
    with pytest.raises(ShapeError, match=r"\(W - F \+ 2P\)/S \+ 1 = \(6 - 3 \+ 2\*0\)/2 \+ 1 = 2.5"):
        F.conv.check_geometry(6, 3, 2, 0, 1, "Conv2d", "W", exact=True)
    with pytest.raises(TypeError, match="float64 .*parameters are float32"):
        conv.forward(np.zeros((1, 1, 8, 8)))


def test_conv_backward_skips_input_gradient_and_frozen_weights(rng):
    conv = gn.nn.Conv2d(2, 3, 3, padding=1, rng=0)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    out = conv.forward(x)
    assert conv.backward(np.ones_like(out), need_input_grad=False) is None
    assert np.abs(conv.W.grad).sum() > 0
    conv.zero_grad()
    conv.W.frozen = True
    conv.forward(x)
    assert conv.backward(np.ones_like(out)).shape == x.shape
    assert np.abs(conv.W.grad).sum() == 0


POOLS = [(4, 4, 2, 2), (5, 7, 2, 2), (6, 6, 3, 2), (7, 5, (3, 2), (1, 2)), (5, 5, 3, 1), (4, 6, 2, 1)]


@pytest.mark.parametrize("H,W,k,s", POOLS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_matches_loops_and_gradients(rng, H, W, k, s, kind):
    cls = gn.nn.MaxPool2d if kind == "max" else gn.nn.AvgPool2d
    pool = cls(k, s)
    x = rng.standard_normal((2, 3, H, W))
    out = pool.forward(x)
    pair = F.conv.pair
    ref = naive.pool2d(x, pair(k), pair(s), np.max if kind == "max" else np.mean)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    report = check_module(pool, x, seed=3)
    assert report.passed, str(report)


def test_maxpool_sends_gradient_to_the_first_maximum_on_ties():
    x = np.zeros((1, 1, 2, 2))
    pool = gn.nn.MaxPool2d(2)
    pool.forward(x)
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    assert dx[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool1d(rng, kind):
    cls = gn.nn.MaxPool1d if kind == "max" else gn.nn.AvgPool1d
    pool = cls(3, 2)
    x = rng.standard_normal((2, 3, 9))
    out = pool.forward(x)
    red = np.max if kind == "max" else np.mean
    ref = np.array([[[red(x[n, c, 2 * i:2 * i + 3]) for i in range(4)] for c in range(3)] for n in range(2)])
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert check_module(pool, x, seed=4).passed


def test_pool_errors():
    with pytest.raises(ShapeError, match="kernel does not fit along H"):
        gn.nn.MaxPool2d(3).forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, C, L\)"):
        gn.nn.MaxPool1d(2).forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        gn.nn.AvgPool2d(2, 0)


def test_global_avg_pool(rng):
    x = rng.standard_normal((3, 4, 5, 2))
    g = gn.nn.GlobalAvgPool()
    np.testing.assert_allclose(g.forward(x), x.mean(axis=(2, 3)))
    assert check_module(g, x).passed
    with pytest.raises(ShapeError):
        g.forward(np.zeros((3, 4)))


def test_batchnorm2d_statistics_per_channel(rng):
    bn = gn.nn.BatchNorm2d(3).to(np.float64)
    x = rng.standard_normal((4, 3, 5, 6)) * np.array([1, 5, 0.1])[None, :, None, None] + 3
    out = bn.forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-3)
    m = x.size // 3
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    assert check_module(gn.nn.BatchNorm2d(3), x, seed=5).passed
    bn.eval()
    assert check_module(bn, x, seed=6).passed
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\): expected input of shape \(N, 3, H, W\)"):
        bn.forward(np.zeros((4, 3)))


def test_basic_block_shapes_projection_and_gradients(rng):
    same = gn.nn.BasicBlock(4, 4, rng=0)
    assert type(same.residual.shortcut).__name__ == "Identity"
    down = gn.nn.BasicBlock(4, 6, stride=2, rng=0)
    x = rng.standard_normal((2, 4, 7, 7))
    assert down.to(np.float64).forward(x).shape == (2, 6, 4, 4)
    assert type(down.residual.shortcut).__name__ == "Sequential"
    report = check_module(down, x, seed=7, max_coords=60)
    assert report.passed, str(report)
    rebuilt = gn.nn.build(down.config())
    rebuilt.load_state_dict(down.state_dict())


def test_small_cnn_learns_digits():
    pytest.importorskip("sklearn")
    data = gn.data.load_digits()
    (Xtr, ytr), (Xte, yte) = gn.data.train_val_test_split(data.X / 16, data.y, ratios=(0.8, 0.2), seed=0)
    model = gn.nn.Sequential(gn.nn.Reshape(1, 8, 8), gn.nn.Conv2d(1, 8, 3, padding=1, rng=0), gn.nn.ReLU(),
                             gn.nn.MaxPool2d(2), gn.nn.Flatten(), gn.nn.Linear(8 * 16, 10, rng=1))
    trainer = gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=3e-3), verbose=0)
    trainer.fit((Xtr.astype(np.float32), ytr), epochs=8, batch_size=32, seed=0)
    acc = (model.eval().forward(Xte.astype(np.float32)).argmax(1) == yte).mean()
    assert acc > 0.93


def _kcache(conv):
    """The cache of the kernel a convolution layer ran last (kernels.Cache.value)."""
    return conv._cache[0].value


def test_conv_workspace_is_reused_without_aliasing_results(rng, kernels_on):
    """The layer's columns live in a reused buffer; outputs and input gradients never do."""
    conv = gn.nn.Conv2d(2, 3, 3, padding=1, rng=0).to(np.float64)
    xs = [rng.standard_normal((n, 2, 6, 6)) for n in (4, 4, 2, 4)]  # a smaller last batch, then full again
    outs, dxs = [], []
    for x in xs:
        out = conv.forward(x)
        dxs.append(conv.backward(np.ones_like(out)))
        outs.append(out)
    assert conv._workspace.nbytes >= 4 * 2 * 9 * 36 * 8  # columns of the largest batch are kept
    for x, out, dx in zip(xs, outs, dxs):  # earlier results are untouched by later calls
        np.testing.assert_allclose(out, naive.conv2d(x, conv.W.data, conv.b.data, (1, 1), (1, 1), (1, 1)),
                                   rtol=1e-10, atol=1e-12)
        ref_dx = F.col2im(np.matmul(conv.W.data.reshape(3, -1).T, np.ones((len(x), 3, 36))), x.shape, (3, 3),
                          (6, 6), (1, 1), (1, 1), (1, 1))
        np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)
    conv.clear_cache()
    assert conv._workspace.nbytes == 0
    import copy
    assert copy.deepcopy(conv)._workspace.nbytes == 0


def test_two_convs_share_scratch_safely(rng):
    """Stacked convolutions share the per-thread scratch for column gradients; results match the oracle."""
    net = gn.nn.Sequential(gn.nn.Conv2d(2, 4, 3, padding=1, rng=0), gn.nn.Conv2d(4, 3, (3, 1), padding=(2, 0),
                                                                                  dilation=(2, 1), rng=1))
    net.to(np.float64)
    x = rng.standard_normal((3, 2, 7, 5))
    report = check_module(net, x, seed=3)
    assert report.passed, str(report)


def test_workspace_buffers_grow_and_are_reused():
    from glassnet.kernels.workspace import Workspace
    ws = Workspace()
    a = ws.get("cols", (2, 3), np.float32)
    b = ws.get("cols", (1, 3), np.float32)  # smaller: a view of the same memory
    assert np.shares_memory(a, b) and b.shape == (1, 3)
    c = ws.get("cols", (4, 3), np.float32)  # larger: a new buffer
    assert not np.shares_memory(a, c) and ws.nbytes == 48
    assert ws.get("cols", (4, 3), np.float64).dtype == np.float64


@pytest.mark.parametrize("H,W,k,s,p,d", [g for g in GEOMETRIES if g[:3] != (4, 4, 1)])  # 1x1/1 never gathers
@pytest.mark.parametrize("per_chunk", [1, 2])
def test_conv2d_in_chunks_matches_loops_and_gradients(rng, monkeypatch, kernels_on, H, W, k, s, p, d, per_chunk):
    """The NumPy path takes a few images at a time (CHUNK_BYTES of columns) and gathers the columns
    again in backward; with chunks of one or two images (a short last chunk) it agrees with the
    loop oracle, keeps no columns, and passes the float64 gradient check."""
    conv = gn.nn.Conv2d(2, 3, k, stride=s, padding=p, dilation=d, rng=0).to(np.float64)
    conv.b.data[...] = rng.standard_normal(3)
    x = rng.standard_normal((5, 2, H, W))
    kh, kw = F.conv.pair(k)
    Ho, Wo = conv.output_shape(x.shape[1:])[1:]
    monkeypatch.setattr(kconv, "CHUNK_BYTES", per_chunk * 2 * kh * kw * Ho * Wo * 8)
    out = conv.forward(x)
    cache = _kcache(conv)
    assert cache.chunk == per_chunk and cache.cols is None and cache.xpad is not None
    pair = F.conv.pair
    np.testing.assert_allclose(out, naive.conv2d(x, conv.W.data, conv.b.data, pair(s), pair(p), pair(d)),
                               rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = conv.backward(dout)
    dw, db = conv.W.grad.copy(), conv.b.grad.copy()
    monkeypatch.setattr(kconv, "CHUNK_BYTES", 1 << 30)  # the whole batch in one chunk: the reference
    conv.zero_grad()
    conv.forward(x)
    assert _kcache(conv).chunk == 5 and _kcache(conv).cols is not None
    np.testing.assert_allclose(dx, conv.backward(dout), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dw, conv.W.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, conv.b.grad, rtol=1e-10, atol=1e-12)
    monkeypatch.setattr(kconv, "CHUNK_BYTES", per_chunk * 2 * kh * kw * Ho * Wo * 8)
    report = check_module(conv, x, seed=4)
    assert report.passed, str(report)


def test_conv_in_chunks_float32_and_frozen_parts(rng, monkeypatch, kernels_on):
    """Chunks in float32 agree with the one-chunk path to float rounding; a layer that skips its
    input gradient or has frozen weights computes only what is asked."""
    x = rng.standard_normal((7, 3, 10, 9)).astype(np.float32)
    conv = gn.nn.Conv2d(3, 4, 3, padding=1, rng=0)
    out_one = conv.forward(x)
    dout = rng.standard_normal(out_one.shape).astype(np.float32)
    dx_one = conv.backward(dout)
    dw_one = conv.W.grad.copy()
    monkeypatch.setattr(kconv, "CHUNK_BYTES", 3 * 27 * 90 * 4)  # 3 images per chunk: 3 + 3 + 1
    conv.zero_grad()
    out = conv.forward(x)
    assert _kcache(conv).chunk == 3 and out.dtype == np.float32
    dx = conv.backward(dout)
    assert dx.dtype == np.float32 and conv.W.grad.dtype == np.float32
    np.testing.assert_allclose(out, out_one, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, dx_one, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv.W.grad, dw_one, rtol=1e-4, atol=1e-4)
    conv.zero_grad()
    conv.forward(x)
    assert conv.backward(dout, need_input_grad=False) is None
    np.testing.assert_allclose(conv.W.grad, dw_one, rtol=1e-4, atol=1e-4)
    conv.zero_grad()
    conv.W.frozen = True
    conv.b.frozen = True
    conv.forward(x)
    np.testing.assert_allclose(conv.backward(dout), dx_one, rtol=1e-5, atol=1e-5)
    assert not conv.W.grad.any()
