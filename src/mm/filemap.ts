// The page cache (mm/filemap.c) over the model's address_space table
// (kernel-notes 1.6). Every address_space, a file's or swapper_space (the
// swap cache, id 1), keeps its pages in a "page_tree": here a fixed array of
// slots sized to the object, indexed by page index, changed under
// mapping->tree_lock with the page locked. swapper_space is indexed by the
// whole swap entry value: one row of slots per swap type.
import { ADDRESS_SPACE, FILE_PAGES, PAGE, PG_locked, SWAPPER_SPACE, WORDS_PER_PAGE } from '../shm/layout.js';
import { B, as_base, i32, mapping_slots, nr_mappings, page_base, sizes, swap_cache_stride } from '../shm/machine.js';
import { BUG_ON } from '../check/bug.js';
import { LC_TREE } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { read_lock, read_unlock, write_lock, write_unlock } from '../sync/rwlock.js';
import { E1, E2, ERA } from '../shm/era.js';
import { swp_offset, swp_type } from './swapops.js';
import { get_page } from './swap.js';

/** a_ops->migratepage kinds (2.6.18: migrate_page, buffer_migrate_page, none = fallback_migrate_page) */
export const MIGRATE_PAGE = 0, BUFFER_MIGRATE = 1, MIGRATE_NONE = 2;
/** a_ops->writepage kinds: swap_writepage (swapper_space), or the file's own (its backing store) */
export const WRITEPAGE_SWAP = 0, WRITEPAGE_FILE = 1;
export const EEXIST = -17, ENOENT = -2;

export const mapping_tree_lock = (as: number) => as_base(as) + ADDRESS_SPACE.tree_lock;
/*
 * mapping->tree_lock: readers (lookups) take read_lock_tree, writers (insert,
 * delete, replace) write_lock_tree. 2.6.16/2.6.18 made it an rwlock_t;
 * 2.6.6 and 4.14 a spinlock; 5.1 the xarray's spinlock.
 */
export function read_lock_tree(as: number): void { if (ERA.id === E1 || ERA.id === E2) read_lock(mapping_tree_lock(as), LC_TREE); else spin_lock(mapping_tree_lock(as), LC_TREE); }
export function read_unlock_tree(as: number): void { if (ERA.id === E1 || ERA.id === E2) read_unlock(mapping_tree_lock(as)); else spin_unlock(mapping_tree_lock(as)); }
export function write_lock_tree(as: number): void { if (ERA.id === E1 || ERA.id === E2) write_lock(mapping_tree_lock(as), LC_TREE); else spin_lock(mapping_tree_lock(as), LC_TREE); }
export function write_unlock_tree(as: number): void { if (ERA.id === E1 || ERA.id === E2) write_unlock(mapping_tree_lock(as)); else spin_unlock(mapping_tree_lock(as)); }
export const mapping_i_mmap_lock = (as: number) => as_base(as) + ADDRESS_SPACE.i_mmap_lock;
export const mapping_i_mmap_head = (as: number) => as_base(as) + ADDRESS_SPACE.i_mmap_first;
export const mapping_field = (as: number, off: number) => i32[as_base(as) + off];
export const mapping_nrpages = (as: number) => i32[as_base(as) + ADDRESS_SPACE.nrpages];
/** the first file address_space id (files are SWAPPER_SPACE + 1 ..) */
export const FIRST_FILE = SWAPPER_SPACE + 1;

/** boot: lay every address_space's page_tree and backing store out (planBases sized the regions) */
export function mapping_init(): void {
  let tree = B.page_tree;
  let backing = B.backing;
  for (let as = SWAPPER_SPACE; as < nr_mappings(sizes); as++) {
    const a = as_base(as);
    i32.fill(0, a, a + ADDRESS_SPACE.stride);
    i32[a + ADDRESS_SPACE.tree_base] = tree;
    i32[a + ADDRESS_SPACE.nr_slots] = mapping_slots(sizes, as);
    tree += mapping_slots(sizes, as);
    if (as === SWAPPER_SPACE) {
      // swapper_space: migrate_page; its writepage is swap_writepage and its backing the swap slots
      i32[a + ADDRESS_SPACE.a_migratepage] = MIGRATE_PAGE;
      i32[a + ADDRESS_SPACE.a_writepage] = WRITEPAGE_SWAP;
    } else {
      i32[a + ADDRESS_SPACE.a_migratepage] = MIGRATE_PAGE;
      i32[a + ADDRESS_SPACE.a_writepage] = WRITEPAGE_FILE;
      i32[a + ADDRESS_SPACE.backing_base] = backing;
      backing += FILE_PAGES * WORDS_PER_PAGE;
    }
  }
}

