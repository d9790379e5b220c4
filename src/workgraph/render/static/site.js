// wg html: small progressive enhancements. Everything is readable without JavaScript.
(function () {
  "use strict";
  var KEY = "wg-html-description-mode";
  function store(get, value) {
    try {
      if (get) { return window.localStorage.getItem(KEY); }
      window.localStorage.setItem(KEY, value);
    } catch (e) { /* file:// without storage: the toggle still works for this page */ }
    return null;
  }
  function setMode(mode) {
    var views = document.querySelectorAll("[data-view]");
    for (var i = 0; i < views.length; i++) { views[i].hidden = views[i].getAttribute("data-view") !== mode; }
    var buttons = document.querySelectorAll(".desc-toggle button");
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].setAttribute("aria-pressed", buttons[j].getAttribute("data-mode") === mode ? "true" : "false");
    }
  }
  var toggle = document.querySelector(".desc-toggle");
  if (toggle) {
    var saved = store(true);
    if (saved === "raw" || saved === "pretty") { setMode(saved); }
    toggle.addEventListener("click", function (ev) {
      var mode = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-mode");
      if (mode) { setMode(mode); store(false, mode); }
    });
  }

  var filter = document.getElementById("filter");
  var statusSel = document.getElementById("status-filter");
  var table = document.getElementById("tasks");
  if (table && (filter || statusSel)) {
    var rows = table.tBodies[0].rows;
    var count = document.getElementById("shown-count");
    var apply = function () {
      var words = (filter ? filter.value : "").toLowerCase().split(/\s+/).filter(Boolean);
      var st = statusSel ? statusSel.value : "";
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i];
        var text = row.getAttribute("data-search") || "";
        var ok = (!st || row.getAttribute("data-status") === st);
        for (var k = 0; ok && k < words.length; k++) { ok = text.indexOf(words[k]) !== -1; }
        row.hidden = !ok;
        if (ok) { shown++; }
      }
      if (count) { count.textContent = String(shown); }
    };
    if (filter) { filter.addEventListener("input", apply); }
    if (statusSel) { statusSel.addEventListener("change", apply); }
    if (window.location.hash.indexOf("#q=") === 0 && filter) {
      filter.value = decodeURIComponent(window.location.hash.slice(3));
    }
    apply();
  }
})();
