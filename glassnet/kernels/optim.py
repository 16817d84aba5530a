"""Adam's update in one pass over each parameter (the reference, ``optim.optimizers.adam_update``,
makes about twelve passes with temporaries): a compiled Numba loop on the CPU, one fused
elementwise kernel on CuPy. Both fold the bias corrections into two scalars,
``w += m / (sqrt(v) + eps * sqrt(bc2)) * (-lr * sqrt(bc2) / bc1)``, the same quantity."""
from __future__ import annotations

import math

import numpy as np

from ..backend import device_of
from . import Kernel, _numba, register


def _adam_kernel(p, g, m, v, coef):  # pragma: no cover - compiled
    b1, c1, b2, c2, eps, scale = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    for k in range(p.shape[0]):
        gk = g[k]
        mk = b1 * m[k] + gk * c1
        vk = b2 * v[k] + gk * gk * c2
        m[k] = mk
        v[k] = vk
        p[k] += mk / (math.sqrt(vk) + eps) * scale


def _folded(lr, eps, bc1, bc2):
    root = math.sqrt(bc2)
    return eps * root, -lr * root / bc1


def _numba_adam(w, g, m, v, *, lr, b1, b2, eps, bc1, bc2):
    eps2, scale = _folded(lr, eps, bc1, bc2)
    # the scalars in the arrays' precision, as NumPy casts Python floats
    coef = np.array((b1, 1 - b1, b2, 1 - b2, eps2, scale), dtype=w.dtype)
    _numba.compiled(_adam_kernel)(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), coef)


def _cupy_adam(w, g, m, v, *, lr, b1, b2, eps, bc1, bc2):
    import cupy  # type: ignore

    eps2, scale = _folded(lr, eps, bc1, bc2)
    kernel = _CUPY.get("adam")
    if kernel is None:
        kernel = _CUPY["adam"] = cupy.ElementwiseKernel(
            "T g, float64 b1, float64 b2, float64 eps, float64 scale", "T m, T v, T w",
            """
            m = (T)(b1 * m + (1.0 - b1) * g);
            v = (T)(b2 * v + (1.0 - b2) * (double)g * g);
            w = w + (T)(m / (sqrt((double)v) + eps) * scale);
            """, "glassnet_adam")
    kernel(g, float(b1), float(b2), float(eps2), float(scale), m, v, w)


_CUPY: dict = {}

register(Kernel("adam_update", "numba", lambda w, g, m, v, **kw: _numba.usable(w, g, m, v), _numba_adam,
                tolerance={"float32": (1e-5, 1e-7), "float64": (1e-12, 1e-15)}))
register(Kernel("adam_update", "cupy", lambda w, g, m, v, **kw: device_of(w) == "cuda", _cupy_adam,
                tolerance={"float32": (1e-5, 1e-7), "float64": (1e-12, 1e-15)}))
