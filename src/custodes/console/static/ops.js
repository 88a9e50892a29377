// The operational pages' own script (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  // A live alert has arrived at the top of the queue: say so to screen readers, drop the
  // "nothing here" line, and keep one card per alert (a reconnecting stream may resend one).
  document.addEventListener("live:alert", function (ev) {
    var list = ev.target, card = list.firstElementChild;
    if (!card) { return; }
    var same = list.querySelectorAll("[id='" + card.id + "']");
    for (var i = 1; i < same.length; i++) { same[i].remove(); }
    var empty = document.getElementById("no-alerts");
    if (empty) { empty.remove(); }
    var title = card.querySelector(".alert-title");
    var news = document.getElementById("live-news");
    if (news && title) { news.textContent = "New alert: " + title.textContent; }
  });
  // An action sent by htmx was refused (409: someone handled it first; 422: a field is wrong):
  // htmx swaps nothing on an error, so say what happened and what to do next, at the top.
  document.addEventListener("htmx:responseError", function (ev) {
    var doc = new DOMParser().parseFromString(ev.detail.xhr.responseText || "", "text/html");
    var detail = doc.getElementById("error-detail"), next = doc.querySelector(".error-page p strong");
    var text = (detail ? detail.textContent : "The action failed.") +
      (next && next.parentNode ? " " + next.parentNode.textContent : " Reload the page and try again.");
    var box = document.getElementById("flashes");
    if (!box) { return; }
    var p = document.createElement("p");
    p.className = "flash error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.replaceChildren(p);
    p.scrollIntoView({ block: "nearest" });
  });
})();
