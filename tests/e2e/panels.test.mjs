// The panels of the topics a development machine may lack, each on a
// daemon reading a fixture tree (--proc-root, --sys-root): disk health on
// `nas`, containers on `ctr-v2`, GPUs on `workstation` and `arc`; alerts
// from a rule that fires at once. Run by `make check-e2e`.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  DESKTOP, OUT, ROOT, contextPool, ensureJournald, getJson, journalSend, launch, startDaemon, tmpdir, until, waitPanels, watchedPage,
} from './lib.mjs';

const FIX = path.join(ROOT, 'tests/fixtures');

let browser;
let journald;
const daemons = [];
const pool = contextPool(() => browser);

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  journald = await ensureJournald().catch((error) => ({ error, stop: async () => {} }));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const d of daemons) await d.stop();
  await journald?.stop();
});

afterEach(pool.closeAll);

// A daemon on fixture tree `machine` (its proc/ and sys/ where they exist).
// withProc false: the live /proc (a fixture's proc tree may be a few
// files for one topic, e.g. workstation's DRM clients, with no cpu sample).
async function fixtureDaemon(machine, config = '', { withProc = true } = {}) {
  const m = path.join(FIX, machine);
  const args = [];
  if (withProc && fs.existsSync(path.join(m, 'proc'))) args.push('--proc-root', path.join(m, 'proc'));
  if (fs.existsSync(path.join(m, 'sys'))) args.push('--sys-root', path.join(m, 'sys'));
  const d = await startDaemon({ args, config });
  daemons.push(d);
  return d;
}

async function open(url, opts = { viewport: DESKTOP }) {
  return (await pool.open(url, { opts, ms: 10000 })).page;
}

// Each row of a list as {name, badges: [[text, class]]}.
const rowsOf = (page, sel) => page.evaluate((s) => [...document.querySelectorAll(`${s} > li`)].map((li) => ({
  name: li.children[0].textContent,
  what: li.children[1].textContent,
  badges: [...li.querySelectorAll('.badge')].map((b) => [b.textContent, b.className.replace('badge', '').trim()]),
})), sel);

const badge = (row, text) => row?.badges.find(([t]) => t === text);

