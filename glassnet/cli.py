"""The ``glassnet`` command line: demo, train, evaluate, predict, gradcheck, doctor, report, tune, trials,
ensemble."""
from __future__ import annotations

import argparse
import json
import os
import sys


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


def _run_and_report(cfg, out, resume, title):
    from .train.run import run, summary_lines

    metrics = run(cfg, out, resume=resume)
    print(f"\n{title}")
    for line in summary_lines(metrics):
        print(line)
    print(f"  run folder: {os.path.abspath(out)} (config.json, history.json, metrics.json, model.npz, "
          f"checkpoints/best.npz, checkpoints/last.npz, monitor.json, findings.json)")
    findings = metrics.get("findings") or []
    print("  the doctor: " + ("nothing to report" if not findings else f"{len(findings)} finding(s)"))
    for line in findings:
        print(f"    {line}")
    if metrics.get("report"):
        print(f"  report: {os.path.abspath(metrics['report'])}")
    return metrics


def _cmd_demo(args) -> int:
    from .train.run import DEMO_CONFIG

    cfg = json.loads(json.dumps(DEMO_CONFIG))
    if args.epochs:
        cfg["trainer"]["epochs"] = args.epochs
    print("glassnet demo: a 40-256-256-10 MLP (He init, BatchNorm, dropout 0.2) trained with Adam, L2 1e-2,\n"
          "a cosine schedule and early stopping on standardized MNIST-1D (4000 train / 1000 test signals;\n"
          "published baselines: logistic regression 32%, MLP 68%, CNN 94%).\n")
    metrics = _run_and_report(cfg, args.out, False, "Summary")
    acc = metrics.get("test", {}).get("accuracy")
    if acc is not None:
        print(f"  test accuracy {acc * 100:.1f}% (published MLP baseline 68%)")
    return 0


def _cmd_train(args) -> int:
    from .train.run import ConfigError, load_config

    try:
        if args.resume:
            path = os.path.join(args.resume, "config.json")
            if not os.path.exists(path):
                raise ConfigError(f"--resume: {args.resume} has no config.json; is it a glassnet run folder?")
            cfg = json.load(open(path, encoding="utf-8"))
            out = args.resume
        else:
            if not args.config:
                raise ConfigError("train: give a CONFIG file (TOML or YAML), or --resume RUN_DIR")
            cfg = load_config(args.config)
            name = os.path.splitext(os.path.basename(args.config))[0]
            out = args.out or os.path.join("runs", name)
        _run_and_report(cfg, out, bool(args.resume), "Summary")
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2
    return 0


def _load_model(path):
    """(model, preprocessing or None, loss config or None) from a model file or checkpoint."""
    from .serialization import CheckpointError, load

    try:
        model, prep, extra = load(path, with_preprocessing=True, return_extra=True)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    return model, prep, extra.get("loss")



def _read_array(path, what):
    import numpy as np

    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        print(f"error: cannot read {what} {path!r}: {err}", file=sys.stderr)
        sys.exit(2)


def _cmd_evaluate(args) -> int:
    from .nn import SoftmaxCrossEntropy, build, eval_scores
    from .train.metrics import accuracy, evaluate_scores, mse

    model, prep, loss_cfg = _load_model(args.model)
    data = _read_array(args.data, "data")
    if not isinstance(data, dict):
        print("error: --data must be an .npz with arrays X and y (or X_test and y_test)", file=sys.stderr)
        return 2
    X = data.get("X", data.get("X_test"))
    y = data.get("y", data.get("y_test"))
    if X is None or y is None:
        print(f"error: {args.data} needs arrays X and y (or X_test, y_test); found {sorted(data)}", file=sys.stderr)
        return 2
    if prep is not None:
        X = prep.transform(X)
    loss = build(loss_cfg, "loss") if loss_cfg else SoftmaxCrossEntropy()  # saved by glassnet train
    metrics = {"accuracy": accuracy} if loss.is_classifier else {"mse": mse}
    out = {"loss_function": type(loss).__name__, "n": int(len(X)),
           **evaluate_scores(eval_scores(model, X), y, loss, metrics)}
    print(json.dumps(out, indent=2))
    return 0


def _cmd_predict(args) -> int:
    import numpy as np

    from .functional import softmax
    from .nn import eval_scores

    model, prep, loss_cfg = _load_model(args.model)
    X = _read_array(args.input, "input")
    if isinstance(X, dict):
        X = X.get("X", X.get("X_test"))
    if prep is not None:
        X = prep.transform(X)
    scores = eval_scores(model, X).astype(np.float64)
    kind = (loss_cfg or {}).get("type", "SoftmaxCrossEntropy")
    if kind in ("MSE",):
        result = {"predictions": scores}
        lines = ["\t".join(f"{v:.6g}" for v in row) for row in scores]
    else:
        probs = softmax(scores, axis=1)
        pred = probs.argmax(1)
        result = {"predictions": pred, "probabilities": probs}
        lines = [f"{p}\t{pr[p]:.4f}" for p, pr in zip(pred, probs)]
    if args.out:
        from .serialization import atomic_savez
        atomic_savez(args.out, **result)
        print(f"wrote {len(scores)} predictions to {args.out}")
    else:
        print("\n".join(lines))
    return 0


