"""What glassnet objects look like in a Jupyter notebook: ``_repr_html_`` of a History (its curves
as inline SVG), the doctor's findings (cards by severity), a Trainer (its state and last metrics)
and a search's result (its leaderboard); and the progress display that updates in place.

Inline SVG and HTML only: no script, so the output shows the same in JupyterLab, classic
Notebook, VS Code and a saved .ipynb rendered on a website. Every object keeps a text
``__repr__`` for terminals.
"""
from __future__ import annotations

import math
import time

from ..tune.search import _fmt
from .html import _esc, epoch_metric_keys, optimizer_settings

__all__ = ["svg_chart", "history_html", "findings_html", "trainer_html", "search_html", "in_notebook",
           "NotebookProgress"]

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
_STYLE = ("font-family:system-ui,sans-serif;font-size:13px;line-height:1.4")


def svg_chart(x, series, title="", xlabel="", width=380, height=200, log=False) -> str:
    """A small line chart as inline SVG. ``series``: [(label, values)]; None/NaN values leave gaps;
    ``log``: a log y axis (values <= 0 left out)."""
    pts = [(label, [None if v is None or not math.isfinite(v) or (log and v <= 0) else (math.log10(v) if log else v)
                    for v in values]) for label, values in series]
    ys = [v for _, vals in pts for v in vals if v is not None]
    if not ys or not len(x):
        return ""
    lo, hi = min(ys), max(ys)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    x0, x1 = min(x), max(x)
    if x1 == x0:
        x1 = x0 + 1
    left, right, top, bottom = 52, 10, 22, 34
    w, h = width - left - right, height - top - bottom

    def px(xv):
        return left + (xv - x0) / (x1 - x0) * w

    def py(yv):
        return top + (1 - (yv - lo) / (hi - lo)) * h

    def tick(v):
        return f"{10 ** v:.3g}" if log else f"{v:.4g}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 18 * len(pts)}" '
           f'style="{_STYLE}">', f'<text x="{left}" y="14" font-weight="bold">{_esc(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>',
           f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{tick(hi)}</text>',
           f'<text x="{left - 4}" y="{top + h}" text-anchor="end">{tick(lo)}</text>',
           f'<text x="{left}" y="{top + h + 16}">{x0:g}</text>',
           f'<text x="{left + w}" y="{top + h + 16}" text-anchor="end">{x1:g}</text>',
           f'<text x="{left + w / 2}" y="{top + h + 16}" text-anchor="middle">{_esc(xlabel)}'
           f'{" (log y)" if log else ""}</text>']
    for k, (label, vals) in enumerate(pts):
        color = _COLORS[k % len(_COLORS)]
        runs, cur = [], []
        for xv, yv in zip(x, vals):
            if yv is None:
                if cur:
                    runs.append(cur)
                cur = []
            else:
                cur.append(f"{px(xv):.1f},{py(yv):.1f}")
        if cur:
            runs.append(cur)
        for r in runs:
            if len(r) == 1:
                cx, cy = r[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            else:
                out.append(f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" stroke-width="1.8"/>')
        ly = height + 14 + 18 * k - 4
        out.append(f'<rect x="{left}" y="{ly - 9}" width="12" height="3" fill="{color}"/>'
                   f'<text x="{left + 18}" y="{ly}">{_esc(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _epoch_charts(history, width=380):
    epochs = history.epochs
    if not epochs:
        return ""
    ep = [e["epoch"] for e in epochs]
    charts = []
    loss = [("train data loss (train mode)", [e.get("data_loss") for e in epochs])]
    if any(e.get("val_loss") is not None for e in epochs):
        loss.append(("validation loss (eval mode)", [e.get("val_loss") for e in epochs]))
    charts.append(svg_chart(ep, loss, "data loss per epoch", "epoch", width=width))
    for key in epoch_metric_keys(epochs)[:2]:
        series = []
        if any(e.get(key) is not None for e in epochs):
            series.append((f"train {key} (eval mode)", [e.get(key) for e in epochs]))
        if any(e.get(f"val_{key}") is not None for e in epochs):
            series.append((f"validation {key}", [e.get(f"val_{key}") for e in epochs]))
        charts.append(svg_chart(ep, series, f"{key} per epoch", "epoch", width=width))
    return '<div style="display:flex;flex-wrap:wrap;gap:12px">' + "".join(charts) + "</div>"


def _last_row(history):
    if not history.epochs:
        return ""
    e = history.epochs[-1]
    cells = "".join(f"<td style='padding:2px 8px'>{_esc(k)}</td><td style='padding:2px 8px'><b>{v:.4g}</b></td>"
                    for k, v in e.items() if isinstance(v, float) and k not in ("time",))
    return f"<table><tr>{cells}</tr></table>"


def history_html(history) -> str:
    n_it = len(history.iterations.get("loss", []))
    head = (f"<b>History</b>: {len(history.epochs)} epochs, {n_it} iterations"
            + (f"; {_esc(history.stop_reason)}" if history.stop_reason else ""))
    iters = history.iterations.get("loss", [])
    chart = ""
    if n_it > 1:
        step = max(1, n_it // 400)  # at most 400 points inline
        x = list(range(1, n_it + 1, step))
        data = history.iterations.get("data_loss", iters)
        chart = svg_chart(x, [("data loss per batch (train mode)", data[::step])], "training loss per iteration",
                          "iteration")
    return (f'<div style="{_STYLE}">{head}{_last_row(history)}'
            f'<div style="display:flex;flex-wrap:wrap;gap:12px">{chart}</div>{_epoch_charts(history)}</div>')


_SEV = {"error": "#c0392b", "warning": "#e67e22", "info": "#2980b9"}


def findings_html(findings) -> str:
    healthy = not any(f.severity in ("warning", "error") for f in findings)
    out = [f'<div style="{_STYLE}">']
    if healthy:
        out.append("<p><b>The doctor: the run looks healthy.</b></p>")
        checked = getattr(findings, "checked", None)
        if checked:
            out.append("<details><summary>what was checked</summary><ul>"
                       + "".join(f"<li>{_esc(c)}</li>" for c in checked) + "</ul></details>")
    for f in findings:
        color = _SEV.get(f.severity, "#999")
        out.append(f'<div style="border-left:4px solid {color};padding:4px 10px;margin:6px 0;background:#fafafa">'
                   f'<span style="color:{color};font-weight:bold;text-transform:uppercase">{_esc(f.severity)}</span> '
                   f'{_esc(f.what)}<br><span style="color:#444">evidence: {_esc(f.evidence)}</span><br>'
                   f'<span style="color:#444">remedy: {_esc(f.remedy)}</span></div>')
    out.append("</div>")
    return "".join(out)


def trainer_html(trainer) -> str:
    model = trainer.model
    n = sum(p.data.size for p in model.parameters())
    done = trainer.epoch
    total = trainer.epochs_requested
    state = ("not fitted yet" if trainer.batch_size is None else
             f"{done} epoch(s){f' of {total}' if total else ''}, {trainer.iteration} iterations, batch {trainer.batch_size}")
    opt = trainer.optimizer
    settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in optimizer_settings(opt).items())
    rows = [("model", f"{type(model).__name__}, {n:,} parameters"),
            ("loss", type(trainer.loss).__name__),
            ("optimizer", f"{type(opt).__name__}({settings})"),
            ("training", state + (f"; {trainer.history.stop_reason}" if trainer.history.stop_reason else ""))]
    if trainer.comm.size > 1:
        rows.append(("ranks", f"{trainer.comm.size} (data parallel)"))
    table = "".join(f"<tr><td style='padding:2px 10px;color:#555'>{_esc(k)}</td><td>{_esc(v)}</td></tr>"
                    for k, v in rows)
    return (f'<div style="{_STYLE}"><b>Trainer</b><table>{table}</table>{_last_row(trainer.history)}'
            f'{_epoch_charts(trainer.history)}</div>')


def search_html(result) -> str:
    rows = result.trials
    done = [r for r in rows if r["status"] == "done"]
    done.sort(key=lambda r: -r["score"])
    names = sorted({k for r in rows for k in r["params"]})
    head = "".join(f"<th style='padding:2px 8px'>{_esc(n)}</th>" for n in names)
    body = []
    for i, r in enumerate(done, 1):
        vals = "".join(f"<td style='padding:2px 8px'>{_esc(_fmt(r['params'].get(n)))}</td>" for n in names)
        style = " style='background:#fff3c4'" if i == 1 else ""
        body.append(f"<tr{style}><td>{i}</td><td>{_esc(r['key'])}</td><td><b>{r['score']:.4f}</b></td>{vals}</tr>")
    others = [r for r in rows if r["status"] != "done"]
    for r in others:
        err = (r.get("error") or "").splitlines()[0][:80] if r.get("error") else ""
        body.append(f"<tr style='color:#888'><td>-</td><td>{_esc(r['key'])}</td><td>{_esc(r['status'])}</td>"
                    f"<td colspan='{len(names)}'>{_esc(err)}</td></tr>")
    warn = "".join(f"<p style='color:#e67e22'>{_esc(w)}</p>" for w in result.warnings)
    return (f'<div style="{_STYLE}"><b>Search</b>: {len(rows)} trials, {len(done)} done'
            f'{f" ({_esc(result.folder)})" if result.folder else ""}{warn}'
            f"<table><tr><th>rank</th><th>trial</th><th>score</th>{head}</tr>{''.join(body)}</table></div>")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where HTML output and display handles work)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class NotebookProgress:
    """The training progress in a notebook: one output, updated in place through a display handle
    (no clear_output, no flicker): a progress bar over the run's iterations, the last epoch's
    line and the curves so far. Updated at every epoch's end and at most every ``interval``
    seconds within an epoch."""

    def __init__(self, interval=0.5):
        from IPython.display import HTML, display

        self._HTML = HTML
        self.handle = display(HTML("<i>training starts...</i>"), display_id=True)
        self.interval = interval
        self._last = 0.0

    def _html(self, trainer, logs, running):
        per = logs.get("batches_per_epoch") or 1
        total = per * (logs.get("epochs") or 1)
        done = trainer.iteration
        line = _esc(trainer.history.epoch_line(logs.get("epochs"))) if trainer.history.epochs else ""
        now = (f"epoch {logs.get('epoch')}/{logs.get('epochs')}, batch {logs.get('batch', 0) + 1}/{per}, "
               f"loss {logs.get('loss', float('nan')):.4f}") if running else "finished"
        return (f'<div style="{_STYLE}"><progress value="{done}" max="{total}" style="width:320px"></progress> '
                f"{done}/{total} iterations &middot; {_esc(now)}<br><code>{line}</code>"
                f"{_epoch_charts(trainer.history)}</div>")

    def update(self, trainer, logs, running=True, force=False):
        t = time.monotonic()
        if force or t - self._last >= self.interval:
            self.handle.update(self._HTML(self._html(trainer, logs, running)))
            self._last = t
