// The operator console's page: the graph with live figures, one view per stream, controls.
// Data arrives as binary WebSocket frames (see streamer/console/protocol.py); the figures
// and control replies as small JSON texts.
"use strict";

const KIND = {1: "samples", 2: "events", 3: "image", 4: "spikes", 5: "decision", 6: "items"};
const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const state = {info: null, views: {}, viewNames: {}, lastEdges: null, lastT: 0, ws: null, scriptMs: 0, drawPending: false, lastPass: 0};
const MARKER_PRESETS = ["start", "stop", "artifact", "eyes closed", "note"];

// ---------------------------------------------------------------- connection
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : ""));
  ws.binaryType = "arraybuffer";
  ws.onopen = () => { $("link").textContent = "live"; };
  ws.onclose = () => { $("link").textContent = "disconnected: the graph has ended or the console stopped"; setTimeout(connect, 2000); };
  ws.onmessage = (ev) => {
    if (typeof ev.data === "string") onText(JSON.parse(ev.data));
    else onFrame(ev.data);
  };
  state.ws = ws;
}

function send(obj) {
  if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(obj));
  else $("control-status").textContent = "not connected: nothing sent";
}

function onText(msg) {
  if (msg.type === "figures") onFigures(msg);
  else if (msg.type === "control") {
    $("control-status").textContent = msg.ok ? msg.done : "refused: " + msg.error;
  }
}

const DTYPES = {f4: Float32Array, u1: Uint8Array, f8: Float64Array, i2: Int16Array};

const headerText = new TextDecoder();

function onFrame(buf) {
  const t0 = performance.now();
  const dv = new DataView(buf);
  const kind = dv.getUint8(0), vid = dv.getUint16(2, true), n = dv.getUint32(4, true);
  const header = JSON.parse(headerText.decode(new Uint8Array(buf, 8, n)));
  let start = 8 + n; start += (8 - start % 8) % 8;
  let payload = null;
  if (header.dtype) payload = new DTYPES[header.dtype](buf, start, header.shape.reduce((a, b) => a * b, 1));
  const view = viewFor(vid, KIND[kind]);
  view.frames += 1;
  view.take(header, payload);
  view.dirty = true;
  state.scriptMs += performance.now() - t0;
  if (!state.drawPending) { state.drawPending = true; requestAnimationFrame(drawDirty); }
}

// Views draw together, at most 30 times a second whatever the frames' arrival (each pass
// costs Chromium a composited frame); a hidden page (no animation frames) draws nothing and
// keeps only the newest data.
const DRAW_GAP_MS = 1000 / 30 - 4;  // less a margin: animation frames come every 16.7 ms

function drawDirty() {
  const t0 = performance.now();
  if (t0 - state.lastPass < DRAW_GAP_MS) { requestAnimationFrame(drawDirty); return; }
  state.lastPass = t0;
  let again = false;
  state.drawPending = false;
  for (const v of Object.values(state.views)) {
    if (!v.dirty) continue;
    if (v.minGapMs && t0 - (v.lastDraw || 0) < v.minGapMs) { again = true; continue; }
    v.dirty = false; v.lastDraw = t0;
    v.draw();
    if (v.noteText !== v.shownNote) { v.note.textContent = v.noteText; v.shownNote = v.noteText; }
  }
  state.scriptMs += performance.now() - t0;
  if (again) { state.drawPending = true; requestAnimationFrame(drawDirty); }
}

