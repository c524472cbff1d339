// The one connection: an EventSource to `events` (relative, so the page
// works behind a proxy at a sub-path), its state, and resume. Runs inside
// the SharedWorker, or in the page where SharedWorker is missing.
//
// The browser reconnects by itself after a network error and sends
// Last-Event-ID, so the daemon replays exactly what was missed. When the
// EventSource gives up (an HTTP error, e.g. a proxy's 502 while the daemon
// is down), a new one is opened with ?lastEventId= after a backoff.
//
// A connection can also die silently: a NAT that forgot the flow, a laptop
// that slept, a proxy that hung. TCP reports nothing for many minutes and
// the EventSource stays open. Periodic topics send an event every interval
// and the daemon a `: keepalive` comment after 15 s of silence, but an
// EventSource hands comments to no script, so events are the only sign of
// life it can see: after max(10 intervals, 30 s) without one, the
// EventSource is closed and a new one opened with ?lastEventId=, which
// resumes exactly.

import { Store } from './store.js';

// Topic events listened for before hello names the daemon's own.
const KNOWN = ['cpu', 'mem', 'load', 'psi', 'net', 'disk', 'fs', 'proc', 'svc', 'temp', 'host',
  'log', 'file', 'units'];
const STALE_INTERVALS = 10;
const STALE_MIN_MS = 30e3;
// Event-driven topics (the journal, file changes) may bring hundreds of
// events a second: theirs wait for the next tick's events, or for one
// interval when no tick comes, and go to the views with them, so that a
// view draws at most once per tick whatever the journal's rate.
const PACED = new Set(['log', 'file']);

export class Feed {
  // emit(msg) delivers a message to every view; keepState keeps a Store
  // so that views attaching later get everything at once.
  constructor(url, emit, keepState) {
    this.url = url;
    this.emit = emit;
    this.store = keepState ? new Store() : null;
    this.es = null;
    this.listening = new Set();
    this.lastId = '';
    this.state = 'connecting';
    this.retries = 0;
    this.timer = 0;
    this.intervalMs = 1000; // from hello
    this.staleMs = 0; // set by staleAfter(); 0: max(10 intervals, 30 s)
    this.lastSeen = 0;
    this.watchdog = 0;
    this.batch = []; // topic events not yet emitted
    this.soon = 0; // the timer that emits the batch after this task
    this.later = 0; // the timer that emits paced events after an interval
  }

  start() {
    const url = this.lastId ? `${this.url}?lastEventId=${encodeURIComponent(this.lastId)}` : this.url;
    const es = new EventSource(url);
    this.es = es;
    this.listening.clear();
    this.alive();
    es.onopen = () => {
      this.alive();
      this.setState('live');
    };
    es.onerror = () => this.onError(es);
    es.addEventListener('hello', (e) => this.onHello(e));
    es.addEventListener('snapshot', (e) => this.onSnapshot(e));
    for (const t of KNOWN) this.listen(t);
  }

  listen(topic) {
    if (this.listening.has(topic) || topic === 'hello' || topic === 'snapshot') return;
    this.listening.add(topic);
    this.es.addEventListener(topic, (e) => this.onTopic(topic, e));
  }

  onError(es) {
    if (es !== this.es) return;
    this.retries++;
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      clearTimeout(this.timer);
      clearTimeout(this.watchdog); // start() sets it again
      this.watchdog = 0;
      const delay = Math.min(30e3, 2000 * 2 ** Math.min(4, Math.floor(this.retries / 3)));
      this.timer = setTimeout(() => this.start(), delay);
    }
    this.setState('reconnecting');
  }

  // Milliseconds without an event after which the connection is taken
  // for dead; ms overrides it (tests), 0 restores the default.
  staleAfter(ms) {
    this.staleMs = ms > 0 ? ms : 0;
    this.check();
  }

  limit() {
    return this.staleMs || Math.max(STALE_INTERVALS * this.intervalMs, STALE_MIN_MS);
  }

  // Something came: the connection is alive. The watchdog is one timeout
  // per limit, not one per event: it looks at lastSeen when it fires.
  alive() {
    this.lastSeen = Date.now();
    if (!this.watchdog) this.watchdog = setTimeout(() => this.check(), this.limit());
  }

  check() {
    clearTimeout(this.watchdog);
    this.watchdog = 0;
    if (!this.es || this.es.readyState === EventSource.CLOSED) return; // the backoff reopens it
    const quiet = Date.now() - this.lastSeen;
    if (quiet < this.limit()) {
      this.watchdog = setTimeout(() => this.check(), this.limit() - quiet);
      return;
    }
    this.es.close();
    this.retries++;
    this.setState('reconnecting');
    this.start();
  }

  setState(state) {
    this.send();
    if (state === 'live') this.retries = 0;
    this.state = state;
    this.emit(this.connMsg());
  }

  connMsg() {
    return { type: 'conn', state: this.state, retries: this.retries };
  }

  track(e) {
    this.alive();
    if (e.lastEventId) this.lastId = e.lastEventId;
    if (this.state !== 'live') this.setState('live');
  }

  parse(e) {
    try {
      return JSON.parse(e.data);
    } catch {
      return null;
    }
  }

  onHello(e) {
    const h = this.parse(e);
    if (!h) return;
    this.track(e);
    this.send();
    if (h.interval_ms > 0) this.intervalMs = h.interval_ms;
    for (const t of h.topics || []) this.listen(t);
    this.store?.applyHello(h);
    this.emit({ type: 'hello', hello: h });
  }

  onSnapshot(e) {
    const s = this.parse(e);
    if (!s) return;
    this.track(e);
    this.send();
    this.store?.applySnapshot(s);
    this.emit({ type: 'snapshot', snapshot: s });
  }

  onTopic(topic, e) {
    const p = this.parse(e);
    if (!p) return;
    this.track(e);
    this.store?.applyEvent(topic, p, e.lastEventId);
    this.batch.push({ topic, data: p, id: e.lastEventId });
    if (!PACED.has(topic)) this.soon ||= setTimeout(() => this.send(), 0);
    else this.later ||= setTimeout(() => this.send(), this.intervalMs);
  }

  // The events of one tick arrive together: they go to the views as one
  // message, so that a view draws them in one frame.
  send() {
    clearTimeout(this.soon);
    clearTimeout(this.later);
    this.soon = 0;
    this.later = 0;
    if (!this.batch.length) return;
    const events = this.batch;
    this.batch = [];
    this.emit({ type: 'events', events });
  }

  // The message that brings a newly attached view up to date.
  initMsg() {
    return { type: 'init', hello: this.store.hello, snapshot: this.store.export(), conn: this.connMsg() };
  }
}
