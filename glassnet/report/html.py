"""One self-contained HTML file per run, readable offline with nothing else: a header with the
outcome, the doctor's verdict, the data, the time and the machine; a table of contents; the
config and every hyperparameter; the architecture; interactive curves (uPlot, inlined: hover,
drag to zoom, legend toggles, smoothing) and figures embedded as PNG."""
from __future__ import annotations

import base64
import datetime
import html
import json
import math
import os
import platform
from importlib import resources

import numpy as np

from ..serialization import atomic_write_text
from ..train.runfolder import read_run_file
from . import plots

__all__ = ["write_report", "SECTIONS"]

#: (id, title) of every section, in order; each appears in the page, with a note when empty
SECTIONS = [
    ("findings", "The doctor's findings"),
    ("config", "Configuration and hyperparameters"),
    ("architecture", "Architecture"),
    ("loss", "Training loss per iteration"),
    ("epochs", "Loss and metrics per epoch"),
    ("lr", "Learning rate"),
    ("update-ratio", "Update/weight ratio per layer"),
    ("activations", "Activation histograms per layer"),
    ("gradients", "Gradient histograms per layer"),
    ("through-time", "Gradient norms through time (recurrent layers)"),
    ("weights", "First-layer weights"),
    ("confusion", "Confusion matrix"),
    ("wrong", "Most confidently wrong examples"),
    ("learned", "What the network learned"),
]
#: the sections drawn as interactive charts (the others hold PNG figures, tables or text)
CHART_SECTIONS = ("loss", "epochs", "lr", "update-ratio")

_CSS = """body{font-family:system-ui,sans-serif;font-size:15px;line-height:1.45;margin:1.2em 2em;color:#222}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1.05em;margin:1em 0 .3em}
.f{border-left:4px solid #999;padding:.4em .8em;margin:.6em 0;background:#fafafa}
.error{border-color:#c0392b}.warning{border-color:#e67e22}.info{border-color:#2980b9}
.sev{font-weight:bold;text-transform:uppercase;font-size:13px}.none{color:#666;font-style:italic}
small,.note{font-size:13px;color:#444}img{max-width:100%}
table{border-collapse:collapse;font-size:14px}td,th{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;
vertical-align:top}th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.outcome{font-size:1.15em;margin:.3em 0}.verdict{padding:.4em .8em;border-left:4px solid #27ae60;background:#f4fbf6}
.verdict.warn{border-color:#e67e22;background:#fdf6ee}.facts td:first-child{color:#555;white-space:nowrap}
nav{columns:3 18em;margin:.6em 0 1em;font-size:14px}nav a{display:block;padding:.1em 0}
.chart{width:100%;margin:.3em 0 1em}.tools{font-size:13px;color:#444}.tools input{vertical-align:middle}
.u-legend{font-size:13px}.scroll{max-height:32em;overflow:auto}
.kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(24em,1fr));gap:.15em 2em;font-size:14px}
.kv div{border-bottom:1px solid #f0f0f0;padding:.1em 0}.kv code{color:#555}
.live{padding:.4em .8em;border-left:4px solid #2980b9;background:#eef5fb}"""


def _img(png):
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _esc(x) -> str:
    return html.escape(str(x))


def epoch_metric_keys(epochs) -> list:
    """The metrics a run logged per epoch besides the loss (``accuracy``, ``mse``...), whether
    measured on the training sample, the validation split or both."""
    if not epochs:
        return []
    skip = {"epoch", "iteration", "loss", "data_loss", "lr", "time", "val_loss"}
    last = epochs[-1]
    keys = [k for k in last if k not in skip and not k.startswith("val_") and isinstance(last[k], float)]
    return keys + [k[4:] for k in last if k.startswith("val_") and k != "val_loss" and k[4:] not in keys]


def optimizer_settings(optimizer) -> dict:
    """The first parameter group's hyperparameters (lr, betas...), without the parameters."""
    return {k: v for k, v in optimizer.param_groups[0].items() if k not in ("params", "initial_lr")}


