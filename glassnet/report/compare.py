"""One page comparing runs: their curves overlaid, a table of the hyperparameters that differ
with each run's result (a click on a row highlights that run everywhere), a parallel-coordinates
view of the hyperparameters against the final metric, and the config differences.

    glassnet compare runs/a runs/b runs/c --out compare.html
    glassnet compare searches/lr            # every trial of a search folder
"""
from __future__ import annotations

import datetime
import json
import math
import os

from ..errors import RunFolderError
from ..serialization import atomic_write_text
from ..train.runfolder import read_run_file
from .html import _CSS, _chart, _chart_assets, _esc

__all__ = ["write_compare", "find_runs", "config_differences"]


def find_runs(paths) -> list:
    """The run folders named by ``paths``: a run folder (it holds history.json) is itself; a search
    folder (trials/ inside) gives every trial that has a history, in the order of their names."""
    runs = []
    for path in paths:
        path = os.fspath(path)
        if os.path.exists(os.path.join(path, "history.json")):
            runs.append(path)
        elif os.path.isdir(os.path.join(path, "trials")):
            trials = sorted(d for d in os.listdir(os.path.join(path, "trials"))
                            if os.path.exists(os.path.join(path, "trials", d, "history.json")))
            if not trials:
                raise RunFolderError(f"{path}: a search folder without a finished trial yet")
            runs.extend(os.path.join(path, "trials", d) for d in trials)
        elif not os.path.exists(path):
            raise RunFolderError(f"{path}: no such folder")
        else:
            raise RunFolderError(f"{path}: neither a run folder (history.json) nor a search folder (trials/); "
                                 f"give folders written by glassnet train, demo or tune")
    return runs


def _leaves(value, prefix=""):
    """Dotted leaves of a config, lists included (``model.layers[2].out_features``)."""
    out = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_leaves(v, f"{prefix}{k}."))
    elif isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            out.update(_leaves(v, f"{prefix[:-1]}[{i}]."))
    else:
        out[prefix[:-1]] = value
    return out


def config_differences(configs):
    """(differing, same): the dotted settings whose values are not all equal across ``configs``
    ({path: [value per run, None where a run lacks it]}), and how many are equal in all."""
    flat = [_leaves(c or {}) for c in configs]
    keys = sorted(set().union(*flat))
    differing, same = {}, 0
    for k in keys:
        values = [f.get(k) for f in flat]
        if all(json.dumps(v, sort_keys=True) == json.dumps(values[0], sort_keys=True) for v in values):
            same += 1
        else:
            differing[k] = values
    return differing, same


def _load(folder):
    return {"folder": folder, "config": read_run_file(folder, "config.json", required=False) or {},
            "metrics": read_run_file(folder, "metrics.json", required=False) or {},
            "history": read_run_file(folder, "history.json")}


def _label(run, runs):
    folder = run["folder"]
    parent = os.path.basename(os.path.dirname(os.path.abspath(folder)))
    base = os.path.basename(os.path.abspath(folder))
    names = [os.path.basename(os.path.abspath(r["folder"])) for r in runs]
    return base if names.count(base) == 1 else f"{parent}/{base}"


def _final(run):
    """(name, value) of the run's result: the kept model's value of its selection monitor, else the
    last epoch's validation accuracy or loss."""
    sel = run["metrics"].get("selected") or {}
    if sel.get("value") is not None:
        return sel["monitor"], float(sel["value"])
    epochs = run["history"].get("epochs") or []
    last = epochs[-1] if epochs else {}
    for key in ("val_accuracy", "val_loss", "accuracy", "loss"):
        if last.get(key) is not None:
            return key, float(last[key])
    return None, None


def _cell(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else json.dumps(v) if not isinstance(v, str) else v


def _color(t):
    """A colour from dark blue (0) to yellow (1), as viridis' ends."""
    stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    r, g, b = (round(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])) for k in range(3))
    return f"rgb({r},{g},{b})"


