"""``summary(model, input_shape, batch_size, optimizer)``: the layers of a model with their
output shapes, parameters and multiply-adds, and the memory a training step needs.

The notes ask "what determines memory requirement?" and answer: the number of parameters, the
type of updater, the mini-batch size, the size of a sample and the number of activations.
The summary reports each of those parts:

- parameters, and one gradient per trainable parameter;
- the optimizer's state (none for plain SGD, one array per parameter for momentum, Adagrad
  and RMSprop, two for Adam), counted from the optimizer itself;
- the input batch;
- the activations: what each layer keeps from forward for backward (its cache: inputs, masks,
  normalized values, im2col columns), read from the arrays each layer's cache holds after a
  forward pass (an array shared by two layers counted once, parameters not at all);
- the scratch memory the backward pass keeps (convolutions' column gradients).

The peak is not their sum: a training step frees its gradients before the forward pass
(``zero_grad``) and each layer's cache once its backward has run, and layers make temporaries
of their own (an LSTM's gate gradients for every step). So the peak is measured: one real
training step (forward, backward, optimizer step) runs twice on a copy of the model under
tracemalloc, which sees every NumPy allocation, and the most the second step held (the
steady state: buffers the first step left for reuse are still there, as in a run) is added
to the parameters and the optimizer's state. Two small steps (batch 1 and 2) come first; when they
say a step at ``batch_size`` fits in half the available memory, that step is run and
measured; otherwise the small steps are extrapolated linearly (within 15 % for MLPs and
recurrent networks, over for convolutional ones, whose large batches take chunked kernels),
and the summary says which it did.

``benchmarks/bench_memory.py`` compares the estimate with the peak that tracemalloc measures
for an MLP, a CNN and an LSTM (benchmarks/RESULTS.md).
"""
from __future__ import annotations

import copy
import gc
import html
import os
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int
from ..errors import ConfigError, DataError, ShapeError
from ..kernels.workspace import release_scratch, scratch
from ..nn import layers as L
from ..nn.module import Module, Parameter, as_model_input, first_layer

__all__ = ["summary", "Summary", "LayerRow", "MemoryEstimate", "optimizer_state_slots"]


@dataclass
class LayerRow:
    """One row of the table: a module at the chosen depth (a layer, or a block with everything
    inside it)."""
    name: str  # dotted path, as in named_parameters
    type: str
    output_shape: tuple  # with the batch dimension
    trainable: int  # parameter values
    frozen: int
    macs: int  # multiply-adds per example (matrix products and convolutions)
    cache_bytes: int  # kept from forward for backward, at the summary's batch size


