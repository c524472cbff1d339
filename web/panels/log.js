// The journal (the log topic): the Store's bounded backlog, filtered by
// priority, unit and text, newest at the bottom or on top, with pause.
// A windowed list (vlist.js): whatever the backlog holds, only the rows in
// and near the view are in the document, and a tick that brings hundreds
// of entries changes a view's worth of rows at most. Messages and units
// are host text: textContent only.

import { $, h, setText } from '../dom.js';
import { entryTime } from '../store.js';
import { clock, dateTime } from '../format.js';
import { VList } from '../vlist.js';

const PRIO = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const UNITS_MAX = 300;

const unitOf = (e) => e.unit || e.identifier || '';

// An entry's row: time, priority, unit[pid], message (also the containers'
// journal lines, containers.js).
export function logRow(e) {
  const p = typeof e.priority === 'number' ? e.priority : 6;
  const tm = h('time', { datetime: new Date(entryTime(e)).toISOString() });
  tm.textContent = clock(entryTime(e));
  tm.title = dateTime(entryTime(e));
  const pr = h('span', { class: 'pr' });
  pr.textContent = e.priority_name || PRIO[p] || String(p);
  const un = h('span', { class: 'un' });
  un.textContent = unitOf(e) + (e.pid ? `[${e.pid}]` : '');
  const msg = h('span', { class: 'msg' });
  msg.textContent = e.binary ? `[binary message]` : `${e.message ?? ''}${e.truncated ? ' …' : ''}`;
  return h('div', { class: `le p${Math.min(7, Math.max(0, p))}` }, tm, pr, un, msg);
}

export class LogPanel {
  constructor(redraw) {
    this.redraw = () => redraw('log');
    this.list = $('#log-list');
    this.prio = $('#log-prio');
    this.unit = $('#log-unit');
    this.text = $('#log-text');
    this.pauseBtn = $('#log-pause');
    this.orderBtn = $('#log-order');
    this.datalist = $('#log-units');
    this.units = new Set();
    this.paused = false;
    this.newestTop = false;
    this.noted = null; // newest entry whose unit was noted
    this.shown = null; // newest entry of the backlog when last drawn
    this.pending = 0;
    this.view = new VList(this.list, { make: logRow, estimate: 19 });
    const refilter = () => {
      this.shown = null;
      this.redraw();
    };
    this.prio.addEventListener('change', refilter);
    this.unit.addEventListener('input', refilter);
    this.text.addEventListener('input', refilter);
    $('#log-form').addEventListener('submit', (e) => e.preventDefault());
    this.pauseBtn.addEventListener('click', () => {
      this.paused = !this.paused;
      this.pauseBtn.setAttribute('aria-pressed', String(this.paused));
      setText(this.pauseBtn, this.paused ? 'resume' : 'pause');
      this.redraw();
    });
    this.orderBtn.addEventListener('click', () => {
      this.newestTop = !this.newestTop;
      this.orderBtn.setAttribute('aria-pressed', String(this.newestTop));
      setText(this.orderBtn, this.newestTop ? 'newest ↑' : 'newest ↓');
      this.view.newest = this.newestTop ? 'start' : 'end';
      this.view.following = true;
      this.shown = null;
      this.redraw();
    });
  }

  // The filter of the form, as a function of an entry.
  filter() {
    const max = Number(this.prio.value);
    const u = this.unit.value.trim().toLowerCase();
    const t = this.text.value.trim().toLowerCase();
    return (e) => {
      if (typeof e.priority === 'number' && e.priority > max) return false;
      if (u && !unitOf(e).toLowerCase().includes(u)) return false;
      if (t && !String(e.message ?? '').toLowerCase().includes(t)) return false;
      return true;
    };
  }

  noteUnit(e) {
    const u = unitOf(e);
    if (!u || this.units.has(u) || this.units.size >= UNITS_MAX) return;
    this.units.add(u);
    const o = h('option');
    o.value = u;
    this.datalist.append(o);
  }

  // The entries after `after` in the backlog (all of them when it is gone).
  static since(all, after) {
    return after ? all.length - all.lastIndexOf(after, all.length - 1) - 1 : all.length;
  }

  render(c) {
    const all = c.store.backlog.log;
    const dropped = c.store.dropped.log;
    const fresh = LogPanel.since(all, this.noted);
    for (let i = all.length - fresh; i < all.length; i++) this.noteUnit(all[i]);
    if (all.length) this.noted = all[all.length - 1];
    // Paused: the rows stay; a filter or order change still shows.
    if (this.paused && this.shown) {
      this.pending = LogPanel.since(all, this.shown);
      this.summary(all, dropped);
      return;
    }
    const items = all.filter(this.filter());
    if (this.newestTop) items.reverse();
    this.view.set(items);
    this.shown = all[all.length - 1] ?? null;
    this.pending = 0;
    this.summary(all, dropped);
  }

  summary(all, dropped) {
    const bits = [`${this.view.length} shown of ${all.length}`];
    if (this.paused) bits.push(`paused${this.pending ? ` · ${this.pending} new` : ''}`);
    if (dropped) bits.push(`${dropped} dropped in floods`);
    setText($('#log-sum'), bits.join(' · '));
  }
}
