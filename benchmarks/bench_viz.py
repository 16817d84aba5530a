"""glassnet.viz against Captum on the same CNN (28x28 inputs, float32, the same weights): time
per image of saliency, guided backprop and Grad-CAM (batches of 64) and of occlusion (4x4
window, stride 2: 169 occluded copies per image, scored in batches of 256), each library at
``BENCH_THREADS`` threads, medians of 7 runs; then the report section's cost on a trained
digits CNN.

    python benchmarks/bench_viz.py
"""
import time

import _common
import numpy as np

import glassnet as gn


def cnn():
    return gn.nn.Sequential(gn.nn.Conv2d(1, 16, 3, padding=1, rng=0), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                            gn.nn.Conv2d(16, 32, 3, padding=1, rng=1), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                            gn.nn.Flatten(), gn.nn.Linear(32 * 7 * 7, 10, rng=2))


def twin(model, torch, softmax=False):
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
                        *([nn.Softmax(dim=1)] if softmax else []))
    with torch.no_grad():
        for i in (0, 3):
            net[i].weight.copy_(torch.from_numpy(model[i].W.data))
            net[i].bias.copy_(torch.from_numpy(model[i].b.data))
        net[7].weight.copy_(torch.from_numpy(model[7].W.data.T.copy()))
        net[7].bias.copy_(torch.from_numpy(model[7].b.data))
    return net.eval()


def main():
    import torch
    from captum.attr import GuidedBackprop, LayerGradCam, Occlusion, Saliency
    _common.set_torch_threads(torch)
    rng = np.random.default_rng(0)
    model = cnn()
    X = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    t = rng.integers(0, 10, 64)
    net, soft = twin(model, torch), twin(model, torch, softmax=True)
    x, target = torch.from_numpy(X), torch.from_numpy(t)
    cases = [
        ("saliency", 64, lambda: gn.viz.saliency(model, X, t), lambda: Saliency(net).attribute(x.requires_grad_(), target=target)),
        ("guided backprop", 64, lambda: gn.viz.guided_backprop(model, X, t),
         lambda: GuidedBackprop(net).attribute(x.requires_grad_(), target=target)),
        ("Grad-CAM", 64, lambda: gn.viz.grad_cam(model, X, t, "3"),
         lambda: LayerGradCam(net, net[3]).attribute(x.requires_grad_(), target=target, relu_attributions=True)),
        ("occlusion 4x4/2", 4, lambda: gn.viz.occlusion(model, X[:4], t[:4], window=4, stride=2),
         lambda: Occlusion(soft).attribute(x[:4].detach(), sliding_window_shapes=(1, 4, 4), strides=(1, 2, 2),
                                           baselines=0.0, target=target[:4], perturbations_per_eval=256)),
    ]
    print(f"float32, {_common.THREADS} threads, torch {torch.__version__}; ms per image, medians of 7 runs")
    print(f"{'method':<18} {'glassnet':>10} {'Captum':>10} {'ratio':>7}")
    for name, n, ours, theirs in cases:
        a = 1e3 * _common.median_time(ours) / n
        with torch.no_grad() if name.startswith("occlusion") else torch.enable_grad():
            b = 1e3 * _common.median_time(theirs) / n
        print(f"{name:<18} {a:10.3f} {b:10.3f} {a / b:6.2f}x")
    # the report section on a trained digits CNN
    from sklearn.datasets import load_digits
    d = load_digits()
    Xd = ((d.data - d.data.mean()) / d.data.std()).astype(np.float32).reshape(-1, 1, 8, 8)
    small = gn.nn.Sequential(gn.nn.Conv2d(1, 16, 3, padding=1, rng=0), gn.nn.ReLU(), gn.nn.MaxPool2d(2),
                             gn.nn.Flatten(), gn.nn.Linear(256, 10, rng=1))
    gn.Trainer(small, gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(small, lr=1e-2), verbose=0).fit(
        (Xd[:1400], d.target[:1400]), epochs=10, batch_size=64, seed=0)
    from glassnet.viz.page import section, section_html
    t0 = time.perf_counter()
    html = section_html(section(small, Xd[1400:], d.target[1400:]))
    print(f"report section on a digits CNN ({len(Xd) - 1400} validation images): {time.perf_counter() - t0:.1f} s, "
          f"{len(html) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
