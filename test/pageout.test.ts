// pageout's "if (!mapping) return PAGE_KEEP" (2.6.6-2.6.18): a dirty page
// reclaim isolated while it was anon can lose its rmap and its swap cache
// before reclaim locks it (E0: a swap-in took it out of the cache under
// vm_swap_full and has not mapped it yet). There is nothing to write it to.
// Without the line the model wrote it through address_space 0 (whose
// a_writepage reads as swap): a swap write of a page in no swap cache, left
// under writeback with no cache reference, freed mid-write ("Bad page state"
// in e0-family-stress, once in CI and about 1 in 300 six-CPU runs).
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { get_page, put_page } from '../src/mm/swap.js';
import { PAGE_KEEP, pageout } from '../src/mm/vmscan.js';
import { trylock_page, unlock_page } from '../src/sync/page_lock.js';
import { SetPageFlag, page_flags } from '../src/mm/mm_types.js';
import { PG_dirty, PG_writeback } from '../src/shm/layout.js';
import { E0, E2 } from '../src/shm/era.js';

describe('pageout of a page with no mapping', () => {
  for (const era of [E0, E2]) {
    it(`keeps it, dirty and not under writeback (era ${era})`, () => {
      boot({}, 0, era);
      const pfn = alloc_page(); // the isolation's reference
      get_page(pfn); // the swap-in's lookup reference, not yet a pte's
      SetPageFlag(pfn, PG_dirty);
      expect(trylock_page(pfn)).toBe(true);
      expect(pageout(pfn, 0)).toBe(PAGE_KEEP);
      expect(page_flags(pfn) & (PG_dirty | PG_writeback)).toBe(PG_dirty);
      unlock_page(pfn);
      put_page(pfn);
    });
  }
});
