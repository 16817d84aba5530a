"""Accelerated implementations of the reference operations, and the one place that picks them.

``glassnet.functional`` holds one readable implementation of every operation (the reference).
This package holds everything that makes some of them faster: compiled Numba loops, fused CuPy
kernels, Winograd's convolution, chunked im2col with reused buffers, the 2x2 pooling passes,
the one-pass batch norm, softmax cross-entropy and Adam updates. Each acceleration is a
``Kernel`` registered for an operation with the test of when it ``applies`` and its tolerance
against the reference; layers and optimizers call one dispatch point per operation:

    out, cache = kernels.forward("relu", x)      # the first kernel that applies, else the reference
    dx = kernels.backward("relu", dout, cache)   # the same implementation's backward
    kernels.run("adam_update", w, g, m, v, ...)  # operations without a backward

The cache records which implementation ran, so each keeps its own cache type. With kernels
off (``GLASSNET_JIT=0`` in the environment, or ``glassnet.backend.set_jit(False)``) every
operation runs its reference. ``tests/test_kernels.py`` walks this registry and compares every
kernel with its reference, forward and backward, in float32 and float64.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

__all__ = ["Kernel", "Reference", "reference", "register", "forward", "backward", "run", "ops",
           "implementations", "enabled", "set_enabled"]

_enabled = os.environ.get("GLASSNET_JIT", "1").strip().lower() not in ("0", "false", "no", "off")


def enabled() -> bool:
    """True when kernels may be used (they are on unless switched off)."""
    return _enabled


def set_enabled(flag: bool) -> None:
    """Switch every kernel on or off for this process (off: the reference everywhere)."""
    global _enabled
    _enabled = bool(flag)


@dataclass(frozen=True)
class Reference:
    """An operation's reference implementation (in ``glassnet.functional`` or beside its user)."""
    op: str
    forward: Callable
    backward: Callable | None = None
    name: str = "reference"


@dataclass(frozen=True)
class Kernel:
    """An accelerated implementation of ``op``: ``applies(*args, **kw)`` says whether it can run
    on these arguments (the reference's own); ``forward``/``backward`` have the reference's
    signatures and results (its own cache type); ``tolerance`` maps a dtype name to the
    (rtol, atol) within which it agrees with the reference. ``uses_workspace``: its forward also
    takes ``workspace=``, the caller's reusable buffers (``workspace.Workspace``)."""
    op: str
    name: str
    applies: Callable[..., bool]
    forward: Callable
    backward: Callable | None = None
    tolerance: dict = field(default_factory=lambda: {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-13)})
    uses_workspace: bool = False


class Cache(NamedTuple):
    """What ``forward`` returns as the cache: the implementation that ran and its own cache."""
    impl: object
    value: object


_REFERENCES: dict[str, Reference] = {}
_KERNELS: dict[str, list[Kernel]] = {}
_loaded = False


def reference(op: str, forward: Callable, backward: Callable | None = None) -> None:
    """Register the reference implementation of ``op``."""
    _REFERENCES[op] = Reference(op, forward, backward)


def register(kernel: Kernel) -> Kernel:
    """Add a kernel to its operation's list (tried in registration order)."""
    _KERNELS.setdefault(kernel.op, []).append(kernel)
    return kernel


def _load():
    """Import the kernel modules once (they register themselves; some need the references)."""
    global _loaded
    if not _loaded:
        _loaded = True
        from .. import functional  # noqa: F401  (the references)
        from . import activations, batchnorm, conv, losses, optim, pooling, recurrent  # noqa: F401


def _pick(op, args, kw):
    if _enabled:
        if not _loaded:
            _load()
        for k in _KERNELS.get(op, ()):
            if k.applies(*args, **kw):
                return k
    return _REFERENCES[op]


def forward(op: str, *args, workspace=None, **kw):
    """``(out, cache)`` of the first kernel of ``op`` that applies, else of the reference.
    ``workspace``: buffers the caller keeps between calls, handed to kernels that use one."""
    impl = _pick(op, args, kw)
    if workspace is not None and getattr(impl, "uses_workspace", False):
        kw = {**kw, "workspace": workspace}
    out, cache = impl.forward(*args, **kw)
    return out, Cache(impl, cache)


def backward(op: str, dout, cache: Cache, **kw):
    """The backward of the implementation that made ``cache``."""
    return cache.impl.backward(dout, cache.value, **kw)


def run(op: str, *args, **kw):
    """Run an operation without a backward (an in-place update, a statistic)."""
    return _pick(op, args, kw).forward(*args, **kw)


def ops() -> list[str]:
    """Every operation with a reference, sorted."""
    _load()
    return sorted(_REFERENCES)


def implementations(op: str) -> list[Kernel]:
    """The kernels registered for ``op``, in the order they are tried."""
    _load()
    return list(_KERNELS.get(op, ()))
