// Temperatures (the temp topic): every sensor with a bar up to its
// critical (or high) limit, and the limits.

import { $, h, setClassName, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { bar, cell, setBar, sev } from './common.js';

const { isNum } = f;

// Some chips report 65261.85 (0xffff) for "no limit".
const sane = (x) => (isNum(x) && x > 0 && x < 200 ? x : null);

export class TempPanel {
  constructor() {
    this.table = $('#temp-table tbody');
  }

  render(c) {
    const p = c.store.latest.temp;
    if (!p) return;
    const list = p.sensors || [];
    const hot = Math.max(-Infinity, ...list.map((s) => s.temp_c).filter(isNum));
    setText($('#temp-sum'), list.length ? `${list.length} sensors · max ${f.celsius(hot)}` : 'no sensors on this host');
    syncRows(
      this.table,
      list,
      (s) => s.id ?? `${s.chip}/${s.label}`,
      () => h('tr', null, h('th', { scope: 'row' }, h('span'), h('span', { class: 'chip' })),
        h('td', { class: 'bar-c' }, h('div', { class: 'bi' }, bar(0), h('span', { class: 'v' }))), cell('num')),
      (tr, s) => {
        const t = s.temp_c;
        const high = sane(s.max_c);
        const crit = sane(s.crit_c);
        setText(tr.cells[0].children[0], s.label);
        setText(tr.cells[0].children[1], s.chip);
        const top = isNum(crit) ? crit : isNum(high) ? high + 10 : 100;
        const cls = isNum(crit) && t >= crit ? 'crit' : isNum(high) && t >= high ? 'warn' : sev(t, 80, 95);
        const bi = tr.cells[1].firstChild;
        setBar(bi.children[0], (t / top) * 100, cls);
        setText(bi.children[1], f.celsius(t));
        setClassName(bi.children[1], `v ${cls}`.trim());
        setText(tr.cells[2], [high, crit].map((x) => (isNum(x) ? x.toFixed(0) : '–')).join(' / '));
      },
    );
  }
}
