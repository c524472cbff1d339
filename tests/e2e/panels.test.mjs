// The panels of the topics a development machine may lack, each on a
// daemon reading a fixture tree (--proc-root, --sys-root): disk health on
// `nas`, containers on `ctr-v2`, GPUs on `workstation` and `arc`; alerts
// from a rule that fires at once. Run by `make check-e2e`.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { OUT, ROOT, getJson, launch, startDaemon, until, waitPanels, watchedPage } from './lib.mjs';

const FIX = path.join(ROOT, 'tests/fixtures');
const DESKTOP = { width: 1440, height: 1000 };

let browser;
const daemons = [];
const contexts = new Set();

before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const d of daemons) await d.stop();
});

afterEach(async () => {
  for (const ctx of [...contexts]) await ctx.close().catch(() => {});
  contexts.clear();
});

// A daemon on fixture tree `machine` (its proc/ and sys/ where they exist).
async function fixtureDaemon(machine, config = '') {
  const m = path.join(FIX, machine);
  const args = [];
  if (fs.existsSync(path.join(m, 'proc'))) args.push('--proc-root', path.join(m, 'proc'));
  if (fs.existsSync(path.join(m, 'sys'))) args.push('--sys-root', path.join(m, 'sys'));
  const d = await startDaemon({ args, config });
  daemons.push(d);
  return d;
}

async function open(url, opts = { viewport: DESKTOP }) {
  const ctx = await browser.newContext(opts);
  contexts.add(ctx);
  const page = await watchedPage(ctx);
  await page.goto(url);
  await waitPanels(page, 10000);
  return page;
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
    assert.match(await page.locator('#health-sum').textContent(), /4 drives, 2 FAILED .*6 arrays, 1 degraded, 3 syncing .*5 filesystems, 2 with errors/);
    await page.screenshot({ path: path.join(OUT, 'health.png'), fullPage: true });
    assert.deepEqual(await page.problems(), []);
  });
});
