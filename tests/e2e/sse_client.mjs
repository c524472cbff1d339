// One third-party SSE client from npm reading a stream, in its own process
// (fetch-event-source needs a `window` and a `document`, which would leak
// into every other library of a shared process).
//
// usage: node sse_client.mjs eventsource2|eventsource5|fetch-event-source URL
//
// Prints one JSON object per line: {"open": status} for each response, then
// {"type", "id", "len"} for each event the client hands to its user
// (hello with "json": whether its data is one JSON document). The
// clients reconnect by themselves; this runs until killed.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [kind, url] = process.argv.slice(2);

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function isJson(s) {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

// Every event name the daemon may send; hello names this daemon's topics.
const TOPICS = ['cpu', 'mem', 'load', 'psi', 'net', 'disk', 'fs', 'proc', 'svc', 'temp', 'host', 'log',
  'file', 'units', 'alert'];

// An EventSource (npm eventsource 2 or 5): one listener per event name.
function withEventSource(EventSource) {
  const es = new EventSource(url);
  const listening = new Set();
  const record = (e) => out({ type: e.type, id: e.lastEventId, len: e.data.length });
  const listen = (t) => {
    if (listening.has(t)) return;
    listening.add(t);
    es.addEventListener(t, record);
  };
  es.onopen = () => out({ open: 200 });
  es.onmessage = record;
  es.addEventListener('hello', (e) => {
    const hello = isJson(e.data) ? JSON.parse(e.data) : null;
    out({ type: e.type, id: e.lastEventId, len: e.data.length, json: Boolean(hello) });
    for (const t of hello?.topics ?? []) listen(t);
  });
  es.addEventListener('snapshot', record);
  for (const t of TOPICS) listen(t);
}

async function withFetchEventSource() {
  // What the library reads from a browser: timers on `window`, visibility
  // on `document` (openWhenHidden keeps it from listening to it).
  globalThis.window = { setTimeout, clearTimeout, fetch };
  globalThis.document = { hidden: false, addEventListener() {}, removeEventListener() {} };
  const { fetchEventSource } = require('@microsoft/fetch-event-source');
  await fetchEventSource(url, {
    openWhenHidden: true,
    fetch,
    async onopen(res) {
      out({ open: res.status });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
    onmessage(m) {
      const o = { type: m.event || 'message', id: m.id, len: m.data.length };
      if (m.event === 'hello') o.json = isJson(m.data);
      out(o);
    },
    onclose() {
      throw new Error('stream ended'); // retried, like a network error
    },
    onerror() {
      // undefined: retry after the stream's `retry`
    },
  });
}

// eventsource 5 unrefs its reconnect timer: this process has nothing else to wait for.
setInterval(() => {}, 1 << 30);

if (kind === 'eventsource2') withEventSource(require('eventsource2'));
else if (kind === 'eventsource5') withEventSource((await import('eventsource5')).EventSource);
else if (kind === 'fetch-event-source') await withFetchEventSource();
else {
  console.error(`unknown client ${kind}`);
  process.exit(2);
}
