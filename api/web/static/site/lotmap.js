// The district map: lots as circles coloured by free/total, streets from the imported OSM
// network (no tiles: the machine is offline), counts kept live over server-sent events.
(function () {
  "use strict";
  var el = document.getElementById("lot-map");
  var dataEl = document.getElementById("lots-data");
  if (!el || !dataEl) return;
  var lots = JSON.parse(dataEl.textContent);
  var markers = {};
  var hasLeaflet = typeof L !== "undefined";

  function colour(free, total) {
    if (free <= 0) return "#cf222e";
    if (total > 0 && free / total < 0.2) return "#bf8700";
    return "#2e9a4a";
  }

  function label(lot) {
    return lot.name + ": " + lot.free_spaces + " " + el.dataset.labelFree + " / " + lot.capacity;
  }

  // the district: lots within 30 km of the median lot (a demo may hold lots of two cities)
  function districtBounds() {
    if (!lots.length) return null;
    var lats = lots.map(function (l) { return l.lat; }).sort(function (a, b) { return a - b; });
    var lons = lots.map(function (l) { return l.lon; }).sort(function (a, b) { return a - b; });
    var mid = [lats[lats.length >> 1], lons[lons.length >> 1]];
    var near = lots.filter(function (l) {
      return Math.abs(l.lat - mid[0]) < 0.27 && Math.abs(l.lon - mid[1]) < 0.35;
    });
    return L.latLngBounds(near.map(function (l) { return [l.lat, l.lon]; })).pad(0.15);
  }

  var map = null;
  if (hasLeaflet) {
    map = L.map(el, { preferCanvas: false, zoomSnap: 0.5 });
    var bounds = districtBounds();
    if (el.dataset.center) {
      map.setView(el.dataset.center.split(",").map(Number), 15);
    } else if (bounds) { map.fitBounds(bounds, { maxZoom: 16 }); } else { map.setView([31.29, 121.51], 13); }
    var streets = L.geoJSON(null, { style: { color: "#8c959f", weight: 1.5, opacity: 0.9 }, interactive: false }).addTo(map);
    var loaded = {};
    function loadStreets() {
      var b = map.getBounds();
      if (b.getEast() - b.getWest() > 0.5 || b.getNorth() - b.getSouth() > 0.5) return;
      var pad = b.pad(0.3);
      var bbox = [pad.getWest(), pad.getSouth(), pad.getEast(), pad.getNorth()].map(function (v) { return v.toFixed(3); }).join(",");
      if (loaded[bbox]) return;
      loaded[bbox] = true;
      fetch("/map/streets.geojson?bbox=" + bbox).then(function (r) { return r.ok ? r.json() : null; }).then(function (gj) {
        if (gj && gj.features.length) { streets.clearLayers(); streets.addData(gj); el.dataset.streets = gj.features[0].properties.segments; }
      });
    }
    map.on("moveend", loadStreets);
    loadStreets();
    lots.forEach(function (lot) {
      var m = L.circleMarker([lot.lat, lot.lon], {
        radius: 9, weight: 2, color: "#1b1f23", fillColor: colour(lot.free_spaces, lot.capacity), fillOpacity: 0.9
      }).addTo(map);
      m.bindTooltip(label(lot));
      m.on("click", function () {
        if (el.dataset.lotHref) { window.location = el.dataset.lotHref + lot.id; return; }
        var card = document.getElementById("lot-" + lot.id);
        if (card) card.scrollIntoView({ behavior: "smooth" });
      });
      var path = m.getElement();
      if (path) { path.setAttribute("data-lot-id", lot.id); path.setAttribute("data-free-spaces", lot.free_spaces); path.classList.add("lot-marker"); }
      markers[lot.id] = { marker: m, lot: lot };
    });
    window.beidouMap = map;
    // vehicles coloured by fix quality and base stations (the console's map), every 5 s
    if (el.dataset.vehiclesUrl) {
      var fixColour = { fixed: "#2e9a4a", float: "#bf8700", dgnss: "#0969da", single: "#cf222e" };
      var moving = L.layerGroup().addTo(map);
      var drawVehicles = function () {
        fetch(el.dataset.vehiclesUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
          if (!d) return;
          moving.clearLayers();
          d.bases.forEach(function (b) {
            L.marker([b.lat, b.lon], { title: b.mount }).bindTooltip(b.mount).addTo(moving);
          });
          d.vehicles.forEach(function (v) {
            var m = L.circleMarker([v.lat, v.lon], { radius: 6, weight: 1, color: "#fff", fillOpacity: 1, fillColor: fixColour[v.fix] || "#cf222e" });
            m.bindTooltip(v.name + " (" + v.fix + ")").addTo(moving);
            var p = m.getElement(); if (p) { p.setAttribute("data-vehicle", v.id); p.setAttribute("data-fix", v.fix); }
          });
          el.dataset.vehicles = String(d.vehicles.length);
        });
      };
      drawVehicles();
      setInterval(drawVehicles, 5000);
    }
  }

  function update(id, free) {
    var entry = markers[id];
    if (entry) {
      entry.lot.free_spaces = free;
      entry.marker.setStyle({ fillColor: colour(free, entry.lot.capacity) });
      entry.marker.setTooltipContent(label(entry.lot));
    }
    document.querySelectorAll('[data-lot-id="' + id + '"]').forEach(function (node) {
      node.setAttribute("data-free-spaces", String(free));
      node.querySelectorAll(".free").forEach(function (f) { f.textContent = String(free); });
    });
  }

  if (el.dataset.liveUrl && typeof EventSource !== "undefined") {
    var source = new EventSource(el.dataset.liveUrl);
    source.addEventListener("snapshot", function (e) {
      JSON.parse(e.data).forEach(function (c) { update(c.lot_id, c.free_spaces); });
      document.body.dataset.live = "on";
    });
    source.addEventListener("availability", function (e) {
      var c = JSON.parse(e.data);
      update(c.lot_id, c.free_spaces);
    });
    source.onerror = function () { document.body.dataset.live = "off"; };
  }

  var locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        window.location = "/?lat=" + pos.coords.latitude.toFixed(5) + "&lon=" + pos.coords.longitude.toFixed(5) + "#nearest";
      });
    });
  }
})();
