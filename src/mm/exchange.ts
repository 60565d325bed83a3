// Exchange pages (mm/exchange.c of the 5.1 RFC series, with seed 002's
// patch: "exchange anonymous page and file-backed page"; kernel-notes
// 3.3). Instead of migrating a page to a new one, two isolated pages swap
// places: both are locked and unmapped (migration entries), their
// references proved exact and frozen, then index, mapping, PG_swapbacked,
// the page-cache slot (when `to` is a file page), the data and the flags
// are exchanged, and every migration entry is pointed at the other page.
// `from` must be anonymous (page_mapping 0); `to` is anonymous or a page of
// a file's page cache. Every failure step is unwound.
//
// The switches of seed 002 are read here: exchange-lock-order and
// exchange-async-mode-mask in unmap_and_exchange's lock steps,
// exchange-writeback-bug-on at its writeback test (the hunk the seed
// changes) and exchange-busy-unlock at that hunk's -EBUSY exit (a bug of
// the RFC itself), exchange-freeze-no-unwind at the second freeze.
import { CPUSTAT, PAGE, PG_active, PG_checked, PG_dirty, PG_error, PG_mappedtodisk, PG_private, PG_referenced, PG_swapbacked, PG_swapcache, PG_uptodate, PG_writeback, ADDRESS_SPACE, WORDS_PER_PAGE } from '../shm/layout.js';
import { i32, page_base, phys_base } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EV_EXCHANGE, EV_EXCHANGE_BACKOFF, EV_EXCHANGE_DONE, EV_EXCHANGE_MAPPING, trace_event } from '../cpu/events.js';
import { BUG, BUG_ON, OOPS_INVARIANT, fail } from '../check/bug.js';
import { LC_TREE } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { cond_resched } from '../sync/preempt.js';
import { PageLocked, PageWriteback, lock_page, trylock_page, unlock_page, wait_on_page_locked, wait_on_page_writeback } from '../sync/page_lock.js';
import { SW_EXCHANGE_ASYNC_MODE_MASK, SW_EXCHANGE_BUSY_UNLOCK, SW_EXCHANGE_FREEZE_NO_UNWIND, SW_EXCHANGE_LOCK_ORDER, SW_EXCHANGE_WRITEBACK_BUG_ON, buggy } from '../shm/switches.js';
import { PAGE_MAPPING_ANON, PageAnon, PageSwapCacheP, page_count, page_mapped, page_mapping } from './mm_types.js';
import { BUFFER_MIGRATE, MIGRATE_NONE, MIGRATE_PAGE, mapping_field, mapping_tree_lock, radix_tree_slot, try_to_release_page } from './filemap.js';
import { EAGAIN, EBUSY, expected_page_refs, move_buffers, remove_migration_ptes, writeout } from './migrate.js';
import { MIGRATE_ASYNC, MIGRATE_MODE_MASK, MIGRATE_SYNC } from './migrate_mode.js';
import { page_ref_forget_frozen, page_ref_freeze, page_ref_frozen_by_me, page_ref_unfreeze } from './page_ref.js';
import { page_get_anon_vma, put_anon_vma, try_to_unmap } from './rmap.js';
import { buffer_migrate_lock_buffers, try_to_free_buffers, unlock_buffer } from './buffer.js';
import { put_page, putback_lru_page } from './swap.js';
import { WIN_EXCHANGE_FREEZE_FROM_FAILED, WIN_EXCHANGE_SECOND_LOCKED, WIN_EXCHANGE_TO_WRITEBACK, window_open } from '../cpu/windows.js'; // cov

export const MIGRATEPAGE_SUCCESS = 0;
/** exchange_pages: a page of the pair was freed under us (only the isolation reference was left): not exchanged, nothing to retry */
const FREED_UNDER_US = 1;

/** why exchange_page_move_mapping backed out (EV_EXCHANGE_MAPPING's last argument) */
const WHY_COUNT = 0, WHY_SLOT = 1, WHY_FREEZE_TO = 2, WHY_FREEZE_FROM = 3;

/**
 * the mode tests of unmap_and_exchange. Fixed: the mode proper, flag bits
 * masked off; switch:exchange-async-mode-mask (buggy): the whole mode word,
 * so MIGRATE_ASYNC | MIGRATE_MT is not "async" and MIGRATE_SYNC | MIGRATE_MT
 * is not "sync"
 */
