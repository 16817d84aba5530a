"""The search driver: sample trials, hand them to an executor, record every result.

The driver does all sampling (and Optuna's ask/tell for TPE) and all record writing; workers
only run ``objective(params, seed, epochs, trial_dir)`` and return a dict with ``score``
(higher is better with ``mode="max"``), optional ``metrics`` (per-epoch history) and
``checkpoint``. Trials are derived from the search seed alone, so random and grid searches
give the same trials (params and seeds) under every executor; TPE's proposals depend on the
order in which results come back. A search folder can be run again with the same settings: the
trials already done are kept, the rest run.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import os
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, SearchError
from .._checks import check_int, check_number
from ..train.runfolder import FolderLock
from .executors import SerialExecutor
from .space import Choice, Fixed, Space
from .store import TrialStore

__all__ = ["Search", "SearchResult", "border_warnings", "leaderboard"]

STRATEGIES = ("random", "grid", "coarse-to-fine", "tpe")


def _count(value, name, minimum=1):
    try:
        return check_int(value, name, "Search", lo=minimum)
    except ConfigError as err:  # a search's own error type, the same message
        raise SearchError(str(err)) from None


def trial_seed(seed, stage, index):
    return int(np.random.SeedSequence([int(seed), int(stage), int(index)]).generate_state(1)[0] & 0x7FFFFFFF)


def run_trial(objective, params, seed, epochs, trial_dir):
    """Worker side: run one trial; any exception or a non-finite score becomes an error record
    (the search goes on)."""
    t0 = time.perf_counter()
    try:
        os.makedirs(trial_dir, exist_ok=True)
        out = objective(params, seed, epochs, trial_dir)
        if not isinstance(out, dict) or "score" not in out:
            raise TypeError(f"the objective must return a dict with a 'score', got {type(out).__name__}")
        score = float(out["score"])
        if not math.isfinite(score):
            return {"error": f"the score is {score} (not finite)", "metrics": out.get("metrics", {}),
                    "duration": time.perf_counter() - t0}
        return {"score": score, "metrics": out.get("metrics", {}), "checkpoint": out.get("checkpoint"),
                "duration": time.perf_counter() - t0}
    except Exception as err:  # the trial failed; the search records it and goes on
        tb = traceback.format_exc(limit=4)
        return {"error": f"{type(err).__name__}: {err}\n{tb}", "duration": time.perf_counter() - t0}


@dataclass
class SearchResult:
    trials: list = field(default_factory=list)  # every row of the store, in order
    best: dict | None = None
    warnings: list = field(default_factory=list)
    folder: str = ""

    def table(self, top=None):
        return leaderboard(self.trials, top)

    def __repr__(self):
        done = sum(r["status"] == "done" for r in self.trials)
        return f"SearchResult({len(self.trials)} trials, {done} done, folder {self.folder!r})\n{self.table()}"

    def _repr_html_(self):
        from ..report.notebook import search_html
        return search_html(self)


def leaderboard(rows, top=None, mode="max"):
    """The trials as a text table sorted by score (failed trials last, with their error)."""
    done = [r for r in rows if r["status"] == "done"]
    done.sort(key=lambda r: -r["score"] if mode == "max" else r["score"])
    others = [r for r in rows if r["status"] != "done"]
    shown = done[:top] if top else done
    names = sorted({k for r in rows for k in r["params"]})
    head = f"{'rank':>4} {'trial':>8} {'score':>8} {'epochs':>6} " + " ".join(f"{n[-14:]:>14}" for n in names)
    lines = [head, "-" * len(head)]
    for i, r in enumerate(shown, 1):
        vals = " ".join(f"{_fmt(r['params'].get(n)):>14}" for n in names)
        lines.append(f"{i:>4} {r['key']:>8} {r['score']:>8.4f} {_epochs(r):>6} {vals}")
    for r in others:
        err = (r["error"] or "").splitlines()[0][:60] if r["error"] else ""
        lines.append(f"{'-':>4} {r['key']:>8} {r['status'][:8]:>8} {_epochs(r):>6} {err}")
    return "\n".join(lines)


def _epochs(row):
    """The epochs a trial ran (its history), else the epochs it was given, else blank."""
    hist = (row.get("metrics") or {}).get("epochs")
    if isinstance(hist, list) and hist:
        return str(len(hist))
    return str(row["epochs"]) if row.get("epochs") else ""


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def border_warnings(space, rows, mode="max", top=None, edge=0.15):
    """A warning for every numeric hyperparameter whose best values (the best tenth of the
    trials, at least 3) all sit in the outer ``edge`` of its range (on the log scale for log
    dimensions): the optimum may lie outside the range."""
    done = [r for r in rows if r["status"] == "done"]
    if len(done) < 3:
        return []
    done.sort(key=lambda r: -r["score"] if mode == "max" else r["score"])
    best = done[:top or max(3, len(done) // 10)]
    out = []
    for name, d in space.dims.items():
        if isinstance(d, (Choice, Fixed)):
            continue
        us = [d.to_unit(r["params"][name]) for r in best if name in r["params"]]
        if not us:
            continue
        if max(us) <= edge:
            out.append(f"{name}: the best trials all sit at the low end of its range [{d.low:g}, {d.high:g}] "
                       f"(best {_fmt(best[0]['params'][name])}); widen the range downwards")
        elif min(us) >= 1 - edge:
            out.append(f"{name}: the best trials all sit at the high end of its range [{d.low:g}, {d.high:g}] "
                       f"(best {_fmt(best[0]['params'][name])}); widen the range upwards")
    return out


class Search:
    """``Search(objective, space, folder, strategy="random", trials=20, epochs=None, seed=0)``.

    ``strategy``: "random" (default; the notes prefer it to grids), "grid" (``grid_points`` per
    numeric dimension, jittered within each cell), "coarse-to-fine" (``stages`` = [(trials,
    epochs), ...]; each stage narrows every range around its best ``keep`` fraction, on the log
    scale for log dimensions) or "tpe" (Optuna's TPE sampler through ask/tell).
    ``executor``: a ``concurrent.futures.Executor`` (see ``glassnet.tune.executors``); default
    serial. ``time_budget`` (seconds) stops submitting new trials once spent.
    """

    def __init__(self, objective, space, folder, strategy="random", trials=20, epochs=None, seed=0, mode="max",
                 stages=None, grid_points=3, keep=0.25, margin=0.1, executor=None, jobs=1, time_budget=None,
                 verbose=1):
        if strategy not in STRATEGIES:
            raise SearchError(f"Search: strategy must be one of {STRATEGIES}, got {strategy!r}")
        if mode not in ("max", "min"):
            raise SearchError(f"Search: mode must be 'max' or 'min', got {mode!r}")
        if not callable(objective):
            raise SearchError(f"Search: objective must be callable, got {type(objective).__name__}")
        self.objective = objective
        self.space = space if isinstance(space, Space) else Space(space)
        self.folder = os.fspath(folder)
        trials = _count(trials, "trials")
        epochs = None if epochs is None else _count(epochs, "epochs")
        self.strategy, self.trials, self.epochs, self.mode = strategy, trials, epochs, mode
        self.seed = _count(seed, "seed", 0)
        if strategy == "coarse-to-fine":
            stages = stages or [(trials, epochs), (max(2, trials // 2), (epochs or 1) * 3)]
            if not isinstance(stages, (list, tuple)) or not all(isinstance(s, (list, tuple)) and len(s) == 2
                                                                   for s in stages):
                raise SearchError(f"Search: stages must be a list of (trials, epochs) pairs, got {stages!r}")
            self.stages = [(_count(n, "stages' trials"), None if e is None else _count(e, "stages' epochs"))
                           for n, e in stages]
        else:
            self.stages = [(self.trials, epochs)]
        self.grid_points = _count(grid_points, "grid_points", 2)
        self.keep = check_number(keep, "keep", "Search", lo=0.0, hi=1.0, lo_open=True)
        self.margin = check_number(margin, "margin", "Search", lo=0.0)
        self.executor = executor
        self.jobs = _count(jobs, "jobs")
        if time_budget is not None:
            check_number(time_budget, "time_budget", "Search", lo=0.0, lo_open=True)
        self.time_budget = time_budget
        self.verbose = verbose

    # -- identity ---------------------------------------------------------------------------------
    def _identity(self):
        """What makes two runs the same search (the trial count is not part of it: a search can be
        continued with more trials, as trial i is derived from the seed and i alone)."""
        return {"strategy": self.strategy, "seed": self.seed, "space": self.space.config(),
                "stage_epochs": [e for _, e in self.stages], "mode": self.mode, "grid_points": self.grid_points}

    def _log(self, msg):
        if self.verbose:
            print(msg, flush=True)

    # -- trial generation --------------------------------------------------------------------------
    def _stage_space(self, store, stage):
        space = self.space
        for s in range(stage):
            rows = [r for r in store.rows(status="done", stage=s)]
            if not rows:
                break
            rows.sort(key=lambda r: -r["score"] if self.mode == "max" else r["score"])
            best = rows[:max(1, int(math.ceil(self.keep * len(rows))))]
            space = space.narrowed([r["params"] for r in best], self.margin)
        return space

    def _specs(self, store, stage):
        n, epochs = self.stages[stage]
        if self.strategy == "grid":
            params = self.space.grid(self.grid_points, np.random.default_rng([self.seed, stage]))
        else:
            space = self._stage_space(store, stage)
            rng = np.random.default_rng([self.seed, stage])
            params = [space.sample(rng) for _ in range(n)]
        return [(f"s{stage}-{i:04d}", stage, p, trial_seed(self.seed, stage, i), epochs) for i, p in enumerate(params)]

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        """Run (or continue) the search until ``trials`` trials have finished; the folder is locked
        meanwhile, so a second driver on it is refused."""
        with FolderLock(self.folder, "search"):
            return self._run()

    def _run(self) -> SearchResult:
        store = TrialStore(os.path.join(self.folder, "trials.sqlite"))
        try:
            ident = store.get_meta("search")
            if ident is None:
                store.set_meta("search", self._identity())
            elif ident != _json_round(self._identity()):
                raise SearchError(f"Search: {self.folder} holds another search (different space, seed or strategy); "
                                 f"use a new folder")
            if self.strategy == "tpe":  # TPE proposes anew from what has finished: replace, do not re-run
                left = store.rows(status="running") + store.rows(status="pending")
                for r in left:
                    store.interrupt(r["key"], "interrupted before it finished (the search was stopped); TPE "
                                              "replaces it with a new proposal")
                if left:
                    self._log(f"{len(left)} trial(s) interrupted by an earlier stop will be replaced by new proposals")
            else:
                requeued = store.recover()
                if requeued:
                    self._log(f"re-queued {requeued} trial(s) left running by an interrupted search")
            executor = self.executor or SerialExecutor()
            t0 = time.perf_counter()
            for stage in range(len(self.stages)):
                if self.strategy == "tpe":
                    self._run_tpe(store, executor, t0)
                    break
                specs = self._specs(store, stage)
                for key, st, params, seed, epochs in specs:
                    store.add(key, st, params, seed, epochs)
                # only the trials asked for now: rows queued by an earlier, larger request wait
                self._run_pending(store, executor, stage, t0, {s[0] for s in specs})
            rows = store.rows()
            result = SearchResult(trials=rows, folder=self.folder)
            done = [r for r in rows if r["status"] == "done"]
            if done:
                result.best = max(done, key=lambda r: r["score"]) if self.mode == "max" else \
                    min(done, key=lambda r: r["score"])
            final_stage = [r for r in rows if r["stage"] == len(self.stages) - 1] if self.strategy == "coarse-to-fine" \
                else rows
            # against the ranges the user wrote (a narrowed stage's borders are not a reason to widen)
            result.warnings = border_warnings(self.space, final_stage, self.mode)
            return result
        finally:
            store.close()

    def _budget_left(self, t0):
        return self.time_budget is None or time.perf_counter() - t0 < self.time_budget

    def _run_pending(self, store, executor, stage, t0, keys):
        pending = [r for r in store.rows(status="pending", stage=stage) if r["key"] in keys]
        futures = {}
        it = iter(pending)
        width = getattr(executor, "_max_workers", self.jobs) or 1

        def submit_next():
            if not self._budget_left(t0):
                return False
            row = next(it, None)
            if row is None:
                return False
            store.mark_running(row["key"])
            trial_dir = os.path.join(self.folder, "trials", row["key"])
            fut = executor.submit(run_trial, self.objective, row["params"], row["seed"], row["epochs"], trial_dir)
            futures[fut] = row
            return True

        for _ in range(width):
            if not submit_next():
                break
        while futures:
            done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                row = futures.pop(fut)
                self._record(store, row, fut)
                submit_next()
        if not self._budget_left(t0):
            self._log("time budget spent: no new trials started")

    def _record(self, store, row, fut):
        try:
            out = fut.result()
        except Exception as err:  # the worker itself died (e.g. killed, out of memory)
            out = {"error": f"{type(err).__name__}: {err}"}
        if "error" in out:
            store.fail(row["key"], out["error"], out.get("duration"), out.get("metrics"))
            self._log(f"trial {row['key']} failed: {out['error'].splitlines()[0]}")
        else:
            store.finish(row["key"], out["score"], out.get("metrics"), out.get("duration"), out.get("checkpoint"))
            self._log(f"trial {row['key']} score {out['score']:.4f} " +
                      " ".join(f"{k}={_fmt(v)}" for k, v in row["params"].items()))
        return out

    def _run_tpe(self, store, executor, t0):
        try:
            import optuna
        except ImportError:
            raise ImportError("strategy='tpe' needs Optuna: pip install 'glassnet[optuna]'") from None
        from .space import IntUniform, LogInt, LogUniform, OneMinusLogUniform, Uniform

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize" if self.mode == "max" else "minimize",
                                    sampler=optuna.samplers.TPESampler(seed=self.seed))
        dists = self._distributions(optuna)
        for r in store.rows(status="done"):  # a resumed search teaches TPE what it already knows
            known = {}
            for name, v in r["params"].items():
                if f"{name}__1m" in dists:
                    known[f"{name}__1m"] = 1 - v
                elif name in dists:
                    known[name] = v
            study.add_trial(optuna.trial.create_trial(params=known, distributions=dists, value=r["score"]))

        def ask():
            t = study.ask()
            p = {}
            for name, d in self.space.dims.items():
                if isinstance(d, Fixed):
                    p[name] = d.value
                elif isinstance(d, Choice):
                    p[name] = t.suggest_categorical(name, d.options)
                elif isinstance(d, OneMinusLogUniform):
                    p[name] = 1 - t.suggest_float(f"{name}__1m", 1 - d.high, 1 - d.low, log=True)
                elif isinstance(d, (LogInt, IntUniform)):
                    p[name] = t.suggest_int(name, int(d.low), int(d.high), log=isinstance(d, LogInt))
                elif isinstance(d, (LogUniform, Uniform)):
                    p[name] = t.suggest_float(name, d.low, d.high, log=isinstance(d, LogUniform))
            return t, p

        finished = store.count()  # done or failed: what counts towards the trials asked for
        index = len(store.rows())  # keys continue after every row, the interrupted ones included
        futures = {}
        while True:
            while finished + len(futures) < self.trials and len(futures) < self.jobs and self._budget_left(t0):
                t, params = ask()
                key = f"s0-{index:04d}"
                seed = trial_seed(self.seed, 0, index)
                index += 1
                store.add(key, 0, params, seed, self.epochs)
                store.mark_running(key)
                row = {"key": key, "params": params, "seed": seed}
                fut = executor.submit(run_trial, self.objective, params, seed, self.epochs,
                                      os.path.join(self.folder, "trials", key))
                futures[fut] = (row, t)
            if not futures:
                break
            done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                row, t = futures.pop(fut)
                out = self._record(store, row, fut)
                finished += 1
                if "error" in out:
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(t, out["score"])

    def _distributions(self, optuna):
        from .space import IntUniform, LogInt, LogUniform, OneMinusLogUniform

        dist = {}
        for name, d in self.space.dims.items():
            if isinstance(d, Choice):
                dist[name] = optuna.distributions.CategoricalDistribution(d.options)
            elif isinstance(d, OneMinusLogUniform):
                dist[f"{name}__1m"] = optuna.distributions.FloatDistribution(1 - d.high, 1 - d.low, log=True)
            elif isinstance(d, (LogInt, IntUniform)):
                dist[name] = optuna.distributions.IntDistribution(int(d.low), int(d.high), log=isinstance(d, LogInt))
            elif isinstance(d, LogUniform):
                dist[name] = optuna.distributions.FloatDistribution(d.low, d.high, log=True)
            elif not isinstance(d, Fixed):
                dist[name] = optuna.distributions.FloatDistribution(d.low, d.high)
        return dist


def _json_round(x):
    import json
    return json.loads(json.dumps(x))