describe('disk health (nas fixture)', () => {
  it('shows SMART verdicts, degraded and resyncing arrays, and filesystem errors on the Disks panel', async () => {
    const d = await fixtureDaemon('nas', `smart-file = ${path.join(FIX, 'nas/smart/smart.json')}\n`);
    const page = await open(d.url);
    assert.equal(await page.evaluate(() => document.querySelector('[data-topic="health"]').closest('.panel').id), 'p-disk');
    assert.ok(await page.locator('[data-topic="health"] .body').isVisible(), 'the health part is shown');
    await until(async () => (await rowsOf(page, '#health-smart')).length === 4, 5000, 'four drives');

    const drives = Object.fromEntries((await rowsOf(page, '#health-smart')).map((r) => [r.name, r]));
    assert.deepEqual(badge(drives.sda, 'PASSED'), ['PASSED', 'ok']);
    assert.deepEqual(badge(drives.sdb, 'FAILED'), ['FAILED', 'crit']);
    assert.deepEqual(badge(drives.sdb, '412 media errors'), ['412 media errors', 'crit']);
    assert.deepEqual(badge(drives.sdb, '1872 reallocated'), ['1872 reallocated', 'warn']);
    assert.ok(badge(drives.sdb, '44.0 °C'), 'temperature');
    assert.deepEqual(badge(drives.sdc, 'not read'), ['not read', 'warn'], 'an unreadable drive has no verdict');
    assert.equal(badge(drives.sdc, 'FAILED'), undefined);
    assert.deepEqual(badge(drives.nvme0, 'wear 3 %'), ['wear 3 %', '']);

    // The progress as the daemon read it from the fixture's mdstat.
    const snap = (await getJson(`${d.url}api/snapshot`)).topics.health;
    const pct = Object.fromEntries(snap.md.map((m) => [m.name, m.sync_pct]));
    const md = Object.fromEntries((await rowsOf(page, '#health-md')).map((r) => [r.name, r]));
    assert.deepEqual(badge(md.md1, 'degraded: 3 of 4 up'), ['degraded: 3 of 4 up', 'crit']);
    assert.deepEqual(badge(md.md1, '1 failed'), ['1 failed', 'crit']);
    assert.ok(md.md1.badges.some(([t]) => t.startsWith(`recovery ${pct.md1} % · `)), JSON.stringify(md.md1));
    assert.ok(md.md2.badges.some(([t]) => t.startsWith(`resync ${pct.md2} % · `)), JSON.stringify(md.md2));
    assert.deepEqual(badge(md.md0, '2 of 2 up'), ['2 of 2 up', 'ok']);
    const bar = await page.evaluate(() => [...document.querySelectorAll('#health-md > li')].find((li) => li.children[0].textContent === 'md1').querySelector('.fill').style.getPropertyValue('--pct'));
    assert.equal(bar, `${pct.md1.toFixed(1)}%`, 'the recovery progress bar');

    const fss = Object.fromEntries((await rowsOf(page, '#health-fs')).map((r) => [r.name, r]));
    assert.deepEqual(badge(fss['/srv'], 'remounted read-only'), ['remounted read-only', 'crit']);
    const srvErrors = snap.filesystems.find((x) => x.mount === '/srv').errors;
    assert.ok(srvErrors > 0);
    assert.deepEqual(badge(fss['/srv'], `${srvErrors} errors`), [`${srvErrors} errors`, 'crit']);
    assert.deepEqual(badge(fss['/'], 'no errors'), ['no errors', 'ok']);
    assert.ok(badge(fss['/backup'], 'no error counter'), 'xfs has none');
    assert.match(await page.locator('#health-sum').textContent(), /4 drives, 1 FAILED .*6 arrays, 1 degraded, 3 syncing .*5 filesystems, 2 with errors/);
    await page.screenshot({ path: path.join(OUT, 'health.png'), fullPage: true });
    assert.deepEqual(await page.problems(), []);
  });
});

