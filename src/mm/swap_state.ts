// mm/swap_state.c: the swap cache is swapper_space (address_space id 1),
// indexed by the whole swap entry value under its tree_lock. A page in it
// keeps its anon mapping and has PG_swapcache, with the entry in private.
// The I/O is started here and completed by the I/O agent (page_io.ts).
import { PAGE, PG_dirty, PG_locked, PG_swapcache, PG_uptodate, PG_writeback, SWAPPER_SPACE } from '../shm/layout.js';
import { i32, page_base } from '../shm/machine.js';
import { BUG_ON } from '../check/bug.js';
import { trylock_page, unlock_page } from '../sync/page_lock.js';
import { ClearPageFlag, PageSwapCacheP, SetPageFlag, page_flags, page_mapped } from './mm_types.js';
import { alloc_page } from './page_alloc.js';
import { lru_add_drain, lru_cache_add_active, lru_pagevecs, put_page, release_pages } from './swap.js';
import { get_swap_page, remove_exclusive_swap_page, swap_duplicate, swap_free, try_to_free_swap } from './swapfile.js';
import { E3, ERA } from '../shm/era.js';
import { PAGEVEC_SIZE } from '../shm/layout.js';
import { EEXIST, ENOENT, find_get_page, mapping_tree_lock, write_lock_tree, write_unlock_tree, radix_tree_delete, radix_tree_insert, radix_tree_slot } from './filemap.js';
import { get_page } from './swap.js';
import { swap_readpage } from './page_io.js';

export { EEXIST, ENOENT };
/** swapper_space.tree_lock */
export const swapper_tree_lock = () => mapping_tree_lock(SWAPPER_SPACE);

/** the swap cache's page_tree slot for an entry, or -1 if no index can hold it */
export const swap_cache_slot = (entry: number) => radix_tree_slot(SWAPPER_SPACE, entry);

/** lookup_swap_cache: find_get_page(&swapper_space, entry) */
export const lookup_swap_cache = (entry: number) => find_get_page(SWAPPER_SPACE, entry);

