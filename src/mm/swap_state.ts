// mm/swap_state.c and mm/page_io.c: the swap cache (swapper_space, indexed
// by the whole entry value under its tree_lock) and swap I/O, done
// synchronously: a write copies the page to its slot, a read copies back.
import { PAGE, PG_dirty, PG_error, PG_locked, PG_swapcache, PG_uptodate, PG_writeback, SWAP_INFO, SWAP_SLOTS, SWAPG, WORDS_PER_PAGE } from '../shm/layout.js';
import { B, i32, page_base, phys_base, sizes, swap_cache_stride } from '../shm/machine.js';
import { BUG_ON, OOPS_ERROR, fail } from '../check/bug.js';
import { LC_TREE } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { trylock_page, unlock_page } from '../sync/page_lock.js';
import { ClearPageFlag, SetPageFlag, page_flags } from './mm_types.js';
import { swp_offset, swp_type } from './swapops.js';
import { alloc_page } from './page_alloc.js';
import { get_page, lru_cache_add_active, put_page } from './swap.js';
import { SWP_USED, get_swap_page, nr_swapfiles, swap_duplicate, swap_free, swap_info } from './swapfile.js';

/** swapper_space.tree_lock */
export const swapper_tree_lock = () => B.swapg + SWAPG.tree_lock;
const tree_lock = swapper_tree_lock;
export const EEXIST = -17, ENOENT = -2;

/** the radix-tree slot for an entry, or -1 if no index can hold it */
export function swap_cache_slot(entry: number): number {
  const stride = swap_cache_stride(sizes);
  const off = swp_offset(entry);
  return off < stride ? B.swap_cache + swp_type(entry) * stride + off : -1;
}

/** find_get_page(&swapper_space, entry): the cached page with a reference, or 0 */
export function find_get_page(entry: number): number {
  const slot = swap_cache_slot(entry);
  if (slot < 0) return 0;
  spin_lock(tree_lock(), LC_TREE);
  const pfn = i32[slot];
  if (pfn !== 0) get_page(pfn);
  spin_unlock(tree_lock());
  return pfn;
}

export const lookup_swap_cache = find_get_page;

