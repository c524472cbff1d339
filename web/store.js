// What a view knows: hello, the newest payload of every topic, chart rows
// per topic and the journal and file backlogs. The SharedWorker keeps one
// to hand a new tab everything at once; every tab keeps one for drawing.
// Everything in it is bounded: rows by time, backlogs by count.

export const LOG_CAP = 2000;
const FILE_CAP = 500;
const CTR_CAP = 100;
const ALERT_RECENT = 50;
const WINDOW_MIN_MS = 600e3;
const WINDOW_MAX_MS = 3600e3;
const ROWS_MAX = 7200;

// Event-driven topics: their events add to a backlog instead of replacing
// a value. Periodic topics are every other name. `ctr` holds the
// containers that started and stopped (the containers topic's change
// events, which share its name with its ticks).
const BACKLOG_TOPICS = { log: LOG_CAP, file: FILE_CAP, ctr: CTR_CAP };

// Chart fields kept for a topic whose collector declares no history of its
// own (its charts then start with the first live event).
const FALLBACK_FIELDS = {
  net: ['t', 'interfaces[].name', 'interfaces[].rx_bytes_per_s', 'interfaces[].tx_bytes_per_s'],
  disk: ['t', 'disks[].name', 'disks[].partition', 'disks[].read_bytes_per_s',
    'disks[].write_bytes_per_s'],
};

function lookup(o, path) {
  for (const k of path.split('.')) {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
    o = o[k];
  }
  return o === undefined ? null : o;
}

// The value of one history path ("a.b", or "a[].b" for an array of each
// element's b), as daemon/history.c computes it.
function valueOf(o, path) {
  const br = path.indexOf('[]');
  if (br < 0) return leaf(lookup(o, path));
  const arr = br ? lookup(o, path.slice(0, br)) : o;
  if (!Array.isArray(arr)) return null;
  const rest = path.slice(br + 2).replace(/^\./, '');
  return arr.map((e) => (rest ? valueOf(e, rest) : leaf(e)));
}

function leaf(v) {
  return v === null || typeof v === 'object' ? null : v;
}

function rowOf(payload, fields) {
  return fields.map((f, i) => (i === 0 ? payload.t : valueOf(payload, f)));
}

// Entries a log or file payload carries: a batch ({entries|events: [...]}),
// a list, or a single entry.
function backlogEntries(p) {
  if (!p) return [];
  if (Array.isArray(p)) return p;
  for (const k of ['entries', 'events', 'lines', 'changes', 'recent', 'backlog']) {
    if (Array.isArray(p[k])) return p[k];
  }
  return p.message !== undefined || p.path !== undefined ? [p] : [];
}

// A proc payload's top 5 by CPU and by memory, shaped as the tops of
// /api/history: [pid, name, cpu %, rss bytes].
const TOPS = 5;
const topEntry = (x) => [x.pid, x.comm ?? '', x.cpu_pct ?? null, x.rss_bytes ?? null];

function topsOf(p) {
  if (typeof p?.t !== 'number' || !Array.isArray(p.top_cpu)) return null;
  return { t: p.t, cpu: p.top_cpu.slice(0, TOPS).map(topEntry), mem: (p.top_mem || []).slice(0, TOPS).map(topEntry) };
}

export const entryTime = (e) => e.ts ?? e.t ?? 0;

function entryKey(e) {
  return e.cursor ?? `${entryTime(e)}\u0000${e.path ?? e.id ?? ''}\u0000${e.message ?? ''}\u0000${e.event ?? e.what ?? e.change ?? ''}`;
}

// The containers topic sends its whole list in `snapshot` and, each tick,
// the rows that changed (`rows`, keyed by `cgroup`): latest.containers
// keeps the whole list, as the snapshot has it.
function mergeRows(cur, p) {
  const { rows, ...counts } = p;
  const list = Array.isArray(cur?.list) ? cur.list.slice() : [];
  const at = new Map(list.map((x, i) => [x.cgroup, i]));
  for (const r of rows) {
    if (at.has(r.cgroup)) list[at.get(r.cgroup)] = r;
    else at.set(r.cgroup, list.push(r) - 1);
  }
  return { ...counts, list };
}