// ---------------------------------------------------------------- figures and graph
function onFigures(msg) {
  state.info = msg;
  $("graph-name").textContent = msg.graph.name;
  for (const v of msg.views) {
    state.viewNames[v.id] = v;
    const shown = state.views[v.id];
    if (shown && shown.name !== v.name) {  // a panel made before its name was known
      shown.name = v.name; shown.panel.dataset.name = v.name;
      shown.panel.querySelector("h2").firstChild.textContent = v.name + " ";
    }
  }
  const f = msg.figures || {};
  if (f.elapsed_s !== undefined) $("elapsed").textContent = f.elapsed_s.toFixed(1) + " s";
  const act = gateState(msg);
  const badge = $("actuation");
  badge.textContent = msg.gates.length ? act : "no gate";
  badge.className = "badge " + act;
  $("estop").disabled = !msg.gates.length;
  $("rearm").disabled = act !== "estop";
  $("pause").disabled = !msg.gates.length || act !== "armed";
  $("resume").disabled = act !== "paused";
  $("record").disabled = !msg.recorders.length;
  $("record").textContent = msg.recorders.length ? `Recording: ${msg.recording ? "on" : "paused"}` : "no recorder";
  if (!state.graphDrawn) drawGraph(msg.graph);
  if (f.nodes) { updateGraph(msg.graph, f); updateTable(f); }
  const c = msg.console;
  const now = performance.now(), perS = state.costT ? (state.scriptMs - state.costMs) / (now - state.costT) * 1000 : 0;
  state.costT = now; state.costMs = state.scriptMs;
  $("console-stats").textContent = `console: ${c.clients} page(s), ${c.frames_sent} frames sent, ${c.frames_skipped} skipped for slow pages; ` +
      `chunks the console skipped on its latest edges: ${consoleSkips(f)}; this page's drawing: ${perS.toFixed(0)} ms/s`;
  for (const v of Object.values(state.views)) if (v.onFigures) v.onFigures(msg);
}

function gateState(msg) {
  // The gates' own counters say what they do; the console's wish shows until they answer.
  const nodes = (msg.figures && msg.figures.nodes) || {};
  for (const g of msg.gates) {
    const a = nodes[g] && nodes[g].counters && nodes[g].counters.actuation;
    if (a && a !== "armed") return a;
  }
  return msg.actuation;
}

function consoleSkips(f) {
  let n = 0;
  for (const [k, e] of Object.entries(f.edges || {})) if (/>console[^.]*\./.test(k)) n += e.superseded + e.dropped;
  return n;
}

function layers(graph) {
  const depth = {};
  const names = Object.keys(graph.nodes);
  names.forEach((n) => depth[n] = 0);
  for (let i = 0; i < names.length; i++)
    for (const e of graph.edges) depth[e.dst] = Math.max(depth[e.dst], depth[e.src] + 1);
  return depth;
}

const NW = 150, NH = 58, GX = 70, GY = 18;

function drawGraph(graph) {
  const svg = $("graph"), ns = "http://www.w3.org/2000/svg";
  const depth = layers(graph), rows = {}, pos = {};
  for (const n of Object.keys(graph.nodes)) {
    const d = depth[n]; rows[d] = (rows[d] || 0) + 1;
    pos[n] = {x: 10 + d * (NW + GX), y: 10 + (rows[d] - 1) * (NH + GY)};
  }
  const h = Math.max(...Object.values(rows)) * (NH + GY) + 20;
  const w = (Math.max(...Object.values(depth)) + 1) * (NW + GX);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.style.height = Math.min(h, 520) + "px";
  const el = (tag, attrs, parent) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    (parent || svg).appendChild(e); return e;
  };
  state.edgeLabels = {};
  for (const e of graph.edges) {
    const a = pos[e.src], b = pos[e.dst];
    const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
    const mx = (x1 + x2) / 2;
    el("path", {d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: "edge " + e.policy});
    const t = el("text", {x: mx, y: (y1 + y2) / 2 - 3, "text-anchor": "middle", class: "edge-label"});
    t.textContent = e.src_port === "out" && e.dst_port === "in" ? "" : `${e.src_port}→${e.dst_port}`;
    state.edgeLabels[e.key] = t;
  }
  state.nodeEls = {};
  for (const [n, spec] of Object.entries(graph.nodes)) {
    const g = el("g", {class: "node", transform: `translate(${pos[n].x},${pos[n].y})`});
    el("rect", {width: NW, height: NH}, g);
    const title = el("title", {}, g); title.textContent = `${n}: ${spec.type}\n${JSON.stringify(spec.params)}`;
    const t1 = el("text", {x: 6, y: 14}, g); t1.textContent = n;
    const t2 = el("text", {x: 6, y: 27, class: "small"}, g); t2.textContent = spec.type;
    const t3 = el("text", {x: 6, y: 40, class: "small"}, g);
    const t4 = el("text", {x: 6, y: 52, class: "small"}, g);
    state.nodeEls[n] = {g, t3, t4};
  }
  state.graphDrawn = true;
}

