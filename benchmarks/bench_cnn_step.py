"""A small CNN's training step on the CPU against PyTorch's, in one process (alternating settled
blocks, see _common.round_robin_samples): conv3x3(1->32)-BN-ReLU-maxpool -> conv3x3(32->64)-BN-
ReLU-maxpool -> Linear(3136, 128)-ReLU -> Linear(128, 10), batch 128 of 28x28 images, Adam,
softmax cross-entropy, float32. glassnet runs twice: with the default convolution algorithm
("auto": the 32->64 layer by Winograd's F(4x4, 3x3) when Numba is installed) and with
``kernels.conv.ALGORITHM = "im2col"``.

    python benchmarks/bench_cnn_step.py [--rounds 7]
"""
import statistics

import _common
import numpy as np

import glassnet as gn
from glassnet.kernels import conv
from bench_gpu import cnn, torch_models

ROUNDS = _common.int_flag("--rounds", 7)


def main():
    import torch
    _common.set_torch_threads(torch)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    model, loss = cnn(), gn.nn.SoftmaxCrossEntropy()
    opt = gn.optim.Adam(model, lr=1e-3)

    def ours():
        model.zero_grad()
        loss.forward(model.forward(X), y)
        model.backward(loss.backward(), need_input_grad=False)  # as the Trainer does
        opt.step()

    def ours_im2col():
        before, conv.ALGORITHM = conv.ALGORITHM, "im2col"
        try:
            ours()
        finally:
            conv.ALGORITHM = before

    net = torch_models(torch)["cnn"]()
    topt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)

    def theirs():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(net(tX), ty).backward()
        topt.step()

    print(f"CNN training step, batch 128, float32, Adam, {_common.THREADS} threads, {ROUNDS} rounds; "
          f"torch {torch.__version__}; BLAS: {_common.blas_info()}; compiled kernels: {gn.backend.jit_enabled()}")
    a, b, t = _common.round_robin_samples([ours, ours_im2col, theirs], rounds=ROUNDS)
    print(f"glassnet (auto)   {1e3 * statistics.median(a):7.1f} ms/step  {_common.paired_ratio(a, t):.2f}x PyTorch's time")
    print(f"glassnet (im2col) {1e3 * statistics.median(b):7.1f} ms/step  {_common.paired_ratio(b, t):.2f}x PyTorch's time")
    print(f"PyTorch           {1e3 * statistics.median(t):7.1f} ms/step")


if __name__ == "__main__":
    main()
