"""Array backend: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every piece of array code in glassnet asks for its array module with
``xp = get_array_module(*arrays)`` and then calls ``xp.<function>``, so the same
code runs on NumPy and CuPy arrays. CuPy is optional (``pip install glassnet[gpu]``);
without it everything is NumPy.
"""
from __future__ import annotations

import numpy as np

from .errors import ConfigError, DeviceMismatchError

try:  # CuPy is an optional extra; a CPU-only install must never fail here.
    import cupy as _cupy  # type: ignore

    _cupy.cuda.runtime.getDeviceCount()
    cupy = _cupy
    _GPU_ARRAY_TYPES: tuple = (_cupy.ndarray,)
except Exception:  # ImportError, or CuPy present but no usable device
    cupy = None
    _GPU_ARRAY_TYPES = ()

__all__ = [
    "DeviceMismatchError",
    "as_numpy",
    "device_of",
    "get_array_module",
    "gpu_available",
    "jit_enabled",
    "set_jit",
    "to_device",
]




def set_jit(enabled: bool) -> None:
    """Turn every accelerated kernel (``glassnet.kernels``: Numba, CuPy, Winograd, ...) on or off
    for this process. They are on by default (``GLASSNET_JIT=0`` starts them off); off runs the
    reference implementation of every operation (``glassnet.functional``), for comparison and
    debugging."""
    from . import kernels
    kernels.set_enabled(enabled)


def jit_enabled() -> bool:
    """True when the compiled CPU kernels will be used: Numba importable and kernels not switched off."""
    from .kernels import _numba
    return _numba.enabled()


def gpu_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return bool(_GPU_ARRAY_TYPES)


def _is_gpu(a) -> bool:
    return bool(_GPU_ARRAY_TYPES) and isinstance(a, _GPU_ARRAY_TYPES)


def device_of(a) -> str:
    """``"cuda"`` for a CuPy array, ``"cpu"`` for anything else."""
    return "cuda" if _is_gpu(a) else "cpu"


def get_array_module(*arrays):
    """Return ``numpy`` or ``cupy`` for the given arrays (``None`` and scalars are ignored).

    Raises DeviceMismatchError naming the offending arguments when NumPy and CuPy
    arrays are mixed.
    """
    if not _GPU_ARRAY_TYPES:
        return np
    on_gpu, on_cpu = [], []
    for i, a in enumerate(arrays):
        if _is_gpu(a):
            on_gpu.append(i)
        elif isinstance(a, np.ndarray):
            on_cpu.append(i)
    if on_gpu and on_cpu:
        raise DeviceMismatchError(
            f"arrays on different devices: argument(s) {on_cpu} are NumPy arrays (cpu) and "
            f"argument(s) {on_gpu} are CuPy arrays (cuda); move them to one device first, "
            f"e.g. glassnet.backend.to_device(x, 'cuda') or model.to('cpu')")
    return cupy if on_gpu else np


def as_numpy(x):
    """Return ``x`` as a NumPy array (copying from the GPU if needed)."""
    if _is_gpu(x):
        return cupy.asnumpy(x)
    return np.asarray(x)


def _normalize_device(device: str) -> str:
    if not isinstance(device, str):
        raise TypeError(f"device must be 'cpu' or 'cuda', got {device!r}")
    name = device.split(":")[0].lower()
    if name not in ("cpu", "cuda", "gpu"):
        raise ConfigError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return "cpu" if name == "cpu" else "cuda"


def to_device(obj, device: str):
    """Move an array, or a Module (in place; returned), to ``"cpu"`` or ``"cuda"``."""
    target = _normalize_device(device)
    if hasattr(obj, "to") and not isinstance(obj, np.ndarray) and not _is_gpu(obj):
        return obj.to(target)  # a Module
    if target == "cpu":
        return as_numpy(obj)
    if cupy is None or not _GPU_ARRAY_TYPES:
        raise RuntimeError(
            "device 'cuda' requested but CuPy with a working GPU is not available; "
            "install the GPU extra (pip install 'glassnet[gpu]', or the cupy-cudaXXx wheel "
            "matching your CUDA) on a machine with an NVIDIA GPU")
    return cupy.asarray(obj)
