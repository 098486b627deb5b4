// Follows a batch's health analysis (queued / running / done / failed) until it finishes, then reloads
// the page so the results show.
(function () {
  "use strict";
  var box = document.getElementById("batch-health");
  if (!box) { return; }
  var active = ["queued", "running"];
  if (active.indexOf(box.dataset.status) < 0) { return; }
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        document.getElementById("analysis-status").textContent = data.status_label;
        var bar = document.getElementById("analysis-progress");
        if (bar) { bar.value = data.percent; }
        box.dataset.status = data.status;
        if (active.indexOf(data.status) >= 0) { setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
