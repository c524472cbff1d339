// Network and disks share this: a chart of the selected device (all of
// them when none is selected) and a table whose rows select it.

import { TimeChart } from '../charts.js';
import { $, h, setAttr, setClass, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { cell, setNum } from './common.js';

// Of per-device array fields: the value of the device `name`, or the sum
// over the devices that `keep` accepts when name is empty.
function perDevice(v, names, values, name, keep) {
  const ns = v(names);
  const xs = v(values);
  if (!Array.isArray(ns) || !Array.isArray(xs)) return null;
  let s = null;
  for (let i = 0; i < ns.length; i++) {
    if (name ? ns[i] !== name : !keep(i, v)) continue;
    if (f.isNum(xs[i])) s = (s ?? 0) + xs[i];
  }
  return s;
}

// cfg: {title, list: payload key of the devices, names: history field of their
// names, keep(i, v): counted in "all", series: [[label, colour, history
// field]], dim(d), summary(p, devs, sel), cells: [(d) -> text or [text,
// class]]}.
export class DevicePanel {
  constructor(topic, redraw, cfg) {
    this.topic = topic;
    this.redraw = () => redraw(topic);
    this.cfg = cfg;
    this.sel = '';
    this.table = $(`#${topic}-table tbody`);
    this.chart = new TimeChart($(`#${topic}-chart`), {
      title: cfg.title,
      fmt: f.rate,
      axis: (v) => (v ? `${f.axisBytes(v)}/s` : '0'),
      binary: true,
      softMax: 1024,
      height: 96,
      series: cfg.series.map(([label, color, path]) => ({
        label,
        color,
        get: (v) => perDevice(v, cfg.names, path, this.sel, cfg.keep),
      })),
    });
  }

  charts() {
    return [this.chart];
  }

  select(name) {
    this.sel = this.sel === name ? '' : name;
    this.chart.invalidate();
  }

  render(c) {
    const p = c.store.latest[this.topic];
    this.chart.update(c.hist(this.topic), c.xr, c.gapS);
    if (!p) return;
    const devs = p[this.cfg.list] || [];
    setText($(`#${this.topic}-sum`), this.cfg.summary(p, devs, this.sel));
    syncRows(
      this.table,
      devs,
      (d) => d.name,
      (d) => {
        const btn = h('button', { type: 'button', class: 'link', 'aria-pressed': 'false' });
        btn.textContent = d.name;
        btn.addEventListener('click', () => {
          this.select(d.name);
          this.redraw();
        });
        return h('tr', null, h('th', { scope: 'row' }, btn), ...this.cfg.cells.map(() => cell('num')));
      },
      (tr, d) => {
        const on = this.sel === d.name;
        setAttr(tr.cells[0].firstChild, 'aria-pressed', String(on));
        setClass(tr, 'sel', on);
        setClass(tr, 'dim', this.cfg.dim(d));
        this.cfg.cells.forEach((fn, i) => {
          const [txt, cls] = [].concat(fn(d));
          setNum(tr.cells[i + 1], txt, cls);
        });
      },
    );
  }
}
