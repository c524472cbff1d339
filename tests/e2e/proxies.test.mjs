// The page behind nginx, HAProxy and Caddy, each with its snippet of
// tests/e2e (the ones README shows): it loads at a sub-path, streams, and
// resumes without a gap when the proxy restarts. Between each proxy and
// the daemon sits a pass-through TCP proxy that records what the proxy
// asked the daemon for. Run by `make check-e2e`.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import {
  REVERSE_PROXIES, getJson, launch, startDaemon, startHaproxy, tmpdir, until, waitLive, waitPanels,
  watchedPage,
} from './lib.mjs';
import { startCutProxy } from './cutproxy.mjs';

let daemon;
let recorder;
let browser;

before(async () => {
  daemon = await startDaemon();
  recorder = await startCutProxy(daemon.port);
  browser = await launch();
});

after(async () => {
  await daemon?.stop();
  await recorder?.close();
  await browser?.close();
});

// Milliseconds each event arrives later through url than through base,
// over ms of streaming: {n, median, p90}.
function extraDelay(base, url, ms) {
  const read = (u, seen) => new Promise((resolve) => {
    const req = http.get(u, (res) => {
      let buf = '';
      res.on('data', (c) => {
        const now = performance.now();
        buf += c;
        for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
          const id = /(?:^|\n)id: (\S+)/.exec(buf.slice(0, i));
          if (id && !seen.has(id[1])) seen.set(id[1], now);
        }
      });
    });
    req.on('error', () => resolve());
    setTimeout(() => {
      req.destroy();
      resolve();
    }, ms);
  });
  const a = new Map();
  const b = new Map();
  return Promise.all([read(base, a), read(url, b)]).then(() => {
    const d = [...a].filter(([id]) => b.has(id)).map(([id, t]) => b.get(id) - t).sort((x, y) => x - y);
    const q = (p) => d[Math.floor(p * (d.length - 1))];
    return { n: d.length, median: q(0.5), p90: q(0.9) };
  });
}

describe('behind a reverse proxy', () => {
  for (const [name, start] of Object.entries(REVERSE_PROXIES)) {
    it(`${name}: the page at /sysfeed/ streams and resumes without a gap after the proxy restarts`, async () => {
      const proxy = await start(recorder.port);
      try {
        const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
        const page = await watchedPage(ctx);
        await page.goto(proxy.url.replace(/\/$/, '')); // /sysfeed redirects to /sysfeed/
        assert.equal(page.url(), proxy.url);
        await waitPanels(page, 5000);
        await waitLive(page);
        const seq = () => page.evaluate(() => ({ ...window.sysfeed.store.seq }));
        const before0 = await until(async () => (await seq()).last > 0 && seq(), 5000, 'a live event');
        const snapshots = await page.evaluate(() => window.sysfeed.snapshots);

        await proxy.stop();
        const downAt = Date.now();
        await until(() => page.evaluate(() => document.documentElement.dataset.conn === 'reconnecting'), 10000,
          `"reconnecting" with ${name} down`);
        await proxy.start();
        await waitLive(page, 20000);
        const after0 = await until(async () => {
          const q = await seq();
          return q.last >= before0.last + 20 && q;
        }, 15000, 'twenty events more');
        const resumed = recorder.requests.find((r) => r.path === '/events' && r.time > downAt);
        assert.ok(resumed, 'a new request for events after the restart');
        assert.match(resumed.lastEventId, new RegExp(`^${before0.instance}-\\d+$`),
          `${name} passed the last event id on (${JSON.stringify(resumed.headers)})`);
        assert.equal(after0.gaps, before0.gaps, `no seq missed across the restart (${JSON.stringify(after0)})`);
        // Replayed from the ring, not resynced, unless the ring moved past
        // the last event seen meanwhile (a journal flood elsewhere).
        const ring = (await getJson(`${daemon.url}healthz`)).ring;
        const lastSeq = Number(resumed.lastEventId.split('-')[1]);
        const nowSnapshots = await page.evaluate(() => window.sysfeed.snapshots);
        if (ring.first <= lastSeq + 1) assert.equal(nowSnapshots, snapshots, 'resumed by replay, no new snapshot');
        else console.log(`# the ring moved past ${lastSeq} (first ${ring.first}): resynced by snapshot`);
        const problems = (await page.problems()).filter((p) => !/net::ERR_|Failed to load resource/.test(p));
        assert.deepEqual(problems, []);
        await ctx.close();

        const d = await extraDelay(`${recorder.url}events`, `${proxy.url}events`, 3000);
        console.log(`# ${name}: reconnected ${resumed.time - downAt} ms after the stop, with Last-Event-ID `
          + `${resumed.headers['last-event-id'] ? 'header' : 'query'}; `
          + `${d.n ? `each event later than direct by a median ${d.median.toFixed(2)} ms, p90 ${d.p90.toFixed(2)} ms (${d.n} events)` : 'no event read both ways'}`);
      } finally {
        await proxy.stop();
      }
    });
  }

  it('HAProxy: timeout server is an idle time that keepalive comments reset', async () => {
    // Both at a small scale: timeout server 3 s; one daemon sends a
    // keepalive every second, the other every 15 s. A stream of a quiet
    // topic lives through the first and is cut by the second. Time counts
    // from the stream's first bytes (a loaded machine starts slowly): the
    // first must still be open 6 s after them, with keepalives read.
    const quiet = tmpdir('quiet');
    const run = async (keepalive) => {
      const d = await startDaemon({ config: `keepalive = ${keepalive}\nwatch = ${quiet}\n` });
      const h = await startHaproxy(d.port, { edit: (t) => t.replace('timeout server 60s', 'timeout server 3s') });
      try {
        return await new Promise((resolve, reject) => {
          const got = { keepalives: 0, ended: false, openMs: 0 };
          let first = 0;
          const done = () => {
            clearInterval(check);
            clearTimeout(deadline);
            got.openMs = first ? Date.now() - first : 0;
            resolve({ ...got });
            req.destroy();
          };
          const req = http.get(`${h.url}events?topics=file`, (res) => {
            res.setEncoding('utf8');
            res.on('data', (c) => {
              first ||= Date.now();
              got.keepalives += c.split(': keepalive\n').length - 1;
            });
            res.on('end', () => (got.ended = true));
            res.on('error', () => (got.ended = true));
            res.on('close', () => (got.ended = true));
          });
          req.on('error', reject);
          const check = setInterval(() => {
            if (got.ended || (first && Date.now() - first >= 6000)) done();
          }, 100);
          const deadline = setTimeout(done, 60000);
        });
      } finally {
        await h.stop();
        await d.stop();
      }
    };
    try {
      const [often, seldom] = await Promise.all([run(1), run(15)]);
      console.log(`# timeout server 3 s: keepalive 1 s -> ${JSON.stringify(often)}; keepalive 15 s -> ${JSON.stringify(seldom)}`);
      assert.ok(!often.ended && often.openMs >= 6000 && often.keepalives >= 3,
        'a keepalive every second keeps the stream open');
      assert.ok(seldom.ended, 'without them HAProxy ends the stream: the timeout is in force');
    } finally {
      fs.rmSync(quiet, { recursive: true, force: true });
    }
  });
});
