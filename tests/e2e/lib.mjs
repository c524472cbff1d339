// Real parts for the page's end-to-end tests: the daemon on an ephemeral
// port, Debian's chromium through playwright-core (never a downloaded
// browser), nginx, HAProxy and Caddy as reverse proxies at a sub-path, and
// a journald when the machine runs none.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const BIN = path.resolve(ROOT, process.env.SYSFEED_BIN || 'build/sysfeed');
export const OUT = path.join(ROOT, 'tests/e2e/out');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tmpdir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sysfeed-e2e-${tag}-`));
}

// Polls fn until it returns a truthy value; throws `what` on timeout.
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------- the daemon

// Starts build/sysfeed; resolves once it printed its address. port 0
// picks a free one; a given port is retried briefly (a restart on the
// port just freed).
export async function startDaemon({ port = 0, args = [], config } = {}) {
  const dir = tmpdir('daemon');
  const argv = ['--listen', `127.0.0.1:${port}`, ...args];
  if (config) {
    fs.writeFileSync(path.join(dir, 'sysfeed.conf'), config);
    argv.unshift('--config', path.join(dir, 'sysfeed.conf'));
  }
  for (let attempt = 0; ; attempt++) {
    const proc = spawn(BIN, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const got = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 10000);
      proc.stderr.on('data', (b) => {
        err += b;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.on('exit', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    if (got) {
      const d = {
        proc,
        port: got,
        url: `http://127.0.0.1:${got}/`,
        stderr: () => err,
        stop: () => stopProc(proc),
      };
      return d;
    }
    proc.kill('SIGKILL');
    if (attempt >= 20) throw new Error(`sysfeed did not start: ${err}`);
    await sleep(250);
  }
}

export function stopProc(proc, signal = 'SIGTERM') {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill(signal);
  });
}

export function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url}: timeout`)));
  });
}

export async function getJson(url) {
  const r = await get(url);
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body}`);
  return JSON.parse(r.body.toString());
}

// Reads an SSE stream for ms milliseconds: its bytes and its events.
export function readStream(url, ms) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let bytes = 0;
      let text = '';
      res.on('data', (c) => {
        bytes += c.length;
        text += c;
      });
      setTimeout(() => {
        req.destroy();
        const events = text.split('\n\n').filter((b) => b.includes('data:')).map((b) => {
          const ev = /^event: (.*)$/m.exec(b);
          const data = /^data: (.*)$/m.exec(b);
          return { event: ev ? ev[1] : 'message', data: data ? data[1] : '', bytes: b.length + 2 };
        });
        resolve({ bytes, events });
      }, ms);
    });
    req.on('error', reject);
  });
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- the browser

// Flags a sandboxed headless run needs; playwright adds --headless and a
// fresh --user-data-dir (a new temporary profile per launch).
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (make deps-e2e)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// A page that records console errors, page errors and CSP violations.
export async function watchedPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content.Security.Policy|Refused to|^sysfeed:/i.test(m.text())) {
      problems.push(`console ${m.type()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.problems = async () => {
    const csp = await page.evaluate(() => window.__csp).catch(() => []);
    return problems.concat(csp.map((c) => `CSP violation: ${c}`));
  };
  return page;
}

// The desktop viewport of the page tests.
export const DESKTOP = { width: 1440, height: 1000 };

// The browser contexts of a test file, each closed after its test however
// it ended (one left open would hold a connection and upset the next
// test's client count); browser() is the launched browser.
//   newContext(opts)  a context;
//   closeAll()        for afterEach;
//   open(url, { opts, ms, setup })  a watched page in a new context
//     (setup(page) before it loads) at url, every active panel showing
//     data within ms: { ctx, page, h }, h the hello.
export function contextPool(browser) {
  const contexts = new Set();
  async function newContext(opts) {
    const ctx = await browser().newContext(opts);
    contexts.add(ctx);
    ctx.on('close', () => contexts.delete(ctx));
    return ctx;
  }
  return {
    newContext,
    async closeAll() {
      for (const ctx of [...contexts]) await ctx.close().catch(() => {});
    },
    async open(url, { opts = { viewport: DESKTOP }, ms = 5000, setup } = {}) {
      const ctx = await newContext(opts);
      const page = await watchedPage(ctx);
      if (setup) await setup(page);
      await page.goto(url);
      const h = await waitPanels(page, ms);
      return { ctx, page, h };
    },
  };
}

export async function hello(page) {
  return until(() => page.evaluate(() => window.sysfeed?.store?.hello), 5000, 'hello');
}

export async function waitLive(page, ms = 5000) {
  await until(() => page.evaluate(() => document.documentElement.dataset.conn === 'live'), ms, 'the page to be live');
}

// Every [data-topic] of an active topic has data; returns hello.
export async function waitPanels(page, ms) {
  const h = await hello(page);
  await until(
    () => page.evaluate((topics) => topics.every((t) =>
      [...document.querySelectorAll(`[data-topic="${t}"]`)].every((el) => el.dataset.state === 'data')), h.topics),
    ms,
    'every active panel to show data',
  );
  return h;
}

// ---------------------------------------------------------------- reverse proxies

// A proxy snippet of tests/e2e, pointed at the daemon on upstreamPort and
// listening on port where it says :8080.
function snippet(file, upstreamPort, port) {
  return fs.readFileSync(path.join(ROOT, 'tests/e2e', file), 'utf8')
    .replaceAll('127.0.0.1:8390', `127.0.0.1:${upstreamPort}`)
    .replaceAll(':8080', port ? `127.0.0.1:${port}` : ':8080');
}

// A reverse proxy run in the foreground, serving the page at /sysfeed/ of
// 127.0.0.1:port: start() resolves once the daemon's healthz answers
// through it; stop() ends it with signal.
function foreground(name, argv, { dir, port, env, signal = 'SIGTERM' }) {
  return {
    name,
    dir,
    port,
    url: `http://127.0.0.1:${port}/sysfeed/`,
    proc: null,
    err: () => '',
    start() {
      this.proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env, cwd: dir });
      let err = '';
      this.proc.stderr.on('data', (b) => (err += b));
      this.err = () => err;
      return until(() => get(`${this.url}healthz`).then((r) => r.status === 200), 10000, name).catch((e) => {
        throw new Error(`${e.message}; ${name} said: ${err.slice(-500)}`);
      });
    },
    stop() {
      return this.proc ? stopProc(this.proc, signal) : Promise.resolve();
    },
  };
}

