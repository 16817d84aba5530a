"""Small helpers for the CuPy kernels."""
from __future__ import annotations


def is_cupy(a) -> bool:
    """True for a CuPy array (without importing CuPy when it is not loaded)."""
    return type(a).__module__.startswith("cupy")
