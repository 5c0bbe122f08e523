/* Residents' map: the published figures only (SPEC "Privacy and publication rules"):
   complete days or weeks, at least a day old, per ward, in whole hours, small unit
   counts withheld. It asks for nothing but /public/…; nothing on it is live. */
(function () {
  "use strict";
  var B = window.Beatlight;
  var PERIOD_WORDS = { week: "Week", day: "Day" };

  B.maps.public = function (map, cfg) {
    // Fewer patrols than the API's threshold are not counted in public (SPEC publication
    // rules); the threshold comes with the published periods.
    var state = { period: null, date: null, periods: null, generation: 0, shown: null,
                  minUnits: null };
    var labels = {};
    cfg.statuses.forEach(function (pair) { labels[pair[0]] = pair[1]; });

    var wards = new B.WardLayer(map, function (feature) {
      return B.fill(cfg, feature.properties.status);
    }, function (feature) { return tooltip(feature.properties); }, undefined, function (feature) {
      return feature.properties.name + ": " + (labels[feature.properties.status] || "no figures");
    });

    var zones = new B.ZoneLayer(map, {
      style: function (f) { return B.zoneStyle(cfg.palette[f.properties.status] || "#7F7F7F"); },
      tooltip: function (f) { return zoneTip(f.properties); },
      state: function (f) { return f.properties.status || ""; },
    });
    zones.layer.addTo(map);

    var box = B.box(map, "topleft", "beatlight-panel");
    box.appendChild(B.el("h1", null, cfg.title));
    B.skipTo(box, "beatlight-wards", "Skip to the table of every ward");
    if (cfg.api) B.finder(box, cfg, { features: features, show: showWard });
    var choose = box.appendChild(B.el("div", "beatlight-choose"));
    var dates = B.el("select");
    dates.setAttribute("aria-label", "Which period");
    dates.addEventListener("change", function () { state.date = dates.value; show(); });
    var dataDate = box.appendChild(B.el("p", "beatlight-as-of", "Loading…"));
    box.appendChild(B.el("p", "beatlight-note",
      "Published figures: complete days and weeks, shown at least a day after they end, " +
      "per ward, rounded to whole hours. Nothing on this map is live."));
    B.keyboardNote(box);
    var message = box.appendChild(B.el("p", "beatlight-message"));
    var zoneKey = B.zoneKey("#1a1a1a", "Published place (a town centre or other public " +
                            "zone), outlined in the colour of its figures");
    zoneKey.hidden = true;  // only when the force publishes a zone
    B.legend(map, cfg, [zoneKey]);

    function zoneTip(p) {
      var period = when(state.shown);
      var lines = [
        (p.status === "none" ? "No visible patrol recorded " + period :
          hours(p.patrol_hours, "visible patrol") + " " + period) + ".",
        p.target_hours === null ? "" : "The commitment is about " +
          B.plural(p.target_hours, "hour") + (state.shown.period === "day" ? " a day." : " a week."),
        p.status ? labels[p.status] + "." : "",
        p.units_suppressed ? "Seen by " + fewer() + " (the exact number is not published)." :
          "Seen by " + B.plural(p.distinct_units, "different patrol") + ".",
      ].filter(Boolean);
      return '<div class="beatlight-tip"><strong>' + B.escape(p.name) + "</strong>" +
        lines.map(function (l) { return "<p>" + B.escape(l) + "</p>"; }).join("") + "</div>";
    }

    /* The public zones of the period shown; none (and no legend row) when none is public. */
    function showZones(query) {
      return B.getJSON(cfg.api + "/public/zones/geojson?" + query)
        .catch(function () { return { features: [] }; })
        .then(function (collection) {
          zoneKey.hidden = !zones.update(collection);
          zoneTable.update(collection, "Visible patrol in each published place " +
                           when(state.shown) + ", as on the map above");
        });
    }

    /* The table's columns; a zone's table has no longest gap (zones publish none). */
    function columns(noun, zone) {
      return [
        { key: "name", label: noun, value: function (p) { return p.name; } },
        { key: "patrol", label: "Visible patrol", numeric: true,
          value: function (p) { return p.patrol_hours; },
          text: function (p) { return roughly(p.patrol_hours); } },
        { key: "target", label: "Commitment", numeric: true,
          value: function (p) { return p.target_hours === null ? -1 : p.target_hours; },
          text: function (p) { return p.target_hours === null ? "none" : roughly(p.target_hours); } },
        { key: "status", label: "Against the commitment",
          value: function (p) { return B.statusRank(p.status); },
          text: function (p) { return labels[p.status] || ""; } },
        zone ? null : { key: "gap", label: "Longest time with nobody seen", numeric: true,
          value: function (p) { return p.longest_gap_hours; },
          text: function (p) { return roughly(p.longest_gap_hours); } },
        { key: "units", label: "Different patrols seen", numeric: true,
          value: function (p) { return p.units_suppressed ? 0.5 : p.distinct_units; },
          text: function (p) { return p.units_suppressed ? fewer() : String(p.distinct_units || "none"); } },
      ].filter(Boolean);
    }

    var table = B.wardTable(cfg, columns("Ward", false), {
      show: function (code) { wards.show(code, true); },
      link: function (code) { return B.wardPage(cfg, code); },
      intro: "The map's figures as a table, for reading without the map. Sort by any " +
        "column; each ward's name opens its own page.",
    });
    var zoneTable = B.wardTable(cfg, columns("Place", true), {
      show: function (code) { zones.show(code); }, id: "beatlight-zones",
      heading: "Every published place, in words", noun: "zone",
    });

    function features() { return state.shown ? state.shown.features : []; }

    /* Brings a ward into view with its figures, from the search or the location. */
    function showWard(code) { wards.show(code); }

    /* "fewer than 3 patrols": the API's threshold, in words. */
    function fewer() {
      return state.minUnits ? "fewer than " + B.plural(state.minUnits, "patrol") :
        "too few patrols to publish the number";
    }

    function roughly(n) {
      if (n === null || n === undefined) return "";
      return n === 0 ? "under half an hour" : "about " + B.plural(n, "hour");
    }

    function hours(n, what) {
      if (n === 0) return "Less than half an hour of " + what;
      return "About " + B.plural(n, "hour") + " of " + what;
    }

    function when(collection) {
      var today = new Intl.DateTimeFormat("en-CA", { timeZone: cfg.timezone }).format(new Date());
      var dayMs = 86400000;
      var ended = (Date.parse(today) - Date.parse(collection.date)) / dayMs;
      if (collection.period === "day") return ended === 1 ? "yesterday" : "on " + longDate(collection.date);
      return ended >= 7 && ended < 14 ? "last week" : "in the week of " + longDate(collection.date);
    }

    function longDate(isoDate) { return B.day(isoDate + "T12:00:00Z", "UTC"); }

    function localDay(moment) { return B.day(moment, cfg.timezone); }

    function tooltip(p) {
      var period = when(state.shown);
      var patrol = p.status === "none" ? "No visible patrol recorded " + period :
        hours(p.patrol_hours, "visible patrol") + " " + period;
      var lines = [
        patrol + (p.foot_hours ? " (about " + B.plural(p.foot_hours, "hour") + " on foot)" : "") + ".",
        "The commitment is about " + B.plural(p.target_hours, "hour") +
          (state.shown.period === "day" ? " a day." : " a week."),
        labels[p.status] + ".",
        p.units_suppressed ? "Seen by " + fewer() + " (the exact number is not published)." :
          "Seen by " + B.plural(p.distinct_units, "different patrol") + ".",
        "Patrols passed through " + B.percent(p.coverage) + " of the ward.",
        p.longest_gap_hours === undefined ? "" : "The longest time with nobody seen was " +
          roughly(p.longest_gap_hours) + ".",
      ].filter(Boolean);
      return '<div class="beatlight-tip"><strong>' + B.escape(p.name) + "</strong>" +
        lines.map(function (l) { return "<p>" + B.escape(l) + "</p>"; }).join("") + "</div>";
    }

    function fillDates() {
      dates.textContent = "";
      (state.periods[state.period + "s"] || []).forEach(function (d) {
        var option = B.el("option", null, (state.period === "week" ? "Week of " : "") + longDate(d));
        option.value = d;
        dates.appendChild(option);
      });
      state.date = dates.value || null;
    }

    function show() {
      var generation = ++state.generation;
      if (!state.date) {
        B.say(message, "Nothing is published for this yet.");
        return Promise.resolve();
      }
      var query = "period=" + state.period + "&date=" + state.date;
      return B.getJSON(cfg.api + "/public/geojson?" + query).then(function (collection) {
        if (generation !== state.generation) return;
        state.shown = collection;
        wards.update(collection);
        table.update(collection, "Visible patrol in each ward " + when(collection) +
                     ", as on the map above");
        showZones(query);
        var last = new Date(Date.parse(collection.end) - 1000);
        dataDate.textContent = "Figures for " + (collection.period === "week" ?
          "the week " + localDay(collection.start) + " to " + localDay(last) :
          localDay(collection.start)) + ".";
        B.say(message, "");
      }).catch(function (error) { B.say(message, error.message, error); });
    }

    if (cfg.wards) {
      state.shown = cfg.wards;
      wards.update(cfg.wards);
    }
    if (!cfg.api) return;
    B.getJSON(cfg.api + "/public/periods").then(function (periods) {
      state.periods = periods;
      state.minUnits = periods.min_units;
      state.period = periods.weeks.length ? "week" : "day";
      B.switcher(choose, "Period", ["week", "day"], state.period, function (value) {
        state.period = value;
        fillDates();
        show();
      }, PERIOD_WORDS);
      choose.appendChild(dates);
      fillDates();
      return show().then(function () {
        // A ward's page links here as #ward=CODE: bring that ward into view.
        var asked = /^#ward=(.+)$/.exec(window.location.hash);
        if (asked) showWard(decodeURIComponent(asked[1]));
      });
    }).catch(function (error) { B.say(message, error.message, error); });
  };
})();
