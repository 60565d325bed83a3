// The page cache (mm/filemap.c) over the model's address_space table
// (kernel-notes 1.6). Every address_space, a file's or swapper_space (the
// swap cache, id 1), keeps its pages in a "page_tree": here a fixed array of
// slots sized to the object, indexed by page index, changed under
// mapping->tree_lock with the page locked. swapper_space is indexed by the
// whole swap entry value: one row of slots per swap type. Files add the
// inode's side (i_mutex, i_size, truncate_count), faults (filemap_nopage),
// read(2)/write(2) of one word, and fsync's writeback.
import { ADDRESS_SPACE, FILE_PAGES, PAGE, PG_dirty, PG_locked, PG_private, PG_uptodate, PG_writeback, SWAPPER_SPACE, VMA, WORDS_PER_PAGE } from '../shm/layout.js';
import { BASES, as_base, i32, mapping_slots, nr_mappings, page_base, phys_base, sizes, swap_cache_stride } from '../shm/machine.js';
import { BUG, BUG_ON } from '../check/bug.js';
import { LC_I_MUTEX, LC_TREE } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_write, up_write } from '../sync/rwsem.js';
import { lock_page, trylock_page, unlock_page, wait_on_page_writeback } from '../sync/page_lock.js';
import { read_lock, read_unlock, write_lock, write_unlock } from '../sync/rwlock.js';
import { E4, ERA } from '../shm/era.js';
import { PP_RESCHED, check_halt, cpu_relax, preempt_point } from '../sync/preempt.js';
import { swp_offset, swp_type } from './swapops.js';
import { get_page, get_page_unless_zero, lru_cache_add, mark_page_accessed, put_page } from './swap.js';
import { alloc_page } from './page_alloc.js';
import { SetPageFlag, TestClearPageFlag, linear_page_index, vma_field } from './mm_types.js';
import { set_page_dirty } from './rmap.js';
import { file_readpage, writepage } from './page_io.js';
import { create_empty_buffers, try_to_free_buffers } from './buffer.js';

/** a_ops->migratepage kinds (2.6.18: migrate_page, buffer_migrate_page, none = fallback_migrate_page) */
export const MIGRATE_PAGE = 0, BUFFER_MIGRATE = 1, MIGRATE_NONE = 2;
/** a_ops->writepage kinds: swap_writepage (swapper_space), or the file's own (its backing store) */
export const WRITEPAGE_SWAP = 0, WRITEPAGE_FILE = 1;
export const EEXIST = -17, ENOENT = -2, ENOMEM = -12;

export const mapping_tree_lock = (as: number) => as_base(as) + ADDRESS_SPACE.tree_lock;
/*
 * mapping->tree_lock: readers (lookups) take read_lock_tree, writers (insert,
 * delete, replace) write_lock_tree. 2.6.16/2.6.18 made it an rwlock_t;
 * 2.6.6 and 4.14 a spinlock; 5.1 the xarray's spinlock.
 */
export function read_lock_tree(as: number): void { if (ERA.tree_rwlock) read_lock(mapping_tree_lock(as), LC_TREE); else spin_lock(mapping_tree_lock(as), LC_TREE); }
export function read_unlock_tree(as: number): void { if (ERA.tree_rwlock) read_unlock(mapping_tree_lock(as)); else spin_unlock(mapping_tree_lock(as)); }
export function write_lock_tree(as: number): void { if (ERA.tree_rwlock) write_lock(mapping_tree_lock(as), LC_TREE); else spin_lock(mapping_tree_lock(as), LC_TREE); }
export function write_unlock_tree(as: number): void { if (ERA.tree_rwlock) write_unlock(mapping_tree_lock(as)); else spin_unlock(mapping_tree_lock(as)); }
export const mapping_i_mmap_lock = (as: number) => as_base(as) + ADDRESS_SPACE.i_mmap_lock;
export const mapping_i_mmap_head = (as: number) => as_base(as) + ADDRESS_SPACE.i_mmap_first;
export const mapping_field = (as: number, off: number) => i32[as_base(as) + off];
export const mapping_nrpages = (as: number) => i32[as_base(as) + ADDRESS_SPACE.nrpages];
/** the first file address_space id (files are SWAPPER_SPACE + 1 ..) */
export const FIRST_FILE = SWAPPER_SPACE + 1;

