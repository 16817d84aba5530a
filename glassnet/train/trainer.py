"""The Trainer: the notes' Solver loop done as a library would.

    trainer = gn.Trainer(net, loss=gn.nn.SoftmaxCrossEntropy(), optimizer=gn.optim.Adam(net, lr=1e-3),
                         penalty=gn.optim.L2(1e-4), callbacks=[gn.callbacks.EarlyStopping(patience=5)])
    history = trainer.fit((X, y), val=(Xv, yv), epochs=30, batch_size=128, seed=0)
    trainer.evaluate((Xt, yt))        # loss, accuracy, per-class accuracy, confusion matrix

Every epoch is a fresh permutation of the training set (never sampling with replacement);
the last partial batch is kept unless ``drop_last``. Training runs in train mode, evaluation
always in eval mode. Randomness (batch order, dropout masks) comes from Generators seeded by
``fit(seed=...)``, so the same seed gives the same run, bit for bit, on the same machine.
"""
from __future__ import annotations

import contextlib
import math
import os
import time

import numpy as np

from .._checks import (
    all_finite,
    check_bool,
    check_examples,
    check_int,
    check_targets,
    first_nonfinite,
    positive_int,
)
from ..backend import as_numpy, device_of, to_device
from ..errors import ConfigError, DataError, NonFiniteError, ShapeError, one_line
from ..functional.activations import sigmoid, softmax
from ..nn.anomaly import detect_anomaly
from ..nn.layers.recurrent import is_stateful, state_kept
from ..nn.module import Module, eval_scores, takes_ids
from ..optim.schedules import Schedule, Scheduler
from ..serialization import (
    CheckpointError,
    preprocessing_arrays_meta,
    preprocessing_from,
    read_archive,
    write_archive,
)
from . import metrics as metric_fns
from .callbacks import CallbackList, ProgressBar, StopTraining
from .callbacks.base import MonitorCallback
from .history import History

__all__ = ["Trainer", "check_data"]


def _generator_key(name, attr):
    """A registered Generator's key in a checkpoint: ``module:<dotted module name>`` for the usual
    attribute ``rng`` (the key earlier checkpoints used), else ``module:<dotted generator name>``."""
    return f"module:{name.rpartition('.')[0] if attr == 'rng' else name}"


def _keeps_state(callback) -> bool:
    """Whether a callback has state a checkpoint must restore (its class defines state_dict)."""
    from .callbacks.base import Callback
    return type(callback).state_dict is not Callback.state_dict


def _as_xy(data, who, y=None):
    """(X, y) from ``(X, y)``, a Dataset with ``.X``/``.y``, or ``X`` with ``y`` given apart."""
    if y is not None:
        if isinstance(data, tuple) or (hasattr(data, "X") and hasattr(data, "y")):
            raise TypeError(f"{who}: pass the data as {who}(X, y) or {who}((X, y)), not both")
        return data, y
    if hasattr(data, "X") and hasattr(data, "y"):
        return data.X, data.y
    if isinstance(data, (tuple, list)) and len(data) == 2 and (isinstance(data, tuple) or hasattr(data[0], "shape")):
        return data[0], data[1]
    if hasattr(data, "shape") or isinstance(data, list):
        return data, None
    raise TypeError(f"{who}: expected (X, y), X and y, or a Dataset with .X and .y, got {type(data).__name__}")


def check_data(model, X, y=None, *, who, target_kind="real", preprocessing=None, allow_empty=False, checked=False):
    """The data where it enters glassnet (the Trainer, ``evaluate``/``predict``, the command line):
    checked in the user's coordinates (the rows and columns of the arrays passed, before any
    shuffling), then preprocessed (with a fitted ``preprocessing``), converted once to the model's
    dtype (integer ids for a model that starts with an Embedding stay integers) and moved to its
    device. The model's output for two examples shows, before any work, an
    input that does not fit it and the number of classes the labels must fit (``target_kind`` is
    the loss's: "labels", "labels_or_probs", "binary" or "real"). ``checked``: X went through
    ``check_examples`` already. Returns (X, y); ``y`` may be None."""
    if not checked:
        X = check_examples(X, who, allow_empty=allow_empty)
    n = len(X)
    if preprocessing is not None and preprocessing.fitted:
        try:
            X = preprocessing.transform(X)
        except DataError as err:
            raise DataError(f"{who}: X: {one_line(err)}") from None
    dtype = model.dtype
    if dtype is not None and X.dtype != dtype and not (X.dtype.kind in "iu" and takes_ids(model)):
        wide = X.dtype.kind == "f" and X.dtype.itemsize > np.dtype(dtype).itemsize
        X = X.astype(dtype)  # documented: inputs are converted once to the model's dtype
        if wide and not all_finite(X):
            raise DataError(f"{who}: {first_nonfinite(X, 'X')} after conversion to the model's {dtype} "
                            f"(the values are too large for it; scale the inputs)")
    first = next(model.parameters(), None)
    if first is not None and device_of(first.data) != device_of(X):
        X = to_device(X, device_of(first.data))  # documented: data follows the model's device
    shape = _output_shape(model, X, who) if n else None
    if y is None:
        return X, None
    y = check_targets(y, n, who, target_kind, shape)
    if first is not None and device_of(y) != device_of(X):
        y = to_device(y, device_of(X))
    return X, y


