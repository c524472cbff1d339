// A chart's data and how its series are drawn: the columns kept in step
// with a topic's rows, the path builder of lines and stacked areas, and
// the min–max bands of consolidated rows (charts.js puts them together).

import { isNum } from './format.js';

// A chart's columns, kept in step with a topic's history (Store.hist[topic]
// or the rows of /api/history: {fields, rows: [[t ms, value...]]}): xs in
// seconds and, per getter, the raw values and, for a stacked chart, their
// running sums. A getter receives v(field) -> the row's value of a history
// field.
//
// update() appends the rows added since the last call and drops the points
// left of the range, so that a tick costs the new rows, not the window; a
// new history (a snapshot, a fetch), a wider range, another gap or
// invalidate() (e.g. another device selected) rebuilds them; `version`
// counts the changes, so that a chart whose columns and range did not
// change is not drawn again, and `epoch` the rebuilds (a chart whose
// columns only gained rows on the right and lost some on the left can be
// moved rather than drawn anew). Where samples are missing for more than gap
// seconds (a daemon restart, a drop), a point of nulls goes in the middle,
// so that no line is drawn across the hole.
//
// Consolidated rows (fields FIELD:min and FIELD:max beside FIELD) also
// give each series a band: the getter applied to the rows' minima and
// maxima (on a stacked chart, on top of the averages below it). A getter
// that sums fields gets the sum of their minima and maxima: an envelope.
export class Columns {
  constructor(getters, { stacked = false, gaps = true, bands = true } = {}) {
    this.getters = getters;
    this.stacked = stacked;
    this.gaps = gaps;
    this.withBands = bands;
    this.version = 0;
    this.epoch = 0;
    this.row = null;
    this.idx = new Map();
    this.idxLo = new Map();
    this.idxHi = new Map();
    this.v = (name) => {
      const i = this.idx.get(name);
      return i === undefined ? null : this.row[i];
    };
    this.vLo = (name) => this.edge(name, this.idxLo);
    this.vHi = (name) => this.edge(name, this.idxHi);
    this.invalidate();
  }

  // FIELD:min (or :max) of the row, or FIELD itself where that column is
  // missing or empty (names, flags).
  edge(name, map) {
    const i = map.get(name);
    const x = i === undefined ? null : this.row[i];
    if (x === null || x === undefined || (Array.isArray(x) && !x.some(isNum))) return this.v(name);
    return x;
  }

  invalidate() {
    this.version++;
    this.epoch++;
    this.hist = null;
    this.last = null; // the newest history row taken
    this.from = Infinity;
    this.gap = 0;
    this.xs = [];
    this.hole = []; // xs[i] is a gap point
    this.raw = this.getters.map(() => []);
    this.sums = this.stacked ? this.getters.map(() => []) : this.raw;
    this.bands = null; // {lo: [[]...], hi: [[]...]} per getter
  }

  rebuild(hist, from, gap) {
    this.invalidate();
    this.hist = hist;
    this.gap = gap;
    this.from = from;
    const fields = hist?.fields ?? [];
    this.idx = new Map(fields.map((name, i) => [name, i]));
    this.idxLo = new Map();
    this.idxHi = new Map();
    fields.forEach((name, i) => {
      const m = /^(.*):(min|max)$/.exec(name);
      if (m) (m[2] === 'min' ? this.idxLo : this.idxHi).set(m[1], i);
    });
    if (this.withBands && this.idxLo.size) this.bands = { lo: this.getters.map(() => []), hi: this.getters.map(() => []) };
  }

  // from: the left end of the range (s); gap: seconds (0: no gap points).
  update(hist, from, gap) {
    if (hist !== this.hist || from < this.from || gap !== this.gap) this.rebuild(hist, from, gap);
    this.from = from;
    const rows = hist?.rows ?? [];
    let start = this.last ? rows.lastIndexOf(this.last) + 1 : 0;
    if (this.last && !start) this.rebuild(hist, from, gap); // trimmed past what was taken
    // rows before from are not taken, but the last of them (see dropBefore)
    while (start + 1 < rows.length && rows[start + 1][0] / 1000 < from) start++;
    for (let i = start; i < rows.length; i++) this.push(rows[i]);
    if (rows.length) this.last = rows[rows.length - 1];
    this.dropBefore(from);
  }