// A container that stopped leaves the list at once (the next tick's counts
// say so too).
function dropStopped(cur, changes) {
  const gone = new Set(changes.filter((x) => x.change === 'stopped').map((x) => x.cgroup));
  if (!gone.size || !Array.isArray(cur?.list)) return cur;
  return { ...cur, list: cur.list.filter((x) => !gone.has(x.cgroup)) };
}

export class Store {
  constructor() {
    this.hello = null;
    this.instance = null;
    this.latest = {}; // topic -> newest payload
    this.hist = {}; // topic -> {fields, rows: [[t, v...], ...]}
    this.backlog = { log: [], file: [], ctr: [] };
    this.keys = { log: new Set(), file: new Set(), ctr: new Set() };
    this.dropped = { log: 0, file: 0 };
    this.state = {}; // the snapshot part of log and file, without entries
    this.windowMs = WINDOW_MIN_MS;
    this.lastT = 0;
    this.seen = new Set(); // topics that sent something
    // The top processes of each proc event, for the charts' tooltip over
    // the live window: {t, cpu: [[pid, name, cpu %, rss]...], mem: [...]}.
    this.tops = [];
    this.fresh = []; // the entries the last log or file event added
    // Event ids are <instance>-<seq>, consecutive on the page's unfiltered
    // stream: a jump is a missed event. A snapshot starts the count afresh.
    this.seq = { instance: '', last: 0, gaps: 0 };
  }

  applyHello(h) {
    this.hello = h;
  }

  // A snapshot replaces values and history, but keeps the rows older than
  // the snapshot's first one: a daemon restart or a resync leaves a gap in
  // the charts, not an empty chart.
  applySnapshot(s) {
    if (s.instance) this.instance = s.instance;
    if (s.instance && typeof s.seq === 'number') this.seq = { instance: s.instance, last: s.seq, gaps: this.seq.gaps };
    for (const t of Object.keys(s.topics || {})) this.seen.add(t);
    for (const t of s.seen || []) this.seen.add(t);
    for (const [topic, p] of Object.entries(s.topics || {})) {
      if (topic in BACKLOG_TOPICS) {
        this.mergeBacklog(topic, backlogEntries(p), true);
        if (typeof p?.dropped_total === 'number') this.dropped[topic] = p.dropped_total;
        const { entries, events, ...rest } = p || {};
        this.state[topic] = rest;
      } else {
        this.latest[topic] = p;
      }
    }
    for (const [topic, h] of Object.entries(s.history || {})) {
      if (!h || !Array.isArray(h.fields) || !Array.isArray(h.rows)) continue;
      const old = this.hist[topic];
      const first = h.rows.length ? h.rows[0][0] : Infinity;
      if (h.rows.length > 1) {
        const span = h.rows[h.rows.length - 1][0] - first;
        this.windowMs = Math.min(WINDOW_MAX_MS, Math.max(this.windowMs, span + 1000));
      }
      let rows = h.rows.slice();
      if (old && old.fields.join() === h.fields.join()) rows = old.rows.filter((r) => r[0] < first).concat(rows);
      this.hist[topic] = { fields: h.fields.slice(), rows };
      this.trim(this.hist[topic]);
    }
    for (const [topic, entries] of Object.entries(s.backlog || {})) this.mergeBacklog(topic, entries, true);
    for (const x of s.tops || []) this.addTops(x);
    if (s.topics?.proc) this.addTops(topsOf(s.topics.proc));
    Object.assign(this.state, s.state || {});
    if (s.dropped) Object.assign(this.dropped, s.dropped);
    if (s.t) this.lastT = Math.max(this.lastT, s.t);
  }

