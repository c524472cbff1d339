// The page end to end: the real daemon, Debian's chromium, nginx, journald.
// Run by `make check-e2e` (node --test; node 18 or later).

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  DESKTOP, OUT, contextPool, ensureJournald, get, getJson, hello, journalSend, launch, readStream, sleep, startDaemon,
  startNginx, tmpdir, until, waitLive, waitPanels, watchedPage,
} from './lib.mjs';
import { startCutProxy } from './cutproxy.mjs';

const MINUTE_MS = Number(process.env.E2E_MINUTE_MS || 60000);
const PHONE = { width: 390, height: 844 };

let daemon;
let config;
let browser;
let journald;
let watchDir;

// Topics whose panel is the header rather than a [data-topic] element.
const HEADER_TOPICS = new Set(['host']);

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  journald = await ensureJournald().catch((error) => ({ error, stop: async () => {} }));
  watchDir = tmpdir('watch');
  config = `watch = ${watchDir}\n`;
  daemon = await startDaemon({ config });
  // The page must show history from before it was opened: let a few
  // ticks pass first.
  await until(async () => (await getJson(`${daemon.url}api/snapshot`)).history?.cpu?.rows?.length >= 4, 15000, 'four ticks of history');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  await journald?.stop();
  if (watchDir) fs.rmSync(watchDir, { recursive: true, force: true });
});

const pool = contextPool(() => browser);
const { newContext } = pool;

// The topic is on in this daemon (h: its hello), or why not.
function assertActive(h, topic) {
  assert.ok(h.topics.includes(topic), `the ${topic} topic is active (off: ${h.off?.[topic] ?? 'not in this daemon'})`);
}

async function healthClients(url) {
  return (await getJson(`${url}healthz`)).clients;
}

