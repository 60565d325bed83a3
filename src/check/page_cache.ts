// Quiescent checks of the page cache and the I/O agent (kernel-notes 5.1,
// I-CACHE): every address_space's slots name pages that say so, its
// nrpages counts them, and no I/O is in flight when no CPU runs.
import { ADDRESS_SPACE, BIO, PAGE, PG_buddy, PG_swapcache, PG_writeback, SWAPPER_SPACE, SWAP_TYPES } from '../shm/layout.js';
import { as_base, bio_base, i32, nr_mappings, page_base, sizes } from '../shm/machine.js';
import { nr_queued } from '../cpu/io.js';
import type { Complain } from './swap_invariants.js';
import { pcp_pages } from '../mm/page_alloc.js'; // scale

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/** slot k of swapper_space's page_tree back to the entry value it holds (one row of slots per type) */
function slot_index(as: number, k: number): number {
  if (as !== SWAPPER_SPACE) return k;
  const stride = i32[as_base(as) + ADDRESS_SPACE.nr_slots] / SWAP_TYPES;
  return ((Math.floor(k / stride) << 27) | (k % stride)) >>> 0;
}

/** I-CACHE for every address_space, and nothing in flight */
export function check_page_cache(bad: Complain): void {
  const on_pcp = new Set<number>(); // scale: a page on a per-CPU list is free, though not PG_buddy
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) for (const pfn of pcp_pages(cpu)) on_pcp.add(pfn);
  for (let as = SWAPPER_SPACE; as < nr_mappings(sizes); as++) {
    const a = as_base(as);
    const tree = i32[a + ADDRESS_SPACE.tree_base];
    let n = 0;
    for (let k = 0; k < i32[a + ADDRESS_SPACE.nr_slots]; k++) {
      const pfn = i32[tree + k];
      if (pfn === 0) continue;
      n++;
      const p = page_base(pfn);
      const index = slot_index(as, k);
      const swapcache = (i32[p + PAGE.flags] & PG_swapcache) !== 0;
      if ((i32[p + PAGE.flags] & PG_buddy) !== 0 || on_pcp.has(pfn)) bad('I-CACHE', `address_space#${as} index ${hex(index)} holds free pfn ${pfn}`);
      else if (as === SWAPPER_SPACE ? !swapcache || (i32[p + PAGE.private] >>> 0) !== index
        : swapcache || i32[p + PAGE.mapping] !== as << 1 || i32[p + PAGE.index] !== index) {
        bad('I-CACHE', `address_space#${as} index ${hex(index)} holds pfn ${pfn}, whose mapping ${hex(i32[p + PAGE.mapping])} index ${hex(i32[p + PAGE.index])} private ${hex(i32[p + PAGE.private])} say otherwise`);
      }
    }
    if (i32[a + ADDRESS_SPACE.nrpages] !== n) bad('I-CACHE', `address_space#${as} nrpages ${i32[a + ADDRESS_SPACE.nrpages]} but ${n} slots hold a page`);
  }
  if (nr_queued() !== 0) bad('I-IO', `${nr_queued()} I/O requests still queued at a quiescent point`);
  for (let pfn = 1; pfn < sizes.nr_pages; pfn++) {
    if (i32[bio_base(pfn) + BIO.state] !== 0) bad('I-IO', `pfn ${pfn} has I/O in flight at a quiescent point`);
    if ((i32[page_base(pfn) + PAGE.flags] & PG_writeback) !== 0) bad('I-IO', `pfn ${pfn} is still under writeback at a quiescent point`);
  }
}
