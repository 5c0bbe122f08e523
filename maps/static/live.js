/* The inspectors' live map: every ward coloured by its attainment in the chosen window,
   presence points of the last 15 minutes, neighbourhood outlines; refreshed every
   few seconds from the API without reloading the page. */
(function () {
  "use strict";
  var B = window.Beatlight;
  var WINDOW_WORDS = { "1h": "1 hour", "24h": "24 hours", "7d": "7 days", "28d": "28 days" };
  var MODE_WORDS = { foot: "On foot", cycle: "Cycle", vehicle: "Vehicle", unknown: "Unknown mode" };

  B.maps.live = function (map, cfg) {
    var state = { window: cfg.window, asOf: null, generation: 0, outlines: false, points: true,
                  seen: {} };
    var labels = {};
    cfg.statuses.forEach(function (pair) { labels[pair[0]] = pair[1].replace(/ \(.*\)$/, ""); });

    var wards = new B.WardLayer(map, function (feature) {
      return B.fill(cfg, feature.properties.status);
    }, function (feature) { return tooltip(feature.properties); }, undefined, function (feature) {
      return feature.properties.name + ": " + status(feature.properties);
    });

    var neighbourhoods = L.geoJSON(null, {
      interactive: false,
      style: { className: "beatlight-neighbourhood", color: "#000", weight: 3,
               dashArray: "8 5", fill: false, opacity: 0.8 },
    }).addTo(map);
    var points = L.layerGroup().addTo(map);
    var zoneStates = {};
    cfg.zone_states.forEach(function (z) { zoneStates[z[0]] = { colour: z[1], words: z[2] }; });
    var zones = new B.ZoneLayer(map, {
      style: function (f) {
        return B.zoneStyle(zoneStates[f.properties.state].colour, f.properties.state === "none");
      },
      tooltip: function (f) { return zoneTip(f.properties); },
      state: function (f) { return f.properties.state; },
    });
    zones.layer.addTo(map);
    L.control.layers(null, {
      "Neighbourhood outlines": neighbourhoods,
      "Presence, last 15 minutes": points,
      "Zones (hot spots, town centres)": zones.layer,
    }, { collapsed: false, position: "topright" }).addTo(map);

    var box = B.box(map, "topleft", "beatlight-panel");
    box.appendChild(B.el("h1", null, cfg.title));
    B.skipTo(box, "beatlight-wards", "Skip to the table of every ward");
    B.switcher(box, "Window", cfg.windows, state.window, function (value) {
      state.window = value;
      refresh();
    }, WINDOW_WORDS);
    var asOf = box.appendChild(B.el("p", "beatlight-as-of", "Loading…"));
    var message = box.appendChild(B.el("p", "beatlight-message"));
    B.keyboardNote(box);

    var pointKey = B.el("div", "beatlight-legend-row");
    var dot = B.el("span", "beatlight-dot");
    dot.style.background = cfg.modes.foot;
    pointKey.appendChild(dot);
    pointKey.appendChild(B.el("span", null, "Presence, last 15 min (blue: on foot; " +
                                          "light blue: cycle; white: vehicle)"));
    var outlineKey = B.el("div", "beatlight-legend-row");
    outlineKey.appendChild(B.el("span", "beatlight-outline-key"));
    outlineKey.appendChild(B.el("span", null, "Neighbourhood"));
    var zoneKeys = cfg.zone_states.map(function (z) {
      var row = B.zoneKey(z[1], z[2], z[0] === "none");
      row.hidden = true;  // until the API names a zone
      return row;
    });
    B.legend(map, cfg, [pointKey, outlineKey].concat(zoneKeys));

    var table = B.wardTable(cfg, B.staffColumns(labels).concat([
      { key: "seen", label: "Last seen", numeric: true,
        value: function (p) { return p.last_seen ? -Date.parse(p.last_seen) : Infinity; },
        text: function (p) { return B.ago(p.last_seen, state.asOf); } },
      { key: "now", label: "Presence, last 15 minutes",
        value: function (p) { return recent(p.code); }, text: function (p) { return recent(p.code); } },
    ]), { show: function (code) { wards.show(code, true); } });
    var zoneTable = B.wardTable(cfg, [
      { key: "name", label: "Zone", value: function (p) { return p.name; } },
      { key: "state", label: "Now", value: zoneWords, text: zoneWords },
      { key: "gap", label: "Longest gap so far", numeric: true,
        value: function (p) { return p.session ? p.session.longest_gap_minutes : -1; },
        text: function (p) { return p.session ? B.duration(p.session.longest_gap_minutes) : ""; } },
      { key: "met", label: "Sessions met, last 28 days", numeric: true,
        value: function (p) { return p.sessions_ended ? p.sessions_met / p.sessions_ended : -1; },
        text: function (p) { return p.sessions_ended ? p.sessions_met + " of " + p.sessions_ended : "none ended"; } },
    ], { show: function (code) { zones.show(code); }, id: "beatlight-zones",
         heading: "Every zone, in words", noun: "zone" });

    function zoneWords(p) {
      return (zoneStates[p.state] || { words: p.state }).words.replace(/^Zone: /, "");
    }

    function status(p) { return B.attained(labels, p); }

    /* The ward's presence points in words ("1 on foot, 2 vehicle"), "" without. */
    function recent(code) {
      var modes = state.seen[code] || {};
      return Object.keys(modes).sort().map(function (mode) {
        return modes[mode] + " " + (MODE_WORDS[mode] || mode).toLowerCase();
      }).join(", ") || (state.points ? "none" : "");
    }

    function zoneTip(p) {
      var s = p.session;
      var gap = p.max_gap_minutes === null ? "" : " (at most " + B.duration(p.max_gap_minutes) + ")";
      var line = p.state === "none" ? "No session now" + (p.schedule ? " (sessions: " +
        p.schedule + ")" : "") : (p.state === "unattended" ? "Nobody for too long: " :
        "Session on, on track: ") + "longest gap so far " + B.duration(s.longest_gap_minutes) +
        gap + ", " + B.duration(s.patrol_minutes) + " of patrol; the session ends " +
        B.time(s.end, cfg.timezone);
      var met = p.sessions_ended ? p.sessions_met + " of " + p.sessions_ended +
        " sessions met in the last 28 days" : "No session ended in the last 28 days";
      return '<div class="beatlight-tip"><strong>' + B.escape(p.name) + "</strong>" +
        '<div class="beatlight-tip-status">' + B.escape(line) + "</div><p>" + B.escape(met) +
        "</p></div>";
    }

    /* The zones' outlines and current sessions; an API with no zone shows none. */
    function loadZones() {
      return B.getJSON(cfg.api + "/zones?format=geojson").then(function (collection) {
        var n = zones.update(collection);
        zoneKeys.forEach(function (row) { row.hidden = !n; });
        zoneTable.update(collection, "Each zone's current session, as on the map above");
      }).catch(function () { /* the wards still show */ });
    }

    function tooltip(p) {
      var w = p;
      var rows = [
        ["Patrol", B.duration(w.patrol_minutes) + " of " + B.duration(w.target_minutes) + " target"],
        ["On foot", B.duration(w.foot_minutes)],
        ["Distinct units", w.distinct_units],
        ["Visits", w.visits + ", of which " + w.koper_visits + " lasted " + cfg.koper_minutes +
          " min or more"],
        ["Coverage", B.percent(w.coverage) + " of the ward"],
        ["Last seen", B.ago(w.last_seen, state.asOf)],
      ];
      return '<div class="beatlight-tip"><strong>' + B.escape(p.name) + "</strong>" +
        '<div class="beatlight-tip-status">' + B.escape(labels[p.status] || "No figures") +
        (p.attainment === null || p.attainment === undefined ? "" :
          ": " + B.percent(p.attainment) + " of its target") +
        " in the last " + WINDOW_WORDS[p.window] + "</div><table>" +
        rows.map(function (r) {
          return "<tr><th>" + r[0] + "</th><td>" + B.escape(r[1]) + "</td></tr>";
        }).join("") + "</table></div>";
    }

    function drawPoints(collection) {
      points.clearLayers();
      state.seen = {};
      collection.features.forEach(function (f) {
        var mode = f.properties.mode;
        var seen = state.seen[f.properties.ward] = state.seen[f.properties.ward] || {};
        seen[mode] = (seen[mode] || 0) + 1;
        L.circleMarker([f.geometry.coordinates[1], f.geometry.coordinates[0]], {
          className: "beatlight-point", radius: 5, color: "#000", weight: 1,
          fillColor: cfg.modes[mode] || cfg.modes.unknown, fillOpacity: 0.95,
        }).bindTooltip(B.escape((MODE_WORDS[mode] || mode) + ", " +
                                B.ago(f.properties.ts, state.asOf)))
          .on("add", function (event) { B.untabbed(event.target.getElement()); })
          .addTo(points);
      });
    }

    function load() {
      var generation = ++state.generation;
      var api = cfg.api;
      var figures = B.getJSON(api + "/geojson?level=ward&window=" + state.window);
      // An API that does not read Kafka has no points (503): stop asking for them.
      var recent = !state.points ? Promise.resolve({ features: [] }) :
        B.getJSON(api + "/live/points").catch(function (error) {
          if (error.status === 503) state.points = false;
          return { features: [], error: error };
        });
      return Promise.all([figures, recent, loadZones()]).then(function (answers) {
        if (generation !== state.generation) return;
        var collection = answers[0];
        state.asOf = collection.as_of;
        wards.update(collection);
        drawPoints(answers[1]);
        table.update(collection, "Each ward in the last " + WINDOW_WORDS[state.window] +
                     ", as on the map above");
        asOf.textContent = "Figures as of " + B.time(collection.as_of, cfg.timezone) +
          (collection.live ? " (live)" : "");
        if (answers[1].error) B.say(message, "Presence points: " + answers[1].error.message);
        else if (state.points) B.say(message, "");
        if (!state.outlines) {
          state.outlines = true;
          B.getJSON(api + "/geojson?level=neighbourhood&window=" + state.window)
            .then(function (c) { neighbourhoods.addData(c); })
            .catch(function () { state.outlines = false; });
        }
      }).catch(function (error) {
        B.say(message, error.message, error);
        throw error;
      });
    }

    if (cfg.wards) {
      wards.update(cfg.wards);
      table.update(cfg.wards, "Each ward, as on the map above");
    }
    var refresh = cfg.api ? B.every(cfg.refresh_seconds, load) : function () {};
  };
})();
