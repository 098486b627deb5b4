/* Credit charts: the facility's PD history and the health-index history of its pledged presses (only those
   the enterprise shares with the lender). Plotly is served locally from the installed plotly package. */
(function () {
  "use strict";
  var t = window.gettext || function (s) { return s; };

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function message(target, text) {
    target.innerHTML = "";
    var p = document.createElement("p");
    p.className = "muted chart-empty";
    p.textContent = text;
    target.appendChild(p);
  }

  var layoutBase = { margin: { l: 55, r: 15, t: 40, b: 40 }, height: 320, legend: { orientation: "h" } };
  var config = { displaylogo: false, responsive: true };

  // A date axis that never zooms into milliseconds: assessments made minutes apart (or a single one)
  // still get a readable span of days.
  function dateAxis(at, title) {
    var times = at.map(function (value) { return new Date(value).getTime(); });
    var low = Math.min.apply(null, times), high = Math.max.apply(null, times);
    var day = 24 * 3600 * 1000;
    var axis = { title: { text: title }, type: "date" };
    if (high - low < 2 * day) {
      axis.range = [new Date(low - day).toISOString(), new Date(high + day).toISOString()];
      axis.tickformat = "%Y-%m-%d";
    }
    return axis;
  }

  function pdChart() {
    var target = document.getElementById("pd-chart");
    var history = data("pd-history");
    if (!target || !history) { return; }
    if (!history.length) { message(target, t("No assessment yet.")); return; }
    var at = history.map(function (p) { return p.at; });
    var traces = [
      { x: at, y: history.map(function (p) { return 100 * p.pd; }), name: t("PD (12 months)"), mode: "lines+markers" },
      { x: at, y: history.map(function (p) { return 100 * p.pd_financial; }), name: t("Financial PD"),
        mode: "lines+markers", line: { dash: "dot" } },
      { x: at, y: history.map(function (p) { return 100 * p.lgd; }), name: "LGD", yaxis: "y2", mode: "lines+markers",
        line: { dash: "dash" } }
    ];
    var layout = Object.assign({}, layoutBase, {
      title: { text: t("PD and LGD at each assessment"), font: { size: 14 } },
      xaxis: dateAxis(at, t("Assessment date")),
      yaxis: { title: { text: "PD (%)" }, rangemode: "tozero" },
      yaxis2: { title: { text: "LGD (%)" }, overlaying: "y", side: "right", rangemode: "tozero" }
    });
    window.Plotly.newPlot(target, traces, layout, config);
  }

  function healthChart() {
    var target = document.getElementById("health-chart");
    var series = data("health-history");
    if (!target || !series) { return; }
    var traces = [];
    var hidden = [];
    series.forEach(function (press) {
      if (!press.shared) { hidden.push(press.press); return; }
      var at = press.points.map(function (p) { return p.at; });
      traces.push({ x: at, y: press.points.map(function (p) { return p.z; }), name: press.press + " · z",
                    mode: "markers", marker: { size: 6, color: press.points.map(function (p) { return p.level; }),
                    colorscale: [[0, "#1d7a3a"], [0.34, "#a86b00"], [0.67, "#9a4a00"], [1, "#b3261e"]],
                    cmin: 0, cmax: 3 } });
      traces.push({ x: at, y: press.points.map(function (p) { return p.z_smoothed; }),
                    name: press.press + " · " + t("EWMA"), mode: "lines" });
    });
    if (!traces.length) {
      message(target, series.length ? t("The enterprise does not share the health of the pledged presses.")
                                    : t("No pledged presses."));
      return;
    }
    var note = document.getElementById("not-shared-note");
    if (note && hidden.length) {
      note.textContent = t("Not shared by the enterprise, so not shown:") + " " + hidden.join(", ");
      note.hidden = false;
    }
    var layout = Object.assign({}, layoutBase, { title: { text: t("Health index z of the pledged presses"),
                                                          font: { size: 14 } },
                                                 xaxis: { title: { text: t("Batch recorded") } },
                                                 yaxis: { title: { text: t("z (higher is worse)") } } });
    window.Plotly.newPlot(target, traces, layout, config);
  }

  function draw() {
    if (!window.Plotly) {
      ["pd-chart", "health-chart"].forEach(function (id) {
        var target = document.getElementById(id);
        if (target) { message(target, t("Charts need plotly.min.js, which did not load.")); }
      });
      return;
    }
    pdChart();
    healthChart();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
}());
