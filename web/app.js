// The page: attaches to the shared connection (feed.js in a SharedWorker,
// or in this page where SharedWorker is missing), keeps a Store, and draws
// what changed once per animation frame. A hidden tab draws nothing but
// keeps accumulating, so it is current when it comes back.

import { Feed } from './feed.js';
import { Store } from './store.js';
import { $, setAttr, setClass, setText } from './dom.js';
import { makePanels } from './panels/index.js';
import { setChartHandlers, setEventMarks, setFollowing } from './charts.js';
import { Timeline } from './timeline.js';
import { Tip } from './tip.js';
import { View } from './view.js';
import * as f from './format.js';

const store = new Store();
// A handle for tests and for poking around in the console. staleAfter(ms)
// sets how long the connection may stay silent before it is reopened.
const debug = { store, draws: 0, snapshots: 0, lastId: '' };
window.sysfeed = debug;
const dirty = new Set();
const conn = { state: 'connecting', retries: 0, lastEvent: 0 };
debug.conn = conn;
let hello = null;
let raf = 0;

const panels = makePanels(redraw);
debug.panels = panels;
const view = new View(viewChanged);
const timeline = new Timeline();
debug.view = view;
debug.timeline = timeline;
debug.redraw = (t) => redraw(t);
// Topics drawn by another topic's panel.
const DRAWN_BY = { units: 'svc' };

// ---------------------------------------------------------------- drawing

// What changed is drawn once per animation frame, all of it in that frame
// (a tick's events come in one message, see feed.js), in the panels' order.
function redraw(topic) {
  dirty.add(DRAWN_BY[topic] ?? topic);
  if (!raf) raf = requestAnimationFrame(flush);
}

function redrawAll() {
  for (const t of Object.keys(panels)) dirty.add(t);
  if (!raf) raf = requestAnimationFrame(flush);
}

function ctx() {
  const interval = (hello?.interval_ms ?? 1000) / 1000;
  return { store, hello, interval, redraw, ...view.frame(store) };
}

function flush() {
  raf = 0;
  if (document.hidden) return; // drawn on return, see visibilitychange
  const c = ctx();
  setEventMarks(...timeline.marks());
  setFollowing(view.isLive());
  for (const [t, p] of Object.entries(panels)) {
    if (!dirty.has(t) || away(t)) continue;
    dirty.delete(t);
    try {
      p.render(c);
    } catch (err) {
      console.warn(`sysfeed: drawing ${t}:`, err);
    }
  }
  status();
  for (const t of store.seen) if (!marked.has(t)) markData(t);
  debug.draws++;
}

// A metric panel out of sight (its topic hidden, or scrolled out of the
// viewport, with no margin: panels just below the fold cost as much as
// those in view) is not drawn: it stays dirty and is drawn in the frame
// after the one it comes into view in. The journal and file feeds and the
// alerts (their bar is at the top, their marks on the charts) are always
// drawn: they change only when something happens, and incrementally.
const ALWAYS = new Set(['host', 'log', 'file', 'alert']);
const offScreen = new Set(); // panel elements the observer saw out of view
const io = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (e.isIntersecting) {
      offScreen.delete(e.target);
      for (const t of e.target.sfTopics) redraw(t);
    } else {
      offScreen.add(e.target);
    }
  }
});
const where = {}; // topic -> {el: its [data-topic], panel: its .panel}
for (const t of Object.keys(panels)) {
  const el = document.querySelector(`[data-topic="${t}"]`);
  const panel = el?.closest('.panel');
  if (!el || !panel || ALWAYS.has(t)) continue;
  where[t] = { el, panel };
  if (!panel.sfTopics) io.observe(panel);
  (panel.sfTopics ??= []).push(t);
}

function away(t) {
  const w = where[t];
  return Boolean(w && (w.el.hidden || w.panel.hidden || offScreen.has(w.panel)));
}

// data-state on each [data-topic]: waiting, data or off (tests read it).
const marked = new Set();
function markData(t) {
  marked.add(t);
  for (const el of document.querySelectorAll(`[data-topic="${t}"]`)) {
    if (el.dataset.state !== 'waiting') continue;
    el.dataset.state = 'data';
    const w = el.querySelector(':scope > .off');
    if (w && w.classList.contains('wait')) w.hidden = true;
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) redrawAll();
});

// Every chart's width is read before any is resized: a read after a
// resize would lay the page out again.
const ro = new ResizeObserver(() => {
  const charts = allCharts();
  const widths = charts.map((ch) => ch.plot.clientWidth);
  charts.forEach((ch, i) => ch.resize(widths[i]));
  view.width = Math.max(100, ...widths);
  redrawAll();
});
for (const el of document.querySelectorAll('.chart')) ro.observe(el);

matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  for (const p of Object.values(panels)) {
    for (const ch of p.charts?.() ?? []) ch.restyle();
    p.restyle?.();
  }
  redrawAll();
});

