// What the charts show: a range preset (the last 5 minutes to a year) or a
// window zoomed into, and where its rows come from.
//
// A range the stream's rows in memory cover (the snapshot's history, the
// last history-seconds, and what came since) is drawn from them, as it
// moves. Any other is read from the daemon's history on disk once, when it
// is chosen: one GET /api/history for every chart topic, with a step that
// gives about a point per pixel of the widest chart. A preset read that
// way keeps following the present: the stream's rows after the last one
// read are put on its end, consolidated to the same step (average, min and
// max per field), so nothing is read again and nothing polls. A zoomed
// window is fixed; zooming into one reads its finer rows once (unless they
// are already there or in memory). live() leaves it for the range again,
// following the present, without a read.

import { isNum } from './format.js';

const CHART_TOPICS = ['cpu', 'mem', 'load', 'net', 'disk', 'gpu'];
const EMPTY = { fields: ['t'], rows: [] };
const GAP_STEPS = 3.5; // rows further apart than this many steps: a gap

export const DEFAULT_RANGE_S = 600;

export class View {
  // changed(): the page redraws every chart and the range's line.
  constructor(changed) {
    this.changed = changed;
    this.preset = DEFAULT_RANGE_S; // s
    this.zoom = null; // [from, to] ms
    this.base = null; // the preset's rows read from the history (take()), followed
    this.data = null; // the rows shown: null (the stream's), base, or a zoom's
    this.pending = null; // the AbortController of the read under way
    this.reads = 0;
    this.note = ''; // what the range line says of the read
    this.width = 1000; // px: the widest chart's
    this.interval = 1;
    this.stored = false; // the daemon keeps history on disk
    this.topics = [];
  }

  // From hello: the interval, the chart topics, whether history is stored.
  setup(hello) {
    this.interval = (hello?.interval_ms ?? 1000) / 1000;
    const off = hello?.off?.history;
    this.stored = Boolean(hello) && (off === undefined || /^paused/.test(off));
    this.topics = CHART_TOPICS.filter((t) => hello?.topics?.includes(t));
  }

  live() {
    this.zoom = null;
  }

  // The charts follow the present (no past window zoomed into).
  isLive() {
    return !this.zoom;
  }

  // The window shown, [from, to] in ms.
  window(store) {
    if (this.zoom) return this.zoom;
    const now = store.lastT || Date.now();
    if (this.base) return [this.base.end * 1000 - this.preset * 1000, this.base.end * 1000];
    return [now - this.preset * 1000, now];
  }

  // Chooses where the rows of the range or zoom now selected come from:
  // the stream's when they reach back far enough (or nothing is stored),
  // else one read of /api/history.
  decide(store) {
    const now = store.lastT || Date.now();
    const [from, to] = this.zoom ?? [now - this.preset * 1000, now];
    const slack = Math.max(3 * this.interval * 1000, (to - from) / 100);
    const inMemory = oldestRow(store, this.topics) <= from + slack;
    const holds = (d) => d?.fine && from >= d.from && to <= d.to;
    this.pending?.abort();
    this.pending = null;
    this.note = '';
    if (!this.zoom && (!this.stored || inMemory)) {
      this.base = null;
      this.data = null;
    } else if (!this.zoom && this.base?.preset === this.preset) {
      this.data = this.base;
    } else if (this.zoom && this.stored && !inMemory && holds(this.data)) {
      // the rows shown already hold this window at full detail
    } else if (this.zoom && (inMemory || !this.stored)) {
      this.data = fromMemory(store, from, to, this.interval, this.topics);
    } else {
      this.read(from, to, store);
    }
    this.changed();
  }

  async read(from, to, store) {
    this.pending?.abort();
    const ctl = new AbortController();
    this.pending = ctl;
    const step = Math.max(this.interval, Math.ceil((to - from) / 1000 / Math.max(100, this.width)));
    const q = `api/history?topics=${this.topics.join(',')}&from=${Math.floor(from)}&to=${Math.ceil(to)}&step=${step}`;
    this.reads++;
    this.note = 'reading history…';
    try {
      const r = await fetch(q, { signal: ctl.signal, cache: 'no-store' });
      if (!r.ok) throw new Error(`${r.status} ${(await r.text()).trim()}`);
      const a = await r.json();
      if (this.pending !== ctl) return;
      this.data = this.take(a, from, to, store);
      if (this.data.follow) this.base = this.data;
      this.note = '';
    } catch (e) {
      if (ctl.signal.aborted) return;
      this.data = null;
      if (!this.zoom) this.base = null;
      this.note = `history: ${e.message}`;
    }
    this.pending = null;
    this.changed();
  }

