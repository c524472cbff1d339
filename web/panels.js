// The metric panels: one renderer per topic, drawing the newest payload
// and the chart rows of the Store. Host strings reach the DOM through
// textContent only (dom.js).

import { HeatStrip, TimeChart, heat } from './charts.js';
import { $, h, setClass, setPct, setText, swatch, syncRows } from './dom.js';
import * as f from './format.js';

const { isNum } = f;

// Columns of a topic's chart rows inside the range: xs (s) and one array
// per getter; a getter receives v(field) -> the row's value of a field.
export function columns(hist, xr, getters) {
  const xs = [];
  const ys = getters.map(() => []);
  if (!hist) return [xs, ys];
  const idx = new Map(hist.fields.map((name, i) => [name, i]));
  const lo = (xr[0] - 2) * 1000;
  for (const r of hist.rows) {
    if (r[0] < lo) continue;
    const v = (name) => {
      const i = idx.get(name);
      return i === undefined ? null : r[i];
    };
    xs.push(r[0] / 1000);
    getters.forEach((g, j) => {
      const x = g(v);
      ys[j].push(isNum(x) || Array.isArray(x) ? x : null);
    });
  }
  return [xs, ys];
}

const field = (name) => (v) => v(name);
const sum = (...names) => (v) => {
  let s = null;
  for (const n of names) if (isNum(v(n))) s = (s ?? 0) + v(n);
  return s;
};

// Of per-device array fields: the value of the device `name`, or the sum
// over the devices that `keep` accepts when name is empty.
function perDevice(v, names, values, name, keep) {
  const ns = v(names);
  const xs = v(values);
  if (!Array.isArray(ns) || !Array.isArray(xs)) return null;
  let s = null;
  for (let i = 0; i < ns.length; i++) {
    if (name ? ns[i] !== name : !keep(i, v)) continue;
    if (isNum(xs[i])) s = (s ?? 0) + xs[i];
  }
  return s;
}

function sev(p, warn, crit) {
  return p >= crit ? 'crit' : p >= warn ? 'warn' : '';
}

function bar(p, cls) {
  const fill = h('span', { class: `fill ${cls || ''}` });
  setPct(fill, p);
  return h('span', { class: 'bar' }, fill);
}

function setBar(el, p, cls) {
  const fill = el.firstChild;
  setPct(fill, p);
  const want = `fill ${cls || ''}`.trim();
  if (fill.className !== want) fill.className = want;
}

function cell(cls, s) {
  return h('td', cls ? { class: cls } : null, s ?? '');
}

// A row of cells updated in place: cells[i] gets texts[i] (null: left alone).
function fillCells(tr, texts) {
  texts.forEach((t, i) => t !== null && setText(tr.cells[i], t));
}

// Segmented toggle (two aria-pressed buttons): calls on(value).
function toggle(ids, on) {
  const btns = ids.map((id) => document.getElementById(id));
  btns.forEach((b, i) =>
    b.addEventListener('click', () => {
      btns.forEach((o) => o.setAttribute('aria-pressed', String(o === b)));
      on(i);
    }),
  );
}

// ---------------------------------------------------------------- CPU

class CpuPanel {
  constructor() {
    this.chart = new TimeChart($('#cpu-chart'), {
      stacked: true,
      max: 100,
      fmt: (v) => f.pct(v),
      axis: (v) => `${v}%`,
      height: 150,
      series: [
        { label: 'user', color: 'user', get: sum('total.user', 'total.nice') },
        { label: 'system', color: 'system', get: field('total.system') },
        { label: 'iowait', color: 'iowait', get: field('total.iowait') },
        { label: 'irq', color: 'irq', get: sum('total.irq', 'total.softirq') },
        { label: 'steal', color: 'steal', get: field('total.steal') },
      ],
    });
    this.strip = new HeatStrip($('#cpu-heat'));
    this.tiles = $('#cpu-cores');
  }

  charts() {
    return [this.chart];
  }

