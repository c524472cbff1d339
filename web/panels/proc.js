// Processes (the proc topic): the top processes by CPU or memory. A click
// on a row (or its command's button) shows its command line, user, start
// time and parent below it.
//
// The order is the shown one: by CPU as shown (to 0.1 %) or by resident
// memory, and between rows that show the same value, the order of the
// last tick (orderProcs), so that rows do not trade places every tick for
// differences nobody can see (35 -> 14 cell texts rewritten a tick on a
// quiet host). The rows are positional (dom.js fillRows): the top list's
// members come and go, and moving or rebuilding rows costs the browser
// far more than rewriting the cells that changed. What belongs to a
// process follows its pid: whether its details are open, and the keyboard
// focus on its button.

import { $, fillRows, h, placeAfter, setAttr, setClass, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { cell, factRow, fillCells, fillFact, setNum, sev, toggle } from './common.js';

const { isNum } = f;
const OPEN_MAX = 20;

const procCpu = (x) => x.cpu_pct;
const procRss = (x) => x.rss_bytes;
const procCmd = (x) => x.cmd ?? '';
const procName = (x) => x.comm ?? '';

// The rows of src (one per pid) in the order shown: by the value shown,
// CPU to 0.1 % (by 'cpu') or resident bytes, descending; rows that show
// the same keep their places of before (prev: pid -> row index), the new
// ones after them by resident memory.
export function orderProcs(src, by, prev = new Map()) {
  const seen = new Set();
  const key = by === 'cpu' ? (x) => Math.round((procCpu(x) ?? 0) * 10) : (x) => procRss(x) ?? 0;
  const at = (x) => prev.get(x.pid) ?? Infinity;
  return src
    .filter((x) => !seen.has(x.pid) && seen.add(x.pid))
    .sort((a, b) => key(b) - key(a) || at(a) - at(b) || (procRss(b) ?? 0) - (procRss(a) ?? 0) || a.pid - b.pid);
}

export class ProcPanel {
  constructor(redraw) {
    this.redraw = () => redraw('proc');
    this.table = $('#proc-table tbody');
    this.by = 'cpu';
    this.open = new Set(); // pids with details shown
    this.order = new Map(); // pid -> row, as last shown
    toggle(['proc-by-cpu', 'proc-by-mem'], (i) => {
      this.by = i ? 'mem' : 'cpu';
      this.order = new Map();
      this.redraw();
    });
  }

  list(p) {
    const list = orderProcs((this.by === 'cpu' ? p.top_cpu : p.top_mem) || [], this.by, this.order);
    this.order = new Map(list.map((x, i) => [x.pid, i]));
    return list;
  }

  render(c) {
    const p = c.store.latest.proc;
    if (!p) return;
    const bits = [
      isNum(p.processes) ? `${p.processes} processes` : '',
      isNum(p.threads) ? `${p.threads} threads` : '',
      isNum(p.running) ? `${p.running} running` : '',
      isNum(p.blocked) ? `${p.blocked} blocked` : '',
      isNum(p.zombies) && p.zombies ? `${p.zombies} zombie` : '',
    ].filter(Boolean);
    setText($('#proc-sum'), bits.join(' · '));
    const mem = c.store.latest.mem?.total;
    const focused = document.activeElement?.closest?.('#proc-table tbody tr');
    const focusPid = focused?.sfPid;
    fillRows(this.table, this.list(p), () => this.makeRow(), (tr, x) => this.fillRow(tr, x, mem));
    if (focused && focused.sfPid !== focusPid) {
      const row = this.table.sfRows.find((r) => r.sfPid === focusPid);
      row?.cells[2].firstChild.focus({ preventScroll: true });
    }
  }

  // A row; its command name is a button that shows the details below it
  // (a click anywhere on the row does too).
  makeRow() {
    const btn = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false' }, h('b'));
    const cmd = h('td', { class: 'cmd' }, btn, h('span'));
    const tr = h('tr', { class: 'click' }, cell('num'), cell(), cmd, cell('num'), cell('num'), cell('num'), cell());
    tr.addEventListener('click', () => this.toggleOpen(tr.sfPid));
    return tr;
  }

  toggleOpen(pid) {
    if (this.open.has(pid)) this.open.delete(pid);
    else this.open.add(pid);
    if (this.open.size > OPEN_MAX) this.open.delete(this.open.values().next().value);
    this.redraw();
  }

  fillRow(tr, x, mem) {
    tr.sfPid = x.pid;
    const open = this.open.has(x.pid);
    setClass(tr, 'open', open);
    const cmdCell = tr.cells[2];
    setAttr(cmdCell.firstChild, 'aria-expanded', String(open));
    fillCells(tr, [x.pid, x.user ?? x.uid ?? '', null, null, f.bytes(procRss(x)), x.threads ?? '', x.state ?? '']);
    setText(cmdCell.firstChild.firstChild, procName(x));
    setText(cmdCell.children[1], procCmd(x));
    setNum(tr.cells[3], f.pct(procCpu(x)), sev(procCpu(x) ?? 0, 50, 90));
    if (open && !tr.sfExtra) {
      tr.sfExtra = h('tr', { class: 'detail' }, h('td', { colspan: '7' }, h('dl', { class: 'facts wide' })));
    }
    if (open) this.fillDetail(tr.sfExtra, x, mem);
    if (tr.sfExtra) placeAfter(tr, tr.sfExtra, open);
  }

  fillDetail(detail, x, memTotal) {
    const startMs = x.start_ms;
    const rows = [
      ['command line', procCmd(x)],
      ['user', `${x.user ?? ''}${isNum(x.uid) ? ` (uid ${x.uid})` : ''}`],
      ['state', x.state ?? ''],
      ['CPU', f.pct(procCpu(x))],
      ['resident', `${f.bytes(procRss(x))}${memTotal ? ` (${f.pct((procRss(x) / memTotal) * 100)} of RAM)` : ''}`],
      ['threads', String(x.threads ?? '–')],
      ['started', startMs ? f.dateTime(startMs) : '–'],
      ['parent', isNum(x.ppid) ? String(x.ppid) : null],
    ].filter(([, v]) => v !== null);
    syncRows(detail.firstChild.firstChild, rows, ([k]) => k, factRow, fillFact);
  }
}