describe('containers (ctr-v2 fixture)', () => {
  let tree;
  after(() => tree && fs.rmSync(tree, { recursive: true, force: true }));

  it('lists every container beside Services, sorts by a column, opens a detail with its journal lines, shows starts and stops, and bounds 100 containers', async () => {
    assert.ok(!journald.error, `a journald to write to: ${journald.error?.message}`);
    // A copy, so that a container can start and stop in it.
    tree = tmpdir('ctr');
    fs.cpSync(path.join(FIX, 'ctr-v2'), tree, { recursive: true });
    const d = await startDaemon({ args: ['--proc-root', path.join(tree, 'proc'), '--sys-root', path.join(tree, 'sys')] });
    daemons.push(d);
    const page = await open(d.url);
    const panel = await page.evaluate(() => {
      const el = document.querySelector('[data-topic="containers"]');
      return { id: el.id, prev: el.previousElementSibling.id, hidden: el.hidden };
    });
    assert.deepEqual(panel, { id: 'p-ctr', prev: 'p-svc', hidden: false }, 'the panel, after Services');
    const snap = (await getJson(`${d.url}api/snapshot`)).topics.containers;
    assert.equal(snap.list.length, 8);
    const names = () => page.evaluate(() => [...document.querySelectorAll('#ctr-table tbody tr:not(.detail) > th button')].map((b) => b.textContent));
    await until(async () => (await names()).length === 8, 5000, 'eight rows');
    // Ticks carry the rows that changed (none, on this still tree, after
    // the second): the page keeps the snapshot's list, and their numbers.
    const ticks = await page.evaluate(() => new Promise((resolve) => {
      const seen = [];
      const es = new EventSource('/events?topics=containers');
      es.addEventListener('containers', (e) => {
        const p = JSON.parse(e.data);
        if (Array.isArray(p.rows)) seen.push(p.rows.length);
        if (seen.length === 3) {
          es.close();
          resolve(seen);
        }
      });
    }));
    assert.equal(ticks[2], 0, `rows of the ticks: ${ticks}`);
    assert.equal((await names()).length, 8, 'still eight rows');
    const web0 = snap.list.find((x) => x.name === 'web');
    assert.equal(await page.evaluate(() => window.sysfeed.store.latest.containers.list.find((x) => x.name === 'web').mem_bytes), web0.mem_bytes);

    // Sorting: memory (largest first), again (smallest first), by name.
    const byMem = snap.list.slice().sort((a, b) => b.mem_bytes - a.mem_bytes || a.name.localeCompare(b.name)).map((x) => x.name);
    await page.click('#ctr-table button[data-key="mem"]');
    await until(async () => (await names()).join() === byMem.join(), 3000, `rows by memory ${byMem}`);
    assert.equal(await page.getAttribute('#ctr-table th:nth-child(3)', 'aria-sort'), 'descending');
    await page.click('#ctr-table button[data-key="mem"]');
    await until(async () => (await names()).join() === byMem.slice().reverse().join(), 3000, 'rows by memory, smallest first');
    assert.equal(await page.getAttribute('#ctr-table th:nth-child(3)', 'aria-sort'), 'ascending');
    await page.click('#ctr-table button[data-key="name"]');
    const byName = snap.list.map((x) => x.name).sort((a, b) => a.localeCompare(b));
    await until(async () => (await names()).join() === byName.join(), 3000, 'rows by name');

    // The detail of `web`, with the journal lines tagged with its name,
    // not those of another container (tagged with hostnet's short id).
    const token = `ctr-${process.pid}-${Date.now()}`;
    journalSend(`web says ${token}`, { tag: 'web' });
    journalSend(`hostnet says ${token}`, { tag: snap.list.find((x) => x.name === 'hostnet').id.slice(0, 12) });
    await page.locator('#ctr-table tbody th button', { hasText: /^web$/ }).click();
    const detail = page.locator('#ctr-table tr.detail');
    await until(async () => (await detail.count()) === 1, 3000, 'the detail row');
    const web = snap.list.find((x) => x.name === 'web');
    const text = await detail.textContent();
    for (const s of [web.id, 'nginx:1.25', web.cgroup, '512 MiB limit']) assert.ok(text.includes(s), `detail shows ${s}: ${text}`);
    await until(async () => (await detail.textContent()).includes(`web says ${token}`), 8000, 'web\'s journal line in its detail');
    assert.ok(!(await detail.textContent()).includes(`hostnet says ${token}`), 'not another container\'s');
    assert.equal(await page.getAttribute('#ctr-table tr.open th button', 'aria-expanded'), 'true');
    await page.locator('#ctr-table tbody th button', { hasText: /^hostnet$/ }).click();
    await until(async () => (await page.locator('#ctr-table tr.detail', { hasText: `hostnet says ${token}` }).count()) === 1, 5000, 'hostnet\'s line by its short id');

    // A container starts (its cgroup appears) and stops.
    const slice = path.join(tree, 'sys/fs/cgroup/system.slice');
    const id = 'c0ffee'.padEnd(64, '0');
    fs.cpSync(path.join(slice, `docker-${web.id}.scope`), path.join(slice, `docker-${id}.scope`), { recursive: true });
    await until(async () => /started\s*c0ffee000000/.test(await page.locator('#ctr-changes').textContent()), 5000, 'the start under the table');
    await until(async () => (await names()).includes('c0ffee000000'), 5000, 'its row');
    fs.rmSync(path.join(slice, `docker-${id}.scope`), { recursive: true });
    await until(async () => /stopped\s*c0ffee000000/.test(await page.locator('#ctr-changes').textContent()), 5000, 'the stop');
    await until(async () => !(await names()).includes('c0ffee000000'), 5000, 'its row gone');

    // 100 containers: 100 rows in a box of bounded height; drawn in the
    // frame after the payload (measured before the next tick replaces it).
    const big = await page.evaluate(() => new Promise((resolve) => {
      const list = Array.from({ length: 100 }, (_, i) => ({ id: `${i}`.padStart(64, 'a'), name: `bulk-${String(i).padStart(3, '0')}`, image: 'busybox', engine: 'docker', state: 'running', cgroup: `/bulk/${i}`, cpu_pct: i % 7, mem_bytes: i * 1048576, mem_limit_bytes: null, tasks: 1, io_read_bytes_per_s: 0, io_write_bytes_per_s: 0, net_rx_bytes_per_s: 0, net_tx_bytes_per_s: 0, oom_kills: 0 }));
      window.sysfeed.store.applySnapshot({ topics: { containers: { t: Date.now(), containers: 100, running: 100, paused: 0, list } } });
      window.sysfeed.redraw('containers');
      requestAnimationFrame(() => requestAnimationFrame(() => {
        const box = document.querySelector('#p-ctr .scroll');
        resolve({
          rows: document.querySelectorAll('#ctr-table tbody tr:not(.detail)').length,
          first: document.querySelector('#ctr-table tbody th button').textContent,
          box: box.clientHeight,
          scrolls: box.scrollHeight > box.clientHeight,
          panel: document.querySelector('#p-ctr').getBoundingClientRect().height,
        });
      }));
    }));
    assert.equal(big.rows, 100);
    assert.equal(big.first, 'bulk-000', 'still by name');
    assert.ok(big.scrolls && big.box < 500 && big.panel < 700, `bounded: ${JSON.stringify(big)}`);
    await page.screenshot({ path: path.join(OUT, 'containers.png'), fullPage: true });
    assert.deepEqual(await page.problems(), []);
  });
});

