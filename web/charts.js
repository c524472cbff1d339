// Charts: uPlot time series with a legend of current values, and a canvas
// heat strip (rows × time). Colours come from the stylesheet's --c-NAME
// variables, so one metric has one colour everywhere and the theme follows
// prefers-color-scheme. Every time chart shares one x range (the page's),
// one crosshair (uPlot's cursor sync) and a drag to zoom; what a zoom, a
// double click and the crosshair do is the page's (setChartHandlers).

import uPlot from './vendor/uPlot.js';
import { h, setText, swatch } from './dom.js';
import { clock, isNum } from './format.js';
import { Columns, drawBands, linePaths, nearest, timeOrigin } from './series.js';

const css = () => getComputedStyle(document.documentElement);
const color = (name) => css().getPropertyValue(`--c-${name}`).trim() || '#888';
const themeVar = (name) => css().getPropertyValue(`--${name}`).trim();
// The same, read once per theme for what is drawn every tick: reading a
// computed style in a draw hook would lay out the frame's style changes
// there and then (restyle() forgets them).
const themeCache = new Map();
function themed(name) {
  let c = themeCache.get(name);
  if (c === undefined) themeCache.set(name, (c = themeVar(name)));
  return c;
}

function alpha(c, a) {
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (!m) return c;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
}

// Tick steps for bytes: 1, 2, 5 times powers of 1024 (no "9.3G" ticks).
const BINARY_INCRS = [];
for (let k = 0; k <= 5; k++) for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) BINARY_INCRS.push(m * 1024 ** k);

// The y axis's width, the same on every chart so that their x axes line
// up under the shared crosshair: room for "500 KiB/s".
export const Y_AXIS_PX = 58;

