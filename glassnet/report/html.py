"""One self-contained HTML file per run: figures embedded as base64 PNG, no JavaScript, no
network; opens offline in any browser."""
from __future__ import annotations

import base64
import datetime
import html
import os

import numpy as np

from ..serialization import atomic_write_text
from . import plots

__all__ = ["write_report", "SECTIONS"]

#: (id, title) of every section, in order; each appears in the page, with a note when empty
SECTIONS = [
    ("findings", "The doctor's findings"),
    ("loss", "Loss per iteration"),
    ("epochs", "Training and validation per epoch"),
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

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.f{border-left:4px solid #999;padding:.4em .8em;margin:.6em 0;background:#fafafa}
.error{border-color:#c0392b}.warning{border-color:#e67e22}.info{border-color:#2980b9}
.sev{font-weight:bold;text-transform:uppercase;font-size:.8em}.none{color:#777;font-style:italic}
img{max-width:100%}table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #eee}"""


def _img(png):
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _findings_html(findings, checked_list=()):
    out = []
    if not any(f.severity in ("warning", "error") for f in findings):
        out.append('<p><b>The run looks healthy</b>: the doctor found nothing that costs accuracy or time.</p>')
        if checked_list:
            out.append("<p>Checked:</p><ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in checked_list) + "</ul>")
        if findings:
            out.append("<p>Worth knowing:</p>")
    for f in findings:
        out.append(f'<div class="f {html.escape(f.severity)}"><span class="sev">{html.escape(f.severity)}</span> '
                   f'{html.escape(f.what)}<br><small>evidence: {html.escape(f.evidence)}</small><br>'
                   f'<small>remedy: {html.escape(f.remedy)}</small></div>')
    return "\n".join(out)


def _predictions(model, X, y):
    from ..functional import softmax
    from ..nn import eval_scores

    scores = eval_scores(model, X)
    prob = softmax(scores.astype(np.float64), axis=1)
    pred = prob.argmax(axis=1)
    conf = prob.max(axis=1)
    return pred, conf


def write_report(source, path, data=None, input_shape=None, class_names=None, findings=None, title=None,
                 baseline_error=None):
    """Write the HTML report of a run to ``path`` (atomically) and return the path.

    ``source`` is a Trainer after ``fit`` or a run folder. ``data=(X, y)`` (validation or
    test data) adds the confusion matrix and the most confidently wrong examples;
    ``input_shape`` (per example, e.g. (1, 28, 28)) draws inputs and first-layer weights as
    images. ``findings`` default to ``glassnet.doctor.examine(source)``.
    """
    from ..doctor.examine import run_view
    from ..doctor.rules import checked, run_rules

    view = run_view(source, baseline_error)  # history and monitor samples, read once
    if findings is None:
        findings = run_rules(view)
    checked_list = getattr(findings, "checked", None) or checked(view)
    records, iter_lr = view.records, view.iter_lr
    if isinstance(source, (str, os.PathLike)):
        folder = os.fspath(source)
        model_path = os.path.join(folder, "model.npz")
        model = None
        if os.path.exists(model_path):
            from ..serialization import load
            model = load(model_path, with_preprocessing=False)  # ``data`` comes preprocessed
        name = title or os.path.basename(os.path.abspath(folder))
    else:
        model = source.model
        name = title or "training run"
    body, notes = {}, {}
    body["findings"] = _findings_html(findings, checked_list)
    figs = {
        "loss": plots.loss_per_iteration(view.iter_loss),
        "epochs": plots.epoch_curves(view.epochs),
        "lr": plots.learning_rate(view.epochs, iter_lr),
        "update-ratio": plots.update_ratios(records),
    }
    if records:
        last = records[-1]
        figs["activations"] = plots.histograms(last.get("layers", {}), f"activations at iteration {last['iteration']}")
        figs["gradients"] = plots.histograms(last.get("grad_hist", {}), f"weight gradients at iteration {last['iteration']}")
        figs["through-time"] = plots.through_time(records, view.modules)
        if figs["through-time"] is None:
            notes["through-time"] = "No recurrent layer (RNN, LSTM, GRU) in this model."
    if model is not None:
        from ..backend import as_numpy
        first_w = next((as_numpy(p.data) for n, p in model.named_parameters() if p.decay and p.data.ndim >= 2), None)
        if first_w is not None:
            figs["weights"] = plots.first_layer_weights(first_w, input_shape)
    labelled = None
    if model is not None and data is not None:
        X, y = np.asarray(data[0]), np.asarray(data[1])
        labelled = y.ndim == 1 and y.dtype.kind in "iu"
    if labelled and len(y):
        pred, conf = _predictions(model, X, y)
        C = int(max(pred.max(), y.max())) + 1
        cm = np.zeros((C, C), dtype=np.int64)
        np.add.at(cm, (y, pred), 1)
        figs["confusion"] = plots.confusion_matrix(cm, class_names)
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
    else:
        notes["learned"] = "Needs the model and labelled data (write_report(..., data=(X, y)); the CLI passes them)."
    for sid, _ in SECTIONS[1:]:
        if sid in body:
            continue
        png = figs.get(sid)
        note = notes.get(sid, "Nothing to show for this run (see the note above).")
        body[sid] = _img(png) if png else f'<p class="none">{html.escape(note)}</p>'
    if "confusion" not in figs:
        note = ("pass data=(X, y) to write_report (the CLI does) to see it" if labelled is None else
                "the data has no integer class labels (this is not a classification run)" if not labelled else
                "the data has no examples")
        body["confusion"] = f'<p class="none">Not computed: {note}.</p>'
        body["wrong"] = f'<p class="none">Not computed: {note}.</p>'
    if not records:
        for sid in ("update-ratio", "activations", "gradients"):
            body[sid] = '<p class="none">No monitor samples: add glassnet.doctor.Monitor() to the callbacks.</p>'
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    last = view.epochs[-1] if view.epochs else {}
    summary = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float) and k != "time")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>glassnet report: {html.escape(name)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>glassnet report: {html.escape(name)}</h1>",
             f"<p>{html.escape(stamp)} &middot; {len(view.epochs)} epochs, {len(view.iter_loss)} iterations"
             f"{' &middot; stop: ' + html.escape(view.stop_reason) if view.stop_reason else ''}<br>"
             f"<small>last epoch: {html.escape(summary)}</small></p>"]
    for sid, heading in SECTIONS:
        parts.append(f'<section id="{sid}"><h2>{html.escape(heading)}</h2>\n{body[sid]}</section>')
    parts.append("</body></html>")
    path = os.fspath(path)
    atomic_write_text(path, "\n".join(parts))
    return path
