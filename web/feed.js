// The one connection: an EventSource to `events` (relative, so the page
// works behind a proxy at a sub-path), its state, and resume. Runs inside
// the SharedWorker, or in the page where SharedWorker is missing.
//
// The browser reconnects by itself after a network error and sends
// Last-Event-ID, so the daemon replays exactly what was missed. When the
// EventSource gives up (an HTTP error, e.g. a proxy's 502 while the daemon
// is down), a new one is opened with ?lastEventId= after a backoff.

import { Store } from './store.js';

// Topic events listened for before hello names the daemon's own.
const KNOWN = ['cpu', 'mem', 'load', 'psi', 'net', 'disk', 'fs', 'proc', 'svc', 'temp', 'host',
  'log', 'file', 'units'];

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
  }

  start() {
    const url = this.lastId ? `${this.url}?lastEventId=${encodeURIComponent(this.lastId)}` : this.url;
    const es = new EventSource(url);
    this.es = es;
    this.listening.clear();
    es.onopen = () => this.setState('live');
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
      const delay = Math.min(30e3, 2000 * 2 ** Math.min(4, Math.floor(this.retries / 3)));
      this.timer = setTimeout(() => this.start(), delay);
    }
    this.setState('reconnecting');
  }

  setState(state) {
    if (state === 'live') this.retries = 0;
    this.state = state;
    this.emit(this.connMsg());
  }

  connMsg() {
    return { type: 'conn', state: this.state, retries: this.retries };
  }

  track(e) {
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
    for (const t of h.topics || []) this.listen(t);
    this.store?.applyHello(h);
    this.emit({ type: 'hello', hello: h });
  }

  onSnapshot(e) {
    const s = this.parse(e);
    if (!s) return;
    this.track(e);
    this.store?.applySnapshot(s);
    this.emit({ type: 'snapshot', snapshot: s });
  }

  onTopic(topic, e) {
    const p = this.parse(e);
    if (!p) return;
    this.track(e);
    this.store?.applyEvent(topic, p);
    this.emit({ type: 'event', topic, data: p, id: e.lastEventId });
  }

  // The message that brings a newly attached view up to date.
  initMsg() {
    return { type: 'init', hello: this.store.hello, snapshot: this.store.export(), conn: this.connMsg() };
  }
}
