// The swap half of the quiescent sweep (kernel-notes 5.1 I-SWAPCNT, I-CACHE,
// I-SWAPINFO): every used slot is counted exactly by the swap ptes and the
// swap-cache page that refer to it, and the swap cache and its pages name
// each other.
import { PAGE, PG_buddy, PG_swapcache, SWAP_INFO, SWAPG } from '../shm/layout.js';
import { MAX_SWAPFILES } from '../shm/era.js';
import { B, i32, page_base, sizes, swap_cache_stride } from '../shm/machine.js';
import { MAX_SWAPFILES_SHIFT, swp_entry, swp_offset, swp_type } from '../mm/swapops.js';
import { SWAP_MAP_MAX, SWP_USED, SWP_WRITEOK, nr_swap_pages, nr_swapfiles, swap_guard_intact, swap_info_base, swap_map_slot } from '../mm/swapfile.js';
import { swap_cache_slot } from '../mm/swap_state.js';
import type { Rule } from './invariants.js';

/** references to each swap entry found so far (ptes, then swap-cache pages) */
export type SwapRefs = Map<number, number>;
export type Complain = (rule: Rule, text: string) => void;

const hex = (n: number) => '0x' + (n >>> 0).toString(16);
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
  // the other direction of I-CACHE: each occupied slot's page says it is there
  const stride = swap_cache_stride(sizes);
  let cached = 0;
  for (let t = 0; t < 1 << MAX_SWAPFILES_SHIFT; t++) { // every type the tree can index, the migration types too
    for (let off = 0; off < stride; off++) {
      const pfn = i32[B.swap_cache + t * stride + off];
      if (pfn === 0) continue;
      cached++;
      const e = swp_entry(t, off);
      const f = pfn > 0 && pfn < sizes.nr_pages ? i32[page_base(pfn) + PAGE.flags] : 0;
      if ((f & PG_swapcache) === 0 || (f & PG_buddy) !== 0 || i32[page_base(pfn) + PAGE.private] !== e) {
        bad('I-CACHE', `swap cache slot ${hex(e)} holds pfn ${pfn}, which is not a swap-cache page of that entry`);
      }
    }
  }
  if (cached !== i32[B.swapg + SWAPG.nrpages]) bad('I-CACHE', `swapper_space.nrpages ${i32[B.swapg + SWAPG.nrpages]} but the swap cache holds ${cached} pages`);

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
