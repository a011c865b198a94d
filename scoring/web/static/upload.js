// The upload page's progressive enhancement (templates/upload.html): without it the form posts as
// it is. A file, not an inline script, so that the Content-Security-Policy needs no 'unsafe-inline'.
(function () {
  var input = document.getElementById("file");
  var zone = document.getElementById("dropzone");
  var chosen = document.getElementById("chosen");
  var progress = document.getElementById("progress");
  function show() {
    chosen.textContent = "";
    for (var i = 0; i < input.files.length; i++) {
      var li = document.createElement("li");
      var f = input.files[i];
      li.textContent = f.name + " (" + (f.size / 1048576).toFixed(2) + " MB)";
      chosen.appendChild(li);
    }
  }
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) { input.files = event.dataTransfer.files; show(); }
  });
  document.querySelectorAll("form.searching-form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var n = form.id === "upload-form" ? input.files.length : 0;
      var what = n > 1 ? "stitching " + n + " files and searching" : "searching";
      var start = Date.now();
      function tick() {
        progress.textContent = "Uploaded; " + what + " for transits… " + Math.round((Date.now() - start) / 1000) +
          " s (a quarter takes seconds, a stitched multi-year light curve up to a minute or two). The result opens when the search is done.";
      }
      progress.hidden = false; tick(); setInterval(tick, 1000);
      setTimeout(function () {
        document.querySelectorAll("form.searching-form button").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