describe('GPUs (workstation and arc fixtures)', () => {
  const cards = (page) => page.evaluate(() => [...document.querySelectorAll('#gpu-cards > .gpu')].map((el) => ({
    name: el.querySelector('.gh b').textContent,
    what: el.querySelector('.gh span:last-child').textContent,
    bars: [...el.querySelectorAll('.barrow')].filter((r) => !r.hidden).map((r) => `${r.children[0].textContent}: ${r.children[2].textContent}`),
    facts: Object.fromEntries([...el.querySelectorAll('dl.facts > div')].map((d) => [d.children[0].textContent, d.children[1].textContent])),
  })));
  // Per chart of the panel: its series' labels and whether each has a value.
  const charts = (page) => page.evaluate(() => window.sysfeed.panels.gpu.charts().map((ch) => ({
    box: ch.box.id,
    series: ch.spec.series.map((s) => s.label),
    values: ch.u ? ch.u.data.slice(1).map((ys) => ys.some((y) => typeof y === 'number')) : [],
  })));

  it('shows every card with busy, VRAM, temperature, power and clock, and charts busy and VRAM per card', async () => {
    const d = await fixtureDaemon('workstation', '', { withProc: false });
    const page = await open(d.url);
    assert.equal(await page.locator('#p-gpu').isVisible(), true, 'the panel is shown');
    await until(async () => (await cards(page)).length === 2, 5000, 'two cards');
    const [amd, intel] = await cards(page);
    const now = (await getJson(`${d.url}api/snapshot`)).topics.gpu.gpus;
    assert.equal(amd.name, 'AMD Radeon RX 7800 XT');
    assert.equal(amd.what, 'card0 · amdgpu · 0000:03:00.0');
    assert.ok(amd.bars.includes('VRAM: 2.00 GiB of 16.0 GiB'), JSON.stringify(amd));
    assert.equal(amd.facts.temperature, '52.0 °C (slows at 100)');
    assert.equal(amd.facts.power, '84 W');
    assert.equal(amd.facts.clock, '1.25 GHz of 2.43 GHz');
    assert.equal(intel.name, 'i915 0000:00:02.0', 'a card without a product name by driver and slot');
    assert.deepEqual(intel.bars.filter((b) => b.startsWith('VRAM')), [], 'no VRAM bar without VRAM');
    assert.equal(intel.facts.clock, `${now[1].freq_mhz} MHz of 1.55 GHz`);
    await until(async () => {
      const ch = await charts(page);
      return ch.length === 2 && ch[0].values.every(Boolean) && ch[1].values.every(Boolean) && ch;
    }, 8000, 'both charts with values');
    assert.deepEqual((await charts(page)).map((c) => [c.box, c.series]), [['gpu-chart', ['card0', 'card1']], ['gpu-mem-chart', ['card0']]]);
    await page.screenshot({ path: path.join(OUT, 'gpu.png'), fullPage: true });
    assert.deepEqual(await page.problems(), []);
  });

  it('draws an Intel xe card (no VRAM: no VRAM chart)', async () => {
    const d = await fixtureDaemon('arc');
    const page = await open(d.url);
    await until(async () => (await cards(page)).length === 1, 5000, 'one card');
    const [arc] = await cards(page);
    assert.equal(arc.name, 'xe 0000:03:00.0');
    assert.equal(await page.locator('#gpu-mem-chart').isVisible(), false);
    await until(async () => (await charts(page)).map((c) => c.box).join() === 'gpu-chart', 5000, 'the busy chart alone');
    assert.deepEqual(await page.problems(), []);
  });

  it('shows no GPU panel where there is none, and says why in the footer', async () => {
    const d = await fixtureDaemon('nas');
    const page = await open(d.url);
    const h = await page.evaluate(() => window.sysfeed.store.hello);
    assert.ok(h.off.gpu, 'gpu is off on nas');
    assert.equal(await page.locator('#p-gpu').isVisible(), false);
    assert.ok((await page.locator('#foot').textContent()).includes(`GPU off: ${h.off.gpu}`));
    assert.deepEqual(await page.problems(), []);
  });
});

