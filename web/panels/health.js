// Disk health (the health topic), drawn in the Disks panel under the
// devices: each drive's SMART self-assessment with temperature, wear,
// media errors and reallocated sectors; each md array's members and its
// resync or recovery; each ext4, btrfs or xfs filesystem's error count and
// a read-only remount. A row is one line of badges, red for what fails.

import { $, h, setAttr, setClass, setHidden, setText, syncRows } from '../dom.js';
import * as f from '../format.js';
import { bar, setBadges, setBar } from './common.js';

const { isNum } = f;

// Drives run warmer than this only when something is wrong with cooling.
const DRIVE_WARN_C = 55;
const DRIVE_CRIT_C = 65;

function smartBadges(d) {
  const b = [];
  // A drive smartctl could not open has no verdict, whatever `passed` says.
  if (d.error) return [['not read', 'warn', String(d.error)]];
  if (d.passed === true) b.push(['PASSED', 'ok', 'SMART overall self-assessment']);
  else if (d.passed === false) b.push(['FAILED', 'crit', 'SMART overall self-assessment: the drive predicts its own failure']);
  if (isNum(d.temp_c)) b.push([f.celsius(d.temp_c), d.temp_c >= DRIVE_CRIT_C ? 'crit' : d.temp_c >= DRIVE_WARN_C ? 'warn' : '', 'temperature when read']);
  if (isNum(d.wear_pct)) b.push([`wear ${d.wear_pct} %`, d.wear_pct >= 100 ? 'crit' : d.wear_pct >= 80 ? 'warn' : '', 'rated endurance used']);
  if (isNum(d.spare_pct)) b.push([`spare ${d.spare_pct} %`, d.spare_pct < 10 ? 'crit' : '', 'NVMe spare capacity left']);
  if (isNum(d.critical_warning) && d.critical_warning) b.push([`critical warning 0x${d.critical_warning.toString(16)}`, 'crit']);
  if (isNum(d.media_errors)) b.push([`${d.media_errors} media errors`, d.media_errors ? 'crit' : '']);
  if (isNum(d.reallocated)) b.push([`${d.reallocated} reallocated`, d.reallocated ? 'warn' : '', 'reallocated sectors']);
  if (isNum(d.pending) && d.pending) b.push([`${d.pending} pending`, 'warn', 'sectors waiting to be reallocated']);
  return b;
}

function mdBadges(m) {
  const b = [];
  if (m.state !== 'active') b.push([m.state ?? '?', 'warn']);
  if (m.read_only) b.push(['read-only', 'warn']);
  if (isNum(m.degraded) && m.degraded) b.push([`degraded: ${m.disks_up} of ${m.disks} up`, 'crit']);
  else if (isNum(m.disks)) b.push([`${m.disks_up} of ${m.disks} up`, 'ok']);
  if (m.failed) b.push([`${m.failed} failed`, 'crit']);
  if (m.spares) b.push([`${m.spares} spare${m.spares > 1 ? 's' : ''}`, '']);
  if (m.sync_action) {
    const left = isNum(m.sync_finish_s) ? ` · ${f.duration(m.sync_finish_s)} left` : '';
    const pc = isNum(m.sync_pct) ? ` ${m.sync_pct} %` : ' waiting';
    b.push([`${m.sync_action}${pc}${left}`, m.sync_action === 'recovery' ? 'warn' : '', isNum(m.sync_speed_bytes_per_s) ? f.rate(m.sync_speed_bytes_per_s) : undefined]);
  }
  return b;
}

function fsBadges(x) {
  const b = [];
  if (x.remounted_ro) b.push(['remounted read-only', 'crit', 'the kernel made it read-only after an error']);
  else if (x.read_only) b.push(['read-only', '']);
  if (isNum(x.errors)) {
    const last = isNum(x.last_error_ms) ? `last error ${f.dateTime(x.last_error_ms)}` : undefined;
    b.push([x.errors ? `${x.errors} errors` : 'no errors', x.errors ? 'crit' : 'ok', last]);
  } else {
    b.push(['no error counter', '']);
  }
  return b;
}

const worst = (bs) => (bs.some((b) => b[1] === 'crit') ? 'crit' : bs.some((b) => b[1] === 'warn') ? 'warn' : '');

const row = () => h('li', { class: 'hr' }, h('b'), h('span', { class: 'what' }), h('span', { class: 'badges' }));

function fillRow(li, name, what, title, badges) {
  setText(li.children[0], name);
  setText(li.children[1], what);
  setAttr(li, 'title', title);
  setBadges(li.children[2], badges);
  setClass(li, 'crit', worst(badges) === 'crit');
}

export class HealthPanel {
  constructor() {
    this.smart = $('#health-smart');
    this.md = $('#health-md');
    this.fs = $('#health-fs');
  }

  render(c) {
    const p = c.store.latest.health;
    if (!p) return;
    const sm = p.smart || {};
    const drives = Array.isArray(sm.devices) ? sm.devices : [];
    const md = Array.isArray(p.md) ? p.md : [];
    const fss = Array.isArray(p.filesystems) ? p.filesystems : [];
    syncRows(this.smart, drives, (d) => d.device, row, (li, d) => {
      const hours = isNum(d.power_on_hours) ? `\n${d.power_on_hours} power-on hours` : '';
      fillRow(li, d.device, [d.protocol, d.model].filter(Boolean).join(' · '), `${d.model ?? ''} ${d.serial ?? ''}${hours}`.trim(), smartBadges(d));
    });
    syncRows(this.md, md, (m) => m.name, () => {
      const li = row();
      li.append(bar(0));
      return li;
    }, (li, m) => {
      fillRow(li, m.name, m.level ?? '', `/dev/${m.name}`, mdBadges(m));
      const syncing = isNum(m.sync_pct);
      setHidden(li.children[3], !syncing);
      if (syncing) setBar(li.children[3], m.sync_pct, m.sync_action === 'recovery' ? 'warn' : '');
    });
    syncRows(this.fs, fss, (x) => x.device, row, (li, x) => {
      fillRow(li, x.mount, `${x.fstype} · ${x.device}`, `${x.mount}\n${x.device} (${x.fstype})`, fsBadges(x));
    });
    this.summary(sm, drives, md, fss);
  }

  summary(sm, drives, md, fss) {
    const bits = [];
    const failed = drives.filter((d) => d.passed === false).length;
    if (drives.length) bits.push(`${drives.length} drive${drives.length > 1 ? 's' : ''}${failed ? `, ${failed} FAILED` : ''}`);
    if (sm.error) bits.push(`no SMART data: ${sm.error}`);
    else if (isNum(sm.updated_ms)) bits.push(`SMART read ${f.dateTime(sm.updated_ms)}`);
    const degraded = md.filter((m) => m.degraded || m.failed).length;
    const syncing = md.filter((m) => m.sync_action).length;
    if (md.length) bits.push(`${md.length} array${md.length > 1 ? 's' : ''}${degraded ? `, ${degraded} degraded` : ''}${syncing ? `, ${syncing} syncing` : ''}`);
    const bad = fss.filter((x) => x.errors || x.remounted_ro).length;
    bits.push(`${fss.length} filesystem${fss.length === 1 ? '' : 's'}${bad ? `, ${bad} with errors` : ''}`);
    setText($('#health-sum'), `· ${bits.join(' · ')}`);
  }
}