  render(c) {
    const p = c.store.latest.cpu;
    const hist = c.store.hist.cpu;
    const [xs, ys] = columns(hist, c.xr, this.chart.spec.series.map((s) => s.get));
    this.chart.setData(xs, ys, c.gapS, c.xr);
    const [hx, [cores]] = columns(hist, c.xr, [field('cores[].busy')]);
    this.strip.draw(hx, cores, c.xr, c.interval, this.chart.plot.clientWidth - 54);
    if (!p) return;
    const tot = p.total || {};
    const rates = [
      isNum(p.ctxt_per_s) ? `${f.count(p.ctxt_per_s)} ctxsw/s` : '',
      isNum(p.intr_per_s) ? `${f.count(p.intr_per_s)} intr/s` : '',
      isNum(p.forks_per_s) ? `${f.count(p.forks_per_s)} forks/s` : '',
    ].filter(Boolean);
    setText($('#cpu-sum'), [`${p.ncpu ?? (p.cores || []).length} CPUs`, `${f.pct(tot.busy)} busy`, ...rates].join(' · '));
    this.renderTiles(p.cores || []);
  }

  renderTiles(cores) {
    const tiles = this.tiles;
    while (tiles.children.length > cores.length) tiles.lastChild.remove();
    while (tiles.children.length < cores.length) {
      tiles.append(h('span', { class: 'core' }, h('b'), h('span', { class: 'pc' }), h('span', { class: 'hz' })));
    }
    cores.forEach((k, i) => {
      const el = tiles.children[i];
      const [r, g, b] = heat(k.busy);
      const bg = `rgb(${r},${g},${b})`;
      if (el.style.getPropertyValue('--heat') !== bg) el.style.setProperty('--heat', bg);
      setClass(el, 'hot', k.busy >= 60);
      setText(el.children[0], `cpu${k.cpu ?? i}`);
      setText(el.children[1], isNum(k.busy) ? `${k.busy.toFixed(0)}%` : '–');
      setText(el.children[2], f.hertz(k.mhz));
    });
  }

  restyle() {
    this.strip.restyle();
  }
}

// ---------------------------------------------------------------- load

class LoadPanel {
  constructor() {
    this.chart = new TimeChart($('#load-chart'), {
      fmt: (v) => v.toFixed(2),
      axis: (v) => String(+v.toFixed(1)),
      height: 96,
      series: [
        { label: '1 min', color: 'load1', get: field('load1'), width: 1.5 },
        { label: '5 min', color: 'load5', get: field('load5') },
        { label: '15 min', color: 'load15', get: field('load15'), dash: [4, 3] },
      ],
    });
  }

  charts() {
    return [this.chart];
  }

  render(c) {
    const p = c.store.latest.load;
    this.chart.spec.softMax = c.store.latest.cpu?.ncpu ?? 1;
    const [xs, ys] = columns(c.store.hist.load, c.xr, this.chart.spec.series.map((s) => s.get));
    this.chart.setData(xs, ys, c.gapS, c.xr);
    if (!p) return;
    const n = c.store.latest.cpu?.ncpu;
    const per = isNum(n) && n > 0 ? ` (${((p.load1 / n) * 100).toFixed(0)}% of ${n} CPUs)` : '';
    setText($('#load-sum'), `${p.running} running of ${p.tasks} tasks${per}`);
  }
}

// ---------------------------------------------------------------- PSI

const PSI_RES = [
  ['cpu', 'cpu', 'psi-cpu'],
  ['memory', 'memory', 'psi-mem'],
  ['io', 'io', 'psi-io'],
  ['irq', 'irq', 'psi-irq'],
];

// Pressure: per resource the share of time stalled, now (this tick) and
// the kernel's 10 s, 60 s and 5 min averages; `full` (all tasks stalled)
// for 10 s. irq has only `full`.
class PsiPanel {
  constructor() {
    this.rows = $('#psi-rows');
  }

