"""Monitors: a Trainer callback that samples the network every ``every`` iterations.

On a sampled batch it records, per leaf module, the output's mean, std and histogram, the
fraction of ReLU outputs that are zero and of sigmoid/tanh outputs in saturation, and which
units fired at all (dead units are those that never fired over all sampled batches); per
parameter, the gradient norm, the weight norm, mean and std, and the update/weight ratio of
the step (the notes: around 1e-3: the weights are copied before the optimizer's step and
compared after it); and the statistics of the input batch. For each recurrent layer (RNN, LSTM,
GRU) it also measures the gradient norms through time (``gradient_through_time``). Between
samples it costs nothing; on a sampled batch it puts a forward hook on each leaf module and takes
it off after the pass.
"""
from __future__ import annotations

import math

import numpy as np

from ..kernels import _numba, stats as _fast_stats
from .._checks import all_finite, positive_int
from ..backend import as_numpy
from ..train.callbacks.base import Callback

__all__ = ["Monitor", "gradient_through_time"]

_RELU = ("ReLU", "LeakyReLU")
#: units that fired on none of this many last samples count as dead at the end
RECENT = 3
_SQUASH = {"Sigmoid": (0.01, 0.99), "Tanh": (-0.99, 0.99)}
_RECURRENT = ("RNN", "LSTM", "GRU")
#: rows of the sampled batch the through-time probe uses, and the most steps a record keeps
PROBE_ROWS, PROBE_STEPS = 32, 256


def _units(a):
    """(rows, units): the features of (N, D), the channels of (N, C, ...) (a unit of a convolution
    is a channel; for a ReLU on (N, T, H) sequences this counts time steps, a known limit)."""
    if a.ndim == 2:
        return a
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _sq_norm(v):
    """(sum of squares as a float, all finite?) of a flat array, without a float64 copy in the
    common case: one dot product in the array's precision (``vdot``: no floating-point warning
    state); NaN or inf make it non-finite, and only then (or on an overflow of finite values) is
    the array checked and summed in float64."""
    sq = float(np.vdot(v, v)) if v.dtype in (np.float32, np.float64) else float("nan")
    if math.isfinite(sq):
        return sq, True
    if not np.isfinite(v).all():
        return float("nan"), False
    v64 = v.astype(np.float64)
    return float(v64 @ v64), True


def _histogram(v, bins):
    """(counts, edges) of a flat array of finite values, binned in float64 (float32 edges cannot
    resolve a narrow range of large values): one compiled pass when Numba is there (bin for bin
    np.histogram's: tested), else np.histogram on a float64 copy. A range too wide for float64
    gives an empty histogram: a sample must never stop the run it watches."""
    try:
        if v.ndim == 1 and v.size and _numba.usable(v):
            return _fast_stats.histogram(v, bins)
        return np.histogram(v.astype(np.float64, copy=False), bins=bins)
    except ValueError:  # "Too many bins for data range": values near +-1.8e308
        return np.zeros(0, dtype=np.int64), np.zeros(0)


def _mean_std(v):
    """Mean and std of a flat array, accumulated in float64 (a compiled pair of passes when Numba
    is there; else NumPy's, which makes a float64 temporary)."""
    if v.ndim == 1 and v.size and _numba.usable(v):
        mean, var = _fast_stats.mean_var(v)
        return float(mean), math.sqrt(var)
    return float(v.mean(dtype=np.float64)), float(v.std(dtype=np.float64))


def _stats(a, bins):
    """Mean, std (accumulated in float64) and histogram of the finite values of an array."""
    a = as_numpy(a)
    flat = a.ravel()
    finite = all_finite(flat)  # one dot product unless something is not finite
    vals = flat if finite else flat[np.isfinite(flat)]
    if vals.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "hist": [], "edges": [], "finite": False}
    counts, edges = _histogram(vals, bins)
    mean, std = _mean_std(vals)
    return {"mean": mean, "std": std, "hist": counts.tolist(), "edges": [float(e) for e in edges],
            "finite": finite}


