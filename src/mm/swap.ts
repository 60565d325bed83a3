// Page references and the LRU (mm/swap.c). put_page dropping the last
// reference takes the page off the LRU under lru_lock and frees it.
//
// 2.6.16-2.6.18 (E1, E2): a page joins the LRU through its CPU's pagevec
// (lru_cache_add, lru_cache_add_active): it takes the pagevec's reference
// and waits there, not yet PG_lru, until PAGEVEC_SIZE of them go onto the
// LRU under one lru_lock take (__pagevec_lru_add), or until a drain:
// lru_add_drain (this CPU's: reclaim, zap_page_range, exit_mmap) or
// lru_add_drain_all (every CPU's: migrate_prep in 2.6.18, a missed
// isolate_lru_page in 2.6.16). The kernel drained another CPU's pagevecs by
// running a work item on it (schedule_on_each_cpu) and waiting for it; here
// the requester drains them for that CPU, between two of its preempt-off
// sections (PAGEVEC.busy): the same pages reach the LRU before it returns.
// E0 and E3/E4 add a page at once (a deliberate difference: 2.6.6 had the
// pagevecs but no lru_add_drain_all, 4.14 one pagevec for both lists).
import { PAGE, PAGEVEC, PAGEVEC_SIZE, PG_active, PG_lru, PG_referenced, ZONE } from '../shm/layout.js';
import { BASES, i32, page_base, pvec_base, sizes } from '../shm/machine.js';
import { ListDesc, list_add, list_del } from '../shm/list.js';
import { BUG } from '../check/bug.js';
import { LC_LRU } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { free_hot_cold_page } from './page_alloc.js';
import { E1, E2, E3, ERA } from '../shm/era.js';
import { current } from '../cpu/current.js';
import { check_halt, controlled, cpu_relax } from '../sync/preempt.js';
import { PARK_MS, SLEEPERS, SPIN_LIMIT } from '../sync/spinlock.js';
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
  if (old <= 0) put_page_testzero_bug(pfn);
  if (old === 1) __page_cache_release(pfn);
}

