// Live updates: a page whose #live element says "running" fetches itself
// again every data-refresh milliseconds and swaps in the new #live, so a
// running job is followed without a reload. Without script, the page's
// meta refresh does the same by reloading.
(function () {
  "use strict";
  var every = parseInt(document.body.dataset.refresh, 10) || 2000;
  function running() {
    var live = document.getElementById("live");
    return live && live.dataset.live === "running";
  }
  function tick() {
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("status " + r.status); }
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("live");
        var cur = document.getElementById("live");
        if (next && cur) {
          cur.replaceWith(document.importNode(next, true));
          document.title = doc.title;
        }
        if (running()) { setTimeout(tick, every); }
      })
      .catch(function () { setTimeout(tick, 2 * every); });
  }
  if (running()) { setTimeout(tick, every); }
})();