/** __add_to_swap_cache: caller holds the page lock */
function __add_to_swap_cache(pfn: number, entry: number): number {
  BUG_ON((page_flags(pfn) & PG_swapcache) !== 0, 'BUG_ON(PageSwapCache(page)) in __add_to_swap_cache', pfn);
  BUG_ON((page_flags(pfn) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in __add_to_swap_cache', pfn);
  const slot = swap_cache_slot(entry);
  if (slot < 0) return ENOENT;
  spin_lock(tree_lock(), LC_TREE);
  if (i32[slot] !== 0) { spin_unlock(tree_lock()); return EEXIST; }
  i32[slot] = pfn;
  get_page(pfn);
  SetPageFlag(pfn, PG_swapcache);
  i32[page_base(pfn) + PAGE.private] = entry;
  i32[B.swapg + SWAPG.nrpages] += 1;
  spin_unlock(tree_lock());
  return 0;
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
function __delete_from_swap_cache(pfn: number): void {
  const f = page_flags(pfn);
  BUG_ON((f & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in __delete_from_swap_cache', pfn);
  BUG_ON((f & PG_swapcache) === 0, 'BUG_ON(!PageSwapCache(page)) in __delete_from_swap_cache', pfn);
  BUG_ON((f & PG_writeback) !== 0, 'BUG_ON(PageWriteback(page)) in __delete_from_swap_cache', pfn);
  const entry = i32[page_base(pfn) + PAGE.private];
  i32[swap_cache_slot(entry)] = 0;
  i32[page_base(pfn) + PAGE.private] = 0;
  ClearPageFlag(pfn, PG_swapcache);
  i32[B.swapg + SWAPG.nrpages] -= 1;
}

/** remove_mapping for swap cache pages: only if the cache and the caller hold it (page locked) */
export function remove_swap_mapping(pfn: number): boolean {
  spin_lock(tree_lock(), LC_TREE);
  // the caller's (isolation) reference and the cache's: nobody else may have found it
  if (Atomics.load(i32, page_base(pfn) + PAGE._count) !== 2 || (page_flags(pfn) & PG_dirty) !== 0) { spin_unlock(tree_lock()); return false; }
  const entry = i32[page_base(pfn) + PAGE.private];
  __delete_from_swap_cache(pfn);
  spin_unlock(tree_lock());
  swap_free(entry);
  put_page(pfn); // the cache's reference
  return true;
}

/** delete_from_swap_cache: page locked; drops the cache's reference and the slot's use */
export function delete_from_swap_cache(pfn: number): void {
  const entry = i32[page_base(pfn) + PAGE.private];
  spin_lock(tree_lock(), LC_TREE);
  __delete_from_swap_cache(pfn);
  spin_unlock(tree_lock());
  swap_free(entry);
  put_page(pfn);
}

/** get_swap_bio: the device slot an entry names (through &swap_info[type]), or -1 if no switched-on device has it */
function device_slot(entry: number, fn: string): number {
  const type = swp_type(entry), off = swp_offset(entry);
  const sis = swap_info(type, fn);
  if (type >= nr_swapfiles() || (i32[sis + SWAP_INFO.flags] & SWP_USED) === 0 ||
      off >= i32[sis + SWAP_INFO.max] || off >= SWAP_SLOTS) return -1;
  return B.swap_slots + (type * SWAP_SLOTS + off) * WORDS_PER_PAGE;
}

/** swap_readpage: page locked, in the swap cache; unlocks it when the read completes */
function swap_readpage(pfn: number): void {
  const entry = i32[page_base(pfn) + PAGE.private];
  const d = device_slot(entry, 'swap_readpage');
  if (d < 0) {
    // end_swap_bio_read with an error: the page stays !Uptodate
    SetPageFlag(pfn, PG_error);
    ClearPageFlag(pfn, PG_uptodate);
    unlock_page(pfn);
    fail(OOPS_ERROR, `Read-error on swap-device (entry ${(entry >>> 0).toString(16).padStart(8, '0')}: type ${swp_type(entry)} offset ${swp_offset(entry)} is on no swap device)`, pfn);
  }
  const ph = phys_base(pfn);
  for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, ph + w, Atomics.load(i32, d + w));
  SetPageFlag(pfn, PG_uptodate);
  unlock_page(pfn);
}

/** swap_writepage: page locked and clean-for-io; writes it out and unlocks it */
export function swap_writepage(pfn: number): void {
  const entry = i32[page_base(pfn) + PAGE.private];
  const d = device_slot(entry, 'swap_writepage');
  BUG_ON(d < 0, 'BUG_ON(!swap device) in swap_writepage', pfn);
  SetPageFlag(pfn, PG_writeback);
  const ph = phys_base(pfn);
  for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, d + w, Atomics.load(i32, ph + w));
  ClearPageFlag(pfn, PG_writeback); // end_page_writeback: the write completed
  unlock_page(pfn);
}

/**
 * read_swap_cache_async: the page for entry, from the swap cache or read
 * in now. Returns a referenced page (locked only while the read runs) or 0.
 */
export function read_swap_cache_async(entry: number): number {
  for (;;) {
    const found = find_get_page(entry);
    if (found !== 0) return found;
    const nw = alloc_page();
    if (nw === 0) return 0;
    // lock before it is visible in the cache: faulters wait for the read
    trylock_page(nw);
    const err = add_to_swap_cache(nw, entry);
    if (err === 0) {
      lru_cache_add_active(nw);
      swap_readpage(nw);
      return nw;
    }
    unlock_page(nw);
    put_page(nw);
    if (err !== EEXIST) return 0; // -ENOENT: the slot was freed meanwhile
  }
}
