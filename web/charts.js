// Charts: uPlot time series with a legend of current values, and a canvas
// heat strip (rows × time). Colours come from the stylesheet's --c-NAME
// variables, so one metric has one colour everywhere and the theme follows
// prefers-color-scheme.

import uPlot from './vendor/uPlot.js';
import { h, setText, swatch } from './dom.js';
import { clock, isNum } from './format.js';

const css = () => getComputedStyle(document.documentElement);
const color = (name) => css().getPropertyValue(`--c-${name}`).trim() || '#888';
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

// A chart's columns, kept in step with a topic's history (Store.hist[topic]:
// {fields, rows: [[t ms, value...]]}): xs in seconds and, per getter, the
// raw values and, for a stacked chart, their running sums. A getter
// receives v(field) -> the row's value of a history field.
//
// update() appends the rows added since the last call and drops the points
// left of the range, so that a tick costs the new rows, not the window; a
// new history (a snapshot), a wider range, another gap or invalidate()
// (e.g. another device selected) rebuilds them; `version` counts the
// changes, so that a chart whose columns and range did not change is not
// drawn again. Where samples are missing
// for more than gap seconds (a daemon restart, a drop), a point of nulls
// goes in the middle, so that no line is drawn across the hole.
class Columns {
  constructor(getters, { stacked = false, gaps = true } = {}) {
    this.getters = getters;
    this.stacked = stacked;
    this.gaps = gaps;
    this.version = 0;
    this.row = null;
    this.idx = new Map();
    this.v = (name) => {
      const i = this.idx.get(name);
      return i === undefined ? null : this.row[i];
    };
    this.invalidate();
  }

  invalidate() {
    this.version++;
    this.hist = null;
    this.last = null; // the newest history row taken
    this.lo = Infinity;
    this.gap = 0;
    this.xs = [];
    this.hole = []; // xs[i] is a gap point
    this.raw = this.getters.map(() => []);
    this.sums = this.stacked ? this.getters.map(() => []) : this.raw;
  }

  // lo: the left end of the range (s); gap: seconds (0: no gap points).
  update(hist, lo, gap) {
    if (hist !== this.hist || lo < this.lo || gap !== this.gap) {
      this.invalidate();
      this.hist = hist;
      this.gap = gap;
      this.idx = new Map((hist?.fields ?? []).map((name, i) => [name, i]));
    }
    this.lo = lo;
    const rows = hist?.rows ?? [];
    let from = this.last ? rows.lastIndexOf(this.last) + 1 : 0;
    if (this.last && !from) {
      this.invalidate(); // trimmed past what was taken: start over
      this.hist = hist;
      this.gap = gap;
      this.lo = lo;
    }
    for (let i = from; i < rows.length; i++) this.push(rows[i]);
    if (rows.length) this.last = rows[rows.length - 1];
    this.dropBefore(lo);
  }

  push(r) {
    const x = r[0] / 1000;
    if (x < this.lo) return;
    const n = this.xs.length;
    if (this.gaps && n && x - this.xs[n - 1] > this.gap) {
      this.xs.push((x + this.xs[n - 1]) / 2);
      this.hole.push(true);
      for (const y of this.raw) y.push(null);
      if (this.stacked) for (const y of this.sums) y.push(null);
    }
    this.version++;
    this.xs.push(x);
    this.hole.push(false);
    this.row = r;
    let acc = 0;
    for (let j = 0; j < this.getters.length; j++) {
      const got = this.getters[j](this.v);
      const v = isNum(got) || Array.isArray(got) ? got : null;
      this.raw[j].push(v);
      if (this.stacked) this.sums[j].push(v === null ? null : (acc += v));
    }
    this.row = null;
  }

  // Drops the points left of lo, and a gap point left first.
  dropBefore(lo) {
    const xs = this.xs;
    let k = 0;
    while (k < xs.length && xs[k] < lo) k++;
    while (k < xs.length && this.hole[k]) k++;
    if (!k) return;
    this.version++;
    xs.splice(0, k);
    this.hole.splice(0, k);
    for (const y of this.raw) y.splice(0, k);
    if (this.stacked) for (const y of this.sums) y.splice(0, k);
  }
}