  // Every column, the bands' too.
  all() {
    const b = this.bands;
    return b ? [...this.raw, ...(this.stacked ? this.sums : []), ...b.lo, ...b.hi] : this.stacked ? [...this.raw, ...this.sums] : this.raw;
  }

  push(r) {
    const x = r[0] / 1000;
    const n = this.xs.length;
    if (this.gaps && n && x - this.xs[n - 1] > this.gap) {
      this.xs.push((x + this.xs[n - 1]) / 2);
      this.hole.push(true);
      for (const y of this.all()) y.push(null);
    }
    this.version++;
    this.xs.push(x);
    this.hole.push(false);
    this.row = r;
    const b = this.bands;
    let acc = 0;
    for (let j = 0; j < this.getters.length; j++) {
      const get = this.getters[j];
      const got = get(this.v);
      const v = isNum(got) || Array.isArray(got) ? got : null;
      this.raw[j].push(v);
      if (b) {
        const lo = v === null ? null : get(this.vLo);
        const hi = v === null ? null : get(this.vHi);
        const base = this.stacked ? acc : 0;
        b.lo[j].push(isNum(lo) ? base + lo : null);
        b.hi[j].push(isNum(hi) ? base + hi : null);
      }
      if (this.stacked) this.sums[j].push(v === null ? null : (acc += v));
    }
    this.row = null;
  }

  // Drops the points left of from but the last one, when a line runs
  // from it to the first point at or after from (the line enters the plot
  // at its left edge as it did before the drop: a chart moved by whole
  // pixels keeps the pixels of a full drawing there, however far apart
  // the two points are), and a gap point left first.
  dropBefore(from) {
    const xs = this.xs;
    let k = 0;
    while (k < xs.length && xs[k] < from) k++;
    if (k > 0 && k < xs.length && !this.hole[k - 1] && !this.hole[k]) k--;
    while (k < xs.length && this.hole[k]) k++;
    if (!k) return;
    this.version++;
    xs.splice(0, k);
    this.hole.splice(0, k);
    for (const y of this.all()) y.splice(0, k);
  }

  // The highest band edge: the y range must hold it.
  bandMax() {
    let m = 0;
    for (const y of this.bands?.hi ?? []) for (const v of y) if (v !== null && v > m) m = v;
    return m;
  }
}

// Canvas y of a value: linear, from the scale's ends.
function yPixel(u) {
  const sy = u.scales.y;
  const y0 = u.valToPos(sy.min, 'y', true);
  const ky = (u.valToPos(sy.max, 'y', true) - y0) / (sy.max - sy.min || 1);
  return (v) => Math.round(y0 + (v - sy.min) * ky);
}

