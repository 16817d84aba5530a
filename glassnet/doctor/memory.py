"""Will a training step fit in memory? The doctor's check before a run, from
``glassnet.models.summary``'s estimate (the notes' "what determines memory requirement?")."""
from __future__ import annotations

from .findings import Finding

__all__ = ["memory_finding", "finding_for"]


def _mib(n):
    return f"{n / 2**20:,.0f} MiB" if n < 2**30 else f"{n / 2**30:,.1f} GiB"


def memory_finding(model, input_shape, batch_size, optimizer=None, available=None):
    """A Finding when a training step of ``model`` at ``batch_size`` is estimated to need more
    memory than is available (``available`` bytes; default what the system reports), else None.

    The estimate extrapolates two tiny probe steps (batches of 1 and 2, on a copy of the model)
    to ``batch_size`` (``summary(..., exact=False)``): cheap, never itself too large, and for
    convolutional networks an overestimate (their large batches take chunked kernels). The
    finding says which batch size would fit."""
    from ..models.summary import available_memory, summary

    room = available_memory() if available is None else int(available)
    if room is None:
        return None
    return finding_for(summary(model, input_shape, batch_size=batch_size, optimizer=optimizer, exact=False).memory,
                       room)


def finding_for(m, available):
    """The Finding for a summary's MemoryEstimate ``m`` against ``available`` bytes, or None
    when the step fits."""
    if m.peak <= available:
        return None
    room, batch_size = available, m.batch_size
    static = m.parameters + m.optimizer_state
    fits = m.largest_batch(room)
    evidence = (f"a step at batch size {batch_size} needs about {_mib(m.peak)} (parameters {_mib(m.parameters)}, "
                f"gradients {_mib(m.gradients)}, optimizer state {_mib(m.optimizer_state)}, activations "
                f"{_mib(m.activations)}); {_mib(room)} is available")
    if fits >= 1:
        remedy = (f"Use a batch size of at most {fits} (trainer.batch_size), or a smaller model, float32 instead of "
                  f"float64, or an optimizer with less state (SGD keeps none, momentum one copy of the parameters, "
                  f"Adam two).")
    else:
        remedy = (f"Even a batch of one example does not fit (the parameters and the optimizer's state take "
                  f"{_mib(static)} of it). Use a smaller model, float32 instead of float64, or SGD (no optimizer "
                  f"state).")
    return Finding("warning", "The run will probably not fit in memory.", evidence, remedy, "memory.too_large",
                   {"peak": m.peak, "available": room, "batch_size": batch_size, "largest_batch": fits})