function put_page_testzero_bug(pfn: number): never {
  BUG(ERA.id >= E3 ? 'VM_BUG_ON_PAGE(page_ref_count(page) == 0) in put_page_testzero' : 'BUG_ON(atomic_read(&page->_count) == 0) in put_page_testzero', pfn);
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

/** the era has the per-CPU LRU pagevecs in the model (2.6.16, 2.6.18), and the mmu_gather's batched release */
export const lru_pagevecs = (): boolean => ERA.id === E1 || ERA.id === E2;

/** lru_cache_add_active: a new anon or swap-cache page (or one put back) for the active list; E1/E2 through this CPU's pagevec, else at once under lru_lock */
export function lru_cache_add_active(pfn: number): void {
  if (lru_pagevecs()) { pagevec_lru_add_one(pfn, PAGEVEC.nr_active, PAGEVEC.active, true); return; }
  spin_lock(lru_lock(), LC_LRU);
  add_page_to_lru(pfn, true);
  spin_unlock(lru_lock());
}

/** lru_cache_add: a new page-cache page (or one put back) for the inactive list; as lru_cache_add_active */
export function lru_cache_add(pfn: number): void {
  if (lru_pagevecs()) { pagevec_lru_add_one(pfn, PAGEVEC.nr, PAGEVEC.pages, false); return; }
  spin_lock(lru_lock(), LC_LRU);
  add_page_to_lru(pfn, false);
  spin_unlock(lru_lock());
}

/**
 * get_cpu_var(lru_add_pvecs) for `cpu`: claim its pagevecs, as their owner
 * or as lru_add_drain_all draining them for it; the other side is inside a
 * short section (a page added, or one drain under lru_lock), so wait it out.
 * Returns their base.
 */
function get_cpu_pvecs(cpu: number): number {
  const pv = pvec_base(cpu);
  const w = pv + PAGEVEC.busy;
  const me = current.tag;
  if (Atomics.compareExchange(i32, w, 0, me) === 0) return pv;
  // as spin_lock's slow path: spin on a plain read, then park with SLEEPERS set (controlled: yield to the CPU inside)
  for (let i = 0; ; i++) {
    const cur = Atomics.load(i32, w);
    if (cur === 0) {
      // taken with SLEEPERS when we parked: others may still be parked behind us
      if (Atomics.compareExchange(i32, w, 0, i < SPIN_LIMIT || controlled ? me : me | SLEEPERS) === 0) return pv;
      continue;
    }
    if (i < SPIN_LIMIT || controlled) { cpu_relax(); continue; }
    check_halt();
    if ((cur & SLEEPERS) === 0 && Atomics.compareExchange(i32, w, cur, cur | SLEEPERS) !== cur) continue;
    Atomics.wait(i32, w, cur | SLEEPERS, PARK_MS);
  }
}

/** put_cpu_var: the pagevecs claimed by get_cpu_pvecs are free again (a parked claimant woken) */
function put_cpu_pvecs(pv: number): void {
  if ((Atomics.exchange(i32, pv + PAGEVEC.busy, 0) & SLEEPERS) !== 0) Atomics.notify(i32, pv + PAGEVEC.busy, Infinity);
}

/**
 * lru_cache_add's pagevec step (E1/E2): the pagevec's reference, the page
 * into this CPU's pagevec (nr word `nrf`, pages at `pagesf`); a full one
 * goes onto the LRU at once. Takes lru_lock only then.
 */
function pagevec_lru_add_one(pfn: number, nrf: number, pagesf: number, active: boolean): void {
  const pv = get_cpu_pvecs(current.cpu);
  get_page(pfn); // page_cache_get: held by the pagevec until __pagevec_lru_add has put the page on the LRU
  const n = i32[pv + nrf];
  i32[pv + pagesf + n] = pfn;
  i32[pv + nrf] = n + 1;
  if (n + 1 === PAGEVEC_SIZE) __pagevec_lru_add(pv, nrf, pagesf, active);
  put_cpu_pvecs(pv);
}

/**
 * __pagevec_lru_add / __pagevec_lru_add_active: every page of a claimed
 * pagevec onto the LRU under one lru_lock take, then the pagevec's
 * references dropped (release_pages) and the pagevec emptied. A page that is
 * PG_lru (or, for the active list, PG_active) already is the kernel's BUG.
 */
function __pagevec_lru_add(pv: number, nrf: number, pagesf: number, active: boolean): void {
  const n = i32[pv + nrf];
  spin_lock(lru_lock(), LC_LRU);
  for (let k = 0; k < n; k++) {
    const pfn = i32[pv + pagesf + k];
    if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & (active ? PG_lru | PG_active : PG_lru)) !== 0) {
      spin_unlock(lru_lock());
      BUG(active ? 'BUG() in __pagevec_lru_add_active (TestSetPageLRU or TestSetPageActive)' : 'BUG() in __pagevec_lru_add (TestSetPageLRU)', pfn);
    }
    add_page_to_lru(pfn, active);
  }
  spin_unlock(lru_lock());
  i32[pv + nrf] = 0; // pagevec_reinit; the words stay ours until put_cpu_pvecs
  release_pages(i32, pv + pagesf, n);
}

/**
 * release_pages: drop a reference on each of the `n` pages listed in `pages`
 * from `at` (a claimed pagevec, or this CPU's mmu_gather; reused as its
 * pages_to_free). A page whose count reaches 0 comes off the LRU, lru_lock
 * taken once for all of them, and is freed after lru_lock is dropped.
 */
export function release_pages(pages: Int32Array, at: number, n: number): void {
  let locked = false, nfree = 0;
  for (let k = 0; k < n; k++) {
    const pfn = pages[at + k];
    if (recording) record_step(REC_PEEK); // capture: a count another CPU changes without a common lock (as put_page's)
    const old = Atomics.sub(i32, page_base(pfn) + PAGE._count, 1);
    if (old <= 0) { if (locked) spin_unlock(lru_lock()); put_page_testzero_bug(pfn); }
    if (old !== 1) continue;
    if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_lru) !== 0) {
      if (!locked) { spin_lock(lru_lock(), LC_LRU); locked = true; }
      if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_lru) !== 0) del_page_from_lru(pfn);
    }
    pages[at + nfree++] = pfn; // pages_to_free: nfree <= k, so no page still to be read is overwritten
  }
  if (locked) spin_unlock(lru_lock());
  for (let k = 0; k < nfree; k++) free_hot_cold_page(pages[at + k]);
}