// uPlot path builder: the series' line, broken where values are missing,
// and on a stacked chart the band between it and the series below, one
// polygon per run of values. uPlot's own builder draws lines across holes
// and hides them with a clip path, and draws stacked bands through clip
// paths too; Skia rasterises clip paths slowly in software, plain paths
// need none.
function linePaths(stacked) {
  return (u, si, i0, i1) => {
    const ys = u.data[si];
    const stroke = new Path2D();
    const fill = stacked ? new Path2D() : null;
    const px = pixelsOf(u);
    // Canvas y of a value: linear, from the scale's ends.
    const sy = u.scales.y;
    const y0 = u.valToPos(sy.min, 'y', true);
    const ky = (u.valToPos(sy.max, 'y', true) - y0) / (sy.max - sy.min || 1);
    const py = (v) => Math.round(y0 + (v - sy.min) * ky);
    // The band's lower edge: the nearest series below with a value, or 0.
    const base = (i) => {
      for (let k = si - 1; k >= 1; k--) {
        const b = u.data[k][i];
        if (b !== null && b !== undefined) return b;
      }
      return 0;
    };
    const run = (a, b) => {
      stroke.moveTo(px[a], py(ys[a]));
      for (let i = a + 1; i <= b; i++) stroke.lineTo(px[i], py(ys[i]));
      if (!fill) return;
      fill.moveTo(px[a], py(ys[a]));
      for (let i = a + 1; i <= b; i++) fill.lineTo(px[i], py(ys[i]));
      for (let i = b; i >= a; i--) fill.lineTo(px[i], py(base(i)));
      fill.closePath();
    };
    let start = -1;
    for (let i = i0; i <= i1; i++) {
      if (ys[i] === null || ys[i] === undefined) {
        if (start >= 0) run(start, i - 1);
        start = -1;
      } else if (start < 0) {
        start = i;
      }
    }
    if (start >= 0) run(start, i1);
    return { stroke, fill, clip: null, band: null, gaps: null, flags: 0 };
  };
}

// The canvas x of every point, once per drawing for all the series.
function pixelsOf(u) {
  const xs = u.data[0];
  const sx = u.scales.x;
  const c = u.sfPx;
  if (c && c.xs === xs && c.n === xs.length && c.min === sx.min && c.max === sx.max && c.left === u.bbox.left && c.width === u.bbox.width) return c.px;
  const x0 = u.valToPos(sx.min, 'x', true);
  const kx = (u.valToPos(sx.max, 'x', true) - x0) / (sx.max - sx.min || 1);
  const px = new Array(xs.length);
  for (let i = 0; i < xs.length; i++) px[i] = Math.round(x0 + (xs[i] - sx.min) * kx);
  u.sfPx = { xs, n: xs.length, min: sx.min, max: sx.max, left: u.bbox.left, width: u.bbox.width, px };
  return px;
}

// Draws a canvas's text from a cache of small bitmaps, one per text and
// style: the axes' labels, which repeat from tick to tick. fillText shapes
// and rasterises its text every time, which in a software-rendered canvas
// was most of a tick's script. The label's anchor stays on the same pixel
// grid as the text's would (uPlot places labels at whole pixels), so the
// pixels are those fillText draws.
const LABELS_MAX = 400;

function cacheText(ctx) {
  const cache = new Map();
  const own = ctx.fillText.bind(ctx);
  ctx.fillText = (text, x, y, maxWidth) => {
    const t = ctx.getTransform();
    if (maxWidth !== undefined || !t.isIdentity) return own(text, x, y, maxWidth);
    const key = `${ctx.font}\u0000${ctx.fillStyle}\u0000${ctx.textAlign}\u0000${ctx.textBaseline}\u0000${text}`;
    let c = cache.get(key);
    if (!c) {
      c = labelBitmap(ctx, text);
      if (cache.size >= LABELS_MAX) cache.delete(cache.keys().next().value);
      cache.set(key, c);
    }
    if (c.canvas) ctx.drawImage(c.canvas, Math.round(x) - c.ax, Math.round(y) - c.ay);
  };
}

// text in ctx's style on a canvas of its own, and the pixel of that canvas
// where the text's anchor (textAlign, textBaseline) is.
function labelBitmap(ctx, text) {
  const m = ctx.measureText(text);
  const asc = Math.ceil(m.fontBoundingBoxAscent ?? 12);
  const desc = Math.ceil(m.fontBoundingBoxDescent ?? 4);
  const pad = 2;
  const w = Math.ceil(Math.max(m.width, (m.actualBoundingBoxLeft ?? 0) + (m.actualBoundingBoxRight ?? 0))) + 2 * pad;
  const hgt = 2 * (asc + desc) + 2 * pad;
  if (w <= 2 * pad) return { canvas: null };
  const align = ctx.textAlign;
  const base = ctx.textBaseline;
  const ax = align === 'right' || align === 'end' ? w - pad : align === 'center' ? Math.floor(w / 2) : pad;
  const ay = base === 'top' || base === 'hanging' ? pad : base === 'middle' ? Math.floor(hgt / 2) : base === 'alphabetic' ? pad + asc + desc : hgt - pad;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = hgt;
  const g = canvas.getContext('2d');
  g.font = ctx.font;
  g.fillStyle = ctx.fillStyle;
  g.textAlign = align;
  g.textBaseline = base;
  g.fillText(text, ax, ay);
  return { canvas, ax, ay };
}

