// Network (the net topic): bytes per second of each interface, all but
// lo together unless one is selected; packets, errors and link per row.

import * as f from '../format.js';
import { sumN } from './common.js';
import { DevicePanel } from './device.js';

function speed(mbps) {
  if (!f.isNum(mbps) || mbps <= 0) return '';
  return mbps >= 1000 ? `${mbps / 1000} Gb/s` : `${mbps} Mb/s`;
}

export const netPanel = (redraw) =>
  new DevicePanel('net', redraw, {
    title: 'Network',
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
      const what = sel || 'all but lo';
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