def _parallel(labels, params, metric_name, metric):
    """An SVG of the runs as polylines across one vertical axis per hyperparameter and the metric;
    numbers on a linear or (spanning two decades or more) log axis, other values as categories."""
    axes = list(params.items()) + [(metric_name or "result", metric)]
    if len(axes) < 2:
        return '<p class="none">Only one quantity differs: no parallel coordinates to draw.</p>'
    width, height, top, bottom, left = max(160 * len(axes), 600), 340, 30, 40, 70
    step = (width - 2 * left) / (len(axes) - 1)
    ys = []
    ticks = []
    for name, values in axes:
        nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
        if len(nums) == len([v for v in values if v is not None]) and nums:
            lo, hi = min(nums), max(nums)
            log = lo > 0 and hi / lo >= 100
            f = (lambda v: math.log10(v)) if log else (lambda v: v)
            a, b = f(lo), f(hi)
            pos = [None if v is None else (0.5 if b == a else (f(v) - a) / (b - a)) for v in values]
            ticks.append((f"{lo:.3g}", f"{hi:.3g}", " (log)" if log else ""))
        else:
            cats = sorted({json.dumps(v) for v in values}, key=str)
            pos = [(cats.index(json.dumps(v)) + 0.5) / len(cats) for v in values]
            ticks.append((json.loads(cats[0]), json.loads(cats[-1]), ""))
        ys.append([None if p is None else top + (1 - p) * (height - top - bottom) for p in pos])
    m = [v for v in metric if v is not None]
    lo, hi = (min(m), max(m)) if m else (0.0, 1.0)
    lower_better = bool(metric_name) and "loss" in metric_name
    out = [f'<svg class="pc" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="parallel coordinates">']
    for k, (name, _) in enumerate(axes):
        x = left + k * step
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#999"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" font-size="13">{_esc(name)}'
                   f'{_esc(ticks[k][2])}</text>')
        out.append(f'<text x="{x + 4:.1f}" y="{top - 8}" font-size="12">{_esc(_cell(ticks[k][1]))}</text>')
        out.append(f'<text x="{x + 4:.1f}" y="{height - bottom + 14}" font-size="12">'
                   f'{_esc(_cell(ticks[k][0]))}</text>')
    for i, label in enumerate(labels):
        pts = [(left + k * step, ys[k][i]) for k in range(len(axes)) if ys[k][i] is not None]
        v = metric[i]
        t = 0.5 if v is None or hi == lo else (v - lo) / (hi - lo)
        color = _color(1 - t if lower_better else t)
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline id="pc-{i}" class="pc-line" data-run="{i}" points="{path}" fill="none" '
                   f'stroke="{color}" stroke-width="2.5"><title>{_esc(label)}: {_esc(_cell(v))}</title></polyline>')
    out.append("</svg>")
    return "".join(out) + (f'<p class="note">Each line is a run; its colour the {_esc(metric_name or "result")} '
                           f'(yellow: best). Click a line or a table row to highlight that run.</p>')


_LINK_JS = r"""(function () {
  var rows = document.querySelectorAll("tr[data-run]"), lines = document.querySelectorAll(".pc-line");
  var current = null;
  function pick(i) {
    current = current === i ? null : i;
    rows.forEach(function (r) { r.classList.toggle("hl", current !== null && +r.dataset.run === current); });
    lines.forEach(function (l) {
      l.classList.toggle("hl", current !== null && +l.dataset.run === current);
      l.classList.toggle("dim", current !== null && +l.dataset.run !== current);
    });
    (window.glassnetCharts || []).forEach(function (c) {
      if (!c.spec.perRun) { return; }
      var k = current === null ? undefined : c.firstOf[current];
      if (k === undefined) { c.chart.setSeries(null, {focus: false}); } else { c.chart.setSeries(k, {focus: true}); }
    });
  }
  rows.forEach(function (r) { r.addEventListener("click", function () { pick(+r.dataset.run); }); });
  lines.forEach(function (l) { l.addEventListener("click", function () { pick(+l.dataset.run); }); });
  var linked = /^#run=(\d+)$/.exec(window.location.hash);  // a link to the page with one run highlighted
  if (linked) { pick(+linked[1]); }
})();"""

_COMPARE_CSS = """tr[data-run]{cursor:pointer}tr.hl td{background:#fff3c4}.pc-line{cursor:pointer}
.pc-line.dim{opacity:.15}.pc-line.hl{stroke-width:5}"""


