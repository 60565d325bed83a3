// mm/vmscan.c, shrink_page_list for one isolated anonymous page: give it a
// swap slot, unmap it to swap ptes, write it out, drop it from the swap
// cache and free it, or put it back when something still uses it.
import { CPUSTAT, PG_active, PG_dirty, PG_writeback } from '../shm/layout.js';
import { i32 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EV_SHRINK, trace_event } from '../cpu/events.js';
import { trylock_page, unlock_page } from '../sync/page_lock.js';
import { ClearPageFlag, PageAnon, PageSwapCacheP, SetPageFlag, TestClearPageFlag, page_count, page_flags, page_mapped } from './mm_types.js';
import { SWAP_FAIL, SWAP_SUCCESS, try_to_unmap } from './rmap.js';
import { add_to_swap, remove_swap_mapping, swap_writepage } from './swap_state.js';
import { put_page, putback_lru_page } from './swap.js';

export const PAGEOUT_FREED = 0, PAGEOUT_KEPT = 1, PAGEOUT_ACTIVATED = 2;

/** pageout: write a dirty swap-cache page (page locked; swap_writepage unlocks it) */
function pageout(pfn: number): boolean {
  // is_page_cache_freeable: the swap cache and our isolation reference only
  if (page_count(pfn) !== 2) return false;
  if (!TestClearPageFlag(pfn, PG_dirty)) return false; // clear_page_dirty_for_io
  swap_writepage(pfn);
  return true;
}

/**
 * shrink_page: the caller isolated the page (holds a reference, took it off
 * the LRU). Returns PAGEOUT_FREED when the page went back to the allocator.
 */
export function shrink_page(pfn: number): number {
  ClearPageFlag(pfn, PG_active); // reclaim works on the inactive list
  if (!PageAnon(pfn) || !trylock_page(pfn)) { putback_lru_page(pfn); return PAGEOUT_KEPT; }
  let verdict = PAGEOUT_KEPT;
  done: {
    if ((page_flags(pfn) & PG_writeback) !== 0) break done;
    if (!PageSwapCacheP(pfn) && !add_to_swap(pfn)) { verdict = PAGEOUT_ACTIVATED; break done; }
    if (page_mapped(pfn)) {
      const r = try_to_unmap(pfn, false);
      if (r === SWAP_FAIL) { verdict = PAGEOUT_ACTIVATED; break done; }
      if (r !== SWAP_SUCCESS) break done;
    }
    if ((page_flags(pfn) & PG_dirty) !== 0) {
      if (!pageout(pfn)) break done;
      // the write completed synchronously and unlocked the page: relock and look again
      if ((page_flags(pfn) & (PG_writeback | PG_dirty)) !== 0 || !trylock_page(pfn)) { putback_lru_page(pfn); return PAGEOUT_KEPT; }
      if ((page_flags(pfn) & (PG_writeback | PG_dirty)) !== 0 || page_mapped(pfn)) break done;
    }
    if (!remove_swap_mapping(pfn)) break done;
    unlock_page(pfn);
    trace_event(EV_SHRINK, pfn);
    i32[current.stat + CPUSTAT.swapouts] += 1;
    put_page(pfn); // the isolation reference was the last
    return PAGEOUT_FREED;
  }
  if (verdict === PAGEOUT_ACTIVATED) SetPageFlag(pfn, PG_active);
  unlock_page(pfn);
  putback_lru_page(pfn);
  return verdict;
}