def _findings_html(findings, checked_list=()):
    out = []
    if not any(f.severity in ("warning", "error") for f in findings):
        out.append('<p><b>The run looks healthy</b>: the doctor found nothing that costs accuracy or time.</p>')
        if checked_list:
            out.append("<p>Checked:</p><ul>" + "".join(f"<li>{_esc(c)}</li>" for c in checked_list) + "</ul>")
        if findings:
            out.append("<p>Worth knowing:</p>")
    for f in findings:
        out.append(f'<div class="f {_esc(f.severity)}"><span class="sev">{_esc(f.severity)}</span> '
                   f'{_esc(f.what)}<br><small>evidence: {_esc(f.evidence)}</small><br>'
                   f'<small>remedy: {_esc(f.remedy)}</small></div>')
    return "\n".join(out)


def _predictions(model, X, y):
    from ..functional import softmax
    from ..nn import eval_scores

    scores = eval_scores(model, X)
    prob = softmax(scores.astype(np.float64), axis=1)
    pred = prob.argmax(axis=1)
    conf = prob.max(axis=1)
    return pred, conf


# -------------------------------------------------------------------------------------- charts
def _num(v, positive=False):
    """A value for the page's JSON: 6 significant digits; None for NaN/inf (and for values <= 0
    on a log axis)."""
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v) or (positive and v <= 0):
        return None
    return float(f"{v:.6g}")


def _wide_range(values) -> bool:
    v = np.asarray([x for x in values if x is not None and x == x and x > 0], dtype=float)
    return v.size > 1 and v.max() / v.min() > 50


def _chart(cid, x, series, xlabel, ylabel, log=False, smoothing=None, note=""):
    """The HTML of one chart and its spec for charts.js. ``series``: [(label, values, smooth)]."""
    spec = {"id": cid, "x": [_num(v) for v in x], "xlabel": xlabel, "ylabel": ylabel, "log": bool(log),
            "series": [{"label": label, "y": [_num(v, positive=log) for v in values], "smooth": bool(smooth)}
                       for label, values, smooth in series]}
    tools = ["hover for values; drag across the chart to zoom, double-click to see all of it; click a legend "
             "entry to hide or show it" + ("; log scale" if log else "")]
    if smoothing is not None and any(s for _, _, s in series):
        spec["smoothing"] = smoothing
        tools.insert(0, f'smoothing <input type="range" id="smooth-{cid}" min="0" max="0.99" step="0.01" '
                        f'value="{smoothing}"> <span id="smooth-value-{cid}">{smoothing:.2f}</span>')
    body = (f'<div class="tools">{" &middot; ".join(tools)}</div>'
            f'<div class="chart" id="chart-{cid}"></div>' + (f'<p class="note">{_esc(note)}</p>' if note else ""))
    return body, spec


def _chart_assets(specs) -> str:
    vendor = resources.files(__package__) / "vendor"
    lib = (vendor / "uPlot.iife.min.js").read_text(encoding="utf-8")
    css = (vendor / "uPlot.min.css").read_text(encoding="utf-8")
    script = (resources.files(__package__) / "charts.js").read_text(encoding="utf-8")
    data = json.dumps(specs, separators=(",", ":")).replace("</", "<\\/")
    return (f"<style>{css}</style>\n<!-- uPlot 1.6.32, MIT license (glassnet/report/vendor/uPlot.LICENSE) -->\n"
            f"<script>{lib}</script>\n<script type=\"application/json\" id=\"gn-charts\">{data}</script>\n"
            f"<script>{script}</script>")


# ----------------------------------------------------------------------------------- the header
def _pct(v):
    return f"{v * 100:.2f} %" if isinstance(v, (int, float)) else "-"