/** __add_to_swap_cache: caller holds the page lock; takes tree_lock */
function __add_to_swap_cache(pfn: number, entry: number): number {
  BUG_ON((page_flags(pfn) & PG_swapcache) !== 0, 'BUG_ON(PageSwapCache(page)) in __add_to_swap_cache', pfn);
  BUG_ON((page_flags(pfn) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in __add_to_swap_cache', pfn);
  write_lock_tree(SWAPPER_SPACE);
  const err = radix_tree_insert(SWAPPER_SPACE, entry, pfn);
  if (err === 0) {
    get_page(pfn);
    SetPageFlag(pfn, PG_swapcache);
    i32[page_base(pfn) + PAGE.private] = entry;
  }
  write_unlock_tree(SWAPPER_SPACE);
  return err;
}

/** add_to_swap_cache: for swap-in; the slot must still be in use */
function add_to_swap_cache(pfn: number, entry: number): number {
  if (!swap_duplicate(entry)) return ENOENT;
  const err = __add_to_swap_cache(pfn, entry);
  if (err !== 0) swap_free(entry);
  return err;
}

/** add_to_swap: give an anon page a swap slot and put it in the swap cache (page locked) */
export function add_to_swap(pfn: number): boolean {
  BUG_ON((page_flags(pfn) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in add_to_swap', pfn);
  for (;;) {
    const entry = get_swap_page();
    if (entry === 0) return false;
    const err = __add_to_swap_cache(pfn, entry);
    if (err === 0) {
      SetPageFlag(pfn, PG_uptodate | PG_dirty);
      return true;
    }
    swap_free(entry); // -EEXIST: raced with a swapin of the same slot
    if (err !== EEXIST) return false;
  }
}

/** __delete_from_swap_cache: caller holds the page lock and tree_lock */
export function __delete_from_swap_cache(pfn: number): void {
  const f = page_flags(pfn);
  BUG_ON((f & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in __delete_from_swap_cache', pfn);
  BUG_ON((f & PG_swapcache) === 0, 'BUG_ON(!PageSwapCache(page)) in __delete_from_swap_cache', pfn);
  BUG_ON((f & PG_writeback) !== 0, 'BUG_ON(PageWriteback(page)) in __delete_from_swap_cache', pfn);
  radix_tree_delete(SWAPPER_SPACE, i32[page_base(pfn) + PAGE.private]);
  i32[page_base(pfn) + PAGE.private] = 0;
  ClearPageFlag(pfn, PG_swapcache);
}

/** delete_from_swap_cache: page locked; drops the cache's reference and the slot's use */
export function delete_from_swap_cache(pfn: number): void {
  const entry = i32[page_base(pfn) + PAGE.private];
  write_lock_tree(SWAPPER_SPACE);
  __delete_from_swap_cache(pfn);
  write_unlock_tree(SWAPPER_SPACE);
  swap_free(entry);
  put_page(pfn);
}

/** why this CPU's last read_swap_cache_async returned no page (a cold path; for the -ENOMEM report) */
export const swapin_fail = { why: '', slot_freed: false };

/**
 * read_swap_cache_async: the page for entry, from the swap cache or read
 * in now. Returns a referenced page (locked while its read is in flight) or 0.
 */
export function read_swap_cache_async(entry: number): number {
  for (;;) {
    const found = lookup_swap_cache(entry);
    if (found !== 0) return found;
    const newpage = alloc_page();
    if (newpage === 0) { swapin_fail.why = 'alloc_page found no free page'; swapin_fail.slot_freed = false; return 0; }
    // lock before it is visible in the cache: faulters wait for the read
    trylock_page(newpage);
    const err = add_to_swap_cache(newpage, entry);
    if (err === 0) {
      lru_cache_add_active(newpage);
      swap_readpage(newpage);
      return newpage;
    }
    unlock_page(newpage);
    put_page(newpage);
    if (err !== EEXIST) { swapin_fail.why = 'the slot is no longer in use: swap_duplicate failed'; swapin_fail.slot_freed = true; return 0; } // -ENOENT: the slot was freed meanwhile
  }
}

// ---------------------------------------------------------------------------
// the zap's page release: the pte's reference, and the swap cache's if no one
// else wants the page (without this an exited process's swap-cache pages
// would keep their slots until reclaim met them)

/**
 * free_swap_cache: the caller just dropped a pte of `page` and still holds
 * its reference. A page that only the swap cache holds besides is taken out
 * of it now, freeing its slot. Only a trylock of the page: the caller may
 * hold a PTL. 4.x asks first that no pte maps it and frees the slot whatever
 * references are in flight (try_to_free_swap).
 */
export function free_swap_cache(page: number): void {
  if (!PageSwapCacheP(page)) return;
  if (ERA.id >= E3 && page_mapped(page)) return;
  if (!trylock_page(page)) return;
  if (ERA.id >= E3) try_to_free_swap(page);
  else remove_exclusive_swap_page(page);
  unlock_page(page);
}

/** free_page_and_swap_cache: one zapped page at once (no mmu_gather): its swap cache if exclusive, then its reference */
export function free_page_and_swap_cache(page: number): void {
  free_swap_cache(page);
  put_page(page);
}

/**
 * free_pages_and_swap_cache: the mmu_gather's page release (E1/E2): the
 * `nr` pages gathered in `pages`, PAGEVEC_SIZE at a time, each one's swap
 * cache if exclusive, then their references through release_pages
 * (2.6.18 took 16 at a time: from memory, unchecked). Caller may hold the
 * PTL (a full gather).
 */
export function free_pages_and_swap_cache(pages: Int32Array, nr: number): void {
  if (!lru_pagevecs()) { for (let k = 0; k < nr; k++) free_page_and_swap_cache(pages[k]); return; }
  lru_add_drain(); // 2.6.18 drained this CPU's pagevecs first here too
  for (let k = 0; k < nr; k += PAGEVEC_SIZE) {
    const todo = Math.min(PAGEVEC_SIZE, nr - k);
    for (let i = k; i < k + todo; i++) free_swap_cache(pages[i]);
    release_pages(pages, k, todo);
  }
}
