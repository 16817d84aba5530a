"""Communicators: the few collective operations data-parallel training needs, behind one small
interface, so that another engine could follow MPI.

    comm.rank, comm.size          this process and how many there are
    comm.allreduce(a)             a <- the sum of every rank's a, in place (NumPy arrays)
    comm.iallreduce(a)            the same, started now; ``.wait()`` on the returned request
    comm.broadcast(a, root=0)     a <- root's a, in place
    comm.allgather(a)             every rank's a concatenated along axis 0 (lengths may differ)
    comm.barrier()                wait for every rank
    comm.broadcast_object(obj)    a small picklable value from rank 0 (a decision, a message)
    comm.abort(code)              stop every rank of the job now

``SingleProcess`` is the world of one process (every operation leaves the data as it is);
``MPICommunicator`` runs them on MPI through mpi4py. Every MPI collective is started
non-blocking and waited for with a deadline (``timeout`` seconds): a rank that died or hangs
ends the job with a DistributedError naming the operation and the rank that waited, instead of
a hang.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import DistributedError

__all__ = ["Communicator", "SingleProcess", "MPICommunicator", "Request", "DEFAULT_TIMEOUT"]

#: seconds a collective waits for the other ranks before the job is declared stuck
DEFAULT_TIMEOUT = 600.0
#: seconds a wait polls without sleeping
SPIN = 0.05


class Request:
    """A started non-blocking operation; ``wait()`` returns when it has completed."""

    def __init__(self, wait=None):
        self._wait = wait

    def wait(self):
        if self._wait is not None:
            self._wait()
            self._wait = None

    @property
    def done(self) -> bool:
        return self._wait is None


class Communicator:
    """The interface (see the module docstring). ``rank`` and ``size`` are ints."""

    rank: int = 0
    size: int = 1
    timeout: float = DEFAULT_TIMEOUT

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    def allreduce(self, a):
        raise NotImplementedError

    def iallreduce(self, a) -> Request:
        raise NotImplementedError

    def broadcast(self, a, root=0):
        raise NotImplementedError

    def allgather(self, a):
        raise NotImplementedError

    def barrier(self):
        raise NotImplementedError

    def broadcast_object(self, obj, root=0):
        raise NotImplementedError

    def abort(self, code=1):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcess(Communicator):
    """One process: every collective leaves the data as it is (the sum over one rank is itself)."""

    def allreduce(self, a):
        return a

    def iallreduce(self, a) -> Request:
        return Request()

    def broadcast(self, a, root=0):
        return a

    def allgather(self, a):
        return a

    def barrier(self):
        pass

    def broadcast_object(self, obj, root=0):
        return obj

    def abort(self, code=1):
        raise SystemExit(code)


class MPICommunicator(Communicator):
    """Collectives on an mpi4py communicator (``MPI.COMM_WORLD`` by default), in place on
    contiguous NumPy buffers (no pickling); each waited for at most ``timeout`` seconds."""

    def __init__(self, comm=None, timeout=DEFAULT_TIMEOUT):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = int(self.comm.Get_rank()), int(self.comm.Get_size())
        self.timeout = float(timeout)

    def _wait(self, req, what):
        """Wait for ``req``: polling (MPI progresses only inside MPI calls, so a rank that slept
        would delay every other rank) for the first SPIN seconds, then with sleeps growing to 1 ms
        (a long wait: another rank is still computing); past the deadline a DistributedError."""
        start = time.monotonic()
        deadline = start + self.timeout
        while time.monotonic() - start < SPIN:
            if req.Test():
                return
        pause = 5e-5
        while not req.Test():
            if time.monotonic() > deadline:
                raise DistributedError(f"rank {self.rank} of {self.size}: {what} waited {self.timeout:g} s for the "
                                       f"other ranks; a rank has stopped or hangs (its own error, if any, is "
                                       f"printed above)")
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)

    @staticmethod
    def _buffer(a, what):
        if not isinstance(a, np.ndarray) or not a.flags.c_contiguous:
            raise TypeError(f"{what}: expected a C-contiguous NumPy array, got {type(a).__name__}")
        return a

    def allreduce(self, a):
        self.iallreduce(a).wait()
        return a

    def iallreduce(self, a) -> Request:
        self._buffer(a, "allreduce")
        req = self.comm.Iallreduce(self._MPI.IN_PLACE, a, op=self._MPI.SUM)
        return Request(lambda: self._wait(req, f"allreduce of {a.nbytes} bytes"))

    def broadcast(self, a, root=0):
        self._buffer(a, "broadcast")
        req = self.comm.Ibcast(a, root=root)
        self._wait(req, f"broadcast of {a.nbytes} bytes from rank {root}")
        return a

    def allgather(self, a):
        a = np.ascontiguousarray(a)
        counts = np.zeros(self.size, dtype=np.int64)
        counts[self.rank] = len(a)
        self.allreduce(counts)
        row = int(np.prod(a.shape[1:], dtype=np.int64))
        out = np.empty((int(counts.sum()),) + a.shape[1:], dtype=a.dtype)
        sizes = counts * row
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        from mpi4py.util.dtlib import from_numpy_dtype

        mpi_type = from_numpy_dtype(a.dtype)
        req = self.comm.Iallgatherv([a, mpi_type], [out, (sizes.tolist(), displs.tolist()), mpi_type])
        self._wait(req, f"allgather of {a.nbytes} bytes")
        return out

    def barrier(self):
        self._wait(self.comm.Ibarrier(), "barrier")

    def broadcast_object(self, obj, root=0):
        import pickle

        data = pickle.dumps(obj) if self.rank == root else b""
        n = np.array([len(data)], dtype=np.int64)
        self.broadcast(n, root)
        buf = np.frombuffer(data, dtype=np.uint8).copy() if self.rank == root else np.empty(int(n[0]), np.uint8)
        self.broadcast(buf, root)
        return pickle.loads(buf.tobytes())

    def abort(self, code=1):
        self.comm.Abort(code)
