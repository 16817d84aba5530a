"""Numba for the kernels: whether it is there, whether arrays suit the compiled loops, compiling
(``compiled``) and launching parallel kernels safely (``launch``).

Each kernel's plain-Python source lives beside its operation (``activations.py``,
``batchnorm.py``, ``pooling.py`` ...) and runs only compiled. Compilation happens on first use
(about half a second per kernel) and is cached on disk by Numba. Numba is optional
(``pip install glassnet[jit]``); without it, or with kernels switched off (``GLASSNET_JIT=0``,
``glassnet.backend.set_jit(False)``), ``usable`` is False and the kernels do not apply.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import kernels as _registry  # the package: its switch, read at every call

_numba_found = None  # unknown until first asked
_kernels: dict = {}  # (function, reassociate, parallel) -> compiled kernel


def available() -> bool:
    """True when Numba can be imported."""
    global _numba_found
    if _numba_found is None:
        try:
            import numba  # noqa: F401
            _numba_found = True
        except Exception:  # ImportError, or a Numba/NumPy version mismatch
            _numba_found = False
    return _numba_found


def enabled() -> bool:
    """Numba is there and kernels are not switched off (``glassnet.kernels.set_enabled``)."""
    return _registry._enabled and available()


def usable(*arrays) -> bool:
    """The kernels apply: enabled, and every array a C-contiguous NumPy float32/float64 array of
    one dtype."""
    if not (_registry._enabled and (_numba_found or (_numba_found is None and available()))):
        return False  # enabled(), spelled out: this runs several times per training step
    dtype = arrays[0].dtype
    if dtype not in _FLOATS:
        return False
    for a in arrays:  # a plain loop: this runs several times per training step
        if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def compiled(fn, reassociate=False, parallel=False):
    """``fn`` compiled by Numba on first use (cached here and on disk), with the options every
    kernel needs: ``error_model="numpy"`` (no per-element division check, which would stop the
    loops from vectorizing), no bounds checks, no fast-math (so results stay bit-identical).
    ``reassociate``: let the compiler reorder the additions of a sum (fast-math's "reassoc"
    only), so that a reduction runs on vector registers; for kernels that are not bit-identical
    anyway. ``parallel``: the kernel's ``prange`` loops (its module binds ``prange = range``)
    run on Numba's threads; call such a kernel through ``launch``. A kernel is always compiled
    with the same flags (Numba's disk cache does not tell them apart)."""
    key = (fn, reassociate, parallel)  # the function itself: two kernels of one name never collide
    kernel = _kernels.get(key)
    if kernel is None:
        import numba
        math_flags = {"fastmath": {"reassoc"}} if reassociate else {}
        if parallel:
            fn.__globals__["prange"] = numba.prange
        kernel = _kernels[key] = numba.njit(cache=True, error_model="numpy", boundscheck=False,
                                            parallel=parallel, **math_flags)(fn)
    return kernel


_launch_lock = threading.Lock()
_threadsafe_layer = False  # known once a parallel kernel has run


def launch(kernel, *args):
    """Run a kernel compiled with ``parallel=True``. Numba's "workqueue" threading layer (used
    when neither TBB nor OpenMP is found) aborts the process when two threads launch parallel
    kernels at once, so until a launch shows a thread-safe layer ("tbb" or "omp"), launches
    take turns."""
    global _threadsafe_layer
    if _threadsafe_layer:
        return kernel(*args)
    with _launch_lock:
        result = kernel(*args)
        import numba
        _threadsafe_layer = numba.threading_layer() in ("tbb", "omp")
    return result
