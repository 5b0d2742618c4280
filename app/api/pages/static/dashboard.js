// The overview refreshes itself: every few seconds its rows and its summary come again from the server.
// No other script runs on these pages; without this one the overview is still whole (and reload refreshes it).
"use strict";
(function () {
  var table = document.getElementById("overview");
  if (!table) return;
  var url = table.getAttribute("data-refresh");
  var body = table.querySelector("tbody");
  var summary = document.getElementById("attention");
  var note = document.getElementById("refreshed");
  var every = 3000;
  var shown = null;

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (answer.status === 401) { window.location.assign("/sign-in"); return null; }
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.json();
      })
      .then(function (data) {
        if (!data) return;
        body.innerHTML = data.rows;
        if (data.summary !== shown) { summary.innerHTML = data.summary; shown = data.summary; }  // announced on change
        note.textContent = "Refreshed at " + new Date().toLocaleTimeString() + "; refreshes every few seconds.";
        note.classList.remove("stale");
      })
      .catch(function (problem) {
        note.textContent = "Could not refresh (" + problem.message + "); trying again.";
        note.classList.add("stale");
      })
      .finally(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