/** boot: lay every address_space's page_tree and backing store out (planBases sized the regions) */
export function mapping_init(): void {
  let tree = BASES.page_tree;
  let backing = BASES.backing;
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
      // a disk file system's file (ext2/ext3 in 2.6.18): its pages carry buffers, so buffer_migrate_page
      i32[a + ADDRESS_SPACE.a_migratepage] = BUFFER_MIGRATE;
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

/** find_get_page: the cached page at index with a reference, or 0; takes tree_lock (E4: none, see find_get_entry) */
export function find_get_page(as: number, index: number): number {
  const slot = radix_tree_slot(as, index);
  if (slot < 0) return 0;
  if (ERA.id === E4) return find_get_entry(slot);
  read_lock_tree(as);
  const pfn = i32[slot];
  if (pfn !== 0) get_page(pfn);
  read_unlock_tree(as);
  return pfn;
}

/**
 * find_get_entry (5.1, under rcu_read_lock: no lock at all): read the slot,
 * take a speculative reference with get_page_unless_zero (a page frozen by
 * a migrator or an exchanger reads 0: look again, this CPU spins here until
 * it is unfrozen or the slot changes), then re-check that the slot still
 * holds the page, else drop it and look again (kernel-notes 3.3.1)
 */
function find_get_entry(slot: number): number {
  for (;;) {
    const pfn = Atomics.load(i32, slot); // xas_load
    if (pfn === 0) return 0;
    preempt_point(PP_RESCHED, -1);
    if (!get_page_unless_zero(pfn)) { cpu_relax(); check_halt(); continue; } // frozen (or being freed): repeat
    if (Atomics.load(i32, slot) === pfn) return pfn; // the page moved while we took it? no
    put_page(pfn);
  }
}

/** add_to_page_cache: a file page enters mapping at index (page locked); takes tree_lock */
export function add_to_page_cache(pfn: number, as: number, index: number): number {
  BUG_ON((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) === 0, 'mmrace: add_to_page_cache of a page that is not locked', pfn);
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

/** remove_from_page_cache: caller holds the page lock; takes tree_lock for write */
export function remove_from_page_cache(pfn: number): void {
  BUG_ON((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in remove_from_page_cache', pfn);
  const as = i32[page_base(pfn) + PAGE.mapping] >>> 1;
  write_lock_tree(as);
  __remove_from_page_cache(pfn);
  write_unlock_tree(as);
}

// ---------------------------------------------------------------------------
// Files. The model keeps an inode's few fields in its address_space:
// i_mutex (write(2) and truncate hold it), i_size in pages, and the
// truncate_count a fault samples to see a truncate race it.

export const i_mutex = (as: number) => as_base(as) + ADDRESS_SPACE.i_mutex;
/** i_size_read: the file's size in pages (no lock: a racing truncate is caught by truncate_count or the page's mapping) */
export const i_size_read = (as: number) => Atomics.load(i32, as_base(as) + ADDRESS_SPACE.i_size);
/** i_size_write: caller holds i_mutex */
export function i_size_write(as: number, pages: number): void {
  Atomics.store(i32, as_base(as) + ADDRESS_SPACE.i_size, pages);
}
export const mapping_truncate_count = (as: number) => as_base(as) + ADDRESS_SPACE.truncate_count;
/** the address_space ids of files: FIRST_FILE .. last_file() */
export const last_file = () => nr_mappings(sizes) - 1;

/**
 * mmrace: a call into the page cache must name a file of this machine and an
 * index its page tree holds (FILE_PAGES). The kernel's callers cannot get
 * this wrong (the VFS hands them the mapping); a scenario module can, and
 * gets a BUG instead of a corrupted tree.
 */
export function file_check(as: number, index: number, fn: string): void {
  if (!(as >= FIRST_FILE && as <= last_file())) BUG(`mmrace: ${fn}: address_space#${as} is not a file of this machine (files are #${FIRST_FILE}..#${last_file()}; sizes.nr_files)`);
  if (!(index >= 0 && index < FILE_PAGES)) BUG(`mmrace: ${fn}: index ${index} is past address_space#${as}'s page tree (${FILE_PAGES} pages)`);
}

/**
 * find_lock_page: the cached page at index, locked and referenced, or 0.
 * A page truncated while we slept on its lock is let go and looked up again.
 */
export function find_lock_page(as: number, index: number): number {
  for (;;) {
    const pfn = find_get_page(as, index);
    if (pfn === 0) return 0;
    lock_page(pfn);
    // Has the page been truncated while we slept?
    if (i32[page_base(pfn) + PAGE.mapping] === as << 1 && i32[page_base(pfn) + PAGE.index] === index) return pfn;
    unlock_page(pfn);
    put_page(pfn);
  }
}

/** add_to_page_cache_lru: add_to_page_cache, then the inactive list (page locked) */
export function add_to_page_cache_lru(pfn: number, as: number, index: number): number {
  const err = add_to_page_cache(pfn, as, index);
  if (err === 0) lru_cache_add(pfn);
  return err;
}

/**
 * page_cache_read: start reading index into a new cache page (the caller
 * saw none). Returns 0 (read started, or someone else added the page) or
 * -ENOMEM. The new page stays locked until its read completes.
 */
export function page_cache_read(as: number, index: number): number {
  const pfn = alloc_page();
  if (pfn === 0) return ENOMEM;
  trylock_page(pfn); // nobody else can see it yet
  const err = add_to_page_cache_lru(pfn, as, index);
  if (err === 0) file_readpage(pfn); // the I/O unlocks it
  else unlock_page(pfn);
  put_page(pfn); // ours; the cache keeps its own
  return err === EEXIST ? 0 : err;
}

/**
 * wait_on_page_read: the page was found !PG_uptodate: its read is in flight
 * (the page is locked until it completes). Returns false if the page left
 * the cache meanwhile (truncated or reclaimed): look it up again.
 */
function wait_on_page_read(pfn: number, as: number): boolean {
  if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_uptodate) !== 0) return true;
  lock_page(pfn);
  const ok = i32[page_base(pfn) + PAGE.mapping] === as << 1 && (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_uptodate) !== 0;
  unlock_page(pfn);
  return ok;
}

/**
 * find_get_page, reading the page in if it is not cached: the page, up to
 * date and referenced, or 0 when out of memory. Caller holds no spinlock.
 */
export function read_cache_page(as: number, index: number): number {
  for (;;) {
    const pfn = find_get_page(as, index);
    if (pfn === 0) {
      if (page_cache_read(as, index) !== 0) return 0;
      continue;
    }
    if (wait_on_page_read(pfn, as)) return pfn;
    put_page(pfn);
  }
}

export const NOPAGE_SIGBUS = -1, NOPAGE_OOM = -2;

/**
 * filemap_nopage: the page for a fault on a file vma, referenced, or
 * NOPAGE_SIGBUS past the end of the file, NOPAGE_OOM. Caller holds mmap_sem
 * for read and no spinlock. E4 (5.1's filemap_fault): the page is returned
 * locked (VM_FAULT_LOCKED); the caller unlocks it once the pte is set.
 */
export function filemap_nopage(vma: number, addr: number): number {
  const as = vma_field(vma, VMA.vm_file);
  const pgoff = linear_page_index(vma, addr);
  if (pgoff >= i_size_read(as) || pgoff >= FILE_PAGES) return NOPAGE_SIGBUS;
  const pfn = read_cache_page(as, pgoff);
  if (pfn === 0) return NOPAGE_OOM;
  if (ERA.id === E4) {
    // lock_page, then is it still this file's page at pgoff? (truncated, reclaimed, or exchanged: an
    // exchange moves mapping and index to the other page) If not, drop it and look again
    lock_page(pfn);
    if (i32[page_base(pfn) + PAGE.mapping] !== as << 1 || i32[page_base(pfn) + PAGE.index] !== pgoff) {
      unlock_page(pfn);
      put_page(pfn);
      return filemap_nopage(vma, addr);
    }
  }
  mark_page_accessed(pfn);
  return pfn;
}

/** rw_status of the last file_read/file_write on this CPU (no allocation per call) */
export const FILE_OK = 0, FILE_EOF = 1, FILE_ENOMEM = 2, FILE_EFBIG = 3;
export const file_rw = { status: FILE_OK };

/**
 * do_generic_mapping_read for one word at (index, word): read(2) through the
 * page cache. Past i_size it reads nothing (FILE_EOF). Takes tree_lock for
 * read in the lookup, the page lock only to wait for a read in flight.
 */
export function file_read(as: number, index: number, word: number): number {
  file_check(as, index, 'do_generic_mapping_read');
  if (index >= i_size_read(as)) { file_rw.status = FILE_EOF; return 0; }
  const pfn = read_cache_page(as, index);
  if (pfn === 0) { file_rw.status = FILE_ENOMEM; return 0; }
  // i_size may have shrunk while we read: nothing past it may be returned
  if (index >= i_size_read(as)) { put_page(pfn); file_rw.status = FILE_EOF; return 0; }
  const v = Atomics.load(i32, phys_base(pfn) + word);
  mark_page_accessed(pfn);
  put_page(pfn);
  file_rw.status = FILE_OK;
  return v;
}

/**
 * __grab_cache_page: the page at index, locked and referenced, a new one
 * added to the cache if there was none; 0 when out of memory.
 */
function __grab_cache_page(as: number, index: number): number {
  for (;;) {
    const found = find_lock_page(as, index);
    if (found !== 0) return found;
    const pfn = alloc_page();
    if (pfn === 0) return 0;
    trylock_page(pfn);
    if (add_to_page_cache_lru(pfn, as, index) === 0) return pfn;
    unlock_page(pfn);
    put_page(pfn);
  }
}

/**
 * block_prepare_write for a page that is not up to date: the page gets
 * buffers, and the rest of a block inside the file is read first (the model
 * reads it synchronously under the page lock, as the buffer reads do); a
 * block past the end of the file starts as zeroes (the backing past i_size
 * is zero: truncate clears it).
 */
function prepare_write(pfn: number, as: number, index: number): void {
  if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_private) === 0) create_empty_buffers(pfn);
  if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_uptodate) !== 0) return;
  const src = file_backing(as, index), dst = phys_base(pfn);
  for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, dst + w, Atomics.load(i32, src + w));
}

