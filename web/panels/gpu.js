// GPUs (the gpu topic; the panel shows only where the topic is on): busy
// share and video memory of every card over time, one line per card in
// the charts (from the history fields the collector declares), and per
// card its busy and VRAM bars, temperature against its slowdown mark,
// power and graphics clock.

import { TimeChart } from '../charts.js';
import { $, h, setClass, setHidden, setText, swatch, syncRows } from '../dom.js';
import * as f from '../format.js';
import { bar, factRow, fillFact, setBar, sev } from './common.js';

const { isNum } = f;
// Cards with a colour and a line of their own in the charts.
const CHARTED_MAX = 4;

const label = (g) => g.name || `${g.driver} ${g.pci ?? g.id}`;

// The value of card `id` in a history row's per-card array `field`.
const ofCard = (id, field) => (v) => {
  const ids = v('gpus[].id');
  const xs = v(field);
  const i = Array.isArray(ids) ? ids.indexOf(id) : -1;
  return i < 0 || !Array.isArray(xs) ? null : xs[i];
};

export class GpuPanel {
  constructor() {
    this.busyBox = $('#gpu-chart');
    this.memBox = $('#gpu-mem-chart');
    this.cards = $('#gpu-cards');
    this.busy = null;
    this.mem = null;
    this.shape = ''; // the cards and fields the charts were made for
  }

  charts() {
    return [this.busy, this.mem].filter(Boolean);
  }

  // Charts of the cards in the newest payload, for the fields the
  // collector keeps history of; made again when the cards change.
  makeCharts(gpus, fields) {
    const ids = gpus.slice(0, CHARTED_MAX).map((g) => g.id);
    const withMem = gpus.slice(0, CHARTED_MAX).filter((g) => isNum(g.mem_total_bytes)).map((g) => g.id);
    const has = (name) => fields.includes('gpus[].id') && fields.includes(name);
    const shape = `${ids}|${withMem}|${has('gpus[].busy_pct')}|${has('gpus[].mem_used_bytes')}`;
    if (shape === this.shape) return;
    this.shape = shape;
    for (const ch of this.charts()) ch.u?.destroy();
    const series = (list, field) => list.map((id) => ({ label: id, color: `gpu${ids.indexOf(id)}`, get: ofCard(id, field) }));
    this.busy = has('gpus[].busy_pct') && ids.length
      ? new TimeChart(this.busyBox, { title: 'GPU busy', max: 100, fmt: (v) => f.pct(v, 0), axis: (v) => `${v} %`, height: 90, series: series(ids, 'gpus[].busy_pct') })
      : null;
    this.mem = has('gpus[].mem_used_bytes') && withMem.length
      ? new TimeChart(this.memBox, { title: 'GPU memory', fmt: f.bytes, axis: f.axisBytes, binary: true, softMax: 1024 ** 3, height: 80, series: series(withMem, 'gpus[].mem_used_bytes') })
      : null;
    this.busyBox.hidden = !this.busy;
    this.memBox.hidden = !this.mem;
  }

  render(c) {
    const p = c.store.latest.gpu;
    const gpus = Array.isArray(p?.gpus) ? p.gpus : [];
    const hist = c.hist('gpu');
    if (p) this.makeCharts(gpus, hist?.fields ?? []);
    this.busy?.update(hist, c.xr, c.gapS);
    this.mem?.update(hist, c.xr, c.gapS);
    if (!p) return;
    const busiest = Math.max(-Infinity, ...gpus.map((g) => g.busy_pct).filter(isNum));
    setText($('#gpu-sum'), `${gpus.length} GPU${gpus.length === 1 ? '' : 's'}${isNum(busiest) ? ` · busiest ${f.pct(busiest, 0)}` : ''}`);
    syncRows(this.cards, gpus, (g) => g.id, (g) => this.makeCard(g, gpus.indexOf(g)), (el, g) => this.fillCard(el, g));
  }

  makeCard(g, i) {
    const head = h('div', { class: 'gh' }, i < CHARTED_MAX ? swatch(`gpu${i}`) : null, h('b'), h('span'));
    const row = (k) => h('div', { class: 'barrow' }, h('span', { class: 'k' }, k), bar(0), h('span', { class: 'v' }));
    return h('div', { class: 'gpu' }, head, h('div', { class: 'bars' }, row('busy'), row('VRAM')), h('dl', { class: 'facts' }));
  }

  fillCard(el, g) {
    const [head, bars, facts] = el.children;
    setText(head.querySelector('b'), label(g));
    setText(head.lastChild, [g.id, g.driver, g.pci].filter(Boolean).join(' · '));
    const [busy, vram] = bars.children;
    setBar(busy.children[1], g.busy_pct ?? 0, sev(g.busy_pct ?? 0, 80, 95));
    setText(busy.children[2], f.pct(g.busy_pct, 0));
    const hasMem = isNum(g.mem_total_bytes) && g.mem_total_bytes > 0;
    setHidden(vram, !hasMem);
    if (hasMem) {
      const pc = (g.mem_used_bytes / g.mem_total_bytes) * 100;
      setBar(vram.children[1], pc, sev(pc, 85, 95));
      setText(vram.children[2], `${f.bytes(g.mem_used_bytes)} of ${f.bytes(g.mem_total_bytes)}`);
    }
    const slow = isNum(g.temp_slowdown_c) ? ` (slows at ${g.temp_slowdown_c.toFixed(0)})` : '';
    const rows = [
      ['temperature', isNum(g.temp_c) ? `${f.celsius(g.temp_c)}${slow}` : null],
      ['power', isNum(g.power_w) ? `${Number(g.power_w.toFixed(g.power_w >= 100 ? 0 : 1))} W` : null],
      ['clock', isNum(g.freq_mhz) ? `${f.hertz(g.freq_mhz)}${isNum(g.freq_max_mhz) ? ` of ${f.hertz(g.freq_max_mhz)}` : ''}` : null],
    ].filter(([, v]) => v !== null);
    syncRows(facts, rows, ([k]) => k, factRow, fillFact);
    const hot = isNum(g.temp_c) && isNum(g.temp_slowdown_c) && g.temp_c >= g.temp_slowdown_c - 5;
    setClass(facts, 'hot', hot);
  }
}
