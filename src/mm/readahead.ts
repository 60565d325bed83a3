// Readahead (mm/readahead.c), as the model's seed-002 reader does it
// (kernel-notes 3.3.1, filemap_read): each missing page of the batch is
// allocated, locked and added to the page cache (and the LRU) in turn, and
// only then are the reads started; so the allocation of the k-th page runs
// with pages 0..k-1 of the batch locked by this task. An allocation under
// the low mark compacts first (compaction.ts): with async exchange that
// meets this task's own locked pages.
import { FILE_PAGES } from '../shm/layout.js';
import { trylock_page, unlock_page } from '../sync/page_lock.js';
import { add_to_page_cache_lru, i_size_read, radix_tree_lookup } from './filemap.js';
import { file_readpage } from './page_io.js';
import { put_page } from './swap.js';
import { alloc_page_or_compact } from './compaction.js';

/** the most pages one readahead batch holds locked */
export const READAHEAD_MAX = 4;
const batch = new Int32Array(READAHEAD_MAX);

/**
 * page_cache_readahead (__do_page_cache_readahead + read_pages): read up
 * to n pages of mapping `as` from `index` that are not cached yet. Caller
 * holds no lock; takes each new page's lock (the I/O releases it) and
 * tree_lock to add it. Returns the pages it started reading.
 */
export function page_cache_readahead(as: number, index: number, n: number): number {
  let nr = 0;
  const end = Math.min(index + Math.min(n, READAHEAD_MAX), i_size_read(as), FILE_PAGES);
  for (let i = index; i < end; i++) {
    if (radix_tree_lookup(as, i) !== 0) continue; // an unlocked peek, as the kernel's (rcu) one
    const pfn = alloc_page_or_compact(); // pages batch[0..nr) are locked by this task meanwhile
    if (pfn === 0) break;
    trylock_page(pfn); // __SetPageLocked: nobody else can see it yet
    if (add_to_page_cache_lru(pfn, as, i) !== 0) { unlock_page(pfn); put_page(pfn); continue; }
    batch[nr++] = pfn;
  }
  // read_pages: start every read; each completion unlocks its page
  for (let k = 0; k < nr; k++) {
    file_readpage(batch[k]);
    put_page(batch[k]); // ours; the cache keeps its own
  }
  return nr;
}
