// The journal and the file-change feed. Both render from the Store's
// bounded backlogs; rows are added incrementally and the DOM never holds
// more than the backlog's cap. Messages, units and paths are host text:
// textContent only.

import { $, h, setText } from './dom.js';
import { LOG_CAP, entryTime } from './store.js';
import { clock, dateTime, isNum } from './format.js';

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
      this.redraw();
    });
  }

  matches(e) {
    const max = Number(this.prio.value);
    if (typeof e.priority === 'number' && e.priority > max) return false;
    const u = this.unit.value.trim().toLowerCase();
    if (u && !unitOf(e).toLowerCase().includes(u)) return false;
    const t = this.text.value.trim().toLowerCase();
    if (t && !String(e.message ?? '').toLowerCase().includes(t)) return false;
    return true;
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
    const atEnd = this.newestTop ? list.scrollTop < 8 : list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    if (this.rebuild) {
      list.replaceChildren();
      from = 0;
      this.rebuild = false;
    }
    const frag = document.createDocumentFragment();
    const rows = [];
    for (let i = from; i < all.length; i++) {
      this.noteUnit(all[i]);
      if (this.matches(all[i])) rows.push(this.row(all[i]));
    }
    if (this.newestTop) {
      rows.reverse();
      frag.append(...rows);
      list.prepend(frag);
      while (list.childElementCount > LOG_CAP) list.lastElementChild.remove();
    } else {
      frag.append(...rows);
      list.append(frag);
      while (list.childElementCount > LOG_CAP) list.firstElementChild.remove();
    }
    if (all.length) this.last = all[all.length - 1];
    this.pending = 0;
    if (atEnd && !this.newestTop) list.scrollTop = list.scrollHeight;
    if (atEnd && this.newestTop) list.scrollTop = 0;
    this.summary(all, dropped);
  }

  summary(all, dropped) {
    const bits = [`${this.list.childElementCount} shown of ${all.length}`];
    if (this.paused) bits.push(`paused${this.pending ? ` · ${this.pending} new` : ''}`);
    if (dropped) bits.push(`${dropped} dropped in floods`);
    setText($('#log-sum'), bits.join(' · '));
  }
}

// Colour class of each action; watch_limit and overflow are the
// collector's own reports (a message, maybe no path).
const FILE_WHAT = { created: 'created', modified: 'modified', deleted: 'deleted', moved: 'moved', attrib: 'attrs', overflow: 'overflow', watch_limit: 'overflow' };

export class FilePanel {
  constructor() {
    this.list = $('#file-list');
    this.last = null;
  }

  row(e) {
    const acts = Array.isArray(e.actions) ? e.actions : [];
    // A burst that created the file shows as "created" unless it ended deleted.
    const what = String(acts.includes('created') && e.action !== 'deleted' ? 'created' : e.action ?? 'changed');
    const tm = h('time', { datetime: new Date(entryTime(e)).toISOString() });
    tm.textContent = clock(entryTime(e));
    tm.title = dateTime(entryTime(e));
    const w = h('span', { class: `fw ${FILE_WHAT[what] ?? 'other'}` });
    w.textContent = what.replace(/_/g, ' ');
    w.title = acts.join(' → ');
    const path = h('span', { class: 'path' });
    let p = e.from && e.to ? `${e.from} → ${e.to}` : e.path ?? '';
    if (e.message) p = p ? `${p}: ${e.message}` : e.message;
    path.textContent = `${p}${e.dir ? '/' : ''}`;
    const cnt = h('span', { class: 'cnt' });
    if (typeof e.count === 'number' && e.count > 1) cnt.textContent = `×${e.count}`;
    return h('li', { class: 'fe' }, tm, w, path, cnt);
  }

  render(c) {
    const all = c.store.backlog.file;
    let from = this.last ? all.lastIndexOf(this.last) + 1 : 0;
    if (from === 0) this.list.replaceChildren();
    const rows = [];
    for (let i = from; i < all.length; i++) rows.push(this.row(all[i]));
    rows.reverse();
    this.list.prepend(...rows);
    while (this.list.childElementCount > all.length) this.list.lastElementChild.remove();
    if (all.length) this.last = all[all.length - 1];
    const st = c.store.state.file || {};
    const bits = [all.length ? `${all.length} recent` : 'no changes yet'];
    if (isNum(st.watched)) bits.push(`${st.watched} ${st.watched === 1 ? 'directory' : 'directories'} watched`);
    if (st.unwatched_count) bits.push(`${st.unwatched_count} not watchable`);
    if (st.overflows) bits.push(`${st.overflows} overflows`);
    setText($('#file-sum'), bits.join(' · '));
    const paths = (st.paths || []).join(', ');
    if (paths && this.list.title !== paths) this.list.title = `watching ${paths}`;
  }
}
