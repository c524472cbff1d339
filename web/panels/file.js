// File changes (the file topic): the Store's bounded backlog, newest on
// top, with what the watches cover; a windowed list like the journal's
// (vlist.js). Paths are host text: textContent only.

import { $, h, setText } from '../dom.js';
import { entryTime } from '../store.js';
import { clock, dateTime, isNum } from '../format.js';
import { VList } from '../vlist.js';

// Colour class of each action; watch_limit and overflow are the
// collector's own reports (a message, maybe no path).
const FILE_WHAT = { created: 'created', modified: 'modified', deleted: 'deleted', moved: 'moved', attrib: 'attrs', overflow: 'overflow', watch_limit: 'overflow' };

export class FilePanel {
  constructor() {
    this.list = $('#file-list');
    this.view = new VList(this.list, { make: (e) => this.row(e), newest: 'start', estimate: 21 });
  }

  row(e) {
    const acts = Array.isArray(e.actions) ? e.actions : [];
    // A burst that created the file shows as "created" unless it ended deleted.
    const what = String(acts.includes('created') && e.action !== 'deleted' ? 'created' : e.action ?? 'changed');
    const tm = h('time', { datetime: new Date(entryTime(e)).toISOString() });
    tm.textContent = clock(entryTime(e));
    tm.title = dateTime(entryTime(e));
    const w = h('span', { class: `fw ${FILE_WHAT[what] ?? 'other'}` });
    w.textContent = what.replace(/_/g, ' ');
    w.title = acts.join(' → ');
    const path = h('span', { class: 'path' });
    let p = e.from && e.to ? `${e.from} → ${e.to}` : e.path ?? '';
    if (e.message) p = p ? `${p}: ${e.message}` : e.message;
    path.textContent = `${p}${e.dir ? '/' : ''}`;
    const cnt = h('span', { class: 'cnt' });
    if (typeof e.count === 'number' && e.count > 1) cnt.textContent = `×${e.count}`;
    return h('li', { class: 'fe' }, tm, w, path, cnt);
  }

  render(c) {
    const all = c.store.backlog.file;
    this.view.set(all.slice().reverse());
    const st = c.store.state.file || {};
    const bits = [all.length ? `${all.length} recent` : 'no changes yet'];
    if (isNum(st.watched)) bits.push(`${st.watched} ${st.watched === 1 ? 'directory' : 'directories'} watched`);
    if (st.unwatched_count) bits.push(`${st.unwatched_count} not watchable`);
    if (st.overflows) bits.push(`${st.overflows} overflows`);
    setText($('#file-sum'), bits.join(' · '));
    const paths = (st.paths || []).join(', ');
    if (paths && this.list.title !== `watching ${paths}`) this.list.title = `watching ${paths}`;
  }
}