def check_batches(model, n, batch_size, drop_last):
    """Batch normalization cannot take a training batch of one example: refuse, before the
    first epoch, a last partial batch of one when the model has a BatchNorm1d."""
    b = min(batch_size, n)
    if b > 1 and (drop_last or n % b != 1):
        return
    from ..nn.layers.normalization import BatchNorm1d

    bn = next((name for name, m in model.named_modules() if isinstance(m, BatchNorm1d)), None)
    if bn is None:
        return
    if b == 1:
        raise DataError(f"fit: every batch would hold 1 example ({n} rows, batch_size {batch_size}) and "
                        f"BatchNorm1d '{bn}' cannot compute batch statistics from one example; use a "
                        f"batch_size of 2 or more")
    raise DataError(f"fit: the last batch of every epoch would hold 1 example ({n} rows, batch_size "
                    f"{batch_size}) and BatchNorm1d '{bn}' cannot compute batch statistics from one "
                    f"example; pass drop_last=True (trainer.drop_last = true in a config) or another "
                    f"batch_size")


def _output_shape(model, X, who):
    """The model's output shape for one example, from a forward pass of (at most) two examples in
    eval mode: an input that does not fit the model is reported here, before any work."""
    was_training = model.training
    model.eval()
    try:
        with state_kept(model):  # a stateful model keeps the state it carries
            out = model.forward(X[:2])
    except (ShapeError, TypeError, ValueError) as err:
        if isinstance(err, DataError) and not isinstance(err, ShapeError):
            raise
        raise DataError(f"{who}: X: examples of shape {tuple(X.shape[1:])} do not fit the model: "
                        f"{one_line(err)}") from None
    finally:
        model.clear_cache()
        model.train(was_training)
    return tuple(out.shape[1:])


