// show_mem / show_free_areas (2.6.18 mm/page_alloc.c, lib/show_mem.c): the
// memory summary the kernel prints when an allocation fails. mmrace prints
// it under a system call that failed with -ENOMEM, so the report says
// whether memory really ran out (every page in use, and by what) or a fault
// gave up for another reason (the line naming where VM_FAULT_OOM came from).
// Read without locks: the other CPUs may be running; every figure is a
// snapshot, as the kernel's are.
import { PAGE, PAGE_SIZE, PCP, PCP_BATCH, PCP_HIGH, PG_buddy, PG_dirty, PG_pgtable, PG_swapcache, PG_writeback, ZONE } from '../shm/layout.js';
import { BASES, i32, page_base, pcp_base, sizes } from '../shm/machine.js';
import { pagevec_pages } from './swap.js';
import { nr_swap_pages, total_swap_pages } from './swapfile.js';

const kB = (pages: number) => `${(pages * PAGE_SIZE) / 1024}kB`;

/** the summary, one line each; `why` (where the fault's VM_FAULT_OOM came from) first when known */
export function show_mem(why: string): string {
  const out: string[] = [];
  if (why) out.push(`mmrace: the fault returned VM_FAULT_OOM from ${why}`);
  out.push('Mem-info:', 'Normal per-cpu:');
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) {
    out.push(`cpu ${cpu} hot: high ${PCP_HIGH}, batch ${PCP_BATCH} used:${Atomics.load(i32, pcp_base(cpu) + PCP.count)}`);
  }
  let dirty = 0, writeback = 0, mapped = 0, pagetables = 0, swapcache = 0, swapcache_unmapped = 0;
  for (let pfn = 1; pfn < sizes.nr_pages; pfn++) {
    const p = page_base(pfn);
    const f = Atomics.load(i32, p + PAGE.flags);
    if ((f & PG_buddy) !== 0) continue;
    if ((f & PG_pgtable) !== 0) { pagetables++; continue; }
    if ((f & PG_dirty) !== 0) dirty++;
    if ((f & PG_writeback) !== 0) writeback++;
    const m = Atomics.load(i32, p + PAGE._mapcount) >= 0;
    if (m) mapped++;
    if ((f & PG_swapcache) !== 0) { swapcache++; if (!m) swapcache_unmapped++; }
  }
  const z = BASES.zone;
  const free = Atomics.load(i32, z + ZONE.nr_free);
  out.push(`Active:${i32[z + ZONE.nr_active]} inactive:${i32[z + ZONE.nr_inactive]} dirty:${dirty} writeback:${writeback} unstable:0 free:${free} slab:0 mapped:${mapped} pagetables:${pagetables}`);
  out.push(`Normal free:${kB(free)} active:${kB(i32[z + ZONE.nr_active])} inactive:${kB(i32[z + ZONE.nr_inactive])} present:${kB(sizes.nr_pages - 1)}`);
  let pvec = 0;
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) pvec += pagevec_pages(cpu).length;
  out.push(`mmrace: swap cache ${swapcache} pages (${swapcache_unmapped} mapped by no pte), ${pvec} in the CPUs' LRU pagevecs`);
  out.push(`Free swap  = ${kB(nr_swap_pages())}`, `Total swap = ${kB(total_swap_pages())}`);
  out.push(`${sizes.nr_pages - 1} pages of RAM`);
  return out.join('\n');
}
