// A vehicle's track: points coloured by fix quality (RTK fixed / float / DGNSS / single).
(function () {
  "use strict";
  var el = document.getElementById("track-map");
  var dataEl = document.getElementById("track-data");
  if (!el || !dataEl || typeof L === "undefined") return;
  var track = JSON.parse(dataEl.textContent);
  var colours = { 4: "#2e9a4a", 5: "#bf8700", 2: "#0969da", 1: "#cf222e" };
  var coords = track.geometry.coordinates;
  var map = L.map(el);
  if (!coords.length) { map.setView([31.29, 121.51], 13); return; }
  var latlngs = coords.map(function (c) { return [c[1], c[0]]; });
  L.polyline(latlngs, { color: "#57606a", weight: 2 }).addTo(map);
  var q = track.properties.quality || [];
  latlngs.forEach(function (ll, i) {
    L.circleMarker(ll, { radius: 3, weight: 0, fillOpacity: 0.9, fillColor: colours[q[i]] || "#cf222e" }).addTo(map);
  });
  map.fitBounds(L.latLngBounds(latlngs).pad(0.1), { maxZoom: 18 });
  // the streets around it: at least ~1 km across, at most what the server serves (0.5 degrees)
  var b = map.getBounds(), c = b.getCenter();
  var half = [Math.min(0.25, Math.max(0.005, (b.getNorth() - b.getSouth()) / 2)), Math.min(0.25, Math.max(0.005, (b.getEast() - b.getWest()) / 2))];
  var bbox = [c.lng - half[1], c.lat - half[0], c.lng + half[1], c.lat + half[0]].map(function (v) { return v.toFixed(3); }).join(",");
  fetch("/map/streets.geojson?bbox=" + bbox).then(function (r) { return r.ok ? r.json() : null; }).then(function (gj) {
    if (gj) el.dataset.streets = String(gj.features.length ? gj.features[0].properties.segments : 0);
    if (gj) L.geoJSON(gj, { style: { color: "#8c959f", weight: 1.5 }, interactive: false }).addTo(map).bringToBack();
  });
})();
