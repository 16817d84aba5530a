"""The pieces of data-parallel training: the same start on every rank, a shard of every batch per
rank, and gradients summed across ranks while backward still runs.

- ``broadcast_state(model, comm)``: rank 0's parameters and buffers to every rank.
- ``shard(idx, comm)``: this rank's contiguous part of a global batch (sizes differ by at most 1).
- ``GradientReducer``: the gradients packed into contiguous buckets of about ``bucket_bytes``, in
  reverse parameter order (the order backward produces them); a bucket's non-blocking allreduce
  starts from a backward hook as soon as every gradient in it is final, and ``finish()`` waits for
  all of them and unpacks the sums into ``p.grad`` before the optimizer's step. Buckets start in
  one fixed order on every rank (MPI requires collectives in the same order everywhere).
"""
from __future__ import annotations

import time

import numpy as np

from ..backend import as_numpy

__all__ = ["broadcast_state", "shard", "GradientReducer", "BUCKET_BYTES"]

#: PyTorch DDP's default bucket size
BUCKET_BYTES = 25 * 2 ** 20


def broadcast_state(model, comm):
    """Every rank takes rank 0's parameter values and buffers (in place): the same start."""
    if comm.size == 1:
        return model
    for p in model.parameters():
        comm.broadcast(p.data)
    for m in model.modules():
        for name in m._buffers:
            comm.broadcast(getattr(m, name))
    return model


def shard(idx, comm):
    """This rank's contiguous part of ``idx`` (a global batch's row indices), as ``np.array_split``
    divides it: the first ``len(idx) % size`` ranks take one row more."""
    if comm.size == 1:
        return idx
    n, p, r = len(idx), comm.size, comm.rank
    base, extra = divmod(n, p)
    start = r * base + min(r, extra)
    return idx[start:start + base + (1 if r < extra else 0)]


class _Bucket:
    __slots__ = ("params", "offsets", "buffer", "pending", "request", "launched_at")

    def __init__(self, params):
        self.params = params
        sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.buffer = np.empty(int(self.offsets[-1]), dtype=params[0].data.dtype)
        self.pending = 0
        self.request = None
        self.launched_at = None


class GradientReducer:
    """Sum the gradients of ``model``'s trainable parameters across the ranks of ``comm``.

    Per step: ``begin()`` before backward, ``finish()`` after it (returns the seconds spent waiting
    for communication that backward did not hide). With ``overlap=False`` every bucket starts in
    ``finish()`` (for measuring what the overlap saves). ``stats`` keeps, per step, the seconds of
    backward after the first bucket started and the seconds waited in ``finish``.
    """

    def __init__(self, model, comm, bucket_bytes=BUCKET_BYTES, overlap=True):
        self.comm, self.overlap = comm, bool(overlap)
        seen, params = set(), []
        for p in model.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        params.reverse()  # backward produces the last layer's gradients first
        self.buckets, current, size = [], [], 0
        for p in params:
            if current and (p.data.dtype != current[0].data.dtype or size >= bucket_bytes):
                self.buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += p.data.nbytes
        if current:
            self.buckets.append(_Bucket(current))
        self._bucket_of = {id(p): b for b in self.buckets for p in b.params}
        # the modules that own each parameter: a parameter is final when all of them have run backward
        self._owners = {}
        self._module_params = []
        for m in model.modules():
            own = [p for p in m._parameters.values() if id(p) in self._bucket_of]
            if own:
                self._module_params.append((m, own))
                for p in own:
                    self._owners[id(p)] = self._owners.get(id(p), 0) + 1
        self._left = {}
        self._next = 0
        self._active = False
        self._handles = []
        self.stats = {"steps": 0, "waited": 0.0, "buckets": len(self.buckets),
                      "bytes": int(sum(b.buffer.nbytes for b in self.buckets)), "started_in_backward": 0}

    def attach(self):
        """Put a backward hook on every module that owns a parameter; returns self."""
        if not self._handles:
            for m, own in self._module_params:
                self._handles.append(m.register_backward_hook(self._hook(own)))
        return self

    def detach(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, own):
        def ready(module, grad_input, grad_output):
            if not self._active:
                return None
            for p in own:
                self._left[id(p)] -= 1
                if self._left[id(p)] == 0:
                    self._bucket_of[id(p)].pending -= 1
            if self.overlap:
                self._launch(final=False)
            return None
        return ready

    def begin(self):
        self._left = dict(self._owners)
        for b in self.buckets:
            b.pending, b.request, b.launched_at = len(b.params), None, None
        self._next = 0
        self._active = True

    def _launch(self, final):
        """Start the buckets whose gradients are all final, in order (all the rest when ``final``)."""
        while self._next < len(self.buckets) and (final or self.buckets[self._next].pending == 0):
            b = self.buckets[self._next]
            for k, p in enumerate(b.params):
                b.buffer[b.offsets[k]:b.offsets[k + 1]] = as_numpy(p.grad).ravel()
            b.request = self.comm.iallreduce(b.buffer)
            b.launched_at = time.perf_counter()
            if not final:
                self.stats["started_in_backward"] += 1
            self._next += 1

    def finish(self) -> float:
        """Start what is left, wait for every bucket, put the sums into ``p.grad``; returns the
        seconds waited here."""
        t0 = time.perf_counter()
        self._launch(final=True)
        self._active = False
        for b in self.buckets:
            b.request.wait()
        waited = time.perf_counter() - t0
        for b in self.buckets:
            for k, p in enumerate(b.params):
                p.grad = b.buffer[b.offsets[k]:b.offsets[k + 1]].reshape(p.data.shape).copy()
        self.stats["steps"] += 1
        self.stats["waited"] += waited
        return waited