  render(c) {
    const p = c.store.latest.psi;
    if (!p) return;
    const items = PSI_RES.filter(([k]) => p[k]);
    syncRows(
      this.rows,
      items,
      ([k]) => k,
      ([, label, col]) =>
        h('tr', null, h('th', { scope: 'row' }, swatch(col), label), ...[1, 2, 3, 4, 5].map(() => cell('num'))),
      (tr, [k]) => {
        const r = p[k];
        const m = r.some ?? r.full;
        const vals = [m?.stall_pct, m?.avg10, m?.avg60, m?.avg300, r.full?.avg10];
        vals.forEach((v, i) => {
          setText(tr.cells[i + 1], isNum(v) ? v.toFixed(2) : '–');
          tr.cells[i + 1].className = `num ${isNum(v) ? sev(v, 5, 25) : ''}`.trim();
        });
        tr.title = r.some ? '' : 'irq: full only';
      },
    );
  }
}

// ---------------------------------------------------------------- memory

class MemPanel {
  constructor() {
    this.chart = new TimeChart($('#mem-chart'), {
      stacked: true,
      fmt: f.bytes,
      axis: f.axisBytes,
      binary: true,
      height: 110,
      series: [
        { label: 'used', color: 'mem-used', get: field('used') },
        { label: 'buffers', color: 'mem-buf', get: field('buffers') },
        { label: 'cache', color: 'mem-cache', get: field('cached') },
      ],
    });
    this.bars = $('#mem-bars');
    this.facts = $('#mem-facts');
  }

  charts() {
    return [this.chart];
  }

  render(c) {
    const p = c.store.latest.mem;
    if (p) this.chart.spec.max = p.total;
    const [xs, ys] = columns(c.store.hist.mem, c.xr, this.chart.spec.series.map((s) => s.get));
    this.chart.setData(xs, ys, c.gapS, c.xr);
    if (!p) return;
    const usedPct = p.total ? ((p.total - p.available) / p.total) * 100 : 0;
    setText($('#mem-sum'), `${f.bytes(p.total - p.available)} of ${f.bytes(p.total)} in use · ${f.bytes(p.available)} available`);
    const bars = [['RAM', usedPct, `${f.pct(usedPct, 0)}`]];
    if (p.swap_total > 0) {
      const s = (p.swap_used / p.swap_total) * 100;
      bars.push(['swap', s, `${f.bytes(p.swap_used)} of ${f.bytes(p.swap_total)}`]);
    } else {
      bars.push(['swap', 0, 'none']);
    }
    syncRows(
      this.bars,
      bars,
      ([k]) => k,
      () => h('div', { class: 'barrow' }, h('span', { class: 'k' }), bar(0), h('span', { class: 'v' })),
      (row, [k, p2, txt]) => {
        setText(row.children[0], k);
        setBar(row.children[1], p2, sev(p2, 80, 95));
        setText(row.children[2], txt);
      },
    );
    const facts = [
      ['dirty', f.bytes(p.dirty)],
      ['slab', isNum(p.slab) ? f.bytes(p.slab) : null],
      ['shmem', isNum(p.shmem) ? f.bytes(p.shmem) : null],
      ['page faults', isNum(p.page_faults_per_s) ? `${f.count(p.page_faults_per_s)}/s` : null],
      ['major faults', isNum(p.major_faults_per_s) ? `${f.count(p.major_faults_per_s)}/s` : null],
      ['swap in/out', isNum(p.swap_in_pages_per_s) ? `${f.count(p.swap_in_pages_per_s)} / ${f.count(p.swap_out_pages_per_s)} pg/s` : null],
      ['huge pages', p.hugepages_total ? `${p.hugepages_total - p.hugepages_free} of ${p.hugepages_total} used` : null],
    ].filter(([, v]) => v !== null);
    syncRows(
      this.facts,
      facts,
      ([k]) => k,
      () => h('div', null, h('dt'), h('dd')),
      (d, [k, v]) => {
        setText(d.children[0], k);
        setText(d.children[1], v);
      },
    );
  }
}

// ---------------------------------------------------------------- per-device chart + table