@dataclass
class MemoryEstimate:
    """Bytes a training step needs at ``batch_size``; ``peak`` is the estimate of the most held
    at one time (see the module's docstring for how each part is found)."""
    parameters: int
    gradients: int
    optimizer_state: int
    input: int
    activations: int  # every layer's cache at the end of forward
    scratch: int  # scratch buffers the backward pass keeps (column gradients)
    peak: int
    peak_at: str  # how the peak was found (measured at the batch size, or extrapolated)
    per_example: int  # bytes one more example adds to the peak (from the probe steps at two small batches)
    batch_size: int

    def largest_batch(self, available: int) -> int:
        """The largest batch size whose estimated peak fits in ``available`` bytes (0: none)."""
        fixed = self.peak - self.per_example * self.batch_size
        if self.per_example <= 0:
            return self.batch_size if self.peak <= available else 0
        return max(0, int((available - fixed) // self.per_example))

    def as_dict(self):
        return {k: getattr(self, k) for k in ("parameters", "gradients", "optimizer_state", "input", "activations",
                                              "scratch", "peak", "peak_at", "per_example", "batch_size")}


@dataclass
class Summary:
    """What ``summary`` returns: ``rows`` (LayerRow), the totals and ``memory``
    (MemoryEstimate). Prints as a text table; renders as HTML in Jupyter."""
    model_type: str
    input_shape: tuple
    batch_size: int
    dtype: str
    optimizer: str
    rows: list = field(default_factory=list)
    total_parameters: int = 0
    trainable_parameters: int = 0
    macs: int = 0
    memory: MemoryEstimate | None = None

    @property
    def frozen_parameters(self):
        return self.total_parameters - self.trainable_parameters

    def as_dict(self):
        return {"model": self.model_type, "input_shape": list(self.input_shape), "batch_size": self.batch_size,
                "dtype": self.dtype, "optimizer": self.optimizer, "total_parameters": self.total_parameters,
                "trainable_parameters": self.trainable_parameters, "macs_per_example": self.macs,
                "memory": self.memory.as_dict(),
                "layers": [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape),
                            "trainable": r.trainable, "frozen": r.frozen, "macs": r.macs,
                            "cache_bytes": r.cache_bytes} for r in self.rows]}

    def _totals(self):
        m = self.memory
        return [("parameters", m.parameters, f"{self.total_parameters:,} values ({self.frozen_parameters:,} frozen)"),
                ("gradients", m.gradients, f"one per trainable value ({self.trainable_parameters:,})"),
                ("optimizer state", m.optimizer_state, self.optimizer),
                ("input batch", m.input, f"{self.batch_size} x {_shape(self.input_shape)}"),
                ("activations kept for backward", m.activations, f"batch of {self.batch_size}"),
                ("backward scratch", m.scratch, "column gradients of convolutions"),
                ("estimated peak of a training step", m.peak, m.peak_at)]

    def __str__(self):
        head = ["layer", "type", "output shape", "parameters", "MACs/example", "kept for backward"]
        body = [[r.name or "(model)", r.type, _shape(r.output_shape),
                 f"{r.trainable + r.frozen:,}" + (" (frozen)" if r.frozen and not r.trainable else
                                                  f" ({r.frozen:,} frozen)" if r.frozen else ""),
                 f"{r.macs:,}", _bytes(r.cache_bytes)] for r in self.rows]
        widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
        line = "  ".join("-" * w for w in widths)
        out = [f"{self.model_type} on input {_shape((self.batch_size,) + tuple(self.input_shape))} "
               f"({self.dtype}), optimizer {self.optimizer}", line,
               "  ".join(h.ljust(w) for h, w in zip(head, widths)), line]
        for b in body:
            out.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))))
        out.append(line)
        out.append(f"parameters: {self.total_parameters:,} ({self.trainable_parameters:,} trainable, "
                   f"{self.frozen_parameters:,} frozen); multiply-adds per example: {self.macs:,}")
        out.append(f"memory of a training step at batch size {self.batch_size}:")
        for label, value, note in self._totals():
            out.append(f"  {label:<36}{_bytes(value):>11}   {note}")
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self):
        e = html.escape
        rows = "".join(
            f"<tr><td><code>{e(r.name or '(model)')}</code></td><td>{e(r.type)}</td><td>{e(_shape(r.output_shape))}"
            f"</td><td style='text-align:right'>{r.trainable + r.frozen:,}{' (frozen)' if r.frozen else ''}</td>"
            f"<td style='text-align:right'>{r.macs:,}</td><td style='text-align:right'>{e(_bytes(r.cache_bytes))}"
            f"</td></tr>" for r in self.rows)
        totals = "".join(f"<tr><td>{e(label)}</td><td style='text-align:right'><b>{e(_bytes(v))}</b></td>"
                         f"<td>{e(note)}</td></tr>" for label, v, note in self._totals())
        return (f"<div class='glassnet-summary'><p><b>{e(self.model_type)}</b> on input "
                f"{e(_shape((self.batch_size,) + tuple(self.input_shape)))} ({e(self.dtype)}), optimizer "
                f"{e(self.optimizer)}: {self.total_parameters:,} parameters ({self.trainable_parameters:,} "
                f"trainable), {self.macs:,} multiply-adds per example</p>"
                f"<table><thead><tr><th>layer</th><th>type</th><th>output shape</th><th>parameters</th>"
                f"<th>MACs/example</th><th>kept for backward</th></tr></thead><tbody>{rows}</tbody></table>"
                f"<p>Memory of a training step at batch size {self.batch_size}:</p><table><tbody>{totals}"
                f"</tbody></table></div>")


