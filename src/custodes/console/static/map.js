// The subject map: zones, the trail with accuracy circles, alerts, and playback. Canvas renderer:
// a week of fixes (about 10,000) draws well under a second. No tiles unless a tile server is set.
(function () {
  "use strict";
  var dataEl = document.getElementById("map-data");
  if (!dataEl || !window.L) { return; }
  var d = JSON.parse(dataEl.textContent);
  var renderer = L.canvas({ padding: 0.5 });
  var map = L.map("map", { preferCanvas: true, renderer: renderer, zoomSnap: 0.25, keyboard: true });
  if (d.tile_url) { L.tileLayer(d.tile_url, { maxZoom: 19 }).addTo(map); }
  var bounds = L.latLngBounds([]);
  function extendCircle(lat, lon, r) {
    var dLat = r / 111320, dLon = r / (111320 * Math.cos(lat * Math.PI / 180));
    bounds.extend([lat - dLat, lon - dLon]); bounds.extend([lat + dLat, lon + dLon]);
  }
  function fmt(ms, tz) {
    return new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "short", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" }).format(new Date(ms));
  }
  (d.zones || []).forEach(function (z) {
    var style = z.type === "exclusion"
      ? { color: "#a4161a", weight: 2, dashArray: "6 4", fillOpacity: 0.08, renderer: renderer }
      : { color: "#1e6b34", weight: 2, fillOpacity: 0.06, renderer: renderer };
    var layer;
    if (z.circle) {
      layer = L.circle([z.circle.lat, z.circle.lon], L.extend({ radius: z.circle.radius_m }, style));
      extendCircle(z.circle.lat, z.circle.lon, z.circle.radius_m);
    } else if (z.geometry) {
      layer = L.geoJSON(z.geometry, { style: function () { return style; } });
      bounds.extend(layer.getBounds());
    }
    if (layer) { layer.bindTooltip(z.words).addTo(map); }
  });
  var trail = d.trail || [];
  var started = performance.now();
  if (trail.length) {
    var accuracy = L.layerGroup();
    var line = [];
    for (var i = 0; i < trail.length; i++) {
      var f = trail[i];
      line.push([f[1], f[2]]);
      accuracy.addLayer(L.circle([f[1], f[2]], { radius: f[3], renderer: renderer, stroke: false,
        fillColor: "#0b4f8a", fillOpacity: 0.05, interactive: false }));
    }
    accuracy.addTo(map);
    L.polyline(line, { color: "#0b4f8a", weight: 2, opacity: 0.8, renderer: renderer, interactive: false }).addTo(map);
    bounds.extend(L.latLngBounds(line));
  }
  (d.alerts || []).forEach(function (a) {
    var color = a.category === "device_fault" ? "#5b3a8c" : "#a4161a";
    L.circleMarker([a.lat, a.lon], { radius: 11, color: color, weight: 3, fill: false, renderer: renderer })
      .bindTooltip(a.label).addTo(map);
    bounds.extend([a.lat, a.lon]);
  });
  if (bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20] }); } else { map.setView([51.5, -0.12], 12); }
  // The canvas paints on the next frame: time until the frame after it.
  requestAnimationFrame(function () {
    requestAnimationFrame(function () {
      var ms = Math.round(performance.now() - started);
      window.custodesTrail = { fixes: trail.length, drawMs: ms };
      var out = document.getElementById("draw-time");
      if (out && trail.length) { out.textContent = "(drawn in " + ms + " ms)"; }
    });
  });
  var slider = document.getElementById("slider"), play = document.getElementById("play");
  var position = document.getElementById("position");
  if (!slider || !trail.length) { return; }
  var marker = L.circleMarker([trail[0][1], trail[0][2]], { radius: 8, color: "#111", weight: 2,
    fillColor: "#f0a500", fillOpacity: 1, renderer: renderer }).addTo(map);
  function show(i) {
    var f = trail[i];
    marker.setLatLng([f[1], f[2]]);
    var text = fmt(f[0], d.officer_tz) + (d.subject_tz !== d.officer_tz ? " (subject: " + fmt(f[0], d.subject_tz) + ")" : "")
      + " · accuracy " + f[3] + " m";
    position.textContent = text;
    slider.setAttribute("aria-valuetext", text);
  }
  slider.addEventListener("input", function () { show(+slider.value); });
  var timer = null;
  function stop() { clearInterval(timer); timer = null; play.textContent = "Play"; play.setAttribute("aria-pressed", "false"); }
  play.addEventListener("click", function () {
    if (timer) { stop(); return; }
    if (+slider.value >= trail.length - 1) { slider.value = 0; }
    var step = Math.max(1, Math.round(trail.length / 400)); // the whole window in about 20 s
    play.textContent = "Pause"; play.setAttribute("aria-pressed", "true");
    timer = setInterval(function () {
      var next = Math.min(trail.length - 1, +slider.value + step);
      slider.value = next; show(next);
      if (next >= trail.length - 1) { stop(); }
    }, 50);
  });
  show(0);
})();