// Network and disks: a chart of the selected device (all of them when
// none is selected) and a table whose rows select it.
class DevicePanel {
  constructor(topic, cfg) {
    this.topic = topic;
    this.cfg = cfg;
    this.sel = '';
    this.table = $(`#${topic}-table tbody`);
    this.chart = new TimeChart($(`#${topic}-chart`), {
      fmt: f.rate,
      axis: f.axisBytes,
      binary: true,
      softMax: 1024,
      height: 96,
      series: cfg.series.map(([label, color, path]) => ({
        label,
        color,
        get: (v) => perDevice(v, cfg.names, path, this.sel, (i, vv) => cfg.keep(i, vv)),
      })),
    });
  }

  charts() {
    return [this.chart];
  }

  select(name) {
    this.sel = this.sel === name ? '' : name;
  }

  render(c) {
    const p = c.store.latest[this.topic];
    const [xs, ys] = columns(c.store.hist[this.topic], c.xr, this.chart.spec.series.map((s) => s.get));
    this.chart.setData(xs, ys, c.gapS, c.xr);
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
          c.redraw(this.topic);
        });
        return h('tr', null, h('th', { scope: 'row' }, btn), ...this.cfg.cells.map(() => cell('num')));
      },
      (tr, d) => {
        const btn = tr.cells[0].firstChild;
        btn.setAttribute('aria-pressed', String(this.sel === d.name));
        setClass(tr, 'sel', this.sel === d.name);
        setClass(tr, 'dim', this.cfg.dim(d));
        this.cfg.cells.forEach((fn, i) => {
          const [txt, cls] = [].concat(fn(d));
          setText(tr.cells[i + 1], txt);
          const want = `num ${cls || ''}`.trim();
          if (tr.cells[i + 1].className !== want) tr.cells[i + 1].className = want;
        });
      },
    );
  }
}

function speed(mbps) {
  if (!isNum(mbps) || mbps <= 0) return '';
  return mbps >= 1000 ? `${mbps / 1000} Gb/s` : `${mbps} Mb/s`;
}

const netPanel = () =>
  new DevicePanel('net', {
    list: 'interfaces',
    names: 'interfaces[].name',
    keep: (i, v) => (v('interfaces[].name') || [])[i] !== 'lo',
    series: [
      ['rx', 'rx', 'interfaces[].rx_bytes_per_s'],
      ['tx', 'tx', 'interfaces[].tx_bytes_per_s'],
    ],
    dim: (d) => d.loopback || (d.operstate && d.operstate !== 'up' && d.operstate !== 'unknown'),
    summary: (p, devs, sel) => {
      const t = p.tcp;
      const what = sel ? sel : 'all but lo';
      return t ? `${what} · ${f.count(t.established)} TCP established` : what;
    },
    cells: [
      (d) => f.rate(d.rx_bytes_per_s),
      (d) => f.rate(d.tx_bytes_per_s),
      (d) => f.count(sumN(d.rx_packets_per_s, d.tx_packets_per_s)),
      (d) => {
        const e = sumN(d.rx_errors_per_s, d.tx_errors_per_s, d.rx_drops_per_s, d.tx_drops_per_s);
        return [f.count(e), e > 0 ? 'warn' : ''];
      },
      (d) => [`${d.loopback ? 'loopback' : d.operstate ?? ''} ${speed(d.speed_mbps)}`.trim(), d.operstate === 'down' ? 'warn' : ''],
    ],
  });

function sumN(...xs) {
  let s = null;
  for (const x of xs) if (isNum(x)) s = (s ?? 0) + x;
  return s;
}

