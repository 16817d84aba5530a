"""Training throughput on one GPU: glassnet on CuPy against PyTorch CUDA, same GPU, same run.

Cases: MLP 784-512-256-10 at batch 256 and a small CNN (Fashion-MNIST shaped, batch 128),
both float32 with Adam and softmax cross-entropy. Prints samples/s and the ratio
glassnet / PyTorch (above 1: glassnet is faster).

    python benchmarks/bench_gpu.py [--profile]
"""
import sys
import time

import _common  # timing; also fixes the CPU thread count
import numpy as np

import glassnet as gn
from glassnet import backend, nn


def mlp():
    return nn.Sequential(nn.Linear(784, 512, rng=0), nn.ReLU(), nn.Linear(512, 256, rng=1), nn.ReLU(),
                         nn.Linear(256, 10, rng=2))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, rng=0), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1, rng=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 49, 128, rng=2), nn.ReLU(), nn.Linear(128, 10, rng=3))


def torch_models(torch):
    T = torch.nn
    return {
        "mlp": lambda: T.Sequential(T.Linear(784, 512), T.ReLU(), T.Linear(512, 256), T.ReLU(), T.Linear(256, 10)),
        "cnn": lambda: T.Sequential(T.Conv2d(1, 32, 3, padding=1), T.BatchNorm2d(32), T.ReLU(), T.MaxPool2d(2),
                                    T.Conv2d(32, 64, 3, padding=1), T.BatchNorm2d(64), T.ReLU(), T.MaxPool2d(2),
                                    T.Flatten(), T.Linear(64 * 49, 128), T.ReLU(), T.Linear(128, 10)),
    }


def throughput(step, sync, batch):
    """Samples per second: median over 5 rounds of 50 steps, each round ending with ``sync``."""
    return batch / _common.median_time(step, calls=50, repeat=5, warmup=5, sync=sync)


def main():
    import cupy
    import torch

    dev = torch.device("cuda")
    print(f"GPU: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}; cupy {cupy.__version__}, "
          f"torch {torch.__version__}")
    print(f"{'case':<34} {'glassnet samples/s':>19} {'pytorch samples/s':>18} {'ratio':>7}")
    rng = np.random.default_rng(0)
    for name, build, shape, batch in (("MLP 784-512-256-10, batch 256", mlp, (784,), 256),
                                      ("MLP 784-100-10, batch 64", None, (784,), 64),
                                      ("CNN 2x(conv3x3-BN-ReLU-pool), batch 128", cnn, (1, 28, 28), 128)):
        if build is None:
            model = nn.Sequential(nn.Linear(784, 100, rng=0), nn.ReLU(), nn.Linear(100, 10, rng=1))
            tmodel = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
        else:
            model = build()
            tmodel = torch_models(torch)["cnn" if "CNN" in name else "mlp"]()
        model.to("cuda")
        tmodel.to(dev)
        X = rng.standard_normal((batch,) + shape).astype(np.float32)
        y = rng.integers(0, 10, batch)
        Xg, yg = backend.to_device(X, "cuda"), backend.to_device(y, "cuda")
        loss, opt = nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3)

        def ours():
            model.zero_grad()
            loss.forward(model.forward(Xg), yg)
            model.backward(loss.backward())
            opt.step()

        tX, ty = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tloss = torch.nn.CrossEntropyLoss()

        def theirs():
            topt.zero_grad()
            tloss(tmodel(tX), ty).backward()
            topt.step()

        a = throughput(ours, cupy.cuda.Device().synchronize, batch)
        b = throughput(theirs, torch.cuda.synchronize, batch)
        print(f"{name:<34} {a:>19,.0f} {b:>18,.0f} {a / b:>6.2f}x", flush=True)
        if "--profile" in sys.argv:
            sync = cupy.cuda.Device().synchronize
            parts = {"forward+loss": 0.0, "backward": 0.0, "optimizer": 0.0}
            for _ in range(50):
                model.zero_grad()
                sync()
                t0 = time.perf_counter()
                loss.forward(model.forward(Xg), yg)
                sync()
                t1 = time.perf_counter()
                model.backward(loss.backward())
                sync()
                t2 = time.perf_counter()
                opt.step()
                sync()
                t3 = time.perf_counter()
                parts["forward+loss"] += t1 - t0
                parts["backward"] += t2 - t1
                parts["optimizer"] += t3 - t2
            print("    glassnet ms/step: " + ", ".join(f"{k} {1e3 * v / 50:.2f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
