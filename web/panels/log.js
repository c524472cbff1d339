// The journal (the log topic): the Store's bounded backlog, filtered by
// priority, unit and text, newest at the bottom or on top, with pause.
// Rows are added incrementally and the DOM never holds more than the
// backlog's cap. Messages and units are host text: textContent only.

import { $, h, setText } from '../dom.js';
import { LOG_CAP, entryTime } from '../store.js';
import { clock, dateTime } from '../format.js';

const PRIO = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const UNITS_MAX = 300;

const unitOf = (e) => e.unit || e.identifier || '';

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
    this.last = null; // newest entry rendered
    this.rebuild = true;
    this.pending = 0;
    // Whether the view is at the newest end, kept from scroll events so
    // that drawing reads no layout before it writes.
    this.atEnd = true;
    this.list.addEventListener('scroll', () => {
      const l = this.list;
      this.atEnd = this.newestTop ? l.scrollTop < 8 : l.scrollHeight - l.scrollTop - l.clientHeight < 24;
    }, { passive: true });
    const refilter = () => {
      this.rebuild = true;
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
      this.rebuild = true;
      this.atEnd = true;
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

  row(e) {
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

  noteUnit(e) {
    const u = unitOf(e);
    if (!u || this.units.has(u) || this.units.size >= UNITS_MAX) return;
    this.units.add(u);
    const o = h('option');
    o.value = u;
    this.datalist.append(o);
  }

  render(c) {
    const all = c.store.backlog.log;
    const dropped = c.store.dropped.log;
    let from = 0;
    if (!this.rebuild && this.last) {
      from = all.lastIndexOf(this.last, all.length - 1) + 1;
      if (from === 0) this.rebuild = true;
    }
    if (this.paused && !this.rebuild) {
      this.pending = all.length - from;
      this.summary(all, dropped);
      return;
    }
    const list = this.list;
    if (this.rebuild) {
      list.replaceChildren();
      from = 0;
      this.rebuild = false;
    }
    const keep = this.filter();
    const rows = [];
    for (let i = from; i < all.length; i++) {
      this.noteUnit(all[i]);
      if (keep(all[i])) rows.push(this.row(all[i]));
    }
    if (this.newestTop) {
      rows.reverse();
      list.prepend(...rows);
      while (list.childElementCount > LOG_CAP) list.lastElementChild.remove();
    } else {
      list.append(...rows);
      while (list.childElementCount > LOG_CAP) list.firstElementChild.remove();
    }
    if (all.length) this.last = all[all.length - 1];
    this.pending = 0;
    // The one layout read: last in a frame's drawing (see app.js), and only
    // when rows came while the view was at the newest end.
    if (rows.length && this.atEnd) list.scrollTop = this.newestTop ? 0 : list.scrollHeight;
    this.summary(all, dropped);
  }

  summary(all, dropped) {
    const bits = [`${this.list.childElementCount} shown of ${all.length}`];
    if (this.paused) bits.push(`paused${this.pending ? ` · ${this.pending} new` : ''}`);
    if (dropped) bits.push(`${dropped} dropped in floods`);
    setText($('#log-sum'), bits.join(' · '));
  }
}