const diskPanel = () =>
  new DevicePanel('disk', {
    list: 'disks',
    names: 'disks[].name',
    keep: (i, v) => !(v('disks[].partition') || [])[i],
    series: [
      ['read', 'read', 'disks[].read_bytes_per_s'],
      ['write', 'write', 'disks[].write_bytes_per_s'],
    ],
    dim: (d) => d.partition === true,
    summary: (p, devs, sel) => {
      const whole = devs.filter((d) => !d.partition);
      const busy = Math.max(0, ...whole.map((d) => d.busy_pct ?? 0));
      return `${sel || 'all disks'} · busiest ${f.pct(busy, 0)}`;
    },
    cells: [
      (d) => f.rate(d.read_bytes_per_s),
      (d) => f.rate(d.write_bytes_per_s),
      (d) => f.count(sumN(d.read_iops, d.write_iops)),
      (d) => [f.pct(d.busy_pct, 0), sev(d.busy_pct ?? 0, 70, 90)],
      (d) => f.ms(d.await_ms),
    ],
  });

// ---------------------------------------------------------------- filesystems

class FsPanel {
  constructor() {
    this.table = $('#fs-table tbody');
  }

  render(c) {
    const p = c.store.latest.fs;
    if (!p) return;
    const list = (p.filesystems || []).slice().sort((a, b) => String(a.mount).localeCompare(String(b.mount)));
    const full = list.filter((m) => (m.used_percent ?? 0) >= 90).length;
    setText($('#fs-sum'), `${list.length} mounted${full ? ` · ${full} over 90 %` : ''}`);
    syncRows(
      this.table,
      list,
      (m) => m.mount,
      (m) => {
        const th = h('th', { scope: 'row' }, h('span', { class: 'mnt' }), h('span', { class: 'dev' }));
        return h('tr', null, th, h('td', { class: 'bar-c' }, bar(0), h('span', { class: 'v' })), cell('num'), cell('num'));
      },
      (tr, m) => {
        setText(tr.cells[0].children[0], m.mount);
        setText(tr.cells[0].children[1], `${m.fstype}${m.read_only ? ' ro' : ''} · ${m.device}`);
        tr.cells[0].title = `${m.mount}\n${m.device} (${m.fstype})`;
        const dead = m.responding === false || m.error;
        setClass(tr, 'dead', dead);
        const u = m.used_percent;
        setBar(tr.cells[1].children[0], u ?? 0, sev(u ?? 0, 80, 90));
        setText(tr.cells[1].children[1], dead ? (m.responding === false ? 'not responding' : String(m.error)) : isNum(u) ? `${u} % of ${f.bytes(m.size)}` : '–');
        setText(tr.cells[2], f.bytes(m.available));
        const ip = m.inodes_total ? (m.inodes_used / m.inodes_total) * 100 : null;
        setText(tr.cells[3], isNum(ip) ? f.pct(ip, 0) : '–');
        tr.cells[3].className = `num ${isNum(ip) ? sev(ip, 80, 90) : ''}`.trim();
      },
    );
  }
}

// ---------------------------------------------------------------- processes

const procCpu = (x) => x.cpu_pct;
const procRss = (x) => x.rss_bytes;
const procCmd = (x) => x.cmd ?? '';
const procName = (x) => x.comm ?? '';

class ProcPanel {
  constructor() {
    this.table = $('#proc-table tbody');
    this.by = 'cpu';
    this.open = new Set();
    toggle(['proc-by-cpu', 'proc-by-mem'], (i) => {
      this.by = i ? 'mem' : 'cpu';
      this.ctx?.redraw('proc');
    });
  }

  list(p) {
    const src = (this.by === 'cpu' ? p.top_cpu : p.top_mem) || [];
    const seen = new Set();
    const key = this.by === 'cpu' ? procCpu : procRss;
    return src
      .filter((x) => !seen.has(x.pid) && seen.add(x.pid))
      .sort((a, b) => (key(b) ?? 0) - (key(a) ?? 0) || (procRss(b) ?? 0) - (procRss(a) ?? 0));
  }

