// 2.6.16's migration half of mm/vmscan.c, seed 001 (Direct Migration V9,
// era E1). There are no migration entries yet: an anonymous page is first
// given a swap slot (add_to_swap), so that try_to_unmap can turn its ptes
// into swap ptes; a faulter on such a pte finds the page through the swap
// cache and sleeps on its page lock until the migration is over, then
// retries if the page left the swap cache (do_swap_page's "Page migration
// has occured"). The cache slot moves to the new page under tree_lock once
// the reference count proves nobody else holds the old page
// (migrate_page_remove_references, where seed 001's re-check sits), and
// remove_from_swap turns the swap ptes into present ptes of the new page.
// File pages take the same path with their own mapping: ptes dropped, the
// radix slot switched, dirty pages of a mapping without migratepage written
// out first, buffers released, and swap_page (reclaim) as the last resort.
//
// The model keeps the kernel's lists as arrays of pfns: `from` is the
// caller's (0 = taken off it), `to`, `moved` and `failed` are this CPU's
// scratch lists below (one migrate_pages at a time per CPU; nothing is
// allocated per call).
import { ADDRESS_SPACE, CPUSTAT, PAGE, PG_dirty, PG_private, PG_swapcache, USER_PAGES, VMA } from '../shm/layout.js';
import { i32, page_base } from '../shm/machine.js';
import { SW_MIGRATE_NO_REFCOUNT_RECHECK, buggy } from '../shm/switches.js';
import { current } from '../cpu/current.js';
import { EV_MIGRATE, EV_MIGRATE_DONE, EV_MIGRATE_FAIL, EV_SLOT_SWITCH, trace_event } from '../cpu/events.js';
import { writeback_met } from '../cpu/io.js';
import { BUG_ON } from '../check/bug.js';
import { cond_resched } from '../sync/preempt.js';
import { PageWriteback, lock_page, trylock_page, unlock_page, wait_on_page_writeback } from '../sync/page_lock.js';
import { PAGE_MAPPING_ANON, PageAnon, PageSwapCacheP, SetPageFlag, page_cache_index, page_count, page_flags, page_mapcount, page_mapped, page_mapping, page_private, vma_field } from './mm_types.js';
import { BUFFER_MIGRATE, MIGRATE_NONE, mapping_field, radix_tree_slot, try_to_release_page, write_lock_tree, write_unlock_tree } from './filemap.js';
import { alloc_page } from './page_alloc.js';
import { get_page, move_to_lru, put_page } from './swap.js';
import { SWAP_AGAIN, SWAP_SUCCESS, rmap_walk, try_to_unmap } from './rmap.js';
import { add_to_swap, delete_from_swap_cache } from './swap_state.js';
import { unuse_vma } from './swapfile.js';
import { PAGE_KEEP, PAGE_SUCCESS, pageout, remove_mapping } from './vmscan.js';
import { EAGAIN, ENOMEM, migrate_page_copy, move_buffers, putback_lru_pages } from './migrate.js';
import { WIN_PINNED_ACROSS_UNMAP, window_open } from '../cpu/windows.js'; // cov

/** the new pages (lru_to_page takes the last), and where migrate_pages puts the pages it is done with */
const to = new Int32Array(USER_PAGES);
const moved = new Int32Array(USER_PAGES);
const failed = new Int32Array(USER_PAGES);
let nr_to = 0, nr_moved = 0, nr_failed = 0;

/** remove_vma_swap (2.6.16 swapfile.c): this vma's ptes holding the page's swap entry map the page again */
function remove_vma_swap(pfn: number, vma: number): number {
  unuse_vma(vma_field(vma, VMA.vm_mm), vma, page_private(pfn), pfn);
  return SWAP_AGAIN;
}

/**
 * remove_from_swap (2.6.16 kept it in mm/rmap.c): the swap ptes try_to_unmap
 * made become present ptes of the new page, then the page leaves the swap
 * cache (its slot is freed). Caller holds the page lock and the mmap_sem of
 * a mm mapping it ("so no need to call page_lock_anon_vma"); takes
 * anon_vma->lock, then each PTL.
 */
export function remove_from_swap(page: number): void {
  if (!PageSwapCacheP(page)) return;
  const m = i32[page_base(page) + PAGE.mapping];
  if (m === 0 || (m & PAGE_MAPPING_ANON) === 0) return;
  rmap_walk(page, remove_vma_swap, 0, 0);
  delete_from_swap_cache(page);
}

/**
 * migrate_page_remove_references: stop every access to the old page and
 * hand its cache slot to the new one, if nobody but the nr_refs expected
 * holders (isolation, cache, buffers) has it. Both pages locked; takes
 * anon_vma->lock or i_mmap_lock and each PTL (try_to_unmap), then
 * mapping->tree_lock for writing. Returns 0, or 1 to back out.
 */
