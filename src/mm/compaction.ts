// Compaction by exchange (mm/compaction.c's role in the model, seed 002's
// async callers; kernel-notes 3.3.5). When free memory falls below a low
// mark, an allocation compacts in its own context before it takes a page:
// the task is marked PF_MEMALLOC and exchanges a few (anon, file) pairs it
// isolates from the LRU tails with MIGRATE_ASYNC | MIGRATE_MT. The context
// may hold page locks (readahead's batch), which is why async mode must
// never sleep on a page lock (switch exchange-async-mode-mask; C-ASYNC).
// (inference: the series' tiering/defrag callers; the model makes the
// trigger explicit.)
import { PAGE, PG_swapcache, ZONE } from '../shm/layout.js';
import { BASES, i32, page_base } from '../shm/machine.js';
import { PF_MEMALLOC, current } from '../cpu/current.js';
import { EV_COMPACT, trace_event } from '../cpu/events.js';
import { LC_LRU } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { PAGE_MAPPING_ANON } from './mm_types.js';
import { alloc_page, nr_free_pages } from './page_alloc.js'; // scale: the buddy's free pages and the per-CPU lists'
import { isolate_lru_page, lru_lock, putback_lru_page } from './swap.js';
import { exchange_pages } from './exchange.js';
import { MIGRATE_ASYNC, MIGRATE_MT } from './migrate_mode.js';

/** pairs one compaction pass exchanges at most (K of kernel-notes 6.9) */
export const COMPACT_PAIRS = 2;
/** LRU entries one pass looks at, from each list's tail */
const SCAN = 64;

/** the low mark: free pages under it make an allocation compact first (0: never; a scenario's knob, per CPU) */
let low_mark = 0;
export function set_compact_low_mark(n: number): void { low_mark = n; }

const candidates = new Int32Array(4 * COMPACT_PAIRS);
const pairs = new Int32Array(2 * COMPACT_PAIRS);

/**
 * isolate_exchange_pairs: up to COMPACT_PAIRS anon pages (not in the swap
 * cache) and as many file pages, from the tails of the LRU lists; each
 * isolated (a reference, off the LRU). Takes lru_lock to look, then each
 * isolation takes it again. Returns the pairs made; an unpaired isolated
 * page goes back.
 */
function isolate_exchange_pairs(): number {
  let nanon = 0, nfile = 0;
  spin_lock(lru_lock(), LC_LRU);
  for (let list = 0; list < 2; list++) {
    const last = list === 0 ? ZONE.inactive_last : ZONE.active_last;
    let n = 0;
    for (let pfn = i32[BASES.zone + last]; pfn !== 0 && n < SCAN; pfn = i32[page_base(pfn) + PAGE.lru_prev], n++) {
      const m = i32[page_base(pfn) + PAGE.mapping];
      if (m === 0 || (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_swapcache) !== 0) continue;
      if ((m & PAGE_MAPPING_ANON) !== 0) { if (nanon < COMPACT_PAIRS) candidates[nanon++] = pfn; }
      else if (nfile < COMPACT_PAIRS) candidates[COMPACT_PAIRS + nfile++] = pfn;
    }
  }
  spin_unlock(lru_lock());
  let nr = 0;
  for (let k = 0; k < Math.min(nanon, nfile); k++) {
    const from = candidates[k], to = candidates[COMPACT_PAIRS + k];
    if (isolate_lru_page(from) !== 0) continue;
    if (isolate_lru_page(to) !== 0) { putback_lru_page(from); continue; }
    pairs[2 * nr] = from; pairs[2 * nr + 1] = to;
    nr++;
  }
  return nr;
}

/**
 * compact_zone_exchange: one pass of async exchange compaction in the
 * allocating task (PF_MEMALLOC set across it). Caller may hold page locks,
 * no spinlock.
 */
export function compact_zone_exchange(): void {
  const nr = isolate_exchange_pairs();
  trace_event(EV_COMPACT, nr_free_pages(), nr);
  if (nr === 0) return;
  const old = current.flags;
  current.flags |= PF_MEMALLOC; // memalloc_noreclaim_save
  try {
    exchange_pages(pairs, nr, MIGRATE_ASYNC | MIGRATE_MT);
  } finally {
    current.flags = old; // memalloc_noreclaim_restore
  }
}

/**
 * alloc_page_or_compact: alloc_page, compacting first when free memory is
 * under the low mark (__alloc_pages_direct_compact's place). Caller may
 * hold page locks, no spinlock. Returns a pfn or 0.
 */
export function alloc_page_or_compact(): number {
  if (low_mark > 0 && nr_free_pages() < low_mark) compact_zone_exchange();
  return alloc_page();
}