// ---------------------------------------------------------------- range, zoom, crosshair

const allCharts = () => Object.values(panels).flatMap((p) => p.charts?.() ?? []);

$('#range').addEventListener('change', (e) => {
  const s = Number(e.target.value);
  if (!(s > 0)) return;
  view.zoom = null;
  view.preset = s;
  view.decide(store);
});

$('#live').addEventListener('click', () => {
  view.live();
  view.decide(store);
});

const tip = new Tip($('#tip'), {
  charts: allCharts,
  tops: (t) => view.topsAt(t, store),
  events: (t, dt) => timeline.near(t, dt),
});

setChartHandlers({
  // a drag over a chart: that window on every chart
  zoom(a, b) {
    if (b - a < 2 * view.interval) return;
    tip.show(null, null);
    view.zoom = [a * 1000, b * 1000];
    view.decide(store);
  },
  // a double click: back to the range
  reset() {
    if (!view.zoom) return;
    view.zoom = null;
    view.decide(store);
  },
  cursor: (chart, t) => tip.show(chart, t),
});

// The view changed (a range, a zoom, a read done): every chart is drawn
// again, and the controls say what is shown.
function viewChanged() {
  const d = view.data;
  timeline.setStored(d && !d.memory ? d.events : null, d?.until);
  const sel = $('#range');
  const want = view.zoom ? 'zoom' : String(view.preset);
  if (sel.value !== want) sel.value = want;
  setAttr($('#live'), 'aria-pressed', String(view.isLive()));
  const [from, to] = view.window(store);
  const today = new Date().toDateString() === new Date(from).toDateString();
  const when = view.zoom ? `${today ? f.clock(from) : f.dateTime(from)} – ${f.clock(to)}` : '';
  setText($('#range-note'), [when, view.describe()].filter(Boolean).join(' · '));
  document.documentElement.dataset.view = view.pending ? 'reading' : view.zoom ? 'past' : view.data ? 'history' : 'stream';
  redrawAll();
}

// Presets longer than the stream's rows in memory need history on disk.
function presetsFromHello() {
  for (const o of $('#range').options) {
    const s = Number(o.value);
    if (!(s > 0)) continue;
    o.disabled = !view.stored && s * 1000 > store.windowMs;
    o.title = o.disabled ? 'history on disk is off' : '';
  }
}

// ---------------------------------------------------------------- connection state

let statusTimer = 0;

function status() {
  const interval = hello?.interval_ms ?? 1000;
  let state = conn.state;
  let text = state;
  const quiet = Date.now() - conn.lastEvent;
  if (state === 'live' && conn.lastEvent && quiet > 3 * interval) {
    state = 'stale';
    text = `stale · no data for ${f.duration(quiet / 1000)}`;
  } else if (state === 'reconnecting') {
    text = `reconnecting · retry ${conn.retries}`;
  } else if (state === 'live' && store.lastT) {
    text = `live · ${f.clock(store.lastT)}`;
  }
  setText($('#status'), text);
  const st = $('#status');
  for (const s of ['live', 'stale', 'reconnecting', 'connecting']) setClass(st, s, s === state);
  for (const s of ['live', 'stale', 'reconnecting', 'connecting']) setClass($('#dot'), s, s === state);
  if (document.documentElement.dataset.conn !== state) document.documentElement.dataset.conn = state;
  // The next look without an event: when the stream would turn stale,
  // then every second while it is (the text counts the silence). Each
  // tick's drawing calls this first, so no timer fires beside the tick
  // while events come.
  clearTimeout(statusTimer);
  const wait = state === 'stale' ? 1000 : state === 'live' && conn.lastEvent ? conn.lastEvent + 3 * interval - Date.now() + 50 : 0;
  statusTimer = wait > 0 ? setTimeout(() => document.hidden || status(), wait) : 0;
}

