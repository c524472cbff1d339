// The panels, one module each, as the collectors are: a panel draws its
// topic from the Store with render(c), c = {store, hello, interval (s),
// xr: the charts' x range [min, max] in s, hist(topic): the rows to chart
// (the stream's, or those read from the history, see view.js), step: their
// spacing (s), gapS: the longest one drawn as a line, redraw(topic)}; it
// may have charts() (resized and restyled by the page), restyle(), and
// onEvent(data), called with each live event of its topic as it arrives,
// drawn or not. The keys are topic names; `units` is drawn by svc (see
// DRAWN_BY in app.js).

import { AlertPanel } from './alert.js';
import { ContainersPanel } from './containers.js';
import { CpuPanel } from './cpu.js';
import { diskPanel } from './disk.js';
import { FilePanel } from './file.js';
import { FsPanel } from './fs.js';
import { GpuPanel } from './gpu.js';
import { HealthPanel } from './health.js';
import { HostPanel } from './host.js';
import { LoadPanel } from './load.js';
import { LogPanel } from './log.js';
import { MemPanel } from './mem.js';
import { netPanel } from './net.js';
import { ProcPanel } from './proc.js';
import { PsiPanel } from './psi.js';
import { SvcPanel } from './svc.js';
import { TempPanel } from './temp.js';

// Drawing order within a frame: alerts before the charts, which mark when
// they fired; the journal last, as setting its scroll position, when it
// follows the newest entries, lays the page out (see vlist.js).
export function makePanels(redraw) {
  return {
    host: new HostPanel(),
    alert: new AlertPanel(),
    cpu: new CpuPanel(),
    load: new LoadPanel(),
    psi: new PsiPanel(),
    mem: new MemPanel(),
    net: netPanel(redraw),
    disk: diskPanel(redraw),
    health: new HealthPanel(),
    fs: new FsPanel(),
    proc: new ProcPanel(redraw),
    svc: new SvcPanel(redraw),
    containers: new ContainersPanel(redraw),
    temp: new TempPanel(),
    gpu: new GpuPanel(),
    file: new FilePanel(),
    log: new LogPanel(redraw),
  };
}