def _outcome(metrics, view, kept_rule):
    """One sentence: the kept model's test and validation results and by which rule it was kept."""
    parts = []
    if metrics:
        for split, name in (("test", "test"), ("val", "validation"), ("train", "training")):
            m = metrics.get(split)
            if isinstance(m, dict) and "loss" in m:
                acc = f"accuracy {_pct(m['accuracy'])}, " if "accuracy" in m else ""
                parts.append(f"{name}: {acc}loss {m['loss']:.4g}")
    else:
        k = view.kept
        for key, name in (("val_accuracy", "validation accuracy"), ("val_loss", "validation loss"),
                          ("accuracy", "training accuracy")):
            if k.get(key) is not None:
                parts.append(f"{name} {_pct(k[key]) if 'accuracy' in key else format(k[key], '.4g')}")
    what = "; ".join(parts) if parts else "no evaluation recorded"
    return f"{what} &mdash; {_esc(kept_rule)}"


def _kept_rule(metrics, view):
    sel = (metrics or {}).get("selected") or {}
    if sel.get("value") is not None:
        return f"the model of epoch {sel['epoch']}, the best {sel['monitor']} ({sel['value']:.4g})"
    kept = view.kept.get("epoch")
    if kept is not None and view.epochs and kept != view.epochs[-1].get("epoch"):
        return f"the model of epoch {kept} (restored by early stopping)"
    return f"the model after the last epoch ({len(view.epochs)})"


def _verdict(findings):
    serious = [f for f in findings if f.severity in ("warning", "error")]
    if not serious:
        notes = len(findings)
        return ('<p class="verdict"><b>The doctor: the run looks healthy.</b>'
                + (f" {notes} note(s) worth knowing below." if notes else "") + "</p>")
    first = serious[0]
    return (f'<p class="verdict warn"><b>The doctor: {len(serious)} finding(s)</b>, the first: '
            f'{_esc(first.what)} <a href="#findings">all findings</a></p>')


def _machine():
    import numpy

    from .. import __version__
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
            f"NumPy {numpy.__version__}, glassnet {__version__}")


