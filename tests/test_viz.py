"""glassnet.viz: receptive fields against brute force, the attribution methods against Captum
(the same weights in PyTorch, float64), max-activating inputs against the activations, the
embeddings' neighbourhoods on digits, and the model left as it was."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ConfigError


def small_cnn(seed=0):
    """1x8x8 -> conv 3x3 pad 1 -> ReLU -> pool 2 -> conv 3x3 -> ReLU -> flatten -> 3 scores."""
    return gn.nn.Sequential(gn.nn.Conv2d(1, 4, 3, padding=1, rng=seed), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                            gn.nn.Conv2d(4, 6, 3, rng=seed + 1), gn.nn.ReLU(), gn.nn.Flatten(),
                            gn.nn.Linear(24, 3, rng=seed + 2)).to(np.float64)


def torch_twin(model, torch, softmax=False):
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(),
                        nn.Flatten(), nn.Linear(24, 3), *([nn.Softmax(dim=1)] if softmax else [])).double()
    with torch.no_grad():
        for i in (0, 3):
            net[i].weight.copy_(torch.from_numpy(model[i].W.data))
            net[i].bias.copy_(torch.from_numpy(model[i].b.data))
        net[6].weight.copy_(torch.from_numpy(model[6].W.data.T))
        net[6].bias.copy_(torch.from_numpy(model[6].b.data))
    return net.eval()


@pytest.fixture
def case(rng):
    model = small_cnn()
    X = rng.standard_normal((5, 1, 8, 8))
    t = np.array([0, 1, 2, 1, 0])
    return model, X, t


def test_the_torch_twin_computes_the_same_scores(case):
    torch = pytest.importorskip("torch")
    model, X, _ = case
    np.testing.assert_allclose(torch_twin(model, torch)(torch.from_numpy(X)).detach().numpy(),
                               model.eval().forward(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["saliency", "guided_backprop", "grad_cam"])
def test_gradient_methods_equal_captum(case, method):
    torch = pytest.importorskip("torch")
    captum = pytest.importorskip("captum.attr")
    model, X, t = case
    net = torch_twin(model, torch)
    x = torch.from_numpy(X).requires_grad_(True)
    target = torch.from_numpy(t)
    if method == "saliency":
        ours, theirs = gn.viz.saliency(model, X, t), captum.Saliency(net).attribute(x, target=target)
    elif method == "guided_backprop":
        ours, theirs = gn.viz.guided_backprop(model, X, t), captum.GuidedBackprop(net).attribute(x, target=target)
    else:
        ours = gn.viz.grad_cam(model, X, t, layer="3")
        theirs = captum.LayerGradCam(net, net[3]).attribute(x, target=target, relu_attributions=True)[:, 0]
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape and np.abs(theirs).max() > 0
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_occlusion_maps_give_captums_attributions(case):
    """Captum's Occlusion attributes to each pixel the mean drop of the output over the windows
    that cover it; our maps hold the occluded probabilities themselves (the notes' picture), from
    which that mean follows."""
    torch = pytest.importorskip("torch")
    captum = pytest.importorskip("captum.attr")
    model, X, t = case
    window, stride = (3, 2), (2, 1)
    maps = gn.viz.occlusion(model, X, t, window=window, stride=stride, baseline=0.5)
    assert maps.shape == (5, 4, 7)  # rows 0, 2, 4 and 6 (that window clipped to rows 6-7)
    p0 = gn.functional.softmax(model.eval().forward(X), axis=1)[np.arange(5), t]
    drop, count = np.zeros(X.shape), np.zeros(X.shape)
    for a in range(maps.shape[1]):
        for b in range(maps.shape[2]):
            r, c = a * stride[0], b * stride[1]
            drop[:, :, r:r + window[0], c:c + window[1]] += (p0 - maps[:, a, b])[:, None, None, None]
            count[:, :, r:r + window[0], c:c + window[1]] += 1
    ours = np.divide(drop, count, out=np.zeros_like(drop), where=count > 0)
    net = torch_twin(model, torch, softmax=True)
    theirs = captum.Occlusion(net).attribute(
        torch.from_numpy(X), sliding_window_shapes=(1,) + window, strides=(1,) + stride, baselines=0.5,
        target=torch.from_numpy(t)).numpy()
    # Captum divides its float64 sums by the counts after casting them to float32 (`.float()` in
    # captum/attr/_core/feature_ablation.py), so its result holds float32 precision only
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    # the maps themselves, to float64 precision: each occluded image scored by PyTorch
    for a in range(maps.shape[1]):
        for b in range(maps.shape[2]):
            occluded = X.copy()
            r, c = a * stride[0], b * stride[1]
            occluded[:, :, r:r + window[0], c:c + window[1]] = 0.5
            p = net(torch.from_numpy(occluded)).detach().numpy()[np.arange(5), t]
            np.testing.assert_allclose(maps[:, a, b], p, rtol=1e-12, atol=1e-14)


def test_occlusion_in_small_batches_equals_one_batch(case):
    model, X, t = case
    np.testing.assert_allclose(gn.viz.occlusion(model, X[:2], 1, batch_size=3),
                               gn.viz.occlusion(model, X[:2], 1, batch_size=1000), rtol=1e-13)


def geometry_model():
    return gn.nn.Sequential(gn.nn.Conv2d(1, 2, 3, padding=1, rng=0), gn.nn.MaxPool2d(2),
                            gn.nn.Conv2d(2, 2, 3, stride=2, padding=1, rng=1), gn.nn.LeakyReLU(0.1),
                            gn.nn.Conv2d(2, 2, (3, 2), dilation=(2, 1), rng=2)).to(np.float64)


@pytest.mark.parametrize("layer", ["0", "1", "2", "3", "4"])
def test_receptive_field_by_brute_force(layer):
    """The input pixels that a unit's value depends on (found by changing each pixel alone, up
    and down: a max pool ignores a change that lowers a value) are the receptive field's window
    clipped to the image, for units at the border and inside."""
    model = geometry_model().eval()
    rf = gn.viz.receptive_field(model, layer)
    x = np.random.default_rng(0).standard_normal((1, 1, 24, 22))
    out = gn.viz.activations(model, x, [layer])[layer][0, 0]
    for i, j in {(0, 0), (out.shape[0] - 1, out.shape[1] - 1), (out.shape[0] // 2, out.shape[1] // 2)}:
        depends = np.zeros(x.shape[2:], bool)
        for r in range(x.shape[2]):
            for c in range(x.shape[3]):
                for change in (1e3, -1e3):
                    x2 = x.copy()
                    x2[0, 0, r, c] += change
                    depends[r, c] |= gn.viz.activations(model, x2, [layer])[layer][0, 0, i, j] != out[i, j]
        expected = np.zeros_like(depends)
        r0, r1, c0, c1 = rf.window(i, j)
        expected[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = True
        assert (depends == expected).all(), (layer, i, j, rf)


def test_receptive_field_values_and_refusals():
    model = geometry_model()
    assert gn.viz.receptive_field(model, "0") == ((3, 3), (1, 1), (-1, -1))
    assert gn.viz.receptive_field(model, "1") == ((4, 4), (2, 2), (-1, -1))
    assert gn.viz.receptive_field(model, "2") == ((8, 8), (4, 4), (-3, -3))
    assert gn.viz.receptive_field(model, "4") == ((24, 12), (4, 4), (-3, -3))  # kernel (3, 2) dilated (2, 1)
    with pytest.raises(ConfigError, match=r"no layer named '9' in the model; its layers: 0 \(Conv2d\)"):
        gn.viz.receptive_field(model, "9")
    with pytest.raises(ConfigError, match="cannot follow the receptive field through Flatten"):
        gn.viz.receptive_field(small_cnn(), "6")


def test_max_activating_finds_the_top_inputs_and_their_patches(rng):
    model = small_cnn()
    X = rng.standard_normal((40, 1, 8, 8))
    res = gn.viz.max_activating(model, X, "3", unit=2, k=5, batch_size=7)
    maps = gn.viz.activations(model, X, ["3"])["3"][:, 2]
    best = maps.reshape(40, -1).max(axis=1)
    np.testing.assert_array_equal(res.indices, np.argsort(-best, kind="stable")[:5])
    np.testing.assert_allclose(res.values, best[res.indices])
    rf = gn.viz.receptive_field(model, "3")
    assert res.patches.shape == (5, 1) + rf.size
    for n, (i, j), patch in zip(res.indices, res.positions, res.patches):
        assert maps[n, i, j] == best[n]
        r0, r1, c0, c1 = rf.window(i, j)
        padded = np.pad(X[n], ((0, 0), (8, 8), (8, 8)))
        np.testing.assert_array_equal(patch, padded[:, r0 + 8:r1 + 8, c0 + 8:c1 + 8])
    dense = gn.viz.max_activating(model, X, "6", unit=1, k=3)
    scores = model.eval().forward(X)[:, 1]
    np.testing.assert_array_equal(dense.indices, np.argsort(-scores, kind="stable")[:3])
    with pytest.raises(ConfigError, match=r"unit must lie in \[0, 5\] for 3"):
        gn.viz.max_activating(model, X, "3", unit=6)


def test_the_model_is_left_as_it_was(case):
    model, X, t = case
    model.train()
    model[0].W.requires_grad = False
    model[0].b.accumulate(np.ones(4))
    before = {n: p.grad.copy() for n, p in model.named_parameters()}
    for fn in (lambda: gn.viz.saliency(model, X, t), lambda: gn.viz.guided_backprop(model, X, t),
               lambda: gn.viz.grad_cam(model, X, t, "3"), lambda: gn.viz.occlusion(model, X[:1], 0),
               lambda: gn.viz.activations(model, X), lambda: gn.viz.max_activating(model, X, "0", 1)):
        fn()
        assert model.training and model[0].W.requires_grad is False and model[0].b.requires_grad
        for n, p in model.named_parameters():
            np.testing.assert_array_equal(p.grad, before[n])
        assert all(m._cache is None for m in model.modules())
        assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())


def test_activations_names_and_filters(case):
    model, X, _ = case
    acts = gn.viz.activations(model, X)
    assert list(acts) == [str(i) for i in range(7)]
    assert acts["2"].shape == (5, 4, 4, 4) and acts["6"].shape == (5, 3)
    w = gn.viz.filters(model[0])
    assert w.shape == (4, 1, 3, 3) and w.min() == 0 and np.allclose(w.max(axis=(1, 2, 3)), 1)
    np.testing.assert_allclose(gn.viz.filters(model[0], normalize=False), model[0].W.data)
    with pytest.raises(ConfigError, match="expected a Conv2d, Conv1d or Linear layer, got ReLU"):
        gn.viz.filters(model[1])


def test_bad_targets_and_inputs_are_named(case):
    model, X, _ = case
    with pytest.raises(ConfigError, match=r"target must lie in \[0, 2\] for a model with 3 outputs"):
        gn.viz.saliency(model, X, 3)
    with pytest.raises(ConfigError, match=r"target must be a class index or one per input \(5\)"):
        gn.viz.saliency(model, X, [0, 1])
    with pytest.raises(ConfigError, match=r"window \(9, 9\) is larger than the inputs \(8, 8\)"):
        gn.viz.occlusion(model, X, 0, window=9)
    with pytest.raises(ConfigError, match="the model has no ReLU layers"):
        gn.viz.guided_backprop(gn.nn.Sequential(gn.nn.Flatten(), gn.nn.Linear(64, 3)).to(np.float64), X, 0)


@pytest.mark.parametrize("method,least", [("tsne", 0.9), ("pca", 0.5)])
def test_embeddings_keep_classes_together_on_digits(method, least):
    """A small MLP trained on digits; its hidden codes embedded in 2-D: each point's 10 nearest
    neighbours mostly share its class (t-SNE far more than the two principal components)."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    X = ((d.data - d.data.mean()) / d.data.std())[:600]
    y = d.target[:600]
    model = gn.nn.Sequential(gn.nn.Linear(64, 32, rng=0), gn.nn.ReLU(), gn.nn.Linear(32, 10, rng=1))
    gn.Trainer(model, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-2), verbose=0).fit(
        (X.astype(np.float32), y), epochs=30, batch_size=64, seed=0)
    emb = gn.viz.embed(model, X, "1", method=method, seed=0)
    assert emb.coords.shape == (600, 2) and emb.method.startswith(method)
    dist = ((emb.coords[:, None] - emb.coords[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    near = np.argsort(dist, axis=1)[:, :10]
    agreement = (y[near] == y[:, None]).mean()
    assert agreement >= least, agreement


def test_plots_draw(case, tmp_path):
    pytest.importorskip("matplotlib")
    model, X, t = case
    figs = [gn.viz.plot_activations(gn.viz.activations(model, X)), gn.viz.plot_filters(gn.viz.filters(model[0])),
            gn.viz.plot_max_activating(gn.viz.max_activating(model, X, "3", 0, k=4)),
            gn.viz.plot_occlusion(X[:2], gn.viz.occlusion(model, X[:2], t[:2], window=3, stride=1)),
            gn.viz.plot_embedding(gn.viz.embed(model, X, "5", method="pca"), labels=t),
            gn.viz.plot_embedding(gn.viz.embed(model, X, "5", method="pca"), images=X, grid=4),
            gn.viz.plot_filters(gn.viz.filters(gn.nn.Conv1d(2, 3, 5, rng=0))),  # 1-D filters: curves
            gn.viz.plot_filters(gn.viz.filters(model[3]), channels=3),  # a deeper layer: filters x input channels
            gn.viz.plot_occlusion(X[:2, 0, 0], gn.viz.occlusion(model[5:], X[:2].reshape(2, -1)[:, :24], 0, 3, 2))]
    assert len(figs[-2].axes) == 6 * 3  # 6 filters x their first 3 input channels
    seq = gn.nn.Sequential(gn.nn.Conv1d(2, 3, 5, padding=2, rng=0), gn.nn.ReLU())
    curves = gn.viz.plot_activations(gn.viz.activations(seq, np.random.default_rng(0).normal(size=(2, 2, 40))),
                                     inputs=2, channels=4)
    drawn = [ax for ax in curves.axes if ax.lines]
    assert len(drawn) == 2 * 2 * 3 and not any(ax.images for ax in curves.axes)  # 2 layers x 2 inputs x 3 maps
    assert len(drawn[0].lines[0].get_ydata()) == 40 and drawn[0].get_ylim() == drawn[5].get_ylim()  # one scale per layer
    figs.append(curves)
    for k, fig in enumerate(figs):
        assert any(ax.images or ax.collections or ax.lines for ax in fig.axes), k  # something was drawn
        fig.savefig(tmp_path / f"{k}.png")
        assert (tmp_path / f"{k}.png").stat().st_size > 500


CNN = """name = "cnn"
[data]
dataset = "digits"
[model]
layers = [
  {type = "Reshape", shape = [1, 8, 8]},
  {type = "Conv2d", in_channels = 1, out_channels = 8, kernel_size = 3, padding = 1}, {type = "ReLU"},
  {type = "MaxPool2d", kernel_size = 2}, {type = "Flatten"}, {type = "Linear", in_features = 128, out_features = 10},
]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Adam"
lr = 0.01
[trainer]
epochs = 3
batch_size = 64
verbose = 0
"""


def test_glassnet_viz_writes_the_page_and_the_report_has_the_section(tmp_path):
    """A CNN on digits through the command line: `glassnet viz RUN` writes a self-contained page
    with the filters, activation maps, max-activating patches, saliency, occlusion and the
    embedding; `glassnet report` carries the same section; a missing run says so in one line."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    import subprocess
    import sys
    (tmp_path / "cnn.toml").write_text(CNN)
    run = tmp_path / "run"
    cli = lambda *a: subprocess.run([sys.executable, "-m", "glassnet", *map(str, a)], capture_output=True,  # noqa: E731
                                    text=True, timeout=600)
    r = cli("train", tmp_path / "cnn.toml", "--out", run)
    assert r.returncode == 0, r.stderr
    r = cli("viz", run)
    assert r.returncode == 0, r.stderr
    page = (run / "viz.html").read_text()
    for title in ("Filters of 1 (Conv2d)", "Activation maps", "Inputs that excite two channels of 3", "Saliency",
                  "Occlusion: the probability", "embedded in 2-D (tsne (scikit-learn))"):
        assert title in page, title
    assert page.count("data:image/png;base64,") >= 7 and "<script" not in page and "http" not in page
    r = cli("viz", run, "--layer", "1", "--out", tmp_path / "v.html")
    assert r.returncode == 0 and "channels of 1 most" in (tmp_path / "v.html").read_text()
    report = (run / "report.html").read_text()
    learned = report.split('<section id="learned">')[1].split("</section>")[0]
    assert "Filters of 1 (Conv2d)" in learned and "data:image/png;base64," in learned
    r = cli("viz", tmp_path / "nowhere")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "has no model.npz" in r.stderr
    r = cli("viz", run, "--layer", "9")
    assert r.returncode == 2 and r.stderr.startswith("error: glassnet viz --layer: no layer named '9' in the model")
    (run / "config.json").write_text("{")  # a damaged run folder: one line, as glassnet report says it
    r = cli("viz", run)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "config.json: not valid JSON" in r.stderr


@pytest.mark.parametrize("shape", [(3, 2, 12), (3, 12)])
def test_occlusion_of_signals_and_rows(rng, shape):
    """Signals (N, C, L) and feature rows (N, D) are occluded along their last axis: each value of
    the map is the model's probability for the input with that stretch set to the baseline."""
    model = gn.nn.Sequential(gn.nn.Flatten(), gn.nn.Linear(int(np.prod(shape[1:])), 4, rng=0)).to(np.float64)
    X = rng.standard_normal(shape)
    maps = gn.viz.occlusion(model, X, 2, window=3, stride=2, baseline=0.0)
    assert maps.shape == (3, 6)  # windows at 0, 2, ..., 10 (the last clipped to two values)
    for k in range(6):
        occluded = X.copy()
        occluded[..., 2 * k:2 * k + 3] = 0.0
        p = gn.functional.softmax(model.eval().forward(occluded), axis=1)[:, 2]
        np.testing.assert_allclose(maps[:, k], p, rtol=1e-13)
