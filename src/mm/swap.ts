// Page references and the LRU (mm/swap.c). put_page dropping the last
// reference takes the page off the LRU under lru_lock and frees it.
import { PAGE, PG_active, PG_lru, PG_referenced, ZONE } from '../shm/layout.js';
import { BASES, i32, page_base } from '../shm/machine.js';
import { ListDesc, list_add, list_del } from '../shm/list.js';
import { BUG } from '../check/bug.js';
import { LC_LRU } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { free_hot_cold_page } from './page_alloc.js';
import { E3, ERA } from '../shm/era.js';
import { DMIRROR, ZONE_DEVICE } from '../shm/layout.js';
import { OOPS_INVARIANT, fail } from '../check/bug.js';
import { invariant_message } from '../check/rules.js';
import { EV_DEV_LRU, trace_event } from '../cpu/events.js';
import { is_device_private_page, put_zone_device_private_page } from './memremap.js';
import { REC_PEEK, record_step, recording } from '../sync/preempt.js';

export const LRU: ListDesc = { base: page_base, next: PAGE.lru_next, prev: PAGE.lru_prev };
export const lru_lock = () => BASES.zone + ZONE.lru_lock;

export function get_page(pfn: number): void {
  if (recording) record_step(REC_PEEK); // capture: a count another CPU changes without a common lock
  const old = Atomics.add(i32, page_base(pfn) + PAGE._count, 1);
  if (old <= 0) BUG(ERA.id >= E3 ? 'VM_BUG_ON_PAGE(page_ref_count(page) <= 0)' : 'mmrace: get_page on a page with no reference (2.6.18 has no check here)', pfn); // the era's message, read only when it fires
}

/** get_page_unless_zero: a reference only if the page is not being freed */
export function get_page_unless_zero(pfn: number): boolean {
  const c = page_base(pfn) + PAGE._count;
  for (;;) {
    const v = Atomics.load(i32, c);
    if (v <= 0) return false;
    if (Atomics.compareExchange(i32, c, v, v + 1) === v) return true;
  }
}

export function put_page(pfn: number): void {
  // 4.14: a device-private page's 2 -> 1 is its return to the driver (include/linux/mm.h put_page)
  if (ERA.id >= E3 && is_device_private_page(pfn)) { put_zone_device_private_page(pfn); return; }
  if (recording) record_step(REC_PEEK); // capture: a count another CPU changes without a common lock
  const old = Atomics.sub(i32, page_base(pfn) + PAGE._count, 1);
  if (old <= 0) BUG(ERA.id >= E3 ? 'VM_BUG_ON_PAGE(page_ref_count(page) == 0) in put_page_testzero' : 'BUG_ON(atomic_read(&page->_count) == 0) in put_page_testzero', pfn);
  if (old === 1) __page_cache_release(pfn);
}

function __page_cache_release(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  if ((Atomics.load(i32, f) & PG_lru) !== 0) {
    spin_lock(lru_lock(), LC_LRU);
    if ((Atomics.load(i32, f) & PG_lru) !== 0) del_page_from_lru(pfn);
    spin_unlock(lru_lock());
  }
  free_hot_cold_page(pfn);
}

/** caller holds lru_lock */
export function del_page_from_lru(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  const active = (Atomics.load(i32, f) & PG_active) !== 0;
  list_del(LRU, BASES.zone + (active ? ZONE.active_first : ZONE.inactive_first), pfn);
  i32[BASES.zone + (active ? ZONE.nr_active : ZONE.nr_inactive)] -= 1;
  Atomics.and(i32, f, ~(PG_lru | PG_active));
}

/** caller holds lru_lock */
function add_page_to_lru(pfn: number, active: boolean): void {
  if (i32[page_base(pfn) + PAGE.zone] === ZONE_DEVICE) device_page_on_lru(pfn);
  Atomics.or(i32, page_base(pfn) + PAGE.flags, PG_lru | (active ? PG_active : 0));
  list_add(LRU, BASES.zone + (active ? ZONE.active_first : ZONE.inactive_first), pfn);
  i32[BASES.zone + (active ? ZONE.nr_active : ZONE.nr_inactive)] += 1;
}

