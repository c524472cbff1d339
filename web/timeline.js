// Events of the timeline, marked on the charts and named by the tooltip:
// failed units, journal entries at err or worse (a count per unit) and file
// changes. Those of a window read from /api/history come with it (its
// `events`); those since the page opened come from the stream, counted
// the way the daemon stores them (per minute, kind and key), so that the
// live window shows the same marks a past one does.

import { entryTime } from './store.js';

const LIVE_MAX = 500;
const MINUTE = 60e3;
const ERR = 3; // journal priority: err

export class Timeline {
  constructor() {
    this.live = new Map(); // "minute kind key" -> {t, kind, key, count, detail}
    this.stored = []; // rows of /api/history's events: [t, kind, key, count, detail]
    this.until = -Infinity; // the stored rows cover the time up to here
    this.version = 0;
  }

  add(t, kind, key, detail) {
    if (typeof t !== 'number') return;
    const id = `${Math.floor(t / MINUTE)} ${kind} ${key}`;
    const e = this.live.get(id);
    if (e) {
      e.count++;
    } else {
      this.live.set(id, { t, kind, key: key ?? '', count: 1, detail: detail ?? '' });
      if (this.live.size > LIVE_MAX) this.live.delete(this.live.keys().next().value);
    }
    this.version++;
  }

  // Forgets the journal's and files' events: a snapshot's backlogs bring
  // them all again.
  resetLive() {
    for (const [id, e] of this.live) if (e.kind !== 'unit_failed') this.live.delete(id);
    this.version++;
  }

  // Journal entries: those at err or worse.
  addLog(entries) {
    for (const e of entries) if (typeof e.priority === 'number' && e.priority <= ERR) this.add(entryTime(e), 'log_err', e.unit ?? e.identifier ?? '', e.message);
  }

  // File changes (the special overflow and limit events are not changes).
  addFiles(entries) {
    for (const e of entries) if (e.path && !['overflow', 'watch_limit', 'unwatched'].includes(e.action)) this.add(entryTime(e), 'file', e.path, e.action);
  }

  // A units event: the units that became failed.
  addUnits(p) {
    for (const c of p?.changes || []) if (c.active_state === 'failed') this.add(p.t, 'unit_failed', c.unit, c.job_result ?? c.sub_state ?? '');
  }

  // The events of a window read from the history (null: none shown).
  setStored(rows, until) {
    this.stored = rows || [];
    this.until = rows ? until : -Infinity;
    this.version++;
  }

  // Every event as {t (ms), kind, key, count, detail}: the stored ones, and
  // the live ones after them.
  all() {
    const out = this.stored.map(([t, kind, key, count, detail]) => ({ t, kind, key, count, detail }));
    for (const e of this.live.values()) if (e.t > this.until) out.push(e);
    return out;
  }

  // The marks for the charts ({t (s), kind}) and their key.
  marks() {
    if (this.marksAt !== this.version) {
      this.marksAt = this.version;
      this.list = this.all().map((e) => ({ t: e.t / 1000, kind: e.kind }));
    }
    return [this.list, `${this.version}`];
  }

  // The events within dt ms of t (ms), nearest first.
  near(t, dt) {
    return this.all().filter((e) => Math.abs(e.t - t) <= dt).sort((a, b) => Math.abs(a.t - t) - Math.abs(b.t - t));
  }
}
