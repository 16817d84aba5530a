// glassnet's interactive charts: draws every chart described in <script id="gn-charts"> with uPlot.
// Hover shows the values, dragging across a chart zooms in (double-click: all of it again), a click
// on a legend entry hides or shows that series, and a slider smooths the noisy series
// (exponential moving average, as TensorBoard's).
(function () {
  "use strict";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                "#7f7f7f", "#bcbd22"];
  var specs = JSON.parse(document.getElementById("gn-charts").textContent);
  var charts = [];

  function ema(y, weight) {
    var out = new Array(y.length), last = null, debias = 0, i, v;
    for (i = 0; i < y.length; i++) {
      v = y[i];
      if (v === null || !isFinite(v)) { out[i] = null; continue; }
      last = last === null ? 0 : last;
      last = weight * last + (1 - weight) * v;
      debias = weight * debias + (1 - weight);
      out[i] = last / debias;  // the first points are not pulled towards zero
    }
    return out;
  }

  function build(spec) {
    var holder = document.getElementById("chart-" + spec.id);
    if (!holder) { return; }
    var weight = spec.smoothing || 0;
    var series = [{label: spec.xlabel}], columns = [spec.x], plan = [], runOf = [null], firstOf = {};
    spec.series.forEach(function (s, k) {
      var color = COLORS[k % COLORS.length];
      if (s.run !== undefined && firstOf[s.run] === undefined) { firstOf[s.run] = series.length; }
      if (s.smooth && spec.smoothOnly) {
        series.push({label: s.label, stroke: color, width: 2, spanGaps: true});
        plan.push({y: s.y, smooth: true});
        runOf.push(s.run);
      } else if (s.smooth) {
        series.push({label: s.label + " (raw)", stroke: color + "55", width: 1, spanGaps: false});
        plan.push({y: s.y, smooth: false});
        series.push({label: s.label + " (smoothed)", stroke: color, width: 2, spanGaps: true});
        plan.push({y: s.y, smooth: true});
        runOf.push(s.run, s.run);
      } else {
        series.push({label: s.label, stroke: color, width: 1.8, spanGaps: true,
                     points: {show: spec.x.length <= 60}});
        plan.push({y: s.y, smooth: false});
        runOf.push(s.run);
      }
    });
    function data() {
      return columns.concat(plan.map(function (p) { return p.smooth ? ema(p.y, weight) : p.y; }));
    }
    var opts = {
      width: Math.max(holder.clientWidth, 300), height: spec.height || 320,
      scales: {x: {time: false}, y: spec.log ? {distr: 3} : {}},
      axes: [{label: spec.xlabel, labelSize: 24, font: "13px system-ui, sans-serif",
              incrs: spec.x.every(Number.isInteger) ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
                                                       20000, 50000, 100000] : undefined},
             {label: spec.ylabel, labelSize: 24, size: 70, font: "13px system-ui, sans-serif"}],
      series: series,
      cursor: {drag: {x: true, y: false}},
      legend: {live: true}
    };
    if (spec.perRun) { opts.focus = {alpha: 0.2}; }
    var chart = new uPlot(opts, data(), holder);
    charts.push({chart: chart, holder: holder, spec: spec, runOf: runOf, firstOf: firstOf});
    var slider = document.getElementById("smooth-" + spec.id);
    if (slider) {
      var shown = document.getElementById("smooth-value-" + spec.id);
      slider.addEventListener("input", function () {
        weight = parseFloat(slider.value);
        shown.textContent = weight.toFixed(2);
        chart.setData(data(), false);
      });
    }
  }

  specs.forEach(build);
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.chart.setSize({width: Math.max(c.holder.clientWidth, 300), height: c.chart.height}); });
  });
  window.glassnetCharts = charts;  // the comparison page links its table to them
  document.body.setAttribute("data-charts", String(charts.length));  // read by the browser test
})();