  render(c) {
    this.ctx = c;
    const p = c.store.latest.proc;
    if (!p) return;
    const bits = [
      isNum(p.processes) ? `${p.processes} processes` : '',
      isNum(p.threads) ? `${p.threads} threads` : '',
      isNum(p.running) ? `${p.running} running` : '',
      isNum(p.blocked) ? `${p.blocked} blocked` : '',
      isNum(p.zombies) && p.zombies ? `${p.zombies} zombie` : '',
    ].filter(Boolean);
    setText($('#proc-sum'), bits.join(' · '));
    const mem = c.store.latest.mem?.total;
    syncRows(
      this.table,
      this.list(p),
      (x) => x.pid,
      (x) => this.makeRow(x),
      (tr, x) => {
        const open = this.open.has(x.pid);
        setClass(tr, 'open', open);
        tr.cells[2].firstChild.setAttribute('aria-expanded', String(open));
        fillCells(tr, [
          x.pid,
          x.user ?? x.uid ?? '',
          null,
          f.pct(procCpu(x)),
          f.bytes(procRss(x)),
          x.threads ?? '',
          x.state ?? '',
        ]);
        const cmdCell = tr.cells[2];
        setText(cmdCell.children[0].firstChild, procName(x));
        setText(cmdCell.children[1], procCmd(x));
        tr.cells[3].className = `num ${sev(procCpu(x) ?? 0, 50, 90)}`.trim();
        const detail = tr._extra[0];
        detail.hidden = !open;
        if (open) this.fillDetail(detail, x, mem);
      },
    );
  }

  // A row; its command name is a button that shows the details below it
  // (a click anywhere on the row does too).
  makeRow(x) {
    const btn = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false' }, h('b'));
    const cmd = h('td', { class: 'cmd' }, btn, h('span'));
    const tr = h('tr', { class: 'click' }, cell('num'), cell(), cmd, cell('num'), cell('num'), cell('num'), cell());
    const toggleOpen = () => {
      if (this.open.has(x.pid)) this.open.delete(x.pid);
      else this.open.add(x.pid);
      if (this.open.size > 20) this.open.delete(this.open.values().next().value);
      this.ctx?.redraw('proc');
    };
    tr.addEventListener('click', toggleOpen);
    const detail = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: '7' }, h('dl', { class: 'facts wide' })));
    tr._extra = [detail];
    return tr;
  }

  fillDetail(detail, x, memTotal) {
    const dl = detail.firstChild.firstChild;
    const startMs = x.start_ms;
    const rows = [
      ['command line', procCmd(x)],
      ['user', `${x.user ?? ''}${isNum(x.uid) ? ` (uid ${x.uid})` : ''}`],
      ['state', x.state ?? ''],
      ['CPU', f.pct(procCpu(x))],
      ['resident', `${f.bytes(procRss(x))}${memTotal ? ` (${f.pct((procRss(x) / memTotal) * 100)} of RAM)` : ''}`],
      ['threads', String(x.threads ?? '–')],
      ['started', startMs ? f.dateTime(startMs) : '–'],
      ['parent', isNum(x.ppid) ? String(x.ppid) : null],
    ].filter(([, v]) => v !== null);
    syncRows(
      dl,
      rows,
      ([k]) => k,
      () => h('div', null, h('dt'), h('dd')),
      (d, [k, v]) => {
        setText(d.children[0], k);
        setText(d.children[1], v);
      },
    );
  }
}

// ---------------------------------------------------------------- services

class SvcPanel {
  constructor() {
    this.table = $('#svc-table tbody');
    this.failed = $('#units-failed');
    this.by = 'cpu';
    toggle(['svc-by-cpu', 'svc-by-mem'], (i) => {
      this.by = i ? 'mem' : 'cpu';
      this.ctx?.redraw('svc');
    });
  }

  render(c) {
    this.ctx = c;
    this.renderFailed(c.store.latest.units);
    const p = c.store.latest.svc;
    if (!p) return;
    const list = (this.by === 'cpu' ? p.top_cpu : p.top_mem) || [];
    const failedNames = new Set(this.failedUnits(c.store.latest.units).map((u) => u.unit));
    setText($('#svc-sum'), isNum(p.services) ? `${p.services} services` : '');
    syncRows(
      this.table,
      list,
      (s) => s.unit,
      () => h('tr', null, h('th', { scope: 'row' }), cell('num'), cell('num'), cell('num'), cell('num')),
      (tr, s) => {
        setClass(tr, 'failed', failedNames.has(s.unit));
        fillCells(tr, [String(s.unit).replace(/\.service$/, ''), f.pct(s.cpu_pct), f.bytes(s.mem_bytes), f.count(s.tasks),
          f.rate(sumN(s.io_read_bytes_per_s, s.io_write_bytes_per_s))]);
        tr.cells[0].title = s.unit;
        tr.cells[1].className = `num ${sev(s.cpu_pct ?? 0, 50, 90)}`.trim();
      },
    );
  }

