// Name a lock instance from the index of its word, for watchdog and lockdep
// reports: "&anon_vma->lock (anon_vma#3)", "ptl of table pfn 41", ...
import { ADDRESS_SPACE, ANON_VMA, GLOBALS, IDALLOC, MM, MMLIST, PAGE, SWAPPER_SPACE, ZONE } from '../shm/layout.js';
import { MachineView, live_machine, nr_mappings, nr_pfns } from '../shm/machine.js';
import { era_of } from '../shm/era.js';
import { lock_class_name } from '../sync/lock_class.js';

/** `m`: the Machine the index is of (a report's: its run's, as the result keeps it), else the attached one */
export function describe_lock(idx: number, cls: number, m: MachineView = live_machine()): string {
  const { bases: BASES, sizes } = m;
  const cname = lock_class_name(cls, era_of(m));
  const within = (base: number, stride: number, count: number) =>
    idx >= base && idx < base + stride * count ? { id: Math.floor((idx - base) / stride), off: (idx - base) % stride } : null;
  let r;
  if ((r = within(BASES.pages, PAGE.stride, nr_pfns(sizes)))) {
    return r.off === PAGE.flags ? `${cname} (page lock of pfn ${r.id})` : `${cname} (PTL of page-table pfn ${r.id})`;
  }
  if ((r = within(BASES.mms, MM.stride, sizes.nr_mm))) return `${cname} (mm#${r.id})`;
  if ((r = within(BASES.anon_vmas, ANON_VMA.stride, sizes.nr_anon_vma))) return `${cname} (anon_vma#${r.id})`;
  if ((r = within(BASES.mappings, ADDRESS_SPACE.stride, nr_mappings(sizes)))) return `${cname} (${r.id === SWAPPER_SPACE ? 'swapper_space' : `mapping#${r.id}`})`;
  if (idx >= BASES.zone && idx < BASES.zone + ZONE.stride) return cname;
  if (idx >= BASES.mmlist && idx < BASES.mmlist + MMLIST.stride) return cname;
  if (idx >= BASES.mm_alloc && idx < BASES.av_alloc + IDALLOC.stride) return cname;
  if (idx >= BASES.globals && idx < BASES.globals + GLOBALS.stride) return `${cname} (globals)`;
  return `${cname} (word ${idx})`;
}