function fmt(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (Math.abs(x) >= 1e6) return (x / 1e6).toFixed(2) + "M";
  if (Math.abs(x) >= 1e4) return (x / 1e3).toFixed(1) + "k";
  return x.toFixed(digits);
}

function updateGraph(graph, f) {
  const dt = state.lastT ? f.t - state.lastT : 0;
  for (const [n, els] of Object.entries(state.nodeEls)) {
    const s = f.nodes[n]; if (!s) continue;
    els.g.setAttribute("class", "node " + s.state);
    els.t3.textContent = `${s.state}${s.backend ? " (" + s.backend + ")" : ""} · ${fmt(s.msgs_per_s)} msg/s`;
    els.t4.textContent = `p50 ${fmt(s.p50_ms, 1)} p99 ${fmt(s.p99_ms, 1)} ms` + (s.restarts ? ` · ${s.restarts} restarts` : "");
  }
  for (const e of graph.edges) {
    const fe = f.edges[e.key], label = state.edgeLabels[e.key];
    if (!fe || !label) continue;
    let rate = 0;
    if (dt > 0 && state.lastEdges && state.lastEdges[e.key]) rate = (fe.received - state.lastEdges[e.key].received) / dt;
    const bad = fe.lost + fe.rejected + fe.dropped;
    label.textContent = `${fmt(rate)}/s q${fe.queue}` + (bad ? ` lost ${fe.lost} drop ${fe.dropped} rej ${fe.rejected}` : "");
    label.setAttribute("class", "edge-label" + (fe.lost + fe.rejected ? " bad" : ""));
  }
  state.lastEdges = f.edges; state.lastT = f.t;
}

function updateTable(f) {
  const cols = ["node", "state", "msg/s", "items/s", "p50 ms", "p99 ms", "queue", "lost", "dropped", "rejected", "restarts", "counters"];
  const rows = [`<tr>${cols.map((c) => `<th>${c}</th>`).join("")}</tr>`];
  for (const [n, s] of Object.entries(f.nodes)) {
    const counters = Object.entries(s.counters || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    rows.push(`<tr><td>${esc(n)}</td><td class="left">${esc(s.state)}${s.backend ? " (" + esc(s.backend) + ")" : ""}</td>` +
      `<td>${fmt(s.msgs_per_s)}</td><td>${fmt(s.items_per_s)}</td><td>${fmt(s.p50_ms, 2)}</td><td>${fmt(s.p99_ms, 2)}</td>` +
      `<td>${s.queue}</td><td>${s.lost}</td><td>${s.dropped + s.superseded}</td><td>${s.rejected}</td><td>${s.restarts}</td>` +
      `<td class="counters">${esc(counters)}${s.error ? " <b>" + esc(s.error) + "</b>" : ""}</td></tr>`);
  }
  $("figures").innerHTML = rows.join("");
}

// A whole RGBA pixel as one 32-bit word (typed arrays are little-endian on every platform a browser runs on).
function rgba(r, g, b) { return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0; }

function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c])); }

// ---------------------------------------------------------------- views
function viewFor(vid, kind) {
  let v = state.views[vid];
  if (v && v.kind === kind) return v;
  if (v) v.panel.remove();
  const name = (state.viewNames[vid] && state.viewNames[vid].name) || `view ${vid}`;
  const panel = document.createElement("section");
  panel.className = "panel view-panel";
  panel.dataset.kind = kind; panel.dataset.name = name;
  panel.innerHTML = `<h2>${esc(name)} <span class="muted"></span></h2>`;
  $("views").appendChild(panel);
  const make = {samples: Scope, events: EventFrame, image: ImageFrame, spikes: Raster, decision: DecisionPanel, items: ItemLog}[kind];
  v = new make(panel, name);
  v.name = name; v.kind = kind; v.panel = panel; v.frames = 0; v.vid = vid;
  v.note = panel.querySelector("h2 span");
  state.views[vid] = v;
  return v;
}