/**
 * generic_file_buffered_write of one word: write(2) through the page cache
 * under i_mutex. The page is locked while the word is copied in, then
 * marked up to date and dirty (generic_commit_write); writeback or reclaim
 * write it out later. Extends i_size when the write is past it.
 */
export function file_write(as: number, index: number, word: number, value: number): void {
  file_check(as, index, 'generic_file_buffered_write');
  down_write(i_mutex(as), LC_I_MUTEX);
  const pfn = __grab_cache_page(as, index);
  if (pfn === 0) { up_write(i_mutex(as)); file_rw.status = FILE_ENOMEM; return; }
  prepare_write(pfn, as, index);
  Atomics.store(i32, phys_base(pfn) + word, value);
  // generic_commit_write: the buffers and the page are up to date and dirty
  SetPageFlag(pfn, PG_uptodate);
  set_page_dirty(pfn);
  if (index >= i_size_read(as)) i_size_write(as, index + 1);
  unlock_page(pfn);
  mark_page_accessed(pfn);
  put_page(pfn);
  up_write(i_mutex(as));
  file_rw.status = FILE_OK;
}

/**
 * try_to_release_page: drop a page's clean buffers (PG_private, the buffer
 * id in private and their reference); false while they are dirty or under
 * I/O. Caller holds the page lock.
 */
export function try_to_release_page(pfn: number): boolean {
  BUG_ON((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in try_to_release_page', pfn);
  if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_writeback) !== 0) return false;
  return try_to_free_buffers(pfn);
}

/**
 * filemap_fdatawrite + filemap_fdatawait: start a write of every dirty
 * page of the file, then wait for every write (fsync, msync(MS_SYNC)).
 * Takes each page lock in turn (mpage_writepages); the I/O unlocks it.
 */
export function do_fsync(as: number): void {
  file_check(as, 0, 'do_fsync');
  for (let index = 0; index < FILE_PAGES; index++) {
    const pfn = find_lock_page(as, index);
    if (pfn === 0) continue;
    wait_on_page_writeback(pfn); // WB_SYNC_ALL
    if (TestClearPageFlag(pfn, PG_dirty)) writepage(as, pfn); // clear_page_dirty_for_io; unlocks
    else unlock_page(pfn);
    put_page(pfn);
  }
  for (let index = 0; index < FILE_PAGES; index++) {
    const pfn = find_get_page(as, index);
    if (pfn === 0) continue;
    wait_on_page_writeback(pfn);
    put_page(pfn);
  }
}
