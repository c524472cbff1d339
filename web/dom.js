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
    else el.append(text(c));
  }
  return el;
}

export function text(s) {
  const t = document.createTextNode('');
  t.textContent = String(s);
  return t;
}

// Sets textContent only when it changed: no layout work for equal values.
export function setText(el, s) {
  s = String(s ?? '');
  if (el.textContent !== s) el.textContent = s;
}

export function setClass(el, cls, on) {
  if (el.classList.contains(cls) !== Boolean(on)) el.classList.toggle(cls, Boolean(on));
}

// A percentage for CSS (bar widths) through the CSSOM, which the CSP
// (no inline style attributes) allows.
export function setPct(el, p) {
  const v = `${Math.max(0, Math.min(100, Number(p) || 0)).toFixed(1)}%`;
  if (el.style.getPropertyValue('--pct') !== v) el.style.setProperty('--pct', v);
}

// A colour swatch of metric `name` (the stylesheet's --c-name).
export function swatch(name) {
  const el = h('i', { class: 'sw' });
  el.style.setProperty('background', `var(--c-${name})`);
  return el;
}

// Keeps a tbody's rows in step with items, reusing the row of each key so
// that updates touch only the cells that changed and focus stays put.
// make(item) builds a row; fill(tr, item) updates it.
export function syncRows(tbody, items, key, make, fill) {
  const old = new Map();
  for (const tr of tbody.children) if (tr.dataset.key !== undefined) old.set(tr.dataset.key, tr);
  let prev = null;
  const keep = new Set();
  for (const it of items) {
    const k = String(key(it));
    let tr = old.get(k);
    if (!tr) {
      tr = make(it);
      tr.dataset.key = k;
    }
    fill(tr, it);
    keep.add(k);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
    for (const extra of tr._extra || []) {
      if (prev.nextSibling !== extra) tbody.insertBefore(extra, prev.nextSibling);
      prev = extra;
    }
  }
  for (const [k, tr] of old) {
    if (!keep.has(k)) {
      for (const extra of tr._extra || []) extra.remove();
      tr.remove();
    }
  }
}
