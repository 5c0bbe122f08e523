/* Residents find their ward on the public map. B.finder: a search box matching ward and
   neighbourhood names as they type (from /public/wards: names only), Enter opens the
   ward's page; a postcode is looked up by POST /public/postcode only when the force set
   a postcode file; "Use my location" asks the browser and matches the point to a ward
   here, in the page, against the outlines the map already has: no coordinate is sent
   anywhere. */
(function () {
  "use strict";
  var B = window.Beatlight;
  var POSTCODE = /^[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}$/i;

  /* "Newcastle-under-Lyme" and "newcastle under lyme" alike: lower case, no accents,
     anything but letters and digits as one space. */
  function fold(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
  }
  B.fold = fold;

  /* Places matching `query`, best first: ward names starting with it, then with a word
     starting with it, then containing it, then wards of neighbourhoods that match. */
  B.matchPlaces = function (places, query, limit) {
    var q = fold(query);
    if (!q) return [];
    var scored = [];
    places.forEach(function (p) {
      var name = fold(p.name), hood = fold(p.neighbourhood_name);
      var rank = name.indexOf(q) === 0 ? 0 : (" " + name).indexOf(" " + q) >= 0 ? 1 :
        name.indexOf(q) >= 0 ? 2 : hood.indexOf(q) === 0 ? 3 : hood.indexOf(q) >= 0 ? 4 : -1;
      if (rank >= 0) scored.push({ rank: rank, place: p });
    });
    scored.sort(function (a, b) {
      return a.rank - b.rank || a.place.name.localeCompare(b.place.name);
    });
    return scored.slice(0, limit || 8).map(function (s) { return s.place; });
  };

  /* Point in a GeoJSON Polygon or MultiPolygon ([lon, lat]), holes respected. */
  function inRing(ring, x, y) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function inPolygon(rings, x, y) {
    if (!inRing(rings[0], x, y)) return false;
    for (var k = 1; k < rings.length; k++) if (inRing(rings[k], x, y)) return false;
    return true;
  }
  B.wardAt = function (features, lon, lat) {
    for (var i = 0; i < features.length; i++) {
      var g = features[i].geometry;
      if (!g) continue;
      var polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      for (var p = 0; p < polygons.length; p++) {
        if (inPolygon(polygons[p], lon, lat)) return features[i];
      }
    }
    return null;
  };

  B.wardPage = function (cfg, code) {
    return String(cfg.api).replace(/\/api\/v1\/?$/, "") + "/public/wards/" + encodeURIComponent(code);
  };

  /* The search box, in `parent`. opts.features(): the map's ward features now;
     opts.show(code): shows a ward on the map. */
  B.finder = function (parent, cfg, opts) {
    var state = { places: [], postcodes: false, matches: [], active: -1 };
    var box = parent.appendChild(B.el("div", "beatlight-find"));
    box.setAttribute("role", "search");
    box.setAttribute("aria-label", "Find your ward");
    var label = box.appendChild(B.el("label", null, "Find your ward"));
    label.htmlFor = "beatlight-find-input";
    var hint = box.appendChild(B.el("p", "beatlight-hint", "Type part of its name, or its neighbourhood's"));
    hint.id = "beatlight-find-hint";
    var input = box.appendChild(B.el("input"));
    input.id = "beatlight-find-input";
    input.type = "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", "beatlight-find-list");
    input.setAttribute("aria-describedby", "beatlight-find-hint");
    var list = box.appendChild(B.el("ul", "beatlight-find-list"));
    list.id = "beatlight-find-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Matching wards");
    list.hidden = true;
    var locate = box.appendChild(B.el("button", "beatlight-locate", "Use my location"));
    locate.type = "button";
    locate.setAttribute("aria-describedby", "beatlight-locate-note");
    var note = box.appendChild(B.el("p", "beatlight-hint",
      "Your location stays in your browser: it is matched to a ward here and never sent."));
    note.id = "beatlight-locate-note";
    var status = box.appendChild(B.el("p", "beatlight-find-status"));
    status.setAttribute("role", "status");

    B.getJSON(cfg.api + "/public/wards").then(function (body) {
      state.places = body.wards;
      state.postcodes = body.postcodes;
      if (state.postcodes) hint.textContent = "Type part of its name, its neighbourhood's, or your postcode";
    }).catch(function (error) { say(error.message); });

    function say(text, link) {
      status.textContent = text || "";
      if (link) {
        status.appendChild(document.createTextNode(" "));
        var a = status.appendChild(B.el("a", null, link.text));
        a.href = link.href;
      }
    }

    function render() {
      list.textContent = "";
      state.matches.forEach(function (p, i) {
        var li = list.appendChild(B.el("li", null, p.name));
        if (p.neighbourhood_name !== p.name) {
          li.appendChild(B.el("span", "beatlight-find-hood", " (" + p.neighbourhood_name + ")"));
        }
        li.id = "beatlight-find-option-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(i === state.active));
        li.addEventListener("mousedown", function (event) { event.preventDefault(); go(p); });
      });
      var open = state.matches.length > 0;
      list.hidden = !open;
      input.setAttribute("aria-expanded", String(open));
      if (state.active >= 0) input.setAttribute("aria-activedescendant", "beatlight-find-option-" + state.active);
      else input.removeAttribute("aria-activedescendant");
    }

    function update() {
      state.matches = B.matchPlaces(state.places, input.value);
      state.active = -1;
      render();
      var q = input.value.trim();
      if (!q) say("");
      else if (state.matches.length === 1) say("1 ward matches. Press Enter to open its page.");
      else if (state.matches.length) say(state.matches.length + " wards match. Press Enter to open the first, or the arrow keys to choose.");
      else if (POSTCODE.test(q) && state.postcodes) say("Press Enter to look up this postcode.");
      else say("No ward or neighbourhood matches \u201c" + q + "\u201d.");
    }

    function go(place) {
      say("Opening " + place.name + "\u2026");
      window.location.assign(B.wardPage(cfg, place.code));
    }

    function lookUp(postcode) {
      say("Looking up the postcode\u2026");
      fetch(cfg.api + "/public/postcode", {
        method: "POST", cache: "no-store", credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ postcode: postcode }),
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || "the postcode could not be looked up");
          go(body.ward);
        });
      }).catch(function (error) { say(error.message); });
    }

    input.addEventListener("input", update);
    input.addEventListener("keydown", function (event) {
      var n = state.matches.length;
      if (event.key === "ArrowDown" && n) {
        state.active = (state.active + 1) % n;
        render();
        event.preventDefault();
      } else if (event.key === "ArrowUp" && n) {
        state.active = state.active <= 0 ? n - 1 : state.active - 1;
        render();
        event.preventDefault();
      } else if (event.key === "Escape") {
        state.matches = [];
        state.active = -1;
        render();
      } else if (event.key === "Enter") {
        event.preventDefault();
        var q = input.value.trim();
        if (n) go(state.matches[Math.max(state.active, 0)]);
        else if (POSTCODE.test(q) && state.postcodes) lookUp(q);
        else if (q) say("No ward or neighbourhood matches \u201c" + q + "\u201d.");
      }
    });
    input.addEventListener("blur", function () {
      state.matches = [];
      render();
    });

    locate.addEventListener("click", function () {
      if (!navigator.geolocation) {
        say("This browser cannot tell where you are: search by name instead.");
        return;
      }
      say("Finding where you are\u2026");
      navigator.geolocation.getCurrentPosition(function (position) {
        var found = B.wardAt(opts.features(), position.coords.longitude, position.coords.latitude);
        if (!found) {
          say("Where you are is outside the wards of this map: search by name instead.");
          return;
        }
        var p = found.properties;
        opts.show(p.code);
        say("You are in " + p.name + ".", { text: "Read " + p.name + "\u2019s figures", href: B.wardPage(cfg, p.code) });
      }, function (error) {
        say(error.code === 1 ? "The browser was not allowed to tell where you are: search by name instead."
          : "Your location could not be found: search by name instead.");
      }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 });
    });
    return input;
  };
})();
