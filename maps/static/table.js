/* Every map's text alternative (WCAG 1.1.1, 1.4.1): its wards, and its zones when it has
   any, as sortable tables after the map, each status in words. A map gives the columns;
   the table redraws when new figures come (the live map's every refresh) only when a
   cell's words changed, and keeps the keyboard's place in it. Each row has a button that
   shows the area on the map, the focus on it there. */
(function () {
  "use strict";
  var B = window.Beatlight;
  var RANK = { none: 0, red: 1, amber: 2, green: 3 };

  B.statusRank = function (status) { return RANK[status] === undefined ? -1 : RANK[status]; };

  /* The columns the staff maps' tables share: ward, status in words (labels: {status:
     words}), patrol against the target, on foot, distinct units. */
  B.staffColumns = function (labels) {
    return [
      { key: "name", label: "Ward", value: function (p) { return p.name; } },
      { key: "status", label: "Status", value: function (p) { return B.statusRank(p.status); },
        text: function (p) { return B.attained(labels, p); } },
      { key: "patrol", label: "Patrol", numeric: true,
        value: function (p) { return p.patrol_minutes; },
        text: function (p) { return B.duration(p.patrol_minutes) + " of " + B.duration(p.target_minutes); } },
      { key: "foot", label: "On foot", numeric: true, value: function (p) { return p.foot_minutes; },
        text: function (p) { return B.duration(p.foot_minutes); } },
      { key: "units", label: "Distinct units", numeric: true,
        value: function (p) { return p.distinct_units; },
        text: function (p) { return String(p.distinct_units); } },
    ];
  };

  /* "Skip to …": a link in a map's panel to a section after the map. */
  B.skipTo = function (parent, id, words) {
    var skip = parent.appendChild(B.el("a", "beatlight-skip", words));
    skip.href = "#" + id;
    return skip;
  };

  /* A section after the map: one row per area; sorting by any column.
     columns: [{key, label, value(props) for sorting, text(props), numeric}], the first
     the area's name. opts: show(code) brings an area into view on the map; link(code),
     when given, makes each name a link (the public map's ward pages); id, heading, intro
     and noun ("ward", "zone") word the section. Returns {update(collection, caption), section}. */
  B.wardTable = function (cfg, columns, opts) {
    var id = opts.id || "beatlight-wards";
    var noun = opts.noun || "ward";
    var section = document.body.appendChild(B.el("section", "beatlight-table-section"));
    section.id = id;
    section.hidden = noun !== "ward";  // zones: once there are some
    section.setAttribute("aria-labelledby", id + "-heading");
    var heading = section.appendChild(B.el("h2", null, opts.heading || "Every ward, in words"));
    heading.id = id + "-heading";
    section.appendChild(B.el("p", null, opts.intro || "The map's figures as a table, for " +
      "reading without the map. Sort by any column."));
    var table = section.appendChild(B.el("table", "beatlight-wards"));
    var caption = table.appendChild(B.el("caption"));
    var head = table.appendChild(B.el("thead")).appendChild(B.el("tr"));
    var body = table.appendChild(B.el("tbody"));
    var sort = { key: columns[0].key, ascending: true };
    var rows = [];
    var drawn = null;  // the words of the rows drawn, to redraw only when they change
    var headers = columns.map(function (column) {
      var th = head.appendChild(B.el("th"));
      th.scope = "col";
      var button = th.appendChild(B.el("button", "beatlight-sort", column.label));
      button.type = "button";
      button.addEventListener("click", function () {
        sort = { key: column.key, ascending: sort.key === column.key ? !sort.ascending : true };
        drawn = null;
        draw();
      });
      return { th: th, column: column, button: button };
    });
    head.appendChild(B.el("th", null, "On the map")).scope = "col";

    function words(p) {
      return columns.map(function (c, i) { return i === 0 ? p.name : c.text(p); });
    }

    function draw() {
      var column = columns.filter(function (c) { return c.key === sort.key; })[0];
      var sorted = rows.slice().sort(function (a, b) {
        var x = column.value(a), y = column.value(b);
        var order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
        return (sort.ascending ? order : -order) || a.name.localeCompare(b.name);
      });
      var now = JSON.stringify(sorted.map(function (p) { return [p.code, words(p)]; }));
      if (now === drawn) return;
      drawn = now;
      headers.forEach(function (h) {
        var on = h.column.key === sort.key;
        if (on) h.th.setAttribute("aria-sort", sort.ascending ? "ascending" : "descending");
        else h.th.removeAttribute("aria-sort");
        h.button.setAttribute("aria-label", h.column.label + (on ? ", sorted " +
          (sort.ascending ? "ascending" : "descending") + "; press to reverse" : ", press to sort"));
      });
      // The keyboard's place in the table, kept across a redraw.
      var focused = body.contains(document.activeElement) ? document.activeElement : null;
      var place = focused && { code: focused.closest("tr").dataset.code, tag: focused.tagName };
      body.textContent = "";
      sorted.forEach(function (p) {
        var tr = body.appendChild(B.el("tr"));
        tr.dataset.code = p.code;
        columns.forEach(function (c, i) {
          var cell = tr.appendChild(B.el(i === 0 ? "th" : "td", c.numeric ? "n" : null));
          if (i > 0) {
            cell.textContent = c.text(p);
            return;
          }
          cell.scope = "row";
          if (opts.link) cell.appendChild(B.el("a", null, p.name)).href = opts.link(p.code);
          else cell.textContent = p.name;
        });
        var show = tr.appendChild(B.el("td")).appendChild(B.el("button", "beatlight-link", "Show"));
        show.type = "button";
        show.setAttribute("aria-label", "Show " + p.name + " on the map");
        show.addEventListener("click", function () { opts.show(p.code); });
        if (place && place.code === p.code) {
          var again = tr.querySelector(place.tag === "A" ? "a" : "button");
          if (again) again.focus({ preventScroll: true });
        }
      });
    }

    return {
      section: section,
      /* collection: the areas as the map's GeoJSON; caption: what the table shows. */
      update: function (collection, words) {
        rows = collection.features.map(function (f) { return f.properties; });
        section.hidden = !rows.length && noun !== "ward";
        caption.textContent = words;
        draw();
      },
    };
  };
})();