def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _bytes(n):
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def optimizer_state_slots(optimizer, dtype=np.float32) -> tuple[int, str]:
    """(state arrays per parameter, description) of ``optimizer``: an Optimizer instance, a
    name from ``glassnet.optim.OPTIMIZERS`` ("sgd", "sgd_momentum", "adam", ...) or None
    (plain SGD). A name is resolved by building that optimizer over a one-value parameter and
    counting the arrays it keeps."""
    from ..optim import OPTIMIZERS, Optimizer
    if optimizer is None:
        return 0, "none given (plain SGD: no state)"
    if isinstance(optimizer, Optimizer):
        p = next(p for g in optimizer.param_groups for p in g["params"])
        st = optimizer.state[id(p)]
        return sum(1 for k in st if k != "step"), repr(optimizer)
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        cls, fixed = OPTIMIZERS[optimizer]
        probe = cls([Parameter(np.zeros(1, dtype=dtype), name="probe")], **fixed)
        slots = sum(1 for k in probe.state[id(probe.param_groups[0]["params"][0])] if k != "step")
        return slots, f"{optimizer} ({slots} array{'s' if slots != 1 else ''} per parameter)"
    raise ConfigError(f"summary: optimizer must be an Optimizer, one of {', '.join(OPTIMIZERS)} or None, "
                      f"got {optimizer!r}")


def _macs(module, inputs, out, examples):
    """Multiply-adds per example of one layer's forward over a batch of ``examples`` (matrix
    products and convolutions); a layer inside TimeDistributed sees examples x steps rows."""
    if isinstance(module, L.Linear):
        return out.size * module.in_features // examples
    if isinstance(module, (L.Conv2d, L.Conv1d)):
        return out.size * int(np.prod(module.W.shape[1:])) // examples
    if isinstance(module, (L.RNN, L.LSTM, L.GRU)):
        x = inputs[0]
        gates = {L.RNN: 1, L.LSTM: 4, L.GRU: 3}[type(module)]
        return x.shape[0] * x.shape[1] * gates * module.hidden_size * (module.input_size + module.hidden_size) \
            // examples
    return 0


def _scaled_shape(shape, probe, batch_size):
    """An output shape seen at the probe's batch, at ``batch_size``: the leading axis scales (it
    holds the examples, or examples x steps inside TimeDistributed)."""
    if not shape:
        return ()
    return (shape[0] * batch_size // probe,) + tuple(shape[1:]) if shape[0] % probe == 0 else tuple(shape)


def _root(a):
    while isinstance(getattr(a, "base", None), np.ndarray):
        a = a.base
    return a


def _arrays(obj, out, depth=0):
    """Every ndarray reachable from a cache (tuples, lists, dicts, NamedTuples, dataclasses)."""
    if depth > 8:
        return
    if isinstance(obj, np.ndarray):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _arrays(o, out, depth + 1)
    elif isinstance(obj, dict):
        for o in obj.values():
            _arrays(o, out, depth + 1)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            _arrays(getattr(obj, name), out, depth + 1)


def _probe_input(model, input_shape, batch, dtype, rng):
    """A batch of the model's input: integer ids for an Embedding first layer, else floats."""
    first = first_layer(model)
    if isinstance(first, L.Embedding):
        return rng.integers(0, first.num_embeddings, size=(batch,) + tuple(input_shape))
    return as_model_input(model, rng.standard_normal((batch,) + tuple(input_shape)).astype(dtype))


def available_memory():
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``; elsewhere the
    physical memory), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _optimizer_for(optimizer, model):
    """An optimizer of the same kind as ``optimizer`` over ``model`` (the probe's copy)."""
    from ..optim import OPTIMIZERS, SGD, Optimizer
    if optimizer is None:
        return SGD(model, lr=0.0)
    if isinstance(optimizer, Optimizer):
        hyper = {k: v for k, v in optimizer.param_groups[0].items() if k in type(optimizer).defaults}
        return type(optimizer)(model, **hyper)
    cls, fixed = OPTIMIZERS[optimizer]
    return cls(model, lr=0.0, **fixed)