describe('panels whose topic is off (vm2 fixture)', () => {
  it('collapse into the one line at the end of the page, which says why, and leave the grid to the others', async () => {
    const d = await fixtureDaemon('vm2');
    // Not open(): the fixture's static /proc/stat gives no CPU rates.
    const ctx = await pool.newContext({ viewport: DESKTOP });
    const page = await watchedPage(ctx);
    await page.goto(d.url);
    const h = await until(() => page.evaluate(() => window.sysfeed.store.hello), 5000, 'hello');
    await until(() => page.evaluate(() => document.querySelector('[data-topic="mem"]').dataset.state === 'data'), 5000, 'the memory panel drawn');
    for (const t of ['svc', 'temp', 'containers']) assert.ok(h.off[t], `${t} is off on vm2`);
    const panels = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('main > .panel')]
      .map((el) => [el.dataset.topic, { shown: el.offsetParent !== null, title: el.querySelector('h2').textContent }])));
    for (const t of ['svc', 'temp', 'containers', 'gpu']) assert.equal(panels[t].shown, false, `the ${panels[t].title} panel takes no room`);
    for (const t of ['cpu', 'mem', 'load', 'proc']) assert.equal(panels[t].shown, true, `the ${panels[t].title} panel is shown`);
    const line = await page.locator('#foot').textContent();
    for (const t of ['svc', 'temp', 'containers', 'gpu']) assert.ok(line.includes(`${panels[t].title} off: ${h.off[t]}`), `the line says why ${t} is off: ${line}`);
    // The line is the last thing on the page, after every panel.
    const below = await page.evaluate(() => {
      const foot = document.querySelector('#foot').getBoundingClientRect().top;
      return [...document.querySelectorAll('main > .panel')].filter((el) => el.offsetParent !== null && el.getBoundingClientRect().bottom > foot).map((el) => el.id);
    });
    assert.deepEqual(below, [], 'no panel below the line');
    assert.deepEqual(await page.problems(), []);
  });
});

