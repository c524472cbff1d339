// The charts' past, end to end: a daemon keeps history in a temporary
// state directory (rows flushed every second) while a busy process the
// test started runs, a file changes and an err line goes to the journal;
// it is stopped and started again on the same directory (a gap), and the
// page, in Debian's chromium, reads that past from /api/history. Run by
// `make check-e2e`.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  OUT, contextPool, getJson, journalSend, launch, startDaemon, stopProc, tmpdir, until,
} from './lib.mjs';

// The busy process: a copy of dash under a name of its own (its comm).
const BURNER = `sfburn${process.pid % 100000}`;
const CHARTS = ['cpu', 'load', 'mem', 'net', 'disk'];

let browser;
let daemon;
// The journal's err line is part of the test where a journald takes
// entries (this test starts none, and one another test started may go).
function sendErr(message, tag) {
  try {
    journalSend(message, { priority: 'err', tag });
    return true;
  } catch {
    return false;
  }
}
let stateDir;
let watchDir;
let burnDir;
let config;
// What happened before the page opened (ms): the burner's stored tops
// rows, the file changed, the first daemon's stop and the second's start.
const past = { tops: [], file: '', errTag: '', errStored: false, stopped: 0, restarted: 0 };
const pool = contextPool(() => browser);

const history = (url, from, to, extra = '') => getJson(`${url}api/history?from=${Math.floor(from)}&to=${Math.ceil(to)}${extra}`);

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  stateDir = tmpdir('state');
  watchDir = tmpdir('watch');
  burnDir = tmpdir('burn');
  past.errTag = `sfhist-${process.pid}`;
  config = `history-flush-seconds = 1\nwatch = ${watchDir}\n`;
  // Whatever fails here, the first daemon and the burner end with it
  // (a child left running would keep this file's process alive).
  const first = await startDaemon({ args: ['--state-dir', stateDir], config });
  const started = Date.now();
  const bin = path.join(burnDir, BURNER);
  fs.copyFileSync('/usr/bin/dash', bin);
  fs.chmodSync(bin, 0o755);
  const burner = spawn(bin, ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  try {
    // Its rows on disk with it among the top processes by CPU.
    const stored = async () => {
      const a = await history(first.url, started, Date.now(), '&topics=cpu&step=1');
      const i = a.tops.fields.indexOf('proc.top_cpu');
      return a.tops.rows.filter((r) => (r[i] || []).some((e) => e[1] === BURNER)).map((r) => r[0]);
    };
    past.tops = await until(async () => {
      const ts = await stored();
      return ts.length >= 3 && ts;
    }, 30000, `three stored rows with ${BURNER} on top`);
    // A file change and a journal line at err, stored as events.
    past.file = path.join(watchDir, `changed-${process.pid}.conf`);
    fs.writeFileSync(past.file, 'x\n');
    const sent = sendErr(`sysfeed history e2e ${process.pid}`, past.errTag);
    // The file change stored; the err line too, where a journald took it
    // and the daemon read it.
    const events = async () => (await history(first.url, started, Date.now(), '&topics=cpu')).events.rows;
    await until(async () => (await events()).some((r) => r[1] === 'file' && r[2] === past.file), 15000, 'the file change stored as an event');
    if (sent) past.errStored = await until(async () => (await events()).some((r) => r[1] === 'log_err' && r[2] === past.errTag), 5000, 'the err line').catch(() => false);
  } finally {
    await stopProc(burner, 'SIGKILL');
    await first.stop();
  }
  past.stopped = Date.now();
  // A few seconds down: the gap the charts must show.
  await until(() => Date.now() > past.stopped + 4000, 6000, 'four seconds with the daemon down');
  daemon = await startDaemon({ args: ['--state-dir', stateDir], config });
  past.restarted = Date.now();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  for (const d of [stateDir, watchDir, burnDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

afterEach(pool.closeAll);

// A page on the restarted daemon, with every /api/history request it
// makes in page.reads, once its first choice of rows is done.
async function open() {
  const { page } = await pool.open(daemon.url, {
    ms: 10000,
    setup: (p) => {
      p.reads = [];
      p.on('request', (r) => {
        if (r.url().includes('/api/history')) p.reads.push(r.url());
      });
    },
  });
  await settled(page);
  return page;
}

// No read under way, the view decided, and what it chose drawn (the
// charts are drawn in the next animation frame).
async function settled(page) {
  await until(() => page.evaluate(() => window.sysfeed.view.decided && !window.sysfeed.view.pending), 10000, 'the read done');
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

// Every time chart's x range, by panel.
const ranges = (page) => page.evaluate(() => Object.fromEntries(Object.entries(window.sysfeed.panels)
  .flatMap(([name, p]) => (p.charts?.() ?? []).map((c) => [name, c.xRange()]))));

// A page zoomed into the first daemon's last seconds and the gap, from
// the last 15 minutes.
async function openPast() {
  const page = await open();
  await page.selectOption('#range', '900');
  await settled(page);
  await drag(page, 'cpu', past.tops[0] / 1000 - 5, past.restarted / 1000 + 2);
  await settled(page);
  return page;
}

// Drags over a chart's plot from time a to b (s).
async function drag(page, topic, a, b) {
  const box = await page.locator(`#${topic}-chart .u-over`).boundingBox();
  const [xa, xb] = await page.evaluate(([t, ta, tb]) => {
    const u = window.sysfeed.panels[t].chart.u;
    return [u.valToPos(ta, 'x'), u.valToPos(tb, 'x')];
  }, [topic, a, b]);
  await page.mouse.move(box.x + xa, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + (xa + xb) / 2, box.y + box.height / 2, { steps: 4 });
  await page.mouse.move(box.x + xb, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
}

// Moves the pointer over a chart's plot to time t (s).
async function hover(page, topic, t) {
  const box = await page.locator(`#${topic}-chart .u-over`).boundingBox();
  const x = await page.evaluate(([p, tt]) => window.sysfeed.panels[p].chart.u.valToPos(tt, 'x'), [topic, t]);
  await page.mouse.move(box.x + x, box.y + box.height / 2, { steps: 3 });
}

describe('history on the page', () => {
  it('reads a range longer than the rows in memory from /api/history once, for every chart topic, with min–max bands where consolidated, then follows the stream; nothing polls', async () => {
    const page = await open();
    const before = page.reads.length;
    await page.selectOption('#range', '3600');
    await settled(page);
    const end0 = (await ranges(page)).cpu[1];
    // The hour follows the present with the stream's rows, consolidated to
    // its step as they come: its end moves on, nothing is read again.
    await until(async () => (await ranges(page)).cpu[1] > end0, 20000, 'the hour\'s end moving with the stream');
    const reads = page.reads.slice(before);
    assert.equal(reads.length, 1, `one read for the range change: ${reads}`);
    const q = new URL(reads[0]).searchParams;
    assert.deepEqual(q.get('topics').split(',').sort(), CHARTS.slice().sort(), 'every chart topic in the one read');
    const span = (Number(q.get('to')) - Number(q.get('from'))) / 1000;
    assert.ok(Math.abs(span - 3600) < 5, `an hour read (${span} s)`);
    assert.ok(Number(q.get('step')) > 1, `a step that fits the chart (${q.get('step')} s)`);
    const r = await ranges(page);
    for (const [name, xr] of Object.entries(r)) assert.ok(Math.abs(xr[1] - xr[0] - 3600) < 5, `${name} shows an hour: ${xr}`);
    assert.ok(await page.evaluate(() => window.sysfeed.panels.cpu.chart.cols.bands !== null), 'consolidated rows drawn with their min–max bands');
    assert.equal(await page.getAttribute('#live', 'aria-pressed'), 'true', 'the hour follows the present');
    assert.deepEqual(await page.problems(), []);
  });

  it('zooms every chart to a window dragged over one, reading that past window\'s finer rows once', async () => {
    const page = await open();
    await page.selectOption('#range', '3600');
    await settled(page);
    // Wide enough to drag over on the narrow memory chart at an hour.
    const a = past.tops[0] / 1000 - 200;
    const b = past.restarted / 1000 + 2;
    const before = await ranges(page);
    const reads = page.reads.length;
    await drag(page, 'mem', a, b);
    await settled(page);
    const after = await ranges(page);
    assert.equal(page.reads.length, reads + 1, `one read for the zoom: ${page.reads.slice(reads)}`);
    assert.equal(new URL(page.reads[page.reads.length - 1]).searchParams.get('step'), '1', 'the finer rows');
    for (const name of CHARTS) {
      assert.notDeepEqual(after[name], before[name], `${name} changed its range`);
      assert.ok(Math.abs(after[name][0] - a) < 30 && Math.abs(after[name][1] - b) < 30, `${name} shows the dragged window ${a}–${b}: ${after[name]}`);
      assert.deepEqual(after[name], after.mem, `${name} has the same x range as the chart dragged over`);
    }
    assert.equal(await page.inputValue('#range'), 'zoom');
    assert.equal(await page.getAttribute('#live', 'aria-pressed'), 'false', 'a past window');
    // "live" returns to the hour, following the present, without a read.
    await page.click('#live');
    assert.equal(await page.getAttribute('#live', 'aria-pressed'), 'true');
    assert.equal(await page.inputValue('#range'), '3600');
    const hour = (r) => CHARTS.every((name) => Math.abs(r[name][1] - r[name][0] - 3600) < 5);
    const back = await until(async () => {
      const r = await ranges(page);
      return hour(r) && r;
    }, 3000, 'every chart back to the hour');
    const now = await page.evaluate(() => window.sysfeed.store.lastT / 1000);
    for (const name of CHARTS) assert.ok(now - back[name][1] < 30, `${name} shows the last hour again: ${back[name]} (now ${now})`);
    assert.equal(page.reads.length, reads + 1, 'no read for "live"');
    assert.deepEqual(await page.problems(), []);
  });

  it('shows, under a crosshair on every chart, each chart\'s values and the busy process the test started at that past instant', async () => {
    const page = await openPast();
    const t = past.tops[1] / 1000;
    await hover(page, 'cpu', t);
    const tip = page.locator('#tip');
    await until(() => tip.isVisible(), 3000, 'the tooltip');
    const text = await tip.textContent();
    assert.ok(text.includes(BURNER), `the tooltip names ${BURNER}: ${text}`);
    for (const title of ['CPU', 'Memory', 'Load']) assert.ok(text.includes(title), `the tooltip has the ${title} chart's values: ${text}`);
    // The crosshair is on every chart, at that instant.
    const at = await page.evaluate(() => Object.fromEntries(Object.entries(window.sysfeed.panels)
      .flatMap(([name, p]) => (p.charts?.() ?? []).map((c) => [name, c.u.cursor.left >= 0 ? c.u.posToVal(c.u.cursor.left, 'x') : null]))));
    for (const name of CHARTS) assert.ok(at[name] !== null && Math.abs(at[name] - t) < 2, `${name}'s crosshair at ${t}: ${at[name]}`);
    await page.screenshot({ path: path.join(OUT, 'history-tooltip.png') });
    await page.mouse.move(5, 5);
    await until(async () => !(await tip.isVisible()), 3000, 'the tooltip gone');
    assert.deepEqual(await page.problems(), []);
  });

  it('marks the stored events on the charts and names them under the pointer', async () => {
    const page = await openPast();
    const ev = await page.evaluate((file) => window.sysfeed.timeline.all().find((e) => e.kind === 'file' && e.key === file), past.file);
    assert.ok(ev, 'the file change among the events read');
    await until(() => page.evaluate(() => window.sysfeed.panels.cpu.chart.u?.sfEvents >= 1), 3000, 'a mark on the CPU chart');
    await hover(page, 'cpu', ev.t / 1000);
    await until(async () => (await page.locator('#tip').textContent()).includes(past.file), 3000, 'the file named by the tooltip');
    console.log(`# the err journal line: ${past.errStored ? 'stored, and checked' : 'not checked: no journald took it'}`);
    if (past.errStored) {
      const err = await page.evaluate((tag) => window.sysfeed.timeline.all().find((e) => e.kind === 'log_err' && e.key === tag), past.errTag);
      assert.ok(err, `the err journal line of ${past.errTag} among the events`);
    }
    assert.deepEqual(await page.problems(), []);
  });

  it('draws the time the daemon was down as a gap', async () => {
    const page = await open();
    await page.selectOption('#range', '900');
    await settled(page);
    const lo = past.stopped / 1000 + 1.5;
    const hi = past.restarted / 1000 - 0.5;
    const drawn = await page.evaluate(([a, b]) => {
      const c = window.sysfeed.panels.cpu.chart.cols;
      const inside = c.xs.map((x, i) => [x, c.raw[0][i]]).filter(([x]) => x > a && x < b);
      return { inside, before: c.xs.filter((x) => x <= a).length, after: c.xs.filter((x) => x >= b).length };
    }, [lo, hi]);
    assert.ok(drawn.before > 0 && drawn.after > 0, `points before and after the gap: ${JSON.stringify(drawn)}`);
    assert.ok(drawn.inside.length > 0 && drawn.inside.every(([, v]) => v === null), `only null points while the daemon was down: ${JSON.stringify(drawn.inside)}`);
    assert.deepEqual(await page.problems(), []);
  });

  it('labels the axes with their units', async () => {
    const page = await open();
    await until(() => page.evaluate(() => window.sysfeed.panels.net.chart.u?.axes[1]._values?.length), 5000, 'axes drawn');
    const labels = await page.evaluate(() => Object.fromEntries(['cpu', 'mem', 'net', 'disk'].map((t) => [t, window.sysfeed.panels[t].chart.u.axes[1]._values.filter((v) => v && v !== '0')])));
    assert.ok(labels.cpu.length && labels.cpu.every((v) => / %$/.test(v)), `CPU in %: ${labels.cpu}`);
    assert.ok(labels.mem.length && labels.mem.every((v) => / (B|[KMGT]iB)$/.test(v)), `memory in bytes: ${labels.mem}`);
    for (const t of ['net', 'disk']) assert.ok(labels[t].length && labels[t].every((v) => / (B|[KMGT]iB)\/s$/.test(v)), `${t} in bytes per second: ${labels[t]}`);
  });
});