class Trainer:
    """Train ``model`` with ``loss`` and ``optimizer``.

    ``penalty`` (e.g. ``L2(1e-4)``) is added to the loss and its gradient to the weights;
    ``schedule`` is a Schedule (a factor on the initial learning rate, stepped every epoch, or
    every iteration with ``schedule_unit="step"``) or a ready Scheduler; ``metrics`` are
    names ("accuracy", "mse", "mae") or callables (default: accuracy for classification
    losses; a name that does not fit the loss is refused). Training metrics per epoch are
    measured in eval mode on a fixed sample of ``train_sample`` training examples (the whole set
    if it is smaller), as the notes' Solver does; ``history.train_metrics_on`` says which
    (``train_sample=0`` skips them).
    ``augment`` (see glassnet.data.augment) transforms each training batch on the fly with
    the trainer's Generator; evaluation never sees it. ``preprocessing`` (a Transformer or
    Pipeline from glassnet.data, e.g. ``Standardize()``) is fitted by ``fit`` on the training
    inputs and applied to every input the trainer receives afterwards (validation data,
    ``evaluate``, ``predict``); checkpoints store it and ``glassnet.save(trainer.model, path,
    preprocessing=trainer.preprocessing)`` keeps it with the model. ``detect_anomaly=True`` runs
    every batch in anomaly mode (``glassnet.detect_anomaly``: the first module producing NaN/inf
    is named at once; slower); without it a non-finite loss is traced to its module afterwards.
    ``distributed``: data-parallel training across the processes of an MPI job (see
    ``glassnet.distributed`` and docs/distributed.md): None (the default) turns it on when the
    process was started by ``mpiexec -n N`` with N > 1, True asks for it (one process alone trains
    as usual), False turns it off, or pass a ``glassnet.distributed.Communicator``. Each rank then
    takes its shard of every global batch of ``batch_size * ranks`` rows, the gradients are summed
    across ranks during backward, metrics are computed over every rank's examples, and only rank 0
    prints and writes checkpoints.
    """

    def __init__(self, model, loss, optimizer, penalty=None, schedule=None, callbacks=(), metrics=None,
                 schedule_unit="epoch", train_sample=1000, verbose=1, preprocessing=None, augment=None,
                 detect_anomaly=False, distributed=None):
        if not isinstance(model, Module):
            raise TypeError(f"Trainer: model must be a glassnet Module, got {type(model).__name__}")
        self.model, self.loss, self.optimizer, self.penalty = model, loss, optimizer, penalty
        if isinstance(schedule, Scheduler):
            self.scheduler = schedule
        elif schedule is None or isinstance(schedule, Schedule) or callable(schedule):
            self.scheduler = Scheduler(optimizer, schedule, unit=schedule_unit)
        else:
            raise TypeError(f"Trainer: schedule must be a Schedule or Scheduler, got {type(schedule).__name__}")
        if metrics is None:  # accuracy where there are classes, nothing else by default
            metrics = ("accuracy",) if getattr(loss, "target_kind", "real") in metric_fns.CLASS_KINDS else ()
        if isinstance(metrics, str):
            metrics = (metrics,)
        metric_fns.check_fit(metrics, loss, "Trainer")
        self.metric_names = [m if isinstance(m, str) else m.__name__ for m in metrics]
        self.metric_fns = [metric_fns.get(m) for m in metrics]
        self.callbacks = list(callbacks)
        if verbose and not any(isinstance(c, ProgressBar) for c in self.callbacks):
            self.callbacks.insert(0, ProgressBar(verbose))
        self.train_sample = int(train_sample)
        self.verbose = verbose
        if preprocessing is not None and not (hasattr(preprocessing, "fit") and hasattr(preprocessing, "transform")):
            raise TypeError(f"Trainer: preprocessing must be a glassnet.data Transformer (e.g. Standardize()), "
                            f"got {type(preprocessing).__name__}")
        self.preprocessing = preprocessing  # fitted by fit() on the training inputs, applied to every input
        self.augment = augment  # applied to training batches only, with the trainer's Generator
        self.detect_anomaly = check_bool(detect_anomaly, "detect_anomaly", "Trainer")
        from ..distributed import Communicator, SingleProcess
        if not (distributed is None or isinstance(distributed, (bool, np.bool_, Communicator))):
            raise ConfigError(f"Trainer: distributed must be None (detect an MPI launch), True, False or a "
                              f"glassnet.distributed Communicator, got {distributed!r}")
        self.distributed = distributed
        self.comm = SingleProcess()  # the job's communicator, decided by fit()
        self.reducer = None  # the gradient reducer of a data-parallel fit
        self.history = History()
        self.epoch = 0
        self.iteration = 0
        self.rng = None
        self.seed = None
        self.stop_requested = None
        self.messages: list[str] = []
        self.batch_size = self.n_train = self.epochs_requested = None

    # -- utilities -----------------------------------------------------------------------------------
    def __repr__(self):
        state = ("not fitted" if self.batch_size is None else
                 f"{self.epoch} epoch(s), {self.iteration} iterations, batch {self.batch_size}")
        return (f"Trainer({type(self.model).__name__} with {sum(p.data.size for p in self.model.parameters()):,} "
                f"parameters, {type(self.loss).__name__}, {type(self.optimizer).__name__}; {state})")

    def _repr_html_(self):
        from ..report.notebook import trainer_html
        return trainer_html(self)

    @property
    def is_main(self) -> bool:
        """True on the process that prints and writes files (rank 0; always, in one process)."""
        return self.comm.rank == 0

    def log(self, message: str):
        self.messages.append(message)
        if self.verbose and self.is_main:
            print(message, flush=True)

    def _resolve_comm(self):
        """The communicator this fit runs on (see ``distributed`` in the class docstring)."""
        from .. import distributed as dist
        d = self.distributed
        if isinstance(d, dist.Communicator):
            return d
        if d is False or (d is None and dist.launched_size() <= 1):
            return dist.SingleProcess()
        return dist.init()

    def _check_ranks_agree(self, facts):
        """Every rank must train the same model on the same data with the same settings: compare
        ``facts`` (a dict of numbers) with rank 0's; a difference stops every rank with one line."""
        comm = self.comm
        mine = np.array([float(v) for v in facts.values()], dtype=np.float64)
        main = comm.broadcast(mine.copy())
        differ = np.array([float(not np.array_equal(mine, main))])
        comm.allreduce(differ)
        if differ[0]:
            names = list(facts)
            diff = "; ".join(f"{names[i]} {mine[i]:g} here, {main[i]:g} on rank 0" for i in range(len(names))
                             if mine[i] != main[i])
            from ..errors import DistributedError
            raise DistributedError(f"rank {comm.rank} of {comm.size}: the ranks do not agree: "
                                   f"{diff or 'another rank differs from rank 0'}; every rank must run the same "
                                   f"config on the same data")

    def _prepare(self, X, y, who, allow_empty=False, checked=False):
        """The data where it enters the trainer: see ``check_data``."""
        return check_data(self.model, X, y, who=who, target_kind=getattr(self.loss, "target_kind", "real"),
                          preprocessing=self.preprocessing, allow_empty=allow_empty, checked=checked)

    def _check_monitors(self, has_val, has_train_metrics):
        """Refuse, before the first epoch, a callback that watches a quantity this run will not log
        (a val_* quantity without validation data, a metric that is not measured)."""
        for cb in self.callbacks:
            if isinstance(cb, MonitorCallback):
                problem = metric_fns.monitor_problem(cb.monitor, self.metric_names, has_val, has_train_metrics)
                if problem:
                    raise ConfigError(f"{type(cb).__name__}: monitor {problem}"
                                      + ("; pass fit(..., val=(X_val, y_val))" if "validation" in problem else ""))

    def _seed_everything(self, seed):
        ss = np.random.SeedSequence(seed)
        children = ss.spawn(2)
        self.rng = np.random.Generator(np.random.PCG64(children[0]))
        module_seq = children[1]
        gens = list(self.model.named_generators())
        for (_, m, attr), child in zip(gens, module_seq.spawn(len(gens))):
            m.register_generator(attr, np.random.Generator(np.random.PCG64(child)))

    def _rng_states(self):
        states = {"trainer": self.rng.bit_generator.state}
        for name, m, attr in self.model.named_generators():
            states[_generator_key(name, attr)] = getattr(m, attr).bit_generator.state
        return states

    def _set_rng_states(self, states):
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = states["trainer"]
        for name, m, attr in self.model.named_generators():
            key = _generator_key(name, attr)
            if key in states:
                gen = np.random.default_rng()
                gen.bit_generator.state = states[key]
                m.register_generator(attr, gen)

    # -- the loop --------------------------------------------------------------------------------------
    def fit(self, train, y=None, *, val=None, epochs=10, batch_size=64, seed=0, shuffle=True, drop_last=False,
            resume=None):
        """Train for ``epochs`` epochs (in total, counting resumed ones); returns the History.

        The data is ``fit(X, y)`` or ``fit((X, y))`` (or a Dataset), ``val`` likewise a pair; both
        are checked before the first epoch, errors naming the row and column of the arrays passed.
        With ``preprocessing``, the trainer fits it on the training inputs here and applies it to
        everything it is given from then on (validation, ``evaluate``, ``predict``).
        ``resume`` is a checkpoint written by this trainer (``save_checkpoint`` or
        ModelCheckpoint): model, optimizer, schedule, epoch, RNG states, history, callback
        states and the fitted preprocessing are restored and training continues to ``epochs``.
        """
        X, y = _as_xy(train, "fit", y)
        if y is None:
            raise TypeError("fit: targets missing: call fit(X, y) or fit((X, y))")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"fit: {name} must be True or False, got {value!r}")
        batch_size = positive_int(batch_size, "fit", "batch_size")
        stateful = is_stateful(self.model)
        if stateful and shuffle:
            raise ConfigError("fit: the model has stateful recurrent layers, which carry each batch's final state "
                              "into the next batch's rows; pass shuffle=False and rows laid out as streams "
                              "(glassnet.data.text_windows)")
        check_int(epochs, "epochs", "fit", lo=0)
        check_int(seed, "seed", "fit", lo=0, also=(None,))
        X = check_examples(X, "fit(train)")
        self.comm = comm = self._resolve_comm()
        if comm.size > 1 and stateful:
            raise ConfigError("fit: a model with stateful recurrent layers cannot be trained data-parallel (each rank "
                              "would carry its own streams); train it in one process")
        meta = None
        if resume is not None:
            meta = self.load_checkpoint(resume)  # restores the fitted preprocessing too
        elif self.preprocessing is not None:
            try:
                self.preprocessing.fit(X)  # the training inputs only
            except DataError as err:
                raise DataError(f"fit(train): preprocessing {type(self.preprocessing).__name__}: "
                                f"{one_line(err)}") from None
            except ValueError as err:  # e.g. more PCA components than features
                raise ConfigError(f"Trainer: preprocessing {type(self.preprocessing).__name__}: {err}") from None
        X, y = self._prepare(X, y, "fit(train)", checked=True)
        val_xy = self._prepare(*_as_xy(val, "fit(val)"), "fit(val)") if val is not None else None
        n = len(X)
        check_batches(self.model, n, batch_size, drop_last)
        self.batch_size, self.n_train, self.epochs_requested = batch_size, n, epochs  # read by the doctor
        batch_size = min(batch_size, n)
        if seed is None:  # fresh entropy, recorded so that the run can be resumed and repeated
            seed = int(np.random.SeedSequence().entropy % (2 ** 63))
            if comm.size > 1:  # rank 0's draw for every rank: one batch order
                seed = comm.broadcast_object(seed)
        if meta is not None:
            seed = meta.get("seed", seed)
        else:
            self._seed_everything(seed)
            self.history = History()
            self.epoch = self.iteration = 0
            self.scheduler.step(0)
        self.seed = seed
        self._augment_rng = self.rng
        if comm.size > 1:
            # the same batch order everywhere (the trainer's Generator), but each rank's own dropout masks and
            # augmentations: module Generators from (seed, rank, iteration), so a resumed run draws afresh
            gens = list(self.model.named_generators())
            seq = np.random.SeedSequence([seed, 2, comm.rank, self.iteration])
            for (_, mod, attr), child in zip(gens, seq.spawn(len(gens))):
                mod.register_generator(attr, np.random.Generator(np.random.PCG64(child)))
            self._augment_rng = np.random.default_rng([seed, 3, comm.rank, self.iteration])
            self._check_ranks_agree({"training rows": n, "batch_size": batch_size, "epochs": epochs, "seed": seed,
                                     "parameters": sum(p.data.size for p in self.model.parameters()),
                                     "epoch": self.epoch})
            from ..distributed import broadcast_state
            broadcast_state(self.model, comm)
        self.history.stop_reason = None
        sample_rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        m = min(self.train_sample, n)
        sample_idx = np.sort(sample_rng.choice(n, m, replace=False)) if m < n else np.arange(n)
        if stateful and 0 < m < n:  # whole batches from the start: the streams stay in order
            m = max(m // batch_size, 1) * batch_size
            sample_idx = np.arange(m)
        on_gpu = device_of(X) == "cuda"
        if on_gpu:
            sample_idx = to_device(sample_idx, "cuda")
        sample = (X[sample_idx], y[sample_idx])  # the fixed training sample for epoch metrics
        self.history.train_metrics_on = ("not measured (train_sample=0)" if m == 0 else
                                         f"the whole training set ({n} examples), eval mode" if m == n else
                                         f"the first {m} of {n} training rows (whole batches, in order), eval mode"
                                         if stateful else
                                         f"a fixed random sample of {m} of {n} training examples, eval mode")
        self._check_monitors(val_xy is not None, m > 0)
        step = batch_size * comm.size  # the global batch: batch_size rows on every rank
        n_batches = n // step if drop_last else math.ceil(n / step)
        if comm.size > 1 and not drop_last and 0 < n % step < comm.size:
            n_batches -= 1  # a last global batch with fewer rows than ranks is left out (documented)
        cbs = CallbackList([c for c in self.callbacks if self.is_main or not isinstance(c, ProgressBar)])
        logs = {"epochs": epochs, "batches_per_epoch": n_batches, "n_train": n}
        self.stop_requested = None
        self.model.train()
        if comm.size > 1:
            from ..distributed import GradientReducer
            self.reducer = GradientReducer(self.model, comm).attach()
        try:
            cbs.call("on_train_begin", self, logs)
            while self.epoch < epochs:
                t0 = time.perf_counter()
                logs.update(epoch=self.epoch + 1)
                self.model.reset_state()  # stateful layers start every epoch from zero state
                cbs.call("on_epoch_begin", self, logs)
                order = self.rng.permutation(n) if shuffle else np.arange(n)
                if on_gpu:
                    order = to_device(order, "cuda")  # index device arrays with device indices
                sums = {"loss": 0.0, "data_loss": 0.0, "count": 0}
                for b in range(n_batches):
                    idx = order[b * step:(b + 1) * step]
                    if comm.size > 1:
                        from ..distributed import shard
                        mine = shard(idx, comm)
                        self._train_batch(X[mine], y[mine], b, logs, cbs, sums, share=len(mine) / len(idx))
                    else:
                        self._train_batch(X[idx], y[idx], b, logs, cbs, sums)
                self.epoch += 1
                row = {"epoch": self.epoch, "iteration": self.iteration,
                       "loss": sums["loss"] / max(sums["count"], 1),
                       "data_loss": sums["data_loss"] / max(sums["count"], 1),
                       "lr": self.optimizer.lr}
                cbs.call("on_validation_begin", self, logs)
                self.model.eval()
                if m > 0:  # train_sample=0 skips the training-metric pass (e.g. inside estimators)
                    train_eval = self._evaluate_arrays(*sample, with_details=False)
                    row.update({k: v for k, v in train_eval.items() if k != "loss"})
                if val_xy is not None:
                    ve = self._evaluate_arrays(*val_xy, with_details=False)
                    row.update({f"val_{k}": v for k, v in ve.items()})
                self.model.train()
                logs.update(row)
                cbs.call("on_validation_end", self, logs)
                if self.scheduler.unit == "epoch":
                    self.scheduler.step(self.epoch)
                row["time"] = time.perf_counter() - t0
                self.history.record_epoch(row)
                logs.update(row)
                cbs.call("on_epoch_end", self, logs)
        except StopTraining as stop:
            self.history.stop_reason = stop.reason
            self.stop_requested = stop.reason
            if self.verbose:
                print(stop.reason, flush=True)
        finally:
            if self.reducer is not None:
                self.reducer.detach()
            self.model.train()
            self.model.clear_cache()
            logs.pop("batch_x", None), logs.pop("batch_y", None)
            cbs.call("on_train_end", self, logs)
        if self.history.stop_reason is None:
            self.history.stop_reason = f"completed {self.epoch} epochs"
        return self.history

    def _train_batch(self, xb, yb, b, logs, cbs, sums, share=1.0):
        """One optimizer step on a batch; in a data-parallel fit ``xb`` is this rank's ``share`` of
        the global batch: the loss gradient is scaled by it, so the gradients summed across ranks
        are those of the mean loss over the global batch."""
        if self.augment is not None:
            xb = self.augment(xb, self._augment_rng, train=True)
        logs.update(batch=b, iteration=self.iteration + 1, batch_x=xb, batch_y=yb)
        cbs.call("on_batch_begin", self, logs)
        self.model.zero_grad()
        if self.reducer is not None:
            self.reducer.begin()
        with detect_anomaly(self.model) if self.detect_anomaly else contextlib.nullcontext():
            data_loss = self._forward_backward(xb, yb, logs, cbs, share)
        if self.reducer is not None:  # the gradients and the loss of the global batch
            self.reducer.finish()
            data_loss = float(self.comm.allreduce(np.array([data_loss * share]))[0])
        pen = self.penalty.add_to_grads(self.model) if self.penalty is not None else 0.0
        total = data_loss + pen
        logs.update(loss=total, data_loss=data_loss, penalty=pen)
        cbs.call("after_backward", self, logs)
        self.optimizer.step()
        self.iteration += 1
        cbs.call("after_step", self, logs)
        if self.scheduler.unit == "step":
            self.scheduler.step(self.iteration)
        self.history.record_iteration(total, data_loss, pen, self.optimizer.lr)
        sums["loss"] += total
        sums["data_loss"] += data_loss
        sums["count"] += 1
        cbs.call("on_batch_end", self, logs)

    # -- evaluation ---------------------------------------------------------------------------------------
    def _forward_backward(self, xb, yb, logs, cbs, share=1.0):
        """The batch's data loss, after forward, loss and backward (the gradients accumulated, of
        ``share`` times the loss)."""
        try:
            scores = self.model.forward(xb)
            data_loss = self.loss.forward(scores, yb)
        except NonFiniteError as err:
            self.model.clear_cache()
            if self.detect_anomaly:  # the error already names the first module
                raise
            logs.update(loss=float("nan"), data_loss=float("nan"), penalty=0.0, nonfinite=str(err))
            cbs.call("on_batch_end", self, logs)
            if getattr(err, "_located", False):
                raise
            # no callback stopped training: surface the error with the first module that went non-finite
            where = self.locate_nonfinite(xb, yb)
            located = NonFiniteError(f"{err}\n  {where}", where=err.where)
            located._located = True
            raise located from None
        dloss = self.loss.backward()
        if share != 1.0:
            dloss = dloss * share
        # d(loss)/d(data) is never used: the layer that receives the data does not compute it
        self.model.backward(dloss, need_input_grad=False)
        return data_loss

    def _evaluate_arrays(self, X, y, with_details=True, batch_size=None):
        if batch_size is None:  # a stateful model reads its streams in the batches it trained on
            batch_size = self.batch_size if is_stateful(self.model) and self.batch_size else 1024
        if self.comm.size > 1:  # each rank scores its contiguous part; every rank gets all the scores
            from ..distributed import shard
            rows = shard(np.arange(len(X)), self.comm)
            mine = eval_scores(self.model, X[rows[0]:rows[-1] + 1] if len(rows) else X[:0], batch_size)
            scores = self.comm.allgather(np.ascontiguousarray(as_numpy(mine)))
        else:
            scores = eval_scores(self.model, X, batch_size)
        return metric_fns.evaluate_scores(scores, as_numpy(y), self.loss,
                                          dict(zip(self.metric_names, self.metric_fns)), with_details)

    def evaluate(self, data, y=None, batch_size=None) -> dict:
        """Loss and metrics in eval mode on ``evaluate(X, y)`` or ``evaluate((X, y))`` (raw inputs:
        the trainer's preprocessing is applied); for classification also per-class accuracy and the
        confusion matrix (rows: true class, columns: predicted). ``batch_size`` defaults to 1024,
        and for a stateful model to the batch size it was fitted with (its streams line up)."""
        X, y = self._prepare(*_as_xy(data, "evaluate", y), "evaluate")
        return self._evaluate_arrays(X, y, with_details=True, batch_size=batch_size)

    def predict_scores(self, X, batch_size=1024):
        """Raw model outputs (scores/logits) for the rows of ``X`` (raw inputs: the trainer's
        preprocessing is applied), in eval mode, in batches; 0 rows give 0 rows of scores."""
        X, _ = self._prepare(X, None, "predict", allow_empty=True)
        return eval_scores(self.model, X, batch_size)

    def predict_proba(self, X, batch_size=1024):
        """Class probabilities: softmax of the scores (sigmoid for BCEWithLogits)."""
        s = self.predict_scores(X, batch_size)
        if getattr(self.loss, "target_kind", "") == "binary":
            return sigmoid(s)
        return softmax(s, axis=1)

    def predict(self, X, batch_size=1024):
        """Class labels for classifiers (argmax; 0/1 per output for binary), else raw outputs."""
        s = self.predict_scores(X, batch_size)
        if getattr(self.loss, "target_kind", "") == "binary":
            return (s > 0).astype(np.int64)
        if getattr(self.loss, "is_classifier", False):
            return s.argmax(axis=1)
        return s

    # -- locating NaN ---------------------------------------------------------------------------------------
    def locate_nonfinite(self, xb, yb) -> str:
        """Re-run one batch in anomaly mode (``glassnet.detect_anomaly``) and name the first module
        whose parameters, output or gradient are not finite (a plain-language sentence). The
        model's gradients and mode are left as they were."""
        if xb is None:
            return "no batch to diagnose"
        if not all_finite(xb):
            return "the input batch itself contains NaN/inf"
        was_training = self.model.training
        saved_grads = [(p, p._grad) for p in self.model.parameters()]
        try:
            with detect_anomaly(self.model):
                self.model.zero_grad()
                try:
                    scores = self.model.forward(xb)
                    self.loss.forward(scores, yb)
                    self.model.backward(self.loss.backward(), need_input_grad=False)
                except NonFiniteError as err:
                    return str(err) if str(err).startswith("first non-finite") else \
                        f"first non-finite value found by {err.where or 'a layer'}"
            return "the forward and backward passes of this batch are finite now (the loss or penalty overflowed)"
        finally:
            for p, g in saved_grads:
                p.grad = g
            self.model.clear_cache()
            self.model.train(was_training)

    # -- checkpoints ------------------------------------------------------------------------------------------
    def save_checkpoint(self, path):
        """Atomically write the full training state: model, optimizer, schedule position, epoch
        and iteration, all RNG states, history and callback states. In a data-parallel fit only
        rank 0 writes (the ranks hold the same state); the path is returned on every rank."""
        if not self.is_main:
            return os.fspath(path)
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        prep_arrays, prep_cfg = preprocessing_arrays_meta(self.preprocessing)
        arrays.update(prep_arrays)
        osd = self.optimizer.state_dict()
        arrays.update({f"optim/{k}": v for k, v in osd.pop("state").items()})
        cb_states = []
        for i, cb in enumerate(self.callbacks):
            st = dict(cb.state_dict())
            for k, v in (st.pop("arrays", None) or {}).items():
                arrays[f"callback{i}/{k}"] = v
            cb_states.append({"type": type(cb).__name__, "state": st, "stateful": _keeps_state(cb)})
        try:
            arch = self.model.config()
        except (NotImplementedError, TypeError):
            arch = None
        meta = {"kind": "checkpoint", "architecture": arch, "dtype": str(self.model.dtype),
                "epoch": self.epoch, "iteration": self.iteration, "seed": self.seed,
                "optimizer": osd, "scheduler": self.scheduler.state_dict(), "rng": self._rng_states(),
                "history": self.history.to_dict(), "callbacks": cb_states, "preprocessing": prep_cfg,
                "extra": {"loss": self._loss_config()},
                "parameter_names": [n for n, _ in self.model.named_parameters()], "ranks": self.comm.size}
        write_archive(path, arrays, meta)
        return os.fspath(path)

    def _loss_config(self):
        try:
            return self.loss.config()
        except (NotImplementedError, AttributeError):
            return None

    def load_checkpoint(self, path):
        """Restore a checkpoint written by ``save_checkpoint`` into this trainer."""
        arrays, meta = read_archive(path)
        if meta.get("kind") != "checkpoint":
            raise CheckpointError(f"{path}: holds a {meta.get('kind')!r}, not a training checkpoint")
        names = [n for n, _ in self.model.named_parameters()]
        if meta.get("parameter_names") != names:
            raise CheckpointError(f"{path}: written for a model with parameters {meta.get('parameter_names')}, "
                                  f"but this model has {names}")
        model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        try:
            self.model.load_state_dict(model_state, strict=True)
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"{path}: model state does not fit: {err}") from None
        osd = dict(meta["optimizer"])
        osd["state"] = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
        try:
            self.optimizer.load_state_dict(osd)
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"{path}: optimizer state does not fit: {err}") from None
        # the callbacks that keep state (early stopping, checkpoints, averaging...) must match; stateless
        # ones (progress, a live page, clipping) may come and go between a run and its resume
        saved_cbs = [(i, c) for i, c in enumerate(meta.get("callbacks", []))
                     if c.get("stateful", bool(c["state"]) or any(k.startswith(f"callback{i}/") for k in arrays))]
        current = [cb for cb in self.callbacks if _keeps_state(cb)]
        if [c["type"] for _, c in saved_cbs] != [type(cb).__name__ for cb in current]:
            raise CheckpointError(f"{path}: written with callbacks {[c['type'] for _, c in saved_cbs]} (those that "
                                  f"keep state), this trainer has {[type(cb).__name__ for cb in current]}")
        for cb, (i, saved) in zip(current, saved_cbs):
            st = dict(saved["state"])
            prefix = f"callback{i}/"
            cb_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            if cb_arrays:
                st["arrays"] = cb_arrays
            cb.load_state_dict(st)
        self.scheduler.load_state_dict(meta["scheduler"])
        self._set_rng_states(meta["rng"])
        self.history = History.from_dict(meta["history"])
        self.epoch, self.iteration = int(meta["epoch"]), int(meta["iteration"])
        if meta.get("preprocessing"):
            if self.preprocessing is None:
                raise CheckpointError(f"{path}: written by a trainer with preprocessing "
                                      f"{meta['preprocessing'].get('type')}; this trainer has none")
            self.preprocessing = preprocessing_from(arrays, meta)
        return meta
