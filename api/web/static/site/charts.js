// Revenue per day and occupancy per hour with the vendored uPlot (no build step).
(function () {
  "use strict";
  var dataEl = document.getElementById("charts-data");
  if (!dataEl || typeof uPlot === "undefined") return;
  var charts = JSON.parse(dataEl.textContent);
  function draw(el, c) {
    if (!c || !c.x.length) return;
    var bars = el.dataset.chart === "revenue";
    var opts = {
      width: Math.max(300, el.clientWidth), height: 240,
      scales: { x: { time: true } },
      // days and hours as the district reads them, whatever the browser's own time zone
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"); },
      series: [{}, {
        label: el.previousElementSibling ? el.previousElementSibling.textContent : el.dataset.chart,
        stroke: bars ? "#0b4f8a" : "#2e9a4a", fill: bars ? "rgba(11,79,138,.25)" : "rgba(46,154,74,.15)",
        paths: bars && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined
      }]
    };
    new uPlot(opts, [c.x, c.y], el);
    el.dataset.points = String(c.x.length);
  }
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    if (el.dataset.src) {  // a slow series: fetched after the page is shown
      fetch(el.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (c) { draw(el, c); });
    } else {
      draw(el, charts[el.dataset.chart]);
    }
  });
})();
