// The crosshair's tooltip: at the instant under the pointer, every chart's
// values, the top processes and the events marked near it. One element
// for the page, filled as the pointer moves over a chart (nothing is done
// per tick beyond what the charts do).

import { h } from './dom.js';
import * as f from './format.js';

const EVENT_WORDS = {
  unit_failed: (e) => `failed: ${e.key}${e.detail ? ` (${e.detail})` : ''}`,
  log_err: (e) => `${e.count} journal ${e.count === 1 ? 'entry' : 'entries'} at err or worse: ${e.key}${e.detail ? ` — ${e.detail}` : ''}`,
  file: (e) => `file ${e.detail || 'changed'}: ${e.key}${e.count > 1 ? ` (×${e.count})` : ''}`,
};
const EVENT_PX = 5; // an event this close to the pointer is named
const TOP_CPU = 5;
const TOP_MEM = 3;

export class Tip {
  // src: {charts() -> the TimeCharts in page order, tops(t ms) -> {t,
  // cpu, mem} or null, events(t ms, dt ms) -> events near t}.
  constructor(el, src) {
    this.el = el;
    this.src = src;
  }

  // The pointer is over chart at t (s); t null: it left.
  show(chart, t) {
    if (t === null || !chart.u) {
      this.el.hidden = true;
      return;
    }
    const u = chart.u;
    const ms = t * 1000;
    const parts = [h('time', null, f.dateTime(ms))];
    const vals = h('dl', { class: 'tv' });
    for (const ch of this.src.charts()) {
      if (ch.box.hidden || !ch.u) continue;
      const v = ch.valuesAt(t);
      if (!v) continue;
      vals.append(h('div', null, h('dt', null, ch.spec.title ?? ''), h('dd', null, v.map(([k, x]) => `${k} ${x}`).join(' · '))));
    }
    parts.push(vals.childElementCount ? vals : h('p', { class: 'tn' }, 'no samples here: the daemon was not running, or history was paused'));
    const tops = this.src.tops(ms);
    if (tops?.cpu?.length) {
      parts.push(h('h4', null, 'top processes by CPU'));
      parts.push(h('ol', { class: 'tt' }, ...tops.cpu.slice(0, TOP_CPU).map((p) => topRow(p, 'cpu'))));
    }
    if (tops?.mem?.length) {
      parts.push(h('h4', null, 'by memory'));
      parts.push(h('ol', { class: 'tt' }, ...tops.mem.slice(0, TOP_MEM).map((p) => topRow(p, 'mem'))));
    }
    if (!tops && vals.childElementCount) parts.push(h('p', { class: 'tn' }, 'no top processes kept for this instant'));
    const perPx = (u.scales.x.max - u.scales.x.min) / Math.max(1, u.over.clientWidth);
    const evs = this.src.events(ms, Math.max(1, perPx * EVENT_PX) * 1000);
    if (evs.length) {
      parts.push(h('h4', null, 'events'));
      parts.push(h('ul', { class: 'te' }, ...evs.slice(0, 8).map((e) => h('li', { class: e.kind }, `${f.clock(e.t)} ${(EVENT_WORDS[e.kind] ?? ((x) => `${x.kind}: ${x.key}`))(e)}`))));
    }
    this.el.replaceChildren(...parts);
    this.el.hidden = false;
    this.place(u);
  }

  // Beside the pointer, on the side with room.
  place(u) {
    const r = u.over.getBoundingClientRect();
    const x = r.left + u.cursor.left;
    const y = r.top + u.cursor.top;
    const w = this.el.offsetWidth;
    const hgt = this.el.offsetHeight;
    const left = x + 16 + w > window.innerWidth ? Math.max(4, x - 16 - w) : x + 16;
    const top = Math.max(4, Math.min(y + 12, window.innerHeight - hgt - 4));
    this.el.style.setProperty('left', `${Math.round(left)}px`);
    this.el.style.setProperty('top', `${Math.round(top)}px`);
  }
}

// [pid, name, cpu %, rss bytes] as a list item.
function topRow([pid, name, cpu, rss], by) {
  const what = by === 'cpu' ? `${f.pct(cpu)} · ${f.bytes(rss)}` : `${f.bytes(rss)} · ${f.pct(cpu)}`;
  return h('li', null, h('b', null, name || '?'), pid !== null && pid !== undefined ? ` ${pid}` : '', h('span', null, what));
}
