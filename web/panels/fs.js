// Filesystems (the fs topic): each mount's usage bar, free space and
// inodes; one that stopped answering statfs shows so in red.

import { $, h, setAttr, setClass, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { bar, cell, setBar, setNum, sev } from './common.js';

const { isNum } = f;

export class FsPanel {
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
      () => {
        const th = h('th', { scope: 'row' }, h('span', { class: 'mnt' }), h('span', { class: 'dev' }));
        return h('tr', null, th, h('td', { class: 'bar-c' }, bar(0), h('span', { class: 'v' })), cell('num'), cell('num'));
      },
      (tr, m) => {
        setText(tr.cells[0].children[0], m.mount);
        setText(tr.cells[0].children[1], `${m.fstype}${m.read_only ? ' ro' : ''} · ${m.device}`);
        setAttr(tr.cells[0], 'title', `${m.mount}\n${m.device} (${m.fstype})`);
        const dead = m.responding === false || m.error;
        setClass(tr, 'dead', dead);
        const u = m.used_percent;
        setBar(tr.cells[1].children[0], u ?? 0, sev(u ?? 0, 80, 90));
        setText(tr.cells[1].children[1], dead ? (m.responding === false ? 'not responding' : String(m.error)) : isNum(u) ? `${u} % of ${f.bytes(m.size)}` : '–');
        setText(tr.cells[2], f.bytes(m.available));
        const ip = m.inodes_total ? (m.inodes_used / m.inodes_total) * 100 : null;
        setNum(tr.cells[3], isNum(ip) ? f.pct(ip, 0) : '–', isNum(ip) ? sev(ip, 80, 90) : '');
      },
    );
  }
}
