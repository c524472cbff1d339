// Memory (the mem topic): used, buffers and cache stacked over time, RAM
// and swap bars, and the kernel's other counters worth a glance.

import { TimeChart } from '../charts.js';
import { $, h, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { bar, factRow, field, fillFact, setBar, sev } from './common.js';

const { isNum } = f;

export class MemPanel {
  constructor() {
    this.chart = new TimeChart($('#mem-chart'), {
      title: 'Memory',
      stacked: true,
      fmt: f.bytes,
      axis: f.axisBytes,
      binary: true,
      height: 110,
      series: [
        { label: 'used', color: 'mem-used', get: field('used') },
        { label: 'buffers', color: 'mem-buf', get: field('buffers') },
        { label: 'cache', color: 'mem-cache', get: field('cached') },
      ],
    });
    this.bars = $('#mem-bars');
    this.facts = $('#mem-facts');
  }

  charts() {
    return [this.chart];
  }

  render(c) {
    const p = c.store.latest.mem;
    // Scaled to what is in use; RAM total a dashed line once in reach.
    if (p && this.chart.spec.ref?.value !== p.total) this.chart.spec.ref = { value: p.total, label: `RAM ${f.bytes(p.total)}` };
    this.chart.update(c.hist('mem'), c.xr, c.gapS);
    if (!p) return;
    const usedPct = p.total ? ((p.total - p.available) / p.total) * 100 : 0;
    setText($('#mem-sum'), `${f.bytes(p.total - p.available)} of ${f.bytes(p.total)} in use · ${f.bytes(p.available)} available`);
    const bars = [['RAM', usedPct, `${f.pct(usedPct, 0)}`]];
    if (p.swap_total > 0) {
      const s = (p.swap_used / p.swap_total) * 100;
      bars.push(['swap', s, `${f.bytes(p.swap_used)} of ${f.bytes(p.swap_total)}`]);
    } else {
      bars.push(['swap', 0, 'none']);
    }
    syncRows(
      this.bars,
      bars,
      ([k]) => k,
      () => h('div', { class: 'barrow' }, h('span', { class: 'k' }), bar(0), h('span', { class: 'v' })),
      (row, [k, pc, txt]) => {
        setText(row.children[0], k);
        setBar(row.children[1], pc, sev(pc, 80, 95));
        setText(row.children[2], txt);
      },
    );
    const facts = [
      ['dirty', f.bytes(p.dirty)],
      ['slab', isNum(p.slab) ? f.bytes(p.slab) : null],
      ['shmem', isNum(p.shmem) ? f.bytes(p.shmem) : null],
      ['page faults', isNum(p.page_faults_per_s) ? `${f.count(p.page_faults_per_s)}/s` : null],
      ['major faults', isNum(p.major_faults_per_s) ? `${f.count(p.major_faults_per_s)}/s` : null],
      ['swap in/out', isNum(p.swap_in_pages_per_s) ? `${f.count(p.swap_in_pages_per_s)} / ${f.count(p.swap_out_pages_per_s)} pg/s` : null],
      ['huge pages', p.hugepages_total ? `${p.hugepages_total - p.hugepages_free} of ${p.hugepages_total} used` : null],
    ].filter(([, v]) => v !== null);
    syncRows(this.facts, facts, ([k]) => k, factRow, fillFact);
  }
}