def _probe(model, input_shape, batch, dtype, optimizer):
    """Two training steps at ``batch`` on ``model`` (a copy) under tracemalloc: the records of
    every module in forward order (output shape, multiply-adds, bytes of its cache), the
    input's bytes, the scratch the backward pass keeps, and the most memory the second step
    held above what existed before the first (the parameters and the optimizer's state)."""
    rng = np.random.default_rng(0)
    opt = _optimizer_for(optimizer, model) if next(model.parameters(), None) is not None else None
    records = {}
    order = []

    def hook(module, inputs, out):
        if id(module) not in records:
            order.append(module)
        records[id(module)] = {"out_shape": tuple(getattr(out, "shape", ())), "macs": _macs(module, inputs, out, batch),
                               "in_bytes": int(sum(getattr(i, "nbytes", 0) for i in inputs)),
                               "out_bytes": int(getattr(out, "nbytes", 0))}

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    model.reset_state()  # a stateful model's probes at different batch sizes start afresh
    release_scratch()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        x = _probe_input(model, input_shape, batch, dtype, rng)
        for step in range(2):  # the second step is the steady state: what the first left (scratch) is reused
            if step:
                tracemalloc.reset_peak()
            model.zero_grad()
            out = model.forward(x)
            # what the caches hold, each buffer counted once, for the first layer (in forward order) holding it
            seen = {id(_root(p.data)) for p in model.parameters()}
            for m in order:
                arrays = []
                _arrays(m._cache, arrays)
                total = 0
                for a in arrays:
                    r = _root(a)
                    if id(r) not in seen:
                        seen.add(id(r))
                        total += r.nbytes
                records[id(m)]["cache"] = total
            dout = np.full_like(out, 1.0 / out.size)  # a loss's gradient: the outputs' shape
            del out
            model.backward(dout, need_input_grad=False)
            del dout
            if opt is not None:
                opt.step()
        scratch_bytes = scratch().nbytes
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not tracing:
            tracemalloc.stop()
        for h in handles:
            h.remove()
        model.clear_cache()
    return order, records, int(x.nbytes), scratch_bytes, int(peak)