class Scope {
  constructor(panel, name) {
    this.window_s = 5; this.gain = 1; this.auto = true; this.name = name;
    const tools = document.createElement("div"); tools.className = "scope-tools";
    tools.innerHTML = `<button data-g="2">gain ×2</button> <button data-g="0.5">÷2</button> ` +
        `<select><option value="auto">scale per channel</option><option value="common">common scale</option></select> ` +
        `<select class="src" title="show this stream or another with the same channels (raw vs filtered)"></select>`;
    panel.appendChild(tools);
    tools.querySelectorAll("button").forEach((b) => b.onclick = () => { this.gain *= +b.dataset.g; });
    tools.querySelector("select").onchange = (e) => { this.auto = e.target.value === "auto"; };
    this.srcSelect = tools.querySelector("select.src");
    this.host = document.createElement("div"); panel.appendChild(this.host);
    this.canvasHost = this.host;
    this.shown = null; this.plot = null;
    this.minGapMs = 100;  // a scope redrawn 10 times a second scrolls smoothly enough
  }
  take(h, payload) {
    const c = h.ch_names.length, m = payload.length / c;
    if (!this.buf || this.buf.length !== c || this.pps !== h.points_per_s) {
      this.pps = h.points_per_s; this.cap = Math.round(this.pps * this.window_s);
      this.buf = Array.from({length: c}, () => new Float32Array(this.cap).fill(NaN));
      this.names = h.ch_names; this.plot && this.plot.destroy(); this.plot = null;
    }
    for (let ch = 0; ch < c; ch++) {
      const b = this.buf[ch], row = payload.subarray(ch * m, (ch + 1) * m);
      if (m >= this.cap) b.set(row.subarray(m - this.cap));
      else { b.copyWithin(0, m); b.set(row, this.cap - m); }
    }
    this.noteText = `${c} ch, ${h.sfreq} Hz` + (h.skipped_samples ? `, ${h.skipped_samples} samples skipped` : "");
  }
  source() {
    const sel = this.srcSelect.value;
    const other = sel && Object.values(state.views).find((v) => v.name === sel && v.buf);
    return other && other.buf.length === this.buf.length ? other : this;
  }
  onFigures() {
    const options = Object.values(state.views).filter((v) => v.kind === "samples").map((v) => v.name);
    if (options.join() !== this.options) {
      this.options = options.join();
      const keep = this.srcSelect.value || this.name;
      this.srcSelect.innerHTML = options.map((o) => `<option${o === keep ? " selected" : ""}>${esc(o)}</option>`).join("");
    }
  }
  draw() {
    const src = this.source(), buf = src.buf, c = buf.length, n = src.cap;
    if (!this.data || this.data.length !== c + 1 || this.data[0].length !== n) {  // reused: no garbage per draw
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = (i - n) / src.pps;
      this.data = [x].concat(buf.map(() => new Float32Array(n)));
    }
    const data = this.data;
    let common = 0;
    const scale = buf.map((b) => {
      let lo = Infinity, hi = -Infinity;
      for (const v of b) if (v === v) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const r = hi > lo ? hi - lo : 1; common = Math.max(common, r); return [lo, r];
    });
    for (let ch = 0; ch < c; ch++) {
      const [lo, r] = scale[ch], s = this.gain * 0.9 / (this.auto ? r : common), mid = lo + r / 2;
      const y = data[ch + 1], b = buf[ch];
      for (let i = 0; i < n; i++) y[i] = c - 1 - ch + (b[i] - mid) * s;
    }
    if (!this.plot) {
      const names = src.names;
      const series = [{}].concat(names.map((nm) => ({label: nm, stroke: "#7ee787", width: 1, points: {show: false}})));
      this.plot = new uPlot({
        width: 620, height: Math.min(640, 40 + 16 * c), legend: {show: false}, cursor: {show: false},
        scales: {x: {time: false}, y: {range: [-1, c]}},
        axes: [{stroke: "#888", grid: {stroke: "#2a2d31"}, label: "s"},
               {stroke: "#888", grid: {show: false}, size: 60, splits: () => names.map((_, i) => c - 1 - i),
                values: (u, splits) => splits.map((s) => names[c - 1 - s] || "")}],
        series,
      }, data, this.host);
    } else this.plot.setData(data);
  }
}

