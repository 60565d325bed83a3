// mm/truncate.c and vmtruncate (mm/memory.c): shrink a file. Under i_mutex:
// i_size first, then every pte past it is zapped (unmap_mapping_range,
// which bumps truncate_count so a fault that raced us retries), then every
// cached page past it is taken out of the cache (truncate_inode_pages), and
// last the blocks are freed (the model zeroes the backing store past
// i_size, so a later extension reads zeroes, as holes do).
import { FILE_PAGES, PAGE, PAGE_SHIFT, PG_dirty, PG_private, PG_uptodate, PG_writeback, VMA, WORDS_PER_PAGE } from '../shm/layout.js';
import { i32, page_base, vma_base } from '../shm/machine.js';
import { LC_I_MMAP, LC_I_MUTEX } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_write, up_write } from '../sync/rwsem.js';
import { trylock_page, unlock_page, wait_on_page_writeback } from '../sync/page_lock.js';
import { cond_resched } from '../sync/preempt.js';
import { ClearPageFlag, page_flags, page_mapped, vma_field } from './mm_types.js';
import { remove_mapping } from './vmscan.js';
import { put_page } from './swap.js';
import { do_invalidatepage } from './buffer.js';
import { write_lock_tree, write_unlock_tree, file_backing, file_check, find_get_page, find_lock_page, i_mutex, i_size_read, i_size_write, mapping_i_mmap_head, mapping_i_mmap_lock, mapping_truncate_count, remove_from_page_cache } from './filemap.js';
import { zap_page_range } from './memory.js';

/**
 * unmap_mapping_range from page index `start` to the end of the file, in
 * every vma of the file, private COW copies too (even_cows, as vmtruncate
 * asks). Takes i_mmap_lock, then each PTL in zap_page_range.
 */
export function unmap_mapping_range(as: number, start: number): void {
  const lock = mapping_i_mmap_lock(as);
  spin_lock(lock, LC_I_MMAP);
  Atomics.add(i32, mapping_truncate_count(as), 1); // a fault that sampled the old count will retry
  for (let vma = i32[mapping_i_mmap_head(as)]; vma !== 0; vma = i32[vma_base(vma) + VMA.shared_next]) {
    const vstart = vma_field(vma, VMA.vm_start), vend = vma_field(vma, VMA.vm_end);
    const pgoff = vma_field(vma, VMA.vm_pgoff);
    const last = pgoff + ((vend - vstart) >>> PAGE_SHIFT); // one past the vma's last index
    if (last <= start) continue;
    const from = start > pgoff ? vstart + ((start - pgoff) << PAGE_SHIFT) : vstart;
    zap_page_range(vma, from, vend);
  }
  spin_unlock(lock);
}

const as_of = (pfn: number) => i32[page_base(pfn) + PAGE.mapping] >>> 1;

/** truncate_complete_page: the page leaves the cache (page locked, its mapping checked by the caller) */
function truncate_complete_page(pfn: number): void {
  do_invalidatepage(pfn); // PagePrivate: the buffers go with the data
  // clear_page_dirty (test_clear_page_dirty): the slot's dirty tag goes under tree_lock; nothing left to write
  write_lock_tree(as_of(pfn));
  ClearPageFlag(pfn, PG_dirty);
  write_unlock_tree(as_of(pfn));
  ClearPageFlag(pfn, PG_uptodate);
  remove_from_page_cache(pfn);
  put_page(pfn); // the cache's reference
}

/**
 * truncate_inode_pages from index `start`: each cached page is locked, its
 * writeback waited for, and taken out of the cache. Caller holds i_mutex.
 */
export function truncate_inode_pages(as: number, start: number): void {
  for (let index = start; index < FILE_PAGES; index++) {
    const pfn = find_lock_page(as, index);
    if (pfn === 0) continue;
    wait_on_page_writeback(pfn);
    if (i32[page_base(pfn) + PAGE.mapping] === as << 1) truncate_complete_page(pfn);
    unlock_page(pfn);
    put_page(pfn);
    cond_resched();
  }
}

/**
 * do_truncate -> vmtruncate: set the file's size to `pages`. Shrinking
 * unmaps and drops everything past it; growing only moves i_size (the
 * blocks past the old size read as zeroes). Takes i_mutex.
 */
export function do_truncate(as: number, pages: number): void {
  file_check(as, Math.max(0, pages - 1), 'do_truncate');
  down_write(i_mutex(as), LC_I_MUTEX);
  const old = i_size_read(as);
  i_size_write(as, pages);
  if (pages < old) {
    unmap_mapping_range(as, pages);
    truncate_inode_pages(as, pages);
    // the file system frees the blocks: no page is cached past i_size any more, so no I/O can reach them
    for (let index = pages; index < old; index++) {
      const d = file_backing(as, index);
      for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, d + w, 0);
    }
  }
  up_write(i_mutex(as));
}

/**
 * invalidate_mapping_pages (seed 002's readers, fadvise(POSIX_FADV_DONTNEED)):
 * drop the clean, unmapped, idle cached pages of [start, end) from the
 * cache; a busy page stays. Takes each page lock (trylock, as
 * invalidate_inode_page's caller does), then tree_lock in remove_mapping.
 */
export function invalidate_mapping_pages(as: number, start: number, end: number): number {
  let dropped = 0;
  for (let index = start; index < end && index < FILE_PAGES; index++) {
    const pfn = find_get_page(as, index);
    if (pfn === 0) continue;
    if (trylock_page(pfn)) {
      const f = page_flags(pfn);
      if (i32[page_base(pfn) + PAGE.mapping] === as << 1 && !page_mapped(pfn) && (f & (PG_dirty | PG_writeback | PG_private)) === 0 && remove_mapping(as, pfn)) dropped++;
      unlock_page(pfn);
    }
    put_page(pfn);
  }
  return dropped;
}
