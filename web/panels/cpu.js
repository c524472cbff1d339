// CPU: time stacked by kind, a heat strip of every core over time, and a
// tile per core with its load and frequency (the cpu topic).

import { HeatStrip, TimeChart, Y_AXIS_PX, heat } from '../charts.js';
import { $, h, setClass, setText } from '../dom.js';
import * as f from '../format.js';
import { field, sum } from './common.js';

const { isNum } = f;

// The heat strip starts under the chart's plot, after its y axis, and
// ends before its right padding.
const AXIS_PX = Y_AXIS_PX + 12;

export class CpuPanel {
  constructor() {
    this.chart = new TimeChart($('#cpu-chart'), {
      title: 'CPU',
      stacked: true,
      max: 100,
      fmt: (v) => f.pct(v),
      axis: (v) => `${v} %`,
      height: 150,
      series: [
        { label: 'user', color: 'user', get: sum('total.user', 'total.nice') },
        { label: 'system', color: 'system', get: field('total.system') },
        { label: 'iowait', color: 'iowait', get: field('total.iowait') },
        { label: 'irq', color: 'irq', get: sum('total.irq', 'total.softirq') },
        { label: 'steal', color: 'steal', get: field('total.steal') },
      ],
    });
    this.strip = new HeatStrip($('#cpu-heat'), field('cores[].busy'));
    this.tiles = $('#cpu-cores');
  }

  charts() {
    return [this.chart];
  }

  render(c) {
    const p = c.store.latest.cpu;
    const hist = c.hist('cpu');
    this.chart.update(hist, c.xr, c.gapS);
    // The chart's width as last measured: no layout read here.
    this.strip.update(hist, c.xr, c.step, this.chart.width - AXIS_PX);
    if (!p) return;
    const tot = p.total || {};
    const rates = [
      isNum(p.ctxt_per_s) ? `${f.count(p.ctxt_per_s)} ctxsw/s` : '',
      isNum(p.intr_per_s) ? `${f.count(p.intr_per_s)} intr/s` : '',
      isNum(p.forks_per_s) ? `${f.count(p.forks_per_s)} forks/s` : '',
    ].filter(Boolean);
    setText($('#cpu-sum'), [`${p.ncpu ?? (p.cores || []).length} CPUs`, `${f.pct(tot.busy)} busy`, ...rates].join(' · '));
    this.renderTiles(p.cores || []);
  }

  renderTiles(cores) {
    const tiles = this.tiles;
    while (tiles.children.length > cores.length) tiles.lastChild.remove();
    while (tiles.children.length < cores.length) {
      tiles.append(h('span', { class: 'core' }, h('b'), h('span', { class: 'pc' }), h('span', { class: 'hz' })));
    }
    cores.forEach((k, i) => {
      const el = tiles.children[i];
      const [r, g, b] = heat(k.busy);
      const bg = `rgb(${r},${g},${b})`;
      if (el.sfHeat !== bg) {
        el.sfHeat = bg;
        el.style.setProperty('--heat', bg);
      }
      setClass(el, 'hot', k.busy >= 60);
      setText(el.children[0], `cpu${k.cpu ?? i}`);
      setText(el.children[1], isNum(k.busy) ? `${k.busy.toFixed(0)}%` : '–');
      setText(el.children[2], f.hertz(k.mhz));
    });
  }

  restyle() {
    this.strip.restyle();
  }
}