// Which panels this daemon has, which are off and why.
function topicsFromHello(h) {
  marked.clear();
  const on = new Set(h.topics || []);
  const off = h.off || {};
  for (const el of document.querySelectorAll('[data-topic]')) {
    const t = el.dataset.topic;
    const reason = off[t];
    const known = on.has(t) || reason !== undefined;
    // A panel marked data-off="hide" (GPU) shows only where its topic is
    // on, even when a part of it is on (below).
    el.hidden = !known || (reason !== undefined && el.dataset.off === 'hide');
    if (!known) {
      el.dataset.state = 'absent';
      continue;
    }
    for (const part of el.querySelectorAll(':scope > header > .seg')) part.hidden = reason !== undefined;
    const offEl = el.querySelector(':scope > .off');
    const body = el.querySelector(':scope > .body');
    const waiting = !reason && !store.seen.has(t);
    el.dataset.state = reason !== undefined ? 'off' : waiting ? 'waiting' : 'data';
    if (offEl) {
      offEl.hidden = !reason && !waiting;
      offEl.classList.toggle('wait', waiting);
      const label = el.dataset.label ? `${el.dataset.label} ` : '';
      offEl.textContent = reason ? `${label}off: ${reason}` : waiting ? 'waiting for the first sample…' : '';
    }
    if (body) body.hidden = Boolean(reason);
    el.classList.toggle('is-off', Boolean(reason));
  }
  // A panel whose own topic is absent but holds a present one stays.
  for (const el of document.querySelectorAll('.panel')) {
    if (!el.hidden || !el.querySelector('[data-topic]:not([hidden])')) continue;
    el.hidden = false;
    for (const part of el.querySelectorAll(':scope > .off, :scope > .body, :scope > header > .seg')) part.hidden = true;
  }
  // A panel whose topic is off here, with no part on, takes no room in
  // the grid: it collapses into the line at the end of the page, which
  // says why (the panels marked data-off="hide" too).
  const collapsed = [];
  for (const el of document.querySelectorAll('.panel[data-topic]')) {
    const t = el.dataset.topic;
    if (off[t] === undefined || [...el.querySelectorAll('[data-topic]')].some((p) => on.has(p.dataset.topic))) continue;
    el.hidden = true;
    collapsed.push(`${el.querySelector('h2')?.textContent ?? t} off: ${off[t].replace(/^off: /, '')}`);
  }
  setText($('#foot'), collapsed.join(' · '));
}

// ---------------------------------------------------------------- messages

function onMessage(m) {
  switch (m.type) {
    case 'init':
      if (m.hello) onHello(m.hello);
      onSnapshot(m.snapshot);
      if (m.conn) setConn(m.conn);
      if (m.snapshot.t) conn.lastEvent = Date.now();
      redrawAll();
      break;
    case 'hello':
      onHello(m.hello);
      break;
    case 'snapshot':
      debug.snapshots++;
      onSnapshot(m.snapshot);
      conn.lastEvent = Date.now();
      redrawAll();
      break;
    case 'events':
      for (const e of m.events) {
        debug.lastId = e.id;
        store.applyEvent(e.topic, e.data, e.id);
        panels[e.topic]?.onEvent?.(e.data);
        onTimeline(e.topic, e.data);
        redraw(e.topic);
      }
      view.feed(store);
      conn.lastEvent = Date.now();
      redraw('host'); // the uptime, and the status line
      break;
    case 'conn':
      setConn(m);
      break;
    default:
  }
}

function onHello(h) {
  hello = h;
  store.applyHello(h);
  view.setup(h);
  topicsFromHello(h);
  presetsFromHello();
  redrawAll();
}

// The first snapshot decides where the charts' rows come from (a read of
// the history when the daemon's rows in memory are shorter than the
// range, as after a restart); later ones (a reconnect) only add rows.
function onSnapshot(s) {
  store.applySnapshot(s);
  timeline.resetLive();
  timeline.addLog(store.backlog.log);
  timeline.addFiles(store.backlog.file);
  presetsFromHello();
  if (!view.decided && hello) {
    view.decided = true;
    view.decide(store);
  } else {
    view.feed(store);
  }
}

// Events that mark the charts' timeline.
function onTimeline(topic, p) {
  if (topic === 'log') timeline.addLog(store.fresh);
  else if (topic === 'file') timeline.addFiles(store.fresh);
  else if (topic === 'units') timeline.addUnits(p);
}

function setConn(m) {
  // Just (re)connected: quiet is counted from now, not from before the drop.
  if (m.state === 'live' && conn.state !== 'live') conn.lastEvent = Date.now();
  conn.state = m.state;
  conn.retries = m.retries;
  status();
}

// ---------------------------------------------------------------- connecting

function inPage() {
  const feed = new Feed('events', onMessage, false);
  feed.start();
  debug.mode = 'page';
  debug.staleAfter = (ms) => feed.staleAfter(ms);
}

function shared() {
  let worker;
  try {
    worker = new SharedWorker(new URL('worker.js', import.meta.url), { type: 'module', name: 'sysfeed' });
  } catch {
    return false;
  }
  const port = worker.port;
  let alive = false;
  port.onmessage = (e) => {
    alive = true;
    onMessage(e.data);
  };
  worker.onerror = () => {
    if (!alive) inPage();
  };
  port.start();
  port.postMessage({ type: 'attach' });
  addEventListener('pagehide', () => port.postMessage({ type: 'bye' }));
  addEventListener('pageshow', (e) => {
    if (e.persisted) port.postMessage({ type: 'attach' });
  });
  debug.mode = 'shared';
  debug.staleAfter = (ms) => port.postMessage({ type: 'stale-after', ms });
  return true;
}

if (typeof SharedWorker !== 'function' || !shared()) inPage();
