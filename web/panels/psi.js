// Pressure (the psi topic): per resource the share of time stalled, now
// (this tick) and the kernel's 10 s, 60 s and 5 min averages; `full` (all
// tasks stalled) for 10 s. irq has only `full`.

import { $, h, setAttr, swatch, syncRows } from '../dom.js';
import { isNum } from '../format.js';
import { cell, setNum, sev } from './common.js';

const PSI_RES = [
  ['cpu', 'cpu', 'psi-cpu'],
  ['memory', 'memory', 'psi-mem'],
  ['io', 'io', 'psi-io'],
  ['irq', 'irq', 'psi-irq'],
];

export class PsiPanel {
  constructor() {
    this.rows = $('#psi-rows');
  }

  render(c) {
    const p = c.store.latest.psi;
    if (!p) return;
    syncRows(
      this.rows,
      PSI_RES.filter(([k]) => p[k]),
      ([k]) => k,
      ([, label, col]) =>
        h('tr', null, h('th', { scope: 'row' }, swatch(col), label), ...[1, 2, 3, 4, 5].map(() => cell('num'))),
      (tr, [k]) => {
        const r = p[k];
        const m = r.some ?? r.full;
        const vals = [m?.stall_pct, m?.avg10, m?.avg60, m?.avg300, r.full?.avg10];
        vals.forEach((v, i) => setNum(tr.cells[i + 1], isNum(v) ? v.toFixed(2) : '–', isNum(v) ? sev(v, 5, 25) : ''));
        setAttr(tr, 'title', r.some ? '' : 'irq: full only');
      },
    );
  }
}
