// A TCP proxy in front of the daemon that breaks event streams on purpose:
// it cuts a connection at a chosen byte of the response (inside a frame,
// inside the snapshot, inside the chunked framing), or stops forwarding
// without closing (a half-open connection, as after a NAT drop). It also
// records every request head it forwards, so a test can see what a client
// asked for on reconnect (Last-Event-ID header or ?lastEventId=).
//
// A connection whose first request is GET .../events is an "events
// connection": the proxy decodes its chunked body alongside the raw bytes,
// so it can cut at a body offset and say where a cut fell. Other requests
// (page assets, favicon) are forwarded with `Connection: close`, so their
// connections never carry events later.

import net from 'node:net';
import zlib from 'node:zlib';

// The stream's raw bytes (status line, headers, chunked body) and the
// decoded body, with the map between the two.
class Response {
  constructor() {
    this.gzip = null; // once the head says Content-Encoding: gzip: the body's text
    this.raw = Buffer.alloc(0);
    this.headEnd = -1; // raw offset of the body's first byte
    this.body = Buffer.alloc(0);
    this.segs = []; // [rawStart, bodyStart, len]: body bytes sit at raw offsets in runs
    this.pos = 0; // raw offset the chunked decoder has consumed up to
    this.want = -1; // bytes left in the current chunk; -1: reading a size line
  }

  push(buf) {
    this.raw = Buffer.concat([this.raw, buf]);
    if (this.headEnd < 0) {
      const i = this.raw.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.headEnd = this.pos = i + 4;
      if (/\r\ncontent-encoding: *gzip\r\n/i.test(this.raw.subarray(0, i + 2).toString('latin1'))) this.gzip = Buffer.alloc(0);
    }
    const added = [];
    while (this.pos < this.raw.length) {
      if (this.want < 0) {
        const eol = this.raw.indexOf('\r\n', this.pos);
        if (eol < 0) break;
        this.want = parseInt(this.raw.subarray(this.pos, eol).toString(), 16);
        this.pos = eol + 2;
        if (!(this.want > 0)) {
          this.want = -2; // the last chunk: the stream ended
          this.pos = this.raw.length;
        }
        continue;
      }
      if (this.want === 0) {
        if (this.raw.length - this.pos < 2) break;
        this.pos += 2; // the CRLF after a chunk's data
        this.want = -1;
        continue;
      }
      const n = Math.min(this.want, this.raw.length - this.pos);
      this.segs.push([this.pos, this.body.length + added.reduce((s, b) => s + b.length, 0), n]);
      added.push(this.raw.subarray(this.pos, this.pos + n));
      this.pos += n;
      this.want -= n;
    }
    if (added.length) this.body = Buffer.concat([this.body, ...added]);
    if (added.length && this.gzip) this.gzip = this.unzip(this.body.length);
  }