function which(name, paths) {
  const bin = paths.find((p) => fs.existsSync(p));
  if (!bin) throw new Error(`${name} missing: apt-get install ${name} (make deps-e2e)`);
  return bin;
}

// nginx with tests/e2e/nginx-sysfeed.conf; every request logged with its
// size (log()).
export async function startNginx(upstreamPort, { stopped } = {}) {
  const bin = which('nginx', ['/usr/sbin/nginx', '/usr/bin/nginx']);
  const dir = tmpdir('nginx');
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format sized '$msec "$request" $status $bytes_sent $request_time "$http_last_event_id"';
  server {
    listen 127.0.0.1:${port};
    access_log ${dir}/access.log sized;
${snippet('nginx-sysfeed.conf', upstreamPort)}
  }
}
`);
  const n = foreground('nginx', [bin, '-c', conf, '-p', dir], { dir, port });
  // Access log lines: {time, request, status, bytes, duration, lastEventId}.
  n.log = () => {
    const file = path.join(dir, 'access.log');
    if (!fs.existsSync(file)) return [];
    return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
      const m = /^([\d.]+) "([^"]*)" (\d+) (\d+) ([\d.]+) "([^"]*)"$/.exec(l);
      if (!m) return { line: l };
      const [, time, request, status, bytes, duration, lastId] = m;
      return { time: Number(time), request, status: Number(status), bytes: Number(bytes), duration: Number(duration), lastEventId: lastId === '-' ? '' : lastId };
    });
  };
  if (!stopped) await n.start();
  return n;
}

// HAProxy with tests/e2e/haproxy-sysfeed.cfg; edit(text) may change the
// snippet first (a test's shorter timeouts).
export async function startHaproxy(upstreamPort, { stopped, edit = (t) => t } = {}) {
  const bin = which('haproxy', ['/usr/sbin/haproxy']);
  const dir = tmpdir('haproxy');
  const port = await freePort();
  const conf = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(conf, `global
    pidfile ${dir}/haproxy.pid

${edit(snippet('haproxy-sysfeed.cfg', upstreamPort, port))}`);
  // -db: foreground; SIGTERM: stop now, streams included.
  const h = foreground('haproxy', [bin, '-db', '-f', conf], { dir, port });
  if (!stopped) await h.start();
  return h;
}

// Caddy with tests/e2e/Caddyfile-sysfeed: no admin endpoint, no HTTPS, its
// state in a temporary HOME.
export async function startCaddy(upstreamPort, { stopped } = {}) {
  const bin = which('caddy', ['/usr/bin/caddy']);
  const dir = tmpdir('caddy');
  const port = await freePort();
  const conf = path.join(dir, 'Caddyfile');
  fs.writeFileSync(conf, `{
\tadmin off
\tauto_https off
}

${snippet('Caddyfile-sysfeed', upstreamPort, port).replace(`127.0.0.1:${port} {`, `http://127.0.0.1:${port} {`)}`);
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
  // SIGKILL: on SIGTERM Caddy waits for open streams to end.
  const c = foreground('caddy', [bin, 'run', '--adapter', 'caddyfile', '--config', conf], { dir, port, env, signal: 'SIGKILL' });
  if (!stopped) await c.start();
  return c;
}

export const REVERSE_PROXIES = { nginx: startNginx, HAProxy: startHaproxy, Caddy: startCaddy };

// ---------------------------------------------------------------- the journal

function journaldRunning() {
  return spawnSync('pgrep', ['-x', 'systemd-journal'], { stdio: 'ignore' }).status === 0;
}

// Makes sure a journald accepts entries: uses the running one, or (as
// root) starts /lib/systemd/systemd-journald and returns its stop.
export async function ensureJournald() {
  const probe = () => spawnSync('systemd-cat', ['-t', 'sysfeed-e2e-probe', 'true'], { stdio: 'ignore' }).status === 0;
  if (journaldRunning() && probe()) return { stop: async () => {} };
  if (process.getuid && process.getuid() !== 0) {
    throw new Error('no systemd-journald accepts entries, and starting one needs root');
  }
  const proc = spawn('/lib/systemd/systemd-journald', [], { stdio: 'ignore', detached: true });
  await until(() => probe(), 5000, 'systemd-journald to accept entries');
  return { stop: () => stopProc(proc) };
}

export function journalSend(message, { priority = 'info', tag = 'sysfeed-e2e' } = {}) {
  const r = spawnSync('systemd-cat', ['-t', tag, '-p', priority], { input: `${message}\n` });
  if (r.status !== 0) throw new Error(`systemd-cat failed: ${r.stderr}`);
}
