// The swap half of the quiescent sweep (kernel-notes 5.1 I-SWAPCNT, I-CACHE,
// I-SWAPINFO): every used slot is counted exactly by the swap ptes and the
// swap-cache page that refer to it, and each swap-cache page is in its slot.
import { PAGE, SWAP_INFO } from '../shm/layout.js';
import { MAX_SWAPFILES } from '../shm/era.js';
import { i32, page_base } from '../shm/machine.js';
import { swp_entry, swp_offset, swp_type } from '../mm/swapops.js';
import { SWAP_MAP_MAX, SWP_USED, SWP_WRITEOK, nr_swap_pages, nr_swapfiles, swap_guard_intact, swap_info_base, swap_map_slot } from '../mm/swapfile.js';
import { swap_cache_slot } from '../mm/swap_state.js';
import type { Rule } from './invariants.js';

/** references to each swap entry found so far (ptes, then swap-cache pages) */
export type SwapRefs = Map<number, number>;
export type Complain = (rule: Rule, text: string) => void;

const add = (refs: SwapRefs, e: number) => refs.set(e, (refs.get(e) ?? 0) + 1);

/** count a (non-migration) swap pte's entry; false if it names no slot of a switched-on device */
export function count_swap_pte(e: number, refs: SwapRefs): boolean {
  const t = swp_type(e), off = swp_offset(e);
  if (t >= nr_swapfiles() || (i32[swap_info_base(t) + SWAP_INFO.flags] & SWP_USED) === 0 || off === 0 || off >= i32[swap_info_base(t) + SWAP_INFO.max]) return false;
  add(refs, e);
  return true;
}

/** a PG_swapcache page: its entry's slot holds it (and then the cache's reference is counted) */
export function swap_cache_holds(pfn: number, refs: SwapRefs): boolean {
  const e = i32[page_base(pfn) + PAGE.private];
  const slot = swap_cache_slot(e);
  if (slot < 0 || i32[slot] !== pfn) return false;
  add(refs, e);
  return true;
}

export function check_swap(bad: Complain, refs: SwapRefs): void {
  // the other direction of I-CACHE (each slot's page says it is there, nrpages) is page_cache.ts's, for every address_space
  let freeSlots = 0;
  for (let t = 0; t < Math.min(nr_swapfiles(), MAX_SWAPFILES); t++) {
    const si = swap_info_base(t);
    if ((i32[si + SWAP_INFO.flags] & SWP_USED) === 0) continue;
    for (let off = 1; off < i32[si + SWAP_INFO.max]; off++) {
      const c = i32[swap_map_slot(t, off)];
      const want = refs.get(swp_entry(t, off)) ?? 0;
      if (c === 0 && (i32[si + SWAP_INFO.flags] & SWP_WRITEOK) !== 0) freeSlots++;
      if (c !== SWAP_MAP_MAX && c !== want) bad('I-SWAPCNT', `swap_map[${t}][${off}] is ${c} but ${want} ptes and swap cache pages refer to it`);
    }
  }
  if (freeSlots !== nr_swap_pages()) bad('I-SWAPCNT', `nr_swap_pages ${nr_swap_pages()} but ${freeSlots} slots are free`);
  if (!swap_guard_intact()) bad('I-SWAPINFO', 'memory corruption: the data after swap_info[] lost its canary');
}
