// The console's own script (no inline scripts: the CSP forbids them).
// Live updates: an element with data-live="/url" listens to server-sent events from that URL.
// Each event named in data-live-events (comma-separated) is inserted as HTML at the top of the
// element when it has data-live-insert, and fires "live:<name>" on the element for htmx triggers.
(function () {
  "use strict";
  function connect(el) {
    var source = new EventSource(el.dataset.live);
    (el.dataset.liveEvents || "message").split(",").forEach(function (name) {
      name = name.trim();
      source.addEventListener(name, function (ev) {
        if (el.hasAttribute("data-live-insert")) {
          el.insertAdjacentHTML("afterbegin", ev.data);
          if (window.htmx) { window.htmx.process(el.firstElementChild || el); }
        }
        el.dispatchEvent(new CustomEvent("live:" + name, { detail: { data: ev.data }, bubbles: true }));
      });
    });
    el._liveSource = source;
  }
  function start(root) {
    (root || document).querySelectorAll("[data-live]").forEach(function (el) {
      if (!el._liveSource) { connect(el); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { start(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { start(ev.target); });
  // Confirm before a destructive action: <form data-confirm="End this assignment?">.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  }, true);
})();
