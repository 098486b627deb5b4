/* ABS pages: facility picking, adding tranche rows, polling a run's JSON status while it is on the worker, and the
   Plotly charts (stratification, capital stack, pool-loss histogram with the tranche boundaries, expected cash
   flows). Plotly is served locally (health app, from the installed plotly package). */
(function () {
  "use strict";
  var t = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (fmt, obj) {
    return fmt.replace(/%\((\w+)\)s/g, function (m, key) { return obj[key]; });
  };
  var config = { displaylogo: false, responsive: true };
  var palette = ["#1f4e8c", "#3f8f5a", "#c08a1e", "#8a3f8f", "#b3261e", "#2c8c99", "#6b6b6b", "#7fb2ff"];

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

  function plot(target, traces, layout) {
    if (!window.Plotly) { message(target, t("Charts need plotly.min.js, which did not load.")); return; }
    window.Plotly.newPlot(target, traces, layout, config);
  }

  function pct(x, digits) { return (100 * x).toFixed(digits === undefined ? 2 : digits) + " %"; }

  /* --- Pool form: pick all ------------------------------------------------------------------------------ */
  function pickAll() {
    var box = document.getElementById("pick-all");
    if (!box) { return; }
    box.addEventListener("change", function () {
      document.querySelectorAll("#candidates input[name=facilities]").forEach(function (item) {
        item.checked = box.checked;
      });
    });
  }

  /* --- Formsets: add a tranche row ---------------------------------------------------------------------- */
  function addRows() {
    var button = document.getElementById("add-tranche");
    var template = document.getElementById("tranche-template");
    if (!button || !template) { return; }
    button.addEventListener("click", function () {
      var total = document.getElementById("id_" + button.dataset.prefix + "-TOTAL_FORMS");
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      var body = button.closest("fieldset").querySelector("tbody");
      body.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var first = body.lastElementChild.querySelector("input");
      if (first) { first.focus(); }
    });
  }

  /* --- Run status: poll the JSON endpoint until the run is finished ------------------------------------- */
  var STAGES = {
    preparing: t("Preparing the inputs"), simulating: t("Simulating the scenarios and the waterfall"),
    summarising: t("Summarising the results"), "closed form": t("Computing the closed-form check"),
    saving: t("Saving the results"), done: t("Done"), failed: t("Failed")
  };

  function pollRun() {
    var panel = document.getElementById("run-status");
    if (!panel || panel.dataset.finished === "1") { return; }
    var bar = document.getElementById("run-progress");
    var stage = document.getElementById("run-stage");
    var started = Date.now();
    function tick() {
      fetch(panel.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (status) {
          if (bar) { bar.value = status.progress; bar.textContent = status.progress + " %"; }
          if (stage) {
            var seconds = Math.round((Date.now() - started) / 1000);
            stage.textContent = status.status === "queued" ? t("Queued for the worker.") :
              interpolate(t("%(stage)s — %(progress)s %, %(seconds)s s on this page"),
                          { stage: STAGES[status.stage] || status.stage, progress: status.progress, seconds: seconds },
                          true);
          }
          if (status.finished) { window.location.reload(); return; }
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  }

  function pollWhatIfs() {
    var box = document.getElementById("what-if-results");
    if (!box || !box.dataset.pending) { return; }
    var pending = box.dataset.pending.split(",").filter(Boolean);
    function tick() {
      Promise.all(pending.map(function (id) {
        var url = box.dataset.statusBase.replace("/0/", "/" + id + "/");
        return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.json(); });
      })).then(function (statuses) {
        if (statuses.every(function (s) { return s.finished; })) {
          window.location.hash = "what-if";
          window.location.reload();
        } else { window.setTimeout(tick, 1000); }
      }).catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  }

  /* --- Pool page: stratification chart ------------------------------------------------------------------ */
  function strataChart() {
    var target = document.getElementById("strata-chart");
    var chart = data("pool-chart-data");
    var select = document.getElementById("stratum-select");
    if (!target || !chart || !select) { return; }
    function draw() {
      var stratum = chart.strata.filter(function (s) { return s.by === select.value; })[0];
      var labels = stratum.rows.map(function (r) { return r.label; });
      plot(target, [
        { type: "bar", x: labels, y: stratum.rows.map(function (r) { return 100 * r.balance_share; }),
          name: t("Share of the pool balance (%)"), marker: { color: palette[0] },
          customdata: stratum.rows.map(function (r) { return [r.balance, r.count]; }),
          hovertemplate: "%{x}: %{y:.1f} %<br>%{customdata[0]:,.0f} " + chart.currency +
                         ", %{customdata[1]} " + t("facilities") + "<extra></extra>" },
        { type: "scatter", mode: "markers", x: labels, y: stratum.rows.map(function (r) { return 100 * r.weighted_annual_pd; }),
          name: t("Weighted PD, 12 months (%)"), yaxis: "y2", marker: { size: 11, color: palette[4] } }
      ], {
        title: { text: interpolate(t("Pool balance by %(stratum)s"), { stratum: stratum.title.toLowerCase() }, true),
                 font: { size: 14 } },
        margin: { l: 60, r: 60, t: 40, b: 60 }, height: 300, legend: { orientation: "h", y: -0.25 },
        yaxis: { title: { text: t("Share of balance (%)") }, rangemode: "tozero" },
        yaxis2: { title: { text: t("PD (%)") }, overlaying: "y", side: "right", rangemode: "tozero" }
      });
    }
    select.addEventListener("change", draw);
    draw();
  }

  /* --- Structure page: capital stack ------------------------------------------------------------------- */
  function stackChart() {
    var target = document.getElementById("stack-chart");
    var chart = data("structure-chart-data");
    if (!target || !chart) { return; }
    var tranches = chart.tranches.slice().reverse();  // equity at the bottom
    plot(target, tranches.map(function (tr, k) {
      return { type: "bar", x: [t("Pool")], y: [100 * tr.size], name: tr.name + " (" + pct(tr.attachment, 1) + " – " +
               pct(tr.detachment, 1) + ")", marker: { color: palette[(tranches.length - 1 - k) % palette.length] },
               hovertemplate: tr.name + ": %{y:.2f} % " + t("of the pool") + "<extra></extra>" };
    }), { barmode: "stack", height: 300, margin: { l: 60, r: 10, t: 30, b: 30 },
          yaxis: { title: { text: t("Share of the pool balance (%)") }, range: [0, 100] }, legend: { traceorder: "reversed" },
          title: { text: t("Tranches, most senior on top"), font: { size: 14 } } });
  }

  /* --- Run page ---------------------------------------------------------------------------------------- */
  function lossChart(results, currency) {
    var target = document.getElementById("loss-chart");
    if (!target) { return; }
    var dist = results.pool.loss_distribution;
    var edges = dist.bin_edges, counts = dist.counts, total = results.scenarios;
    var x = [], width = [], y = [];
    for (var k = 0; k < counts.length; k++) {
      x.push(50 * (edges[k] + edges[k + 1]));
      width.push(100 * (edges[k + 1] - edges[k]));
      y.push(100 * counts[k] / total);
    }
    var top = Math.max.apply(null, y) || 1;
    var attachments = results.tranches.filter(function (tr) { return tr.attachment > 0; });
    var xmax = 100 * Math.max(edges[edges.length - 1], Math.max.apply(null, attachments.map(function (tr) {
      return tr.attachment; }).concat([0])) * 1.08);
    var shapes = [], annotations = [];
    attachments.forEach(function (tr, k) {
      shapes.push({ type: "line", x0: 100 * tr.attachment, x1: 100 * tr.attachment, y0: 0, y1: top * 1.05,
                    line: { color: palette[(k + 1) % palette.length], width: 2, dash: "dash" } });
      annotations.push({ x: 100 * tr.attachment, y: top * 1.05, text: interpolate(t("%(name)s attaches at %(at)s"),
                         { name: tr.name, at: pct(tr.attachment, 1) }, true), showarrow: false, xanchor: "left",
                         yanchor: "bottom", font: { size: 11 }, textangle: -90 });
    });
    [["var_99", t("VaR 99 %")], ["expected_loss", t("Expected loss")]].forEach(function (pair) {
      var value = 100 * results.pool[pair[0]];
      shapes.push({ type: "line", x0: value, x1: value, y0: 0, y1: top * 0.9, line: { color: "#333", width: 1, dash: "dot" } });
      annotations.push({ x: value, y: top * 0.9, text: pair[1], showarrow: false, yanchor: "bottom", font: { size: 11 } });
    });
    plot(target, [{ type: "bar", x: x, y: y, width: width, marker: { color: "#7fb2ff", line: { color: "#1f4e8c", width: 0.5 } },
                    name: t("Scenarios"),
                    hovertemplate: t("Pool loss") + " %{x:.2f} %: %{y:.2f} % " + t("of scenarios") + "<extra></extra>" }], {
      title: { text: interpolate(t("Pool loss over the deal (%(n)s scenarios), with the tranche attachment points"),
                                 { n: total.toLocaleString() }, true), font: { size: 14 } },
      // "% of" is a percent sign, not a placeholder (t() does no formatting)
      // xgettext:no-javascript-format
      xaxis: { title: { text: t("Pool loss (% of the pool balance at closing)") }, range: [0, xmax] },
      yaxis: { title: { text: t("Share of scenarios (%)") }, rangemode: "tozero" },
      shapes: shapes, annotations: annotations, height: 440, margin: { l: 60, r: 20, t: 50, b: 50 }, showlegend: false
    });
  }

  function cashflowChart(results, currency) {
    var target = document.getElementById("cashflow-chart");
    if (!target) { return; }
    var months = [];
    for (var m = 1; m <= results.horizon_months; m++) { months.push(m); }
    var traces = results.tranches.map(function (tr, k) {
      var flows = tr.expected_cashflows;
      return { type: "bar", x: months, name: tr.name + " " + t("(interest + principal)"),
               y: flows.principal.map(function (p, i) { return p + flows.interest[i]; }),
               marker: { color: palette[k % palette.length] },
               hovertemplate: tr.name + ", " + t("month") + " %{x}: %{y:,.0f} " + currency + "<extra></extra>" };
    });
    var junior = results.tranches[results.tranches.length - 1].expected_cashflows;
    if (junior.residual) {
      traces.push({ type: "bar", x: months, y: junior.residual, name: t("Residual to the equity"),
                    marker: { color: "#bbbbbb" } });
    }
    plot(target, traces, {
      barmode: "stack", height: 420, margin: { l: 80, r: 20, t: 50, b: 50 }, legend: { orientation: "h", y: -0.2 },
      title: { text: interpolate(t("Expected payments to each tranche per month (%(currency)s)"), { currency: currency }, true),
               font: { size: 14 } },
      xaxis: { title: { text: t("Month after closing") } }, yaxis: { title: { text: currency } }
    });
    var poolTarget = document.getElementById("pool-flow-chart");
    var pool = results.pool.expected_cashflows;
    if (!poolTarget || !pool) { return; }
    var series = [["interest", t("Interest collected")], ["scheduled_principal", t("Scheduled principal")],
                  ["prepayments", t("Prepayments")], ["recoveries", t("Recoveries")], ["net_loss", t("Net losses")]];
    plot(poolTarget, series.filter(function (s) { return pool[s[0]]; }).map(function (s, k) {
      return { type: "scatter", mode: "lines", x: months, y: pool[s[0]], name: s[1],
               line: { color: palette[k % palette.length], dash: s[0] === "net_loss" ? "dot" : "solid" } };
    }), { height: 340, margin: { l: 80, r: 20, t: 50, b: 50 }, legend: { orientation: "h", y: -0.25 },
          title: { text: interpolate(t("Expected pool collections and losses per month (%(currency)s)"),
                                     { currency: currency }, true), font: { size: 14 } },
          xaxis: { title: { text: t("Month after closing") } }, yaxis: { title: { text: currency }, rangemode: "tozero" } });
  }

  function runCharts() {
    var results = data("run-results");
    if (!results || !results.pool) { return; }
    var currency = data("run-currency") || "";
    lossChart(results, currency);
    cashflowChart(results, currency);
  }

  function start() {
    pickAll();
    addRows();
    pollRun();
    pollWhatIfs();
    strataChart();
    stackChart();
    runCharts();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