  // gzip: the text of the first n body (compressed) bytes, as a client
  // decodes it when the connection ends there.
  unzip(n) {
    if (n <= 10) return Buffer.alloc(0);
    return zlib.gunzipSync(this.body.subarray(0, n), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  }

  // gzip: the fewest body bytes whose text holds at least t bytes.
  bodyFor(t) {
    let lo = 0;
    let hi = this.body.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.unzip(mid).length >= t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  // The event-stream text: the body, decoded when gzip'd.
  get text() {
    return this.gzip ?? this.body;
  }

  // The raw offset of body byte b, or -1 when not received yet.
  rawOf(b) {
    for (const [r, s, n] of this.segs) if (b >= s && b < s + n) return r + b - s;
    return -1;
  }

  // What a client holds when the connection is cut before raw offset r:
  // the number of body bytes, and whether r fell in the chunk framing.
  bodyBefore(r) {
    let got = 0;
    for (const [rs, bs, n] of this.segs) {
      if (r <= rs) return { bytes: got, framing: true };
      if (r < rs + n) return { bytes: bs + r - rs, framing: false };
      got = bs + n;
    }
    return { bytes: got, framing: r < this.headEnd ? false : true };
  }

  // Where in the stream a client stands after `bytes` body bytes: the
  // event of the frame it was reading (null between frames) and where in
  // that frame.
  where(bytes) {
    const text = this.text.subarray(0, bytes).toString('latin1');
    const start = text.lastIndexOf('\n\n') + 2;
    if (start === bytes) return { frame: null, field: 'between frames' };
    const whole = this.text.subarray(start, this.frameEnd(start)).toString('latin1');
    const ev = /(?:^|\n)event: ([\w-]+)/.exec(whole);
    const partial = text.slice(text.lastIndexOf('\n') + 1);
    let field;
    const lineStart = bytes - partial.length;
    const line = this.text.subarray(lineStart, lineStart + 8).toString('latin1');
    if (partial) field = `in its ${/^[a-z]*/.exec(line)[0] || '?'} line`;
    else if (this.inIdWindow(bytes)) field = 'after its id line, before the blank line';
    else field = `after its ${/([a-z]*)[^\n]*\n$/.exec(text.slice(start))?.[1] || '?'} line`;
    return { frame: ev ? ev[1] : '?', field };
  }

  // The snapshot frame of this response: {start, end} body offsets (end
  // just after its blank line), null when the response has none (a
  // resume), undefined while that is not known yet.
  snapshot() {
    const hello = this.text.indexOf('event: hello\n');
    const next = hello < 0 ? -1 : this.text.indexOf('\n\n', hello);
    if (next < 0) return undefined;
    const ev = this.text.indexOf('event: ', next + 2);
    if (ev < 0 || this.text.indexOf('\n', ev) < 0) return undefined;
    if (!this.text.subarray(ev, ev + 16).equals(Buffer.from('event: snapshot\n'))) return null;
    const end = this.text.indexOf('\n\n', ev);
    return end < 0 ? undefined : { start: next + 2, end: end + 2 };
  }

  frameEnd(start) {
    const i = this.text.indexOf('\n\n', start);
    return i < 0 ? this.text.length : i + 2;
  }

  // True when a client cut after `bytes` body bytes holds a complete
  // `id:` line of a frame whose blank line it has not got: the one place
  // where a client that takes the id as soon as it reads the line (not at
  // dispatch, as the spec says) skips a frame even though id comes last.
  inIdWindow(bytes) {
    if (bytes < 2 || this.text[bytes - 1] !== 0x0a || this.text[bytes] !== 0x0a) return false;
    const text = this.text.subarray(Math.max(0, bytes - 200), bytes - 1).toString('latin1');
    return /(?:^|\n)id:[^\n]*$/.test(text);
  }
}

// Request heads the client sent on one connection, in order, each with
// its raw text (GET requests: no bodies).
function parseHeads(state, buf) {
  state.text += buf.toString('latin1');
  const heads = [];
  for (;;) {
    const i = state.text.indexOf('\r\n\r\n');
    if (i < 0) break;
    const head = state.text.slice(0, i);
    state.text = state.text.slice(i + 4);
    const [line, ...rest] = head.split('\r\n');
    const headers = {};
    for (const h of rest) {
      const c = h.indexOf(':');
      if (c > 0) headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim();
    }
    const [method, target] = line.split(' ');
    const url = new URL(target ?? '/', 'http://x');
    heads.push({
      raw: head,
      method,
      target,
      path: url.pathname,
      lastEventId: headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? '',
      headers,
    });
  }
  return heads;
}

const rand = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo));

