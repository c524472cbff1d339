// Charts: uPlot time series with a legend of current values, and a canvas
// heat strip (rows × time). Colours come from the stylesheet's --c-NAME
// variables, so one metric has one colour everywhere and the theme follows
// prefers-color-scheme.

import uPlot from './vendor/uPlot.js';
import { h, setText, swatch } from './dom.js';
import { clock, isNum } from './format.js';

const css = () => getComputedStyle(document.documentElement);
export const color = (name) => css().getPropertyValue(`--c-${name}`).trim() || '#888';
const themeVar = (name) => css().getPropertyValue(`--${name}`).trim();

function alpha(c, a) {
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (!m) return c;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
}

// Tick steps for bytes: 1, 2, 5 times powers of 1024 (no "9.3G" ticks).
const BINARY_INCRS = [];
for (let k = 0; k <= 5; k++) for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) BINARY_INCRS.push(m * 1024 ** k);

const pad2 = (n) => String(n).padStart(2, '0');
function hhmm(t, secs) {
  const d = new Date(t * 1000);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}${secs ? `:${pad2(d.getSeconds())}` : ''}`;
}

// Splits the line where samples are missing (daemon restart, a drop), so
// that no line is drawn across the hole.
function withGaps(xs, ys, gap) {
  const ox = [];
  const oy = ys.map(() => []);
  for (let i = 0; i < xs.length; i++) {
    if (i && xs[i] - xs[i - 1] > gap) {
      ox.push((xs[i] + xs[i - 1]) / 2);
      for (const o of oy) o.push(null);
    }
    ox.push(xs[i]);
    for (let j = 0; j < ys.length; j++) oy[j].push(ys[j][i]);
  }
  return [ox, oy];
}

// A time series chart. spec: {series: [{label, color, fmt?}], stacked,
// fmt(v) for the legend, axis(v) for ticks, max (fixed top) or softMax,
// height}. The legend shows the newest values, or those under the cursor.
export class TimeChart {
  constructor(box, spec) {
    this.spec = spec;
    this.box = box;
    this.legend = h('div', { class: 'legend' });
    this.plot = h('div', { class: 'plot' });
    box.replaceChildren(this.legend, this.plot);
    this.items = spec.series.map((s) => {
      const val = h('b', null, '–');
      const el = h('span', { class: 'lg' }, swatch(s.color), h('span', null, s.label), val);
      this.legend.append(el);
      return val;
    });
    this.when = h('span', { class: 'lg when' });
    this.legend.append(this.when);
    this.raw = [[]];
    this.xr = [0, 1];
    this.width = 0;
    this.u = null;
  }

  options(width) {
    const spec = this.spec;
    const grid = themeVar('grid');
    const muted = themeVar('muted');
    const font = '11px system-ui, sans-serif';
    const series = [{}];
    const bands = [];
    spec.series.forEach((s, i) => {
      const c = color(s.color);
      series.push({
        label: s.label,
        stroke: c,
        width: s.width ?? 1.25,
        fill: spec.stacked || s.fill ? alpha(c, spec.stacked ? 0.55 : 0.12) : undefined,
        dash: s.dash,
        points: { show: false },
      });
      if (spec.stacked && i + 1 < spec.series.length) bands.push({ series: [i + 2, i + 1] });
    });
    const range = (u, min, max) => {
      if (isNum(spec.max)) return [0, spec.max];
      const top = Math.max(max || 0, spec.softMax ?? 0);
      return top > 0 ? [spec.min ?? 0, top * 1.08] : [0, 1];
    };
    return {
      width,
      height: spec.height ?? 110,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      select: { show: false },
      padding: [6, 12, 0, 0],
      scales: { x: { time: true, range: () => this.xr }, y: { range } },
      axes: [
        {
          stroke: muted,
          font,
          size: 20,
          space: 64,
          grid: { stroke: grid, width: 1 },
          ticks: { show: false },
          values: (u, splits, ai, space, incr) => splits.map((t) => (t === null ? null : hhmm(t, incr < 60))),
          // no label cut in half at the right edge
          filter: (u, splits) => splits.map((t) => (u.valToPos(t, 'x') > u.bbox.width / uPlot.pxRatio - 16 ? null : t)),
        },
        {
          stroke: muted,
          font,
          size: 42,
          space: 28,
          grid: { stroke: grid, width: 1 },
          ticks: { show: false },
          values: (u, splits) => splits.map((v) => (spec.axis ? spec.axis(v) : String(v))),
          incrs: spec.binary ? BINARY_INCRS : undefined,
        },
      ],
      series,
      bands,
      hooks: { setCursor: [(u) => this.showLegend(u.cursor.idx)] },
    };
  }

  // xs in seconds, ys one array per series (not stacked), drawn over the
  // fixed x range xr ([min, max] seconds) so that nothing rescales.
  setData(xs, ys, gapS, xr) {
    this.xr = xr;
    [xs, ys] = withGaps(xs, ys, gapS);
    this.raw = [xs, ...ys];
    let data = this.raw;
    if (this.spec.stacked) {
      const acc = new Array(xs.length).fill(0);
      data = [xs, ...ys.map((y) => y.map((v, i) => (v === null ? null : (acc[i] += v))))];
    }
    if (!this.width) this.width = this.plot.clientWidth;
    if (!this.u && this.width > 0) this.u = new uPlot(this.options(this.width), data, this.plot);
    else if (this.u) this.u.setData(data);
    if (this.u?.cursor.idx === null || this.u?.cursor.idx === undefined) this.showLegend(null);
  }

  showLegend(idx) {
    const [xs, ...ys] = this.raw;
    let i = idx;
    if (i === null || i === undefined) {
      i = xs.length - 1;
      while (i > 0 && ys.every((y) => y[i] === null)) i--;
    }
    const fmt = this.spec.fmt;
    ys.forEach((y, j) => setText(this.items[j], isNum(y[i]) ? (this.spec.series[j].fmt || fmt)(y[i]) : '–'));
    setText(this.when, idx === null || idx === undefined || !isNum(xs[i]) ? '' : clock(xs[i] * 1000));
  }

  resize(width) {
    if (width <= 0 || width === this.width) return;
    this.width = width;
    this.u?.setSize({ width, height: this.spec.height ?? 110 });
  }

  // After a theme change: rebuild with the new colours.
  restyle() {
    if (!this.u) return;
    const data = this.u.data;
    this.u.destroy();
    this.u = new uPlot(this.options(this.width), data, this.plot);
  }
}

// Heat colour of a percentage, from calm to hot.
export function heat(p) {
  const stops = [
    [0, themeVar('heat0')],
    [25, themeVar('heat1')],
    [60, themeVar('heat2')],
    [90, themeVar('heat3')],
  ];
  const rgb = (c) => {
    const n = parseInt(c.slice(1), 16);
    return [n >> 16, (n >> 8) & 255, n & 255];
  };
  p = Math.max(0, Math.min(100, p || 0));
  let k = 0;
  while (k < stops.length - 2 && p > stops[k + 1][0]) k++;
  const [p0, c0] = stops[k];
  const [p1, c1] = stops[k + 1];
  const f = Math.min(1, (p - p0) / (p1 - p0));
  const a = rgb(c0);
  const b = rgb(c1);
  return a.map((v, i) => Math.round(v + (b[i] - v) * f));
}

// Rows (one per core) × time: each pixel column one sample, newest right.
export class HeatStrip {
  constructor(canvas) {
    this.canvas = canvas;
    this.off = document.createElement('canvas');
    this.lut = null;
  }

  // ts: sample times (s), cols: per sample an array of percentages per
  // row; drawn over the x range xr like the charts, step s per column.
  draw(ts, cols, xr, step, width) {
    const rows = cols.reduce((m, c) => Math.max(m, c ? c.length : 0), 0);
    const rowH = rows > 16 ? Math.max(2, Math.floor(96 / rows)) : 10;
    const height = Math.max(rowH, rows * rowH);
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.setProperty('height', `${height}px`);
    }
    if (!rows || !cols.length) return;
    if (!this.lut) this.lut = Array.from({ length: 101 }, (_, i) => heat(i));
    const n = Math.max(1, Math.min(4000, Math.round((xr[1] - xr[0]) / step)));
    this.off.width = n;
    this.off.height = rows;
    const g = this.off.getContext('2d');
    const img = g.createImageData(n, rows);
    for (let i = 0; i < cols.length; i++) {
      const x = Math.round((ts[i] - xr[0]) / step) - 1;
      if (x < 0 || x >= n) continue;
      const c = cols[i];
      for (let y = 0; y < rows; y++) {
        const v = c && isNum(c[y]) ? c[y] : null;
        const o = (y * n + x) * 4;
        if (v === null) continue;
        const [r, gg, b] = this.lut[Math.round(Math.max(0, Math.min(100, v)))];
        img.data[o] = r;
        img.data[o + 1] = gg;
        img.data[o + 2] = b;
        img.data[o + 3] = 255;
      }
    }
    g.putImageData(img, 0, 0);
    const ctx = this.canvas.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.off, 0, 0, n, rows, 0, 0, this.canvas.width, this.canvas.height);
  }

  restyle() {
    this.lut = null;
  }
}
