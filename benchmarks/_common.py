"""Shared benchmark helpers: fix thread counts before NumPy/torch start, time best-of-n."""
import os
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))
# what ``import glassnet`` sets when it comes before NumPy (the scripts import NumPy first)
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")


def int_flag(name, default):
    """The integer after ``name`` on the command line (e.g. ``--rounds 9``), else ``default``."""
    import sys

    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


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


def round_robin_times(fns, rounds=5, settle=0.3, measure=0.4):
    """Medians (seconds per call) of several functions timed in alternating blocks: each round runs
    every function in turn, first for ``settle`` seconds untimed (the previous library's thread
    pool, which keeps spinning for up to ~0.2 s after its last call, goes idle; caches warm up),
    then for ``measure`` seconds timed. On a shared machine whose speed drifts by tens of percent
    within a minute, every function then sees the same conditions, so the ratios hold."""
    import statistics

    return [statistics.median(ts) for ts in round_robin_samples(fns, rounds, settle, measure)]


def paired_ratio(a, b):
    """Median over rounds of a[i] / b[i] for two ``round_robin_samples`` series: each ratio compares
    blocks timed seconds apart, so a slow or fast spell of the machine cancels out."""
    import statistics

    return statistics.median(x / y for x, y in zip(a, b))


def round_robin_samples(fns, rounds=5, settle=0.3, measure=0.4):
    """As ``round_robin_times``, but every round's time per call: one list per function."""
    def run_for(fn, seconds):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            t = time.perf_counter() - t0
            if t >= seconds:
                return t / n

    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times):
            run_for(fn, settle)
            ts.append(run_for(fn, measure))
    return times


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
