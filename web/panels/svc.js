// Services (the svc topic, with systemd's units topic): the top services
// by CPU or memory, systemd's unit counts, and failed units in red. The
// service rows are positional, like the processes' (see proc.js).

import { $, fillRows, h, setAttr, setClass, setHidden, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { cell, fillCells, setNum, sev, sumN, toggle } from './common.js';

const { isNum } = f;

const failedUnits = (u) => (Array.isArray(u?.failed) ? u.failed : []);

export class SvcPanel {
  constructor(redraw) {
    this.table = $('#svc-table tbody');
    this.failed = $('#units-failed');
    this.by = 'cpu';
    toggle(['svc-by-cpu', 'svc-by-mem'], (i) => {
      this.by = i ? 'mem' : 'cpu';
      redraw('svc');
    });
  }

  render(c) {
    const units = c.store.latest.units;
    this.renderUnits(units);
    const p = c.store.latest.svc;
    if (!p) return;
    const list = (this.by === 'cpu' ? p.top_cpu : p.top_mem) || [];
    const failed = new Set(failedUnits(units).map((u) => u.unit));
    setText($('#svc-sum'), isNum(p.services) ? `${p.services} services` : '');
    fillRows(
      this.table,
      list,
      () => h('tr', null, h('th', { scope: 'row' }), cell('num'), cell('num'), cell('num'), cell('num')),
      (tr, s) => {
        setClass(tr, 'failed', failed.has(s.unit));
        fillCells(tr, [String(s.unit).replace(/\.service$/, ''), null, f.bytes(s.mem_bytes), f.count(s.tasks),
          f.rate(sumN(s.io_read_bytes_per_s, s.io_write_bytes_per_s))]);
        setAttr(tr.cells[0], 'title', String(s.unit));
        setNum(tr.cells[1], f.pct(s.cpu_pct), sev(s.cpu_pct ?? 0, 50, 90));
      },
    );
  }

  // systemd's view (the units topic): counts, and failed units in red.
  renderUnits(u) {
    const list = failedUnits(u);
    if (u) {
      const n = u.counts || {};
      const bits = isNum(u.total) ? [`${u.total} units`, `${n.active ?? 0} active`] : [];
      for (const k of ['failed', 'activating', 'deactivating', 'reloading', 'maintenance']) if (n[k]) bits.push(`${n[k]} ${k}`);
      if (u.error) bits.push(`systemd: ${u.error}`);
      setText($('#units-sum'), bits.join(' · '));
    }
    setHidden(this.failed, !list.length);
    syncRows(
      this.failed,
      list,
      (x) => x.unit,
      () => h('div', { class: 'unit-failed' }, h('b'), h('span')),
      (el, x) => {
        setText(el.children[0], x.unit);
        setAttr(el, 'title', x.description ?? '');
        setText(el.children[1], [x.sub_state ?? 'failed', x.result, isNum(x.since) ? `since ${f.dateTime(x.since)}` : ''].filter(Boolean).join(' · '));
      },
    );
  }
}
