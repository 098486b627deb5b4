// Sensor-batch upload: drag and drop, an upload progress bar, then a validation phase, then the result.
(function () {
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var input = form.querySelector("input[type=file]");
  var zone = document.getElementById("dropzone");
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var phase = document.getElementById("upload-phase");
  var errorBox = document.getElementById("upload-error");
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) { if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; } });
  function showError(err) {
    var where = [];
    if (err.channel) { where.push(gettext("channel") + " " + err.channel); }
    if (err.row !== null && err.row !== undefined) { where.push(gettext("row") + " " + err.row); }
    if (err.column !== null && err.column !== undefined) { where.push(gettext("column") + " " + err.column); }
    errorBox.textContent = err.message + (where.length ? " (" + where.join(", ") + ")" : "");
    errorBox.hidden = false;
    box.hidden = true;
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    errorBox.hidden = true;
    if (input.files.length && input.files[0].size > maxBytes) {
      showError({message: gettext("The file is larger than the upload limit."), row: null});
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    box.hidden = false; bar.value = 0; phase.textContent = gettext("Uploading…");
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); }
    });
    xhr.upload.addEventListener("load", function () {
      phase.textContent = gettext("Validating the whole batch…"); bar.removeAttribute("value");
    });
    xhr.onload = function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = {error: {message: xhr.statusText}}; }
      if (xhr.status === 201) { phase.textContent = gettext("Accepted."); bar.value = 100; window.location = data.redirect; }
      else { showError(data.error || {message: xhr.statusText}); }
    };
    xhr.onerror = function () { showError({message: gettext("The upload failed; check the connection.")}); };
    xhr.send(new FormData(form));
  });
})();