  failedUnits(u) {
    return Array.isArray(u?.failed) ? u.failed : [];
  }

  // systemd's view (the units topic): counts, and failed units in red.
  renderFailed(u) {
    const list = this.failedUnits(u);
    if (u) {
      const n = u.counts || {};
      const bits = isNum(u.total) ? [`${u.total} units`, `${n.active ?? 0} active`] : [];
      for (const k of ['failed', 'activating', 'deactivating', 'reloading', 'maintenance']) if (n[k]) bits.push(`${n[k]} ${k}`);
      if (u.error) bits.push(`systemd: ${u.error}`);
      setText($('#units-sum'), bits.join(' · '));
    }
    this.failed.hidden = !list.length;
    syncRows(
      this.failed,
      list,
      (x) => x.unit,
      () => h('div', { class: 'unit-failed' }, h('b'), h('span')),
      (el, x) => {
        setText(el.children[0], x.unit);
        el.title = x.description ?? '';
        setText(el.children[1], [x.sub_state ?? 'failed', x.result, isNum(x.since) ? `since ${f.dateTime(x.since)}` : ''].filter(Boolean).join(' · '));
      },
    );
  }
}

// ---------------------------------------------------------------- temperatures

class TempPanel {
  constructor() {
    this.table = $('#temp-table tbody');
  }

  render(c) {
    const p = c.store.latest.temp;
    if (!p) return;
    const list = p.sensors || [];
    const temp = (s) => s.temp_c;
    const hot = Math.max(-Infinity, ...list.map(temp).filter(isNum));
    setText($('#temp-sum'), list.length ? `${list.length} sensors · max ${f.celsius(hot)}` : 'no sensors on this host');
    syncRows(
      this.table,
      list,
      (s) => s.id ?? `${s.chip}/${s.label}`,
      () => h('tr', null, h('th', { scope: 'row' }, h('span'), h('span', { class: 'chip' })),
        h('td', { class: 'bar-c' }, h('div', { class: 'bi' }, bar(0), h('span', { class: 'v' }))), cell('num')),
      (tr, s) => {
        const t = temp(s);
        // Some chips report 65261.85 (0xffff) for "no limit".
        const sane = (x) => (isNum(x) && x > 0 && x < 200 ? x : null);
        const high = sane(s.max_c);
        const crit = sane(s.crit_c);
        setText(tr.cells[0].children[0], s.label);
        setText(tr.cells[0].children[1], s.chip);
        const top = isNum(crit) ? crit : isNum(high) ? high + 10 : 100;
        const cls = isNum(crit) && t >= crit ? 'crit' : isNum(high) && t >= high ? 'warn' : sev(t, 80, 95);
        const bi = tr.cells[1].firstChild;
        setBar(bi.children[0], (t / top) * 100, cls);
        setText(bi.children[1], f.celsius(t));
        bi.children[1].className = `v ${cls}`.trim();
        setText(tr.cells[2], [high, crit].map((x) => (isNum(x) ? x.toFixed(0) : '–')).join(' / '));
      },
    );
  }
}

// ---------------------------------------------------------------- the set

export function makePanels() {
  return {
    cpu: new CpuPanel(),
    load: new LoadPanel(),
    psi: new PsiPanel(),
    mem: new MemPanel(),
    net: netPanel(),
    disk: diskPanel(),
    fs: new FsPanel(),
    proc: new ProcPanel(),
    svc: new SvcPanel(),
    temp: new TempPanel(),
  };
}
