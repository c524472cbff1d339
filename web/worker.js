// The SharedWorker: one EventSource for every tab of this origin (browsers
// allow ~6 HTTP/1.1 connections per host). A tab attaches with
// {type: 'attach'}, gets everything known so far, then every message; it
// says {type: 'bye'} when it goes away. {type: 'stale-after', ms} sets how
// long a silent connection is kept (see Feed.staleAfter; for tests).

import { Feed } from './feed.js';

const ports = new Set();
const feed = new Feed('events', (msg) => {
  for (const p of ports) p.postMessage(msg);
}, true);

self.onconnect = (ev) => {
  const port = ev.ports[0];
  port.onmessage = (e) => {
    if (e.data?.type === 'attach') {
      feed.send(); // what the others have not had yet is in the init message
      ports.add(port);
      port.postMessage(feed.initMsg());
    } else if (e.data?.type === 'bye') {
      ports.delete(port);
    } else if (e.data?.type === 'stale-after') {
      feed.staleAfter(e.data.ms);
    }
  };
  port.start();
};

feed.start();
