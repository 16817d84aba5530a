"""Shared benchmark helpers: fix thread counts before NumPy/torch start, time best-of-n."""
import os
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))


def set_torch_threads(torch):
    torch.set_num_threads(THREADS)


def median_time(fn, calls=1, repeat=7, warmup=2, sync=None):
    """Median over ``repeat`` rounds of the seconds per call of ``fn`` (``calls`` calls per round),
    after ``warmup`` calls; ``sync`` (e.g. a GPU synchronize) runs before every clock read."""
    import statistics

    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        rounds.append((time.perf_counter() - t0) / calls)
    return statistics.median(rounds)


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)" for i in threadpool_info())
    except Exception:
        return "threadpoolctl not installed"