// Starts the proxy on an ephemeral port of 127.0.0.1.
//   plan(requestHead) -> null (forward untouched), {snapshot: true} (cut
//     inside the snapshot frame), {afterMs: t} (cut at a random byte of
//     the first data to come t ms or more after the connection opened) or
//     {at: n} (cut before raw byte n of the
//     response, counted after the snapshot when it has one; with tail: true,
//     moved to one of the last 40 bytes of the frame that byte is in; with
//     window: true, just before that frame's blank line);
//     asked once per events connection.
//   nudgeIdWindow: move a cut that lands in the id window (see inIdWindow)
//     to just before the id line's newline, for clients that take the id
//     at the line.
//   fastRetry: rewrite `retry: 2000` to `retry: 0200` (same length, so every
//     offset stays put): clients then reconnect in 0.2 s, not 2 s.
//   gzip: let the client's Accept-Encoding through (the daemon then sends
//     gzip and cuts fall in compressed bytes); otherwise the proxy drops
//     that header, so the stream is plain text.
export async function startCutProxy(upstreamPort, { plan = () => null, nudgeIdWindow = false, fastRetry = false, gzip = false } = {}) {
  const conns = new Set();
  let nconns = 0;
  const proxy = {
    port: 0,
    url: '',
    requests: [], // every request head forwarded: {conn, time, method, path, lastEventId, headers}
    cuts: [], // every cut: {conn, raw, body, framing, nudged, snapshotPlan, frame, field}
    // Stops forwarding on every connection now streaming events, both
    // ways, without closing it: what a client sees behind a dead NAT.
    // Returns how many it froze.
    freeze() {
      let n = 0;
      for (const c of conns) {
        if (c.streaming) {
          c.frozen = true;
          n++;
        }
      }
      return n;
    },
    // Open connections now streaming events, frozen or not.
    streams() {
      return [...conns].filter((c) => c.streaming).map((c) => ({ conn: c.id, frozen: c.frozen }));
    },
    // Stops listening and drops every connection (without waiting for
    // server.close's callback, which waits on sockets still closing).
    close() {
      server.close();
      for (const c of conns) {
        c.client.destroy();
        c.up.destroy();
      }
      return Promise.resolve();
    },
  };

  const server = net.createServer((client) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    const c = {
      id: ++nconns,
      client,
      up,
      reqState: { text: '' },
      events: null, // after the first request: is this an events connection?
      streaming: false, // the latest request is for events
      frozen: false,
      cutting: false,
      res: new Response(),
      sent: 0,
      cut: -1,
      decided: false,
      plan: null,
      retryPatched: !fastRetry,
      since: Date.now(),
    };
    conns.add(c);
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.on('error', () => {});
    up.on('error', () => {});
    client.on('close', () => {
      conns.delete(c);
      up.destroy();
    });
    up.on('close', () => client.end()); // after what was written

    // Requests go upstream a whole head at a time. A request for anything
    // but events gets `Connection: close`, so that a client never reuses
    // that connection for events: an events connection carries nothing else.
    client.on('data', (buf) => {
      if (c.frozen) return;
      for (const h of parseHeads(c.reqState, buf)) {
        h.conn = c.id;
        h.time = Date.now();
        proxy.requests.push(h);
        c.streaming = h.method === 'GET' && /\/events$/.test(h.path);
        if (c.events === null) {
          c.events = c.streaming;
          if (c.events) c.plan = plan(h);
        }
        let head = h.raw;
        if (!gzip) head = head.split('\r\n').filter((l) => !/^accept-encoding:/i.test(l)).join('\r\n');
        if (!c.streaming) head = `${head.split('\r\n').filter((l) => !/^connection:/i.test(l)).join('\r\n')}\r\nConnection: close`;
        up.write(Buffer.from(`${head}\r\n\r\n`, 'latin1'));
      }
    });

    up.on('data', (buf) => {
      if (c.frozen || c.cutting) return;
      if (!c.plan) {
        client.write(buf);
        return;
      }
      c.res.push(buf);
      pump(c);
    });
  });

  // Decides where an events connection is cut once the bytes that decides
  // it arrived, forwards what comes before, and cuts there.
  function pump(c) {
    const res = c.res;
    if (!c.retryPatched && res.gzip) c.retryPatched = true; // compressed: left as it is
    if (!c.retryPatched) {
      if (res.body.length < 16) return;
      const i = res.body.indexOf('retry: 2000\n');
      if (i >= 0 && i < 16) {
        res.raw[res.rawOf(i + 7)] = 0x30;
        res.raw[res.rawOf(i + 8)] = 0x32;
      }
      c.retryPatched = true;
    }
    if (c.cut < 0 && c.plan.afterMs !== undefined) {
      // at a random byte of the first bytes to come once afterMs passed
      // (a tick's compressed chunk, mostly): a cut inside what they decode to
      if (Date.now() - c.since < c.plan.afterMs) return forward(c, res.raw.length);
      c.cut = c.sent + rand(1, Math.max(2, res.raw.length - c.sent));
    }
    if (c.cut < 0) {
      const snap = res.snapshot();
      if (snap === undefined) return; // hold everything until the snapshot is whole
      // gzip: the frame's place in compressed bytes, where its text starts
      // and ends decoding
      const from = snap && res.gzip ? res.bodyFor(snap.start + 1) : snap?.start + 1;
      const to = snap && res.gzip ? res.bodyFor(snap.end) : snap?.end;
      if (c.plan.snapshot && snap && to > from) {
        // The client gets 1 .. len-1 bytes of the frame: never none, never all.
        const keep = rand(from, to);
        c.cut = res.rawOf(keep - 1) + 1;
      } else {
        c.cut = (snap ? res.rawOf(to - 1) + 1 : 0) + (c.plan.at ?? rand(1, 20000));
      }
    }
    if (c.plan.tail && !c.tailed && !res.gzip) {
      // Near the end of the frame that the byte chosen is in: in its id
      // line, or between that line and the blank line.
      if (res.raw.length < c.cut) return forward(c, c.cut - 32);
      const from = res.bodyBefore(c.cut).bytes;
      const end = res.body.indexOf('\n\n', from);
      if (end < 0) return forward(c, c.cut - 32);
      const keep = c.plan.window ? end + 1 : rand(Math.max(from, end - 40), end + 2);
      c.cut = keep > 0 ? res.rawOf(keep - 1) + 1 : c.cut;
      c.tailed = true;
    }
    if (!c.decided) {
      const { bytes } = res.bodyBefore(c.cut);
      if (res.raw.length < c.cut || res.body.length <= bytes) {
        forward(c, Math.min(res.raw.length, c.cut - 32)); // the tail waits: a nudge may move back
        return;
      }
      c.decided = true;
      let nudged = false;
      if (nudgeIdWindow && !res.gzip && res.inIdWindow(bytes)) {
        c.cut = res.rawOf(bytes - 1); // before the id line's newline
        nudged = true;
      }
      const b = res.bodyBefore(c.cut);
      const t = res.gzip ? res.unzip(b.bytes).length : b.bytes;
      const w = c.cut >= res.headEnd ? res.where(t) : { frame: null, field: 'in the response head' };
      proxy.cuts.push({ conn: c.id, raw: c.cut, body: b.bytes, framing: b.framing, nudged, gzip: Boolean(res.gzip), snapshotPlan: Boolean(c.plan.snapshot), ...w });
    }
    forward(c, c.cut);
    if (c.sent >= c.cut) {
      c.cutting = true;
      c.client.end();
      c.up.destroy();
    }
  }

  function forward(c, upto) {
    if (upto <= c.sent) return;
    c.client.write(c.res.raw.subarray(c.sent, upto));
    c.sent = upto;
  }

  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  proxy.port = server.address().port;
  proxy.url = `http://127.0.0.1:${proxy.port}/`;
  return proxy;
}
