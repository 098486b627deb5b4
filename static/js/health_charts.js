// Health charts (Plotly), drawn from the health API: the fleet's sparklines, a press's dashboard
// (health index with thresholds and alarms, indicators, latest SES with fault frequencies, kurtogram,
// operating conditions), a lender's trend, and one run's spectra.
(function () {
  "use strict";
  var t = window.gettext || function (text) { return text; };
  var fmt = window.interpolate || function (text, values) { return text; };
  var LEVEL_COLOURS = ["#1d7a3a", "#c98a00", "#d9480f", "#b3261e"];
  var LEVEL_NAMES = [t("Normal"), t("Warning"), t("Alarm"), t("Danger")];
  var CONFIG = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"]};
  var FONT = {family: "system-ui, -apple-system, 'Segoe UI', 'PingFang SC', sans-serif", size: 13, color: "#1b2330"};

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}}).then(function (response) {
      if (!response.ok) { throw new Error(response.status + " " + url); }
      return response.json();
    });
  }

  function loadAll(url, found) {
    return getJSON(url).then(function (page) {
      var items = (found || []).concat(page.results || page);
      return page.next ? loadAll(page.next, items) : items;
    });
  }

  function layout(extra) {
    return Object.assign({
      font: FONT, margin: {l: 70, r: 30, t: 20, b: 60}, hovermode: "closest",
      legend: {orientation: "h", x: 0, y: -0.22}, paper_bgcolor: "#fff", plot_bgcolor: "#fff"
    }, extra);
  }

  function axisTitle(text) { return {text: text, standoff: 8}; }

  function empty(element, text) {
    if (!element) { return; }
    element.textContent = "";
    var note = document.createElement("p");
    note.className = "muted chart-empty";
    note.textContent = text;
    element.appendChild(note);
  }

  function finite(values) { return values.filter(function (v) { return v !== null && isFinite(v); }); }

  // --- Fleet -------------------------------------------------------------------------------------

  function sparkline(element, trend) {
    if (!trend || !trend.length) { element.textContent = "—"; return; }
    var x = trend.map(function (p) { return p[0]; });
    var z = trend.map(function (p) { return p[1]; });
    var levels = trend.map(function (p) { return p[2]; });
    var y = finite(z).length ? z : levels;
    var last = trend[trend.length - 1];
    element.title = fmt(t("%(n)s batches; latest: %(level)s"), {n: trend.length, level: LEVEL_NAMES[last[2]]}, true);
    Plotly.newPlot(element, [{
      x: x, y: y, type: "scatter", mode: "lines+markers", connectgaps: true,
      line: {color: "#7b8594", width: 1.5}, marker: {size: 5, color: levels.map(function (l) { return LEVEL_COLOURS[l]; })}
    }], {
      margin: {l: 2, r: 2, t: 4, b: 4}, height: 44, width: 200, showlegend: false,
      xaxis: {visible: false}, yaxis: {visible: false}, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
    }, {staticPlot: true, displayModeBar: false});
  }

  function fleet() {
    var table = document.getElementById("fleet-table");
    if (!table) { return; }
    loadAll(table.dataset.apiUrl + "?page_size=500").then(function (presses) {
      presses.forEach(function (press) {
        var element = table.querySelector('.sparkline[data-press="' + press.id + '"]');
        if (element) { sparkline(element, press.trend); }
      });
      table.dataset.chartsReady = "true";
    });
  }

  // --- Press dashboard ---------------------------------------------------------------------------

  function thresholdShapes(thresholds, yMin, yMax) {
    var bands = [[yMin, thresholds.warning_z, 0], [thresholds.warning_z, thresholds.alarm_z, 1],
                 [thresholds.alarm_z, thresholds.danger_z, 2], [thresholds.danger_z, yMax, 3]];
    var shapes = bands.map(function (band) {
      return {type: "rect", xref: "paper", x0: 0, x1: 1, y0: band[0], y1: band[1], fillcolor: LEVEL_COLOURS[band[2]],
              opacity: 0.10, line: {width: 0}, layer: "below"};
    });
    var annotations = [];
    [["warning_z", 1], ["alarm_z", 2], ["danger_z", 3]].forEach(function (item) {
      var y = thresholds[item[0]];
      shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y,
                   line: {color: LEVEL_COLOURS[item[1]], width: 1, dash: "dash"}});
      // staggered along the axis so the labels stay readable when the thresholds sit close together
      annotations.push({xref: "paper", x: 0.72 + 0.14 * (item[1] - 1), xanchor: "right", y: y, yanchor: "bottom", showarrow: false,
                        text: LEVEL_NAMES[item[1]] + " ≥ " + y.toFixed(1), font: {size: 11, color: LEVEL_COLOURS[item[1]]}});
    });
    return {shapes: shapes, annotations: annotations};
  }

  function indexChart(element, channel, alarms) {
    var th = channel.thresholds;
    var zs = finite(channel.z);
    var yMax = Math.max(th.danger_z * 1.2, zs.length ? Math.max.apply(null, zs) * 1.08 + 1 : 0);
    var yMin = Math.min(-3, zs.length ? Math.min.apply(null, zs) - 1 : -3);
    var decor = thresholdShapes(th, yMin, yMax);
    var traces = [{
      x: channel.t, y: channel.z, type: "scatter", mode: "lines+markers", name: t("Health index z"),
      line: {color: "#0b5cad", width: 1.5}, connectgaps: false,
      marker: {size: 6, color: channel.level.map(function (l) { return LEVEL_COLOURS[l || 0]; })},
      customdata: channel.level.map(function (l) { return LEVEL_NAMES[l || 0]; }),
      hovertemplate: "%{x|%Y-%m-%d %H:%M}<br>z = %{y:.2f}<br>%{customdata}<extra></extra>"
    }];
    if (alarms.length) {
      traces.push({
        x: alarms.map(function (a) { return a.t; }),
        y: alarms.map(function (a) { return a.z === null ? th.warning_z : a.z; }),
        type: "scatter", mode: "markers", name: t("Alarms"),
        marker: {symbol: "triangle-up", size: 15, line: {color: "#1b2330", width: 1},
                 color: alarms.map(function (a) { return LEVEL_COLOURS[a.level]; })},
        customdata: alarms.map(function (a) { return LEVEL_NAMES[a.level] + (a.label ? " · " + a.label : "") + " · " + a.status; }),
        hovertemplate: "%{x|%Y-%m-%d %H:%M}<br>%{customdata}<extra>" + t("Alarm") + "</extra>"
      });
    }
    Plotly.newPlot(element, traces, layout({
      shapes: decor.shapes, annotations: decor.annotations,
      xaxis: {title: axisTitle(t("Recording time")), type: "date"},
      yaxis: {title: axisTitle(t("Health index z (robust SD)")), range: [yMin, yMax], zeroline: true}
    }), CONFIG);
  }

  var INDICATOR_LABELS = {kurtosis: t("Kurtosis"), negentropy: t("Negentropy"), gini: t("Gini index"),
                          smoothness: t("−ln smoothness")};
  var INDICATOR_COLOURS = {kurtosis: "#0b5cad", negentropy: "#d9480f", gini: "#1d7a3a", smoothness: "#7b3fa0"};

  function indicatorsChart(element, data) {
    if (!data.series.length || !data.n_total) { empty(element, t("No analysed batch yet.")); return; }
    var traces = data.series.map(function (series) {
      var cyclic = series.form === "cyclic";
      return {
        x: series.t, y: series.value, type: "scatter", mode: "lines+markers", marker: {size: 4},
        name: INDICATOR_LABELS[series.indicator], legendgroup: series.indicator, showlegend: !cyclic,
        line: {color: INDICATOR_COLOURS[series.indicator], width: 1.5},
        xaxis: cyclic ? "x2" : "x", yaxis: cyclic ? "y2" : "y",
        hovertemplate: "%{x|%Y-%m-%d %H:%M}<br>%{y:.3f}<extra>" + INDICATOR_LABELS[series.indicator] + " · " +
          (cyclic ? t("cyclic") : t("time")) + "</extra>"
      };
    });
    Plotly.newPlot(element, traces, layout({
      grid: {rows: 2, columns: 1, pattern: "independent", roworder: "top to bottom"},
      margin: {l: 70, r: 30, t: 20, b: 60},
      xaxis: {type: "date", matches: "x2", showticklabels: false},
      xaxis2: {type: "date", title: axisTitle(t("Recording time"))},
      yaxis: {title: axisTitle(t("Time form")), rangemode: "tozero"},
      yaxis2: {title: axisTitle(t("Cyclic form")), rangemode: "tozero"},
      legend: {orientation: "h", x: 0, y: -0.16}
    }), CONFIG);
  }

  function sesChart(element, data, caption) {
    if (!data.frequency_hz.length) { empty(element, t("No spectrum for this analysis.")); return; }
    var xMax = data.frequency_hz[data.frequency_hz.length - 1];
    var yMax = Math.max.apply(null, finite(data.amplitude)) || 1;
    var shapes = [], annotations = [];
    var significant = data.faults.filter(function (f) { return f.significant; });
    var xMin = data.frequency_hz[0];
    var shown = 0;
    data.candidates.forEach(function (candidate) {
      var hz = candidate.expected_hz;
      if (!(hz >= xMin && hz <= xMax) || candidate.fault === "mesh") { return; }
      var index = shown++;
      var strong = significant.some(function (f) { return f.label === candidate.label; });
      shapes.push({type: "line", x0: hz, x1: hz, yref: "paper", y0: 0, y1: 1,
                   line: {color: strong ? "#b3261e" : "#8a93a2", width: strong ? 1.5 : 1, dash: "dot"}});
      annotations.push({x: hz, yref: "paper", y: 1 - 0.06 * (index % 4), text: candidate.label, showarrow: false,
                        xanchor: "left", font: {size: 11, color: strong ? "#b3261e" : "#5b6472"}});
    });
    var traces = [{x: data.frequency_hz, y: data.amplitude, type: "scatter", mode: "lines", name: t("SES"),
                   line: {color: "#0b5cad", width: 1},
                   hovertemplate: "%{x:.1f} Hz<br>%{y:.2e}<extra></extra>"}];
    var found = [];
    significant.forEach(function (fault) {
      fault.harmonics.forEach(function (harmonic) {
        found.push({hz: harmonic.hz, label: fault.label + " ×" + harmonic.order, snr: harmonic.snr_db});
      });
    });
    if (found.length) {
      var amplitudeAt = function (hz) {
        var best = 0, distance = Infinity;
        data.frequency_hz.forEach(function (f, i) {
          if (Math.abs(f - hz) < distance) { distance = Math.abs(f - hz); best = data.amplitude[i]; }
        });
        return best;
      };
      traces.push({x: found.map(function (f) { return f.hz; }), y: found.map(function (f) { return amplitudeAt(f.hz); }),
                   type: "scatter", mode: "markers", name: t("Fault lines found"),
                   marker: {symbol: "diamond", size: 10, color: "#b3261e"},
                   customdata: found.map(function (f) { return f.label + " · " + f.snr.toFixed(1) + " dB"; }),
                   hovertemplate: "%{x:.1f} Hz<br>%{customdata}<extra></extra>"});
    }
    Plotly.newPlot(element, traces, layout({
      shapes: shapes, annotations: annotations,
      xaxis: {title: axisTitle(t("Cyclic frequency (Hz)")), range: [0, xMax]},
      yaxis: {title: axisTitle(t("SES (share of energy)")), range: [0, yMax * 1.15], exponentformat: "e"}
    }), CONFIG);
    if (caption) {
      caption.textContent = fmt(t("Band %(low)s–%(high)s Hz (%(method)s); dotted lines: fault frequencies looked for, red where a fault stands out."),
        {low: Math.round(data.band.low_hz), high: Math.round(data.band.high_hz), method: data.band.method}, true);
    }
  }

  var MEASURES = {kurtosis: ["spectral_kurtosis", t("Spectral kurtosis")],
                  negentropy: ["spectral_negentropy", t("Spectral negentropy")],
                  ses_negentropy: ["cyclic_negentropy", t("Negentropy of the SES")]};

  function kurtogramChart(element, data, caption) {
    // One heat map per measure stored with the run (kurtogram, infogram of the squared envelope, infogram of
    // the SES); the one the band was chosen by is shown first, buttons switch between them.
    var chosen = MEASURES[data.selection_method] ? data.selection_method : "ses_negentropy";
    var keys = [chosen].concat(Object.keys(MEASURES).filter(function (key) { return key !== chosen; }))
      .filter(function (key) { var z = (data.matrices || {})[MEASURES[key][0]]; return z && z.length; });
    if (!keys.length) { empty(element, t("No kurtogram for this analysis.")); return; }
    var rows = data.levels.map(function (level, index) { return index; });
    var bandRow = 0, distance = Infinity;
    data.levels.forEach(function (level, index) {
      if (Math.abs(level - data.band.level) < distance) { distance = Math.abs(level - data.band.level); bandRow = index; }
    });
    var traces = keys.map(function (key, position) {
      var z = data.matrices[MEASURES[key][0]];
      return {
        z: z, x: data.frequency_hz, y: rows, type: "heatmap", colorscale: "Viridis", visible: position === 0,
        name: MEASURES[key][1], colorbar: {title: {text: MEASURES[key][1], side: "right"}, thickness: 14},
        hovertemplate: "%{x:.0f} Hz<br>" + t("level") + " %{customdata}<br>%{z:.3f}<extra></extra>",
        customdata: z.map(function (row, index) { return row.map(function () { return data.levels[index]; }); })
      };
    });
    var buttons = keys.map(function (key, position) {
      return {method: "restyle", label: MEASURES[key][1] + (key === chosen ? " ✓" : ""),
              args: ["visible", keys.map(function (other, index) { return index === position; })]};
    });
    Plotly.newPlot(element, traces, layout({
      margin: {l: 70, r: 20, t: keys.length > 1 ? 50 : 20, b: 60},
      updatemenus: keys.length > 1 ? [{type: "buttons", direction: "right", x: 0, xanchor: "left", y: 1.18,
                                       yanchor: "top", showactive: true, buttons: buttons}] : [],
      shapes: [{type: "rect", x0: data.band.low_hz, x1: data.band.high_hz, y0: bandRow - 0.5, y1: bandRow + 0.5,
                line: {color: "#ffffff", width: 2.5}}],
      xaxis: {title: axisTitle(t("Frequency (Hz)"))},
      yaxis: {title: axisTitle(t("Level (1/3-binary tree)")), tickvals: rows, ticktext: data.levels.map(String),
              autorange: "reversed"}
    }), CONFIG);
    if (caption) {
      caption.textContent = fmt(t("%(measure)s per band (✓: the measure the band was chosen by; the buttons switch measure); the white box is the band chosen (%(low)s–%(high)s Hz)."),
        {measure: MEASURES[chosen][1], low: Math.round(data.band.low_hz), high: Math.round(data.band.high_hz)}, true);
    }
  }

  function conditionsChart(element, data) {
    if (!data.t.length) { empty(element, t("No batch yet.")); return; }
    var traces = [];
    if (finite(data.stroke_rate_spm).length) {
      traces.push({x: data.t, y: data.stroke_rate_spm, type: "scatter", mode: "lines+markers", name: t("Stroke rate (strokes/min)"),
                   line: {color: "#0b5cad", shape: "hv"}, marker: {size: 4}});
    }
    if (finite(data.shaft_rpm).length) {
      traces.push({x: data.t, y: data.shaft_rpm, type: "scatter", mode: "lines+markers", name: t("Shaft speed (rpm)"),
                   line: {color: "#7b3fa0", shape: "hv"}, marker: {size: 4}});
    }
    if (finite(data.load_percent).length) {
      traces.push({x: data.t, y: data.load_percent, type: "scatter", mode: "lines+markers", name: t("Load (%)"),
                   yaxis: "y2", line: {color: "#d9480f", shape: "hv"}, marker: {size: 4}});
    }
    if (!traces.length) { empty(element, t("The batches carry no stroke rate, shaft speed or load.")); return; }
    Plotly.newPlot(element, traces, layout({
      margin: {l: 70, r: 70, t: 20, b: 60},
      xaxis: {title: axisTitle(t("Recording time")), type: "date"},
      yaxis: {title: axisTitle(t("Strokes/min or rpm")), rangemode: "tozero"},
      yaxis2: {title: axisTitle(t("Load (%)")), overlaying: "y", side: "right", range: [0, 125], dtick: 25, showgrid: false}
    }), CONFIG);
  }

  function runUrl(template, runId) { return template.replace(/\/0\/$/, "/" + runId + "/"); }

  function dashboard() {
    var root = document.getElementById("health-dashboard");
    if (!root) { return; }
    var select = document.getElementById("channel-select");
    var note = document.getElementById("series-note");
    var charts = {index: document.getElementById("chart-index"), indicators: document.getElementById("chart-indicators"),
                  ses: document.getElementById("chart-ses"), kurtogram: document.getElementById("chart-kurtogram")};
    var series = null;

    function show(name) {
      var channel = series.channels.filter(function (c) { return c.name === name; })[0];
      indexChart(charts.index, channel, series.alarms.filter(function (a) { return a.channel === name; }));
      note.textContent = channel.n_total > channel.t.length
        ? fmt(t("%(shown)s of %(total)s batches shown (downsampled, peaks kept)"), {shown: channel.t.length, total: channel.n_total}, true)
        : fmt(t("%(total)s batches"), {total: channel.n_total}, true);
      getJSON(root.dataset.indicatorsUrl + "?channel=" + encodeURIComponent(name)).then(function (data) {
        indicatorsChart(charts.indicators, data);
      });
      var url = runUrl(root.dataset.runUrlTemplate, channel.latest_run);
      getJSON(url + "ses/").then(function (data) { sesChart(charts.ses, data, document.getElementById("ses-caption")); })
        .catch(function () { empty(charts.ses, t("No spectrum for the latest analysis.")); });
      getJSON(url + "kurtogram/").then(function (data) {
        kurtogramChart(charts.kurtogram, data, document.getElementById("kurtogram-caption"));
      }).catch(function () { empty(charts.kurtogram, t("No kurtogram for the latest analysis.")); });
    }

    getJSON(root.dataset.conditionsUrl).then(function (data) { conditionsChart(document.getElementById("chart-conditions"), data); });
    getJSON(root.dataset.timeseriesUrl).then(function (data) {
      series = data;
      if (!data.channels.length) {
        Object.keys(charts).forEach(function (key) { empty(charts[key], t("No analysed batch yet.")); });
        root.dataset.chartsReady = "true";
        return;
      }
      data.channels.forEach(function (channel) {
        var option = document.createElement("option");
        option.value = option.textContent = channel.name;
        select.appendChild(option);
      });
      select.addEventListener("change", function () { show(select.value); });
      show(data.channels[0].name);
      root.dataset.chartsReady = "true";
    });
  }

  // --- Lender trend, run page --------------------------------------------------------------------

  function lenderTrend() {
    var root = document.getElementById("health-trend");
    if (!root) { return; }
    var element = document.getElementById("chart-trend");
    getJSON(root.dataset.trendUrl).then(function (data) {
      if (!data.t.length) { empty(element, t("No analysed batch yet.")); return; }
      Plotly.newPlot(element, [
        {x: data.t, y: data.z, type: "scatter", mode: "lines+markers", name: t("Health index z"),
         line: {color: "#0b5cad", width: 1.5}, marker: {size: 7, color: data.level.map(function (l) { return LEVEL_COLOURS[l]; })},
         customdata: data.level.map(function (l) { return LEVEL_NAMES[l]; }),
         hovertemplate: "%{x|%Y-%m-%d %H:%M}<br>z = %{y:.2f}<br>%{customdata}<extra></extra>"},
        {x: data.t, y: data.level, type: "scatter", mode: "lines", name: t("Level"), yaxis: "y2",
         line: {color: "#b3261e", shape: "hv", width: 1, dash: "dot"}}
      ], layout({
        margin: {l: 70, r: 80, t: 20, b: 60},
        xaxis: {title: axisTitle(t("Recording time")), type: "date"},
        yaxis: {title: axisTitle(t("Health index z (robust SD)"))},
        yaxis2: {overlaying: "y", side: "right", range: [-0.2, 3.2], tickvals: [0, 1, 2, 3], ticktext: LEVEL_NAMES,
                 showgrid: false, title: axisTitle(t("Level"))}
      }), CONFIG);
      root.dataset.chartsReady = "true";
    });
  }

  function runCharts() {
    var root = document.getElementById("run-charts");
    if (!root) { return; }
    var url = root.dataset.runUrl;
    getJSON(url + "ses/").then(function (data) { sesChart(document.getElementById("chart-ses"), data); });
    getJSON(url + "kurtogram/").then(function (data) { kurtogramChart(document.getElementById("chart-kurtogram"), data); });
  }

  function start() {
    if (typeof Plotly === "undefined") { return; }
    fleet();
    dashboard();
    lenderTrend();
    runCharts();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