describe('the page', () => {
  afterEach(pool.closeAll);

  it('loads without console errors or CSP violations, and every active panel shows data within 2 s, charts with history from before it opened', async () => {
    const ctx = await newContext({ viewport: DESKTOP });
    const page = await watchedPage(ctx);
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    const opened = Date.now();
    await page.goto(daemon.url);
    const h = await hello(page);
    await waitPanels(page, Math.max(0, 2000 - (Date.now() - opened)));
    const loadedIn = Date.now() - opened;

    const noPanel = await page.evaluate((ts) => ts.filter((t) => !document.querySelector(`[data-topic="${t}"]`)),
      h.topics.filter((t) => !HEADER_TOPICS.has(t)));
    assert.deepEqual(noPanel, [], 'every active topic has a panel');
    for (const [t, why] of Object.entries(h.off || {})) {
      const txt = await page.evaluate((topic) => document.querySelector(`[data-topic="${topic}"] > .off`)?.textContent ?? '', t);
      assert.ok(txt.includes(why), `off topic ${t} shows why: "${why}" (page: "${txt}")`);
    }
    if (h.topics.includes('host')) assert.notEqual(await page.locator('#os').textContent(), '', 'header shows the OS');

    // The charts were filled from the snapshot's history, so their first
    // point is older than the page.
    const first = await page.evaluate(() => {
      const p = window.sysfeed.panels;
      const out = {};
      for (const [name, panel] of Object.entries(p)) {
        for (const ch of panel.charts?.() ?? []) {
          const d = ch.u?.data;
          if (!d) continue;
          const i = d[0].findIndex((x, k) => d.slice(1).some((y) => y[k] !== null && y[k] !== undefined));
          out[name] = i < 0 ? null : d[0][i] * 1000;
        }
      }
      return out;
    });
    for (const t of ['cpu', 'mem', 'load']) {
      assert.ok(first[t] && first[t] < opened - 1000, `${t} chart starts before the page opened (${first[t]} < ${opened})`);
    }
    await sleep(2500);
    assert.deepEqual(await page.problems(), [], 'no console errors, page errors or CSP violations');
    for (const u of requests) {
      assert.ok(u.startsWith(daemon.url) || u.startsWith('data:'), `same-origin request: ${u}`);
    }
    console.log(`# every active panel had data ${loadedIn} ms after navigation; ${requests.length} requests from the page`);
    await ctx.close();
  });

  it('shows a journal line written during the test, and a file touched in a watched directory', async () => {
    assert.ok(!journald.error, `a journald to write to: ${journald.error?.message}`);
    const { ctx, page, h } = await pool.open(daemon.url);
    assertActive(h, 'log');
    assertActive(h, 'file');

    // Found through the panel's text filter, as on a busy host: other
    // writers' lines move a followed list's window past it within seconds.
    const token = `e2e-${process.pid}-${Date.now()}`;
    await page.fill('#log-text', token);
    journalSend(`sysfeed e2e journal line ${token}`);
    await until(async () => (await page.locator('#log-list').textContent()).includes(token), 5000, 'the journal line in the log panel');

    const name = `touched-${token}.txt`;
    fs.writeFileSync(path.join(watchDir, name), 'x\n');
    await until(async () => (await page.locator('#file-list').textContent()).includes(name), 5000, 'the file change in the file panel');
    assert.deepEqual(await page.problems(), []);
    await ctx.close();
  });

  it('renders a journal message with markup as text', async () => {
    assert.ok(!journald.error, `a journald to write to: ${journald.error?.message}`);
    const { ctx, page, h } = await pool.open(daemon.url);
    assertActive(h, 'log');
    const token = `xss-${process.pid}-${Date.now()}`;
    const evil = `<img src=x onerror="window.__pwned=1"> ${token}`;
    // found through the text filter, as the line above (a busy journal)
    await page.fill('#log-text', token);
    journalSend(evil, { priority: 'warning' });
    const row = page.locator('#log-list .le', { hasText: token });
    await until(async () => (await row.count()) > 0, 5000, 'the message in the log panel');
    assert.ok((await row.first().textContent()).includes('<img src=x onerror="window.__pwned=1">'), 'shown as text');
    assert.equal(await page.locator('#log-list img').count(), 0, 'no element made of it');
    await sleep(500);
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'window.__pwned stays undefined');
    await ctx.close();
  });

  it('has five tabs share one /events connection', async () => {
    await until(async () => (await healthClients(daemon.url)) === 0, 10000, 'no clients left from earlier tests');
    const ctx = await newContext({ viewport: DESKTOP });
    const pages = [];
    for (let i = 0; i < 5; i++) {
      const p = await watchedPage(ctx);
      await p.goto(daemon.url);
      pages.push(p);
    }
    for (const p of pages) await waitPanels(p, 5000);
    for (const p of pages) assert.equal(await p.evaluate(() => window.sysfeed.mode), 'shared');
    await sleep(2000);
    assert.equal(await healthClients(daemon.url), 1, 'one client for five tabs');
    for (const p of pages) assert.deepEqual(await p.problems(), []);
    await ctx.close();
  });

  it('stops drawing while hidden but keeps the data, and keeps the log panel at 2,000 rows', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    const hide = (hidden) => page.evaluate((v) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => v });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
    await hide(true);
    await sleep(300);
    const before1 = await page.evaluate(() => ({ draws: window.sysfeed.draws, rows: window.sysfeed.store.hist.cpu.rows.length, t: window.sysfeed.store.lastT }));
    await sleep(3000);
    const after1 = await page.evaluate(() => ({ draws: window.sysfeed.draws, rows: window.sysfeed.store.hist.cpu.rows.length, t: window.sysfeed.store.lastT }));
    assert.equal(after1.draws, before1.draws, 'nothing drawn while hidden');
    assert.ok(after1.t >= before1.t + 2000, 'data kept arriving while hidden');
    await hide(false);
    await until(() => page.evaluate((d) => window.sysfeed.draws > d, after1.draws), 2000, 'a draw on return');
    const lastX = await page.evaluate(() => { const d = window.sysfeed.panels.cpu.chart.u.data[0]; return d[d.length - 1] * 1000; });
    assert.ok(lastX >= after1.t, 'the chart is current on return');

    // 2,500 entries into the journal panel: it holds 2,000.
    await page.evaluate(() => {
      const now = Date.now();
      const entries = Array.from({ length: 2500 }, (_, i) => ({ ts: now + i, priority: 6, unit: 'flood.service', message: `flood ${i}`, cursor: `flood-${i}` }));
      window.sysfeed.store.applyEvent('log', { t: now, entries });
      window.sysfeed.redraw('log');
    });
    await until(async () => (await page.locator('#log-list').textContent()).includes('flood 2499'), 2000, 'the flood drawn');
    assert.ok((await page.locator('#log-list .le').count()) <= 2000, 'at most 2,000 rows');
    assert.ok((await page.evaluate(() => window.sysfeed.store.backlog.log.length)) <= 2000, 'at most 2,000 entries kept');
    await ctx.close();
  });

  it('writes nothing to the DOM when a panel is drawn again with the same data', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    // Each panel drawn twice in one task, from the same store: the second
    // drawing must find everything already as it should be.
    const writes = await page.evaluate(() => {
      const { panels, store, view } = window.sysfeed;
      const c = { store, hello: store.hello, interval: 1, redraw: () => {}, ...view.frame(store) };
      const mo = new MutationObserver(() => {});
      mo.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      const out = {};
      for (const [topic, p] of Object.entries(panels)) {
        p.render(c);
        mo.takeRecords();
        p.render(c);
        const rs = mo.takeRecords();
        if (rs.length) out[topic] = rs.map((r) => `${r.type} ${r.target.nodeName}#${r.target.id || ''} ${r.attributeName ?? ''}`);
      }
      mo.disconnect();
      return out;
    });
    assert.deepEqual(writes, {}, 'no mutation from a drawing that changes nothing');
    assert.deepEqual(await page.problems(), []);
    await ctx.close();
  });

  it('runs no timer beside the tick while events come (no interval at all), and clips no bar\'s fill', async () => {
    // The connection's state is looked at again only when the stream
    // would turn stale (three intervals without an event): a timer that
    // every tick's drawing sets anew, which never fires while events come.
    const { ctx, page } = await pool.open(daemon.url, {
      setup: (p) => p.addInitScript(() => {
        const t = (window.sfTimers = { intervals: 0, fired: 0 });
        const si = window.setInterval;
        window.setInterval = function (...a) {
          t.intervals++;
          return si.apply(this, a);
        };
        const st = window.setTimeout;
        window.setTimeout = function (fn, ...a) {
          return st.call(this, (...b) => {
            t.fired++;
            if (typeof fn === 'function') fn(...b);
          }, ...a);
        };
      }),
    });
    const draws = await page.evaluate(() => window.sysfeed.draws);
    const before = await page.evaluate(() => ({ ...window.sfTimers }));
    await until(() => page.evaluate((d) => window.sysfeed.draws >= d + 3, draws), 10000, 'three more ticks drawn');
    const timers = await page.evaluate(() => window.sfTimers);
    assert.equal(timers.intervals, 0, 'no setInterval');
    assert.equal(timers.fired - before.fired, 0, 'no timer fired over three ticks');
    // A rounded clip around a fill whose width changes made Chromium lay
    // out its compositing layers afresh at every tick.
    const overflow = await page.evaluate(() => [...document.querySelectorAll('.bar')].map((b) => getComputedStyle(b).overflow));
    assert.ok(overflow.length > 0 && overflow.every((o) => o === 'visible'), `bars unclipped: ${overflow}`);
    await ctx.close();
  });

  it('keeps the last point before a chart\'s range while a line runs from it into the range', async () => {
    // A line entering the plot at its left edge from a point dropped
    // before the range was drawn in a moved chart and not in a full
    // drawing (CI: 89 pixels apart once, the two points over 4 s apart).
    const { ctx, page } = await pool.open(daemon.url);
    const [first, later] = await page.evaluate(async () => {
      const { Columns } = await import('/series.js');
      const c = new Columns([(v) => v('a')]);
      const hist = { fields: ['t', 'a'], rows: [[0, 1], [6000, 2], [7000, 3], [8000, 4], [20000, 5], [21000, 6]] };
      c.update(hist, 5, 10); // from 5 s, gap points beyond 10 s
      const a = [...c.xs];
      c.update(hist, 15, 10); // a gap point (14 s) now lies before the range
      return [a, [...c.xs]];
    });
    assert.deepEqual(first, [0, 6, 7, 8, 14, 20, 21], 'the point at 0 s, whose line enters the range, stays');
    assert.deepEqual(later, [20, 21], 'no line enters across a gap: the points before it go');
    await ctx.close();
  });

  it('keeps the newest row older than the store\'s window, where the line into a full chart starts', async () => {
    // Without it, a chart whose range reaches back as far as the store
    // (the default 10 minutes, once the page has been open that long)
    // lost the line into its left edge when drawn in full, and a moved one
    // kept it: 4 pixels apart in "moves a chart by two whole pixels".
    const { ctx, page } = await pool.open(daemon.url);
    const kept = await page.evaluate(async () => {
      const { Store } = await import('/store.js');
      const s = new Store();
      const h = { fields: ['t', 'a'], rows: [] };
      for (let t = 0; t <= 700000; t += 1000) h.rows.push([t, t]);
      h.rows.push([700400, 0]);
      s.trim(h); // the window: 600 s before the newest row, from 100.4 s
      return h.rows.slice(0, 2).map((r) => r[0]);
    });
    assert.deepEqual(kept, [100000, 101000], 'the row at 100 s stays, the ones before it go');
    await ctx.close();
  });

  it('orders the process table by what it shows: rows that show the same CPU keep their places', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    const got = await page.evaluate(async () => {
      const { orderProcs } = await import('/panels/proc.js');
      const p = (pid, cpu, rss) => ({ pid, cpu_pct: cpu, rss_bytes: rss });
      const pids = (l) => l.map((x) => x.pid);
      const first = orderProcs([p(1, 0.12, 10), p(2, 0.14, 5), p(3, 2.0, 1), p(4, 0, 7)], 'cpu');
      const prev = new Map(first.map((x, i) => [x.pid, i]));
      // 1 and 2 trade their exact values; both still show 0.1 %
      const same = orderProcs([p(1, 0.16, 10), p(2, 0.11, 5), p(3, 1.96, 1), p(4, 0, 7), p(5, 0.13, 99)], 'cpu', prev);
      // 2 now shows 0.3 %: it goes up
      const moved = orderProcs([p(1, 0.12, 10), p(2, 0.26, 5), p(3, 2.0, 1), p(4, 0, 7)], 'cpu', prev);
      const mem = orderProcs([p(1, 0, 10), p(2, 0, 5), p(1, 0, 10), p(3, 0, 50)], 'mem');
      return { first: pids(first), same: pids(same), moved: pids(moved), mem: pids(mem) };
    });
    assert.deepEqual(got.first, [3, 1, 2, 4], 'first: by CPU shown (0.1 % twice: by memory), then 0.0 %');
    assert.deepEqual(got.same, [3, 1, 2, 5, 4], 'the same shown values keep last tick\'s order; a new row after them');
    assert.deepEqual(got.moved, [3, 2, 1, 4], 'a value shown higher moves the row up');
    assert.deepEqual(got.mem, [3, 1, 2], 'by memory, one row per pid');
    // the live table: CPU as shown never rises down the rows
    const cpus = await until(async () => {
      const v = await page.evaluate(() => [...document.querySelectorAll('#proc-table tbody tr:not(.detail)')].map((tr) => parseFloat(tr.cells[3].textContent)));
      return v.length >= 2 && v;
    }, 5000, 'process rows');
    for (let i = 1; i < cpus.length; i++) assert.ok(cpus[i] <= cpus[i - 1], `row ${i}: ${cpus.join(' ')}`);
    await ctx.close();
  });

  it('moves a chart by two whole pixels, only when it moved by two, keeping the pixels a full drawing would give', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    await until(() => page.evaluate(() => window.sysfeed.panels.mem.chart.u?.sfDraws >= 2), 5000, 'the memory chart drawn');
    // The memory chart is a third of the page wide: ten minutes on about
    // 375 pixels, 0.6 pixel per tick, so it moves by 2 pixels on about 1
    // tick of 3.
    const count = () => page.evaluate(() => {
      const u = window.sysfeed.panels.mem.chart.u;
      return { rows: window.sysfeed.store.hist.mem.rows.length, draws: u.sfDraws, pxPerS: u.bbox.width / (u.scales.x.max - u.scales.x.min) };
    });
    const a = await count();
    const b = await until(async () => { const n = await count(); return n.rows >= a.rows + 8 && n; }, 15000, 'eight ticks');
    const ticks = b.rows - a.rows;
    const draws = b.draws - a.draws;
    assert.ok(a.pxPerS < 0.9, `under a pixel per second (${a.pxPerS})`);
    assert.ok(draws < ticks && draws <= Math.ceil(ticks * a.pxPerS) + 1, `${draws} drawings in ${ticks} ticks at ${a.pxPerS.toFixed(2)} px/s`);
    // The CPU chart (two thirds of the page: 1.4 pixels per tick) ends on
    // an even pixel column at each of its drawings: it moves by 2 pixels.
    const ends = await page.evaluate(() => new Promise((resolve, reject) => {
      const u = window.sysfeed.panels.cpu.chart.u;
      const cols = [];
      setTimeout(() => reject(new Error(`${cols.length} drawings of the CPU chart`)), 10000);
      u.hooks.draw.push(function end() {
        cols.push((u.scales.x.max * u.bbox.width) / (u.scales.x.max - u.scales.x.min));
        if (cols.length < 3) return;
        u.hooks.draw.splice(u.hooks.draw.indexOf(end), 1);
        resolve(cols);
      });
    }));
    for (const col of ends) assert.ok(Math.abs(col / 2 - Math.round(col / 2)) < 1e-3, `the CPU chart ends on an even column: ${ends}`);
    // The CPU chart (its y range fixed) moved: compared, in the same task,
    // with a full drawing of the same rows, pixel by pixel (colours times
    // alpha). A grid line may fall on the other side of half a pixel (its
    // faint colour is 18 at most).
    const cmp = await page.evaluate(() => new Promise((resolve, reject) => {
      const ch = window.sysfeed.panels.cpu.chart;
      const u = ch.u;
      const c = u.ctx.canvas;
      const strips = u.sfStrips ?? 0;
      setTimeout(() => reject(new Error(`no move of the CPU chart (${u.sfStrips} moves, ${u.sfDraws} drawings)`)), 8000);
      u.hooks.draw.push(function moved() {
        if ((u.sfStrips ?? 0) === strips) return;
        u.hooks.draw.splice(u.hooks.draw.indexOf(moved), 1);
        const m = u.ctx.getImageData(0, 0, c.width, c.height).data;
        queueMicrotask(() => {
          ch.prev = null;
          u.hooks.draw.push(function full() {
            u.hooks.draw.splice(u.hooks.draw.indexOf(full), 1);
            const f = u.ctx.getImageData(0, 0, c.width, c.height).data;
            let differ = 0;
            let far = 0;
            const at = []; // the first far pixels [x, y], to tell where they lie
            for (let i = 0; i < m.length; i += 4) {
              let d = Math.abs(m[i + 3] - f[i + 3]);
              for (let j = 0; j < 3; j++) d = Math.max(d, Math.abs(m[i + j] * m[i + 3] - f[i + j] * f[i + 3]) / 255);
              if (d) differ++;
              if (d > 48 && far++ < 8) at.push([(i / 4) % c.width, Math.floor(i / 4 / c.width)]);
            }
            resolve({ differ, far, at, width: c.width, pixels: m.length / 4, strips: u.sfStrips });
          });
          u.setData(u.data);
        });
      });
    }));
    assert.equal(cmp.far, 0, `moved pixels as drawn in full: ${JSON.stringify(cmp)}`);
    assert.ok(cmp.differ < cmp.pixels / 100, `at most a grid line apart: ${JSON.stringify(cmp)}`);
    assert.deepEqual(await page.problems(), []);
    await ctx.close();
  });

  it('moves the CPU heat strip by whole samples, keeping the pixels a full drawing would give', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    // A drawing that moved the strip, compared in the same task with a
    // full drawing of the same samples, pixel by pixel.
    const cmp = await page.evaluate(() => new Promise((resolve, reject) => {
      const strip = window.sysfeed.panels.cpu.strip;
      const c = strip.canvas;
      const shifts = c.sfShifts ?? 0;
      const draw = strip.draw;
      setTimeout(() => reject(new Error(`no move of the heat strip (${c.sfShifts} moves)`)), 8000);
      strip.draw = function (...args) {
        draw.apply(this, args);
        if ((c.sfShifts ?? 0) === shifts) return;
        strip.draw = draw;
        const m = strip.ctx.getImageData(0, 0, c.width, c.height).data;
        strip.shape = '';
        draw.apply(this, args);
        const f = strip.ctx.getImageData(0, 0, c.width, c.height).data;
        let differ = 0;
        let painted = 0;
        for (let i = 0; i < m.length; i++) if (m[i] !== f[i]) differ++;
        for (let i = 3; i < f.length; i += 4) if (f[i]) painted++;
        resolve({ differ, painted, width: c.width, height: c.height, shifts: c.sfShifts - shifts });
      };
    }));
    assert.equal(cmp.differ, 0, `moved pixels as drawn in full: ${JSON.stringify(cmp)}`);
    assert.ok(cmp.painted > 0 && cmp.shifts === 1, `a strip with samples, moved once: ${JSON.stringify(cmp)}`);
    assert.deepEqual(await page.problems(), []);
    await ctx.close();
  });

  it('does not draw a panel scrolled out of view, and draws it current when it comes back', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    await until(() => page.evaluate(() => window.sysfeed.panels.cpu.chart.u?.sfDraws >= 2), 5000, 'the CPU chart drawn');
    // The CPU panel over 100 px above the viewport (the page is long enough).
    const state = () => page.evaluate(() => ({ draws: window.sysfeed.panels.cpu.chart.u.sfDraws, t: window.sysfeed.store.lastT, sum: document.querySelector('#cpu-sum').textContent }));
    await page.evaluate(() => {
      const r = document.querySelector('#p-cpu').getBoundingClientRect();
      window.scrollTo(0, window.scrollY + r.bottom + 120);
    });
    await until(() => page.evaluate(() => {
      const b = document.querySelector('#p-cpu').getBoundingClientRect().bottom;
      return b <= -100 || `bottom ${b}, scrollY ${window.scrollY}, page ${document.documentElement.scrollHeight}`;
    }).then((r) => r === true || Promise.reject(new Error(r))), 2000, 'the CPU panel scrolled away');
    await sleep(300);
    const a = await state();
    await sleep(3000);
    const b = await state();
    assert.ok(b.t >= a.t + 2000, 'data kept arriving');
    assert.equal(b.draws, a.draws, 'the chart not drawn while out of view');
    await page.evaluate(() => window.scrollTo(0, 0));
    await until(() => page.evaluate((d) => window.sysfeed.panels.cpu.chart.u.sfDraws > d, b.draws), 2000, 'a drawing on return');
    const back = await page.evaluate(() => { const d = window.sysfeed.panels.cpu.chart.u.data[0]; return d[d.length - 1] * 1000; });
    assert.ok(back >= b.t, 'the chart is current on return');
    assert.deepEqual(await page.problems(), []);
    await ctx.close();
  });

  it('has labelled controls that the keyboard reaches', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('button, input, select')]
      .filter((el) => el.offsetParent !== null)
      .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 80)));
    assert.deepEqual(unlabelled, [], 'every control has a label');
    const want = ['range', 'log-prio', 'log-unit', 'log-text', 'log-pause', 'log-order'];
    const reached = new Set();
    // as many presses as the page has focusable elements (rows of the
    // host's containers and services among them: 200 containers on a
    // busy host needed more than 80), and a few more
    const focusable = await page.evaluate(() => document.querySelectorAll(
      'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])').length);
    for (let i = 0; i < focusable + 20 && want.some((w) => !reached.has(w)); i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement?.id));
    }
    assert.deepEqual(want.filter((w) => !reached.has(w)), [], 'Tab reaches every control');
    await ctx.close();
  });

  it('comes back live by itself behind a half-open connection, and resumes without a gap', async () => {
    // The page through a TCP proxy that then stops forwarding the stream
    // without closing it, as a NAT that forgot the flow does.
    const proxy = await startCutProxy(daemon.port);
    try {
      const { ctx, page } = await pool.open(proxy.url);
      await waitLive(page);
      // 30 s by default; 5 s here: the page shows "stale" after three
      // intervals (3 s), then reopens.
      await page.evaluate(() => window.sysfeed.staleAfter(5000));
      const seq0 = await page.evaluate(() => ({ ...window.sysfeed.store.seq }));
      const snapshots = await page.evaluate(() => window.sysfeed.snapshots);
      assert.equal(proxy.freeze(), 1, 'one stream to freeze');
      const frozeAt = Date.now();
      await until(() => page.evaluate(() => document.documentElement.dataset.conn === 'stale'), 6000, '"stale"');
      const reopened = await until(() => proxy.requests.find((r) => r.path === '/events' && r.time > frozeAt), 15000,
        'a new request for events');
      await waitLive(page, 10000);
      const after = await until(async () => {
        const q = await page.evaluate(() => ({ ...window.sysfeed.store.seq }));
        return q.last >= seq0.last + 30 && q;
      }, 15000, 'thirty more events');
      console.log(`# reopened ${reopened.time - frozeAt} ms after the freeze, with lastEventId ${reopened.lastEventId}`);
      assert.match(reopened.lastEventId, new RegExp(`^${seq0.instance}-\\d+$`), 'reopened with the last event id');
      assert.ok(Number(reopened.lastEventId.split('-')[1]) >= seq0.last, `from where it was (${seq0.last})`);
      assert.equal(after.instance, seq0.instance);
      assert.equal(after.gaps, seq0.gaps, `no seq missed (${JSON.stringify(after)})`);
      assert.equal(await page.evaluate(() => window.sysfeed.snapshots), snapshots, 'resumed by replay, no new snapshot');
      await until(() => proxy.streams().every((st) => !st.frozen), 5000, 'the dead connection closed by the page');
      assert.deepEqual(await page.problems(), []);
      await ctx.close();
    } finally {
      await proxy.close();
    }
  });

  it(`open for ${MINUTE_MS / 1000} s behind nginx, makes one request to events and nothing else; page transfer under 150 KB`, async () => {
    const nginx = await startNginx(daemon.port);
    try {
      const { ctx, page } = await pool.open(nginx.url);
      await sleep(1000);
      const loaded = Date.now() / 1000;
      // The page's own cost while open: main-thread task time and JS heap.
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Performance.enable');
      const perf = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
      const p0 = await perf();
      await sleep(MINUTE_MS);
      const p1 = await perf();
      console.log(`# page main thread busy ${(((p1.TaskDuration - p0.TaskDuration) / (MINUTE_MS / 1000)) * 100).toFixed(2)} % over ${MINUTE_MS / 1000} s; JS heap ${(p1.JSHeapUsedSize / 1048576).toFixed(1)} MiB (was ${(p0.JSHeapUsedSize / 1048576).toFixed(1)}); ${p1.Nodes} DOM nodes`);
      const during = nginx.log().filter((l) => l.time > loaded && !/healthz/.test(l.request ?? ''));
      await ctx.close();
      await until(() => nginx.log().some((l) => /^GET \/sysfeed\/events/.test(l.request ?? '')), 5000, 'the stream logged at its end');
      const all = nginx.log().filter((l) => !/healthz/.test(l.request ?? ''));
      const stream = all.filter((l) => /^GET \/sysfeed\/events/.test(l.request ?? ''));
      const assets = all.filter((l) => !/^GET \/sysfeed\/events/.test(l.request ?? ''));
      assert.deepEqual(during.map((l) => l.request), [], 'no request finished during the minute');
      assert.equal(stream.length, 1, `one request to events (${stream.map((l) => l.request)})`);
      assert.ok(assets.every((l) => l.time <= loaded), 'every other request came at load');
      const pageBytes = assets.reduce((s, l) => s + l.bytes, 0);
      assert.ok(pageBytes < 150 * 1024, `page transfer ${pageBytes} B < 150 KB`);
      console.log(`# page load: ${assets.length} requests, ${pageBytes} bytes with headers; events: ${stream[0].bytes} bytes over ${stream[0].duration} s`);
      for (const l of assets) console.log(`#   ${l.request.split(' ')[1]} ${l.bytes}`);
    } finally {
      await nginx.stop();
    }
  });

  it('fits a 390 px phone without horizontal scroll; screenshots of desktop light, desktop dark and phone', async () => {
    const shots = [
      ['desktop-light.png', { viewport: { width: 1440, height: 1300 }, colorScheme: 'light' }],
      ['desktop-dark.png', { viewport: { width: 1440, height: 1300 }, colorScheme: 'dark' }],
      ['phone.png', { viewport: PHONE, colorScheme: 'light', isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
    ];
    for (const [file, opts] of shots) {
      const { ctx, page } = await pool.open(daemon.url, { opts });
      // The longest range the daemon has history for, as after a while.
      const span = await page.evaluate(() => { const r = window.sysfeed.store.hist.cpu.rows; return (r[r.length - 1][0] - r[0][0]) / 1000; });
      await page.selectOption('#range', span >= 600 ? '600' : span >= 300 ? '300' : '60');
      await sleep(1500);
      if (file === 'phone.png') {
        const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        assert.ok(sw <= w, `no horizontal scroll at 390 px (scrollWidth ${sw} > ${w})`);
      }
      await page.screenshot({ path: path.join(OUT, file), fullPage: true });
      assert.deepEqual(await page.problems(), []);
      await ctx.close();
    }
  });

  it('shows "stale" when events stop, "reconnecting" when the daemon stops, and comes back live by itself when it restarts', async () => {
    const { ctx, page } = await pool.open(daemon.url);
    await waitLive(page);
    // A daemon that stops sending (here: stopped by SIGSTOP) makes the page
    // stale after three intervals, and live again when events resume.
    daemon.proc.kill('SIGSTOP');
    try {
      await until(async () => /^stale/.test(await page.locator('#status').textContent()), 6000, '"stale"');
    } finally {
      daemon.proc.kill('SIGCONT');
    }
    await waitLive(page, 5000);
    await until(async () => /^live/.test(await page.locator('#status').textContent()), 5000, '"live" again');

    const port = daemon.port;
    const instance = await page.evaluate(() => window.sysfeed.store.instance);
    await daemon.stop();
    await until(async () => /reconnecting/.test(await page.locator('#status').textContent()), 5000, '"reconnecting"');
    await sleep(4500);
    assert.match(await page.locator('#status').textContent(), /reconnecting · retry [1-9]/, 'the retry count shows');
    daemon = await startDaemon({ port, config });
    await waitLive(page, 15000);
    await until(() => page.evaluate((i) => window.sysfeed.store.instance !== i, instance), 5000, 'the new instance');
    assert.match(await page.locator('#status').textContent(), /^live/);
    // The charts kept the old instance's rows and continue after the gap.
    const span = await page.evaluate(() => { const r = window.sysfeed.store.hist.cpu.rows; return r[r.length - 1][0] - r[0][0]; });
    assert.ok(span > 10000, `charts keep the rows from before the restart (${span} ms)`);
    const problems = (await page.problems()).filter((p) => !/ERR_CONNECTION_REFUSED|net::ERR_/.test(p));
    assert.deepEqual(problems, []);
    await ctx.close();
  });
});

describe('measurements (printed, for the closing note)', () => {
  it('stream bytes per minute at the default interval', async () => {
    const s = await readStream(`${daemon.url}events`, 10000);
    const first = s.events.filter((e) => e.event === 'hello' || e.event === 'snapshot');
    const firstBytes = first.reduce((n, e) => n + e.bytes, 0);
    const live = s.bytes - firstBytes;
    const perMin = Math.round((live / 10) * 60);
    const per = {};
    for (const e of s.events) if (!first.includes(e)) per[e.event] = (per[e.event] ?? 0) + e.bytes;
    console.log(`# hello+snapshot ${firstBytes} B; live ${live} B in 10 s = ${perMin} B/min`);
    console.log(`# per topic in 10 s: ${JSON.stringify(per)}`);
    const page = await get(daemon.url);
    assert.equal(page.status, 200);
  });
});