function migrate_page_remove_references(newpage: number, page: number, nr_refs: number): number {
  const mapping = page_mapping(page);
  // unlocked: don't bother if the page is in use or truncate has removed it
  if (mapping === 0 || page_mapcount(page) + nr_refs !== page_count(page)) return 1;
  // swap ptes for anonymous pages (a faulter then sleeps on this page's lock), no ptes for file pages
  try_to_unmap(page, false, true);
  // a pte was missed: try again on a later pass
  if (page_mapcount(page) !== 0) return 1;
  write_lock_tree(mapping);
  const slot = radix_tree_slot(mapping, page_cache_index(page));
  const count = page_count(page);
  if (count > nr_refs) window_open(WIN_PINNED_ACROSS_UNMAP); // cov: a reference taken since the unlocked test (a get_user_pages pin)
  // switch:migrate-no-refcount-recheck (seed 001: the count is checked again under tree_lock; a reference
  // taken since the unlocked test, a get_user_pages pin, keeps the page where it is)
  if (page_mapping(page) === 0 || (!buggy(SW_MIGRATE_NO_REFCOUNT_RECHECK) && count !== nr_refs) || slot < 0 || i32[slot] !== page) {
    write_unlock_tree(mapping);
    trace_event(EV_SLOT_SWITCH, page, 0, count, nr_refs);
    return 1;
  }
  // nobody else is looking at the page; what a lookup through the slot must see comes first
  get_page(newpage); // the cache's reference
  const n = page_base(newpage), o = page_base(page);
  i32[n + PAGE.index] = i32[o + PAGE.index];
  i32[n + PAGE.mapping] = i32[o + PAGE.mapping];
  if (PageSwapCacheP(page)) {
    SetPageFlag(newpage, PG_swapcache);
    i32[n + PAGE.private] = i32[o + PAGE.private];
  }
  i32[slot] = newpage;
  Atomics.sub(i32, o + PAGE._count, 1); // __put_page: the cache's reference leaves, never the last
  trace_event(EV_SLOT_SWITCH, page, newpage, count, nr_refs);
  write_unlock_tree(mapping);
  return 0;
}

/** migrate_page: the simple migration of a page without buffers (both pages locked) */
export function migrate_page(newpage: number, page: number): number {
  BUG_ON(PageWriteback(page), 'BUG_ON(PageWriteback(page)) in migrate_page', page); // writeback must be complete
  if (migrate_page_remove_references(newpage, page, 2) !== 0) return EAGAIN;
  migrate_page_copy(newpage, page);
  // auxiliary swap entries become real ptes (a process not waiting on the page lock may use the new page now)
  remove_from_swap(newpage);
  return 0;
}

/** buffer_migrate_page (2.6.16 fs/buffer.c): as migrate_page, and the buffers move with the page (both locked) */
function buffer_migrate_page(newpage: number, page: number): number {
  if (page_mapping(page) === 0) return EAGAIN;
  if ((page_flags(page) & PG_private) === 0) return migrate_page(newpage, page);
  if (migrate_page_remove_references(newpage, page, 3) !== 0) return EAGAIN;
  move_buffers(newpage, page);
  migrate_page_copy(newpage, page);
  return 0;
}

/**
 * swap_page: the fallback, reclaim's way: unmap (young ptes win), write a
 * dirty page out, release buffers, and take the page out of its mapping.
 * Caller holds the page lock; unlocks it. 0 when the page is gone.
 */
function swap_page(page: number): number {
  const mapping = page_mapping(page);
  unlock_retry: {
    if (page_mapped(page) && mapping !== 0 && try_to_unmap(page, false) !== SWAP_SUCCESS) break unlock_retry;
    if ((page_flags(page) & PG_dirty) !== 0) {
      const out = pageout(page, mapping);
      if (out === PAGE_KEEP) break unlock_retry;
      if (out === PAGE_SUCCESS) return EAGAIN; // writepage unlocked it; a later pass finds it clean
    }
    if ((page_flags(page) & PG_private) !== 0 && (!try_to_release_page(page) || (mapping === 0 && page_count(page) === 1))) break unlock_retry;
    if (mapping !== 0 && remove_mapping(mapping, page)) {
      unlock_page(page);
      return 0;
    }
  }
  unlock_page(page);
  return EAGAIN;
}

/**
 * migrate_pages (2.6.16): move the pages of `from` to the new pages of
 * `to`, up to eleven passes while some page asks to be retried: trylock on
 * the first three passes, writeback waited for after the first, a swap
 * slot for an anonymous page, then the mapping's migratepage, or (a
 * mapping without one) writeout, buffer release and migrate_page, and
 * swap_page from the sixth pass. Done pages go to `moved` or `failed`.
 * Caller holds mmap_sem of a mm mapping the pages. Returns the pages
 * neither moved nor failed (retry) plus those failed.
 */