  applyEvent(topic, p, id) {
    this.seen.add(topic);
    this.countSeq(id);
    if (topic in BACKLOG_TOPICS) {
      this.fresh = this.mergeBacklog(topic, backlogEntries(p), false);
      if (typeof p?.dropped === 'number') this.dropped[topic] += p.dropped;
      return;
    }
    if (topic === 'containers' && Array.isArray(p?.changes)) {
      this.mergeBacklog('ctr', p.changes.map((x) => ({ ...x, t: p.t })), false);
      this.latest.containers = dropStopped(this.latest.containers, p.changes);
      return;
    }
    if (topic === 'containers' && Array.isArray(p?.rows)) p = mergeRows(this.latest.containers, p);
    if (topic === 'alert') {
      this.applyAlert(p);
      return;
    }
    this.latest[topic] = p;
    if (typeof p?.t !== 'number') return;
    this.lastT = Math.max(this.lastT, p.t);
    if (topic === 'proc') this.addTops(topsOf(p));
    let h = this.hist[topic];
    if (!h && FALLBACK_FIELDS[topic]) h = this.hist[topic] = { fields: FALLBACK_FIELDS[topic], rows: [] };
    if (!h) return;
    const rows = h.rows;
    if (rows.length && rows[rows.length - 1][0] >= p.t) return; // replayed or duplicate
    rows.push(rowOf(p, h.fields));
    this.trim(h);
  }

  // An alert change: latest.alert stays shaped as the snapshot's
  // {t, active, recent}: active the pending and firing ones (one per rule
  // and instance), recent the last changes, oldest first.
  applyAlert(a) {
    if (!a || typeof a.name !== 'string') return;
    const cur = this.latest.alert || {};
    const same = (x) => x.name === a.name && (x.instance ?? '') === (a.instance ?? '');
    const active = (cur.active || []).filter((x) => !same(x));
    if (a.state === 'pending' || a.state === 'firing') active.push({ ...a, t: a.since ?? a.t });
    const recent = (cur.recent || []).concat([a]).slice(-ALERT_RECENT);
    this.latest.alert = { t: a.t, active, recent };
  }

  countSeq(id) {
    const dash = id ? id.lastIndexOf('-') : -1;
    if (dash < 0) return;
    const instance = id.slice(0, dash);
    const seq = Number(id.slice(dash + 1));
    if (instance === this.seq.instance && seq !== this.seq.last + 1) this.seq.gaps++;
    this.seq.instance = instance;
    this.seq.last = seq;
  }

  // Adds entries to a backlog, dropping repeats (by cursor for the
  // journal: the first live events after a snapshot may repeat its newest
  // entries). A snapshot's entries may be older than some kept ones: the
  // list is then put back in time order. Returns the entries added.
  mergeBacklog(topic, entries, resort) {
    const list = this.backlog[topic];
    const keys = this.keys[topic];
    const added = [];
    if (!list || !entries.length) return added;
    for (const e of entries) {
      const k = entryKey(e);
      if (keys.has(k)) continue;
      keys.add(k);
      list.push(e);
      added.push(e);
    }
    if (!added.length) return added;
    if (resort) list.sort((a, b) => entryTime(a) - entryTime(b));
    const cap = BACKLOG_TOPICS[topic];
    if (list.length > cap) for (const e of list.splice(0, list.length - cap)) keys.delete(entryKey(e));
    return added;
  }

  // Keeps x ({t, cpu, mem}) in time order, for the history window.
  addTops(x) {
    const list = this.tops;
    if (!x || (list.length && list[list.length - 1].t >= x.t)) return;
    list.push(x);
    const oldest = x.t - this.windowMs;
    let n = 0;
    while (n < list.length && list[n].t < oldest) n++;
    if (n) list.splice(0, n);
  }

  // Drops the rows older than the window but the newest of them: the line
  // into a chart's left edge starts there, so that a chart drawn in full
  // draws it as one moved by whole pixels kept it.
  trim(h) {
    const rows = h.rows;
    if (!rows.length) return;
    const oldest = rows[rows.length - 1][0] - this.windowMs;
    let n = 0;
    while (n + 1 < rows.length && rows[n + 1][0] <= oldest) n++;
    if (rows.length - n > ROWS_MAX) n = rows.length - ROWS_MAX;
    if (n) rows.splice(0, n);
  }

  // Everything a new view needs, shaped like the daemon's snapshot.
  export() {
    return {
      t: this.lastT,
      instance: this.instance,
      seq: this.seq.instance === this.instance ? this.seq.last : undefined,
      topics: this.latest,
      history: this.hist,
      backlog: this.backlog,
      state: this.state,
      dropped: this.dropped,
      seen: [...this.seen],
      tops: this.tops,
    };
  }
}