// Times (s) marked on every time chart with a thin line in their
// severity's colour: when alerts fired (set by the alerts panel). A change
// draws the charts again with their next update.
const marks = { list: [], key: '' };

export function setMarks(list) {
  const key = list.map((m) => `${m.t}${m.sev}`).join();
  if (key === marks.key) return;
  marks.key = key;
  marks.list = list;
}

// uPlot draw hook: the marks within the x range.
function drawMarks(u) {
  const sx = u.scales.x;
  const ctx = u.ctx;
  let n = 0;
  for (const m of marks.list) {
    if (m.t < sx.min || m.t > sx.max) continue;
    const x = Math.round(u.valToPos(m.t, 'x', true)) + 0.5;
    ctx.strokeStyle = alpha(themeVar(m.sev === 'critical' ? 'crit' : 'warn'), 0.8);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    n++;
  }
  u.sfMarks = n;
}

// A time series chart. spec: {series: [{label, color, get, fmt?, width?,
// dash?}], stacked, fmt(v) for the legend, axis(v) for ticks, max (fixed
// top) or softMax, height}; get(v) is the series' value in a history row
// (see Columns). The legend shows the newest values, or those under the
// cursor.
export class TimeChart {
  constructor(box, spec) {
    this.spec = spec;
    this.cols = new Columns(spec.series.map((s) => s.get), { stacked: spec.stacked });
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
    const paths = linePaths(spec.stacked);
    for (const s of spec.series) {
      const c = color(s.color);
      series.push({
        label: s.label,
        stroke: c,
        // 1 px: Skia draws it as a hairline, several times cheaper to
        // rasterise in software than a wider stroke
        width: s.width ?? 1,
        fill: spec.stacked ? alpha(c, 0.55) : undefined,
        dash: s.dash,
        points: { show: false },
        paths,
      });
    }
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
      hooks: { setCursor: [(u) => this.showLegend(u.cursor.idx)], draw: [drawMarks] },
    };
  }

  // Draws the rows of hist (Store.hist[topic]) over the fixed x range xr
  // ([min, max] seconds) so that nothing rescales; gapS: the longest
  // interval between samples drawn as a line.
  update(hist, xr, gapS) {
    const cols = this.cols;
    cols.update(hist, xr[0] - 2, gapS);
    const drawn = `${cols.version} ${xr[0]} ${xr[1]} ${marks.key}`;
    if (this.u && this.drawn === drawn) return; // nothing to draw anew
    this.drawn = drawn;
    this.xr = xr;
    this.raw = [cols.xs, ...cols.raw];
    const data = [cols.xs, ...cols.sums];
    if (!this.width) this.width = this.plot.clientWidth;
    if (!this.u && this.width > 0) this.make(data);
    else if (this.u) this.u.setData(data);
    if (this.u?.cursor.idx === null || this.u?.cursor.idx === undefined) this.showLegend(null);
  }

  // The series' values changed meaning (another device selected).
  invalidate() {
    this.cols.invalidate();
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
    this.make(data);
  }

  make(data) {
    this.u = new uPlot(this.options(this.width), data, this.plot);
    cacheText(this.u.ctx);
  }
}

// Heat colour of a percentage, from calm to hot: [r, g, b] from a table of
// 101 colours made from the theme's --heat0..3 (restyle() after a theme
// change).
let heatLut = null;

export function heat(p) {
  if (!heatLut) heatLut = Array.from({ length: 101 }, (_, i) => heatOf(i));
  return heatLut[Math.round(Math.max(0, Math.min(100, p || 0)))];
}

function heatOf(p) {
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
// get(v) is a sample's array of percentages (see Columns).
export class HeatStrip {
  constructor(canvas, get) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.off = document.createElement('canvas');
    this.cols = new Columns([get], { gaps: false });
  }

  // Draws hist over the x range xr like the charts, step s per column,
  // width px wide.
  update(hist, xr, step, width) {
    this.cols.update(hist, xr[0] - 2, 0);
    const drawn = `${this.cols.version} ${xr[0]} ${xr[1]} ${step} ${width}`;
    if (this.drawn === drawn) return; // nothing to draw anew
    this.drawn = drawn;
    this.draw(this.cols.xs, this.cols.raw[0], xr, step, width);
  }

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
    const n = Math.max(1, Math.min(4000, Math.round((xr[1] - xr[0]) / step)));
    if (this.off.width !== n || this.off.height !== rows) {
      this.off.width = n;
      this.off.height = rows;
    }
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
        const [r, gg, b] = heat(v);
        img.data[o] = r;
        img.data[o + 1] = gg;
        img.data[o + 2] = b;
        img.data[o + 3] = 255;
      }
    }
    g.putImageData(img, 0, 0);
    const ctx = this.ctx;
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.off, 0, 0, n, rows, 0, 0, this.canvas.width, this.canvas.height);
  }

  restyle() {
    heatLut = null;
    this.drawn = null;
  }
}
