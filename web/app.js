// Minimal live view: one EventSource, values as text. Host strings go
// into the DOM through textContent only.

const fmtBytes = (n) => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
};
const pct = (n) => `${n.toFixed(1)} %`;

function show(id, rows) {
  const dl = document.getElementById(id);
  const frag = document.createDocumentFragment();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    frag.append(dt, dd);
  }
  dl.replaceChildren(frag);
}

const render = {
  cpu: (p) => show('cpu', [['busy', pct(p.total.busy)], ['user', pct(p.total.user)],
    ['system', pct(p.total.system)], ['iowait', pct(p.total.iowait)], ['steal', pct(p.total.steal)],
    ['cores', String(p.ncpu)]]),
  mem: (p) => show('mem', [['used', fmtBytes(p.used)], ['available', fmtBytes(p.available)],
    ['cached', fmtBytes(p.cached)], ['total', fmtBytes(p.total)],
    ['swap used', `${fmtBytes(p.swap_used)} of ${fmtBytes(p.swap_total)}`]]),
  load: (p) => show('load', [['1 / 5 / 15 min', `${p.load1} / ${p.load5} / ${p.load15}`],
    ['tasks', `${p.running} running of ${p.tasks}`], ['uptime', `${(p.uptime / 3600).toFixed(1)} h`]]),
};

const status = document.getElementById('status');
function setStatus(text, cls) {
  status.textContent = text;
  status.className = `status ${cls}`;
}

const es = new EventSource('events');
es.addEventListener('open', () => setStatus('live', 'live'));
es.addEventListener('error', () => setStatus('reconnecting', 'down'));
es.addEventListener('hello', (e) => {
  const h = JSON.parse(e.data);
  document.getElementById('host').textContent = h.host;
  document.title = `${h.host} · sysfeed`;
  show('off', Object.entries(h.off));
});
es.addEventListener('snapshot', (e) => {
  const s = JSON.parse(e.data);
  for (const [topic, p] of Object.entries(s.topics)) render[topic]?.(p);
});
for (const topic of Object.keys(render)) {
  es.addEventListener(topic, (e) => render[topic](JSON.parse(e.data)));
}