describe('alerts', () => {
  it('shows a bar while a rule fires, the recent changes, marks on the charts, and notifies only after a click', async () => {
    const watch = tmpdir('alert-watch');
    try {
      const d = await startDaemon({ config: `watch = ${watch}\nalert-stock = 0\nalert = always: mem.used > 0\nalert = touched: file path ${watch}/x* severity critical\nalert = touched-again: file path ${watch}/y*\n` });
      daemons.push(d);
      const ctx = await pool.newContext({ viewport: DESKTOP });
      await ctx.grantPermissions(['notifications']);
      const page = await watchedPage(ctx);
      // Notifications and permission requests, as the page makes them.
      await page.addInitScript(() => {
        window.__notes = [];
        window.__asked = 0;
        window.Notification = class {
          static permission = 'default';
          static async requestPermission() {
            window.__asked++;
            this.permission = 'granted';
            return 'granted';
          }
          constructor(title, opts) {
            window.__notes.push({ title, body: opts?.body, tag: opts?.tag });
          }
        };
      });
      await page.goto(d.url);
      await waitPanels(page, 10000);

      const bar = page.locator('#alert-bar');
      await until(() => bar.isVisible(), 5000, 'the alert bar');
      const item = bar.locator('.ab', { hasText: 'always' });
      assert.equal(await item.count(), 1);
      assert.equal(await item.getAttribute('class'), 'ab warn', 'a warning in the warning colour');
      const text = await item.textContent();
      assert.match(text, /since \d\d:\d\d:\d\d/, `its time: ${text}`);
      assert.match(text, /\d.*\(threshold 0\)/, `its value: ${text}`);
      assert.ok(await page.locator('#alert-recent li', { hasText: 'always' }).count() >= 1, 'in the recent changes');
      assert.match(await page.locator('#alert-sum').textContent(), /^1 firing/);
      // The firing time is marked on the charts.
      await until(() => page.evaluate(() => window.sysfeed.panels.cpu.chart.u?.sfMarks >= 1), 5000, 'a mark on the CPU chart');

      // Nothing asked and nothing shown before the click.
      const tagOf = () => page.evaluate(() => ({ asked: window.__asked, notes: window.__notes }));
      assert.deepEqual(await tagOf(), { asked: 0, notes: [] });
      await page.click('#alert-notify');
      await until(async () => (await page.getAttribute('#alert-notify', 'aria-pressed')) === 'true', 3000, 'notifications on');
      assert.equal((await tagOf()).asked, 1, 'the permission asked on the click');
      assert.deepEqual((await tagOf()).notes, [], 'no notification for what already fired');

      // A new alert (a critical one, from a file change) notifies, and
      // turns the bar red.
      fs.writeFileSync(path.join(watch, 'x'), 'x\n');
      const notes = await until(async () => (await tagOf()).notes.length && (await tagOf()).notes, 8000, 'a notification');
      assert.equal(notes.length, 1);
      assert.match(notes[0].title, /^Critical: touched on /);
      assert.ok(notes[0].body.includes('touched'), JSON.stringify(notes[0]));
      await until(async () => (await bar.getAttribute('class')) === 'alert-bar crit', 3000, 'a red bar');
      // A hidden tab draws nothing, but still notifies.
      await page.evaluate(() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      const draws = await page.evaluate(() => window.sysfeed.draws);
      fs.writeFileSync(path.join(watch, 'y'), 'y\n');
      await until(async () => (await tagOf()).notes.length >= 2, 8000, 'a notification while hidden');
      assert.equal(await page.evaluate(() => window.sysfeed.draws), draws, 'nothing drawn while hidden');
      assert.match((await tagOf()).notes[1].title, /^Warning: touched-again on /);
      assert.ok((await tagOf()).notes.every((n) => !/always/.test(n.title)), 'none for the alert that fired before the click');
      await page.evaluate(() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await page.screenshot({ path: path.join(OUT, 'alerts.png'), fullPage: false });
      assert.deepEqual(await page.problems(), []);
    } finally {
      fs.rmSync(watch, { recursive: true, force: true });
    }
  });
});