def _cmd_doctor(args) -> int:
    from .doctor import examine, format_findings

    if args.sanity:
        from .doctor import sanity_checks
        from .train.run import ConfigError, load_config, prepare

        try:
            parts = prepare(load_config(args.sanity))
        except (ConfigError, OSError) as err:
            print(f"glassnet doctor --sanity: {err}", file=sys.stderr)
            return 2
        X, y = parts["train"]
        checks = sanity_checks(parts["model"], parts["loss"], X, y, penalty=parts["penalty"], val=parts["val"])
        print(f"Sanity checks of {args.sanity} before training:")
        for c in checks:
            print(f"  {c}")
        failed = [c for c in checks if not c.passed]
        for c in failed:
            if c.finding is not None:
                print()
                print(c.finding)
        return 1 if failed else 0
    if not args.run_dir:
        print("glassnet doctor: give a run folder (glassnet doctor RUN_DIR) or --sanity CONFIG", file=sys.stderr)
        return 2
    try:
        findings = examine(args.run_dir, baseline_error=args.baseline_error)
    except (FileNotFoundError, ValueError) as err:
        print(f"glassnet doctor: {err}", file=sys.stderr)
        return 2
    print(format_findings(findings))
    return 0


def _cmd_report(args) -> int:
    from .report import write_report
    from .train.run import input_shape, prepare

    folder = args.run_dir
    cfg_path = os.path.join(folder, "config.json")
    if not os.path.exists(cfg_path):
        print(f"glassnet report: {folder} has no config.json; is it a glassnet run folder?", file=sys.stderr)
        return 2
    with open(cfg_path) as f:
        cfg = json.load(f)
    parts = prepare(cfg)  # reloads the data (and its fitted preprocessing) for the confusion matrix
    data = parts["val"] if parts["val"] is not None else parts["test"]
    shape = input_shape(parts["config"], parts["train"][0])
    out = args.out or os.path.join(folder, "report.html")
    write_report(folder, out, data=data, input_shape=tuple(shape) if shape else None,
                 baseline_error=args.baseline_error, title=cfg.get("name"))
    print(f"wrote {os.path.abspath(out)}")
    if args.tensorboard:
        from .report import write_tensorboard
        write_tensorboard(folder, args.tensorboard)
        print(f"wrote TensorBoard event files to {os.path.abspath(args.tensorboard)}")
    return 0


def _cmd_tune(args) -> int:
    from .train.run import ConfigError, load_config
    from .tune import Search, make_executor
    from .tune.config import search_from_config

    try:
        cfg = load_config(args.config)
        objective, space, kwargs, execution = search_from_config(cfg)
    except (ConfigError, OSError) as err:
        print(f"glassnet tune: {err}", file=sys.stderr)
        return 2
    if args.trials:
        kwargs["trials"] = args.trials
    if args.time_budget:
        kwargs["time_budget"] = args.time_budget
    kind = args.executor or execution["executor"]
    jobs = args.jobs or execution["jobs"]
    out = args.out or os.path.join("searches", os.path.splitext(os.path.basename(args.config))[0])
    os.makedirs(out, exist_ok=True)
    from .train.run import _json_dump
    _json_dump(os.path.join(out, "config.json"), cfg)
    executor = make_executor(kind, jobs, args.address or execution["address"])
    print(f"glassnet tune: {kwargs['strategy']} search, {kwargs['trials']} trials, executor {kind} "
          f"({jobs} job(s)), records in {os.path.abspath(os.path.join(out, 'trials.sqlite'))}")
    try:
        result = Search(objective, space, out, executor=executor, jobs=jobs, **kwargs).run()
    except ValueError as err:
        print(f"glassnet tune: {err}", file=sys.stderr)
        return 2
    finally:
        executor.shutdown()
    print()
    print(result.table())
    for w in result.warnings:
        print(f"warning: {w}")
    return 0


def _search_rows(folder, command, status=None):
    """The trials of a search folder, or None after printing why there are none."""
    from .tune import TrialStore

    path = os.path.join(folder, "trials.sqlite")
    if not os.path.exists(path):
        print(f"glassnet {command}: {folder} has no trials.sqlite; is it a search folder written by glassnet tune?",
              file=sys.stderr)
        return None
    store = TrialStore(path)
    try:
        return store.rows(status=status)
    finally:
        store.close()


