"""Load Fashion-MNIST (60k + 10k images) from its IDX .gz files; target: under one second.

    python benchmarks/bench_load_fashion.py      # needs Debian's dataset-fashion-mnist or GLASSNET_DATA
"""
import sys
import time

import _common  # noqa: F401


def main():
    import glassnet as gn
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        train, test = gn.data.load_fashion_mnist(download=False)
        times.append(time.perf_counter() - t0)
    print(f"Fashion-MNIST from IDX: train {train.X.shape}, test {test.X.shape}; best of 3: {min(times):.3f} s "
          f"(target < 1 s) -> {'OK' if min(times) < 1 else 'SLOW'}")
    try:
        import torch  # noqa: F401
        import gzip
        import numpy as np
        t0 = time.perf_counter()
        for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
            np.frombuffer(gzip.open(f"/usr/share/datasets/fashion-mnist/{f}").read(), np.uint8, offset=16)
        print(f"reference: bare gzip + frombuffer of the image files {time.perf_counter() - t0:.3f} s")
    except (ImportError, OSError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