def _facts(view, metrics, config, model, history_meta, data_name, n_data):
    rows = []
    if metrics and metrics.get("data"):
        rows.append(("data", metrics["data"]))
    sizes = (metrics or {}).get("split_sizes") or {}
    if sizes:
        rows.append(("splits", ", ".join(f"{k} {sizes[k]:,}" for k in ("train", "val", "test")
                                         if sizes.get(k) is not None)))
    elif view.n_train:
        rows.append(("splits", f"train {view.n_train:,}" + (f", {data_name} {n_data:,}" if n_data else "")))
    if model is not None:
        total = sum(p.data.size for p in model.parameters())
        frozen = sum(p.data.size for p in model.parameters() if not p.requires_grad)
        rows.append(("model", f"{type(model).__name__}, {total:,} parameters"
                              + (f" ({frozen:,} frozen)" if frozen else "") + " (see Architecture)"))
    iters = len(view.iter_loss)
    run = f"{len(view.epochs)} epochs"
    if view.epochs_requested:
        run += f" of {view.epochs_requested}"
    run += f", {iters:,} iterations"
    if view.batch_size:
        run += f", batch {view.batch_size}"
    ranks = (metrics or {}).get("ranks", 1)
    if ranks and ranks > 1:
        run += f" per rank on {ranks} ranks"
    if view.stop_reason:
        run += f"; {view.stop_reason}"
    seconds = (metrics or {}).get("train_seconds")
    if seconds is None and view.epochs:
        seconds = sum(e.get("time") or 0 for e in view.epochs)
    if seconds:
        run += f"; {seconds:.1f} s of training"
    rows.append(("training", run))
    if history_meta:
        rows.append(("training metrics", history_meta))
    rows.append(("machine", _machine()))
    rows.append(("written", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")))
    return '<table class="facts">' + "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in rows) \
        + "</table>"


# ------------------------------------------------------------------------------ config, model
def _flatten(value, prefix=""):
    """Dotted rows of a config: ``optimizer.lr = 0.001``; a list of tables (layers) stays one row
    per item."""
    rows = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "layers" and isinstance(v, list):
                rows.append((f"{prefix}{k}", f"{len(v)} layers (see Architecture)"))
                continue
            rows.extend(_flatten(v, f"{prefix}{k}."))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            rows.append((f"{prefix[:-1]}[{i}]", ", ".join(f"{k}={json.dumps(x)}" for k, x in v.items())))
    else:
        rows.append((prefix[:-1], json.dumps(value) if not isinstance(value, str) else value))
    return rows


def _trainer_settings(trainer):
    """What a Trainer was configured with, for a run that has no config file."""
    opt = trainer.optimizer
    cfg = {"optimizer": {"type": type(opt).__name__, **optimizer_settings(opt)}}
    try:
        cfg["loss"] = trainer.loss.config()
    except (AttributeError, NotImplementedError):
        cfg["loss"] = {"type": type(trainer.loss).__name__}
    if trainer.penalty is not None:
        cfg["penalty"] = repr(trainer.penalty)
    sched = getattr(trainer.scheduler, "schedule", None)
    if sched is not None:
        cfg["schedule"] = repr(sched)
    cfg["trainer"] = {"epochs": trainer.epochs_requested, "batch_size": trainer.batch_size, "seed": trainer.seed,
                      "callbacks": ", ".join(type(c).__name__ for c in trainer.callbacks) or "none"}
    return cfg


def _config_html(config):
    if not config:
        return '<p class="none">No config recorded for this run.</p>'
    rows = _flatten(config)
    return ('<div class="kv">' + "".join(f"<div><code>{_esc(k)}</code> = {_esc(v)}</div>" for k, v in rows)
            + "</div>")


def _architecture_html(model):
    if model is None:
        return '<p class="none">No model to describe (the run folder has no model.npz).</p>'
    from ..doctor.monitors import describe

    rows = []
    for name, m in model.named_modules():
        if m._modules or not name:
            continue
        own = list(m._parameters.values())
        n = sum(p.data.size for p in own)
        trainable = sum(p.data.size for p in own if p.requires_grad)
        shapes = ", ".join(f"{k} {tuple(p.shape)}" for k, p in m._parameters.items())
        rows.append(f"<tr><td><code>{_esc(name)}</code></td><td>{_esc(describe(m))}</td>"
                    f"<td class=\"num\">{n:,}</td><td class=\"num\">{trainable:,}</td><td>{_esc(shapes)}</td></tr>")
    if not rows:  # a single layer
        rows.append(f"<tr><td>(the model)</td><td>{_esc(describe(model))}</td>"
                    f"<td class=\"num\">{sum(p.data.size for p in model.parameters()):,}</td><td></td><td></td></tr>")
    total = sum(p.data.size for p in model.parameters())
    trainable = sum(p.data.size for p in model.parameters() if p.requires_grad)
    return (f"<p>{total:,} parameters, {trainable:,} trainable, {total * model.dtype.itemsize if model.dtype else 0:,}"
            f" bytes of weights ({model.dtype}).</p><div class=\"scroll\"><table><tr><th>layer</th><th>type</th>"
            f"<th>parameters</th><th>trainable</th><th>shapes</th></tr>" + "".join(rows) + "</table></div>")


#: a live page: remember the scroll position in window.name (it survives a reload, also of a
#: file:// page), reload after the interval, and scroll back on load
_LIVE_JS = """(function () {
  try { var saved = JSON.parse(window.name || "{}"); if (saved.gnScroll) { window.scrollTo(0, saved.gnScroll); } }
  catch (e) { }
  document.body.setAttribute("data-scroll", String(Math.round(window.scrollY)));  // read by the browser test
  setTimeout(function () {
    window.name = JSON.stringify({gnScroll: window.scrollY});
    window.location.reload();
  }, %d);
})();"""


# ----------------------------------------------------------------------------------- the page
def write_report(source, path, data=None, input_shape=None, class_names=None, findings=None, title=None,
                 baseline_error=None, metrics=None, config=None, data_name=None, live=None):
    """Write the HTML report of a run to ``path`` (atomically) and return the path.

    ``source`` is a Trainer after ``fit`` or a run folder (its config.json and metrics.json fill
    the header). ``data=(X, y)`` (validation or test data) adds the confusion matrix and the most
    confidently wrong examples; ``data_name`` says which split it is (default "validation" when the
    run had validation data, else "the data given"). ``input_shape`` (per example, e.g. (1, 28, 28))
    draws inputs and first-layer weights as images. ``findings`` default to
    ``glassnet.doctor.examine(source)``; ``metrics`` and ``config`` (what ``glassnet train``
    writes to metrics.json and config.json) add the outcome, the splits and the hyperparameters.
    ``live`` (seconds): a page of a run still going (see ``LiveReport``): it reloads itself every
    ``live`` seconds keeping the reader's place, and leaves out the figures drawn at the end.
    """
    from ..doctor.examine import run_view
    from ..doctor.rules import checked, run_rules

    view = run_view(source, baseline_error)  # history and monitor samples, read once
    if findings is None:
        findings = run_rules(view)
    checked_list = getattr(findings, "checked", None) or checked(view)
    records, iter_lr = view.records, view.iter_lr
    history_meta = None
    if isinstance(source, (str, os.PathLike)):
        folder = os.fspath(source)
        model_path = os.path.join(folder, "model.npz")
        model = None
        if os.path.exists(model_path):
            from ..serialization import load
            model = load(model_path, with_preprocessing=False)  # ``data`` comes preprocessed
        metrics = metrics if metrics is not None else read_run_file(folder, "metrics.json", required=False)
        config = config if config is not None else read_run_file(folder, "config.json", required=False)
        name = title or (config or {}).get("name") or os.path.basename(os.path.abspath(folder))
        history_meta = ((read_run_file(folder, "history.json", required=False) or {}).get("train_metrics_on")
                        or (metrics or {}).get("train_metrics_on"))
    else:
        model = source.model
        name = title or "training run"
        config = config if config is not None else _trainer_settings(source)
        history_meta = source.history.train_metrics_on
    if data_name is None:
        data_name = "validation" if any("val_loss" in e for e in view.epochs) else "the data given"
    names = {n: view.name(n) for n in view.modules}
    body, notes, specs = {}, {}, []
    body["findings"] = _findings_html(findings, checked_list)
    body["config"] = _config_html(config)
    body["architecture"] = _architecture_html(model)

    # -- curves, interactive
    it = list(range(1, len(view.iter_loss) + 1))
    if it:
        has_penalty = np.any(np.abs(view.iter_loss - view.data_loss) > 0)
        series = [("data loss (each training batch, train mode)", view.data_loss, True)]
        if has_penalty:
            series.append(("data loss + penalty (what the optimizer minimizes)", view.iter_loss, True))
        html_, spec = _chart("loss", it, series, "iteration", "loss", log=_wide_range(view.iter_loss), smoothing=0.6,
                             note="Per training batch, in train mode (dropout on, batch statistics); the "
                                  "penalty, when there is one, is drawn apart from the data loss.")
        body["loss"] = html_
        specs.append(spec)
    if view.epochs:
        ep = [e["epoch"] for e in view.epochs]
        parts = []
        loss_series = [("train data loss (mean over the epoch's batches, train mode)",
                        [e.get("data_loss") for e in view.epochs], False)]
        if any(e.get("val_loss") is not None for e in view.epochs):
            loss_series.append(("validation loss (eval mode)", [e.get("val_loss") for e in view.epochs], False))
        h, spec = _chart("epoch-loss", ep, loss_series, "epoch", "data loss")
        parts.append("<h3>Data loss</h3>" + h)
        specs.append(spec)
        on = f" ({history_meta})" if history_meta else " (eval mode)"
        for key in epoch_metric_keys(view.epochs):
            ser = []
            if any(e.get(key) is not None for e in view.epochs):
                ser.append((f"train {key}{on}", [e.get(key) for e in view.epochs], False))
            if any(e.get(f"val_{key}") is not None for e in view.epochs):
                ser.append((f"validation {key} (eval mode)", [e.get(f"val_{key}") for e in view.epochs], False))
            h, spec = _chart(f"epoch-{key}", ep, ser, "epoch", key)
            parts.append(f"<h3>{_esc(key)}</h3>" + h)
            specs.append(spec)
        parts.append(f'<p class="note">The kept model: {_esc(_kept_rule(metrics, view))}.</p>')
        body["epochs"] = "\n".join(parts)
    if iter_lr is not None and len(iter_lr):
        h, spec = _chart("lr", it, [("learning rate", iter_lr, False)], "iteration", "learning rate",
                         log=_wide_range(iter_lr))
        body["lr"] = h
        specs.append(spec)
    elif view.epochs:
        h, spec = _chart("lr", [e["epoch"] for e in view.epochs], [("learning rate", [e.get("lr") for e in view.epochs],
                                                                     False)], "epoch", "learning rate")
        body["lr"] = h
        specs.append(spec)
    ratio_series, ratio_x = {}, []
    for r in records:
        ratio_x.append(r["iteration"])
        for pname, p in r.get("params", {}).items():
            if p.get("decay"):
                ratio_series.setdefault(pname, [])
    if ratio_series:
        for pname in ratio_series:
            ratio_series[pname] = [r.get("params", {}).get(pname, {}).get("update_ratio") for r in records]
        series = [(view.name(pname), vals, False) for pname, vals in ratio_series.items()]
        series.append(("1e-3 (the notes' rule of thumb)", [1e-3] * len(ratio_x), False))
        h, spec = _chart("update-ratio", ratio_x, series, "iteration", "||update|| / ||weight||", log=True,
                         note="||w after the step - w before|| / ||w after||, per weight tensor, on the monitor's "
                              "sampled iterations.")
        body["update-ratio"] = h
        specs.append(spec)

    # -- figures (not on a live page: they are drawn once, when training has ended)
    figs = {}
    if live:
        for sid in ("activations", "gradients", "through-time", "weights", "confusion", "wrong", "learned"):
            body[sid] = '<p class="none">Drawn when training ends.</p>'
        data = None
        model_for_figures = None
    else:
        model_for_figures = model
    if records and not live:
        last = records[-1]
        figs["activations"] = plots.histograms(last.get("layers", {}), f"outputs of each layer on a training batch at "
                                               f"iteration {last['iteration']} (train mode)", names)
        grad_names = {p: view.name(p) for p in last.get("grad_hist", {})}
        figs["gradients"] = plots.histograms(last.get("grad_hist", {}), f"weight gradients at iteration "
                                             f"{last['iteration']}", grad_names)
        figs["through-time"] = plots.through_time(records, view.modules)
        if figs["through-time"] is None:
            notes["through-time"] = "No recurrent layer (RNN, LSTM, GRU) in this model."
    if model_for_figures is not None:
        from ..backend import as_numpy
        first_w = next((as_numpy(p.data) for n, p in model.named_parameters() if p.decay and p.data.ndim >= 2), None)
        if first_w is not None:
            figs["weights"] = plots.first_layer_weights(first_w, input_shape)
    labelled = None
    if model is not None and data is not None:
        X, y = np.asarray(data[0]), np.asarray(data[1])
        labelled = y.ndim == 1 and y.dtype.kind in "iu"
    on_split = f"on the {data_name} split" if data_name in ("validation", "test", "training") else f"on {data_name}"
    if labelled and len(y):
        pred, conf = _predictions(model, X, y)
        C = int(max(pred.max(), y.max())) + 1
        cm = np.zeros((C, C), dtype=np.int64)
        np.add.at(cm, (y, pred), 1)
        figs["confusion"] = plots.confusion_matrix(cm, class_names)
        notes_c = f"The kept model {on_split} ({len(y):,} examples): rows the true class, columns the prediction."
        wrong = np.flatnonzero(pred != y)
        if len(wrong):
            wrong = wrong[np.argsort(-conf[wrong])][:12]
            figs["wrong"] = plots.wrong_examples(X[wrong].reshape(len(wrong), int(np.prod(X.shape[1:]))), y[wrong],
                                                 pred[wrong], conf[wrong], input_shape, class_names)
        else:
            notes["wrong"] = f"None: the model classifies all {len(y)} examples correctly."
    if labelled and len(y):
        from ..viz.page import section, section_html
        body["learned"] = section_html(section(model, X, y))
    elif not live:
        notes["learned"] = "Needs the model and labelled data (write_report(..., data=(X, y)); the CLI passes them)."
    captions = {"confusion": notes_c if labelled and len(y) else "",
                "wrong": f"The kept model's most confident mistakes {on_split}: true class, predicted class "
                         f"(its probability)." if labelled and len(y) else "",
                "weights": "The first weight tensor: each unit's weights as an image (or a curve for 1-D inputs)."}
    for sid, _ in SECTIONS:
        if sid in body:
            continue
        png = figs.get(sid)
        note = notes.get(sid, "Nothing to show for this run.")
        cap = captions.get(sid)
        body[sid] = (_img(png) + (f'<p class="note">{_esc(cap)}</p>' if cap else "")) if png else \
            f'<p class="none">{_esc(note)}</p>'
    if "confusion" not in figs and not live:
        note = ("pass data=(X, y) to write_report (the CLI does) to see it" if labelled is None else
                "the data has no integer class labels (this is not a classification run)" if not labelled else
                "the data has no examples")
        body["confusion"] = f'<p class="none">Not computed: {_esc(note)}.</p>'
        body["wrong"] = f'<p class="none">Not computed: {_esc(note)}.</p>'
    if not records and not live:
        for sid in ("update-ratio", "activations", "gradients", "through-time"):
            body[sid] = '<p class="none">No monitor samples: add glassnet.doctor.Monitor() to the callbacks.</p>'

    n_data = len(data[1]) if data is not None and hasattr(data[1], "__len__") else None
    banner = ""
    if live:
        total = view.epochs_requested
        banner = (f'<p class="live">Live: training is running, {len(view.epochs)} epoch(s)'
                  f'{f" of {total}" if total else ""} done; this page reloads every {live:g} s and keeps your place. '
                  f'Written {datetime.datetime.now().strftime("%H:%M:%S")}.</p>')
    header = [f"<h1>glassnet report: {_esc(name)}</h1>", banner,
              f'<p class="outcome">{_outcome(metrics, view, _kept_rule(metrics, view))}</p>',
              _verdict(findings),
              _facts(view, metrics, config, model, history_meta, data_name, n_data)]
    toc = "<nav>" + "".join(f'<a href="#{sid}">{_esc(title_)}</a>' for sid, title_ in SECTIONS) + "</nav>"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset='utf-8'>"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>glassnet report: {_esc(name)}</title><style>{_CSS}</style></head><body>",
             "<header>" + "\n".join(header) + "</header>", toc]
    for sid, heading in SECTIONS:
        parts.append(f'<section id="{sid}"><h2>{_esc(heading)}</h2>\n{body[sid]}</section>')
    parts.append(_chart_assets(specs))
    if live:
        parts.append(f"<script>{_LIVE_JS % int(live * 1000)}</script>")
    parts.append("</body></html>")
    path = os.fspath(path)
    atomic_write_text(path, "\n".join(parts))
    return path
