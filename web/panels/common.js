// What the panels share: chart getters, severity classes, bars, table
// cells and the two-button sort toggle. Host strings reach the DOM through
// textContent only (dom.js).

import { h, setClassName, setPct, setText } from '../dom.js';
import { isNum } from '../format.js';

// Chart getters (see Columns in charts.js): a history field, or the sum of
// several, null when none is a number.
export const field = (name) => (v) => v(name);
export const sum = (...names) => (v) => sumN(...names.map(v));

export function sumN(...xs) {
  let s = null;
  for (const x of xs) if (isNum(x)) s = (s ?? 0) + x;
  return s;
}

// Severity class of a percentage: '', 'warn' or 'crit'.
export function sev(p, warn, crit) {
  return p >= crit ? 'crit' : p >= warn ? 'warn' : '';
}

// A usage bar (p %), updated by setBar.
export function bar(p, cls) {
  const fill = h('span', { class: `fill ${cls || ''}`.trim() });
  setPct(fill, p);
  return h('span', { class: 'bar' }, fill);
}

export function setBar(el, p, cls) {
  setPct(el.firstChild, p);
  setClassName(el.firstChild, `fill ${cls || ''}`.trim());
}

export function cell(cls, s) {
  return h('td', cls ? { class: cls } : null, s ?? '');
}

// A number cell: its text and severity class ('num warn').
export function setNum(td, text, cls) {
  setText(td, text);
  setClassName(td, cls ? `num ${cls}` : 'num');
}

// A row of cells updated in place: cells[i] gets texts[i] (null: left alone).
export function fillCells(tr, texts) {
  texts.forEach((t, i) => t !== null && setText(tr.cells[i], t));
}

// Segmented toggle (two aria-pressed buttons): calls on(index).
export function toggle(ids, on) {
  const btns = ids.map((id) => document.getElementById(id));
  btns.forEach((b, i) =>
    b.addEventListener('click', () => {
      btns.forEach((o) => o.setAttribute('aria-pressed', String(o === b)));
      on(i);
    }),
  );
}

// A <div><dt/><dd/></div> of a <dl class="facts">, and its [key, value].
export const factRow = () => h('div', null, h('dt'), h('dd'));

export function fillFact(d, [k, v]) {
  setText(d.children[0], k);
  setText(d.children[1], v);
}

// A row of badges ([text, class ('ok', 'warn', 'crit' or ''), title?]),
// rebuilt only when one of them changed.
export function setBadges(box, list) {
  const sig = list.map((b) => b.join('\u0001')).join('\u0000');
  if (box.sfBadges === sig) return;
  box.sfBadges = sig;
  box.replaceChildren(...list.map(([text, cls, title]) => h('span', { class: `badge ${cls || ''}`.trim(), title }, text)));
}