const mode_is_async = (mode: number) => (buggy(SW_EXCHANGE_ASYNC_MODE_MASK) ? mode : mode & MIGRATE_MODE_MASK) === MIGRATE_ASYNC;
const mode_is_sync = (mode: number) => (buggy(SW_EXCHANGE_ASYNC_MODE_MASK) ? mode : mode & MIGRATE_MODE_MASK) === MIGRATE_SYNC;

/** VM_BUG_ON_PAGE(cond, page): CONFIG_DEBUG_VM is on in the model's E4 */
function VM_BUG_ON_PAGE(cond: boolean, what: string, pfn: number): void {
  BUG_ON(cond, `VM_BUG_ON_PAGE(${what})`, pfn);
}

const flags = (pfn: number) => Atomics.load(i32, page_base(pfn) + PAGE.flags);
const has = (pfn: number, f: number) => (flags(pfn) & f) !== 0;

/**
 * C-FREEZE (kernel-notes 5.2): the freezer is letting go of xa_lock; no page
 * it froze may still read 0. Model-only (mmrace:), immediate.
 */
function xas_unlock_check(as: number, fn: string): void {
  spin_unlock(mapping_tree_lock(as));
  const left = page_ref_frozen_by_me();
  if (left !== 0) fail(OOPS_INVARIANT, `mmrace: C-FREEZE: pfn ${left} left frozen (refcount 0) as ${fn} released xa_lock of mapping#${as}`, left);
}

/**
 * exchange_page_move_mapping: prove each page's references exact, then
 * swap index, mapping and PG_swapbacked, and (to in the page cache) move
 * the cache slot and its reference from to to from. Caller holds both page
 * locks, both pages unmapped; takes to_mapping's xa_lock, and freezes to,
 * then from, under it (kernel-notes 2.4: the cache page first).
 * Returns 0 or -EAGAIN.
 */
