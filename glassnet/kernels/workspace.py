"""Reusable scratch arrays for the hot paths (im2col columns and their gradients).

Why: glibc hands allocations above 32 MB straight to the OS and takes them back on free, so a
fresh 75 MB column matrix costs ~18,000 page faults every time it is written. A ``Workspace`` keeps such arrays between calls. Contents are only valid
until the next request for the same key; arrays handed to callers are never taken from one.

- ``Workspace``: owned by a layer (its columns must survive from forward to backward).
- ``scratch()``: one per thread, for temporaries that never leave a call (column gradients).

On CuPy arrays both simply allocate (CuPy's memory pool already reuses device memory).
``Module.clear_cache()`` releases both.
"""
from __future__ import annotations

import threading

import numpy as np


class Workspace:
    """Named flat buffers that grow to the largest request and are reused after that."""

    def __init__(self):
        self._flat = {}

    def get(self, key, shape, dtype, xp=np):
        """An uninitialized array of ``shape``/``dtype`` backed by the buffer ``key``."""
        if xp is not np:
            return xp.empty(shape, dtype=dtype)
        dtype = np.dtype(dtype)
        size = 1
        for s in shape:
            size *= int(s)
        buf = self._flat.get(key)
        if buf is None or buf.dtype != dtype or buf.size < size:
            buf = self._flat[key] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def clear(self):
        """Drop every buffer (frees the memory)."""
        self._flat.clear()

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self._flat.values())

    # copies of a layer (deepcopy, pickle) start with an empty workspace, not with megabytes of scratch
    def __deepcopy__(self, memo):
        return Workspace()

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self._flat = {}

    def __repr__(self):
        return f"Workspace({len(self._flat)} buffers, {self.nbytes / 2**20:.1f} MiB)"


_local = threading.local()


def scratch() -> Workspace:
    """This thread's workspace for temporaries that do not outlive one call."""
    ws = getattr(_local, "ws", None)
    if ws is None:
        ws = _local.ws = Workspace()
    return ws


def release_scratch():
    """Free this thread's scratch buffers."""
    ws = getattr(_local, "ws", None)
    if ws is not None:
        ws.clear()


__all__ = ["Workspace", "scratch", "release_scratch"]
