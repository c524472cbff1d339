// The header's identity line (the host topic, and hello before it): host
// name, OS, kernel, CPU model and virtualisation, uptime (from load).

import { $, setText } from '../dom.js';
import { duration } from '../format.js';

export class HostPanel {
  render(c) {
    const hello = c.hello;
    const host = c.store.latest.host;
    const load = c.store.latest.load;
    setText($('#host'), host?.hostname ?? hello?.host ?? 'sysfeed');
    setText($('#os'), host?.os ?? '');
    setText($('#kernel'), [hello?.kernel ?? host?.kernel, host?.arch].filter(Boolean).join(' '));
    const cpu = host?.cpu;
    const virt = host?.virtualization;
    const where = virt?.container ? `container (${virt.container})` : virt?.vm && virt.vm !== 'none' ? `VM${virt.vm === 'unknown' ? '' : ` (${virt.vm})`}` : '';
    setText($('#hw'), [cpu?.model ? `${cpu.model}${cpu.logical ? ` × ${cpu.logical}` : ''}` : '', where].filter(Boolean).join(' · '));
    const up = load?.uptime ?? (host?.boot_time_ms ? (Date.now() - host.boot_time_ms) / 1000 : null);
    setText($('#uptime'), duration(up));
    const name = hello?.host ?? host?.hostname;
    if (name && document.title !== `${name} · sysfeed`) document.title = `${name} · sysfeed`;
  }
}
