"""MLP training throughput on the CPU (issue 10, case 1): glassnet against PyTorch eager with
its default Adam and with ``fused=True``, same network, data, thread count and process; plus
the GEMM-bound limit: the time of the step's matrix products alone (same BLAS, same shapes)
divided by glassnet's full step time. All are timed in alternating blocks (7 rounds by default;
in each, every one runs 0.3 s untimed, then 0.4 s timed), so drift of the shared machine
affects all of them alike and no library's spinning thread pool slows the next one.

    python benchmarks/bench_throughput.py               # with the compiled kernels when Numba is installed
    python benchmarks/bench_throughput.py --no-jit      # NumPy only
    python benchmarks/bench_throughput.py --rounds 9

Throughputs are medians over rounds; the ratios and the GEMM share are medians of each round's
ratio (glassnet's block and the other's run seconds apart, so a slow spell of the machine hits
both). With Numba installed, two more columns, timed in the same rounds: the same glassnet
step with the compiled kernels off (its ratio against PyTorch's default), and the step written
by hand with no framework (``hand_written``: NumPy products into preallocated buffers and
glassnet's compiled kernels called directly, no checks), as its time over glassnet's (the
share of the hand-written step's throughput that glassnet reaches: what the framework costs
above the same arithmetic).
"""
import statistics
import sys

import _common
import numpy as np

import glassnet as gn

CASES = [((784, 512, 256, 10), 256), ((784, 100, 10), 64)]
ROUNDS = _common.int_flag("--rounds", 7)


def gemm_only(sizes, batch, rng):
    """The matrix products of one training step: forward x W, backward dW = x^T d and dx = d W^T
    (no input gradient for the first layer, as the Trainer skips it)."""
    xs = [rng.standard_normal((batch, a)).astype(np.float32) for a in sizes[:-1]]
    ws = [rng.standard_normal((a, b)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    ds = [rng.standard_normal((batch, b)).astype(np.float32) for b in sizes[1:]]

    def step():
        for x, w in zip(xs, ws):
            x @ w
        for k, (x, w, d) in enumerate(zip(xs, ws, ds)):
            x.T @ d
            if k > 0:
                d @ w.T
    return step


def hand_written(model, X, y):
    """The model's training step by hand: flat parameter, gradient and moment buffers (the
    model's initial weights copied in), forward and backward products straight into them, the
    compiled softmax cross-entropy, ReLU backward and Adam kernels called directly, no checks,
    no modules. The floor a framework on NumPy and OpenBLAS could reach with these kernels."""
    from glassnet.kernels import activations as _activations
    from glassnet.kernels import losses as _losses
    from glassnet.kernels.optim import _numba_adam
    linears = [m for m in model if isinstance(m, gn.nn.Linear)]
    n = sum(m.W.data.size + m.b.data.size for m in linears)
    P, G, M, V = (np.zeros(n, np.float32) for _ in range(4))
    Ws, bs, dWs, dbs, o = [], [], [], [], 0
    for m in linears:
        for data, views, grads in ((m.W.data, Ws, dWs), (m.b.data, bs, dbs)):
            P[o:o + data.size] = data.reshape(-1)
            views.append(P[o:o + data.size].reshape(data.shape))
            grads.append(G[o:o + data.size].reshape(data.shape))
            o += data.size
    L, t = len(Ws), [0]

    def step():
        hs = [X]
        for k in range(L):
            h = hs[-1] @ Ws[k]
            h += bs[k]
            if k < L - 1:
                np.maximum(h, 0, out=h)
            hs.append(h)
        d = _losses._forward(hs[-1], y)[1].grad
        for k in reversed(range(L)):
            np.matmul(hs[k].T, d, out=dWs[k])
            d.sum(axis=0, out=dbs[k])
            if k > 0:
                d = _activations._relu_backward_numba(d @ Ws[k].T, hs[k])
        t[0] += 1
        _numba_adam(P, G, M, V, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, bc1=1 - 0.9 ** t[0], bc2=1 - 0.999 ** t[0])
    return step


def main():
    import torch
    _common.set_torch_threads(torch)
    rng = np.random.default_rng(0)
    gn.backend.set_jit("--no-jit" not in sys.argv)
    jit = gn.backend.jit_enabled()
    print(f"float32, Adam lr 1e-3, softmax cross-entropy; {_common.THREADS} threads; torch {torch.__version__}; "
          f"BLAS: {_common.blas_info()}; compiled kernels: {jit}; {ROUNDS} rounds")
    print(f"{'network / batch':<26} {'glassnet /s':>12} {'torch /s':>10} {'fused /s':>10} {'vs torch':>9} "
          f"{'vs fused':>9} {'GEMM share':>10}" + (f" {'NumPy-only vs torch':>20} {'vs by hand':>10}" if jit else ""))
    for sizes, batch in CASES:
        X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], batch)
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(gn.nn.Linear(a, b, rng=i))
            if i < len(sizes) - 2:
                layers.append(gn.nn.ReLU())
        model = gn.nn.Sequential(*layers)
        loss, opt = gn.nn.SoftmaxCrossEntropy(), gn.optim.Adam(model, lr=1e-3)

        def ours():
            model.zero_grad()
            loss.forward(model.forward(X), y)
            model.backward(loss.backward(), need_input_grad=False)  # as the Trainer does
            opt.step()

        def torch_step(fused):
            T = torch.nn
            mods = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                mods.append(T.Linear(a, b))
                if i < len(sizes) - 2:
                    mods.append(T.ReLU())
            net = T.Sequential(*mods)
            o = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused)
            tx, ty = torch.from_numpy(X), torch.from_numpy(y)

            def step():
                o.zero_grad()
                T.functional.cross_entropy(net(tx), ty).backward()
                o.step()
            return step

        fns = [ours, torch_step(False), torch_step(True), gemm_only(sizes, batch, rng)]
        if jit:  # the same step with the compiled kernels off, and by hand, timed in the same rounds
            fns += [lambda: (gn.backend.set_jit(False), ours(), gn.backend.set_jit(True)), hand_written(model, X, y)]
        s_ours, s_torch, s_fused, s_gemm, *s_extra = _common.round_robin_samples(fns, rounds=ROUNDS)
        t_ours, t_torch, t_fused = (statistics.median(s) for s in (s_ours, s_torch, s_fused))
        # ratios: medians over rounds of each round's ratio (blocks seconds apart: the machine's drift cancels)
        r_torch, r_fused, share = (_common.paired_ratio(s, s_ours) for s in (s_torch, s_fused, s_gemm))
        name = "-".join(map(str, sizes)) + f" / {batch}"
        extra = (f" {_common.paired_ratio(s_torch, s_extra[0]):>19.2f}x {_common.paired_ratio(s_extra[1], s_ours):>9.2f}x"
                 if jit else "")
        print(f"{name:<26} {batch / t_ours:>12,.0f} {batch / t_torch:>10,.0f} {batch / t_fused:>10,.0f} "
              f"{r_torch:>8.2f}x {r_fused:>8.2f}x {share:>9.0%}{extra}", flush=True)


if __name__ == "__main__":
    main()
