// The refcount freeze (include/linux/page_ref.h, 4.x on; kernel-notes 2.4).
// A migrator that has checked a page's references swaps the expected count
// for 0 in one compare-and-exchange: from then on get_page_unless_zero
// fails, so a lockless lookup (E4's find_get_page) or a migration-entry
// waiter (E3/E4's migration_entry_wait) cannot take a reference while the
// page's slot, mapping and flags move. The freezer must unfreeze: it writes
// the count back (the old page's, less the references it moved) when it is
// done or gives up. E0-E2 have no freeze; their paths never call these.
import { PAGE } from '../shm/layout.js';
import { i32, page_base } from '../shm/machine.js';
import { BUG_ON } from '../check/bug.js';

/** page_ref_count: the page's _count (0 while frozen or free) */
export const page_ref_count = (pfn: number): number => Atomics.load(i32, page_base(pfn) + PAGE._count);

/** page_ref_freeze: _count from exactly `count` to 0, or nothing; true if frozen */
export function page_ref_freeze(pfn: number, count: number): boolean {
  const ok = Atomics.compareExchange(i32, page_base(pfn) + PAGE._count, count, 0) === count;
  if (ok && nr_frozen < frozen.length) frozen[nr_frozen++] = pfn; // C-FREEZE's list (seed 002)
  return ok;
}

/** page_ref_unfreeze: a frozen page's _count becomes `count` (VM_BUG_ON_PAGE(page_count(page) != 0)) */
export function page_ref_unfreeze(pfn: number, count: number): void {
  const c = page_base(pfn) + PAGE._count;
  BUG_ON(Atomics.load(i32, c) !== 0, 'VM_BUG_ON_PAGE(page_count(page) != 0) in page_ref_unfreeze', pfn);
  Atomics.store(i32, c, count);
  for (let k = 0; k < nr_frozen; k++) if (frozen[k] === pfn) { frozen[k] = frozen[--nr_frozen]; break; }
}

// seed 002: C-FREEZE (kernel-notes 5.2). The pages this CPU (this thread)
// froze and has not unfrozen; a freezer that lets go of the tree lock
// (xa_lock) must have none left. The kernel has no such check: a page left
// frozen is found later, by whoever spins on it or puts it.
const frozen = new Int32Array(4);
let nr_frozen = 0;

/**
 * C-FREEZE: the first page this CPU froze that still reads 0, or 0 (called
 * as the freezer drops xa_lock). An entry whose count is back is forgotten.
 */
export function page_ref_frozen_by_me(): number {
  for (let k = 0; k < nr_frozen; ) {
    if (page_ref_count(frozen[k]) === 0) return frozen[k];
    frozen[k] = frozen[--nr_frozen];
  }
  return 0;
}

/** a path that starts holding no freeze by protocol (exchange_pages) forgets what a CPU unwound from left */
export function page_ref_forget_frozen(): void {
  nr_frozen = 0;
}

/** PageFrozen-style test for checkers (the kernel has none): a page in use whose count reads 0 */
export const page_ref_frozen = (pfn: number): boolean => page_ref_count(pfn) === 0;
