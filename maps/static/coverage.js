/* The PCC office's coverage map: attainment over 7 or 28 days against each ward's
   commitment, wards that missed their weekly target N weeks running outlined, and
   SPEC rule 12's fairness figures in a side panel. Live, or at a stored hour
   (?as_of=2026-11-23T06:00:00Z), where wards whose figures were revised after they were
   first published (pings uploaded late) are outlined and say when. */
(function () {
  "use strict";
  var B = window.Beatlight;
  var WINDOW_WORDS = { "7d": "7 days", "28d": "28 days" };

  B.maps.coverage = function (map, cfg) {
    var state = { window: cfg.window, weeks: cfg.missed_weeks, missed: {}, generation: 0 };
    var hour = new URLSearchParams(window.location.search).get("as_of");
    var labels = {};
    cfg.statuses.forEach(function (pair) { labels[pair[0]] = pair[1].replace(/ \(.*\)$/, ""); });

    var wards = new B.WardLayer(map, function (feature) {
      var style = B.fill(cfg, feature.properties.status);
      if (state.missed[feature.properties.code]) {
        style.className = "beatlight-ward beatlight-missed";
        style.color = "#000";
        style.weight = 4;
        style.dashArray = "2 6";
        style.lineCap = "round";
      }
      if (feature.properties.revision) {
        style.className += " beatlight-revised";
        style.color = cfg.revised;
        style.weight = 4;
      }
      return style;
    }, function (feature) { return tooltip(feature.properties); },
    // Leave room for the side panel on the right.
    { paddingTopLeft: [24, 24], paddingBottomRight: [Math.min(360, map.getSize().x / 3), 24] },
    function (feature) {
      var p = feature.properties;
      return [p.name + ": " + status(p), missed(p), revised(p)].filter(Boolean).join("; ");
    });

    var zones = new B.ZoneLayer(map, {
      style: function (f) { return B.zoneStyle(band(f.properties)[2], false); },
      tooltip: function (f) { return zoneTip(f.properties); },
      state: function (f) { return band(f.properties)[0]; },
    });
    zones.layer.addTo(map);

    var panel = B.box(map, "topright", "beatlight-panel beatlight-side");
    panel.appendChild(B.el("h1", null, cfg.title));
    B.skipTo(panel, "beatlight-wards", "Skip to the table of every ward");
    B.switcher(panel, "Window", cfg.windows, state.window, function (value) {
      state.window = value;
      refresh();
    }, WINDOW_WORDS);
    var asOf = panel.appendChild(B.el("p", "beatlight-as-of", "Loading…"));
    var revisedNote = panel.appendChild(B.el("p", "beatlight-revised-note"));
    var message = panel.appendChild(B.el("p", "beatlight-message"));
    B.keyboardNote(panel);

    panel.appendChild(B.el("h2", null, "Fairness across wards"));
    var fairness = panel.appendChild(B.el("table", "beatlight-fairness"));

    var missedHead = panel.appendChild(B.el("h2"));
    var weeksLabel = B.el("label", null, "Missed the weekly target ");
    var weeks = B.el("select");
    weeks.setAttribute("aria-label", "Weeks running");
    [1, 2, 3, 4, 6, 8, 12].concat([state.weeks]).filter(function (n, i, all) {
      return all.indexOf(n) === i;
    }).sort(function (a, b) { return a - b; }).forEach(function (n) {
      var option = B.el("option", null, B.plural(n, "week") + " running");
      option.value = String(n);
      option.selected = n === state.weeks;
      weeks.appendChild(option);
    });
    weeks.addEventListener("change", function () {
      state.weeks = Number(weeks.value);
      refresh();
    });
    weeksLabel.appendChild(weeks);
    missedHead.appendChild(weeksLabel);
    var missedList = panel.appendChild(B.el("ul", "beatlight-missed-list"));

    var missedKey = B.el("div", "beatlight-legend-row");
    missedKey.appendChild(B.el("span", "beatlight-missed-key"));
    var missedWords = missedKey.appendChild(B.el("span"));
    var revisedKey = B.el("div", "beatlight-legend-row");
    revisedKey.appendChild(B.el("span", "beatlight-revised-key"));
    revisedKey.appendChild(B.el("span", null, "Figures revised after first publication"));
    revisedKey.hidden = true;
    var zoneKeys = cfg.zone_share.map(function (z) {
      var row = B.zoneKey(z[2], z[3], false);
      row.hidden = true;  // until the API names a zone
      return row;
    });
    B.legend(map, cfg, [missedKey, revisedKey].concat(zoneKeys));

    var table = B.wardTable(cfg, B.staffColumns(labels).concat([
      { key: "coverage", label: "Coverage", numeric: true, value: function (p) { return p.coverage; },
        text: function (p) { return B.percent(p.coverage); } },
      { key: "missed", label: "Missed its weekly target", numeric: true,
        value: function (p) { return state.missed[p.code] ? state.missed[p.code].weeks.length : 0; },
        text: function (p) {
          var m = state.missed[p.code];
          return m ? B.plural(m.weeks.length, "week") + " running" : "No";
        } },
      { key: "revised", label: "Revised", value: revised, text: revised },
    ]), { show: function (code) { wards.show(code, true); } });
    var zoneTable = B.wardTable(cfg, [
      { key: "name", label: "Zone", value: function (p) { return p.name; } },
      { key: "band", label: "Sessions met, last 28 days", numeric: true,
        value: function (p) { return p.share_met === null || p.share_met === undefined ? -1 : p.share_met; },
        text: function (p) { return band(p)[3].replace(/^Zone: /, ""); } },
      { key: "met", label: "Sessions", numeric: true,
        value: function (p) { return p.sessions_ended || 0; },
        text: function (p) { return p.sessions_ended ? p.sessions_met + " of " + p.sessions_ended + " met" : "none ended"; } },
    ], { show: function (code) { zones.show(code); }, id: "beatlight-zones",
         heading: "Every zone, in words", noun: "zone" });

    function status(p) { return B.attained(labels, p); }

    function missed(p) {
      var m = state.missed[p.code];
      return m ? "Missed its weekly target " + B.plural(m.weeks.length, "week") + " running" : "";
    }

    function revised(p) {
      return p.revision ? "Revised " + B.time(p.revised_at, cfg.timezone) : "";
    }

    /* The share-of-sessions-met band of a zone: [band, least share, colour, words]. */
    function band(p) {
      var none = cfg.zone_share[cfg.zone_share.length - 1];
      if (p.share_met === null || p.share_met === undefined) return none;
      return cfg.zone_share.find(function (z) {
        return z[1] !== null && p.share_met >= z[1];
      }) || none;
    }

    function zoneTip(p) {
      var met = p.sessions_ended ? p.sessions_met + " of " + p.sessions_ended +
        " sessions met over the last 28 days (" + B.percent(p.share_met) + ")" :
        "No session ended in the last 28 days";
      return '<div class="beatlight-tip"><strong>' + B.escape(p.name) + "</strong>" +
        '<div class="beatlight-tip-status">' + B.escape(met) + "</div>" +
        (p.schedule ? "<p>Sessions: " + B.escape(p.schedule) + "</p>" : "") + "</div>";
    }

    function tooltip(p) {
      var missed = state.missed[p.code];
      return '<div class="beatlight-tip"><strong>' + B.escape(p.name) + "</strong>" +
        '<div class="beatlight-tip-status">' + B.escape(labels[p.status] || "No figures") +
        " over " + WINDOW_WORDS[p.window] + "</div><table>" +
        "<tr><th>Attainment</th><td>" + B.percent(p.attainment) + "</td></tr>" +
        "<tr><th>Patrol</th><td>" + B.duration(p.patrol_minutes) + " of " +
        B.duration(p.target_minutes) + "</td></tr>" +
        "<tr><th>On foot</th><td>" + B.duration(p.foot_minutes) + "</td></tr>" +
        "<tr><th>Distinct units</th><td>" + p.distinct_units + "</td></tr>" +
        "<tr><th>Coverage</th><td>" + B.percent(p.coverage) + " of the ward</td></tr>" +
        "</table>" + (missed ? '<div class="beatlight-tip-missed">Missed its weekly target ' +
        B.plural(missed.weeks.length, "week") + " running</div>" : "") +
        (p.revision ? '<div class="beatlight-tip-revised">Revised ' +
        B.escape(B.time(p.revised_at, cfg.timezone)) + ": pings uploaded late were counted " +
        "after these figures were first published</div>" : "") + "</div>";
    }

    /* Says which figures changed after the hour was first published, and when. */
    function showRevision(collection) {
      var revised = collection.features.filter(function (f) { return f.properties.revision; });
      revisedKey.hidden = !revised.length;
      if (!collection.revision) {
        revisedNote.textContent = "";
        return;
      }
      revisedNote.textContent = "Revised " + B.time(collection.revised_at, cfg.timezone) +
        " (revision " + collection.revision + "): pings uploaded late were counted after " +
        "these figures were first published" + (revised.length ? "; " +
        B.plural(revised.length, "ward") + " outlined in purple changed." : ".");
    }

    function showFairness(figures) {
      fairness.textContent = "";
      var rows = [
        ["Unevenness of patrol per km² (Gini)", gini(figures.gini_minutes_per_km2)],
        ["Unevenness per 1,000 residents (Gini)", gini(figures.gini_minutes_per_1000_residents)],
        ["Wards below target (red)", B.percent(figures.share_wards_red)],
        ["Residents in red wards", B.percent(figures.share_residents_red)],
        ["Wards nobody visited", B.percent(figures.share_wards_none)],
        ["Residents in unvisited wards", B.percent(figures.share_residents_none)],
      ];
      rows.forEach(function (r) {
        var tr = B.el("tr");
        tr.appendChild(B.el("th", null, r[0]));
        tr.appendChild(B.el("td", null, r[1]));
        fairness.appendChild(tr);
      });
      var note = B.el("caption", null, "Gini: 0 = patrol spread evenly, 1 = all in one ward.");
      fairness.appendChild(note);
    }

    function gini(value) {
      return value === null || value === undefined ? "n/a" : value.toFixed(2);
    }

    function showMissed(list) {
      missedList.textContent = "";
      if (!list.length) missedList.appendChild(B.el("li", "beatlight-none", "No ward"));
      list.forEach(function (ward) {
        missedList.appendChild(B.el("li", null, ward.name + " (" + ward.weeks.map(function (w) {
          return B.percent(w.attainment);
        }).join(", ") + ")"));
      });
    }

    function load() {
      var generation = ++state.generation;
      var api = cfg.api;
      var at = hour ? "&as_of=" + encodeURIComponent(hour) : "";
      return Promise.all([
        B.getJSON(api + "/geojson?level=ward&window=" + state.window + at),
        B.getJSON(api + "/alerts?level=ward&weeks=" + state.weeks),
        B.getJSON(api + "/fairness?window=" + state.window + at),
        B.getJSON(api + "/zones?format=geojson" + at).catch(function () {
          return { features: [] };  // no zone stored: the wards still show
        }),
      ]).then(function (answers) {
        if (generation !== state.generation) return;
        state.missed = {};
        answers[1].missed_weekly_target.forEach(function (w) { state.missed[w.code] = w; });
        wards.update(answers[0]);
        wards.restyle();
        var n = zones.update(answers[3]);
        zoneKeys.forEach(function (row) { row.hidden = !n; });
        table.update(answers[0], "Each ward over " + WINDOW_WORDS[state.window] +
                     ", as on the map above");
        zoneTable.update(answers[3], "Each zone's sessions over the last 28 days, as on the map above");
        asOf.textContent = "Figures as of " + B.time(answers[0].as_of, cfg.timezone) +
          (answers[0].live ? "" : " (stored hour)");
        showRevision(answers[0]);
        showFairness(answers[2].windows[state.window] || {});
        showMissed(answers[1].missed_weekly_target);
        missedWords.textContent = "Missed its weekly target " + B.plural(state.weeks, "week") +
          " running";
        B.say(message, "");
      }).catch(function (error) {
        B.say(message, error.message, error);
        throw error;
      });
    }

    if (cfg.wards) {
      wards.update(cfg.wards);
      table.update(cfg.wards, "Each ward, as on the map above");
      showRevision(cfg.wards);
    }
    var refresh = cfg.api ? B.every(cfg.refresh_seconds * 6, load) : function () {};
  };
})();
