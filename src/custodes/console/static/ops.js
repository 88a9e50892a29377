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
})();
