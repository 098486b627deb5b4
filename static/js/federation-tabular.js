// Tabular results page: an enterprise's own hold-out periods, actual against the federation's prediction
// (Plotly scatter with the diagonal), axes labelled with the target's unit. Texts come translated from the
// page (json_script), so this file holds no user-visible strings of its own.
(function () {
  "use strict";
  var node = document.getElementById("tabular-fit-data");
  if (!node || !window.Plotly) { return; }
  var data = JSON.parse(node.textContent);
  if (!data.actual.length) { return; }
  var all = data.actual.concat(data.predicted);
  var low = Math.min.apply(null, all), high = Math.max.apply(null, all);
  var pad = (high - low) * 0.05 || 1;
  var traces = [
    {x: data.actual, y: data.predicted, mode: "markers", type: "scatter", name: data.periods},
    {x: [low - pad, high + pad], y: [low - pad, high + pad], mode: "lines", type: "scatter", name: data.diagonal,
     line: {dash: "dash", color: "#888"}}
  ];
  var layout = {title: {text: data.title}, margin: {t: 40, r: 20, b: 60, l: 70}, height: 420,
                xaxis: {title: {text: data.x_title}}, yaxis: {title: {text: data.y_title}},
                legend: {orientation: "h", y: -0.2}};
  Plotly.newPlot("chart-fit", traces, layout, {displayModeBar: false, responsive: true});
})();
