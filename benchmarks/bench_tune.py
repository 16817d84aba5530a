"""A 20-trial random search on MNIST-1D (learning rate, L2, width of a 2-hidden-layer MLP)
against the default configuration's validation accuracy, and an ensemble of the top 5.

    python benchmarks/bench_tune.py          # writes searches/bench-mnist1d (removed first)
"""
import os
import shutil
import subprocess
import sys
import time

import _common  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = os.path.join(HERE, "configs", "mnist1d_search.toml")


def main():
    from glassnet.train.run import load_config, run

    out = os.path.join("searches", "bench-mnist1d")
    shutil.rmtree(out, ignore_errors=True)
    cfg = load_config(CFG)
    cfg.pop("search")
    t0 = time.perf_counter()
    base = run(cfg, os.path.join(out, "default"), verbose=0)
    print(f"default configuration (lr 1e-3, L2 1e-4, width 100): validation accuracy "
          f"{base['val']['accuracy']:.4f}, test {base['test']['accuracy']:.4f} ({time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "glassnet", "tune", CFG, "--out", os.path.join(out, "search")],
                       capture_output=True, text=True)
    print(f"search ({time.perf_counter() - t0:.0f} s, 2 local worker processes):")
    print("\n".join(line for line in r.stdout.splitlines() if not line.startswith("trial ")))
    if r.returncode:
        print(r.stderr)
        return 1
    r = subprocess.run([sys.executable, "-m", "glassnet", "ensemble", os.path.join(out, "search"), "--top", "5"],
                       capture_output=True, text=True)
    print(r.stdout or r.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
