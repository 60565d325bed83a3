// mm/page_io.c and the writepage side of the page cache: the submit half of
// I/O. A write sets PG_writeback, queues the bio and unlocks the page; a read
// queues the bio and leaves the page locked and !PG_uptodate. The transfer
// and the completion are the I/O agent's (src/cpu/io.ts), on another CPU or
// on whichever CPU must wait for the page.
import { ADDRESS_SPACE, PAGE, PG_error, PG_locked, PG_swapcache, PG_uptodate, PG_writeback, SWAP_INFO, SWAP_SLOTS, WORDS_PER_PAGE } from '../shm/layout.js';
import { BASES, as_base, i32, page_base, phys_base } from '../shm/machine.js';
import { BUG_ON, OOPS_ERROR, fail } from '../check/bug.js';
import { page_lock_to_io, unlock_page } from '../sync/page_lock.js';
import { READ, WRITE, submit_bio } from '../cpu/io.js';
import { ClearPageFlag, SetPageFlag, page_flags } from './mm_types.js';
import { swp_offset, swp_type } from './swapops.js';
import { SWP_USED, nr_swapfiles, swap_info } from './swapfile.js';
import { WRITEPAGE_SWAP, file_backing, i_size_read } from './filemap.js';

/** the device slot an entry names (word index of its contents), or -1 if no switched-on device has it */
export function swap_device_slot(entry: number, fn: string): number {
  const type = swp_type(entry), off = swp_offset(entry);
  const sis = swap_info(type, fn); // get_swap_bio: &swap_info[type], unchecked as in the kernel
  if (type >= nr_swapfiles() || (i32[sis + SWAP_INFO.flags] & SWP_USED) === 0 ||
      off >= i32[sis + SWAP_INFO.max] || off >= SWAP_SLOTS) return -1;
  return BASES.swap_slots + (type * SWAP_SLOTS + off) * WORDS_PER_PAGE;
}

/** __writepage: page locked, clean for I/O; under writeback and unlocked on return */
function __writepage(pfn: number, dev: number): void {
  BUG_ON((page_flags(pfn) & PG_locked) === 0, 'mmrace: writepage of a page its caller has not locked', pfn);
  BUG_ON((page_flags(pfn) & PG_writeback) !== 0, 'BUG_ON(PageWriteback(page)) in set_page_writeback', pfn);
  SetPageFlag(pfn, PG_writeback); // set_page_writeback
  submit_bio(WRITE, pfn, dev);
  unlock_page(pfn);
}

/** swap_writepage: page locked, in the swap cache, clean for I/O; starts the write and unlocks the page */
export function swap_writepage(pfn: number): void {
  // the model's check: a swap write of a page that left the swap cache writes another page's slot, and the page
  // is left under writeback with no cache reference (its last put frees it mid-write: Bad page state)
  BUG_ON((page_flags(pfn) & PG_swapcache) === 0, 'mmrace: swap_writepage of a page not in the swap cache', pfn);
  const d = swap_device_slot(i32[page_base(pfn) + PAGE.private], 'swap_writepage');
  BUG_ON(d < 0, 'BUG_ON(!swap device) in swap_writepage', pfn);
  __writepage(pfn, d);
}

/** a file's writepage: to backing[index] (page locked, clean for I/O); unlocks the page */
function file_writepage(pfn: number): void {
  const p = page_base(pfn);
  const as = i32[p + PAGE.mapping] >>> 1, index = i32[p + PAGE.index];
  // block_write_full_page: a page wholly outside i_size (truncate is taking it away) is not written
  if (index >= i_size_read(as)) { unlock_page(pfn); return; }
  const d = file_backing(as, index);
  BUG_ON(d < 0, 'mmrace: index past the file in writepage', pfn);
  __writepage(pfn, d);
}

/**
 * a file's readpage (mpage_readpage): page locked, in the cache, not up to
 * date. Queues the read from backing[index]; the page stays locked until
 * the I/O agent completes it and sets PG_uptodate.
 */
export function file_readpage(pfn: number): void {
  BUG_ON((page_flags(pfn) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in readpage', pfn);
  const p = page_base(pfn);
  const as = i32[p + PAGE.mapping] >>> 1, index = i32[p + PAGE.index];
  // block_read_full_page: blocks past i_size (read at readpage time) are zero-filled, not read: a page
  // a racing truncate has already passed comes up zeroed, never with the freed blocks' old data
  if (index >= i_size_read(as)) {
    for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, phys_base(pfn) + w, 0);
    SetPageFlag(pfn, PG_uptodate);
    unlock_page(pfn);
    return;
  }
  const d = file_backing(as, index);
  BUG_ON(d < 0, 'mmrace: index past the file in readpage', pfn);
  page_lock_to_io(pfn);
  submit_bio(READ, pfn, d);
}

/** mapping->a_ops->writepage(page): page locked; the I/O is started and the page unlocked */
export function writepage(mapping: number, pfn: number): void {
  if (i32[as_base(mapping) + ADDRESS_SPACE.a_writepage] === WRITEPAGE_SWAP) swap_writepage(pfn);
  else file_writepage(pfn);
}

/**
 * swap_readpage: page locked, in the swap cache, !PG_uptodate. Queues the
 * read; the page stays locked until it completes. An entry no device backs
 * fails at once (end_swap_bio_read with an error).
 */
export function swap_readpage(pfn: number): void {
  BUG_ON((page_flags(pfn) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in swap_readpage', pfn);
  const entry = i32[page_base(pfn) + PAGE.private];
  const d = swap_device_slot(entry, 'swap_readpage');
  if (d < 0) {
    // end_swap_bio_read with an error: the page stays !Uptodate
    SetPageFlag(pfn, PG_error);
    ClearPageFlag(pfn, PG_uptodate);
    unlock_page(pfn);
    fail(OOPS_ERROR, `Read-error on swap-device (entry ${(entry >>> 0).toString(16).padStart(8, '0')}: type ${swp_type(entry)} offset ${swp_offset(entry)} is on no swap device)`, pfn);
  }
  page_lock_to_io(pfn);
  submit_bio(READ, pfn, d);
}