function migrate_pages(from: Int32Array, nr: number): number {
  let retry = 1;
  let nr_fail = 0;
  for (let pass = 0; pass <= 10 && retry > 0; pass++) { // redo while `retry && pass++ < 10`: passes 0..10
    retry = 0;
    walk: for (let i = 0; i < nr; i++) {
      const page = from[i];
      if (page === 0) continue;
      cond_resched();
      let rc = 0;
      let newpage = 0;
      let tried = false;
      next: {
        if (page_count(page) === 1) break next; // freed from under us: only our isolation reference is left
        if (nr_to === 0) break walk;
        rc = EAGAIN;
        // skip locked pages on the first passes: their holders may release them soon
        if (pass > 2) lock_page(page);
        else if (!trylock_page(page)) break next;
        tried = true;
        trace_event(EV_MIGRATE, page);
        unlock_page: {
          if (PageWriteback(page)) {
            writeback_met(page);
            // wait only once a pass may have started writeouts for many pages
            if (pass > 0) wait_on_page_writeback(page);
            else break unlock_page;
          }
          // an anonymous page keeps its ptes' information in a swap entry while it moves
          if (PageAnon(page) && !PageSwapCacheP(page) && !add_to_swap(page)) { rc = ENOMEM; break unlock_page; }
          newpage = to[nr_to - 1]; // lru_to_page(to)
          lock_page(newpage); // nobody else can see it: never blocks
          unlock_both: {
            const mapping = page_mapping(page);
            if (mapping === 0) break unlock_both; // truncated meanwhile
            const kind = mapping_field(mapping, ADDRESS_SPACE.a_migratepage);
            if (kind !== MIGRATE_NONE) { // swapper_space's is migrate_page
              rc = kind === BUFFER_MIGRATE ? buffer_migrate_page(newpage, page) : migrate_page(newpage, page);
              break unlock_both;
            }
            if ((page_flags(page) & PG_dirty) !== 0) {
              const out = pageout(page, mapping);
              if (out === PAGE_KEEP) break unlock_both;
              if (out === PAGE_SUCCESS) { unlock_page(newpage); break next; } // writepage unlocked the page; retry
              // PAGE_CLEAN: migrate it below
            }
            // no buffers, or buffers released: the simple migration
            if ((page_flags(page) & PG_private) === 0 || try_to_release_page(page)) {
              rc = migrate_page(newpage, page);
              break unlock_both;
            }
            // buffers still busy: retry on the early passes, swap it out on the later ones
            if (pass > 4) {
              unlock_page(newpage);
              newpage = 0;
              rc = swap_page(page);
              break next;
            }
          }
          unlock_page(newpage);
        }
        unlock_page(page);
      }
      if (tried) {
        if (rc === 0) trace_event(EV_MIGRATE_DONE, page, newpage);
        else trace_event(EV_MIGRATE_FAIL, page, rc, page_mapped(page) ? 1 : 0);
      }
      if (rc === EAGAIN) { retry++; continue; }
      from[i] = 0;
      if (rc !== 0) { failed[nr_failed++] = page; nr_fail++; continue; }
      if (newpage !== 0) { nr_to--; move_to_lru(newpage); } // on the LRU; our allocation reference goes
      moved[nr_moved++] = page;
    }
  }
  return nr_fail + retry;
}

/**
 * migrate_pages_to (2.6.16 mm/mempolicy.c, the caller's half, kept here
 * with what it drives): one new page per page of `from`, migrate_pages,
 * then the old pages that moved are put back (dropping the last reference
 * frees them), unused new pages freed, and every page not moved put back
 * on the LRU. Caller holds mmap_sem (checked by the entry, migrate.ts).
 * Returns the number of pages not migrated.
 */
export function migrate_pages_to(from: Int32Array, nr: number): number {
  const st = current.stat;
  nr_to = 0; nr_moved = 0; nr_failed = 0;
  for (let i = 0; i < nr; i++) {
    if (from[i] === 0) continue;
    const newpage = alloc_page();
    if (newpage === 0) break; // -ENOMEM: what has a page is still tried; the rest is put back below
    to[nr_to++] = newpage;
  }
  if (nr_to > 0) migrate_pages(from, nr);
  i32[st + CPUSTAT.migrations] += nr_moved + nr_failed;
  i32[st + CPUSTAT.migrate_ok] += nr_moved;
  i32[st + CPUSTAT.migrate_fail] += nr_failed;
  putback_lru_pages(moved, nr_moved);
  while (nr_to > 0) put_page(to[--nr_to]); // leftover new pages
  putback_lru_pages(failed, nr_failed);
  const left = putback_lru_pages(from, nr);
  i32[st + CPUSTAT.migrations] += left;
  i32[st + CPUSTAT.migrate_fail] += left;
  return nr_failed + left;
}