/** drain `cpu`'s pagevecs onto the LRU (claiming them: its own, or for it); takes lru_lock if any page waits */
function drain_cpu_pagevecs(cpu: number): void {
  const pv = get_cpu_pvecs(cpu);
  if (i32[pv + PAGEVEC.nr] !== 0) __pagevec_lru_add(pv, PAGEVEC.nr, PAGEVEC.pages, false);
  if (i32[pv + PAGEVEC.nr_active] !== 0) __pagevec_lru_add(pv, PAGEVEC.nr_active, PAGEVEC.active, true);
  put_cpu_pvecs(pv);
}

/** lru_add_drain: this CPU's pagevecs onto the LRU (E1/E2; nothing waits in them elsewhere) */
export function lru_add_drain(): void {
  if (!lru_pagevecs()) return;
  const pv = pvec_base(current.cpu);
  if (i32[pv + PAGEVEC.nr] === 0 && i32[pv + PAGEVEC.nr_active] === 0) return; // only this CPU fills them
  drain_cpu_pagevecs(current.cpu);
}

/**
 * lru_add_drain_all: every CPU's pagevecs onto the LRU before it returns
 * (2.6.16-2.6.18: schedule_on_each_cpu of lru_add_drain, waited for). Each
 * CPU's are drained here for it, under its claim word, at a moment when it
 * is not inside its own section: where its keventd would have run the work.
 * May sleep in the kernel: callers hold no spinlock (2.6.16's
 * isolate_lru_page is the exception, see there).
 */
export function lru_add_drain_all(): void {
  if (!lru_pagevecs()) return;
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) drain_cpu_pagevecs(cpu);
}

/** the pages waiting in `cpu`'s pagevecs, inactive's then active's (for the checkers, at a quiescent point; a count out of range reads as what fits) */
export function pagevec_pages(cpu: number): number[] {
  const pv = pvec_base(cpu);
  const take = (nrf: number, pagesf: number) => Array.from(i32.subarray(pv + pagesf, pv + pagesf + Math.max(0, Math.min(PAGEVEC_SIZE, i32[pv + nrf]))));
  return [...take(PAGEVEC.nr, PAGEVEC.pages), ...take(PAGEVEC.nr_active, PAGEVEC.active)];
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
  if ((Atomics.load(i32, f) & PG_lru) === 0) {
    // 2.6.16: a page not on the LRU may still wait in a CPU's pagevec: drain every CPU's, look again. (Its
    // migration callers held the PTL here, where schedule_on_each_cpu may sleep; 2.6.17 moved the drain out
    // to migrate_prep.) Safe in the model: a drain takes no PTL.
    if (ERA.id !== E1) return -16;
    lru_add_drain_all();
    if ((Atomics.load(i32, f) & PG_lru) === 0) return -16;
  }
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
 * move_to_lru (2.6.18 migrate.c): back to the LRU (lru_cache_add or
 * lru_cache_add_active: E1/E2 through the pagevec), then drop the isolation
 * reference: migration's put back. Reclaim's is putback_inactive_pages.
 */
export function move_to_lru(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  const active = (Atomics.and(i32, f, ~PG_active) & PG_active) !== 0;
  if (active) lru_cache_add_active(pfn); else lru_cache_add(pfn); // E1/E2: through this CPU's pagevec
  put_page(pfn);
}

/**
 * reclaim's put back of a page it keeps, for the one-page list the model's
 * shrink_page_list works on (2.6.18 did it inline in shrink_inactive_list;
 * putback_inactive_pages is the 3.x name): straight onto its list under
 * lru_lock, in every era, never through a pagevec; then the isolation
 * reference goes as __pagevec_release dropped it, this CPU's pagevecs
 * drained first (E1/E2). Caller holds no spinlock.
 */
export function putback_inactive_pages(pfn: number): void {
  const active = (Atomics.and(i32, page_base(pfn) + PAGE.flags, ~PG_active) & PG_active) !== 0;
  spin_lock(lru_lock(), LC_LRU);
  add_page_to_lru(pfn, active);
  spin_unlock(lru_lock());
  lru_add_drain();
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