class Monitor(Callback):
    """Sample activations, gradients, weights and update ratios every ``every`` iterations
    (also the first one). ``records`` holds one dict per sample; ``summary()`` condenses them
    for the doctor's rules and the report; ``to_dict()`` is what a run folder stores."""

    def __init__(self, every=50, bins=30):
        self.every = positive_int(every, "Monitor", "every")
        self.bins = positive_int(bins, "Monitor", "bins")
        self.modules: dict[str, str] = {}
        self.records: list[dict] = []
        self.ever_active: dict[str, np.ndarray] = {}
        self.recent_active: dict[str, list] = {}  # per ReLU layer: which units fired, on each of the last samples
        self._current = None
        self._hooks = []  # forward hooks of the sampled batch
        self._before = None  # the weights before the sampled step: (name, Parameter, copy)

    # -- sampling ----------------------------------------------------------------------------------
    def on_train_begin(self, trainer, logs):
        self.modules = {name: describe(m) for name, m in trainer.model.named_modules()}

    def _sampling(self, trainer):
        return trainer.iteration % self.every == 0

    def on_batch_begin(self, trainer, logs):
        if not self._sampling(trainer):
            return
        xb = as_numpy(logs.get("batch_x"))
        rec = {"iteration": trainer.iteration, "epoch": trainer.epoch, "layers": {}, "params": {},
               "input": {}}
        if xb is not None and xb.dtype.kind == "f":
            flat = xb.reshape(len(xb), -1).astype(np.float64)
            feat_std = flat.std(axis=0)
            # robust statistics (percentiles): a standardized image whose rare pixels take large
            # values now and then is scaled; features that live on different scales are not
            live = feat_std[feat_std > 0]
            rec["input"] = {"mean": float(flat.mean()), "std": float(flat.std()),
                            "abs_max": float(np.abs(flat).max()) if flat.size else 0.0,
                            "abs_p99": float(np.percentile(np.abs(flat), 99)) if flat.size else 0.0,
                            "feature_std_min": float(feat_std.min()) if flat.size else 0.0,
                            "feature_std_max": float(feat_std.max()) if flat.size else 0.0,
                            "feature_std_p05": float(np.percentile(live, 5)) if live.size else 0.0,
                            "feature_std_p95": float(np.percentile(live, 95)) if live.size else 0.0,
                            "feature_mean_abs_max": float(np.abs(flat.mean(axis=0)).max()) if flat.size else 0.0,
                            "feature_mean_abs_p95": float(np.percentile(np.abs(flat.mean(axis=0)), 95))
                            if flat.size else 0.0}
        self._current = rec
        for name, m in trainer.model.named_modules():
            if not m._modules:
                self._hooks.append(m.register_forward_hook(self._recorder(name or type(m).__name__, rec)))

    def _recorder(self, name, rec):
        """A forward hook recording a leaf module's output statistics into ``rec``."""
        bins = self.bins
        ever, recent = self.ever_active, self.recent_active

        def record(m, inputs, out):
            kind = type(m).__name__
            if hasattr(out, "dtype") and out.dtype.kind == "f" and out.ndim >= 2:
                a = as_numpy(out)
                st = _stats(a, bins)
                st["type"] = kind
                if kind in _RELU:
                    units = _units(a)
                    st["zero_fraction"] = float((a <= 0).mean())
                    st["maps"] = a.ndim == 4  # a unit is a convolution's channel (a filter)
                    fired = (units > 0).any(axis=0)
                    prev = ever.get(name)
                    ever[name] = fired if prev is None or prev.shape != fired.shape else (prev | fired)
                    last = [f for f in recent.get(name, []) if f.shape == fired.shape][-(RECENT - 1):]
                    recent[name] = last + [fired]
                elif kind in _SQUASH:
                    lo, hi = _SQUASH[kind]
                    st["saturated_fraction"] = float(((a <= lo) | (a >= hi)).mean())
                rec["layers"][name] = st
            if kind in _RECURRENT and inputs and getattr(inputs[0], "ndim", 0) == 3:
                rec.setdefault("_recurrent_inputs", {})[name] = (m, inputs[0][:PROBE_ROWS])

        return record

    def _unhook(self):
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def after_backward(self, trainer, logs):
        rec = self._current
        if rec is None:
            return
        self._unhook()
        total = 0.0
        for name, p in trainer.model.named_parameters():
            # in the arrays' own precision (no float64 copies of the weights): the sums accumulate
            # in float64 where precision matters (mean, std), the norms by one dot product
            g = as_numpy(p.grad).ravel()
            w = as_numpy(p.data).ravel()
            g_sq, g_finite = _sq_norm(g)
            w_sq, w_finite = _sq_norm(w)
            if p.decay and g_finite and g.size:
                counts, edges = _histogram(g, self.bins)
                if counts.size:
                    rec.setdefault("grad_hist", {})[name] = {"hist": counts.tolist(), "edges": edges.tolist()}
            total += g_sq
            w_mean, w_std = _mean_std(w)
            rec["params"][name] = {"grad_norm": math.sqrt(g_sq) if g_finite else float("nan"),
                                   "weight_norm": math.sqrt(w_sq) if w_finite else float("nan"),
                                   "weight_mean": w_mean, "weight_std": w_std,
                                   "decay": bool(p.decay), "shape": list(p.shape)}
        rec["global_grad_norm"] = math.sqrt(total) if math.isfinite(total) else float("nan")
        for name, (layer, x) in rec.pop("_recurrent_inputs", {}).items():
            rel = gradient_through_time(layer, x)
            if rel is not None:
                rec.setdefault("through_time", {})[name] = {"type": type(layer).__name__, "steps": int(len(rel)),
                                                            "relative": _thin(rel, PROBE_STEPS)}
        self._before = [(name, p, p.data.copy()) for name, p in trainer.model.named_parameters() if p.requires_grad]

    def after_step(self, trainer, logs):
        rec = self._current
        if rec is None:
            return
        for name, p, before in self._before or ():
            # the notes' update/weight ratio ||w_after - w_before|| / ||w_after||
            step_sq, finite = _sq_norm(as_numpy(p.data - before).ravel())
            w_sq, w_finite = _sq_norm(as_numpy(p.data).ravel())
            if finite and w_finite:
                rec["params"][name]["update_ratio"] = math.sqrt(step_sq) / math.sqrt(w_sq) if w_sq > 0 else float("inf")
        self._before = None
        rec["loss"] = float(logs.get("loss", float("nan")))
        self.records.append(rec)
        self._current = None

    def on_batch_end(self, trainer, logs):
        if self._current is not None:  # the step never came (non-finite loss): keep what we saw
            self._unhook()
            self._before = None
            self._current["loss"] = float(logs.get("loss", float("nan")))
            self._current.pop("_recurrent_inputs", None)
            self.records.append(self._current)
            self._current = None

    def on_train_end(self, trainer, logs):
        self._unhook()
        self._current = self._before = None
        self.first_filters = first_filter_roughness(trainer.model)

    # -- condensed views ---------------------------------------------------------------------------
    def dead_fractions(self) -> dict:
        """Per ReLU layer: the fraction of units that never fired over the sampled batches."""
        return {n: float(1.0 - a.mean()) for n, a in self.ever_active.items()}

    def dead_filters(self) -> dict:
        """Per ReLU layer on 2-D feature maps: [channels whose map was zero on every sampled
        input, channels] (the notes' dead filters)."""
        out = {}
        for n, fired in self.ever_active.items():
            st = (self.records[-1]["layers"].get(n) if self.records else None) or {}
            if st.get("maps"):
                out[n] = [int((~fired).sum()), int(fired.size)]
        return out

    def dead_fractions_at_end(self) -> dict:
        """Per ReLU layer: the fraction of units that fired on none of the last ``RECENT`` samples
        (units that died during training, after firing earlier)."""
        return {n: float(1.0 - np.logical_or.reduce(masks).mean()) for n, masks in self.recent_active.items() if masks}

    def summary(self) -> dict:
        """What the rules read: per layer the first and last activation statistics, per weight
        the median gradient norm and update ratio over the samples, input statistics."""
        if not self.records:
            return {"samples": 0}
        first, last = self.records[0], self.records[-1]
        layers = {}
        for name in last["layers"].keys() | first["layers"].keys():
            f, la = first["layers"].get(name, {}), last["layers"].get(name, {})
            layers[name] = {"type": (la or f).get("type"), "first": _strip(f), "last": _strip(la)}
        params = {}
        for name in first["params"]:
            seq = [r["params"][name] for r in self.records if name in r["params"]]
            gn = [s["grad_norm"] for s in seq]
            ur = [s["update_ratio"] for s in seq if "update_ratio" in s]
            params[name] = {"grad_norm_median": _median(gn), "update_ratio_median": _median(ur),
                            "first_weight_std": seq[0]["weight_std"], "first_weight_mean": seq[0]["weight_mean"],
                            "decay": seq[0]["decay"], "shape": seq[0]["shape"],
                            "grad_norm_first": seq[0]["grad_norm"]}
        return {"samples": len(self.records), "every": self.every, "modules": dict(self.modules),
                "layers": layers, "params": params,
                "order": list(first["params"]), "layer_order": list(first["layers"]),
                "dead_fraction": self.dead_fractions(), "dead_fraction_end": self.dead_fractions_at_end(),
                "dead_filters": self.dead_filters(), "first_filters": getattr(self, "first_filters", None),
                "input": first.get("input", {}), "through_time": self.through_time()}

    def through_time(self) -> dict:
        """Per recurrent layer, over the samples: the median of the relative gradient norm at the
        first step (``first_ratio``) and of its largest value (``max_ratio``), and on the last
        sample how many steps back the gradient stays above 1 % of its size at the last step
        (``reach``). See ``gradient_through_time``."""
        out = {}
        for rec in self.records:
            for name, tt in rec.get("through_time", {}).items():
                rel = tt["relative"]
                o = out.setdefault(name, {"type": tt["type"], "steps": tt["steps"], "first": [], "max": []})
                o["first"].append(rel[0])
                o["max"].append(max(rel))
                o["steps"] = tt["steps"]
                o["reach"] = through_time_reach(rel, tt["steps"])
        return {name: {"type": o["type"], "steps": o["steps"], "first_ratio": _median(o["first"]),
                       "max_ratio": _median(o["max"]), "reach": o["reach"], "samples": len(o["first"])}
                for name, o in out.items()}

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "records": self.records}


