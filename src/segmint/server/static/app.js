/* segmint dashboard: charts from the JSON embedded in each page, the live rule preview, job polling.
   Plain JavaScript, no framework: the pages are rendered on the server; this only draws and polls. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var layout = { margin: { t: 10, r: 10, b: 40, l: 50 }, font: { family: "system-ui, sans-serif", size: 12 },
                 paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };
  var config = { displaylogo: false, responsive: true };

  function source(el) { return JSON.parse(document.getElementById(el.dataset.source).textContent); }

  function sizes(el, rows) {
    var by = {};
    /* segment_name: the persona name the profile and the report use (the id when a person named the segment) */
    rows.forEach(function (r) { var k = r.segment_name || r.segment; (by[k] = by[k] || { x: [], y: [] }); by[k].x.push(r.as_of); by[k].y.push(r.customers); });
    var single = rows.every(function (r) { return r.as_of === rows[0].as_of; });
    var traces = Object.keys(by).map(function (s) {
      return single ? { type: "bar", name: s, x: [s], y: by[s].y } : { type: "scatter", mode: "lines+markers", name: s, x: by[s].x, y: by[s].y };
    });
    Plotly.newPlot(el, traces, Object.assign({}, layout, { yaxis: { title: "customers" }, showlegend: true }), config);
  }

  function profile(el, rows) {
    rows = rows.slice().reverse();
    var height = Math.max(260, 24 * rows.length + 60);
    el.style.height = height + "px";  /* the card grows with the number of features */
    Plotly.newPlot(el, [{ type: "bar", orientation: "h", x: rows.map(function (r) { return r.index; }),
      y: rows.map(function (r) { return r.feature; }), base: 0,
      marker: { color: rows.map(function (r) { return r.index >= 100 ? "#0f766e" : "#b45309"; }) },
      hovertemplate: "%{y}: index %{x:.0f}<extra></extra>" }],
      Object.assign({}, layout, { margin: { t: 10, r: 10, b: 40, l: 180 }, height: height,
        shapes: [{ type: "line", x0: 100, x1: 100, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#6b7280" } }] }), config);
  }

  function sankey(el, links) {
    var left = [], right = [];
    links.forEach(function (l) { if (left.indexOf(l.from) < 0) left.push(l.from); if (right.indexOf(l.to) < 0) right.push(l.to); });
    var shown = {};
    links.forEach(function (l) { shown[l.from] = l.from_name || l.from; shown[l.to] = l.to_name || l.to; });
    var labels = left.map(function (s) { return shown[s] + " (before)"; }).concat(right.map(function (s) { return shown[s] + " (after)"; }));
    Plotly.newPlot(el, [{ type: "sankey", node: { label: labels, pad: 16 }, link: {
      source: links.map(function (l) { return left.indexOf(l.from); }),
      target: links.map(function (l) { return left.length + right.indexOf(l.to); }),
      value: links.map(function (l) { return l.customers; }),
      color: links.map(function (l) { return l.from === l.to ? "rgba(107,114,128,0.25)" : "rgba(15,118,110,0.45)"; }) } }], layout, config);
  }

  /* Session paths (issue 23): nodes "1. web_visit", "2. order"...; links between consecutive positions. */
  function paths(el, sk) {
    Plotly.newPlot(el, [{ type: "sankey", arrangement: "freeform", node: { label: sk.nodes, pad: 14 }, link: {
      source: sk.links.map(function (l) { return l.source; }), target: sk.links.map(function (l) { return l.target; }),
      value: sk.links.map(function (l) { return l.value; }), color: "rgba(15,118,110,0.35)",
      hovertemplate: "%{source.label} → %{target.label}: %{value:,} sessions<extra></extra>" } }], layout, config);
  }

  function lift(el, rows) {
    // the lift of each segment with its 95% interval (and CUPED's, when there is one); zero marked
    var y = rows.map(function (r) { return r.label; });
    var trace = function (lo, hi, name, color, shift) {
      return { type: "scatter", mode: "markers", name: name, y: y, x: rows.map(function (r) { return r.lift; }),
        marker: { color: color, size: 9 }, offsetgroup: shift,
        error_x: { type: "data", symmetric: false, color: color,
          array: rows.map(function (r) { return r[hi] == null ? 0 : r[hi] - r.lift; }),
          arrayminus: rows.map(function (r) { return r[lo] == null ? 0 : r.lift - r[lo]; }) } };
    };
    var traces = [trace("low", "high", "lift, 95% interval", "#0f766e", "a")];
    if (rows.some(function (r) { return r.cuped_low != null; })) traces.push(trace("cuped_low", "cuped_high", "CUPED interval", "#b45309", "b"));
    Plotly.newPlot(el, traces, Object.assign({}, layout, { yaxis: { autorange: "reversed", automargin: true },
      shapes: [{ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#6b7280" } }] }), config);
  }

  /* One line per segment over as_of: rows with as_of, segment(_name) and the column named by data-y. */
  function lines(el, rows) {
    var y = el.dataset.y, by = {};
    rows.forEach(function (r) {
      if (r[y] === null || r[y] === undefined) return;
      var k = r.segment_name || r.segment; (by[k] = by[k] || { x: [], y: [] }); by[k].x.push(r.as_of); by[k].y.push(r[y]);
    });
    var traces = Object.keys(by).map(function (s) { return { type: "scatter", mode: "lines+markers", name: s, x: by[s].x, y: by[s].y }; });
    Plotly.newPlot(el, traces, Object.assign({}, layout, { yaxis: { title: el.dataset.ytitle || y }, showlegend: true }), config);
  }

  /* Churn (share of members who left) per segment between consecutive runs, with its 95% interval. */
  function churn(el, transitions) {
    var rows = [];
    transitions.forEach(function (t) { t.segments.forEach(function (s) {
      if (s.churn !== null) rows.push({ as_of: t.to_as_of, segment: s.segment, churn: s.churn, lo: s.churn_low, hi: s.churn_high }); }); });
    var by = {};
    rows.forEach(function (r) { (by[r.segment] = by[r.segment] || { x: [], y: [], plus: [], minus: [] });
      by[r.segment].x.push(r.as_of); by[r.segment].y.push(r.churn); by[r.segment].plus.push(r.hi - r.churn); by[r.segment].minus.push(r.churn - r.lo); });
    var traces = Object.keys(by).map(function (s) { return { type: "scatter", mode: "lines+markers", name: s, x: by[s].x, y: by[s].y,
      error_y: { type: "data", array: by[s].plus, arrayminus: by[s].minus, visible: true } }; });
    Plotly.newPlot(el, traces, Object.assign({}, layout, { yaxis: { title: "churn", tickformat: ".0%" }, showlegend: true }), config);
  }

  document.querySelectorAll("[data-plot]").forEach(function (el) {
    var kind = el.dataset.plot, data = source(el);
    if (kind === "lines") lines(el, data);
    else if (kind === "churn") churn(el, data);
    else if (kind === "sizes") sizes(el, data);
    else if (kind === "profile") profile(el, data);
    else if (kind === "sankey") sankey(el, data);
    else if (kind === "paths") paths(el, data);
    else if (kind === "lift") lift(el, data);
  });

  /* Rule builder: preview size and attrition as you type (debounced; stale answers dropped). */
  var rule = document.getElementById("rule");
  if (rule) {
    var timer = null, seq = 0;
    var show = function (text) { var e = document.getElementById("rule-error"); e.textContent = text; e.hidden = !text; };
    var preview = function () {
      var mine = ++seq, where = rule.value.trim();
      if (!where) { document.getElementById("size").textContent = "–"; show(""); return; }
      fetch("/api/v1/rules/preview", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ where: where }) })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (mine !== seq) return;
          if (!res.ok) { show(res.body.error ? res.body.error.message : "error"); return; }
          show("");
          var p = res.body, steps = p.conditions || [];
          document.getElementById("size").textContent = (p.size == null ? "?" : p.size.toLocaleString());
          document.getElementById("share").textContent = p.base ? "(" + (100 * p.size / p.base).toFixed(1) + "% of " +
            p.base.toLocaleString() + (p.as_of ? " as of " + p.as_of : "") + ")" : "";
          var table = document.getElementById("attrition"), body = table.querySelector("tbody");
          body.innerHTML = "";
          steps.forEach(function (s) {
            var tr = document.createElement("tr");
            [s.condition, s.kept_alone, s.kept_cumulative, s.dropped].forEach(function (v, i) {
              var td = document.createElement("td"); td.textContent = (typeof v === "number") ? v.toLocaleString() : v;
              if (i) td.className = "num"; tr.appendChild(td);
            });
            body.appendChild(tr);
          });
          table.hidden = !steps.length;
          Plotly.react("attrition-plot", [{ type: "bar", x: steps.map(function (s) { return s.condition; }),
            y: steps.map(function (s) { return s.kept_cumulative; }), marker: { color: "#0f766e" } }],
            Object.assign({}, layout, { yaxis: { title: "kept" } }), config);
        })
        .catch(function () { if (mine === seq) show("The server did not answer."); });
    };
    rule.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(preview, 250); });
    if (rule.value.trim()) preview();
  }

  /* A queued segmentation run: poll its job until it ends. */
  var jobEl = document.querySelector("[data-job]");
  if (jobEl) {
    var poll = function () {
      fetch("/api/v1/jobs/" + encodeURIComponent(jobEl.dataset.job), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (j.error && !j.status) { jobEl.textContent = j.error.message; return; }
          jobEl.textContent = "Run " + j.status + (j.error ? ": " + j.error : "");
          if (j.status === "queued" || j.status === "running") setTimeout(poll, 1000);
          else if (j.status === "succeeded") setTimeout(function () { location.href = location.pathname; }, 800);
        });
    };
    poll();
  }
})();
