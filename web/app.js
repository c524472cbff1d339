// The page: attaches to the shared connection (feed.js in a SharedWorker,
// or in this page where SharedWorker is missing), keeps a Store, and draws
// what changed once per animation frame. A hidden tab draws nothing but
// keeps accumulating, so it is current when it comes back.

import { Feed } from './feed.js';
import { Store } from './store.js';
import { $, setClass, setText } from './dom.js';
import { makePanels } from './panels/index.js';
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
let rangeS = Number($('#range').value);

const panels = makePanels(redraw);
debug.panels = panels;
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
  const now = store.lastT ? store.lastT / 1000 : Date.now() / 1000;
  return { store, hello, interval, gapS: interval * 3.5, xr: [now - rangeS, now], redraw };
}

function flush() {
  raf = 0;
  if (document.hidden) return; // drawn on return, see visibilitychange
  const c = ctx();
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

// A metric panel out of sight (its topic hidden, or scrolled more than a
// margin away) is not drawn: it stays dirty and is drawn when it comes
// into view. The journal and file feeds and the alerts (their bar is at
// the top, their marks on the charts) are always drawn: they change only
// when something happens, and incrementally.
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
}, { rootMargin: '200px 0px' });
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
  const charts = Object.values(panels).flatMap((p) => p.charts?.() ?? []);
  const widths = charts.map((ch) => ch.plot.clientWidth);
  charts.forEach((ch, i) => ch.resize(widths[i]));
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

$('#range').addEventListener('change', (e) => {
  rangeS = Number(e.target.value);
  redrawAll();
});

// ---------------------------------------------------------------- connection state

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
}
setInterval(() => document.hidden || status(), 1000);

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
    // on; the footer says why it is not there.
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
  const notShown = [...document.querySelectorAll('[data-off="hide"]')]
    .filter((el) => off[el.dataset.topic] !== undefined)
    .map((el) => `${el.querySelector('h2')?.textContent ?? el.dataset.topic} off: ${off[el.dataset.topic]}`);
  setText($('#foot'), notShown.join(' · '));
  // A panel whose own topic is absent but holds a present one stays.
  for (const el of document.querySelectorAll('.panel')) {
    if (!el.hidden || !el.querySelector('[data-topic]:not([hidden])')) continue;
    el.hidden = false;
    for (const part of el.querySelectorAll(':scope > .off, :scope > .body, :scope > header > .seg')) part.hidden = true;
  }
}

// ---------------------------------------------------------------- messages

function onMessage(m) {
  switch (m.type) {
    case 'init':
      if (m.hello) onHello(m.hello);
      store.applySnapshot(m.snapshot);
      if (m.conn) setConn(m.conn);
      if (m.snapshot.t) conn.lastEvent = Date.now();
      redrawAll();
      break;
    case 'hello':
      onHello(m.hello);
      break;
    case 'snapshot':
      debug.snapshots++;
      store.applySnapshot(m.snapshot);
      conn.lastEvent = Date.now();
      redrawAll();
      break;
    case 'events':
      for (const e of m.events) {
        debug.lastId = e.id;
        store.applyEvent(e.topic, e.data, e.id);
        panels[e.topic]?.onEvent?.(e.data);
        redraw(e.topic);
      }
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
  topicsFromHello(h);
  redrawAll();
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
