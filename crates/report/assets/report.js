// kscale report pages: draws every figure.kchart from its JSON (gzip-compressed in base64
// when large) with uPlot (synchronised cursor and zoom, hover values in the legend, markers
// for kubectl steps and key events, target and SLO lines, series selection) and the event
// table (#kscale-events and its compressed chunks: filter, type and reason, pages). When done,
// writes its status as JSON into #kscale-status and sets data-kscale="ok" (or "error") on
// <html>; tests read that.
(function () {
  "use strict";
  var errors = window.kscaleErrors || (window.kscaleErrors = []);
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var DASHES = [null, [7, 3], [2, 2], [9, 3, 2, 3]];
  var MARKER_STYLE = {
    step: { label: "kubectl steps", color: "#57606a" },
    rescale: { label: "rescales", color: "#0969da" },
    oom: { label: "OOM kills", color: "#cf222e" },
    preempt: { label: "preemptions", color: "#8250df" },
    node: { label: "node launches", color: "#1a7f37" },
    evict: { label: "evictions", color: "#bc4c00" }
  };
  var TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
    10800, 21600, 43200, 86400, 172800, 604800];
  var INT_INCRS = [];
  for (var e = 0; e < 16; e++) {
    INT_INCRS.push(Math.pow(10, e), 2 * Math.pow(10, e), 5 * Math.pow(10, e));
  }
  var status = { charts: [], markers: { total: 0, drawn: 0 }, events: null, errors: errors, built: false, done: false };
  var statusEl = document.getElementById("kscale-status");

  function report() {
    if (!statusEl) {
      statusEl = document.createElement("pre");
      statusEl.id = "kscale-status";
      statusEl.hidden = true;
      document.body.appendChild(statusEl);
    }
    // Done once the page is built and every chart has drawn (uPlot draws after a tick).
    status.done = !!status.built && !eventsPending && status.charts.every(function (c) { return c.drawn; }) &&
      (location.hash !== "#kscale-selftest" || !!(status.selftest && status.selftest.finished));
    status.markers.drawn = status.charts.reduce(function (a, c) { return a + (c.markers || 0); }, 0);
    statusEl.textContent = JSON.stringify(status);
    document.documentElement.setAttribute("data-kscale",
      errors.length ? "error" : status.done ? "ok" : "pending");
  }
  window.kscaleReport = report;
  var reportTimer = null;
  function reportSoon() {
    if (reportTimer === null) reportTimer = setTimeout(function () { reportTimer = null; report(); }, 0);
  }

  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    for (var k in attrs || {}) n.setAttribute(k, attrs[k]);
    if (text != null) n.textContent = text;
    return n;
  }
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function hms(s) {
    var neg = s < 0;
    s = Math.floor(Math.abs(s) + 1e-9);
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
    return (neg ? "-" : "") + h + ":" + pad(m) + ":" + pad(x);
  }
  function hm(s) {
    var t = hms(s);
    return Math.floor(Math.abs(s) + 1e-9) % 60 === 0 ? t.slice(0, -3) : t;
  }
  function num(v, digits) {
    if (v == null || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a >= 1e4) {
      var suf = a >= 1e12 ? ["T", 1e12] : a >= 1e9 ? ["G", 1e9] : a >= 1e6 ? ["M", 1e6] : ["k", 1e3];
      return trim((v / suf[1]).toPrecision(digits)) + suf[0];
    }
    if (a < 1e-9) return "0";
    return trim(a >= 1 ? v.toPrecision(Math.max(digits, Math.ceil(Math.log10(a + 1)))) : v.toPrecision(digits));
  }
  function trim(s) {
    return s.indexOf(".") < 0 || s.indexOf("e") >= 0 ? s : s.replace(/0+$/, "").replace(/\.$/, "");
  }

  // Markers of kubectl steps and key events (run pages only).
  var markers = { kinds: [], counts: [], list: [] };
  var mEl = document.getElementById("kscale-markers");
  if (mEl) markers = JSON.parse(mEl.textContent);
  var markerShown = {};
  // kubectl steps always; other kinds while few enough to read (else one click away).
  var MANY_MARKERS = 60;
  markers.kinds.forEach(function (k, i) { markerShown[k] = k === "step" || markers.counts[i] <= MANY_MARKERS; });
  status.markers.total = markers.list.length;

  var charts = [];
  var syncing = false;

  function resetZoom() {
    charts.forEach(function (c) {
      var xs = c.u.data[0];
      if (xs.length) c.u.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
    });
  }

  function drawChart(fig, spec, index) {
    var time = spec.xlabel == null;
    var unit = spec.unit;
    var st = { title: spec.title, series: spec.series.length, points: 0, dataPoints: 0, markers: 0 };
    status.charts.push(st);
    var data = [spec.x];
    var series = [{
      label: time ? "time" : spec.xlabel,
      value: function (u, v) { return v == null ? "–" : time ? hms(v) : num(v, 6); }
    }];
    spec.series.forEach(function (s, i) {
      data.push(s.data);
      s.data.forEach(function (v) { if (v != null) st.dataPoints++; });
      series.push({
        label: s.missing ? s.name + " (not recorded)" : s.name,
        show: s.show,
        stroke: PALETTE[i % PALETTE.length],
        // A target (an HPA metric's, a VPA's recommendation) is drawn dashed, thicker.
        dash: /(^|\/)target([_/]|$)/.test(s.name) ? [8, 4] :
          DASHES[Math.floor(i / PALETTE.length) % DASHES.length] || undefined,
        width: /(^|\/)target([_/]|$)/.test(s.name) ? 2.2 : 1.6,
        spanGaps: false,
        points: { show: spec.x.length < 60 },
        value: function (u, v) { return v == null ? "–" : num(v, 6) + " " + unit; }
      });
    });
    var guideMax = -Infinity, guideMin = Infinity;
    spec.guides.forEach(function (g) { guideMax = Math.max(guideMax, g.value); guideMin = Math.min(guideMin, g.value); });

    var plot = el("div", { "class": "kplot" });
    var note = el("div", { "class": "knote" });
    var marks = el("div", { "class": "kmarks" });
    var bar = null;
    if (spec.ranked || spec.series.length > 12) {
      bar = el("div", { "class": "kbar" });
      var filter = el("input", { type: "search", placeholder: "filter series", "aria-label": "filter series" });
      var top = el("button", { type: "button" }, "busiest " + Math.min(6, spec.objects));
      var all = el("button", { type: "button" }, "all");
      var none = el("button", { type: "button" }, "none");
      bar.append(filter, top, all, none);
      var setShown = function (pred) {
        u.batch(function () {
          spec.series.forEach(function (s, i) { u.setSeries(i + 1, { show: !!pred(s, i) }); });
        });
      };
      filter.addEventListener("input", function () {
        var q = filter.value.toLowerCase();
        setShown(function (s) { return q === "" ? s.show : s.name.toLowerCase().indexOf(q) >= 0; });
      });
      top.addEventListener("click", function () { filter.value = ""; setShown(function (s) { return s.show; }); });
      all.addEventListener("click", function () { setShown(function () { return true; }); });
      none.addEventListener("click", function () { setShown(function () { return false; }); });
    }
    var notes = [];
    if (spec.ranked) {
      notes.push("Showing the busiest " + Math.min(6, spec.objects) + " of " + spec.objects +
        " objects (largest peak and most change); click legend entries or use the filter for the others.");
    }
    if (spec.omittedObjects > 0) {
      notes.push(spec.omittedObjects + " quieter objects (" + spec.omittedSeries +
        " series) are not in this page; all are in timeseries.csv.");
    }
    if (spec.rows > spec.x.length) {
      notes.push(spec.rows + " samples, drawn as the minimum and maximum of each of " +
        spec.x.length / 2 + " buckets.");
    }
    if (st.dataPoints === 0) notes.push("No data.");
    note.textContent = notes.join(" ");
    if (bar) fig.appendChild(bar);
    fig.append(plot, marks, note);

    function drawOverlay(u) {
      var ctx = u.ctx, b = u.bbox;
      var xmin = u.scales.x.min, xmax = u.scales.x.max;
      ctx.save();
      ctx.beginPath();
      ctx.rect(b.left, b.top, b.width, b.height);
      ctx.clip();
      var drawn = 0;
      if (time) {
        markers.list.forEach(function (m) {
          var kind = markers.kinds[m[1]];
          if (!markerShown[kind] || m[0] < xmin || m[0] > xmax) return;
          var x = Math.round(u.valToPos(m[0], "x", true)) + 0.5;
          ctx.strokeStyle = MARKER_STYLE[kind] ? MARKER_STYLE[kind].color : "#57606a";
          ctx.fillStyle = ctx.strokeStyle;
          ctx.globalAlpha = 0.55;
          ctx.lineWidth = 1;
          ctx.setLineDash([4, 3]);
          ctx.beginPath();
          ctx.moveTo(x, b.top);
          ctx.lineTo(x, b.top + b.height);
          ctx.stroke();
          ctx.globalAlpha = 0.9;
          ctx.setLineDash([]);
          ctx.beginPath();
          ctx.moveTo(x - 5, b.top);
          ctx.lineTo(x + 5, b.top);
          ctx.lineTo(x, b.top + 8);
          ctx.fill();
          drawn++;
        });
      }
      ctx.globalAlpha = 1;
      spec.guides.forEach(function (g) {
        var y = Math.round(u.valToPos(g.value, "y", true)) + 0.5;
        ctx.strokeStyle = "#cf222e";
        ctx.lineWidth = 1.5;
        ctx.setLineDash([8, 4]);
        ctx.beginPath();
        ctx.moveTo(b.left, y);
        ctx.lineTo(b.left + b.width, y);
        ctx.stroke();
        ctx.fillStyle = "#cf222e";
        ctx.font = Math.round(12 * devicePixelRatio) + "px sans-serif";
        ctx.fillText(g.label, b.left + 6, y - 4);
      });
      ctx.restore();
      // What this draw showed: points of the visible series within the x range.
      var pts = 0;
      var xs = u.data[0];
      for (var i = 1; i < u.series.length; i++) {
        if (!u.series[i].show) continue;
        var ys = u.data[i];
        for (var j = 0; j < xs.length; j++) {
          if (ys[j] != null && xs[j] >= xmin && xs[j] <= xmax) pts++;
        }
      }
      st.points = pts;
      st.markers = drawn;
      st.drawn = true;
      reportSoon();
    }

    function showMarks(u) {
      var left = u.cursor.left;
      if (!time || left == null || left < 0) { marks.textContent = ""; return; }
      var near = [];
      markers.list.forEach(function (m) {
        var kind = markers.kinds[m[1]];
        if (!markerShown[kind]) return;
        if (Math.abs(u.valToPos(m[0], "x") - left) <= 5) near.push(hms(m[0]) + " " + m[2]);
      });
      marks.textContent = near.length ? near.slice(0, 4).join(" · ") +
        (near.length > 4 ? " · +" + (near.length - 4) + " more" : "") : "";
    }

    var width = Math.max(320, fig.clientWidth - 20);
    var u = new uPlot({
      width: width,
      height: 320,
      series: series,
      scales: {
        x: { time: false },
        y: {
          range: function (u, min, max) {
            if (min == null || !isFinite(min)) { min = 0; max = 1; }
            min = Math.min(min, 0, guideMin);
            max = Math.max(max, guideMax);
            if (!(max > min)) max = min + 1;
            max += (max - min) * 0.05;
            if (spec["int"]) max = Math.ceil(max);
            return [min, max];
          }
        }
      },
      axes: [
        {
          label: time ? "time (h:mm)" : spec.xlabel,
          incrs: time ? TIME_INCRS : spec.xint ? INT_INCRS : undefined,
          values: function (u, splits) {
            return splits.map(function (v) { return time ? hm(v) : num(v, 4); });
          }
        },
        {
          label: unit,
          size: 64,
          incrs: spec["int"] ? INT_INCRS : undefined,
          values: function (u, splits) {
            return splits.map(function (v) { return num(v, 4); });
          }
        }
      ],
      cursor: {
        sync: { key: time ? "kscale-time" : "kscale-x:" + spec.xlabel, setSeries: false },
        drag: { x: true, y: false, setScale: true }
      },
      legend: { live: true },
      hooks: {
        draw: [drawOverlay],
        setCursor: [showMarks],
        setScale: [function (u, key) {
          if (key !== "x" || syncing || !status.built) return;
          syncing = true;
          var mn = u.scales.x.min, mx = u.scales.x.max;
          charts.forEach(function (c) {
            if (c.u !== u && c.time === time && c.xlabel === spec.xlabel) c.u.setScale("x", { min: mn, max: mx });
          });
          syncing = false;
        }]
      }
    }, data, plot);
    charts.push({ u: u, time: time, xlabel: spec.xlabel, fig: fig });
  }

  function markerTools() {
    var tools = document.getElementById("chart-tools");
    if (!tools) return;
    var reset = el("button", { type: "button" }, "reset zoom");
    reset.addEventListener("click", resetZoom);
    tools.appendChild(reset);
    markers.kinds.forEach(function (k, i) {
      if (!markers.counts[i]) return;
      var style = MARKER_STYLE[k] || { label: k, color: "#57606a" };
      var label = el("label");
      var box = el("input", { type: "checkbox" });
      box.checked = markerShown[k];
      box.addEventListener("change", function () {
        markerShown[k] = box.checked;
        charts.forEach(function (c) { c.u.redraw(false, false); });
      });
      var sw = el("span", { "class": "kswatch" });
      sw.style.background = style.color;
      var shown = markers.list.filter(function (m) { return m[1] === i; }).length;
      label.append(box, sw, document.createTextNode(style.label + " (" +
        (shown < markers.counts[i] ? shown + " of " + markers.counts[i] : markers.counts[i]) + ")"));
      tools.appendChild(label);
    });
  }

  // The event table: #kscale-events holds the counts, each script.kscale-event-chunk a chunk
  // of the events (gzip-compressed JSON in base64; see crates/report/src/event_data.rs). The
  // chunks are unpacked one at a time (the page stays responsive meanwhile) into columns.
  var FIELDS = ["type", "reason", "kind", "namespace", "name", "message"];
  var DICTS = ["types", "reasons", "kinds", "namespaces", "names", "messages"];
  // Of a chunk's name and message columns: the number of the chunk's strings seen before minus
  // the string's.
  var RELATIVE = { name: true, message: true };
  var eventsPending = false;

  function base64Bytes(s) {
    var bin = atob(s), n = bin.length, out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function gunzipText(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }

  function eventTable() {
    var src = document.getElementById("kscale-events");
    var box = document.getElementById("event-table");
    if (!src || !box) return null;
    var head = JSON.parse(src.textContent);
    var chunks = document.querySelectorAll("script.kscale-event-chunk");
    var n = head.embedded;
    var ev = { length: 0, time: new Float64Array(n) };
    FIELDS.forEach(function (f, k) { ev[f] = new Uint32Array(n); ev[DICTS[k]] = []; });
    var interned = FIELDS.map(function () { return new Map(); });
    var est = { total: head.total, embedded: n, loaded: 0, chunks: chunks.length, ready: false,
      rendered: 0, matching: 0, firstReason: null };
    status.events = est;
    var waiting = [];
    var loading = box.appendChild(el("p", { "class": "muted" }, "Loading the events…"));
    var api = {
      // Calls `f` once the events are in (or could not be).
      ready: function (f) { if (eventsPending) waiting.push(f); else f(); }
    };
    function settle() {
      eventsPending = false;
      report();
      waiting.splice(0).forEach(function (f) { f(); });
    }
    function fail(err) {
      errors.push("event table: " + (err && err.stack || err));
      loading.textContent = "The events could not be unpacked; every event is in events.jsonl.";
      settle();
    }
    if (typeof DecompressionStream === "undefined" || typeof Response === "undefined") {
      est.error = "no DecompressionStream";
      loading.textContent = "This browser cannot unpack the event table (it needs DecompressionStream: " +
        "Chromium 80, Firefox 113, Safari 16.4 or later); every event is in events.jsonl.";
      return api;
    }

    function append(c) {
      var base = ev.length, m = c.time.length;
      if (base + m > n) throw new Error("more events than the " + n + " announced");
      var t = 0;
      for (var j = 0; j < m; j++) {
        t = j ? t + c.time[j] : c.time[0];
        ev.time[base + j] = t;
      }
      FIELDS.forEach(function (f, k) {
        var d = ev[DICTS[k]], index = interned[k], fresh = c[DICTS[k]], col = c[f], out = ev[f];
        if (col.length !== m) throw new Error("chunk column " + f + ": " + col.length + " of " + m);
        // The chunk's own dictionary, numbered in the page's (each string once).
        var ids = new Uint32Array(fresh.length);
        for (var i = 0; i < fresh.length; i++) {
          var id = index.get(fresh[i]);
          if (id === undefined) {
            id = d.length;
            d.push(fresh[i]);
            index.set(fresh[i], id);
          }
          ids[i] = id;
        }
        var seen = 0;
        for (var j = 0; j < m; j++) {
          var v = col[j], local = v;
          if (RELATIVE[f]) {
            local = seen - v;
            if (v === 0) seen++;
          }
          if (local >= ids.length) throw new Error("chunk column " + f + ": string " + local + " of " + ids.length);
          out[base + j] = ids[local];
        }
      });
      ev.length = base + m;
    }
    function load(i) {
      if (i === chunks.length) { built(); return; }
      gunzipText(base64Bytes(chunks[i].textContent)).then(function (json) {
        append(JSON.parse(json));
        // The columns hold it now.
        chunks[i].textContent = "";
        est.loaded = ev.length;
        loading.textContent = "Loading the events… " + ev.length + " of " + n;
        setTimeout(function () { load(i + 1); }, 0);
      }).catch(fail);
    }
    eventsPending = true;
    setTimeout(function () { load(0); }, 0);

    var PAGE = 100;
    var bar = el("div", { "class": "kbar" });
    var q = el("input", { type: "search", placeholder: "filter: reason, object, message", "aria-label": "filter events", size: "34" });
    var type = el("select", { "aria-label": "event type" });
    var reason = el("select", { "aria-label": "event reason" });
    var first = el("button", { type: "button" }, "« first");
    var prev = el("button", { type: "button" }, "‹ previous");
    var next = el("button", { type: "button" }, "next ›");
    var last = el("button", { type: "button" }, "last »");
    var info = el("span", { "class": "muted" });
    var tbody = el("tbody");
    var matches = null, page = 0;

    function built() {
      try {
        if (ev.length !== n) throw new Error(ev.length + " of " + n + " events unpacked");
        est.firstReason = n ? ev.reasons[ev.reason[0]] : null;
        type.appendChild(el("option", { value: "" }, "all types"));
        ev.types.forEach(function (t, i) { type.appendChild(el("option", { value: String(i) }, t)); });
        var perReason = ev.reasons.map(function () { return 0; });
        for (var i = 0; i < n; i++) perReason[ev.reason[i]]++;
        reason.appendChild(el("option", { value: "" }, "all reasons"));
        ev.reasons.map(function (r, i) { return [r, i]; })
          .sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; })
          .forEach(function (p) { reason.appendChild(el("option", { value: String(p[1]) }, p[0] + " (" + perReason[p[1]] + ")")); });
        bar.append(q, type, reason, first, prev, next, last, info);
        var table = el("table", { "class": "events" });
        var thead = el("thead");
        var hr = el("tr");
        ["Time", "Type", "Reason", "Kind", "Namespace", "Name", "Message"].forEach(function (h) { hr.appendChild(el("th", null, h)); });
        thead.appendChild(hr);
        table.append(thead, tbody);
        box.textContent = "";
        box.append(bar, table);
        var timer = null;
        q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refilter, 200); });
        type.addEventListener("change", refilter);
        reason.addEventListener("change", refilter);
        first.addEventListener("click", function () { page = 0; render(); });
        prev.addEventListener("click", function () { page--; render(); });
        next.addEventListener("click", function () { page++; render(); });
        last.addEventListener("click", function () { page = Infinity; render(); });
        est.ready = true;
        render();
      } catch (err) {
        fail(err);
        return;
      }
      settle();
    }

    // Lower-case strings of a field, made on the first text filter.
    var lowered = {};
    function lower(d) {
      return lowered[d] || (lowered[d] = ev[d].map(function (s) { return s.toLowerCase(); }));
    }
    // The text filter looks in "reason kind namespace/name message". Text without a space or
    // a "/" matches within one field: each distinct string of a field is tested once.
    function textFilter(text) {
      var lr = lower("reasons"), lk = lower("kinds"), ls = lower("namespaces"), ln = lower("names"), lm = lower("messages");
      if (text.indexOf(" ") < 0 && text.indexOf("/") < 0) {
        var flags = function (l) {
          var f = new Uint8Array(l.length);
          for (var i = 0; i < l.length; i++) f[i] = l[i].indexOf(text) >= 0 ? 1 : 0;
          return f;
        };
        var fr = flags(lr), fk = flags(lk), fs = flags(ls), fn = flags(ln), fm = flags(lm);
        return function (i) {
          return fr[ev.reason[i]] || fk[ev.kind[i]] || fs[ev.namespace[i]] || fn[ev.name[i]] || fm[ev.message[i]];
        };
      }
      return function (i) {
        return (lr[ev.reason[i]] + " " + lk[ev.kind[i]] + " " + ls[ev.namespace[i]] + "/" + ln[ev.name[i]] +
          " " + lm[ev.message[i]]).indexOf(text) >= 0;
      };
    }
    function refilter() {
      var text = q.value.trim().toLowerCase(), t = type.value, re = reason.value;
      if (!text && !t && !re) { matches = null; } else {
        matches = [];
        var tn = t === "" ? -1 : +t, rn = re === "" ? -1 : +re;
        var hit = text ? textFilter(text) : null;
        for (var i = 0; i < n; i++) {
          if (tn >= 0 && ev.type[i] !== tn) continue;
          if (rn >= 0 && ev.reason[i] !== rn) continue;
          if (hit && !hit(i)) continue;
          matches.push(i);
        }
      }
      page = 0;
      render();
    }
    function render() {
      var count = matches ? matches.length : n;
      var pages = Math.max(1, Math.ceil(count / PAGE));
      page = Math.max(0, Math.min(page, pages - 1));
      tbody.textContent = "";
      var frag = document.createDocumentFragment();
      for (var k = page * PAGE; k < Math.min(count, (page + 1) * PAGE); k++) {
        var i = matches ? matches[k] : k;
        var ty = ev.types[ev.type[i]];
        var tr = el("tr", ty === "Warning" ? { "class": "warning" } : null);
        tr.setAttribute("data-event", String(i + 1));
        tr.append(el("td", { "class": "time" }, hms(ev.time[i] / 1000)),
          el("td", { "class": "type" }, ty), el("td", null, ev.reasons[ev.reason[i]]),
          el("td", null, ev.kinds[ev.kind[i]]), el("td", null, ev.namespaces[ev.namespace[i]]),
          el("td", null, ev.names[ev.name[i]]), el("td", null, ev.messages[ev.message[i]]));
        frag.appendChild(tr);
      }
      tbody.appendChild(frag);
      est.rendered = tbody.children.length;
      est.matching = count;
      est.page = page + 1;
      est.pages = pages;
      info.textContent = count + (count === 1 ? " event" : " events") + (matches ? " match" : "") +
        " · page " + (page + 1) + " of " + pages + (n < head.total ? " · " + (head.total - n) +
        " later events only in events.jsonl" : "");
      first.disabled = prev.disabled = page === 0;
      next.disabled = last.disabled = page >= pages - 1;
      report();
    }
    api.filter = function (text, reasonName) {
      q.value = text;
      reason.value = reasonName == null ? "" : String(ev.reasons.indexOf(reasonName));
      refilter();
      return est.matching;
    };
    api.next = function () { next.click(); return page; };
    // The last page: its number and its last row (the event's number and cells).
    api.last = function () {
      last.click();
      var tr = tbody.lastElementChild;
      return {
        page: page + 1,
        pages: est.pages,
        rows: est.rendered,
        event: tr ? +tr.getAttribute("data-event") : null,
        cells: tr ? Array.prototype.map.call(tr.children, function (td) { return td.textContent; }) : null
      };
    };
    return api;
  }

  // With #kscale-selftest in the URL (the browser test), after drawing: zooms the first time
  // chart and checks that the others followed and that "reset zoom" undoes it; filters the
  // event table and pages it. The results go into the status (`selftest`).
  function selfTest(events) {
    var r = status.selftest = { finished: false };
    var time = charts.filter(function (c) { return c.time; });
    var step2 = function () {
      if (!events) { r.finished = true; report(); return; }
      events.ready(function () {
        if (status.events.ready) {
          r.eventsAll = events.filter("", null);
          r.eventsMatchingPreempt = events.filter("preempt", null);
          r.eventsMatchingSpaced = events.filter("default/", null);
          r.eventsFirstReason = events.filter("", status.events.firstReason);
          r.eventsPage2 = events.filter("", null) > 100 ? events.next() + 1 : null;
          r.eventsLast = events.last();
          events.filter("", null);
        }
        r.finished = true;
        report();
      });
    };
    if (time.length < 2) { r.zoom = "fewer than two time charts"; step2(); return; }
    var xs = time[0].u.data[0];
    var a = xs[0], b = xs[xs.length - 1];
    var lo = a + (b - a) / 4, hi = a + (b - a) * 3 / 4;
    time[0].u.setScale("x", { min: lo, max: hi });
    setTimeout(function () {
      r.zoomFollowed = time.every(function (c) {
        return Math.abs(c.u.scales.x.min - lo) < 1e-6 && Math.abs(c.u.scales.x.max - hi) < 1e-6;
      });
      r.pointsZoomed = time[0].u.series.length > 1 ? status.charts[charts.indexOf(time[0])].points : null;
      resetZoom();
      setTimeout(function () {
        r.zoomReset = time.every(function (c) {
          var d = c.u.data[0];
          return c.u.scales.x.min <= d[0] && c.u.scales.x.max >= d[d.length - 1];
        });
        step2();
      }, 50);
    }, 50);
  }

  // A chart's data: JSON, or (when large) gzip-compressed JSON in base64.
  function chartData(script) {
    if (script.getAttribute("data-encoding") !== "gzip") {
      return Promise.resolve().then(function () { return JSON.parse(script.textContent); });
    }
    if (typeof DecompressionStream === "undefined" || typeof Response === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack the chart's data (it needs " +
        "DecompressionStream: Chromium 80, Firefox 113, Safari 16.4 or later)"));
    }
    return gunzipText(base64Bytes(script.textContent)).then(function (json) {
      // The chart holds it now.
      script.textContent = "";
      return JSON.parse(json);
    });
  }

  function main() {
    if (typeof uPlot === "undefined") throw new Error("uPlot did not load");
    var events = null;
    try {
      events = eventTable();
    } catch (err) {
      errors.push("event table: " + (err && err.stack || err));
    }
    var figs = document.querySelectorAll("figure.kchart");
    // Every chart's data unpacked, then all drawn in order.
    var specs = Array.prototype.map.call(figs, function (fig) {
      return chartData(fig.querySelector("script.kchart-data"))
        .then(function (spec) { return { spec: spec }; }, function (err) { return { err: err }; });
    });
    Promise.all(specs).then(function (list) {
      list.forEach(function (d, i) {
        try {
          if (d.err) throw d.err;
          drawChart(figs[i], d.spec, i);
        } catch (err) {
          errors.push("chart " + (i + 1) + ": " + (err && err.stack || err));
        }
      });
      markerTools();
      var resizing = null;
      window.addEventListener("resize", function () {
        clearTimeout(resizing);
        resizing = setTimeout(function () {
          charts.forEach(function (c) { c.u.setSize({ width: Math.max(320, c.fig.clientWidth - 20), height: 320 }); });
        }, 100);
      });
      status.built = true;
      report();
      if (location.hash === "#kscale-selftest") setTimeout(function () { selfTest(events); }, 0);
    }).catch(function (err) {
      errors.push(String(err && err.stack || err));
      status.built = true;
      report();
    });
  }

  try {
    main();
  } catch (err) {
    errors.push(String(err && err.stack || err));
    status.built = true;
    report();
  }
})();