def _cmd_trials(args) -> int:
    from .tune import leaderboard

    rows = _search_rows(args.search_dir, "trials")
    if rows is None:
        return 2
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "failed", "running", "pending")}
    print(f"{len(rows)} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    print(leaderboard(rows, args.top))
    return 0


def _cmd_ensemble(args) -> int:
    from .ensemble import Ensemble
    from .nn import eval_scores
    from .serialization import load
    from .train.run import prepare
    from .tune.objective import base_config

    rows = _search_rows(args.search_dir, "ensemble", status="done")
    if rows is None:
        return 2
    rows = sorted(rows, key=lambda r: -r["score"])[:args.top]
    if not rows:
        print("glassnet ensemble: no finished trials", file=sys.stderr)
        return 2
    with open(os.path.join(args.search_dir, "config.json")) as f:
        parts = prepare(base_config(json.load(f)))  # the trials' split and preprocessing
    Xv, yv = parts["val"] if parts["val"] is not None else parts["test"]
    models = [load(os.path.join(args.search_dir, "trials", r["key"], "model.npz")) for r in rows]
    singles = [float((eval_scores(m, Xv).argmax(1) == yv).mean()) for m in models]
    acc = float((Ensemble(models, method=args.method).predict(Xv) == yv).mean())
    print(f"ensemble of the top {len(models)} trials ({args.method}): validation accuracy {acc:.4f}")
    print(f"best single trial ({rows[0]['key']}): validation accuracy {singles[0]:.4f}")
    for r, a in zip(rows, singles):
        print(f"  {r['key']}: {a:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassnet", description="glassnet: deep learning you can see through")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("demo", help="train an MLP on MNIST-1D and write a run folder")
    p.add_argument("--out", default="glassnet-demo", help="run folder (default ./glassnet-demo)")
    p.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("train", help="train from a TOML/YAML config")
    p.add_argument("config", nargs="?", help="config file (.toml, .yaml)")
    p.add_argument("--out", default=None, help="run folder (default runs/<config name>)")
    p.add_argument("--resume", metavar="RUN_DIR", default=None, help="continue an interrupted run")
    p.set_defaults(func=_cmd_train)
    p = sub.add_parser("evaluate", help="evaluate a saved model or checkpoint on labelled data")
    p.add_argument("model", help="model.npz or a checkpoint")
    p.add_argument("--data", required=True, help=".npz with X and y")
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser("predict", help="predict classes for the rows of an .npy file")
    p.add_argument("model")
    p.add_argument("input", help=".npy (or .npz with X)")
    p.add_argument("--out", default=None, help="write predictions and probabilities to this .npz")
    p.set_defaults(func=_cmd_predict)
    p = sub.add_parser("gradcheck", help="gradient-check every built-in layer and loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-v", "--verbose", action="store_true", help="print every tensor's report")
    p.set_defaults(func=_cmd_gradcheck)
    p = sub.add_parser("doctor", help="diagnose a training run (or run sanity checks before one)")
    p.add_argument("run_dir", nargs="?", help="run folder written by glassnet train/demo")
    p.add_argument("--sanity", metavar="CONFIG", default=None, help="sanity checks for a config before training")
    p.add_argument("--baseline-error", type=float, default=0.0,
                   help="error a good model should reach (e.g. human error); default 0")
    p.set_defaults(func=_cmd_doctor)
    p = sub.add_parser("report", help="write the HTML report of a run folder")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="HTML file (default RUN_DIR/report.html)")
    p.add_argument("--tensorboard", metavar="LOGDIR", default=None, help="also write TensorBoard event files")
    p.add_argument("--baseline-error", type=float, default=0.0)
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("tune", help="hyperparameter search from a config with a [search] section")
    p.add_argument("config")
    p.add_argument("--out", default=None, help="search folder (default searches/<config name>)")
    p.add_argument("--jobs", type=int, default=None, help="parallel trials (local processes)")
    p.add_argument("--executor", choices=["serial", "process", "ray"], default=None)
    p.add_argument("--address", default=None, help="Ray cluster address (HOST:PORT or auto)")
    p.add_argument("--trials", type=int, default=None, help="override search.trials")
    p.add_argument("--time-budget", type=float, default=None, help="seconds; no new trial starts after it")
    p.set_defaults(func=_cmd_tune)
    p = sub.add_parser("trials", help="the leaderboard of a search folder")
    p.add_argument("search_dir")
    p.add_argument("--top", type=int, default=None)
    p.set_defaults(func=_cmd_trials)
    p = sub.add_parser("ensemble", help="an ensemble of a search's best trials, against the best single model")
    p.add_argument("search_dir")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--method", choices=["mean", "vote", "weighted"], default="mean")
    p.set_defaults(func=_cmd_ensemble)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"glassnet {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
