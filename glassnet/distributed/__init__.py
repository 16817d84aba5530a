"""Data-parallel training on MPI: every rank holds the whole model, takes its own shard of each
batch, and the gradients are summed across ranks before every optimizer step (Horovod's and
ChainerMN's design; PyTorch's DistributedDataParallel's buckets).

    mpiexec -n 4 glassnet train config.toml          # the command line detects the launch
    # or, in Python (launched with mpiexec -n 4 python script.py):
    comm = gn.distributed.init()
    trainer = gn.Trainer(net, loss, opt, distributed=True)

A single process behaves exactly as without this module (``SingleProcess``). MPI comes from the
optional extra ``glassnet[mpi]`` (mpi4py and the MPICH wheel, which brings ``mpiexec``); the
semantics are in docs/distributed.md.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

from ..errors import DistributedError
from .comm import DEFAULT_TIMEOUT, Communicator, MPICommunicator, Request, SingleProcess
from .data_parallel import GradientReducer, broadcast_state, shard

__all__ = ["init", "world", "alone", "launched_size", "on_every_rank", "every_rank", "raised_on_every_rank", "initialized", "Communicator", "SingleProcess", "MPICommunicator", "Request",
           "GradientReducer", "broadcast_state", "shard", "scale_learning_rate", "DEFAULT_TIMEOUT"]

_WORLD: Communicator | None = None

#: environment variables through which launchers announce the number of processes
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


def launched_size() -> int:
    """How many processes the launcher started (mpiexec's ``PMI_SIZE`` or Open MPI's
    ``OMPI_COMM_WORLD_SIZE``; Slurm's ``SLURM_STEP_NUM_TASKS`` inside an ``srun`` step); 1 when
    this process was started on its own."""
    for var in _SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    if os.environ.get("SLURM_STEP_ID") is not None and os.environ.get("SLURM_STEP_NUM_TASKS", "").isdigit():
        return int(os.environ["SLURM_STEP_NUM_TASKS"])
    return 1


def init(timeout=None, abort_on_error=True) -> Communicator:
    """The communicator of this job, set up once (later calls return the same one).

    Launched by ``mpiexec -n N`` (N > 1): MPI's world through mpi4py; a DistributedError when
    mpi4py is missing. Started alone: ``SingleProcess`` (mpi4py is not imported). ``timeout``
    (seconds, default ``$GLASSNET_DIST_TIMEOUT`` or 600) bounds every collective's wait.
    ``abort_on_error``: an uncaught exception on any rank prints its traceback under a line
    naming the rank and aborts the whole job (``MPI_Abort``), instead of leaving the other
    ranks waiting."""
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    n = launched_size()
    if n <= 1:
        _WORLD = SingleProcess()
        return _WORLD
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise DistributedError(f"this process is one of {n} started by an MPI launcher, but mpi4py is not "
                               f"installed; pip install 'glassnet[mpi]' (mpi4py and mpich)") from None
    if timeout is None:
        timeout = float(os.environ.get("GLASSNET_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    comm = MPICommunicator(timeout=timeout)
    if comm.size != n:
        raise DistributedError(f"the launcher announced {n} processes but MPI's world has {comm.size}: mpi4py was "
                               f"built for another MPI than the mpiexec that started this job; use the mpiexec "
                               f"that comes with it ({sys.prefix}/bin/mpiexec)")
    if abort_on_error:
        _abort_on_uncaught(comm)
    _WORLD = comm
    return comm


def initialized() -> bool:
    """True once ``init`` has set up this job's communicator."""
    return _WORLD is not None


def world() -> Communicator:
    """The communicator ``init`` set up, else ``SingleProcess`` (also inside ``alone()``)."""
    return _WORLD if _WORLD is not None and not _ALONE else SingleProcess()


_ALONE = 0


@contextlib.contextmanager
def alone():
    """Inside the block this process acts on its own: ``world()`` is a SingleProcess, so a
    SyncBatchNorm normalizes with its own batch. For work one rank does by itself (rank 0's report,
    the memory probe), which would otherwise wait for the other ranks in a collective."""
    global _ALONE
    _ALONE += 1
    try:
        yield
    finally:
        _ALONE -= 1


def _abort_on_uncaught(comm):
    previous = sys.excepthook

    def hook(kind, value, tb):
        # the error first, on one line: the launcher may cut the traceback short when the job is aborted
        from ..errors import one_line
        sys.stderr.write(f"glassnet: rank {comm.rank} of {comm.size} failed ({kind.__name__}: {one_line(value)}); "
                         f"stopping every rank\n")
        sys.stderr.flush()
        previous(kind, value, tb)
        sys.stderr.flush()
        time.sleep(0.5)  # time for the launcher to pass the output on before the job ends
        comm.abort(1)

    sys.excepthook = hook


def scale_learning_rate(optimizer, factor):
    """Multiply every parameter group's learning rate (and the schedule's base rate) by ``factor``:
    the linear scaling rule (Goyal et al., 2017) multiplies by the number of ranks, since the
    global batch is that many times larger."""
    for group in optimizer.param_groups:
        group["lr"] *= factor
        if "initial_lr" in group:
            group["initial_lr"] *= factor
    return optimizer


def every_rank(err):
    """Mark ``err`` as raised by every rank alike (a config error, rank 0's verdict on the run
    folder): the command line then prints it once, on rank 0. Returns ``err``."""
    err.__dict__["_glassnet_every_rank"] = True
    return err


def raised_on_every_rank(err) -> bool:
    return bool(getattr(err, "__dict__", {}).get("_glassnet_every_rank"))


def on_every_rank(comm, fn, what):
    """Run ``fn()`` on every rank and compare outcomes, so that a glassnet error on some ranks
    cannot leave the others waiting in a collective: when every rank failed, each raises its own
    error marked ``every_rank`` (printed once); when some failed, those raise theirs (printed with
    their rank) and the others a DistributedError naming them. Returns ``fn()``'s result."""
    from ..errors import GlassnetError

    if comm.size == 1:
        return fn()
    import numpy as np

    err, result = None, None
    try:
        result = fn()
    except GlassnetError as e:
        err = e
    failed = np.zeros(comm.size, dtype=np.int64)
    failed[comm.rank] = err is not None
    comm.allreduce(failed)
    if failed.all():
        raise every_rank(err)
    if err is not None:
        raise err
    if failed.any():
        ranks = ", ".join(str(r) for r in np.flatnonzero(failed))
        raise every_rank(DistributedError(f"rank(s) {ranks} of {comm.size} failed {what} (their errors are "
                                          f"printed with their rank)"))
    return result
