"""ReLU, faster: the reference is ``functional.relu_forward``/``relu_backward``.

- "numba" (contiguous NumPy float32/float64): the forward takes ``np.maximum`` against a shared
  read-only array of zeros (NumPy runs its vectorized loop only when both operands are
  arrays); the backward is one compiled pass
  ``dout * (x > 0)`` instead of a comparison, a boolean array and a mixed-type product.
- "numpy" (NumPy arrays without Numba): the same forward, the reference backward.
- "cupy": the reference forward, the backward as one fused elementwise kernel.

Softmax over short rows ("narrow": NumPy (N, C) with C <= 64) reduces the columns laid out as
rows instead of each short row separately (see ``narrow_rows``).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..backend import device_of
from . import Kernel, _numba, register

_ZEROS_MAX = 1 << 20  # elements: at most 4 MiB (float32) / 8 MiB (float64) of shared zeros per dtype
_zeros: dict = {}


def _zeros_like(x):
    """A read-only array of zeros shaped like ``x``, or None when ``x`` is large (then 0 is broadcast)."""
    n = x.size
    if n > _ZEROS_MAX:
        return None
    z = _zeros.get(x.dtype)
    if z is None or z.size < n:
        z = np.zeros(max(n, 4096), dtype=x.dtype)
        z.setflags(write=False)
        _zeros[x.dtype] = z
    return z[:n].reshape(x.shape)


def _forward_shared_zeros(x):
    zeros = _zeros_like(x)
    return np.maximum(x, 0 if zeros is None else zeros), x


def _relu_backward(d, x, out, one, zero):  # pragma: no cover - compiled
    for k in range(d.shape[0]):
        out[k] = d[k] * (one if x[k] > 0 else zero)


def _relu_backward_numba(dout, x):
    """``dout * (x > 0)`` in one pass (the product kept, so NaN/inf in ``dout`` spread as in NumPy)."""
    out = np.empty_like(dout)
    f = dout.dtype.type
    _numba.compiled(_relu_backward)(dout.reshape(-1), x.reshape(-1), out.reshape(-1), f(1), f(0))
    return out


def _numba_backward(dout, x):
    if dout.shape == x.shape and _numba.usable(dout, x):
        return _relu_backward_numba(dout, x)
    return F.relu_backward(dout, x)  # a strided upstream gradient: the reference


def _cupy_backward(dout, x):
    kernel = _CUPY.get("relu_bwd")
    if kernel is None:
        import cupy  # type: ignore
        kernel = _CUPY["relu_bwd"] = cupy.ElementwiseKernel("T d, T x", "T y", "y = x > (T)0 ? d : (T)0",
                                                            "glassnet_relu_backward")
    return kernel(dout, x)


_CUPY: dict = {}
_EXACT = {"float32": (0.0, 0.0), "float64": (0.0, 0.0)}  # the same operations: identical values

register(Kernel("relu", "numba", lambda x: _numba.usable(x), _forward_shared_zeros, _numba_backward, _EXACT))
register(Kernel("relu", "numpy", lambda x: type(x) is np.ndarray, _forward_shared_zeros, F.relu_backward, _EXACT))
register(Kernel("relu", "cupy", lambda x: device_of(x) == "cuda", F.relu_forward, _cupy_backward, _EXACT))


# -- softmax over short rows ------------------------------------------------------------------------------
# NumPy reduces each short row of an (N, C) array separately, far slower than one vectorized
# reduction over the columns laid out as rows (the maximum) or a matrix-vector
# product (the sum). The same values: max is exact; the sum adds in another order.
def narrow_rows(x, axis=-1) -> bool:
    """A NumPy (N, C) array reduced over short rows (C <= 64)."""
    return type(x) is np.ndarray and x.ndim == 2 and axis in (1, -1) and 0 < x.shape[1] <= 64


def row_max(x):
    return np.ascontiguousarray(x.T).max(axis=0)[:, None]


def row_sum(x):
    return (x @ np.ones(x.shape[1], dtype=x.dtype))[:, None]


def _softmax_narrow(x, axis=-1):
    e = np.exp(x - row_max(x))
    out = e / row_sum(e)
    return out, (out, axis)


register(Kernel("softmax", "narrow", narrow_rows, _softmax_narrow, F.softmax_backward,
                {"float32": (1e-6, 1e-7), "float64": (1e-14, 1e-16)}))