export function exchange_page_move_mapping(to_mapping: number, from_mapping: number, to: number, from: number, mode: number, to_extra = 0, from_extra = 0): number {
  const to_expected = expected_page_refs(to_mapping, to) + to_extra;
  const from_expected = expected_page_refs(from_mapping, from) + from_extra;
  const tb = page_base(to), fb = page_base(from);
  const from_index = i32[fb + PAGE.index], to_index = i32[tb + PAGE.index];
  const to_swapbacked = has(to, PG_swapbacked), from_swapbacked = has(from, PG_swapbacked);
  const to_mapping_value = i32[tb + PAGE.mapping], from_mapping_value = i32[fb + PAGE.mapping];
  VM_BUG_ON_PAGE(to_mapping !== page_mapping(to), 'to_mapping != page_mapping(to_page)', to);
  VM_BUG_ON_PAGE(from_mapping !== page_mapping(from), 'from_mapping != page_mapping(from_page)', from);
  void mode; // the model has no THP and no copy engine: the mode changes nothing here

  // Anonymous pages without a mapping: their count is all there is to check (no lock)
  if (to_mapping === 0 && page_count(to) !== to_expected) { trace_event(EV_EXCHANGE_MAPPING, from, to, EAGAIN, WHY_COUNT); return EAGAIN; }
  if (from_mapping === 0 && page_count(from) !== from_expected) { trace_event(EV_EXCHANGE_MAPPING, from, to, EAGAIN, WHY_COUNT); return EAGAIN; }
  cond_resched(); // [PP]: a reference taken now is found by the freeze below (file) or not at all (anon <-> anon)

  if (from_mapping === 0 && to_mapping === 0) {
    // both are anonymous pages: no cache slot, no freeze
    i32[fb + PAGE.index] = to_index;
    i32[fb + PAGE.mapping] = to_mapping_value;
    Atomics.and(i32, fb + PAGE.flags, ~PG_swapbacked);
    if (to_swapbacked) Atomics.or(i32, fb + PAGE.flags, PG_swapbacked);
    i32[tb + PAGE.index] = from_index;
    i32[tb + PAGE.mapping] = from_mapping_value;
    Atomics.and(i32, tb + PAGE.flags, ~PG_swapbacked);
    if (from_swapbacked) Atomics.or(i32, tb + PAGE.flags, PG_swapbacked);
    trace_event(EV_EXCHANGE_MAPPING, from, to, 0, 0);
    return MIGRATEPAGE_SUCCESS;
  }
  if (from_mapping !== 0) BUG('VM_BUG_ON(1) in exchange_page_move_mapping: from_page is not anonymous', from);

  // from is anonymous, to is file-backed
  const slot = radix_tree_slot(to_mapping, to_index);
  spin_lock(mapping_tree_lock(to_mapping), LC_TREE); // xas_lock_irq
  if (page_count(to) !== to_expected || slot < 0 || Atomics.load(i32, slot) !== to) {
    xas_unlock_check(to_mapping, 'exchange_page_move_mapping');
    trace_event(EV_EXCHANGE_MAPPING, from, to, EAGAIN, WHY_SLOT);
    return EAGAIN;
  }
  if (!page_ref_freeze(to, to_expected)) {
    xas_unlock_check(to_mapping, 'exchange_page_move_mapping');
    trace_event(EV_EXCHANGE_MAPPING, from, to, EAGAIN, WHY_FREEZE_TO);
    return EAGAIN; // "cannot freeze page count"
  }
  if (!page_ref_freeze(from, from_expected)) {
    window_open(WIN_EXCHANGE_FREEZE_FROM_FAILED); // cov: to is frozen at 0 here
    // switch:exchange-freeze-no-unwind: fixed (the seed): to gets its references back; buggy: it stays at 0
    if (!buggy(SW_EXCHANGE_FREEZE_NO_UNWIND)) page_ref_unfreeze(to, to_expected);
    trace_event(EV_EXCHANGE_MAPPING, from, to, EAGAIN, WHY_FREEZE_FROM);
    xas_unlock_check(to_mapping, 'exchange_page_move_mapping');
    return EAGAIN;
  }
  // Now we know that no one else is looking at the page: no turning back from here
  Atomics.and(i32, fb + PAGE.flags, ~PG_swapbacked);
  Atomics.and(i32, tb + PAGE.flags, ~PG_swapbacked);
  i32[fb + PAGE.index] = to_index;
  i32[fb + PAGE.mapping] = to_mapping_value;
  i32[tb + PAGE.index] = from_index;
  i32[tb + PAGE.mapping] = from_mapping_value;
  if (to_swapbacked) Atomics.or(i32, fb + PAGE.flags, PG_swapbacked);
  else VM_BUG_ON_PAGE(PageSwapCacheP(to), 'PageSwapCache(to_page)', to);
  if (from_swapbacked) Atomics.or(i32, tb + PAGE.flags, PG_swapbacked);
  else VM_BUG_ON_PAGE(PageSwapCacheP(from), 'PageSwapCache(from_page)', from);
  Atomics.store(i32, slot, from); // xas_store: the cache now holds from
  // move the cache reference
  page_ref_unfreeze(to, to_expected - 1);
  page_ref_unfreeze(from, from_expected + 1);
  trace_event(EV_EXCHANGE_MAPPING, from, to, 0, 1);
  xas_unlock_check(to_mapping, 'exchange_page_move_mapping');
  // one zone and one node in the model: no NR_FILE_PAGES / NR_SHMEM / NR_FILE_DIRTY to move
  return MIGRATEPAGE_SUCCESS;
}

/** the flags exchange_page_flags swaps as they are (PG_swapcache goes last, PG_writeback is cleared on both) */
const EXCHANGED = PG_error | PG_referenced | PG_uptodate | PG_active | PG_checked | PG_mappedtodisk | PG_dirty;

/**
 * exchange_page_flags: each page takes the other's page-state flags (both
 * page locks held, both pages isolated and unmapped). PG_private moves
 * with the buffers, not here (the seed's first hunk); PG_swapbacked moved
 * with the mapping.
 */
function exchange_page_flags(to: number, from: number): void {
  const tf = page_base(to) + PAGE.flags, ff = page_base(from) + PAGE.flags;
  const from_flags = Atomics.and(i32, ff, ~(EXCHANGED | PG_writeback)) & (EXCHANGED | PG_writeback | PG_swapcache);
  const to_flags = Atomics.and(i32, tf, ~(EXCHANGED | PG_writeback)) & (EXCHANGED | PG_writeback | PG_swapcache);
  Atomics.or(i32, ff, to_flags & EXCHANGED);
  Atomics.or(i32, tf, from_flags & EXCHANGED);
  // PG_swapcache last (never set here: exchange_pages refuses swap-cache pages as from, and the model's to is never one)
  if ((from_flags & PG_swapcache) !== (to_flags & PG_swapcache)) {
    Atomics.xor(i32, ff, PG_swapcache);
    Atomics.xor(i32, tf, PG_swapcache);
  }
}

