// Disks (the disk topic): bytes read and written per second of each
// device, whole disks together unless one is selected; IOPS, busy time
// and wait per row, partitions dimmed.

import * as f from '../format.js';
import { sev, sumN } from './common.js';
import { DevicePanel } from './device.js';

export const diskPanel = (redraw) =>
  new DevicePanel('disk', redraw, {
    title: 'Disks',
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
