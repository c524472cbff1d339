// The page over TLS with HTTP Basic (docs/remote.md): Debian's chromium
// against an https:// listener beyond loopback, with a test CA made by
// openssl and a users file. Chromium trusts the server's key by its SPKI
// digest, as a browser with the LAN's CA imported trusts it, and reaches
// sysfeed.test (in allowed-hosts) through a resolver rule. The browser answers the first challenge and
// then sends its cached credentials by itself: the page, its modules, the
// SharedWorker and its EventSource all get through, and one stream serves
// every tab.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, hello, startDaemon, tmpdir, until, waitLive, waitPanels, watchedPage } from './lib.mjs';

let dir;
let daemon;
let browser;
let base;

function openssl(...args) {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// GET over TLS with the test CA -> { status, headers, body }.
function tlsGet(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(url.replace('sysfeed.test', '127.0.0.1'), {
      ca: fs.readFileSync(path.join(dir, 'ca.crt')), servername: 'sysfeed.test', headers: { Host: new URL(url).host, ...headers },
    }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

const basic = (u, p) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

async function metric(name) {
  const m = await tlsGet(`${base}metrics`, basic('alice', 'alice-pw'));
  return m.body.split('\n').find((l) => l.startsWith(name))?.split(' ').pop();
}

before(async () => {
  dir = tmpdir('remote');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=e2e CA');
  openssl('req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=sysfeed.test');
  fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=DNS:sysfeed.test,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'srv.crt', '-days', '30', '-extfile', 'ext');
  fs.chmodSync(path.join(dir, 'srv.key'), 0o600);
  const hash = openssl('passwd', '-6', 'alice-pw').trim();
  fs.writeFileSync(path.join(dir, 'users'), `alice:${hash}\n`, { mode: 0o600 });
  daemon = await startDaemon({
    args: ['--listen', 'https://0.0.0.0:0'],
    config: `allowed-hosts = sysfeed.test\ntls-cert = ${dir}/srv.crt\ntls-key = ${dir}/srv.key\n`
      + `auth-users = ${dir}/users\n`,
  });
  const port = await until(() => /listening on https:\/\/0\.0\.0\.0:(\d+)\//.exec(daemon.stderr())?.[1], 5000, 'the https line');
  base = `https://sysfeed.test:${port}/`;
  const spki = spawnSync('sh', ['-c', 'openssl x509 -in srv.crt -pubkey -noout | openssl pkey -pubin -outform der '
    + '| openssl dgst -sha256 -binary | base64'], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spki}`,
      '--host-resolver-rules=MAP sysfeed.test 127.0.0.1'],
  });
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the page over TLS with Basic credentials', () => {
  it('asks for credentials, then is live in two tabs over one shared stream, HSTS on its answers', async () => {
    // Without credentials: the Basic challenge, which a browser with none
    // to give cancels; nothing of the page.
    const r0 = await tlsGet(base);
    assert.equal(r0.status, 401);
    assert.match(r0.headers['www-authenticate'], /^Basic realm="sysfeed"/);
    const anon = await browser.newContext();
    await assert.rejects((await anon.newPage()).goto(base), /ERR_INVALID_AUTH_CREDENTIALS/);
    await anon.close();

    const ctx = await browser.newContext({ httpCredentials: { username: 'alice', password: 'alice-pw' } });
    const page = await watchedPage(ctx);
    const statuses = [];
    page.on('response', (res) => statuses.push(`${res.status()} ${res.url()}`));
    const res = await page.goto(base);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['strict-transport-security'], 'max-age=31536000');
    await waitPanels(page, 10000);
    await waitLive(page, 10000);
    const page2 = await watchedPage(ctx);
    await page2.goto(base);
    await waitLive(page2, 10000);
    // one EventSource (in the SharedWorker) for both tabs, authenticated
    const health = await tlsGet(`${base}healthz`, basic('alice', 'alice-pw'));
    assert.equal(JSON.parse(health.body).clients, 1, health.body);
    const h = await hello(page);
    assert.ok(h.topics.includes('cpu'));
    // Events keep arriving over the authenticated stream.
    const seq = await page.evaluate(() => window.sysfeed.lastId);
    await until(async () => (await page.evaluate(() => window.sysfeed.lastId)) !== seq, 5000, 'a newer event');
    assert.deepEqual(await page.problems(), []);
    assert.deepEqual(statuses.filter((s) => !/^(200|304) /.test(s)), [], 'every answer of the page was 200 or 304');
    // The browser sent cached credentials: only the first navigation (and
    // the anonymous one) went without them.
    const missing = Number(await metric('sysfeed_http_auth_refused_total{reason="no_credentials"}'));
    assert.ok(missing <= 3, `requests without credentials: ${missing}`);
    assert.match(daemon.stderr(), /auth: 127\.0\.0\.1 logged in as alice \(password\)/);
    assert.ok(!daemon.stderr().includes('alice-pw'));
    await ctx.close();
  });

  it('a wrong password gets 401 and no data', async () => {
    const ctx = await browser.newContext({ httpCredentials: { username: 'alice', password: 'nope' } });
    const page = await ctx.newPage();
    const res = await page.goto(base);
    assert.equal(res.status(), 401);
    assert.ok(!(await page.content()).includes('data-topic'));
    await ctx.close();
  });
});