const pad2 = (n) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// A time tick: the date where ticks are days apart or fall on midnight of
// a range longer than a day, else the time (with seconds under a minute).
function timeTick(t, incr, span) {
  const d = new Date(t * 1000);
  const date = `${MONTHS[d.getMonth()]} ${d.getDate()}`;
  if (incr >= 86400) return incr >= 86400 * 28 && d.getDate() === 1 ? `${MONTHS[d.getMonth()]} ${d.getFullYear()}` : date;
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (span > 86400 && !d.getHours() && !d.getMinutes()) return date;
  return incr < 60 ? `${hm}:${pad2(d.getSeconds())}` : hm;
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

// The state of a canvas context that uPlot keeps a record of (and our draw
// hooks read or set before use), besides the line dash: what a drawing
// may leave other than restore() would. Other state (shadows, filter,
// miterLimit, ...) stays at its default: nothing here or in uPlot sets it.
// (Reading every property of the context after each drawing cost more
// than the clipped drawing saved: ~1 ms a tick of script.)
const CTX_STATE = ['strokeStyle', 'fillStyle', 'globalAlpha', 'lineWidth', 'lineCap', 'lineJoin', 'font', 'textAlign', 'textBaseline'];

// Ends a clip that ctx.save() started: restore() lifts it, and the rest
// of the state is set back as the drawing left it (uPlot keeps a record
// of the styles it set and does not set them again).
function unclip(ctx) {
  const state = CTX_STATE.map((k) => ctx[k]);
  const dash = ctx.getLineDash();
  ctx.restore();
  for (let i = 0; i < CTX_STATE.length; i++) if (ctx[CTX_STATE[i]] !== state[i]) ctx[CTX_STATE[i]] = state[i];
  ctx.setLineDash(dash);
}

// A chart moved by whole pixels draws only this much of its plot anew at
// the right end, besides the new rows (CSS px, times the pixel ratio); and
// it is drawn in full after this many such moves all the same.
const STRIP_PAD = 3;

// A chart that follows the present moves by this many pixels at a time
// (see TimeChart.update): by 2, it is drawn half as often as by 1 (each
// drawing rasterises the canvas again and hands it to the compositor),
// its newest row at most 2 pixels short of its right end.
const MOVE_PX = 2;
const STRIPS_MAX = 60;

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

// Events of the timeline (timeline.js): {t (s), kind}, a short tick at the
// top of every chart in its kind's colour; key changes when the list does.
const events = { list: [], key: '' };

export function setEventMarks(list, key) {
  if (key === events.key) return;
  events.key = key;
  events.list = list;
}

// Whether the charts follow the present (the page's range, not a zoomed
// window): only then is a chart's range put on its pixel grid (see
// TimeChart.update); a fixed window is the same on every chart.
let following = true;

export function setFollowing(on) {
  following = Boolean(on);
}

const EVENT_COLOURS = { unit_failed: 'crit', log_err: 'warn', file: 'accent' };

// uPlot draw hook: the marks and events within the x range.
function drawMarks(u) {
  u.sfDraws = (u.sfDraws ?? 0) + 1; // drawings of the chart (the tests count them)
  const sx = u.scales.x;
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  let n = 0;
  ctx.lineWidth = 1;
  for (const m of marks.list) {
    if (m.t < sx.min || m.t > sx.max) continue;
    const x = Math.round(u.valToPos(m.t, 'x', true)) + 0.5;
    ctx.strokeStyle = alpha(themed(m.sev === 'critical' ? 'crit' : 'warn'), 0.8);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    n++;
  }
  u.sfMarks = n;
  const px = uPlot.pxRatio;
  let e = 0;
  for (const m of events.list) {
    if (m.t < sx.min || m.t > sx.max) continue;
    const x = Math.round(u.valToPos(m.t, 'x', true));
    ctx.fillStyle = themed(EVENT_COLOURS[m.kind] ?? 'muted');
    ctx.fillRect(x - Math.round(1.5 * px), top, Math.round(3 * px), Math.round(7 * px));
    e++;
  }
  u.sfEvents = e;
}

// What the page does with the charts' pointer (setChartHandlers): zoom(a,
// b) after a drag over a chart (seconds), reset() on a double click,
// cursor(chart, t) as the crosshair moves over a chart (t in seconds, null
// when it left it).
const handlers = { zoom: null, reset: null, cursor: null };

export function setChartHandlers(hs) {
  Object.assign(handlers, hs);
}

let hovered = null; // the chart under the pointer
let origin = null; // the chart a drag started on

// v rounded up to two significant digits: the top of a chart's y range (8 %
// above its highest value) changes only when the values cross such a
// step, so that the chart can mostly be moved rather than drawn anew (see
// TimeChart.beginDraw).
function roundUp2(v) {
  const q = 10 ** (Math.floor(Math.log10(v)) - 1);
  return Math.ceil(v / q - 1e-9) * q;
}

// A reference line of a chart is drawn, and held in its y range, once the
// data reaches this share of it (memory: RAM total).
const REF_NEAR = 0.6;

// A time series chart. spec: {title, series: [{label, color, get, fmt?,
// width?, dash?}], stacked, fmt(v) for the legend, axis(v) for ticks, max
// (fixed top) or softMax, ref ({value, label}: a dashed line), height};
// get(v) is the series' value in a history row (see Columns). The legend
// shows the newest values, or those under the cursor.
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
    this.refItem = h('span', { class: 'lg ref', hidden: true });
    this.when = h('span', { class: 'lg when' });
    this.legend.append(this.refItem, this.when);
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
    const paths = linePaths(spec.stacked, spec.series.map((s) => s.dash?.map((d) => d * uPlot.pxRatio)));
    this.bandFills = [];
    for (const s of spec.series) {
      const c = color(s.color);
      this.bandFills.push(alpha(c, spec.stacked ? 0.3 : 0.22));
      series.push({
        label: s.label,
        stroke: c,
        // 1 px: Skia draws it as a hairline, several times cheaper to
        // rasterise in software than a wider stroke
        width: s.width ?? 1,
        fill: spec.stacked ? alpha(c, 0.55) : undefined,
        points: { show: false },
        paths,
      });
    }
    const range = (u, min, max) => {
      if (isNum(spec.max)) return [0, spec.max];
      let top = Math.max(max || 0, this.cols.bands ? this.cols.bandMax() : 0, spec.softMax ?? 0);
      const ref = spec.ref?.value;
      if (isNum(ref) && top >= ref * REF_NEAR) top = Math.max(top, ref);
      return top > 0 ? [spec.min ?? 0, roundUp2(top * 1.08)] : [0, 1];
    };
    // Bands under the lines; on a stacked chart over the areas, which
    // would hide them.
    const bands = (u) => drawBands(u, this.cols.bands, this.bandFills);
    return {
      width,
      height: spec.height ?? 110,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false, dist: 6 }, points: { show: false }, sync: { key: 'sysfeed' } },
      select: { show: true },
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
          // no label cut in half at the right edge (its grid line stays:
          // a moved chart keeps the lines it drew, see beginDraw)
          values: (u, splits, ai, space, incr) => splits.map((t) => (t === null || u.valToPos(t, 'x') > u.bbox.width / uPlot.pxRatio - 16 ? '' : timeTick(t, incr, this.xr[1] - this.xr[0]))),
        },
        {
          stroke: muted,
          font,
          size: Y_AXIS_PX,
          space: 28,
          grid: { stroke: grid, width: 1 },
          ticks: { show: false },
          values: (u, splits) => splits.map((v) => (spec.axis ? spec.axis(v) : String(v))),
          incrs: spec.binary ? BINARY_INCRS : undefined,
        },
      ],
      series,
      hooks: {
        setCursor: [(u) => this.onCursor(u)],
        setSelect: [(u) => this.onSelect(u)],
        drawClear: spec.stacked ? [] : [bands],
        draw: [...(spec.stacked ? [bands] : []), drawMarks, (u) => this.drawRef(u), (u) => this.endDraw(u)],
      },
    };
  }

  // Draws the rows of hist (Store.hist[topic], or rows read from
  // /api/history) over the fixed x range xr ([min, max] seconds) so that
  // nothing rescales; gapS: the longest interval between samples drawn as
  // a line.
  //
  // A range that follows the present is put on a grid of MOVE_PX pixels
  // (its end moved forward by less than that many pixels' time), so that
  // the chart moves by MOVE_PX whole pixels, and it is drawn again only
  // when it moved (or its rows were rebuilt or dropped, or a mark or the
  // reference line changed): a row that falls within the last MOVE_PX
  // columns drawn waits for the next move, while the legend shows it at
  // once. Ten minutes on a 375 px plot move 2 pixels every 3.2 s, on the
  // CPU chart's 851 px every 1.4 s; an hour on 375 px every 19 s.
  update(hist, xr, gapS) {
    const cols = this.cols;
    const span = xr[1] - xr[0];
    const px = this.u?.bbox.width ?? 0;
    const col = following && px > 0 && span > 0 ? Math.ceil((xr[1] * px) / span / MOVE_PX - 1e-6) * MOVE_PX : null;
    const range = col === null ? xr : [(col * span) / px - span, (col * span) / px];
    cols.update(hist, range[0] - 2, gapS);
    this.raw = [cols.xs, ...cols.raw];
    const ref = this.spec.ref;
    // what else a drawing shows: a chart is moved only if these are the same
    this.still = `${cols.epoch} ${span} ${px} ${marks.key} ${events.key} ${ref?.value}`;
    const drawn = `${col ?? `${xr[0]} ${xr[1]}`} ${this.still}`;
    if (this.u && this.drawn !== drawn) {
      this.drawn = drawn;
      this.xr = range;
      this.u.setData([cols.xs, ...cols.sums]);
    } else if (!this.u) {
      this.xr = range;
      if (!this.width) this.width = this.plot.clientWidth;
      if (this.width > 0) this.make([cols.xs, ...cols.sums]);
    }
    if (this.u?.cursor.idx === null || this.u?.cursor.idx === undefined) this.showLegend(null);
    if (this.refItem.hidden !== !ref) this.refItem.hidden = !ref;
    if (ref) setText(this.refItem, ref.label);
  }

  // The series' values changed meaning (another device selected).
  invalidate() {
    this.cols.invalidate();
  }

  // The legend: the values at point idx, or the newest ones (idx null);
  // away: the cursor is on no point (a gap), so none.
  showLegend(idx, away = false) {
    const [xs, ...ys] = this.raw;
    let i = idx;
    if (i === null || i === undefined) {
      i = xs.length - 1;
      while (i > 0 && ys.every((y) => y[i] === null)) i--;
    }
    const fmt = this.spec.fmt;
    ys.forEach((y, j) => setText(this.items[j], !away && isNum(y[i]) ? (this.spec.series[j].fmt || fmt)(y[i]) : '–'));
    setText(this.when, idx === null || idx === undefined || away || !isNum(xs[i]) ? '' : clock(xs[i] * 1000));
  }

  // The crosshair moved: the legend follows it, and on the chart under
  // the pointer the page's tooltip.
  onCursor(u) {
    const left = u.cursor.left;
    const t = left >= 0 ? u.posToVal(left, 'x') : null;
    const idx = u.cursor.idx;
    const xs = this.cols.xs;
    this.showLegend(idx, t !== null && isNum(xs[idx]) && Math.abs(xs[idx] - t) > this.cols.gap);
    if (hovered === this) handlers.cursor?.(this, t);
  }

  // A drag ended: the selection becomes the page's range (on the chart
  // it started on; the others showed it through the cursor sync).
  onSelect(u) {
    const { left, width } = u.select;
    if (width <= 0) return;
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (origin !== this) return;
    origin = null;
    handlers.zoom?.(u.posToVal(left, 'x'), u.posToVal(left + width, 'x'));
  }

  // uPlot draw hook: the reference line, when in the y range.
  drawRef(u) {
    const v = this.spec.ref?.value;
    if (!isNum(v) || v > u.scales.y.max) return;
    const y = Math.round(u.valToPos(v, 'y', true)) + 0.5;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = themed('muted');
    ctx.lineWidth = 1;
    // dashes at the same times whatever the range (a moved chart keeps them)
    const period = 7 * uPlot.pxRatio;
    const at = u.bbox.left + timeOrigin(u);
    ctx.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
    ctx.lineDashOffset = ((at % period) + period) % period;
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, y);
    ctx.lineTo(u.bbox.left + u.bbox.width, y);
    ctx.stroke();
    ctx.restore();
  }

  // The values at time t (s) for the tooltip: [[label, text]], or null
  // where the chart has no point near t.
  valuesAt(t) {
    const cols = this.cols;
    const i = nearest(cols.xs, t);
    if (i < 0 || cols.hole[i] || Math.abs(cols.xs[i] - t) > cols.gap) return null;
    return this.spec.series.map((s, j) => {
      const v = cols.raw[j][i];
      return [s.label, isNum(v) ? (s.fmt || this.spec.fmt)(v) : '–'];
    });
  }

  // A drawing starts (uPlot clears its canvas): when the chart only moved
  // left by k whole pixels since the last one (the same y range, size,
  // marks, reference line, and columns that only gained rows on the right
  // and lost some on the left), its plot's pixels are moved left by k
  // and only a strip at the right end (from where the previous newest row
  // is now, or the k new columns) and the time axis under the plot are
  // drawn: uPlot draws as always, within that clip. The pixels are those
  // of a full drawing, at a small part of its cost in a software-rendered
  // canvas.
  beginDraw(clear) {
    const u = this.u;
    const ctx = u.ctx;
    const { width: cw, height: ch } = ctx.canvas;
    const b = u.bbox;
    const sx = u.scales.x;
    const sy = u.scales.y;
    const p = this.prev;
    const span = sx.max - sx.min;
    if (this.clip) unclip(ctx); // a drawing that did not end
    this.clip = false;
    u.sfKeep = null;
    const same = p && p.still === this.still && p.box === `${b.left} ${b.top} ${b.width} ${b.height} ${cw} ${ch}` &&
      p.span === span && p.ymin === sy.min && p.ymax === sy.max && p.strips < STRIPS_MAX;
    const shift = same ? ((sx.min - p.xmin) * b.width) / span : 0;
    const k = Math.round(shift);
    if (k < 1 || k >= b.width / 2 || Math.abs(shift - k) > 1e-3) {
      clear(0, 0, cw, ch);
      return;
    }
    // The rows just under the plot hold the half of a line at its bottom.
    const bottom = Math.min(ch, b.top + b.height + Math.ceil(2 * uPlot.pxRatio));
    const moved = new Path2D();
    moved.rect(b.left, 0, b.width - k, bottom);
    ctx.save();
    ctx.clip(moved);
    ctx.globalCompositeOperation = 'copy';
    ctx.drawImage(ctx.canvas, b.left + k, 0, b.width - k, bottom, b.left, 0, b.width - k, bottom);
    ctx.restore();
    // Drawn anew: the plot's left edge (where lines and the grid start),
    // the strip from where the previous newest row now is (or the k new
    // columns) to the right end, and the time axis.
    const pad = Math.ceil(STRIP_PAD * uPlot.pxRatio);
    const newest = p.lastX === null ? b.left : Math.round(u.valToPos(p.lastX, 'x', true));
    const from = Math.max(b.left + pad, Math.min(b.left + b.width - k, newest) - pad);
    const clip = new Path2D();
    clip.rect(b.left, 0, pad, bottom);
    clip.rect(from, 0, cw - from, bottom);
    clip.rect(0, bottom, cw, ch - bottom);
    u.sfKeep = [b.left + pad, from];
    // the clip stays until the drawing ends (endDraw)
    ctx.save();
    ctx.clip(clip);
    this.clip = true;
    clear(0, 0, cw, ch);
  }

  // uPlot's last draw hook: what the next drawing compares with.
  endDraw(u) {
    const b = u.bbox;
    const xs = u.data[0];
    let i = xs.length - 1;
    while (i >= 0 && this.cols.hole[i]) i--;
    this.prev = {
      still: this.still,
      box: `${b.left} ${b.top} ${b.width} ${b.height} ${u.ctx.canvas.width} ${u.ctx.canvas.height}`,
      span: u.scales.x.max - u.scales.x.min,
      xmin: u.scales.x.min,
      ymin: u.scales.y.min,
      ymax: u.scales.y.max,
      lastX: i >= 0 ? xs[i] : null,
      strips: this.clip ? (this.prev?.strips ?? 0) + 1 : 0,
    };
    if (this.clip) {
      unclip(u.ctx);
      u.sfStrips = (u.sfStrips ?? 0) + 1; // drawings that moved the chart (the tests count them)
      // the series' paths were built for the strip only: rebuilt for any other drawing
      for (const s of u.series) s._paths = null;
    }
    this.clip = false;
    u.sfKeep = null;
  }

  // The x range drawn, in seconds.
  xRange() {
    return this.u ? [this.u.scales.x.min, this.u.scales.x.max] : null;
  }

  resize(width) {
    if (width <= 0 || width === this.width) return;
    this.width = width;
    this.prev = null;
    this.u?.setSize({ width, height: this.spec.height ?? 110 });
  }

  // After a theme change: rebuild with the new colours.
  restyle() {
    themeCache.clear();
    if (!this.u) return;
    const data = this.u.data;
    this.u.destroy();
    this.make(data);
  }

  make(data) {
    this.prev = null;
    this.clip = false;
    this.u = new uPlot(this.options(this.width), data, this.plot);
    // uPlot starts each drawing by clearing its whole canvas
    const ctx = this.u.ctx;
    const clear = ctx.clearRect.bind(ctx);
    ctx.clearRect = (x, y, w, hh) => (x || y || w !== ctx.canvas.width || hh !== ctx.canvas.height ? clear(x, y, w, hh) : this.beginDraw(clear));
    cacheText(this.u.ctx);
    const over = this.u.over;
    over.addEventListener('mouseenter', () => {
      hovered = this;
    });
    over.addEventListener('mouseleave', () => {
      if (hovered === this) hovered = null;
      handlers.cursor?.(this, null);
    });
    over.addEventListener('mousedown', () => {
      origin = this;
    });
    over.addEventListener('dblclick', () => handlers.reset?.());
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

// Rows (one per core) × time: each canvas pixel one sample of one core,
// newest right; the stylesheet scales the canvas to the strip's size
// without smoothing (image-rendering: pixelated), so the browser, not a
// drawing, stretches it. get(v) is a sample's array of percentages (see
// Columns).
//
// A tick that moved the range by whole steps, when every sample drawn
// before sits the same number k of columns further left, moves the pixels
// left by k and draws only the new samples' columns: the pixels are those
// of a full drawing (a later sample in a column covers an earlier one in
// both). Anything else (another width of the range or step, other rows,
// columns rebuilt, a theme) draws it all.
export class HeatStrip {
  constructor(canvas, get) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.cols = new Columns([get], { gaps: false, bands: false });
    this.at = new Map(); // sample time (s) -> its column, as last drawn
    this.shape = '';
  }

  // Draws hist over the x range xr like the charts, step s per column
  // (width: the strip's CSS width, which the stylesheet gives it).
  update(hist, xr, step, width) {
    this.cols.update(hist, xr[0] - 2, 0);
    const drawn = `${this.cols.version} ${xr[0]} ${xr[1]} ${step} ${width}`;
    if (this.drawn === drawn) return; // nothing to draw anew
    this.drawn = drawn;
    this.draw(this.cols.xs, this.cols.raw[0], xr, step);
  }

  draw(ts, cols, xr, step) {
    const rows = cols.reduce((m, c) => Math.max(m, c ? c.length : 0), 0);
    const rowH = rows > 16 ? Math.max(2, Math.floor(96 / rows)) : 10;
    const height = Math.max(rowH, rows * rowH);
    const n = Math.max(1, Math.min(4000, Math.round((xr[1] - xr[0]) / step)));
    if (this.canvas.sfHeight !== height) {
      this.canvas.sfHeight = height;
      this.canvas.style.setProperty('height', `${height}px`);
    }
    if (!rows || !cols.length) {
      this.at = new Map();
      this.shape = '';
      this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      return;
    }
    if (this.canvas.width !== n || this.canvas.height !== rows) {
      this.canvas.width = n;
      this.canvas.height = rows;
      this.shape = '';
    }
    const shape = `${this.cols.epoch} ${n} ${rows} ${step}`;
    const xs = ts.map((t) => Math.round((t - xr[0]) / step) - 1);
    let k = this.shape === shape ? this.shift(ts, xs) : -1;
    const ctx = this.ctx;
    if (k < 0 || k >= n) {
      ctx.clearRect(0, 0, n, rows);
      k = n;
    } else if (k > 0) {
      ctx.globalCompositeOperation = 'copy';
      ctx.drawImage(this.canvas, k, 0, n - k, rows, 0, 0, n - k, rows);
      ctx.globalCompositeOperation = 'source-over';
      ctx.clearRect(n - k, 0, k, rows);
    }
    this.canvas.sfShifts = (this.canvas.sfShifts ?? 0) + (k < n ? 1 : 0); // drawings that moved the strip (the tests count them)
    // the columns drawn: those the shift left empty, and the new samples'
    const at = new Map();
    let lo = n - k;
    for (let i = 0; i < ts.length; i++) {
      if (xs[i] < 0 || xs[i] >= n) continue;
      at.set(ts[i], xs[i]);
      if (!this.at.has(ts[i])) lo = Math.min(lo, xs[i]);
    }
    this.at = at;
    this.shape = shape;
    if (lo >= n) return;
    const img = ctx.createImageData(n - lo, rows);
    const w = n - lo;
    for (let i = 0; i < cols.length; i++) {
      const x = xs[i] - lo;
      if (x < 0 || xs[i] >= n) continue;
      const c = cols[i];
      for (let y = 0; y < rows; y++) {
        const v = c && isNum(c[y]) ? c[y] : null;
        if (v === null) continue;
        const o = (y * w + x) * 4;
        const [r, gg, b] = heat(v);
        img.data[o] = r;
        img.data[o + 1] = gg;
        img.data[o + 2] = b;
        img.data[o + 3] = 255;
      }
    }
    // the columns from lo on, old ones among them included, drawn anew
    // from the samples in them: putImageData replaces what was there
    ctx.putImageData(img, lo, 0);
  }

  // How many columns left every sample drawn last time moved (one that
  // left the strip aside), or -1 when they did not all move alike.
  shift(ts, xs) {
    let k = null;
    for (let i = 0; i < ts.length; i++) {
      const was = this.at.get(ts[i]);
      if (was === undefined || xs[i] < 0) continue;
      const d = was - xs[i];
      if (k === null) k = d;
      else if (d !== k) return -1;
    }
    return k === null || k < 0 ? -1 : k;
  }

  restyle() {
    heatLut = null;
    this.drawn = null;
    this.shape = '';
  }
}
