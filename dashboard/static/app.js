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

// Timeline tooltips: a timeline draws its bars as a few paths, one per
// kind of bar, so that a job of thousands of runs stays a small page; a
// bar has no element of its own to carry its tooltip. The timeline's
// JSON (script.timeline-runs beside it) has the bars of each row, [x,
// width, tooltip]; the tooltip of the bar under the pointer shows in a
// box that follows it. Without script, each path's title says what its
// bars are, and the task table lists the runs.
(function () {
  "use strict";
  var tip = null, svg = null, runs = null;
  function load(s) {
    if (s === svg) { return runs; }
    svg = s;
    runs = null;
    var el = s.parentNode.querySelector("script.timeline-runs");
    try { runs = JSON.parse(el.textContent); } catch (e) { return null; }
    // The paths' own titles would show over the bars' tooltips.
    s.querySelectorAll("path > title").forEach(function (t) { t.remove(); });
    return runs;
  }
  // under is the tooltip of the bar at the pointer of e, or null.
  function under(e) {
    var s = e.target.closest && e.target.closest("svg.timeline");
    var d = s && load(s);
    if (!d) { return null; }
    var r = s.getBoundingClientRect(), vb = s.viewBox.baseVal;
    var x = (e.clientX - r.left) * vb.width / r.width, y = (e.clientY - r.top) * vb.height / r.height - d.top;
    var i = Math.floor(y / d.pitch);
    if (i < 0 || i >= d.rows.length || y - i * d.pitch >= d.height) { return null; }
    var row = d.rows[i];
    for (var j = 0; j < row.length; j++) {
      if (x >= row[j][0] && x < row[j][0] + Math.max(row[j][1], 2)) { return row[j][2]; }
    }
    return null;
  }
  document.addEventListener("mousemove", function (e) {
    var text = under(e);
    if (!text) {
      if (tip) { tip.hidden = true; }
      return;
    }
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "tip";
      tip.setAttribute("role", "tooltip");
      document.body.appendChild(tip);
    }
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - tip.offsetWidth - 4) + "px";
    tip.style.top = (e.clientY + 16) + "px";
  });
})();
