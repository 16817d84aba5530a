"""Executors: anything with ``submit(fn, *args) -> concurrent.futures.Future``.

- ``SerialExecutor``: runs each trial at once, in this process.
- ``ProcessExecutor``: local worker processes (spawned, so nothing of the driver's state is
  shared), BLAS limited to each worker's share of the cores (otherwise 2 workers on 2 cores ran
  2x slower), and a watchdog thread in each worker that exits when the driver dies.
- ``RayExecutor``: Ray core tasks (``ray.remote``), through ``ObjectRef.future()``; local or a
  cluster (``address="HOST:PORT"`` or ``"auto"``). Workers only train and return results; the
  driver writes every record, so one SQLite file stays correct on a cluster too.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time

from ..errors import ConfigError

__all__ = ["SerialExecutor", "ProcessExecutor", "RayExecutor", "make_executor"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
# Numba's thread count is set in the workers only: Numba re-reads its environment at every
# compilation and raises once its threads have started with another count, so the driver's
# own environment must not change under it.
_WORKER_ONLY_VARS = ("NUMBA_NUM_THREADS",)


class SerialExecutor(cf.Executor):
    """Runs ``fn`` immediately; the returned Future is already done."""

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: B902 (recorded in the future, as a pool would)
            fut.set_exception(err)
        return fut


def _watch_parent(parent_pid, interval=1.0):
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:  # re-parented: the driver is gone
            os._exit(3)


def _worker_init(parent_pid, threads):
    for var in _THREAD_VARS + _WORKER_ONLY_VARS:  # (Numba is imported later, when a kernel first runs)
        os.environ[var] = str(threads)
    try:  # BLAS may already be loaded (numpy is imported when unpickling the task): limit it live
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


class ProcessExecutor(cf.ProcessPoolExecutor):
    """``jobs`` spawned worker processes, each with ``max(1, cores // jobs)`` BLAS threads."""

    def __init__(self, jobs=2, threads=None):
        jobs = int(jobs)
        if jobs < 1:
            raise ConfigError(f"ProcessExecutor: jobs must be >= 1, got {jobs}")
        threads = threads or max(1, (os.cpu_count() or 1) // jobs)
        self._saved = {v: os.environ.get(v) for v in _THREAD_VARS}
        for v in _THREAD_VARS:  # inherited by the spawned workers before they import NumPy
            os.environ[v] = str(threads)
        super().__init__(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                         initializer=_worker_init, initargs=(os.getpid(), threads))

    def shutdown(self, wait=True, *, cancel_futures=False):
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        for v, old in self._saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


class RayExecutor(cf.Executor):
    """Ray core tasks. ``address=None`` starts a local Ray for the search; ``"auto"`` or
    ``"HOST:PORT"`` joins a running cluster (see docs/tune.md for authentication)."""

    def __init__(self, address=None, num_cpus_per_trial=1, **init_kwargs):
        try:
            import ray
        except ImportError:
            raise ImportError("the Ray executor needs Ray core: pip install 'glassnet[ray]' (ray, not ray[tune])") \
                from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            init_kwargs.setdefault("include_dashboard", False)
            init_kwargs.setdefault("log_to_driver", False)
            ray.init(address=address, **init_kwargs)
            self._started = True
        self._cpus = num_cpus_per_trial
        self._remote = {}

    def submit(self, fn, /, *args, **kwargs):
        rf = self._remote.get(fn)
        if rf is None:
            rf = self._remote[fn] = self._ray.remote(num_cpus=self._cpus)(fn)
        return rf.remote(*args, **kwargs).future()

    def shutdown(self, wait=True, *, cancel_futures=False):
        if self._started:
            self._ray.shutdown()


def make_executor(kind="process", jobs=1, address=None):
    """``"serial"``, ``"process"`` (``jobs`` workers; serial when jobs is 1) or ``"ray"``."""
    if kind == "serial" or (kind == "process" and int(jobs) <= 1):
        return SerialExecutor()
    if kind == "process":
        return ProcessExecutor(jobs)
    if kind == "ray":
        return RayExecutor(address)
    raise ConfigError(f"executor must be 'serial', 'process' or 'ray', got {kind!r}")
