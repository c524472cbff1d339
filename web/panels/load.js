// Load: the 1, 5 and 15 minute load averages over time (the load topic).

import { TimeChart } from '../charts.js';
import { $, setText } from '../dom.js';
import { isNum } from '../format.js';
import { field } from './common.js';

export class LoadPanel {
  constructor() {
    this.chart = new TimeChart($('#load-chart'), {
      title: 'Load',
      fmt: (v) => v.toFixed(2),
      axis: (v) => String(+v.toFixed(1)),
      height: 96,
      series: [
        { label: '1 min', color: 'load1', get: field('load1'), width: 1.5 },
        { label: '5 min', color: 'load5', get: field('load5') },
        { label: '15 min', color: 'load15', get: field('load15'), dash: [4, 3] },
      ],
    });
  }

  charts() {
    return [this.chart];
  }

  render(c) {
    const p = c.store.latest.load;
    const n = c.store.latest.cpu?.ncpu;
    this.chart.spec.softMax = n ?? 1;
    this.chart.update(c.hist('load'), c.xr, c.gapS);
    if (!p) return;
    const per = isNum(n) && n > 0 ? ` (${((p.load1 / n) * 100).toFixed(0)}% of ${n} CPUs)` : '';
    setText($('#load-sum'), `${p.running} running of ${p.tasks} tasks${per}`);
  }
}