def gradient_through_time(layer, x):
    """How the gradient flows back through time in a recurrent layer (RNN, LSTM, GRU): for each
    step t of the input ``x`` (N, T, D), the mean over rows of ``||d h_T / d x_t||`` (the gradient
    of the layer's last output, a vector of ones, with respect to the input at step t) divided by
    its value at t = T. A float64 list of length T, first step first: values falling far below 1
    towards the start are gradients that vanish through time (the layer cannot learn from early
    steps), values far above 1 are gradients that explode (Pascanu et al., 2013).

    It runs on a float64 copy of the layer started from a zero state (the layer itself, its
    gradients and a stateful layer's carried state are untouched); None when ``x`` is not a
    floating-point sequence or the last step's gradient is zero."""
    from ..nn.build import build

    x = as_numpy(x)
    if x.ndim != 3 or x.dtype.kind != "f" or x.shape[1] < 1 or not all_finite(x):
        return None
    config = dict(layer.config(), return_sequences=True, stateful=False)
    probe = build(config)
    for (name, p), q in zip(layer.named_parameters(), probe.parameters()):
        q.data = as_numpy(p.data).astype(np.float64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    hs = probe.forward(x)
    dout = np.zeros_like(hs)
    dout[:, -1] = 1.0
    dx = probe.backward(dout)
    norms = np.sqrt((dx * dx).sum(axis=2)).mean(axis=0)
    if not np.isfinite(norms).all() or norms[-1] <= 0:
        return None
    return (norms / norms[-1]).tolist()


def through_time_reach(relative, steps, floor=1e-2):
    """How many steps back from the last the relative gradient stays at or above ``floor`` (all
    ``steps`` when it never falls below it)."""
    rel = np.asarray(relative)
    below = np.nonzero(rel[::-1] < floor)[0]
    if not below.size:
        return int(steps)
    return int(round(below[0] * steps / len(rel)))


def _thin(values, most):
    """At most ``most`` evenly spaced values of a list, always keeping the first and last."""
    if len(values) <= most:
        return [float(v) for v in values]
    idx = np.unique(np.linspace(0, len(values) - 1, most).round().astype(int))
    return [float(values[i]) for i in idx]


def first_filter_roughness(model):
    """How noisy the first convolution's filters are, for the notes' "noisy patterns" check:
    {"layer": dotted name, "roughness": mean over filters and input channels of the squared
    difference between neighbouring weights over twice their variance} (about 1 for white noise,
    well below for smooth patterns: a 5x5 Gaussian blob 0.46, a linear ramp 0.13), or None without a Conv2d of kernel 5x5 or larger first (smaller
    kernels have too few neighbours to tell)."""
    from ..nn.layers import Conv2d

    for name, m in model.named_modules():
        if isinstance(m, Conv2d):
            if min(m._k) < 5:
                return None
            w = as_numpy(m.W.data).astype(np.float64)
            w = w.reshape(-1, *w.shape[2:])  # one kh x kw image per filter and input channel
            var = w.var(axis=(1, 2))
            diffs = np.concatenate([np.diff(w, axis=1).reshape(len(w), -1), np.diff(w, axis=2).reshape(len(w), -1)], 1)
            ok = var > 0
            if not ok.any():
                return None
            rough = (diffs[ok] ** 2).mean(axis=1) / (2 * var[ok])
            return {"layer": name, "roughness": float(rough.mean())}
    return None


def describe(m) -> str:
    """A module as people recognise it: ``Linear 256->10``, ``Conv2d 16->32``, ``BatchNorm1d 64``,
    ``LSTM 8->32``, ``ReLU``."""
    kind = type(m).__name__
    for a, b in (("in_features", "out_features"), ("in_channels", "out_channels"), ("input_size", "hidden_size")):
        if hasattr(m, a) and hasattr(m, b):
            return f"{kind} {getattr(m, a)}->{getattr(m, b)}"
    if hasattr(m, "num_features"):
        return f"{kind} {m.num_features}"
    if hasattr(m, "num_embeddings"):
        return f"{kind} {m.num_embeddings}x{m.embedding_dim}"
    return kind


def _strip(st):
    return {k: v for k, v in st.items() if k not in ("hist", "edges")}


def _median(xs):
    xs = [x for x in xs if x == x]
    return float(np.median(xs)) if xs else float("nan")
