"""The ``glassnet`` command line: demo, train, evaluate, predict, gradcheck, doctor, report, tune, trials,
ensemble.

Exit status: 0 done; 1 a check that failed (gradcheck, doctor --sanity) or an error of the machine
(a full disk, no memory); 2 a user's mistake, printed as one line ``error: <what>: expected <x>,
got <y>`` (a config field, a file, the data); 130 interrupted (Ctrl-C; the command says how to
resume); 141 the reader of the output went away (``| head``). A traceback appears only for a bug
in glassnet, or for anything with ``--debug``.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


# -- helpers -------------------------------------------------------------------------------------------------
def _read_arrays(path, what):
    """An .npy array or the arrays of an .npz file; every failure is a DataError naming the file."""
    import zipfile

    import numpy as np

    from .errors import DataError

    if not os.path.exists(path):
        raise DataError(f"{what} {path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded as z:
                return {k: z[k] for k in z.files}
        return loaded
    except ValueError as err:
        if "allow_pickle" in str(err) or "pickled" in str(err):
            raise DataError(f"{what} {path}: holds Python objects (pickled), not plain arrays; save numbers with "
                            f"np.save / np.savez") from None
        raise DataError(f"{what} {path}: cannot be read as .npy/.npz ({err})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError, RuntimeError) as err:
        raise DataError(f"{what} {path}: cannot be read as .npy/.npz ({type(err).__name__}: {err})") from None


def _pick(arrays, names, path, what):
    from .errors import DataError

    for n in names:
        if n in arrays:
            return arrays[n]
    raise DataError(f"{what} {path}: needs an array named {' or '.join(names)}; found {sorted(arrays)}")


def _load_model(path):
    """(model, preprocessing or None, loss) from a model file or checkpoint."""
    from .nn import SoftmaxCrossEntropy, build
    from .serialization import load

    model, prep, extra = load(path, with_preprocessing=True, return_extra=True)
    loss_cfg = extra.get("loss")
    loss = build(loss_cfg, "loss") if isinstance(loss_cfg, dict) else SoftmaxCrossEntropy()  # saved by train
    return model, prep, loss


def _hint_resume(args, out):
    """What an interrupted run should say: how to resume it, or that nothing was saved yet."""
    def hint():
        if os.path.exists(os.path.join(out, "checkpoints", "last.npz")):
            return f"the last complete epoch is saved; resume with: glassnet train --resume {out}"
        return f"no epoch had finished, so nothing was saved; start again with --out {out} --force"
    args.resume_hint = hint


def _run_and_report(args, cfg, out, resume, force, title, live=None):
    from .train.run import run, summary_lines

    _hint_resume(args, out)
    if live is not None and _main_rank():
        print(f"live page: file://{os.path.abspath(os.path.join(out, 'report.html'))} (updated every {live:g} s)",
              flush=True)
    metrics = run(cfg, out, resume=resume, force=force, live=live)
    if not _main_rank():  # a data-parallel job: rank 0 reports
        return metrics
    print(f"\n{title}")
    for line in summary_lines(metrics):
        print(line)
    print(f"  run folder: {os.path.abspath(out)} (config.json, history.json, metrics.json, model.npz, "
          f"checkpoints/, monitor.json, findings.json)")
    findings = metrics.get("findings") or []
    serious = [f for f in findings if not f.startswith("[info]")]
    notes = len(findings) - len(serious)
    more = f" ({notes} note(s) worth knowing: glassnet doctor {out})" if notes else ""
    print("  the doctor: " + ("the run looks healthy" if not serious else f"{len(serious)} finding(s)") + more)
    for line in serious:
        print(f"    {line}")
    if metrics.get("report"):
        print(f"  report: {os.path.abspath(metrics['report'])}")
    return metrics


# -- commands ------------------------------------------------------------------------------------------------
def _cmd_demo(args) -> int:
    from .train.run import DEMO_CONFIG
    from .train.runfolder import fresh_folder, holds_run

    cfg = json.loads(json.dumps(DEMO_CONFIG))
    if args.epochs is not None:
        cfg["trainer"]["epochs"] = args.epochs
    out = args.out
    if out is None:  # the demo's folder, or a fresh one next to it: an earlier demo is never replaced
        out = "glassnet-demo" if not holds_run("glassnet-demo") else fresh_folder(".", "glassnet-demo")
    print("glassnet demo: a 40-256-256-10 MLP (He init, BatchNorm, dropout 0.2) trained with Adam, L2 1e-2,\n"
          "a cosine schedule and early stopping on standardized MNIST-1D (4000 train / 1000 test signals;\n"
          "published baselines: logistic regression 32%, MLP 68%, CNN 94%).\n")
    metrics = _run_and_report(args, cfg, out, False, args.force, "Summary")
    acc = metrics.get("test", {}).get("accuracy")
    if acc is not None:
        print(f"  test accuracy {acc * 100:.1f}% (published MLP baseline 68%)")
    return 0


def _cmd_train(args) -> int:
    from .errors import ConfigError, RunFolderError
    from .train.run import load_config
    from .train.runfolder import fresh_folder

    if args.resume:
        if args.out:
            raise ConfigError("--out: not used with --resume (the run continues in its own folder)")
        if args.force:
            raise ConfigError("--force: not used with --resume (resuming keeps the run's files)")
        path = os.path.join(args.resume, "config.json")
        if not os.path.exists(path):
            raise RunFolderError(f"--resume: {args.resume} has no config.json; is it a glassnet run folder?")
        # a CONFIG given with --resume replaces the run's (e.g. more epochs); it must describe the same model
        cfg = load_config(args.config) if args.config else load_config(path)
        out = args.resume
    else:
        if not args.config:
            raise ConfigError("train: give a CONFIG file (TOML or YAML), or --resume RUN_DIR")
        cfg = load_config(args.config)
        name = cfg.get("name") if isinstance(cfg.get("name"), str) else None
        out = args.out or fresh_folder("runs", name or os.path.splitext(os.path.basename(args.config))[0])
    if args.detect_anomaly:
        if not isinstance(cfg.get("trainer", {}), dict):
            raise ConfigError(f"trainer: expected a table, got {type(cfg['trainer']).__name__}")
        cfg = {**cfg, "trainer": {**cfg.get("trainer", {}), "detect_anomaly": True}}
    _run_and_report(args, cfg, out, bool(args.resume), args.force, "Summary", live=args.live)
    return 0


def _cmd_evaluate(args) -> int:
    from .nn import eval_scores
    from .train.metrics import accuracy, evaluate_scores, mse
    from .train.trainer import check_data

    model, prep, loss = _load_model(args.model)
    data = _read_arrays(args.data, "--data")
    if not isinstance(data, dict):
        from .errors import DataError
        raise DataError(f"--data {args.data}: expected an .npz with arrays X and y (or X_test and y_test), got "
                        f"one .npy array")
    X = _pick(data, ("X", "X_test"), args.data, "--data")
    y = _pick(data, ("y", "y_test"), args.data, "--data")
    X, y = check_data(model, X, y, who=f"evaluate {args.data}", target_kind=loss.target_kind, preprocessing=prep)
    metrics = {"accuracy": accuracy} if loss.is_classifier else {"mse": mse}
    out = {"loss_function": type(loss).__name__, "n": int(len(X)),
           **evaluate_scores(eval_scores(model, X), y, loss, metrics)}
    print(json.dumps(out, indent=2))
    return 0


def _cmd_predict(args) -> int:
    import numpy as np

    from .errors import RunFolderError
    from .functional import sigmoid, softmax
    from .nn import eval_scores
    from .train.trainer import check_data

    if args.out and os.path.exists(args.out) and not args.force:
        raise RunFolderError(f"--out {args.out}: exists; pass --force to replace it or pick another file")
    model, prep, loss = _load_model(args.model)
    X = _read_arrays(args.input, "input")
    if isinstance(X, dict):
        X = _pick(X, ("X", "X_test"), args.input, "input")
    X, _ = check_data(model, X, None, who=f"predict {args.input}", preprocessing=prep, allow_empty=True)
    scores = eval_scores(model, X).astype(np.float64)
    if not loss.is_classifier and loss.target_kind != "binary":
        result = {"predictions": scores}
        lines = ["\t".join(f"{v:.6g}" for v in row) for row in scores]
    elif loss.target_kind == "binary":
        probs = sigmoid(scores)
        result = {"predictions": (scores > 0).astype(np.int64), "probabilities": probs}
        lines = ["\t".join(f"{p:.4f}" for p in row) for row in probs]
    else:
        probs = softmax(scores, axis=1)
        pred = probs.argmax(1)
        result = {"predictions": pred, "probabilities": probs}
        lines = [f"{p}\t{pr[p]:.4f}" for p, pr in zip(pred, probs)]
    if args.out:
        from .serialization import atomic_savez
        atomic_savez(args.out, **result)
        print(f"wrote {len(scores)} predictions to {args.out}")
    elif lines:
        print("\n".join(lines))
    return 0


def _cmd_gradcheck(args) -> int:
    from .gradcheck import check_builtins, format_table

    results = check_builtins(seed=args.seed)
    print("Gradient check of every built-in layer and loss: float64, centered differences (h=1e-5),\n"
          "relative error |a-n|/max(|a|,|n|) per element (raw), and the same after allowing for the\n"
          "finite differences' own rounding noise (graded against 1e-7, or 1e-5 with kinks)")
    print(format_table(results))
    if args.verbose:
        for _, r in results:
            print()
            print(r)
    return 0 if all(r.passed for _, r in results) else 1


def _cmd_doctor(args) -> int:
    from .doctor import examine, format_findings
    from .errors import ConfigError

    if args.sanity:
        if args.run_dir:
            raise ConfigError("doctor: give a run folder or --sanity CONFIG, not both")
        if args.try_fix or args.epochs is not None:
            raise ConfigError("doctor: --try-fix and --epochs work on a run folder, not with --sanity")
        from .config import build_object, registries
        from .doctor import sanity_checks
        from .train.run import load_config, prepare

        parts = prepare(load_config(args.sanity))
        X, y = parts["train"]
        opt_cfg = parts["config"]["optimizer"]  # the run's own optimizer and learning rate
        checks = sanity_checks(parts["model"], parts["loss"], X, y, penalty=parts["penalty"], val=parts["val"],
                               make_optimizer=lambda m: build_object(opt_cfg, registries()["optimizer"], "optimizer",
                                                                     extra=(m,)),
                               batch_size=min(parts["config"]["trainer"]["batch_size"], len(X)),
                               optimizer=parts["optimizer"])
        print(f"Sanity checks of {args.sanity} before training:")
        for c in checks:
            print(f"  {c}")
        failed = [c for c in checks if not c.passed]
        for c in failed:
            if c.finding is not None:
                print()
                print(c.finding)
        # exit 1 only for a check whose failure is unambiguous (an error); warnings are for reading
        return 1 if any(c.finding is not None and c.finding.severity == "error" for c in failed) else 0
    if not args.run_dir:
        raise ConfigError("doctor: give a run folder (glassnet doctor RUN_DIR) or --sanity CONFIG")
    if args.epochs is not None and not args.try_fix:
        raise ConfigError("doctor: --epochs is for --try-fix")
    if args.try_fix:
        return _try_fix(args)
    findings = examine(args.run_dir, baseline_error=args.baseline_error)
    print(format_findings(findings))
    return 0


def _try_fix(args) -> int:
    from .doctor import try_fix
    from .doctor.fix import REMEDIES

    args.resume_hint = lambda: "the original run is untouched"
    print(f"glassnet doctor --try-fix: re-running {args.run_dir} with the first finding's remedy applied ...")
    r = try_fix(args.run_dir, epochs=args.epochs, baseline_error=args.baseline_error)
    print(f"\nfinding: [{r.finding.severity}] {r.finding.what}")
    print(f"remedy:  {REMEDIES[r.finding.data['fix']][0]}: {r.change}")
    print(f"\nper epoch, the original run (before) against the remedied one (after), {len(r.after)} epochs:")
    print(r.table())
    print(r.verdict())
    for split in ("train", "val", "test"):
        b, a = r.before_metrics.get(split), r.after_metrics.get(split)
        if b and a:
            key = "accuracy" if "accuracy" in a else "loss"
            print(f"  {split:<5} {key}: {b[key]:.4f} (the original run, all its epochs) -> {a[key]:.4f} "
                  f"(with the remedy, {len(r.after)} epochs)")
    print(f"\nthe remedied run: {os.path.abspath(r.folder)} (tryfix.json compares the two; the original is untouched)")
    return 0


def _run_config(folder):
    """The config.json of a run folder: a DataNotFoundError when it has none, a RunFolderError when
    it is damaged."""
    from .train.runfolder import read_run_file
    return read_run_file(folder, "config.json")


def _cmd_report(args) -> int:
    from .report import write_report
    from .train.run import input_shape, prepare

    folder = args.run_dir
    cfg = _run_config(folder)
    parts = prepare(cfg)  # reloads the data (and its fitted preprocessing) for the confusion matrix
    data = parts["val"] if parts["val"] is not None else parts["test"]
    shape = input_shape(parts["config"], parts["train"][0])
    out = args.out or os.path.join(folder, "report.html")
    existed = os.path.exists(out)
    write_report(folder, out, data=data, input_shape=tuple(shape) if shape else None,
                 baseline_error=args.baseline_error, title=cfg.get("name"),
                 data_name="validation" if parts["val"] is not None else "test")
    print(f"wrote {os.path.abspath(out)}" + (" (replacing the previous report)" if existed else ""))
    if args.tensorboard:
        from .report import write_tensorboard
        write_tensorboard(folder, args.tensorboard)
        print(f"wrote TensorBoard event files to {os.path.abspath(args.tensorboard)}")
    return 0


def _cmd_compare(args) -> int:
    from .report.compare import write_compare

    out = args.out or "glassnet-compare.html"
    existed = os.path.exists(out)
    write_compare(args.runs, out)
    print(f"wrote {os.path.abspath(out)}" + (" (replacing the previous comparison)" if existed else ""))
    return 0


def _cmd_viz(args) -> int:
    import html as _html

    from .errors import DataError, RunFolderError
    from .serialization import atomic_write_text, load
    from .viz.page import section, section_html

    folder = args.run_dir
    model_path = os.path.join(folder, "model.npz")
    if not os.path.exists(model_path):
        raise RunFolderError(f"{folder}: has no model.npz; is it a glassnet run folder?")
    if args.data:
        import numpy as np
        try:
            with np.load(args.data, allow_pickle=False) as f:
                if "X" not in f:
                    raise DataError(f"{args.data}: expected arrays X (inputs) and y (labels) in the .npz file, got "
                                    f"{sorted(f.files)}")
                X, y = f["X"], (f["y"] if "y" in f else None)
        except (OSError, ValueError) as err:
            if isinstance(err, DataError):
                raise
            raise DataError(f"{args.data}: not a readable .npz file with X and y ({err})") from None
        model, prep, _ = load(model_path, with_preprocessing=True, return_extra=True)
        if prep is not None:
            X = prep.transform(X)
    else:
        from .train.run import prepare
        parts = prepare(_run_config(folder))  # the run's own data, with its fitted preprocessing
        X, y = parts["val"] if parts["val"] is not None else parts["test"]
        model = load(model_path, with_preprocessing=False)
    if args.layer is not None:  # a name that is not in the model: said before any work
        from .viz._common import find_layer
        find_layer(model, args.layer, "glassnet viz --layer")
    body = section_html(section(model, X, y, layer=args.layer))
    out = args.out or os.path.join(folder, "viz.html")
    existed = os.path.exists(out)
    name = os.path.basename(os.path.abspath(folder))
    atomic_write_text(out, f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>What {_html.escape(name)} "
                           f"learned</title></head><body style='font-family:system-ui,sans-serif;max-width:1100px;"
                           f"margin:2em auto'><h1>What {_html.escape(name)} learned</h1>\n{body}</body></html>")
    print(f"wrote {os.path.abspath(out)}" + (" (replacing the previous page)" if existed else ""))
    return 0


#: search settings that may change between two drivers of one search folder
_RUN_SETTINGS = ("trials", "jobs", "executor", "address", "time_budget")


def _same_search(old, new):
    """The first config path where two search configs differ (ignoring how the search is run), or None."""
    def strip(cfg):
        cfg = json.loads(json.dumps(cfg))
        for k in _RUN_SETTINGS:
            cfg.get("search", {}).pop(k, None)
        return cfg

    def diff(a, b, path):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                d = diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)
                if d:
                    return d
            return None
        return None if a == b else path or "the config"
    return diff(strip(old), strip(new), "")


def _cmd_summary(args) -> int:
    from .errors import ConfigError
    from .models import summary
    from .train.run import load_config, prepare

    target = args.target
    shape = _shape_arg(args.input_shape) if args.input_shape else None
    optimizer = args.optimizer
    batch = args.batch_size
    if os.path.isdir(target) or os.path.splitext(target)[1].lower() in (".toml", ".yaml", ".yml", ".json"):
        cfg = _run_config(target) if os.path.isdir(target) else load_config(target)
        parts = prepare(cfg)  # checks the config and loads the data: its example shape is the input shape
        model = parts["model"]
        shape = shape or tuple(int(s) for s in parts["train"][0].shape[1:])
        batch = batch or parts["config"]["trainer"]["batch_size"]
        optimizer = optimizer or parts["optimizer"]
    else:
        model, _, _ = _load_model(target)
        if shape is None:
            raise ConfigError(f"--input-shape: needed for a model file ({target}); e.g. --input-shape 1,28,28 "
                              f"(one example, without the batch)")
    print(summary(model, shape, batch_size=batch or 32, optimizer=optimizer, depth=args.depth))
    return 0


def _cmd_sample(args) -> int:
    from .data.text import CharVocab
    from .errors import ConfigError
    from .models import sample
    from .serialization import load

    model, extra = load(args.model, return_extra=True)
    if not isinstance(extra, dict) or "vocab" not in extra:
        raise ConfigError(f"{args.model}: holds no character vocabulary; save a language model with "
                          f"glassnet.save(model, path, extra={{'vocab': vocab.config()}}) (examples/char_rnn.py does)")
    vocab = CharVocab.from_config(extra["vocab"])
    print(sample(model, vocab, prime=args.prime, length=args.length, temperature=args.temperature, seed=args.seed))
    return 0


def _shape_arg(text):
    from .errors import ConfigError
    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise ConfigError(f"--input-shape: expected positive integers separated by commas (e.g. 1,28,28 or 1x28x28), "
                          f"got {text!r}")
    return shape


def _cmd_tune(args) -> int:
    from .errors import SearchError
    from .train.run import _json_dump, load_config
    from .train.runfolder import FolderLock
    from .tune import Search, make_executor
    from .tune.config import search_from_config

    cfg = load_config(args.config)
    objective, space, kwargs, execution = search_from_config(cfg)
    if args.trials is not None:
        kwargs["trials"] = args.trials
    if args.time_budget is not None:
        kwargs["time_budget"] = args.time_budget
    kind = args.executor or execution["executor"]
    jobs = args.jobs or execution["jobs"]
    out = args.out or os.path.join("searches", os.path.splitext(os.path.basename(args.config))[0])
    args.resume_hint = lambda: (f"finished trials are kept; continue with: glassnet tune {args.config} --out {out}")
    with FolderLock(out, "search"):
        saved = os.path.join(out, "config.json")
        if os.path.exists(saved):
            with open(saved, encoding="utf-8") as f:
                where = _same_search(json.load(f), cfg)
            if where:
                raise SearchError(f"{out}: holds a search with another config (it differs at {where}); use "
                                  f"another --out, or the config it was started with")
        _json_dump(saved, cfg)
        executor = make_executor(kind, jobs, args.address or execution["address"])
        print(f"glassnet tune: {kwargs['strategy']} search, {kwargs['trials']} trials, executor {kind} "
              f"({jobs} job(s)), records in {os.path.abspath(os.path.join(out, 'trials.sqlite'))}")
        try:
            result = Search(objective, space, out, executor=executor, jobs=jobs, **kwargs).run()
        finally:
            executor.shutdown()
    print()
    print(result.table())
    for w in result.warnings:
        print(f"warning: {w}")
    return 0


def _search_rows(folder, status=None):
    """The trials of a search folder."""
    from .errors import RunFolderError
    from .tune import TrialStore

    path = os.path.join(folder, "trials.sqlite")
    if not os.path.exists(path):
        raise RunFolderError(f"{folder}: has no trials.sqlite; is it a search folder written by glassnet tune?")
    store = TrialStore(path, create=False)
    try:
        return store.rows(status=status)
    finally:
        store.close()


def _cmd_trials(args) -> int:
    from .tune import leaderboard
    from .tune.store import STATUSES

    rows = _search_rows(args.search_dir)
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    print(f"{len(rows)} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    print(leaderboard(rows, args.top))
    return 0


def _cmd_ensemble(args) -> int:
    from .train.ensemble import Ensemble
    from .errors import SearchError
    from .nn import eval_scores
    from .serialization import load
    from .train.run import prepare
    from .tune.objective import base_config

    rows = _search_rows(args.search_dir, status="done")
    rows = sorted(rows, key=lambda r: -r["score"])[:args.top]
    if not rows:
        raise SearchError(f"{args.search_dir}: no finished trials to combine")
    with open(os.path.join(args.search_dir, "config.json"), encoding="utf-8") as f:
        parts = prepare(base_config(json.load(f)))  # the trials' split and preprocessing
    Xv, yv = parts["val"] if parts["val"] is not None else parts["test"]
    # parts["val"] is preprocessed already (the trials' own split and preprocessing)
    models = [load(os.path.join(args.search_dir, "trials", r["key"], "model.npz"), with_preprocessing=False)
              for r in rows]
    singles = [float((eval_scores(m, Xv).argmax(1) == yv).mean()) for m in models]
    acc = float((Ensemble(models, method=args.method).predict(Xv) == yv).mean())
    print(f"ensemble of the top {len(models)} trials ({args.method}): validation accuracy {acc:.4f}")
    print(f"best single trial ({rows[0]['key']}): validation accuracy {singles[0]:.4f}")
    for r, a in zip(rows, singles):
        print(f"  {r['key']}: {a:.4f}")
    return 0


# -- the parser ------------------------------------------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_float(text):
    import math
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text}")
    return value


def _positive_float(text):
    value = _non_negative_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def _fraction(text):
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected an error rate in [0, 1), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of any error (for reporting bugs)")
    parser = argparse.ArgumentParser(
        prog="glassnet", description="glassnet: deep learning you can see through", formatter_class=_Formatter,
        epilog="examples:\n  glassnet demo\n  glassnet train run.toml\n  glassnet doctor runs/run-20261202-101500\n"
               "  glassnet tune search.toml --jobs 2\n\nexit status: 0 done, 1 a failed check or a machine error, "
               "2 a mistake in the input,\n130 interrupted (the message says how to resume)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, help, examples):
        return sub.add_parser(name, help=help, description=help, parents=[common], formatter_class=_Formatter,
                              epilog="examples:\n" + "\n".join(f"  {e}" for e in examples))

    p = command("demo", "train an MLP on MNIST-1D and write a run folder",
                ["glassnet demo", "glassnet demo --epochs 5 --out /tmp/demo"])
    p.add_argument("--out", default=None, help="run folder (default ./glassnet-demo, or a fresh "
                                               "./glassnet-demo-<date>-<time> when that holds a run)")
    p.add_argument("--epochs", type=_positive_int, default=None, help="override the number of epochs (default 100)")
    p.add_argument("--force", action="store_true", help="replace the run in --out")
    p.set_defaults(func=_cmd_demo)

    p = command("train", "train from a TOML/YAML config (see docs/config.md)",
                ["glassnet train run.toml", "glassnet train run.toml --out runs/exp1",
                 "glassnet train --resume runs/exp1", "glassnet train run.toml --out runs/exp1 --force"])
    p.add_argument("config", nargs="?", help="config file (.toml, .yaml); with --resume, replaces the run's config")
    p.add_argument("--out", default=None, help="run folder (default runs/<name>-<date>-<time>, name from the "
                                               "config's `name` or file)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue an interrupted run from its last complete epoch")
    p.add_argument("--force", action="store_true", help="replace the run that --out already holds")
    p.add_argument("--detect-anomaly", action="store_true",
                   help="check every module's outputs and gradients for NaN/inf at every step and stop at the "
                        "first one (slower; sets trainer.detect_anomaly)")
    p.add_argument("--live", nargs="?", type=_positive_float, const=5.0, default=None, metavar="SECONDS",
                   help="keep RUN_DIR/report.html up to date while training (every SECONDS, default 5); open it "
                        "in a browser: it reloads itself")
    p.set_defaults(func=_cmd_train)

    p = command("evaluate", "evaluate a saved model or checkpoint on labelled data (prints JSON)",
                ["glassnet evaluate runs/exp1/model.npz --data test.npz"])
    p.add_argument("model", help="model.npz or a checkpoint (its preprocessing is applied)")
    p.add_argument("--data", required=True, help=".npz with arrays X and y (or X_test and y_test)")
    p.set_defaults(func=_cmd_evaluate)

    p = command("predict", "predict the rows of an .npy/.npz file (class and probability per line)",
                ["glassnet predict runs/exp1/model.npz x.npy", "glassnet predict model.npz x.npy --out pred.npz"])
    p.add_argument("model", help="model.npz or a checkpoint (its preprocessing is applied)")
    p.add_argument("input", help=".npy with one row per example (or .npz with X)")
    p.add_argument("--out", default=None, help="write predictions (and probabilities) to this .npz instead")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=_cmd_predict)

    p = command("gradcheck", "gradient-check every built-in layer and loss (exit 1 if one fails)",
                ["glassnet gradcheck", "glassnet gradcheck --seed 3 -v"])
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights (default 0)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every tensor's report")
    p.set_defaults(func=_cmd_gradcheck)

    p = command("doctor", "diagnose a training run (or run sanity checks before one)",
                ["glassnet doctor runs/exp1", "glassnet doctor runs/exp1 --baseline-error 0.02",
                 "glassnet doctor runs/exp1 --try-fix --epochs 10", "glassnet doctor --sanity run.toml"])
    p.add_argument("run_dir", nargs="?", help="run folder written by glassnet train/demo")
    p.add_argument("--sanity", metavar="CONFIG", default=None,
                   help="sanity checks for a config before training (exit 1 if one fails)")
    p.add_argument("--baseline-error", type=_fraction, default=None,
                   help="the error a good model can reach on this task (human or Bayes error, e.g. 0.02); without "
                        "it the doctor does not call a training error high")
    p.add_argument("--try-fix", action="store_true",
                   help="re-run a short training with the first finding's remedy applied, in a new folder, and "
                        "compare it with the run")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="epochs of the --try-fix run (default the run's own, at most 20)")
    p.set_defaults(func=_cmd_doctor)

    p = command("report", "write the HTML report of a run folder",
                ["glassnet report runs/exp1", "glassnet report runs/exp1 --tensorboard tb/"])
    p.add_argument("run_dir", help="run folder written by glassnet train/demo")
    p.add_argument("--out", default=None, help="HTML file (default RUN_DIR/report.html)")
    p.add_argument("--tensorboard", metavar="LOGDIR", default=None, help="also write TensorBoard event files")
    p.add_argument("--baseline-error", type=_fraction, default=None,
                   help="the error a good model can reach (human or Bayes error), for the doctor's findings")
    p.set_defaults(func=_cmd_report)

    p = command("compare", "one page comparing runs: curves overlaid, the hyperparameters that differ with each "
                           "run's result, parallel coordinates, config differences",
                ["glassnet compare runs/a runs/b runs/c", "glassnet compare searches/lr --out lr.html"])
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (glassnet train/demo) or search folders "
                                                          "(glassnet tune: every trial)")
    p.add_argument("--out", default=None, help="HTML file (default ./glassnet-compare.html)")
    p.set_defaults(func=_cmd_compare)

    p = command("viz", "a page of what a run's network learned: filters, activations, max-activating inputs, "
                       "saliency, occlusion, an embedding",
                ["glassnet viz runs/exp1", "glassnet viz runs/exp1 --data test.npz --layer 3"])
    p.add_argument("run_dir", help="run folder written by glassnet train/demo")
    p.add_argument("--data", default=None, help=".npz file with X (and y) (default: the run's validation data)")
    p.add_argument("--layer", default=None, help="dotted layer name for the max-activating units (default: the "
                                                 "last convolution or pool)")
    p.add_argument("--out", default=None, help="HTML file (default RUN_DIR/viz.html)")
    p.set_defaults(func=_cmd_viz)

    p = command("summary", "a model's layers, parameters, multiply-adds and the memory a training step needs",
                ["glassnet summary run.toml", "glassnet summary runs/exp1 --batch-size 256 --optimizer adam",
                 "glassnet summary runs/exp1/model.npz --input-shape 1,28,28 --depth 1"])
    p.add_argument("target", help="a config file, a run folder or a model file (.npz)")
    p.add_argument("--input-shape", default=None, help="one example's shape, without the batch (default: the "
                                                       "config's data; required for a model file)")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="batch size of the memory estimate (default: the config's, else 32)")
    p.add_argument("--optimizer", choices=["sgd", "sgd_momentum", "nesterov", "adagrad", "rmsprop", "adam"],
                   default=None, help="update rule for the optimizer state (default: the config's, else plain SGD)")
    p.add_argument("--depth", type=int, default=None, help="show modules down to this depth of their dotted "
                                                           "names (default: every layer)")
    p.set_defaults(func=_cmd_summary)

    p = command("sample", "generate text from a saved character-level language model",
                ["glassnet sample char_lstm.npz --prime \"ROMEO:\" --length 500 --temperature 0.8"])
    p.add_argument("model", help="a model saved with its vocabulary (examples/char_rnn.py writes one)")
    p.add_argument("--prime", default="", help="text the model reads first and continues (default: none)")
    p.add_argument("--length", type=int, default=500, help="characters to generate (default 500)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="divides the scores before the softmax: below 1 more conservative, above 1 more varied "
                        "(default 1.0)")
    p.add_argument("--seed", type=int, default=None, help="seed of the draws (default: fresh each time)")
    p.set_defaults(func=_cmd_sample)

    p = command("tune", "hyperparameter search from a config with a [search] section (rerun to continue)",
                ["glassnet tune search.toml", "glassnet tune search.toml --jobs 2 --trials 40",
                 "glassnet tune search.toml --executor ray --address auto"])
    p.add_argument("config", help="config file with a [search] section")
    p.add_argument("--out", default=None, help="search folder (default searches/<config name>)")
    p.add_argument("--jobs", type=_positive_int, default=None, help="parallel trials (default search.jobs or 1)")
    p.add_argument("--executor", choices=["serial", "process", "ray"], default=None,
                   help="where trials run: this process, local worker processes (default), or Ray")
    p.add_argument("--address", default=None, help="Ray cluster address (HOST:PORT or auto)")
    p.add_argument("--trials", type=_positive_int, default=None, help="override search.trials")
    p.add_argument("--time-budget", type=_non_negative_float, default=None,
                   help="seconds; no new trial starts after them")
    p.set_defaults(func=_cmd_tune)

    p = command("trials", "the leaderboard of a search folder", ["glassnet trials searches/lr", "glassnet trials "
                                                                  "searches/lr --top 5"])
    p.add_argument("search_dir", help="search folder written by glassnet tune")
    p.add_argument("--top", type=_positive_int, default=None, help="show only the N best finished trials")
    p.set_defaults(func=_cmd_trials)

    p = command("ensemble", "an ensemble of a search's best trials, against the best single model",
                ["glassnet ensemble searches/lr --top 5 --method vote"])
    p.add_argument("search_dir", help="search folder written by glassnet tune")
    p.add_argument("--top", type=_positive_int, default=5, help="how many of the best trials to combine (default 5)")
    p.add_argument("--method", choices=["mean", "vote", "weighted"], default="mean",
                   help="mean of probabilities (default), majority vote, or confidence-weighted")
    p.set_defaults(func=_cmd_ensemble)
    return parser


def _on_interrupt(signum, frame):
    """Ctrl-C: KeyboardInterrupt, as Python's own handler raises it, except while a finalizer
    runs (a ``__del__`` or weakref callback the garbage collector calls at any moment): Python
    prints an exception raised there as "Exception ignored" and carries on, which would leave
    the command running. There the interrupt is sent again a moment later, once it has returned."""
    f = frame
    while f is not None:
        if f.f_code.co_name == "__del__" or f.f_globals.get("__name__") == "weakref":
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        f = f.f_back
    raise KeyboardInterrupt


def _main_rank() -> bool:
    from . import distributed
    return not distributed.initialized() or distributed.world().is_main


def _report_error(err, message, status=2) -> int:
    """A glassnet error in one line, exit status 2. In a data-parallel job an error every rank
    raised alike is printed once (by rank 0); one rank's own error is printed with its rank and
    stops the whole job (the others would wait for it)."""
    from . import distributed
    comm = distributed.world() if distributed.initialized() else None
    if comm is None or comm.size == 1:
        print(f"error: {message}", file=sys.stderr)
        return status
    if distributed.raised_on_every_rank(err):
        if comm.is_main:
            print(f"error: {message}", file=sys.stderr)
        return status
    print(f"error: rank {comm.rank} of {comm.size}: {message}", file=sys.stderr, flush=True)
    sys.stderr.flush()
    comm.abort(status)
    return status


def main(argv=None) -> int:
    """Run one command. A user's mistake (a glassnet error) ends in one line on stderr and exit
    status 2 (1 for the machine's own errors: a full disk, no memory); Ctrl-C ends with 130 and
    says how to resume; a closed pipe (``| head``) ends quietly. Any other exception is a bug
    and keeps its traceback, as does everything under ``--debug``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"glassnet {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .errors import GlassnetError, one_line

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C (or a late resend) cannot cut the message
        if args.debug:
            raise
        hint = getattr(args, "resume_hint", None)
        if not _main_rank():  # mpiexec passes Ctrl-C to every rank: rank 0 says it
            return 130
        print("\ninterrupted" + (f"; {hint()}" if hint else ""), file=sys.stderr)
        # objects the interruption left half-built (an open ZipFile) are collected at exit, and
        # Python would print "Exception ignored in ..." for them after the one line above
        sys.unraisablehook = lambda unraisable: None
        return 130
    except BrokenPipeError:
        # the reader went away (``glassnet trials ... | head``): nothing more to say to it
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except GlassnetError as err:
        if args.debug:
            raise
        return _report_error(err, one_line(err))
    except (OSError, MemoryError) as err:
        if args.debug:
            raise
        what = "out of memory" if isinstance(err, MemoryError) else one_line(err)
        return _report_error(err, what, status=1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