/** exchange_two_pages' data half (the series' exchange_highpage): word by word, both pages locked and unmapped */
function exchange_page_data(to: number, from: number): void {
  const t = phys_base(to), f = phys_base(from);
  for (let w = 0; w < WORDS_PER_PAGE; w++) {
    const v = Atomics.load(i32, f + w);
    Atomics.store(i32, f + w, Atomics.load(i32, t + w));
    Atomics.store(i32, t + w, v);
  }
}

/**
 * exchange_from_to_pages: the mapping exchange as to's address_space asks
 * (a_ops->migratepage), then data and flags. Caller holds both page locks,
 * neither page mapped; the mapping step takes xa_lock; the buffer step
 * the buffer lock of to's buffers. Returns 0, -EAGAIN or -EBUSY (also for a
 * mapping whose migratepage is migrate_page, which the patch does not handle).
 */
export function exchange_from_to_pages(to: number, from: number, mode: number): number {
  VM_BUG_ON_PAGE(!PageLocked(from), '!PageLocked(from_page)', from);
  VM_BUG_ON_PAGE(!PageLocked(to), '!PageLocked(to_page)', to);
  const to_page_mapping = page_mapping(to);
  const from_page_mapping = page_mapping(from);
  // from_page has to be anonymous page
  BUG_ON(from_page_mapping !== 0, 'BUG_ON(from_page_mapping) in exchange_from_to_pages', from);
  BUG_ON(PageWriteback(from), 'BUG_ON(PageWriteback(from_page)) in exchange_from_to_pages', from);
  // writeback has to finish
  BUG_ON(PageWriteback(to), 'BUG_ON(PageWriteback(to_page)) in exchange_from_to_pages', to);

  let rc: number;
  let to_bh = 0; // to's buffer head (the model's one per page: named by its page), locked for the move
  const kind = to_page_mapping === 0 ? -1 : mapping_field(to_page_mapping, ADDRESS_SPACE.a_migratepage);
  if (kind === BUFFER_MIGRATE && has(to, PG_private)) {
    const to_head = to;
    rc = exchange_page_move_mapping(to_page_mapping, from_page_mapping, to, from, mode);
    if (rc !== MIGRATEPAGE_SUCCESS) return rc;
    // The seed's comment: async, the mapping step locked the buffers; in fact its mapping step takes no
    // buffer lock in any mode (README, seed 002: what differs). Sync: lock them now.
    if ((mode & MIGRATE_MODE_MASK) !== MIGRATE_ASYNC) BUG_ON(!buffer_migrate_lock_buffers(to_head, mode), 'BUG_ON(!buffer_migrate_lock_buffers(to_head, mode))', to);
    // PG_private, page->private and the buffers' reference move from to to from (put_page(to), get_page(from))
    move_buffers(from, to);
    to_bh = to_head;
  } else if (kind === MIGRATE_NONE) {
    // fallback_migrate_page
    if (has(to, PG_dirty)) {
      if ((mode & MIGRATE_MODE_MASK) !== MIGRATE_SYNC) return EBUSY;
      return writeout(to_page_mapping, to);
    }
    if (has(to, PG_private) && !try_to_release_page(to)) return EAGAIN;
    rc = exchange_page_move_mapping(to_page_mapping, from_page_mapping, to, from, mode);
  } else if (kind === MIGRATE_PAGE) {
    // migrate_page (shmem, swapper_space): the patch has no branch for it, rc stays -EBUSY
    return EBUSY;
  } else {
    // to_page is anonymous, or buffer_migrate_page's mapping and to has no buffers
    rc = exchange_page_move_mapping(to_page_mapping, from_page_mapping, to, from, mode);
  }
  if (rc !== MIGRATEPAGE_SUCCESS) return rc;
  // actual page data exchange
  exchange_page_data(to, from);
  // buffer_migrate_page: private moved from to to from; anon <-> anon, fallback: neither has it
  BUG_ON(has(to, PG_private), 'VM_BUG_ON(!((page_has_private(from_page) && !page_has_private(to_page)) || (!page_has_private(from_page) && !page_has_private(to_page))))', to);
  exchange_page_flags(to, from);
  if (to_bh !== 0) unlock_buffer(to_bh); // put_bh: the model counts no buffer-head references
  return 0;
}

