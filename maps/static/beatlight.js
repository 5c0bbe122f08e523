/* Beatlight maps: what every map shares. Each map's own script (live.js, coverage.js,
   public.js) adds Beatlight.maps[kind]; the page calls Beatlight.start(map, kind).
   The page carries no figures: they are fetched from the API with the viewer's key,
   which the sign-in page keeps in sessionStorage (this tab only, never in a URL). */
(function () {
  "use strict";
  var B = (window.Beatlight = window.Beatlight || {});
  B.maps = B.maps || {};
  B.KEY = "beatlight-key";

  B.start = function (map, kind) {
    var cfg = JSON.parse(document.getElementById("beatlight-config").textContent);
    map.attributionControl.addAttribution(cfg.boundary_attribution);
    // The map and its panels are the page's main content; the tables after it are regions.
    map.getContainer().setAttribute("role", "main");
    map.getContainer().setAttribute("aria-label", "Map: " + cfg.title);
    B.maps[kind](map, cfg);
  };

  B.key = function () {
    try { return window.sessionStorage.getItem(B.KEY); } catch (e) { return null; }
  };

  B.signOut = function () {
    try { window.sessionStorage.removeItem(B.KEY); } catch (e) { /* storage off */ }
    window.location.reload();
  };

  /* GET JSON from the API with the key; rejects with an Error carrying .status. */
  B.getJSON = function (url) {
    var headers = { Accept: "application/json, application/geo+json" };
    var key = B.key();
    if (key) headers["X-API-Key"] = key;
    return fetch(url, { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (response.ok) return response.json();
        return response.json().catch(function () { return {}; }).then(function (body) {
          var error = new Error(body.detail || "the API answered " + response.status);
          error.status = response.status;
          throw error;
        });
      });
  };

  B.escape = function (value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  };

  B.el = function (tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  /* -- plain words -------------------------------------------------------------------- */

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  B.plural = plural;

  /* "43 minutes ago": how long before `reference` (both RFC 3339 or Date). */
  B.ago = function (then, reference) {
    if (!then) return "not in this window";
    var minutes = Math.floor((new Date(reference) - new Date(then)) / 60000);
    if (minutes < 1) return "less than a minute ago";
    if (minutes < 60) return plural(minutes, "minute") + " ago";
    var hours = Math.floor(minutes / 60);
    if (hours < 2) return "1 hour " + plural(minutes - 60, "minute") + " ago";
    if (hours < 48) return plural(hours, "hour") + " ago";
    return plural(Math.floor(hours / 24), "day") + " ago";
  };

  /* 312 → "5 h 12 min"; 45 → "45 min". */
  B.duration = function (minutes) {
    var m = Math.round(minutes || 0);
    if (m < 60) return m + " min";
    return Math.floor(m / 60) + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
  };

  /* A staff map's ward status in words, with its share of the target: "Close, 80% of its
     target". labels: {status: words}. */
  B.attained = function (labels, p) {
    return (labels[p.status] || "No figures") + (p.attainment === null ||
      p.attainment === undefined ? "" : ", " + B.percent(p.attainment) + " of its target");
  };

  B.percent = function (fraction) {
    return fraction === null || fraction === undefined ? "n/a" : Math.round(fraction * 100) + "%";
  };

  /* "Monday 2 November 2026" (the local day of `moment` in `timezone`). */
  B.day = function (moment, timezone) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: timezone, weekday: "long", day: "numeric", month: "long", year: "numeric",
    }).formatToParts(new Date(moment)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.weekday + " " + parts.day + " " + parts.month + " " + parts.year;
  };

  B.time = function (moment, timezone) {
    return new Date(moment).toLocaleString("en-GB", {
      timeZone: timezone, weekday: "short", day: "numeric", month: "short",
      hour: "2-digit", minute: "2-digit",
    });
  };

  /* -- map furniture ------------------------------------------------------------------ */

  /* A box in a corner of the map (title, switchers, messages, side panel). */
  B.box = function (map, position, className) {
    var control = L.control({ position: position });
    var div = B.el("div", "beatlight-box " + (className || ""));
    control.onAdd = function () {
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    control.addTo(map);
    return div;
  };

  B.legend = function (map, cfg, extra) {
    var div = B.box(map, "bottomright", "beatlight-legend");
    div.appendChild(B.el("h2", null, "Legend"));
    cfg.statuses.forEach(function (pair) {
      var row = B.el("div", "beatlight-legend-row");
      var swatch = B.el("span", "beatlight-swatch");
      swatch.style.background = cfg.palette[pair[0]];
      row.appendChild(swatch);
      row.appendChild(B.el("span", null, pair[1]));
      div.appendChild(row);
    });
    (extra || []).forEach(function (node) { div.appendChild(node); });
    return div;
  };

  /* Buttons for one choice among `values`; calls onChange(value). */
  B.switcher = function (parent, label, values, current, onChange, words) {
    var group = B.el("div", "beatlight-switcher");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", label);
    group.appendChild(B.el("span", "beatlight-switcher-label", label));
    var buttons = values.map(function (value) {
      var button = B.el("button", null, words ? words[value] : value);
      button.type = "button";
      button.dataset.value = value;
      button.setAttribute("aria-pressed", String(value === current));
      button.addEventListener("click", function () {
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
        onChange(value);
      });
      group.appendChild(button);
      return button;
    });
    parent.appendChild(group);
    return group;
  };

  /* A message line in a box; kind "error" shows a way to sign in again on 401/403. */
  B.say = function (line, text, error) {
    line.textContent = text || "";
    line.className = "beatlight-message" + (error ? " beatlight-error" : "");
    if (error && (error.status === 401 || error.status === 403)) {
      var again = B.el("button", "beatlight-link", "Use another key");
      again.type = "button";
      again.addEventListener("click", B.signOut);
      line.appendChild(document.createTextNode(" "));
      line.appendChild(again);
    }
  };

  /* -- the wards ---------------------------------------------------------------------- */

  /* One SVG path per ward, restyled in place when new figures arrive (no redraw, no
     flicker), so a map that refreshes keeps its tooltips and the viewer's place.
     The wards are one stop of the keyboard's Tab (a roving tabindex): the arrow keys go
     to the next or previous ward by name, Home and End to the first and last; a ward
     with the focus shows its figures (Leaflet opens the tooltip on focus and points
     aria-describedby at it), Escape hides them, Enter or Space shows them again. Each
     path is a button named by label(feature): the ward and its status in words. */
  B.WardLayer = function (map, style, tooltip, fit, label) {
    this.map = map;
    this.fit = fit || { padding: [24, 24] };
    this.style = style;
    this.tooltip = tooltip;
    this.label = label || function (feature) { return feature.properties.name; };
    this.byCode = {};
    this.current = null;  // the ward in the tab order
    this.fitted = false;
    var self = this;
    this.layer = L.geoJSON(null, {
      filter: function (feature) { return Boolean(feature.geometry); },
      style: function (feature) { return self.style(feature); },
      onEachFeature: function (feature, layer) {
        self.byCode[feature.properties.code] = layer;
        layer.bindTooltip(function () { return self.tooltip(layer.feature); },
                          { sticky: true, className: "beatlight-tooltip" });
        layer.on("mouseover", function () { layer.setStyle({ weight: 3 }); });
        layer.on("mouseout", function () { layer.setStyle(self.style(layer.feature)); });
        layer.on("add", function () {
          self.mark(layer);
          self.keys(layer);
        });
      },
    }).addTo(map);
  };

  /* The wards in the keyboard's order: by name. */
  B.WardLayer.prototype.ordered = function () {
    var self = this;
    return Object.keys(this.byCode).map(function (code) { return self.byCode[code]; })
      .sort(function (a, b) { return a.feature.properties.name.localeCompare(b.feature.properties.name); });
  };

  B.WardLayer.prototype.keys = function (layer) {
    var self = this;
    var path = layer.getElement && layer.getElement();
    if (!path) return;
    path.setAttribute("role", "button");
    path.addEventListener("focus", function () {
      self.rove(layer);
      if (!self.map.getBounds().contains(layer.getBounds().getCenter())) {
        self.map.panTo(layer.getBounds().getCenter());
      }
    });
    path.addEventListener("keydown", function (event) {
      var order = self.ordered();
      var at = order.indexOf(layer);
      var next = { ArrowDown: at + 1, ArrowRight: at + 1, ArrowUp: at - 1, ArrowLeft: at - 1,
                   Home: 0, End: order.length - 1 }[event.key];
      if (next !== undefined) {
        var to = order[(next + order.length) % order.length];
        to.getElement().focus({ preventScroll: true });
      } else if (event.key === "Enter" || event.key === " ") {
        layer.openTooltip();
      } else if (event.key === "Escape") {
        layer.closeTooltip();
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    });
  };

  /* Makes `layer` the one ward in the tab order (the first by name when it is null). */
  B.WardLayer.prototype.rove = function (layer) {
    var order = this.ordered();
    this.current = layer && order.indexOf(layer) >= 0 ? layer : order[0] || null;
    var current = this.current;
    order.forEach(function (l) {
      var path = l.getElement && l.getElement();
      if (path) path.setAttribute("tabindex", l === current ? "0" : "-1");
    });
  };

  /* Brings ward `code` into view with its figures; with `focus`, the keyboard goes there. */
  B.WardLayer.prototype.show = function (code, focus) {
    B.showLayer(this.map, this.byCode[code], focus);
  };

  B.showLayer = function (map, layer, focus) {
    if (!layer) return;
    window.scrollTo(0, 0);
    map.fitBounds(layer.getBounds(), { padding: [40, 40], maxZoom: 14 });
    if (focus && layer.getElement()) layer.getElement().focus({ preventScroll: true });
    layer.openTooltip(layer.getBounds().getCenter());
  };

  /* Out of the Tab order: Chromium lets Tab reach any SVG shape that listens for focus,
     as Leaflet's shapes with a tooltip do; only the wards are stops (their zones and
     points are in the tables after the map). */
  B.untabbed = function (path) { path.setAttribute("tabindex", "-1"); };

  /* How to reach the wards with the keyboard, in a map's panel. */
  B.keyboardNote = function (parent) {
    return parent.appendChild(B.el("p", "beatlight-note", "With the keyboard: Tab reaches " +
      "the wards on the map, the arrow keys go from one to the next, Escape hides a " +
      "ward's figures and Enter shows them again."));
  };

  /* New figures for a layer of outlines by code (owner: a WardLayer or ZoneLayer, with
     byCode, layer and mark): restyled in place when the same codes come again (an open
     tooltip stays open, its text redone), else drawn anew. The features with a shape. */
  B.updateOutlines = function (owner, collection, style) {
    var features = collection.features.filter(function (f) { return f.geometry; });
    var same = features.length === Object.keys(owner.byCode).length && features.every(
      function (f) { return owner.byCode[f.properties.code]; });
    if (same) {
      features.forEach(function (feature) {
        var layer = owner.byCode[feature.properties.code];
        layer.feature = feature;
        layer.setStyle(style(feature));
        owner.mark(layer);
        if (layer.isTooltipOpen()) layer.getTooltip().update();  // re-runs the tooltip's text
      });
    } else {
      owner.layer.clearLayers();
      owner.byCode = {};
      owner.layer.addData({ type: "FeatureCollection", features: features });
    }
    return features;
  };

  B.WardLayer.prototype.update = function (collection) {
    var self = this;
    var features = B.updateOutlines(this, collection, function (f) { return self.style(f); });
    this.rove(this.current);
    if (!this.fitted && features.length) {
      this.map.invalidateSize();  // the page's styles may have loaded after the map
      this.map.fitBounds(this.layer.getBounds(), this.fit);
      this.fitted = true;
    }
  };

  B.WardLayer.prototype.restyle = function () {
    var self = this;
    Object.keys(this.byCode).forEach(function (code) {
      var layer = self.byCode[code];
      layer.setStyle(self.style(layer.feature));
    });
  };

  /* The ward's name and status in words on its path, and its code and status for people
     using developer tools and tests. */
  B.WardLayer.prototype.mark = function (layer) {
    var path = layer.getElement && layer.getElement();
    if (!path) return;
    path.setAttribute("aria-label", this.label(layer.feature));
    path.setAttribute("data-code", layer.feature.properties.code);
    path.setAttribute("data-status", layer.feature.properties.status || "");
    if (layer.feature.properties.revised_at) {
      path.setAttribute("data-revised-at", layer.feature.properties.revised_at);
    } else {
      path.removeAttribute("data-revised-at");
    }
  };

  /* -- the zones ---------------------------------------------------------------------- */

  /* Zones (hot spots, town centres, ...) as outlines in a pane above the wards, restyled
     in place like the wards. opts: style(feature), tooltip(feature), state(feature): the
     word put on each path as data-state (with data-zone, the code) for tests and tools. */
  B.ZoneLayer = function (map, opts) {
    if (!map.getPane("beatlight-zones")) map.createPane("beatlight-zones").style.zIndex = 450;
    var self = this;
    this.map = map;
    this.opts = opts;
    this.byCode = {};
    this.layer = L.geoJSON(null, {
      pane: "beatlight-zones",
      filter: function (feature) { return Boolean(feature.geometry); },
      style: function (feature) { return opts.style(feature); },
      onEachFeature: function (feature, layer) {
        self.byCode[feature.properties.code] = layer;
        layer.bindTooltip(function () { return opts.tooltip(layer.feature); },
                          { sticky: true, className: "beatlight-tooltip beatlight-zone-tip" });
        layer.on("add", function () { self.mark(layer); });
      },
    });
  };

  B.ZoneLayer.prototype.update = function (collection) {
    return B.updateOutlines(this, collection, this.opts.style).length;
  };

  B.ZoneLayer.prototype.show = function (code) { B.showLayer(this.map, this.byCode[code]); };

  B.ZoneLayer.prototype.mark = function (layer) {
    var path = layer.getElement && layer.getElement();
    if (!path) return;
    B.untabbed(path);
    path.setAttribute("data-zone", layer.feature.properties.code);
    path.setAttribute("data-state", this.opts.state(layer.feature));
  };

  /* A legend row with an outline swatch of `colour`. */
  B.zoneKey = function (colour, words, dashed) {
    var row = B.el("div", "beatlight-legend-row beatlight-zone-row");
    var swatch = row.appendChild(B.el("span", "beatlight-zone-key"));
    swatch.style.borderColor = colour;
    if (dashed) swatch.style.borderStyle = "dashed";
    row.appendChild(B.el("span", null, words));
    return row;
  };

  B.zoneStyle = function (colour, dashed) {
    return { className: "beatlight-zone", color: colour, weight: dashed ? 2 : 4, opacity: 1,
             dashArray: dashed ? "4 4" : null, fill: true, fillColor: colour,
             fillOpacity: 0.08 };
  };

  B.fill = function (cfg, status) {
    return {
      className: "beatlight-ward",
      color: "#1a1a1a", weight: 1, opacity: 0.9,
      fillColor: cfg.palette[status] || "#ffffff",
      fillOpacity: cfg.palette[status] ? 0.55 : 0.1,
    };
  };

  /* Loads the API's figures now and, when `seconds` > 0, again and again; one at a time. */
  B.every = function (seconds, load) {
    var timer = null;
    var latest = 0;
    function run() {
      clearTimeout(timer);
      var mine = ++latest;  // only the latest run schedules the next: one chain of timers
      return Promise.resolve().then(load).catch(function () { /* load reports it */ })
        .then(function () {
          if (seconds > 0 && mine === latest) timer = setTimeout(run, seconds * 1000);
        });
    }
    run();
    return run;
  };
})();