// An 8-bit image drawn through a colour table: one 32-bit store per pixel.
class PaletteImage {
  constructor(panel, lut) {
    this.canvas = document.createElement("canvas"); this.canvas.className = "view"; panel.appendChild(this.canvas);
    this.ctx = this.canvas.getContext("2d"); this.canvasHost = this.canvas; this.lut = lut;
  }
  take(h, px) { this.h = h; this.px = px; this.noteText = this.describe(h); }
  draw() {
    const [H, W] = this.h.shape, px = this.px, lut = this.lut;
    if (this.canvas.width !== W || this.canvas.height !== H || !this.img) {
      this.canvas.width = W; this.canvas.height = H;
      this.img = this.ctx.createImageData(W, H); this.words = new Uint32Array(this.img.data.buffer);
    }
    const words = this.words;
    for (let i = 0; i < px.length; i++) words[i] = lut[px[i]];
    this.ctx.putImageData(this.img, 0, 0);
  }
}

class EventFrame extends PaletteImage {
  constructor(panel) {
    // none, ON, OFF (Metavision's colours); values past OFF show as none
    const lut = new Uint32Array(256).fill(rgba(20, 20, 24));
    lut[1] = rgba(255, 255, 255); lut[2] = rgba(64, 126, 255);
    super(panel, lut);
  }
  describe(h) { return `${h.shape[1]}×${h.shape[0]}, ON white, OFF blue, ${h.events} events`; }
}

class ImageFrame extends PaletteImage {
  constructor(panel) { super(panel, Uint32Array.from({length: 256}, (_, v) => rgba(v, v, v))); }
  describe(h) { return `${h.shape[1]}×${h.shape[0]}, ${fmt(h.min, 1)}…${fmt(h.max, 1)}`; }
}

class Raster {
  constructor(panel) {
    this.canvas = document.createElement("canvas"); this.canvas.className = "view"; panel.appendChild(this.canvas);
    this.ctx = this.canvas.getContext("2d"); this.canvasHost = this.canvas; this.steps = 400;
    this.pending = [];
  }
  take(h, px) {
    this.pending.push([h, px]);  // every chunk is a slice of the raster's time: none is skipped
    if (this.pending.length > this.steps) this.pending.shift();  // a hidden page keeps what fits
    this.noteText = `${h.layer}: ${h.shape[1]} neurons`;
  }
  draw() {
    for (const [h, px] of this.pending.splice(0)) this.scroll(h, px);
  }
  scroll(h, px) {
    const [S, N] = h.shape;
    if (this.canvas.height !== N) { this.canvas.width = this.steps; this.canvas.height = N; this.ctx.fillStyle = "#000"; this.ctx.fillRect(0, 0, this.steps, N); }
    const ctx = this.ctx;
    ctx.drawImage(this.canvas, -S, 0);
    const img = ctx.createImageData(S, N), d = img.data;
    for (let s = 0; s < S; s++) for (let n = 0; n < N; n++) {
      const o = 4 * (n * S + s), on = px[s * N + n];
      d[o] = on ? 255 : 0; d[o + 1] = on ? 210 : 0; d[o + 2] = on ? 80 : 0; d[o + 3] = 255;
    }
    ctx.putImageData(img, this.steps - S, 0);
  }
}

