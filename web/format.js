// Numbers for people: three significant digits and a unit, always.

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const SI = ['', 'k', 'M', 'G', 'T'];

export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

function sig3(n) {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function bytes(n) {
  if (!isNum(n)) return '–';
  let i = 0;
  while (Math.abs(n) >= 1024 && i < IEC.length - 1) {
    n /= 1024;
    i++;
  }
  return i ? `${sig3(n)} ${IEC[i]}` : `${Math.round(n)} B`;
}

export const rate = (n) => (isNum(n) ? `${bytes(n)}/s` : '–');

// A count or a rate of things: 950, 1.23k, 45.6M.
export function count(n) {
  if (!isNum(n)) return '–';
  let i = 0;
  while (Math.abs(n) >= 1000 && i < SI.length - 1) {
    n /= 1000;
    i++;
  }
  return i ? `${sig3(n)}${SI[i]}` : Number.isInteger(n) ? String(n) : sig3(n);
}

export const pct = (n, digits = 1) => (isNum(n) ? `${n.toFixed(digits)} %` : '–');

export function ms(n) {
  if (!isNum(n)) return '–';
  return n >= 100 ? `${n.toFixed(0)} ms` : n >= 1 ? `${n.toFixed(1)} ms` : `${n.toFixed(2)} ms`;
}

export function duration(s) {
  if (!isNum(s)) return '–';
  s = Math.floor(s);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min`;
  return `${s} s`;
}

export function hertz(mhz) {
  if (!isNum(mhz)) return '';
  return mhz >= 1000 ? `${(mhz / 1000).toFixed(2)} GHz` : `${mhz.toFixed(0)} MHz`;
}

export const celsius = (c) => (isNum(c) ? `${c.toFixed(c >= 100 ? 0 : 1)} °C` : '–');

const pad = (n) => String(n).padStart(2, '0');

export function clock(tms) {
  if (!isNum(tms)) return '';
  const d = new Date(tms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function dateTime(tms) {
  if (!isNum(tms)) return '–';
  const d = new Date(tms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(tms)}`;
}

// Axis ticks: shorter than the legend's values, with their unit.
export function axisBytes(n) {
  if (!n) return '0';
  let i = 0;
  while (Math.abs(n) >= 1024 && i < IEC.length - 1) {
    n /= 1024;
    i++;
  }
  return `${+n.toFixed(n >= 10 ? 0 : 1)} ${IEC[i]}`;
}
