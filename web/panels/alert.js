// Alerts (the alert topic): a bar under the header while anything fires,
// in its severity's colour, with each alert's value and since when; the
// pending and firing alerts and the recent changes in the Alerts panel;
// the times alerts fired marked on the charts; and, once asked for by a
// click on "notify me", a desktop notification (Notification API) for
// each alert that fires while the page is open. Names, instances and
// messages are host text: textContent only.

import { setMarks } from '../charts.js';
import { $, h, setAttr, setClass, setHidden, setText, syncRows } from '../dom.js';
import * as f from '../format.js';

const { isNum } = f;

const sevClass = (a) => (a.severity === 'critical' ? 'crit' : 'warn');
const what = (a) => `${a.name}${a.instance ? ` on ${a.instance}` : ''}`;
const keyOf = (a) => `${a.name}\u0000${a.instance ?? ''}`;
const changeKey = (a) => `${a.t}\u0000${keyOf(a)}\u0000${a.state}\u0000${a.reminder}`;

function valueText(a) {
  if (a.value === null || a.value === undefined) return isNum(a.count) && a.count > 1 ? `${a.count} events` : '';
  const v = isNum(a.value) ? f.count(a.value) : `"${a.value}"`;
  return isNum(a.threshold) ? `${v} (threshold ${f.count(a.threshold)})` : v;
}

export class AlertPanel {
  constructor() {
    this.bar = $('#alert-bar');
    this.active = $('#alert-active');
    this.recent = $('#alert-recent');
    this.btn = $('#alert-notify');
    this.notify = false;
    if (typeof Notification !== 'function') {
      this.btn.disabled = true;
      this.btn.title = 'this browser has no desktop notifications';
    }
    this.btn.addEventListener('click', () => this.toggleNotify());
  }

  // Asks for the permission only now, on the user's click.
  async toggleNotify() {
    if (this.notify) {
      this.setNotify(false);
      return;
    }
    const p = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
    this.setNotify(p === 'granted');
    if (p === 'denied') this.btn.title = 'notifications are blocked for this page in the browser\u2019s settings';
  }

  setNotify(on) {
    this.notify = on;
    this.btn.setAttribute('aria-pressed', String(on));
    setText(this.btn, on ? 'notifying' : 'notify me');
  }

  render(c) {
    const p = c.store.latest.alert;
    const active = Array.isArray(p?.active) ? p.active : [];
    const recent = Array.isArray(p?.recent) ? p.recent : [];
    const firing = active.filter((a) => a.state === 'firing');
    this.renderBar(firing);
    const pending = active.length - firing.length;
    setText($('#alert-sum'), `${firing.length} firing${pending ? ` · ${pending} pending` : ''}`);
    syncRows(this.active, active, keyOf, () => this.makeRow(), (li, a) => this.fillRow(li, a, a.since ?? a.t));
    const newest = recent.slice().reverse();
    syncRows(this.recent, newest, changeKey, () => this.makeRow(), (li, a) => this.fillRow(li, a, a.t));
    setMarks(recent.filter((a) => a.state === 'firing' && !a.reminder && isNum(a.t)).map((a) => ({ t: a.t / 1000, sev: a.severity })));
  }

  renderBar(firing) {
    setHidden(this.bar, !firing.length);
    setClass(this.bar, 'crit', firing.some((a) => a.severity === 'critical'));
    syncRows(this.bar, firing, keyOf, () => h('span', { class: 'ab' }, h('b'), h('span', { class: 'av' }), h('time')), (el, a) => {
      setAttr(el, 'class', `ab ${sevClass(a)}`);
      setText(el.children[0], what(a));
      setText(el.children[1], valueText(a));
      setText(el.children[2], `since ${f.clock(a.since ?? a.t)}`);
      setAttr(el.children[2], 'datetime', new Date(a.since ?? a.t).toISOString());
      setAttr(el, 'title', a.message ?? '');
    });
  }

  makeRow() {
    return h('li', null, h('time'), h('span', { class: 'st' }), h('b'), h('span', { class: 'av' }));
  }

  fillRow(li, a, t) {
    setText(li.children[0], f.clock(t));
    setAttr(li.children[0], 'title', f.dateTime(t));
    setText(li.children[1], a.reminder ? 'reminder' : a.state);
    setAttr(li.children[1], 'class', `st ${a.state === 'firing' ? sevClass(a) : a.state}`);
    setText(li.children[2], what(a));
    setText(li.children[3], valueText(a));
    setAttr(li, 'title', a.message ?? a.rule ?? '');
  }

  // Each alert event as it arrives (app.js), drawn or not (a hidden tab
  // draws nothing): a notification when one fires, once asked for; none
  // for reminders, nor for what a snapshot holds.
  onEvent(a) {
    if (!this.notify || a?.state !== 'firing' || a.reminder) return;
    try {
      new Notification(`${a.severity === 'critical' ? 'Critical' : 'Warning'}: ${what(a)}`, { body: a.message ?? '', tag: `sysfeed ${a.host ?? ''} ${keyOf(a)}` });
    } catch (err) {
      console.warn('sysfeed: notification:', err);
    }
  }
}
