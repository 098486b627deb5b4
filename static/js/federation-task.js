// Task page: polls the task's progress endpoint, updates the progress bar, step and participant tables,
// the hierarchy tree, the anomaly list and the Plotly charts (global vs per-participant metrics, FedMA vs
// FedAvg, layer sizes of the global model, leave-one-out contributions).
(function () {
  "use strict";
  var t = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (fmt, obj) { return fmt.replace(/%\((\w+)\)s/g, function (m, k) { return String(obj[k]); }); };
  var script = document.getElementById("fl-script");
  var url = script.dataset.progressUrl;
  var extraPolls = 10; // after the task ends, evaluations of the last version may still arrive
  var metricNames = {accuracy: t("Accuracy"), auc: t("AUC"), f1: t("F1"), loss: t("Loss"), r2: t("R²")};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function badge(status, label) { return el("span", {"class": "badge fl-" + status}, label); }

  function renderSteps(data) {
    var body = document.querySelector("#fl-steps tbody");
    body.innerHTML = "";
    data.steps.forEach(function (step) {
      var row = el("tr", {"data-step": step.index});
      row.appendChild(el("td", {}, step.round));
      row.appendChild(el("td", {}, step.description || "—"));
      var status = el("td");
      status.appendChild(badge(step.status, step.label));
      row.appendChild(status);
      var updates = el("td");
      step.updates.forEach(function (u) {
        var chip = badge(u.status, u.participant + ": " + u.label);
        chip.classList.add("chip");
        updates.appendChild(chip);
      });
      row.appendChild(updates);
      body.appendChild(row);
    });
  }

  function renderParticipants(data) {
    data.participants.forEach(function (p) {
      var row = document.querySelector('#fl-participants tr[data-participant="' + p.name + '"]');
      if (!row) { return; }
      var cell = row.children[1];
      cell.innerHTML = "";
      cell.appendChild(badge(p.status, p.status_label));
      if (p.message) { cell.appendChild(el("br")); cell.appendChild(el("span", {"class": "muted"}, p.message)); }
      row.children[2].textContent = p.grant;
    });
  }

  function renderTree(data) {
    var box = document.getElementById("fl-tree");
    box.innerHTML = "";
    var root = el("ul");
    var cloud = el("li", {"class": "fl-node cloud"}, t("Cloud aggregation") + " (" + data.tree.aggregation + ")");
    var enterprises = el("ul");
    data.tree.children.forEach(function (child) {
      var node = el("li", {"class": "fl-node"}, child.label + " · " + child.status_label);
      if (child.children.length) {
        var sites = el("ul");
        child.children.forEach(function (site) {
          sites.appendChild(el("li", {"class": "fl-node site"}, t("site") + " " + site.site + " · " + site.samples + " " + t("windows")));
        });
        node.appendChild(el("div", {"class": "muted"}, t("edge: FedAvg of its sites")));
        node.appendChild(sites);
      }
      enterprises.appendChild(node);
    });
    cloud.appendChild(enterprises);
    root.appendChild(cloud);
    box.appendChild(root);
  }

  function renderAnomalies(data) {
    var list = document.getElementById("fl-anomalies");
    list.innerHTML = "";
    data.anomalies.forEach(function (a) {
      list.appendChild(el("li", {"class": "anomaly"}, t("Round") + " " + a.round + " · " + a.participant + ": " + a.reason));
    });
    data.rejections.forEach(function (r) {
      list.appendChild(el("li", {"class": "rejection"}, t("Refused update") + " · " + (r.participant || "?") + " · " + r.reason + ": " + r.message));
    });
    if (!list.children.length) { list.appendChild(el("li", {"class": "muted"}, t("None."))); }
  }

  var layout = function (title, yTitle) {
    return {title: {text: title, font: {size: 14}}, margin: {l: 55, r: 55, t: 40, b: 90}, height: 380,
            xaxis: {title: {text: t("Round")}, dtick: 1}, yaxis: {title: {text: yTitle}, rangemode: "tozero"},
            legend: {orientation: "h", y: -0.3}};
  };

  function lines(points, metric, name, extra) {
    var xs = [], ys = [];
    points.forEach(function (p) { if (p[metric] !== null && p[metric] !== undefined) { xs.push(p.round); ys.push(p[metric]); } });
    return Object.assign({x: xs, y: ys, name: name, mode: "lines+markers", type: "scatter"}, extra || {});
  }

  function renderCharts(data) {
    if (!window.Plotly) { return; }
    var hasR2 = data.global.some(function (p) { return p.r2 !== null && p.r2 !== undefined; });
    var global = ["accuracy", "auc", "f1"].concat(hasR2 ? ["r2"] : [], ["loss"]).map(function (m) {
      return lines(data.global, m, metricNames[m] + " (" + data.aggregation + ")", m === "loss" ? {yaxis: "y2"} : {});
    });
    data.comparison.forEach(function (twin) {
      global.push(lines(twin.series, "accuracy", metricNames.accuracy + " (" + twin.aggregation + ")", {line: {dash: "dash"}}));
      global.push(lines(twin.series, "f1", metricNames.f1 + " (" + twin.aggregation + ")", {line: {dash: "dot"}}));
    });
    var globalLayout = layout(t("Global model"), t("Accuracy / AUC / F1"));
    globalLayout.yaxis2 = {title: {text: metricNames.loss}, overlaying: "y", side: "right", rangemode: "tozero", zeroline: false, showgrid: false};
    Plotly.react("chart-global", global, globalLayout, {displayModeBar: false, responsive: true});

    var local = [];
    Object.keys(data.local).sort().forEach(function (name) {
      local.push(lines(data.local[name], "accuracy", name + " · " + metricNames.accuracy));
      if (data.local[name].some(function (p) { return p.r2 !== undefined; })) {  // regression tasks
        local.push(lines(data.local[name], "r2", name + " · " + metricNames.r2));
      }
      local.push(lines(data.local[name], "loss", name + " · " + metricNames.loss, {yaxis: "y2", line: {dash: "dot"}}));
    });
    var localLayout = layout(t("Per participant (own hold-out)"), metricNames.accuracy);
    localLayout.yaxis2 = {title: {text: metricNames.loss}, overlaying: "y", side: "right", rangemode: "tozero", zeroline: false, showgrid: false};
    Plotly.react("chart-local", local, localLayout, {displayModeBar: false, responsive: true});

    var layers = data.layer_sizes;
    Plotly.react("chart-layers", [{type: "bar", x: layers.map(function (l) { return t("layer") + " " + l.layer; }),
      y: layers.map(function (l) { return l.units; }), text: layers.map(function (l) { return l.parameters + " " + t("parameters"); }),
      name: t("units")}], Object.assign(layout(t("Global model size per layer"), t("Units")), {xaxis: {}}),
      {displayModeBar: false, responsive: true});

    var names = Object.keys(data.contributions).sort();
    var contrib = ["accuracy", "f1", "auc"].map(function (m) {
      return {type: "bar", name: metricNames[m], x: names, y: names.map(function (n) { return data.contributions[n][m]; })};
    });
    Plotly.react("chart-contrib", contrib, Object.assign(layout(t("Contribution (leave one out)"), t("Loss of the metric without it")),
      {xaxis: {}, barmode: "group"}), {displayModeBar: false, responsive: true});
  }

  function renderVersions(data) {
    var table = document.getElementById("fl-versions");
    var body = table.querySelector("tbody");
    if (!data.versions.length) { return; }
    body.innerHTML = "";
    data.versions.slice().reverse().forEach(function (v) {
      var row = el("tr");
      var link = el("a", {href: table.dataset.modelUrl.replace(/0\/$/, v.id + "/")}, "v" + table.dataset.task + "." + v.number);
      var cell = el("td");
      cell.appendChild(link);
      row.appendChild(cell);
      row.appendChild(el("td", {}, v.round));
      var hash = el("td");
      hash.appendChild(el("code", {}, v.sha256.slice(0, 19) + "…"));
      row.appendChild(hash);
      var state = el("td");
      if (v.active) { state.appendChild(el("span", {"class": "badge active"}, t("active"))); }
      if (v.final) { state.appendChild(document.createTextNode(" ")); state.appendChild(el("span", {"class": "badge"}, t("final"))); }
      row.appendChild(state);
      body.appendChild(row);
    });
  }

  function render(data) {
    document.getElementById("fl-progress").value = data.percent;
    document.getElementById("fl-progress-text").textContent =
      interpolate(t("%(done)s of %(total)s steps done"), {done: data.done_steps, total: data.planned_steps}, true);
    var status = document.getElementById("fl-status");
    status.textContent = data.status_label;
    status.className = "badge fl-" + data.status;
    var message = document.getElementById("fl-message");
    message.textContent = data.status_message;
    message.hidden = !data.status_message;
    renderSteps(data);
    renderParticipants(data);
    renderTree(data);
    renderAnomalies(data);
    renderVersions(data);
    renderCharts(data);
    if (data.finished) {
      document.querySelectorAll(".fl-manage").forEach(function (form) { form.hidden = true; });
    }
    document.body.dataset.flStatus = data.status;
  }

  function evaluated(data) {
    return data.versions.length === 0 || data.global.length === data.versions.length;
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        render(data);
        if (!data.finished || (!evaluated(data) && extraPolls-- > 0)) { setTimeout(poll, 1500); }
        else { document.body.dataset.flSettled = "1"; }
      })
      .catch(function () { setTimeout(poll, 4000); });
  }

  var initial = JSON.parse(document.getElementById("fl-progress-data").textContent);
  render(initial);
  if (!initial.finished || !evaluated(initial)) { setTimeout(poll, 1000); } else { document.body.dataset.flSettled = "1"; }
})();
