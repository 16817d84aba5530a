"""Fused element-wise update kernels for CuPy (a GPU runs one kernel instead of a dozen).

Each kernel computes exactly what the NumPy code of its optimizer computes; the GPU tests
compare the two. Compiled on first use and cached by CuPy.
"""
from __future__ import annotations

_kernels = {}


def _adam_kernel():
    if "adam" not in _kernels:
        import cupy  # type: ignore

        _kernels["adam"] = cupy.ElementwiseKernel(
            "T g, float64 b1, float64 b2, float64 step, float64 rbc2, float64 eps",
            "T m, T v, T p, T delta",
            """
            m = (T)(b1 * m + (1.0 - b1) * g);
            v = (T)(b2 * v + (1.0 - b2) * (double)g * g);
            delta = (T)(-step * m / (sqrt((double)v) / rbc2 + eps));
            p = p + delta;
            """,
            "glassnet_adam")
    return _kernels["adam"]


def adam_step(p, g, m, v, b1, b2, step_size, root_bc2, eps):
    """Update the moments ``m``, ``v`` and the weights ``p`` in place; return the step taken."""
    import cupy  # type: ignore

    delta = cupy.empty_like(g)
    _adam_kernel()(g, float(b1), float(b2), float(step_size), float(root_bc2), float(eps), m, v, p, delta)
    return delta