def write_compare(paths, out):
    """Write the comparison page of the runs in ``paths`` (run folders and search folders) to
    ``out`` (atomically); returns the path. Needs two runs or more."""
    folders = find_runs(paths)
    if len(folders) < 2:
        raise RunFolderError(f"compare needs two runs or more, got {len(folders)} ({', '.join(map(str, paths))})")
    runs = [_load(f) for f in folders]
    labels = [_label(r, runs) for r in runs]
    differing, same = config_differences([r["config"] for r in runs])
    differing.pop("name", None)
    finals = [_final(r) for r in runs]
    metric_name = next((n for n, _ in finals if n), None)
    metric = [v if n == metric_name else None for n, v in finals]

    # the table: a row per run with the differing settings and its results
    params = {k: v for k, v in differing.items() if not k.startswith(("trainer.verbose", "trainer.keep_best"))}
    head = "".join(f"<th><code>{_esc(k)}</code></th>" for k in params)
    rows = []
    for i, (r, label) in enumerate(zip(runs, labels)):
        m = r["metrics"]
        test = (m.get("test") or {}).get("accuracy")
        cells = "".join(f"<td>{_esc(_cell(v[i]))}</td>" for v in params.values())
        rows.append(f'<tr data-run="{i}"><td>{_esc(label)}</td>{cells}<td class="num">{_esc(_cell(metric[i]))}</td>'
                    f'<td class="num">{"-" if test is None else f"{test * 100:.2f} %"}</td>'
                    f'<td class="num">{len(r["history"].get("epochs") or [])}</td>'
                    f'<td class="num">{_cell(m.get("train_seconds"))}</td></tr>')
    table = (f'<table><tr><th>run</th>{head}<th>{_esc(metric_name or "result")} (kept model)</th>'
             f'<th>test accuracy</th><th>epochs</th><th>seconds</th></tr>' + "".join(rows) + "</table>"
             f'<p class="note">{len(params)} setting(s) differ; {same} are the same in every run. Click a row to '
             f'highlight the run in the charts and the parallel coordinates (or open the page with #run=N).</p>')

    # overlaid curves, one series per run
    specs, charts = [], []
    n_epochs = max(len(r["history"].get("epochs") or []) for r in runs)
    keys = ["val_loss", "val_accuracy", "data_loss", "accuracy"]
    titles = {"val_loss": "validation loss per epoch (eval mode)", "val_accuracy": "validation accuracy per epoch",
              "data_loss": "training data loss per epoch (mean over batches, train mode)",
              "accuracy": "training accuracy per epoch (eval mode, a fixed sample)"}
    for key in keys:
        series, which = [], []
        for i, (r, label) in enumerate(zip(runs, labels)):
            eps = r["history"].get("epochs") or []
            vals = [e.get(key) for e in eps] + [None] * (n_epochs - len(eps))
            if any(v is not None for v in vals):
                series.append((label, vals, False))
                which.append(i)
        if not series:
            continue
        body, spec = _chart(f"cmp-{key}", list(range(1, n_epochs + 1)), series, "epoch", key)
        for s_, i in zip(spec["series"], which):
            s_["run"] = i
        spec["perRun"] = True
        specs.append(spec)
        charts.append(f"<h3>{_esc(titles[key])}</h3>{body}")
    n_iter = max(len(r["history"].get("iterations", {}).get("loss") or []) for r in runs)
    if n_iter:
        series = []
        for r, label in zip(runs, labels):
            vals = list(r["history"].get("iterations", {}).get("data_loss") or [])
            series.append((label, vals + [None] * (n_iter - len(vals)), False))
        body, spec = _chart("cmp-iter", list(range(1, n_iter + 1)), series, "iteration", "data loss",
                            log=False, smoothing=0.8)
        for i, s_ in enumerate(spec["series"]):
            s_["smooth"], s_["run"] = True, i
        spec["smoothOnly"] = True
        spec["perRun"] = True
        specs.append(spec)
        charts.append(f"<h3>training data loss per iteration (each batch, train mode; smoothed)</h3>{body}")

    parallel = _parallel(labels, params, metric_name, metric)
    diff_rows = "".join(f"<tr><td><code>{_esc(k)}</code></td>" + "".join(f"<td>{_esc(_cell(x))}</td>" for x in v)
                        + "</tr>" for k, v in differing.items())
    diff = (f"<table><tr><th>setting</th>{''.join(f'<th>{_esc(x)}</th>' for x in labels)}</tr>{diff_rows}</table>"
            if differing else '<p class="none">The configs are identical (the runs differ by chance only: seeds, '
                              'machines).</p>')
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    best = None
    if any(v is not None for v in metric):
        valid = [(v, i) for i, v in enumerate(metric) if v is not None]
        best = (min if metric_name and "loss" in metric_name else max)(valid)[1]
    summary = (f"best by {_esc(metric_name)}: <b>{_esc(labels[best])}</b> ({_esc(_cell(metric[best]))})"
               if best is not None else "no results recorded")
    page = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset='utf-8'>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>glassnet comparison: {len(runs)} runs</title><style>{_CSS}{_COMPARE_CSS}</style></head><body>",
            f"<header><h1>glassnet comparison: {len(runs)} runs</h1><p class=\"outcome\">{summary}</p>"
            f"<p class=\"note\">{_esc(stamp)} &middot; " + ", ".join(_esc(os.path.abspath(f)) for f in folders[:8])
            + (" ..." if len(folders) > 8 else "") + "</p></header>",
            '<nav><a href="#runs">Runs and hyperparameters</a><a href="#curves">Curves</a>'
            '<a href="#parallel">Parallel coordinates</a><a href="#differences">Config differences</a></nav>',
            f'<section id="runs"><h2>Runs and hyperparameters</h2>{table}</section>',
            f'<section id="curves"><h2>Curves</h2>{"".join(charts)}</section>',
            f'<section id="parallel"><h2>Parallel coordinates</h2>{parallel}</section>',
            f'<section id="differences"><h2>Config differences</h2>{diff}</section>',
            _chart_assets(specs), f"<script>{_LINK_JS}</script>", "</body></html>"]
    out = os.fspath(out)
    atomic_write_text(out, "\n".join(page))
    return out