  take(a, from, to, store) {
    const tops = a.tops ?? { fields: [], rows: [] };
    const d = {
      from,
      to,
      step: a.step,
      consolidated: Boolean(a.consolidated),
      fine: !a.consolidated,
      until: a.until ?? 0,
      hist: a.history ?? {},
      tops: tops.rows ?? [],
      topCpu: tops.fields?.indexOf('proc.top_cpu') ?? -1,
      topMem: tops.fields?.indexOf('proc.top_mem') ?? -1,
      events: a.events?.rows ?? [],
      follow: !this.zoom,
      preset: this.zoom ? null : this.preset,
      end: to / 1000,
      tail: {},
    };
    if (d.follow) {
      for (const [topic, h] of Object.entries(d.hist)) {
        const last = h.rows.length ? h.rows[h.rows.length - 1][0] : from;
        // consolidated: the next bucket after the last one read
        d.tail[topic] = { start: d.consolidated ? last + d.step * 1000 : last + 1, seen: 0, map: null, fields: null, acc: null };
      }
      this.fill(d, store);
    }
    return d;
  }

  // Puts the stream's rows that came since the last call on the end of a
  // followed read; true when a row was added (the charts move).
  feed(store) {
    return this.base ? this.fill(this.base, store) : false;
  }

  fill(d, store) {
    let moved = false;
    for (const [topic, tail] of Object.entries(d.tail)) {
      const s = store.hist[topic];
      const rows = s?.rows ?? [];
      let i = rows.length;
      while (i > 0 && rows[i - 1][0] > tail.seen) i--;
      for (; i < rows.length; i++) {
        tail.seen = rows[i][0];
        if (rows[i][0] >= tail.start && this.tailRow(d, topic, tail, s.fields, rows[i])) moved = true;
      }
    }
    if (moved && !this.zoom) this.trim(d);
    return moved;
  }

  tailRow(d, topic, tail, fields, r) {
    const h = d.hist[topic];
    if (tail.fields !== fields) {
      tail.fields = fields;
      tail.map = mapping(h.fields, fields);
    }
    if (!d.consolidated) {
      h.rows.push(tail.map.map(({ src }) => (src < 0 ? null : r[src])));
      h.rows[h.rows.length - 1][0] = r[0];
      d.end = Math.max(d.end, r[0] / 1000);
      return true;
    }
    const stepMs = d.step * 1000;
    const bucket = Math.floor(r[0] / stepMs) * stepMs;
    let closed = false;
    if (tail.acc && tail.acc.t !== bucket) {
      h.rows.push(closeBucket(tail.acc, tail.map));
      d.end = Math.max(d.end, (tail.acc.t + stepMs) / 1000);
      tail.acc = null;
      closed = true;
    }
    tail.acc ??= { t: bucket, vals: fields.map(() => ({})) };
    r.forEach((v, i) => i && addValue(tail.acc.vals[i], v));
    return closed;
  }

  // Drops the followed rows that left the range.
  trim(d) {
    const oldest = (d.end - this.preset - 2 * d.step) * 1000;
    for (const h of Object.values(d.hist)) {
      let n = 0;
      while (n < h.rows.length && h.rows[n][0] < oldest) n++;
      if (n) h.rows.splice(0, n);
    }
  }

  // What the panels draw with: x range (s), gap (s), step (s), rows.
  frame(store) {
    const d = this.data;
    const [from, to] = this.window(store);
    const step = d ? Math.max(d.step, this.interval) : this.interval;
    return {
      xr: [from / 1000, to / 1000],
      gapS: step * GAP_STEPS,
      step,
      hist: d ? (topic) => d.hist[topic] ?? EMPTY : (topic) => store.hist[topic],
    };
  }