/**
 * unmap_and_exchange: lock both pages, pin their anon_vmas, unmap both
 * into migration entries, exchange, and point every entry at the page that
 * now holds its data. Caller isolated (or, the harness, pinned) both pages
 * and holds no lock; takes from's page lock, then to's (see
 * switch exchange-lock-order), then the rmap locks of each page.
 * Returns 0, -EAGAIN (retry) or -EBUSY.
 */
export function unmap_and_exchange(from: number, to: number, mode: number): number {
  let rc = EAGAIN;
  let from_was_mapped = false, to_was_mapped = false;
  let from_anon_vma = 0, to_anon_vma = 0;
  if (!trylock_page(from)) {
    if (mode_is_async(mode)) return rc; // switch:exchange-async-mode-mask
    lock_page(from);
  }
  if (!trylock_page(to)) {
    window_open(WIN_EXCHANGE_SECOND_LOCKED); // cov: it holds from and cannot have to now
    if (mode_is_async(mode)) { unlock_page(from); return rc; } // switch:exchange-async-mode-mask
    if (buggy(SW_EXCHANGE_LOCK_ORDER)) {
      lock_page(to); // switch:exchange-lock-order (buggy, the seed's line): sleeps holding from
    } else {
      // switch:exchange-lock-order (fixed, the kernel's multi-page rule): never sleep on a
      // second page lock holding the first: let from go, wait for to holding nothing, retry
      unlock_page(from);
      i32[current.stat + CPUSTAT.exchange_backoffs] += 1;
      trace_event(EV_EXCHANGE_BACKOFF, from, to);
      wait_on_page_locked(to);
      return EAGAIN;
    }
  }
  out_unlock: {
    // from_page is supposed to be an anonymous page
    VM_BUG_ON_PAGE(PageWriteback(from), 'PageWriteback(from_page)', from);
    if (PageWriteback(to)) {
      window_open(WIN_EXCHANGE_TO_WRITEBACK); // cov: the I/O agent has not completed to's writeback
      // switch:exchange-writeback-bug-on: buggy, the line before the patch
      if (buggy(SW_EXCHANGE_WRITEBACK_BUG_ON)) BUG('BUG_ON(PageWriteback(to_page)) in unmap_and_exchange', to);
      // Only a full synchronous exchange waits for writeback; async's retry loop is too short and
      // sync-light's stall too costly (the patch's words, after __unmap_and_move)
      if (!mode_is_sync(mode)) { // switch:exchange-async-mode-mask
        rc = EBUSY;
        // switch:exchange-busy-unlock: buggy, the RFC as written: `goto out_unlock`, whose label comes after
        // unlock_page(to_page): to stays locked for good (the next lock_page of it never returns)
        if (buggy(SW_EXCHANGE_BUSY_UNLOCK)) { unlock_page(from); trace_event(EV_EXCHANGE_DONE, from, to, rc); return rc; }
        break out_unlock; // fixed: both pages unlocked
      }
      wait_on_page_writeback(to);
    }
    // By try_to_unmap the mapcount goes down to 0, and the anon_vma could be freed under us:
    // page_get_anon_vma keeps it until the ptes are back (file pages are kept by the page lock)
    if (PageAnon(from)) from_anon_vma = page_get_anon_vma(from);
    if (PageAnon(to)) to_anon_vma = page_get_anon_vma(to);
    unmap: {
      // a page without a mapping (truncated, or a buffer page left over): nothing to exchange
      if (i32[page_base(from) + PAGE.mapping] === 0) { if (has(from, PG_private)) try_to_free_buffers(from); break unmap; }
      if (i32[page_base(to) + PAGE.mapping] === 0) { if (has(to, PG_private)) try_to_free_buffers(to); break unmap; }
      if (page_mapped(from)) { try_to_unmap(from, true); from_was_mapped = true; }
      if (page_mapped(to)) { try_to_unmap(to, true); to_was_mapped = true; }
      if (!page_mapped(from) && !page_mapped(to)) rc = exchange_from_to_pages(to, from, mode);
      // after the exchange, to's old ptes are from's now and the other way round
      if (to_was_mapped) remove_migration_ptes(to, rc === 0 ? from : to);
      if (from_was_mapped) remove_migration_ptes(from, rc === 0 ? to : from);
    }
    if (from_anon_vma !== 0) put_anon_vma(from_anon_vma);
    if (to_anon_vma !== 0) put_anon_vma(to_anon_vma);
  }
  unlock_page(to);
  unlock_page(from);
  trace_event(EV_EXCHANGE_DONE, from, to, rc);
  return rc;
}

