// A windowed list: of a long list of items (the journal's 2,000 entries,
// the file feed's 500) only the rows in and near the view are in the
// document; two spacers (the box's ::before and ::after, as high as
// --vl-top and --vl-bot, set through the CSSOM) stand for the others, so that the scrollbar, the keyboard and
// the wheel scroll the whole list natively.
//
// Rows may differ in height (a message that wraps): each row's height is
// measured by a ResizeObserver after the browser lays it out, kept per
// item, and the items never drawn count as the mean measured height. No
// layout is read while drawing: the scroll position and the view's height
// come from scroll events and the ResizeObserver.
//
// One end of the list is the newest (`newest`: 'end' or 'start'); a view
// at that end stays there as items come (it follows), a view elsewhere
// keeps the row at its top in place while items are added or dropped
// around it.

// Rows drawn beyond each edge of the view, in pixels.
const OVERSCAN_PX = 240;
// How near the newest end (px) still counts as at it.
const NEAR_END_PX = 24;
const NEAR_START_PX = 8;

export class VList {
  // box: the scroll container, holding nothing but the rows; make(item)
  // builds an item's row (items are never changed once drawn; a new item
  // object is a new row); estimate: a row's height before any is measured.
  constructor(box, { make, newest = 'end', estimate = 20 }) {
    this.box = box;
    this.make = make;
    this.newest = newest;
    this.estimate = estimate;
    this.items = [];
    this.index = new Map(); // item -> its index in items
    this.off = new Float64Array(1); // off[i]: top of item i, off[n]: the total
    this.rows = new Map(); // item -> its row, for the items drawn
    this.first = 0; // items[first, last) are drawn
    this.last = 0;
    this.top = 0; // scrollTop, as last seen or set
    this.view = 0; // the box's inner height
    this.width = 0;
    this.following = true; // the view is at the newest end
    this.pending = 0;
    this.end = null; // the row of the last item, when drawn
    this.pads = {}; // --vl-top and --vl-bot as set
    this.resetHeights();
    this.ro = new ResizeObserver((entries) => this.measured(entries));
    this.ro.observe(box);
    box.addEventListener('scroll', () => this.scrolled(), { passive: true });
  }

  resetHeights() {
    this.heights = new WeakMap();
    this.sumH = 0;
    this.nH = 0;
  }

  heightOf(item) {
    return this.heights.get(item) ?? (this.nH ? this.sumH / this.nH : this.estimate);
  }

  get length() {
    return this.items.length;
  }

  // Shows items (in display order). A following view moves to the newest
  // end; another keeps its top row where it is, if that row is still
  // there.
  set(items) {
    const a = this.anchor();
    this.items = items;
    this.index = new Map();
    items.forEach((it, i) => this.index.set(it, i));
    this.settle(a);
  }

  // Draws again with the heights known now.
  relayout() {
    this.settle(this.anchor());
  }

  // The row at the top of a view that does not follow, and how far into it
  // the view starts.
  anchor() {
    if (this.following || !this.items.length) return null;
    const i = this.at(this.top);
    return { item: this.items[i], delta: this.top - this.off[i] };
  }

  // Lays the items out again and draws them with the view at the newest
  // end (following) or at the anchor's row.
  settle(a) {
    this.offsets();
    const total = this.off[this.items.length];
    let top = this.top;
    if (this.following) top = this.newest === 'end' ? total - this.view : 0;
    else if (a && this.index.has(a.item)) top = this.off[this.index.get(a.item)] + a.delta;
    this.place(Math.max(0, Math.min(top, total - this.view)), true);
  }

  offsets() {
    const n = this.items.length;
    const off = this.off.length === n + 1 ? this.off : new Float64Array(n + 1);
    for (let i = 0; i < n; i++) off[i + 1] = off[i] + this.heightOf(this.items[i]);
    this.off = off;
  }

