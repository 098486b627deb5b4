// Polls running chain verifications and updates their progress bars until they finish.
(function () {
  function poll(box) {
    fetch(box.dataset.statusUrl, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        box.querySelector("progress").value = data.percent;
        var badge = box.querySelector(".v-status");
        badge.textContent = data.status_label;
        badge.className = "v-status badge" + (data.status === "intact" ? " active" : data.status === "broken" ? " suspended" : "");
        box.querySelector(".v-message").textContent = data.message || (data.checked + " / " + data.total);
        box.dataset.status = data.status;
        if (data.status === "queued" || data.status === "running") { setTimeout(function () { poll(box); }, 1000); }
      })
      .catch(function () { setTimeout(function () { poll(box); }, 3000); });
  }
  document.querySelectorAll(".verification").forEach(function (box) {
    if (box.dataset.status === "queued" || box.dataset.status === "running") { poll(box); }
  });
})();