/** lru_cache_add_active (no per-CPU pagevecs in the model: added at once) */
export function lru_cache_add_active(pfn: number): void {
  spin_lock(lru_lock(), LC_LRU);
  add_page_to_lru(pfn, true);
  spin_unlock(lru_lock());
}

/** lru_cache_add: a new page-cache page joins the inactive list */
export function lru_cache_add(pfn: number): void {
  spin_lock(lru_lock(), LC_LRU);
  add_page_to_lru(pfn, false);
  spin_unlock(lru_lock());
}

/** mark_page_accessed: a read(2) or a fault used the page (reclaim's second chance) */
export function mark_page_accessed(pfn: number): void {
  Atomics.or(i32, page_base(pfn) + PAGE.flags, PG_referenced);
}

/**
 * isolate_lru_page: take the page off the LRU with a reference; -EBUSY if it
 * is not there.
 */
export function isolate_lru_page(pfn: number): number {
  const f = page_base(pfn) + PAGE.flags;
  if ((Atomics.load(i32, f) & PG_lru) === 0) return -16;
  let ret = -16;
  spin_lock(lru_lock(), LC_LRU);
  if ((Atomics.load(i32, f) & PG_lru) !== 0 && isolate_get_page(pfn)) {
    const active = (Atomics.load(i32, f) & PG_active) !== 0;
    del_page_from_lru(pfn);
    if (active) Atomics.or(i32, f, PG_active); // remembered for the put back
    ret = 0;
  }
  spin_unlock(lru_lock());
  return ret;
}

/**
 * The isolation's reference, under lru_lock. Later kernels use
 * get_page_unless_zero. 2.6.18 had no such helper: vmscan's isolate_lru_pages
 * took the reference outright (get_page_testone) and gave it straight back
 * if the count had already reached zero, the page being freed elsewhere; the
 * model's callers pick pages at random, so every E0-E2 isolation does that.
 * Safe because __page_cache_release takes lru_lock before it frees a page
 * still flagged PG_lru, so it never sees the transient reference.
 */
function isolate_get_page(pfn: number): boolean {
  if (ERA.id >= E3) return get_page_unless_zero(pfn);
  const c = page_base(pfn) + PAGE._count;
  if (Atomics.add(i32, c, 1) !== 0) return true;
  Atomics.sub(i32, c, 1);
  return false;
}

/**
 * move_to_lru (2.6.18 migrate.c): back on the LRU, then drop the isolation
 * reference. Reclaim's put back of a page it keeps (shrink_inactive_list's,
 * for the list shrink_page_list returns) does the same for one page.
 */
export function move_to_lru(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  const active = (Atomics.and(i32, f, ~PG_active) & PG_active) !== 0;
  spin_lock(lru_lock(), LC_LRU);
  add_page_to_lru(pfn, active);
  spin_unlock(lru_lock());
  put_page(pfn);
}

/** putback_lru_page: the later kernels' (2.6.24 on) name of the same put back, for the E3/E4 paths */
export function putback_lru_page(pfn: number): void {
  move_to_lru(pfn);
}

/**
 * model checker C-DEVLRU (seed 004, E3): a ZONE_DEVICE page is never on an
 * LRU; its lru words hold page->pgmap, which the list links now overwrite.
 * Fails the run at once, unlocking lru_lock first, unless the driver's
 * devlru_note knob asks to note it and go on (to show the oops that follows).
 */
function device_page_on_lru(pfn: number): void {
  trace_event(EV_DEV_LRU, pfn);
  if (i32[BASES.dmirror + DMIRROR.devlru_note] !== 0) return;
  spin_unlock(lru_lock());
  fail(OOPS_INVARIANT, invariant_message('C-DEVLRU', `device page pfn ${pfn} added to the LRU: pgmap overwritten`), pfn);
}