  // The top processes at t (ms): {t, cpu, mem} lists of [pid, name, cpu %,
  // rss], from the rows read where they cover t, else from the stream's.
  topsAt(t, store) {
    const d = this.data;
    if (d?.tops.length && t <= d.until + d.step * 1000) {
      const i = before(d.tops, t);
      const row = i >= 0 ? d.tops[i] : null;
      const within = d.consolidated ? d.step * 1000 : 1.5 * this.interval * 1000;
      if (row && t - row[0] < within) return { t: row[0], cpu: row[d.topCpu] ?? [], mem: row[d.topMem] ?? [] };
      return null;
    }
    const list = store.tops;
    const i = before(list, t + (this.interval * 1000) / 2, (x) => x.t);
    const x = i >= 0 ? list[i] : null;
    return x && Math.abs(x.t - t) <= 1.5 * this.interval * 1000 ? x : null;
  }

  // The range's line: what is shown and from where.
  describe() {
    if (this.note) return this.note;
    const d = this.data;
    if (!d) return this.zoom ? 'from memory' : '';
    if (d.memory) return 'from memory';
    return d.consolidated ? `history: ${span(d.step)} averages, min–max shaded` : `history: every ${span(d.step)}`;
  }
}

// A zoomed window the stream's rows in memory hold, kept as a read would
// be (the store drops its rows as they age).
function fromMemory(store, from, to, interval, topics) {
  const hist = {};
  const within = (t) => t >= from - interval * 1000 && t <= to + interval * 1000;
  for (const topic of topics) {
    const h = store.hist[topic];
    if (h) hist[topic] = { fields: h.fields, rows: h.rows.filter((r) => within(r[0])) };
  }
  const tops = store.tops.filter((x) => within(x.t)).map((x) => [x.t, x.cpu, x.mem]);
  return { from, to, step: interval, consolidated: false, fine: true, memory: true, until: to, hist, tops, topCpu: 1, topMem: 2, events: null, follow: false, end: to / 1000, tail: {} };
}

// The time of the oldest row of the stream's chart rows.
function oldestRow(store, topics) {
  let t = Infinity;
  for (const topic of topics) {
    const rows = store.hist[topic]?.rows;
    if (rows?.length) t = Math.min(t, rows[0][0]);
  }
  return t;
}

// The index of the last row whose time (row[0]) is at most t, or -1.
function before(rows, t, time = (r) => r[0]) {
  let lo = 0;
  let hi = rows.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (time(rows[mid]) <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

// For each field of a read (FIELD, FIELD:min, FIELD:max), where it comes
// from in a stream row and which of the bucket's values it takes.
function mapping(readFields, streamFields) {
  const at = new Map(streamFields.map((f, i) => [f, i]));
  return readFields.map((f) => {
    const m = /^(.*):(min|max)$/.exec(f);
    const base = m ? m[1] : f;
    return { src: at.get(base) ?? -1, kind: m ? m[2] : 'avg' };
  });
}

// A value of a stream row into a bucket's accumulator: numbers (and the
// numbers of an array, element by element) summed, least and greatest;
// other values (names, flags) kept as the last.
function addValue(a, v) {
  a.last = v;
  if (isNum(v)) {
    a.n = (a.n ?? 0) + 1;
    a.sum = (a.sum ?? 0) + v;
    a.min = Math.min(a.min ?? v, v);
    a.max = Math.max(a.max ?? v, v);
  } else if (Array.isArray(v)) {
    a.el ??= [];
    v.forEach((x, i) => {
      if (!isNum(x)) return;
      const e = (a.el[i] ??= { n: 0, sum: 0, min: x, max: x });
      e.n++;
      e.sum += x;
      e.min = Math.min(e.min, x);
      e.max = Math.max(e.max, x);
    });
  }
}

function valueOf(a, kind) {
  if (!a || a.last === undefined) return null;
  const pick = (e) => (!e?.n ? null : kind === 'min' ? e.min : kind === 'max' ? e.max : e.sum / e.n);
  if (Array.isArray(a.last)) return a.el && a.last.some(isNum) ? a.last.map((_, i) => pick(a.el[i])) : a.last;
  return a.n ? pick(a) : a.last;
}

function closeBucket(acc, map) {
  const row = map.map(({ src, kind }) => (src < 0 ? null : valueOf(acc.vals[src], kind)));
  row[0] = acc.t;
  return row;
}

function span(s) {
  if (s >= 86400 && s % 86400 === 0) return `${s / 86400} d`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${+s.toFixed(2)} s`;
}