  // The index of the item at y (px from the list's top).
  at(y) {
    const off = this.off;
    let lo = 0;
    let hi = this.items.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (off[mid] <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  // Draws the rows around a view whose top is at `top`, and scrolls there
  // when `scroll`.
  place(top, scroll) {
    const n = this.items.length;
    const first = n ? this.at(top - OVERSCAN_PX) : 0;
    let last = n ? this.at(top + this.view + OVERSCAN_PX) + 1 : 0;
    if (this.following && this.newest === 'end') last = n;
    this.draw(first, last);
    if (!scroll) return;
    const want = Math.round(top);
    if (Math.abs(want - this.top) < 1) return;
    this.top = want;
    // At the newest end, as far as the box goes: exact even while some
    // heights are estimates. The one layout this forces comes last in the
    // frame's drawing (see app.js).
    this.box.scrollTop = this.following && this.newest === 'end' ? 1e9 : want;
  }

  // Keeps the box's children the rows of items[first, last), each item's
  // row made once and kept while it is drawn.
  draw(first, last) {
    const items = this.items;
    const same = first === this.first && last === this.last && this.drawnItems(first, last);
    this.first = first;
    this.last = last;
    this.pad('--vl-top', this.off[first]);
    this.pad('--vl-bot', this.off[items.length] - this.off[last]);
    if (same) return;
    const box = this.box;
    const now = new Map();
    let prev = null;
    for (let i = first; i < last; i++) {
      const it = items[i];
      let el = this.rows.get(it);
      if (!el) {
        el = this.make(it);
        el.sfItem = it;
        this.ro.observe(el);
      }
      now.set(it, el);
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== el) box.insertBefore(el, want);
      prev = el;
    }
    for (const [it, el] of this.rows) {
      if (now.get(it) === el) continue;
      this.ro.unobserve(el);
      el.remove();
    }
    this.rows = now;
    // The list's last row, as :last-child would be without the window.
    const end = last === items.length ? prev : null;
    if (this.end !== end) {
      this.end?.classList.remove('vl-end');
      end?.classList.add('vl-end');
      this.end = end;
    }
  }

  // Whether the rows drawn are exactly items[first, last).
  drawnItems(first, last) {
    if (this.rows.size !== last - first) return false;
    for (let i = first; i < last; i++) if (!this.rows.has(this.items[i])) return false;
    return true;
  }

  pad(name, px) {
    const v = `${Math.max(0, Math.round(px))}px`;
    if (this.pads[name] === v) return;
    this.pads[name] = v;
    this.box.style.setProperty(name, v);
  }

  scrolled() {
    // Read in a scroll event, with the layout of the frame drawn.
    const box = this.box;
    this.top = box.scrollTop;
    this.following = this.newest === 'end'
      ? box.scrollHeight - this.top - box.clientHeight < NEAR_END_PX
      : this.top < NEAR_START_PX;
    this.place(this.top, false);
  }

  // Heights as laid out: the box's (a new width rewraps every row) and
  // the rows'. A change is drawn in the next frame.
  measured(entries) {
    let changed = false;
    for (const e of entries) {
      const size = e.borderBoxSize?.[0];
      if (e.target === this.box) {
        const w = size ? size.inlineSize : e.contentRect.width;
        const v = size ? size.blockSize : e.contentRect.height;
        if (Math.abs(w - this.width) >= 1) {
          if (this.width) this.resetHeights();
          this.width = w;
          changed = true;
        }
        if (Math.abs(v - this.view) >= 1) {
          this.view = v;
          changed = true;
        }
        continue;
      }
      const it = e.target.sfItem;
      if (!it || !this.index.has(it)) continue;
      const hgt = size ? size.blockSize : e.contentRect.height;
      if (!hgt) continue; // not laid out (the panel hidden)
      const was = this.heights.get(it);
      const used = was ?? this.heightOf(it);
      if (was !== undefined && Math.abs(was - hgt) < 0.5) continue;
      if (was !== undefined) this.sumH -= was;
      else this.nH++;
      this.sumH += hgt;
      this.heights.set(it, hgt);
      if (Math.abs(hgt - used) >= 0.5) changed = true;
    }
    if (changed && !this.pending) {
      this.pending = requestAnimationFrame(() => {
        this.pending = 0;
        this.relayout();
      });
    }
  }
}
