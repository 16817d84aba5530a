"""Run every benchmark, one after the other, and write their output (with the environment) to
benchmarks/latest.txt. Takes about 20 minutes on 2 cores (without the GPU and MNIST-1D model
runs, which are listed but only run with --all).

    python benchmarks/run_all.py [--all]
"""
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QUICK = [
    ["bench_throughput.py"],                          # 1. MLP throughput, GEMM share
    ["bench_conv.py"],                                # 2-3. conv, pooling, LSTM/GRU
    ["bench_conv_alone.py"],                          # 2. the 3x3 conv, each library in its own process
    ["bench_cnn_step.py"],                            # a small CNN's training step
    ["bench_layers.py"],
    ["bench_mlp.py", "--n", "60000", "--epochs", "5", "--isolate"],  # 4-5. end to end, memory
    ["bench_doctor.py"],                              # 6. monitor overhead
    ["bench_classic.py"],
    ["bench_load_fashion.py"],
]
SLOW = [["bench_mnist1d_models.py"], ["bench_tune.py"], ["bench_fashion_cnn.py"], ["bench_gpu.py", "--profile"]]


def environment():
    import numpy as np
    lines = [f"date: {time.strftime('%Y-%m-%d %H:%M')}", f"python {platform.python_version()} on {platform.platform()}",
             f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
             f"numpy {np.__version__}"]
    try:
        import torch
        lines.append(f"torch {torch.__version__}")
    except ImportError:
        lines.append("torch: not installed (PyTorch comparisons skip)")
    try:
        from threadpoolctl import threadpool_info
        lines += [f"BLAS: {i['internal_api']} {i.get('version')} ({i['num_threads']} threads)" for i in threadpool_info()]
    except ImportError:
        lines.append("threadpoolctl not installed: BLAS unknown")
    return lines


def main():
    runs = QUICK + (SLOW if "--all" in sys.argv else [])
    out = environment() + [""]
    for cmd in runs:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, os.path.join(HERE, cmd[0]), *cmd[1:]], capture_output=True, text=True,
                           cwd=HERE)
        block = [f"$ python benchmarks/{' '.join(cmd)}   ({time.perf_counter() - t0:.0f} s, exit {r.returncode})",
                 r.stdout.rstrip()]
        if r.returncode:
            block.append(r.stderr.rstrip()[-2000:])
        print("\n".join(block), flush=True)
        out += block + [""]
    with open(os.path.join(HERE, "latest.txt"), "w") as f:
        f.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