// Calls run(a, b) for each run of points a..b (within i0..i1) where
// has(i) holds.
function runs(i0, i1, has, run) {
  let start = -1;
  for (let i = i0; i <= i1; i++) {
    if (!has(i)) {
      if (start >= 0) run(start, i - 1);
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) run(start, i1);
}

// The runs of points to draw, [[a, b]...] within i0..i1: all of them, or
// when only the canvas left of x = u.sfKeep[0] and right of u.sfKeep[1]
// (canvas pixels) is drawn (charts.js: a chart moved by whole pixels draws
// its left edge and a strip at its right end) the points whose segments
// reach into those (a line is about a pixel wide).
function drawnRuns(u, px, i0, i1) {
  const keep = u.sfKeep;
  if (!keep) return [[i0, i1]];
  let a = i0;
  while (a < i1 && px[a] < keep[0] + 2) a++;
  let b = i1;
  while (b > i0 && px[b] > keep[1] - 2) b--;
  return a >= b ? [[i0, i1]] : [[i0, a], [b, i1]];
}

// The x of time min (s) on a plot of the scale's pixels per second,
// rounded: a fixed point of the time axis, so that dashes drawn from it stay
// at the same times as the chart moves (and a moved chart keeps its pixels,
// see charts.js).
export function timeOrigin(u) {
  const sx = u.scales.x;
  return Math.round((sx.min * u.bbox.width) / (sx.max - sx.min || 1));
}

// Adds the dashes of the segment x0,y0 to x1,y1 (x0 <= x1) to path: dash
// [on, off] canvas pixels, on where (x + at) mod (on + off) < on, so that
// a dash depends on where it is, not on where the line starts.
function dashTo(path, x0, y0, x1, y1, at, [on, off]) {
  const period = on + off;
  const phase = (x) => (((x + at) % period) + period) % period;
  if (x1 === x0) {
    if (phase(x0) < on) {
      path.moveTo(x0, y0);
      path.lineTo(x1, y1);
    }
    return;
  }
  const y = (x) => y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  for (let s = x0; s < x1;) {
    const ph = phase(s);
    const e = Math.min(x1, s + (ph < on ? on - ph : period - ph));
    if (ph < on) {
      path.moveTo(s, y(s));
      path.lineTo(e, y(e));
    }
    s = e;
  }
}

// uPlot path builder: the series' line, broken where values are missing,
// and on a stacked chart the band between it and the series below, one
// polygon per run of values. uPlot's own builder draws lines across holes
// and hides them with a clip path, and draws stacked bands through clip
// paths too; Skia rasterises clip paths slowly in software, plain paths
// need none. dashes[si - 1]: the series' [on, off] in canvas pixels, or none
// (canvas dashes follow a line's length from its start, which moves with
// the range).
export function linePaths(stacked, dashes = []) {
  return (u, si, i0, i1) => {
    const ys = u.data[si];
    const stroke = new Path2D();
    const fill = stacked ? new Path2D() : null;
    const px = pixelsOf(u);
    const py = yPixel(u);
    // The band's lower edge: the nearest series below with a value, or 0.
    const base = (i) => {
      for (let k = si - 1; k >= 1; k--) {
        const b = u.data[k][i];
        if (b !== null && b !== undefined) return b;
      }
      return 0;
    };
    const dash = dashes[si - 1];
    const at = dash ? timeOrigin(u) : 0;
    const run = (a, b) => {
      if (dash) {
        for (let i = a; i < b; i++) dashTo(stroke, px[i], py(ys[i]), px[i + 1], py(ys[i + 1]), at, dash);
      } else {
        stroke.moveTo(px[a], py(ys[a]));
        for (let i = a + 1; i <= b; i++) stroke.lineTo(px[i], py(ys[i]));
      }
      if (!fill) return;
      fill.moveTo(px[a], py(ys[a]));
      for (let i = a + 1; i <= b; i++) fill.lineTo(px[i], py(ys[i]));
      for (let i = b; i >= a; i--) fill.lineTo(px[i], py(base(i)));
      fill.closePath();
    };
    for (const [a, b] of drawnRuns(u, px, i0, i1)) runs(a, b, (i) => ys[i] !== null && ys[i] !== undefined, run);
    return { stroke, fill, clip: null, band: null, gaps: null, flags: 0 };
  };
}

// Fills each series' band (Columns.bands) under the lines, in fills[j]:
// one polygon per run of points that have both edges.
export function drawBands(u, bands, fills) {
  if (!bands || !u.data[0].length) return;
  const px = pixelsOf(u);
  const py = yPixel(u);
  const ctx = u.ctx;
  const n = u.data[0].length - 1;
  const drawn = drawnRuns(u, px, 0, n);
  bands.lo.forEach((lo, j) => {
    const hi = bands.hi[j];
    const p = new Path2D();
    for (const [i0, i1] of drawn) {
      runs(i0, i1, (i) => lo[i] !== null && hi[i] !== null, (a, b) => {
        p.moveTo(px[a], py(hi[a]));
        for (let i = a + 1; i <= b; i++) p.lineTo(px[i], py(hi[i]));
        for (let i = b; i >= a; i--) p.lineTo(px[i], py(lo[i]));
        p.closePath();
      });
    }
    ctx.fillStyle = fills[j];
    ctx.fill(p);
  });
}

// The canvas x of every point, once per drawing for all the series.
export function pixelsOf(u) {
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

// The index of the point of xs (ascending) nearest x, or -1.
export function nearest(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid;
    else hi = mid;
  }
  return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
}
