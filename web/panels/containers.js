// Containers (the containers topic): every container with its CPU,
// memory (of its limit), network and disk bytes and tasks, sorted by any
// column (a click on its heading; again: the other way), filtered by
// name, image or engine. A click on a row shows its details below it and,
// when its engine logs to the journal, its lines from the journal's
// backlog. The starts and stops the daemon pushes show under the table.
//
// The rows are positional as the processes' (proc.js): at most ROWS_MAX
// of them, in a box of bounded height, so 100 containers cost the cells
// that changed; what belongs to a container (its details open, the
// keyboard focus) follows its id.

import { $, fillRows, h, placeAfter, setAttr, setClass, setHidden, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { cell, factRow, fillCells, fillFact, setNum, sev, sumN } from './common.js';
import { logRow } from './log.js';

const { isNum } = f;
const ROWS_MAX = 200;
const OPEN_MAX = 20;
const LINES_MAX = 30;
const CHANGES_SHOWN = 5;

const net = (x) => sumN(x.net_rx_bytes_per_s, x.net_tx_bytes_per_s);
const io = (x) => sumN(x.io_read_bytes_per_s, x.io_write_bytes_per_s);
const KEYS = {
  name: (x) => String(x.name ?? ''),
  cpu: (x) => x.cpu_pct,
  mem: (x) => x.mem_bytes,
  net,
  io,
  tasks: (x) => x.tasks,
};

// Journal entries of a container: the engines' journald drivers tag its
// lines with its name or its id's first 12 digits (Docker's default tag),
// or the entries come from a unit named after its id (Podman's scopes).
export function journalOf(x) {
  const id = String(x.id ?? '');
  const names = new Set([x.name, id, id.length >= 12 ? id.slice(0, 12) : null].filter(Boolean));
  return (e) => names.has(e.identifier) || names.has(e.unit) || (id.length >= 32 && String(e.unit ?? '').includes(id));
}

export class ContainersPanel {
  constructor(redraw) {
    this.redraw = () => redraw('containers');
    this.table = $('#ctr-table tbody');
    this.filter = $('#ctr-filter');
    this.by = 'cpu';
    this.desc = true;
    this.open = new Set(); // ids with details shown
    this.heads = [...document.querySelectorAll('#ctr-table thead button.sort')];
    for (const b of this.heads) b.addEventListener('click', () => this.sortBy(b.dataset.key));
    this.filter.addEventListener('input', () => this.redraw());
  }

  sortBy(key) {
    if (this.by === key) this.desc = !this.desc;
    else [this.by, this.desc] = [key, key !== 'name'];
    for (const b of this.heads) {
      b.parentElement.setAttribute('aria-sort', b.dataset.key !== this.by ? 'none' : this.desc ? 'descending' : 'ascending');
    }
    this.redraw();
  }

  // The list filtered and sorted; nulls last either way, then by name.
  list(p) {
    const q = this.filter.value.trim().toLowerCase();
    const all = Array.isArray(p.list) ? p.list : [];
    const rows = q ? all.filter((x) => `${x.name ?? ''}\u0000${x.image ?? ''}\u0000${x.engine ?? ''}`.toLowerCase().includes(q)) : all.slice();
    const key = KEYS[this.by];
    const dir = this.desc ? -1 : 1;
    rows.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      if (ka === null || ka === undefined || kb === null || kb === undefined) {
        if (ka !== kb && (ka === null || ka === undefined)) return 1;
        if (ka !== kb) return -1;
      } else if (ka !== kb) {
        return (typeof ka === 'string' ? ka.localeCompare(kb) : ka - kb) * dir;
      }
      return String(a.name).localeCompare(String(b.name));
    });
    return [rows, all.length];
  }

  render(c) {
    const p = c.store.latest.containers;
    this.changes(c.store.backlog.ctr || []);
    if (!p) return;
    const bits = [`${p.containers ?? 0} containers`];
    if (isNum(p.running)) bits.push(`${p.running} running`);
    if (p.paused) bits.push(`${p.paused} paused`);
    setText($('#ctr-sum'), bits.join(' · '));
    const [rows, total] = this.list(p);
    const shown = rows.slice(0, ROWS_MAX);
    const more = $('#ctr-more');
    setHidden(more, rows.length === total && shown.length === rows.length);
    setText(more, `${shown.length} shown of ${total}${shown.length < rows.length ? ' · filter to find the others' : ''}`);
    const mem = c.store.latest.mem?.total;
    const log = c.store.backlog.log;
    const focused = document.activeElement?.closest?.('#ctr-table tbody tr');
    const focusId = focused?.sfId;
    fillRows(this.table, shown, () => this.makeRow(), (tr, x) => this.fillRow(tr, x, mem, log));
    if (focused && focused.sfId !== focusId) {
      this.table.sfRows.find((r) => r.sfId === focusId)?.cells[0].firstChild.focus({ preventScroll: true });
    }
  }

  makeRow() {
    const btn = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false' });
    const th = h('th', { scope: 'row', class: 'ctr' }, btn, h('span', { class: 'img' }));
    const tr = h('tr', { class: 'click' }, th, cell('num'), cell('num'), cell('num'), cell('num'), cell('num'));
    tr.addEventListener('click', () => {
      const id = tr.sfId;
      if (this.open.has(id)) this.open.delete(id);
      else this.open.add(id);
      if (this.open.size > OPEN_MAX) this.open.delete(this.open.values().next().value);
      this.redraw();
    });
    return tr;
  }

  fillRow(tr, x, memTotal, log) {
    tr.sfId = x.id;
    const open = this.open.has(x.id);
    setClass(tr, 'open', open);
    setClass(tr, 'dim', x.state === 'paused');
    const th = tr.cells[0];
    setAttr(th.firstChild, 'aria-expanded', String(open));
    setText(th.firstChild, x.name);
    setText(th.children[1], [x.image, x.state === 'paused' ? 'paused' : ''].filter(Boolean).join(' · ') || x.engine);
    setAttr(th, 'title', `${x.name}\n${x.engine}${x.image ? ` · ${x.image}` : ''}`);
    setNum(tr.cells[1], f.pct(x.cpu_pct), sev(x.cpu_pct ?? 0, 50, 90));
    const lim = isNum(x.mem_limit_bytes) && x.mem_limit_bytes > 0 ? (x.mem_bytes / x.mem_limit_bytes) * 100 : null;
    setNum(tr.cells[2], f.bytes(x.mem_bytes), isNum(lim) ? sev(lim, 80, 95) : '');
    setAttr(tr.cells[2], 'title', isNum(lim) ? `${f.pct(lim, 0)} of its limit, ${f.bytes(x.mem_limit_bytes)}` : 'no memory limit');
    fillCells(tr, [null, null, null, f.rate(net(x)), f.rate(io(x)), f.count(x.tasks)]);
    if (open && !tr.sfExtra) {
      const box = h('div', { class: 'log ctr-log', role: 'log', 'aria-label': 'journal lines of this container' });
      tr.sfExtra = h('tr', { class: 'detail' }, h('td', { colspan: '6' }, h('dl', { class: 'facts wide' }), box));
    }
    if (open) this.fillDetail(tr.sfExtra, x, memTotal, log);
    if (tr.sfExtra) placeAfter(tr, tr.sfExtra, open);
  }

  fillDetail(detail, x, memTotal, log) {
    const td = detail.firstChild;
    const lim = isNum(x.mem_limit_bytes) ? ` of ${f.bytes(x.mem_limit_bytes)} limit` : ', no limit';
    const rows = [
      ['name', String(x.name ?? '')],
      ['id', String(x.id ?? '')],
      ['engine', String(x.engine ?? '')],
      ['image', x.image ?? '–'],
      ['state', String(x.state ?? '')],
      ['cgroup', String(x.cgroup ?? '')],
      ['memory', `${f.bytes(x.mem_bytes)}${lim}${memTotal && isNum(x.mem_bytes) ? ` (${f.pct((x.mem_bytes / memTotal) * 100)} of RAM)` : ''}`],
      ['OOM kills', isNum(x.oom_kills) ? String(x.oom_kills) : '–'],
      ['network', isNum(net(x)) ? `${f.rate(x.net_rx_bytes_per_s)} in, ${f.rate(x.net_tx_bytes_per_s)} out` : 'the host\u2019s (or not readable)'],
      ['disk I/O', `${f.rate(x.io_read_bytes_per_s)} read, ${f.rate(x.io_write_bytes_per_s)} written`],
    ];
    syncRows(td.firstChild, rows, ([k]) => k, factRow, fillFact);
    const lines = log.filter(journalOf(x)).slice(-LINES_MAX);
    const box = td.children[1];
    if (!lines.length) {
      if (box.sfEmpty) return;
      box.sfEmpty = true;
      box.sfKeyed = null;
      box.replaceChildren(h('p', { class: 'off' }, 'No journal lines of this container in the page\u2019s journal backlog: its engine logs elsewhere (Docker and Podman log to the journal with --log-driver=journald).'));
      return;
    }
    if (box.sfEmpty) box.replaceChildren();
    box.sfEmpty = false;
    syncRows(box, lines, (e) => e.cursor ?? `${e.ts}\u0000${e.message}`, logRow, () => {});
  }

  // The newest starts and stops, newest first.
  changes(list) {
    const last = list[list.length - 1];
    if (this.lastChange === last) return;
    this.lastChange = last;
    const el = $('#ctr-changes');
    const shown = list.slice(-CHANGES_SHOWN).reverse();
    syncRows(el, shown, (e) => `${e.t}\u0000${e.id}\u0000${e.change}`, () => h('span', { class: 'chg' }, h('time'), h('b'), h('span')), (s, e) => {
      setText(s.children[0], f.clock(e.t));
      setText(s.children[1], e.change);
      setClass(s.children[1], 'started', e.change === 'started');
      setText(s.children[2], e.name ?? String(e.id ?? '').slice(0, 12));
      setAttr(s, 'title', `${e.engine ?? ''} ${e.image ?? ''}\n${e.cgroup ?? ''}`.trim());
    });
  }
}
