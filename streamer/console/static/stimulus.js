// The subject's screen: what the cue nodes send (fixation, cue arrows, SSVEP targets,
// the feedback bar), drawn on the next display frame. The page keeps its clock mapped to
// the graph's (host monotonic) one by timed pings, and reports back the host time of the
// frame that drew each stimulus (`shown`) and, while targets flicker, every frame's time
// with each target's luminance (`frames`): what was shown is recorded, not what was asked.
"use strict";
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
const ARROWS = {left: "\u2190", right: "\u2192", up: "\u2191", down: "\u2193", feet: "\u2193", tongue: "\u2191"};
let ws = null;
let offset = null, bestRtt = Infinity;      // host seconds = performance.now() / 1000 + offset
let pending = null;                          // a stimulus waiting for its first frame
let ssvep = null;                            // {freqs, target, t0, end, times, lum}
let feedbackUntil = 0;
const pings = new Map();

function hostTime(msPage) { return msPage / 1000 + offset; }
function send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); }

function ping() {
  const id = Math.random().toString(36).slice(2);
  pings.set(id, performance.now());
  send({op: "clock", id});
}

function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws?page=stimulus` +
                     (token ? `&token=${encodeURIComponent(token)}` : ""));
  ws.onopen = () => { $("status").textContent = "synchronising clock…"; for (let i = 0; i < 10; i++) setTimeout(ping, 50 * i); };
  ws.onclose = () => { $("status").textContent = "disconnected"; setTimeout(connect, 2000); };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "clock") {
      const t0 = pings.get(m.id), t1 = performance.now();
      pings.delete(m.id);
      if (t0 === undefined) return;
      const rtt = t1 - t0;
      if (rtt <= bestRtt) { bestRtt = rtt; offset = m.t_host - (t0 + t1) / 2000; }
      $("status").textContent = `clock synchronised (round trip ${bestRtt.toFixed(1)} ms)`;
    } else if (m.type === "stimulus") {
      pending = m;
    }
  };
}
setInterval(() => { bestRtt *= 1.5; ping(); }, 5000);  // follow a drifting clock, keep the best recent round trip

function flushFrames(final) {
  if (!ssvep || ssvep.times.length === 0) return;
  if (!final && ssvep.times.length < 30) return;
  send({op: "frames", times: ssvep.times, luminance: ssvep.lum, freqs_hz: ssvep.freqs, target: ssvep.target});
  ssvep.times = [];
  ssvep.lum = ssvep.freqs.map(() => []);
}

function startStimulus(m, ts) {
  const stage = $("stage"), targets = $("targets");
  if (ssvep) { flushFrames(true); ssvep = null; targets.style.display = "none"; }
  stage.textContent = "";
  if (m.show === "fixation") stage.textContent = "+";
  else if (m.show === "cue") stage.textContent = ARROWS[m.class] || m.class;
  else if (m.show === "ssvep") {
    targets.innerHTML = m.freqs_hz.map((f, i) => `<div class="target${i === m.target ? " attend" : ""}">${f} Hz</div>`).join("");
    targets.style.display = "flex";
    ssvep = {freqs: m.freqs_hz, target: m.target, t0: ts, end: ts + 1000 * m.duration_s, times: [],
             lum: m.freqs_hz.map(() => [])};
  } else if (m.show === "feedback") {
    const bar = $("bar"), w = Math.abs(m.position) * 40;
    bar.style.width = `${w}vw`;
    bar.style.left = m.position < 0 ? `${50 - w}vw` : "50vw";
    bar.style.background = m.correct === false ? "#a44" : "#4a4";
    bar.style.display = "block";
    feedbackUntil = ts + 1000 * (m.duration_s || 1.5);
  }
  if (m.show !== "feedback" && m.show !== "rest") $("bar").style.display = m.show === "cue" ? $("bar").style.display : "none";
  if (offset !== null) send({op: "shown", label: m.show === "cue" ? m.class : m.show, t_host: hostTime(ts), trial: m.trial});
}

function frame(ts) {
  // ts: the time of this display frame (requestAnimationFrame), on performance.now()'s clock
  if (pending) { const m = pending; pending = null; startStimulus(m, ts); }
  if (ssvep) {
    if (ts >= ssvep.end) { flushFrames(true); ssvep = null; $("targets").style.display = "none"; }
    else {
      const t = (ts - ssvep.t0) / 1000;
      const boxes = $("targets").children;
      ssvep.freqs.forEach((f, i) => {
        const lum = 0.5 * (1 + Math.sin(2 * Math.PI * f * t));
        const g = Math.round(255 * lum);
        boxes[i].style.background = `rgb(${g},${g},${g})`;
        ssvep.lum[i].push(lum);
      });
      if (offset !== null) ssvep.times.push(hostTime(ts));
      else ssvep.lum.forEach((l) => l.pop());   // no clock yet: nothing to place it on
      flushFrames(false);
    }
  }
  if (feedbackUntil && ts > feedbackUntil) { $("bar").style.display = "none"; feedbackUntil = 0; }
  requestAnimationFrame(frame);
}
connect();
requestAnimationFrame(frame);