def summary(model, input_shape, batch_size=32, optimizer=None, depth=None, exact=True) -> Summary:
    """The table of ``model``'s layers and the memory of one training step.

    ``input_shape``: one example's shape, without the batch dimension ((1, 28, 28) for MNIST
    images, (T, D) for sequences); ``batch_size``: the training batch; ``optimizer``: an
    Optimizer, a name ("sgd", "sgd_momentum", "nesterov", "adagrad", "rmsprop", "adam") or
    None (plain SGD); ``depth``: show modules down to this depth of the dotted names (None:
    every layer); ``exact``: run the probe step at ``batch_size`` itself when the small probes
    say it fits in half the available memory (False: always extrapolate from the small probes).
    The model is not changed: the probes run on a copy.

        >>> s = glassnet.models.summary(glassnet.models.lenet5(), (1, 32, 32), batch_size=64, optimizer="adam")
        >>> s.total_parameters
        61706
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a glassnet Module, got {type(model).__name__}")
    try:
        input_shape = tuple(int(s) for s in (input_shape if isinstance(input_shape, (tuple, list)) else (input_shape,)))
    except (TypeError, ValueError):
        raise ConfigError(f"summary: input_shape must be a tuple of positive ints (one example, without the "
                          f"batch dimension), got {input_shape!r}") from None
    if not input_shape or any(s < 1 for s in input_shape):
        raise ConfigError(f"summary: input_shape must be a tuple of positive ints (one example, without the "
                          f"batch dimension), got {input_shape!r}")
    batch_size = check_int(batch_size, "batch_size", "summary", lo=1)
    if depth is not None:
        depth = check_int(depth, "depth", "summary", lo=0)
    dtype = model.dtype or np.dtype(np.float32)
    slots, opt_text = optimizer_state_slots(optimizer, dtype)
    copy_ = copy.deepcopy(model)
    copy_.train()

    def probe(batch):
        try:
            return _probe(copy_, input_shape, batch, dtype, optimizer)
        except (TypeError, ValueError) as err:
            if batch == 1 and type(err) is DataError:  # batch norm on (N, C) inputs needs two rows
                raise
            raise ShapeError(f"summary: the model does not take inputs of shape (batch, "
                             f"{', '.join(map(str, input_shape))}): {str(err).splitlines()[0]}") from None

    try:
        small = (1, 2), probe(1), probe(2)
    except DataError:  # batch norm on (N, C) inputs needs two rows
        small = (2, 4), probe(2), probe(4)
    (b0, b1), p0, p1 = small
    param_bytes = sum(p.data.nbytes for p in model.parameters())
    trainable_bytes = sum(p.data.nbytes for p in model.parameters() if p.requires_grad)
    opt_bytes = slots * trainable_bytes
    static = param_bytes + opt_bytes

    def at(v0, v1):  # linear in the batch size through the two small probes
        return max(0, int(round(v0 + (v1 - v0) / (b1 - b0) * (batch_size - b0))))

    if batch_size in (b0, b1):
        measured, how = (p0 if batch_size == b0 else p1), f"measured on a training step at batch size {batch_size}"
    else:
        room = available_memory()
        if exact and (room is None or static + at(p0[4], p1[4]) < room // 2):
            measured, how = probe(batch_size), f"measured on a training step at batch size {batch_size}"
        else:
            measured = None
            how = (f"extrapolated from training steps at batch sizes {b0} and {b1} (too large to measure; "
                   f"over for convolutional networks, whose large batches take chunked kernels)")
    order1, rec1 = p1[0], p1[1]
    names = {id(m): n for n, m in copy_.named_modules()}
    recs = {}
    for m in order1:
        r1 = rec1[id(m)]
        if measured is not None:
            r = measured[1][id(m)]
            cache = r["cache"]
        else:
            cache = at(p0[1][id(m)]["cache"], r1["cache"])
        recs[names[id(m)]] = {"module": m, "out_shape": _scaled_shape(r1["out_shape"], b1, batch_size),
                              "macs": r1["macs"], "cache": cache}
    if measured is not None:
        x_bytes, scr, dynamic = measured[2], measured[3], measured[4]
    else:
        x_bytes, scr, dynamic = at(p0[2], p1[2]), at(p0[3], p1[3]), at(p0[4], p1[4])
    leaves = [n for n, m in copy_.named_modules() if not m._modules and n in recs]

    def params_of(module):
        trainable = sum(p.data.size for p in module.parameters() if p.requires_grad)
        return trainable, sum(p.data.size for p in module.parameters()) - trainable

    rows = []
    for name, m in copy_.named_modules():
        level = 0 if not name else name.count(".") + 1
        shown = (not m._modules and (depth is None or level <= depth)) or (depth is not None and level == depth)
        if not shown or name not in recs:
            continue
        inside = [n for n in leaves if n == name or n.startswith(name + ".") or not name]
        trainable, frozen = params_of(m)
        rows.append(LayerRow(name, type(m).__name__, recs[name]["out_shape"], trainable, frozen,
                             int(sum(recs[n]["macs"] for n in inside)), int(sum(recs[n]["cache"] for n in inside))))
    activations = sum(recs[n]["cache"] for n in leaves)
    memory = MemoryEstimate(param_bytes, trainable_bytes, opt_bytes, x_bytes, activations, scr,
                            static + dynamic, how, max(0, int(round((p1[4] - p0[4]) / (b1 - b0)))), batch_size)
    total = sum(p.data.size for p in model.parameters())
    trainable = sum(p.data.size for p in model.parameters() if p.requires_grad)
    return Summary(type(model).__name__, input_shape, batch_size, str(np.dtype(dtype)), opt_text, rows, total,
                   trainable, int(sum(recs[n]["macs"] for n in leaves)), memory)
