// mm/vmscan.c, shrink_page_list for one isolated page: skip it while under
// writeback, keep it if its ptes were young, give an anon page a swap slot,
// unmap it, start its write (the I/O agent completes it later), and once it
// is clean, unmapped and only ours and the cache's, take it out of its
// address_space and free it; else put it back.
import { ADDRESS_SPACE, CPUSTAT, PAGE, PG_active, PG_dirty, PG_private, PG_swapcache, PG_writeback } from '../shm/layout.js';
import { i32, page_base } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EV_SHRINK, trace_event } from '../cpu/events.js';
import { writeback_met } from '../cpu/io.js';
import { trylock_page, unlock_page } from '../sync/page_lock.js';
import { ClearPageFlag, PageAnon, PageSwapCacheP, SetPageFlag, TestClearPageFlag, page_count, page_flags, page_mapped, page_mapping } from './mm_types.js';
import { SWAP_FAIL, SWAP_SUCCESS, page_referenced, try_to_unmap } from './rmap.js';
import { __delete_from_swap_cache, add_to_swap } from './swap_state.js';
import { __remove_from_page_cache, mapping_field, try_to_release_page, write_lock_tree, write_unlock_tree } from './filemap.js';
import { writepage } from './page_io.js';
import { swap_free } from './swapfile.js';
import { put_page, putback_inactive_pages } from './swap.js';
import { E4, ERA } from '../shm/era.js';
import { page_ref_freeze, page_ref_unfreeze } from './page_ref.js';

export const PAGEOUT_FREED = 0, PAGEOUT_KEPT = 1, PAGEOUT_ACTIVATED = 2;
/** pageout's verdicts (2.6.16's migrate_pages and swap_page read them too) */
export const PAGE_KEEP = 0, PAGE_SUCCESS = 1, PAGE_CLEAN = 2;

/** page_mapping_inuse: mapped, or in the swap cache, or its file is mapped */
function page_mapping_inuse(pfn: number): boolean {
  if (page_mapped(pfn) || PageSwapCacheP(pfn)) return true;
  const m = page_mapping(pfn);
  return m !== 0 && mapping_field(m, ADDRESS_SPACE.i_mmap_first) !== 0;
}

/** pageout: start the write of a dirty page (page locked; writepage unlocks it) */
export function pageout(pfn: number, mapping: number): number {
  // is_page_cache_freeable: the cache and our isolation reference only (the buffers' one aside)
  if (page_count(pfn) - ((page_flags(pfn) & PG_private) !== 0 ? 1 : 0) !== 2) return PAGE_KEEP;
  // no mapping, nowhere to write it: an anon page that lost its rmap and its swap cache while isolated (E0: a swap-in
  // took it out of the cache, vm_swap_full, and has not mapped it yet). Without this line the model wrote it to
  // address_space 0's writepage, a swap write of a page in no swap cache, left under writeback with no cache reference
  if (mapping === 0) return PAGE_KEEP;
  if (!TestClearPageFlag(pfn, PG_dirty)) return PAGE_CLEAN; // clear_page_dirty_for_io
  writepage(mapping, pfn);
  return PAGE_SUCCESS;
}

/**
 * remove_mapping: take the page out of its address_space if only the cache
 * and the caller hold it and it is clean (page locked); takes tree_lock
 */
export function remove_mapping(mapping: number, pfn: number): boolean {
  write_lock_tree(mapping);
  // E4 (lockless lookups): the count is frozen, not only read, or a find_get_page could take a reference
  // after the test and keep the page past its removal (5.x __remove_mapping); the freeze holds until the slot is gone
  if (ERA.id === E4) {
    if (!page_ref_freeze(pfn, 2)) { write_unlock_tree(mapping); return false; }
    if ((page_flags(pfn) & PG_dirty) !== 0) { page_ref_unfreeze(pfn, 2); write_unlock_tree(mapping); return false; }
  } else if (page_count(pfn) !== 2 || (page_flags(pfn) & PG_dirty) !== 0) { write_unlock_tree(mapping); return false; }
  if ((page_flags(pfn) & PG_swapcache) !== 0) {
    const entry = i32[page_base(pfn) + PAGE.private];
    __delete_from_swap_cache(pfn);
    if (ERA.id === E4) page_ref_unfreeze(pfn, 1); // the slot is gone: the caller's reference is all that is left
    write_unlock_tree(mapping);
    swap_free(entry);
  } else {
    __remove_from_page_cache(pfn);
    if (ERA.id === E4) page_ref_unfreeze(pfn, 1); // (as above)
    write_unlock_tree(mapping);
  }
  if (ERA.id !== E4) put_page(pfn); // the cache's reference (E4: the unfreeze dropped it)
  return true;
}

/**
 * shrink_page_list for a list of one page: the caller isolated it (holds a
 * reference, took it off the LRU). Returns PAGEOUT_FREED when the page went
 * back to the allocator; a page it keeps goes back to the LRU here rather
 * than on a ret_pages list for shrink_inactive_list.
 */
export function shrink_page_list(pfn: number): number {
  ClearPageFlag(pfn, PG_active); // reclaim works on the inactive list
  if (!trylock_page(pfn)) { putback_inactive_pages(pfn); return PAGEOUT_KEPT; }
  let verdict = PAGEOUT_KEPT;
  done: {
    if ((page_flags(pfn) & PG_writeback) !== 0) { writeback_met(pfn); break done; }
    const referenced = page_referenced(pfn);
    // In active use or really unfreeable? Activate it.
    if (referenced !== 0 && page_mapping_inuse(pfn)) { verdict = PAGEOUT_ACTIVATED; break done; }
    if (PageAnon(pfn) && !PageSwapCacheP(pfn) && !add_to_swap(pfn)) { verdict = PAGEOUT_ACTIVATED; break done; }
    let mapping = page_mapping(pfn);
    if (page_mapped(pfn) && mapping !== 0) {
      const r = try_to_unmap(pfn, false);
      if (r === SWAP_FAIL) { verdict = PAGEOUT_ACTIVATED; break done; }
      if (r !== SWAP_SUCCESS) break done;
    }
    if ((page_flags(pfn) & PG_dirty) !== 0) {
      if (referenced !== 0) break done;
      const out = pageout(pfn, mapping);
      if (out === PAGE_KEEP) break done;
      if (out === PAGE_SUCCESS) {
        // the write is in flight (the page is unlocked): a later pass frees it once it is clean
        if ((page_flags(pfn) & (PG_writeback | PG_dirty)) !== 0 || !trylock_page(pfn)) { putback_inactive_pages(pfn); return PAGEOUT_KEPT; }
        if ((page_flags(pfn) & (PG_writeback | PG_dirty)) !== 0) break done;
        mapping = page_mapping(pfn);
      }
    }
    // If the page has buffers, try to free them: their reference would keep remove_mapping from working
    if ((page_flags(pfn) & PG_private) !== 0 && (page_flags(pfn) & PG_swapcache) === 0 && !try_to_release_page(pfn)) { verdict = PAGEOUT_ACTIVATED; break done; }
    if (mapping === 0 || page_mapped(pfn) || !remove_mapping(mapping, pfn)) break done;
    unlock_page(pfn);
    trace_event(EV_SHRINK, pfn);
    i32[current.stat + CPUSTAT.swapouts] += 1;
    put_page(pfn); // the isolation reference was the last
    return PAGEOUT_FREED;
  }
  if (verdict === PAGEOUT_ACTIVATED) SetPageFlag(pfn, PG_active);
  unlock_page(pfn);
  putback_inactive_pages(pfn);
  return verdict;
}