/** a file's a_ops->migratepage kind (a scenario's choice, before any page is cached) */
export function mapping_set_migratepage(as: number, kind: number): void {
  i32[as_base(as) + ADDRESS_SPACE.a_migratepage] = kind;
}

/** backing[index][w] of a file: word index of its first word, or -1 past the file */
export function file_backing(as: number, index: number): number {
  return index >= 0 && index < FILE_PAGES ? i32[as_base(as) + ADDRESS_SPACE.backing_base] + index * WORDS_PER_PAGE : -1;
}

/** radix_tree_slot: word index of the slot for index in mapping's page_tree, or -1 if no slot can hold it */
export function radix_tree_slot(as: number, index: number): number {
  let k = index;
  if (as === SWAPPER_SPACE) {
    const stride = swap_cache_stride(sizes);
    const off = swp_offset(index);
    k = off < stride ? swp_type(index) * stride + off : -1;
  }
  const a = as_base(as);
  return k >= 0 && k < i32[a + ADDRESS_SPACE.nr_slots] ? i32[a + ADDRESS_SPACE.tree_base] + k : -1;
}

/** radix_tree_lookup: the page at index, or 0 (tree_lock held, or an unlocked peek) */
export function radix_tree_lookup(as: number, index: number): number {
  const slot = radix_tree_slot(as, index);
  return slot < 0 ? 0 : i32[slot];
}

/**
 * radix_tree_insert: put pfn at index and count it in nrpages. Caller holds
 * tree_lock and the page lock; returns 0, -EEXIST if the slot is taken, or
 * -ENOENT if no slot can hold the index.
 */
export function radix_tree_insert(as: number, index: number, pfn: number): number {
  const slot = radix_tree_slot(as, index);
  if (slot < 0) return ENOENT;
  if (i32[slot] !== 0) return EEXIST;
  i32[slot] = pfn;
  i32[as_base(as) + ADDRESS_SPACE.nrpages] += 1;
  return 0;
}

/** radix_tree_delete: empty the slot at index and uncount it (tree_lock and page lock held) */
export function radix_tree_delete(as: number, index: number): void {
  i32[radix_tree_slot(as, index)] = 0;
  i32[as_base(as) + ADDRESS_SPACE.nrpages] -= 1;
}

/** find_get_page: the cached page at index with a reference, or 0; takes tree_lock */
export function find_get_page(as: number, index: number): number {
  const slot = radix_tree_slot(as, index);
  if (slot < 0) return 0;
  read_lock_tree(as);
  const pfn = i32[slot];
  if (pfn !== 0) get_page(pfn);
  read_unlock_tree(as);
  return pfn;
}

/** add_to_page_cache: a file page enters mapping at index (page locked); takes tree_lock */
export function add_to_page_cache(pfn: number, as: number, index: number): number {
  BUG_ON((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in add_to_page_cache', pfn);
  write_lock_tree(as);
  const err = radix_tree_insert(as, index, pfn);
  if (err === 0) {
    get_page(pfn); // the cache's reference
    i32[page_base(pfn) + PAGE.mapping] = as << 1;
    i32[page_base(pfn) + PAGE.index] = index;
  }
  write_unlock_tree(as);
  return err;
}

/** __remove_from_page_cache: caller holds tree_lock and the page lock; the cache's reference is the caller's to drop */
export function __remove_from_page_cache(pfn: number): void {
  const as = i32[page_base(pfn) + PAGE.mapping] >>> 1;
  radix_tree_delete(as, i32[page_base(pfn) + PAGE.index]);
  i32[page_base(pfn) + PAGE.mapping] = 0;
}
