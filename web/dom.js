// DOM helpers. Text, host text above all, goes in through textContent
// only; attributes are set one by one, never as markup.

export const $ = (sel, root = document) => root.querySelector(sel);

// h('td', {class: 'num'}, 'text') builds an element; string children
// become its textContent, element children are appended.
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids) {
    if (c === null || c === undefined || c === false) continue;
    if (typeof c === 'object') el.append(c);
    else if (kids.length === 1) el.textContent = String(c);
    else el.append(String(c));
  }
  return el;
}

// Sets an element's text only when it changed: no layout work for equal
// values. The last text set is kept on the element, so that an unchanged
// value costs a string compare, not a read of the DOM (elements written
// here are written only here). A lone text node is changed in place:
// replacing it (textContent) would make the browser build its layout
// object and shape its text afresh.
export function setText(el, s) {
  s = String(s ?? '');
  if (el.sfText === s) return;
  el.sfText = s;
  const t = el.firstChild;
  if (t && t.nodeType === Node.TEXT_NODE && !t.nextSibling) {
    if (t.data !== s) t.data = s;
  } else if (el.textContent !== s) {
    el.textContent = s;
  }
}

// Sets className only when it changed.
export function setClassName(el, cls) {
  if (el.className !== cls) el.className = cls;
}

export function setClass(el, cls, on) {
  if (el.classList.contains(cls) !== Boolean(on)) el.classList.toggle(cls, Boolean(on));
}

// Shows or hides an element (its hidden attribute) only when that changes:
// writing an attribute, even its own value, queues a mutation and
// invalidates the element's style.
export function setHidden(el, hidden) {
  if (el.hidden !== Boolean(hidden)) el.hidden = Boolean(hidden);
}

export function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

// A percentage for CSS (bar widths) through the CSSOM, which the CSP
// (no inline style attributes) allows.
export function setPct(el, p) {
  const v = `${Math.max(0, Math.min(100, Number(p) || 0)).toFixed(1)}%`;
  if (el.sfPct !== v) {
    el.sfPct = v;
    el.style.setProperty('--pct', v);
  }
}

// A colour swatch of metric `name` (the stylesheet's --c-name).
export function swatch(name) {
  const el = h('i', { class: 'sw' });
  el.style.setProperty('background', `var(--c-${name})`);
  return el;
}

// Keeps a container's children in step with items, reusing the element of
// each key, so that updates touch only what changed and focus stays put;
// for lists whose order rarely changes. make(item) builds an element,
// fill(el, item) updates it.
export function syncRows(box, items, key, make, fill) {
  const old = box.sfKeyed ?? new Map();
  const now = new Map();
  let prev = null;
  for (const it of items) {
    const k = String(key(it));
    if (now.has(k)) continue; // a repeated key shows once
    const el = old.get(k) ?? make(it);
    fill(el, it);
    now.set(k, el);
    const want = prev ? prev.nextSibling : box.firstChild;
    if (want !== el) box.insertBefore(el, want);
    prev = el;
  }
  for (const [k, el] of old) if (now.get(k) !== el) el.remove();
  box.sfKeyed = now;
}

// Keeps a container's rows in step with items by position: row i shows
// item i, rows are added or removed at the end only, never moved; for
// lists that reorder every tick (top processes, services), where moving
// rows would rebuild them. make() builds a row, fill(row, item) updates it
// (and its row.sfExtra, an optional element kept right after it).
export function fillRows(box, items, make, fill) {
  const rows = (box.sfRows ??= []);
  while (rows.length < items.length) {
    const row = make();
    rows.push(row);
    box.append(row);
  }
  while (rows.length > items.length) {
    const row = rows.pop();
    row.sfExtra?.remove();
    row.remove();
  }
  for (let i = 0; i < items.length; i++) fill(rows[i], items[i]);
}

// Puts extra right after row (shown), or takes it out of the document.
export function placeAfter(row, extra, shown) {
  if (!shown) {
    if (extra.isConnected) extra.remove();
  } else if (row.nextSibling !== extra) {
    row.after(extra);
  }
}
