// A press's prediction history: predicted risk (probability of any fault) over time, per channel.
(function () {
  "use strict";
  var t = window.gettext || function (s) { return s; };
  var history = JSON.parse(document.getElementById("fl-history").textContent);
  if (!window.Plotly || !history.length) { return; }
  var channels = {};
  history.forEach(function (p) { (channels[p.channel] = channels[p.channel] || []).push(p); });
  var traces = Object.keys(channels).sort().map(function (name) {
    var points = channels[name];
    return {x: points.map(function (p) { return p.t; }), y: points.map(function (p) { return p.risk; }),
            text: points.map(function (p) { return p["class"] + " (" + p.confidence.toFixed(2) + ") · " + p.version; }),
            mode: "lines+markers", type: "scatter", name: name};
  });
  Plotly.newPlot("chart-risk", traces, {title: {text: t("Predicted risk over time"), font: {size: 14}}, height: 320,
    margin: {l: 50, r: 10, t: 40, b: 40}, yaxis: {title: {text: t("Risk")}, range: [0, 1]}}, {displayModeBar: false, responsive: true});
})();