class DecisionPanel {
  get src() { return this.name.split(".")[0]; }
  constructor(panel, name) {
    this.name = name;
    panel.insertAdjacentHTML("beforeend", `<div class="decision-head"></div><div class="bars"></div><canvas width="300" height="110"></canvas><div class="acc muted"></div>`);
    this.head = panel.querySelector(".decision-head"); this.bars = panel.querySelector(".bars");
    this.canvas = panel.querySelector("canvas"); this.canvasHost = this.canvas; this.acc = panel.querySelector(".acc");
    this.count = 0;
  }
  params() { const g = state.info && state.info.graph.nodes[this.src]; return (g && g.params) || {}; }
  take(h, payload) {
    this.count += 1; this.h = h; this.payload = payload;
  }
  draw() {
    const h = this.h, payload = this.payload, p = this.params(), k = h.n_probabilities;
    const probs = payload.subarray(0, k), trace = payload.subarray(k);
    let labels = p.labels; if (labels && !Array.isArray(labels)) labels = Object.keys(labels);
    this.head.innerHTML = `<b>${esc(h.label)}</b> · confidence ${h.confidence.toFixed(2)} · ${h.steps} steps`;
    this.bars.innerHTML = Array.from(probs).map((v, i) =>
      `<div><span style="width:70px">${esc((labels && labels[i]) || i)}</span><span class="bar" style="width:${Math.round(200 * v)}px"></span>${v.toFixed(2)}</div>`).join("");
    const ctx = this.canvas.getContext("2d"), W = this.canvas.width, H = this.canvas.height;
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, W, H);
    const ee = p.early_exit || {}, thr = ee.threshold, max = ee.max_steps || Math.max(trace.length, 1);
    if (thr !== undefined) { ctx.strokeStyle = "#f0883e"; ctx.beginPath(); ctx.moveTo(0, H * (1 - thr)); ctx.lineTo(W, H * (1 - thr)); ctx.stroke(); }
    ctx.strokeStyle = "#58a6ff"; ctx.beginPath();
    trace.forEach((v, i) => { const x = (i + 1) / max * W, y = H * (1 - v); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke();
    ctx.fillStyle = "#888"; ctx.fillText(trace.length ? "confidence per step (threshold orange)" : "no per-step confidence in these decisions", 4, 10);
  }
  onFigures(msg) {
    const nodes = (msg.figures && msg.figures.nodes) || {};
    const scored = Object.entries(nodes).filter(([, s]) => s.counters && s.counters.accuracy_pct !== undefined);
    this.acc.textContent = `${this.count} decisions shown` + scored.map(([n, s]) =>
      ` · ${n}: ${s.counters.accuracy_pct}% right (${s.counters.right || 0}/${(s.counters.right || 0) + (s.counters.wrong || 0)})`).join("");
  }
}

class ItemLog {
  constructor(panel) {
    this.box = document.createElement("div"); this.box.className = "log"; panel.appendChild(this.box); this.canvasHost = this.box;
    this.pending = [];
  }
  take(h) {
    this.pending.push(...h.items.slice(-200));
    if (this.pending.length > 400) this.pending.splice(0, this.pending.length - 200);  // a hidden page
  }
  draw() {
    for (const it of this.pending.splice(0).slice(-200)) {
      const line = document.createElement("div");
      const safety = it.safety || "";
      line.className = safety.startsWith("blocked") ? "blocked" : (safety.startsWith("watchdog") || safety === "estop" || safety === "paused") ? "safe" : it.label !== undefined ? "marker" : "";
      const what = it.action !== undefined ? `${it.action}=${JSON.stringify(it.value)} [${safety}]${it.reason ? " " + it.reason : ""}`
                                            : `marker ${it.label}${it.value !== null && it.value !== undefined ? "=" + JSON.stringify(it.value) : ""}`;
      line.textContent = `${(it.t_origin || 0).toFixed(3)} ${what}`;
      this.box.prepend(line);
    }
    while (this.box.childElementCount > 200) this.box.lastChild.remove();
  }
}

// ---------------------------------------------------------------- controls
$("estop").onclick = () => send({op: "estop"});
$("rearm").onclick = () => { $("rearm-box").hidden = false; };
$("rearm-cancel").onclick = () => { $("rearm-box").hidden = true; };
$("rearm-confirm").onclick = () => { $("rearm-box").hidden = true; send({op: "rearm", confirm: "confirmed"}); };
$("pause").onclick = () => send({op: "pause"});
$("resume").onclick = () => send({op: "resume"});
$("record").onclick = () => send({op: "record", on: !(state.info && state.info.recording)});
$("marker-send").onclick = () => {
  const text = $("marker-text").value.trim();
  if (text) { send({op: "marker", label: text}); $("marker-text").value = ""; }
};
$("marker-text").onkeydown = (e) => { if (e.key === "Enter") $("marker-send").click(); };
for (const m of MARKER_PRESETS) {
  const b = document.createElement("button"); b.textContent = m; b.onclick = () => send({op: "marker", label: m});
  $("marker-buttons").appendChild(b); $("marker-buttons").append(" ");
}
// The page's own script time (decoding and drawing), for a benchmark to set beside Chromium's CPU.
window.consoleScriptMs = () => [state.scriptMs, performance.now()];
connect();