/**
 * exchange_pages: exchange each (from, to) pair of the caller's list
 * (pairs[2k], pairs[2k + 1], nr pairs; the kernel chains exchange_page_info
 * records), each page isolated by the caller (one reference each); a pair
 * is tried up to 3 more times on -EAGAIN, then given up (exchange is best
 * effort). Every page goes back to the LRU (or is freed, if that isolation
 * reference was its last). Caller holds no lock. Returns the pairs not
 * exchanged.
 */
export function exchange_pages(pairs: Int32Array, nr: number, mode: number): number {
  const st = current.stat;
  let failed = 0;
  page_ref_forget_frozen(); // no freeze is held on entry (a CPU's earlier unwind may have left a note)
  for (let k = 0; k < nr; k++) {
    const from = pairs[2 * k], to = pairs[2 * k + 1];
    i32[st + CPUSTAT.exchanges] += 1;
    trace_event(EV_EXCHANGE, from, to, mode);
    let rc = EAGAIN;
    putback: {
      for (let retry = 0; ; retry++) {
        cond_resched();
        // page was freed from under us: only our isolation reference is left
        if (page_count(from) === 1) {
          put_page(from);
          if (page_count(to) === 1) put_page(to); else putback_lru_page(to);
          i32[st + CPUSTAT.exchange_fail] += 1;
          rc = FREED_UNDER_US;
          break putback;
        }
        if (page_count(to) === 1) {
          put_page(to);
          putback_lru_page(from);
          i32[st + CPUSTAT.exchange_fail] += 1;
          rc = FREED_UNDER_US;
          break putback;
        }
        // the model has no compound pages; a from in the swap cache (or a file page) has a mapping
        if (page_mapping(from) !== 0) { rc = EBUSY; break; }
        rc = unmap_and_exchange(from, to, mode);
        if (rc !== EAGAIN || retry >= 3) break;
      }
      putback_lru_page(from);
      putback_lru_page(to);
      i32[st + (rc === 0 ? CPUSTAT.exchange_ok : CPUSTAT.exchange_fail)] += 1;
    }
    if (rc !== 0) failed++;
  }
  return failed;
}

/**
 * exchange_two_pages (internal.h, seed 002): one pair, the syscall's mode
 * (MIGRATE_SYNC | MIGRATE_MT in the series), pages already isolated.
 * Returns 0 when exchanged.
 */
export function exchange_two_pages(page1: number, page2: number, mode: number): number {
  const pair = pair_scratch;
  pair[0] = page1; pair[1] = page2;
  return exchange_pages(pair, 1, mode);
}
const pair_scratch = new Int32Array(2);

/**
 * exchange_pinned: the model's harness of scenario exchange-abba
 * (kernel-notes 4.8 and 8): the caller holds a reference on each page
 * (a pin, not an isolation: isolation is exclusive, so the series' own
 * callers can never give two exchangers the same pages); retried as
 * exchange_pages retries, then both pins are dropped. Both pages anonymous.
 */
export function exchange_pinned(from: number, to: number, mode: number): number {
  const st = current.stat;
  i32[st + CPUSTAT.exchanges] += 1;
  trace_event(EV_EXCHANGE, from, to, mode);
  let rc = EAGAIN;
  for (let retry = 0; retry <= 3 && rc === EAGAIN; retry++) {
    cond_resched();
    if ((i32[page_base(from) + PAGE.mapping] & PAGE_MAPPING_ANON) === 0 || (i32[page_base(to) + PAGE.mapping] & PAGE_MAPPING_ANON) === 0) break;
    rc = unmap_and_exchange(from, to, mode);
  }
  i32[st + (rc === 0 ? CPUSTAT.exchange_ok : CPUSTAT.exchange_fail)] += 1;
  put_page(from);
  put_page(to);
  return rc;
}
