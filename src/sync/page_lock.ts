// The page lock: PG_locked in page->flags, set with Atomics.or. Sleepers set
// PG_waiters (a model device, like 4.10's flag: 2.6.18 hashed wait queues)
// and park on the flags word itself; unlock_page clears both bits
// and wakes every sleeper (each re-checks, as with the kernel's wait queue).
import { PAGE, PG_locked, PG_waiters } from '../shm/layout.js';
import { i32, page_base } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { BUG_ON } from '../check/bug.js';
import { LC_PAGE_LOCK } from './lock_class.js';
import { check_halt, controlled, cpu_relax, preempt_point, preempt_point_release } from './preempt.js';
import { lock_acquired, lock_contended_acquired, lock_released, lock_wait_begin, lock_wait_end } from './lock_stat.js';
import { PARK_MS, SPIN_LIMIT } from './spinlock.js';
import { LD_WAIT, lockdep_acquire } from './lockdep.js';

export function PageLocked(pfn: number): boolean {
  return (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) !== 0;
}

/** one attempt; true if this CPU now holds the page lock */
export function trylock_page(pfn: number): boolean {
  preempt_point();
  const f = page_base(pfn) + PAGE.flags;
  if ((Atomics.or(i32, f, PG_locked) & PG_locked) !== 0) return false;
  i32[page_base(pfn) + PAGE.owner_cpu] = current.tag;
  lock_acquired(f, LC_PAGE_LOCK, false, true);
  return true;
}

export function lock_page(pfn: number): void {
  preempt_point();
  const p = page_base(pfn);
  const f = p + PAGE.flags;
  if ((Atomics.or(i32, f, PG_locked) & PG_locked) === 0) {
    i32[p + PAGE.owner_cpu] = current.tag;
    lock_acquired(f, LC_PAGE_LOCK, false);
    return;
  }
  const t0 = lock_wait_begin(f, LC_PAGE_LOCK, i32[p + PAGE.owner_cpu]);
  for (let i = 0; ; i++) {
    const cur = Atomics.load(i32, f);
    if ((cur & PG_locked) === 0) {
      if ((Atomics.or(i32, f, PG_locked) & PG_locked) === 0) break;
      continue;
    }
    if (i < SPIN_LIMIT || controlled) { cpu_relax(); continue; }
    check_halt();
    if ((cur & PG_waiters) === 0) { Atomics.or(i32, f, PG_waiters); continue; }
    Atomics.wait(i32, f, cur, PARK_MS);
  }
  i32[p + PAGE.owner_cpu] = current.tag;
  lock_contended_acquired(f, LC_PAGE_LOCK, false, lock_wait_end(t0));
}

export function unlock_page(pfn: number): void {
  const p = page_base(pfn);
  BUG_ON((Atomics.load(i32, p + PAGE.flags) & PG_locked) === 0, 'BUG() in unlock_page: !TestClearPageLocked(page)', pfn);
  lock_released(p + PAGE.flags);
  i32[p + PAGE.owner_cpu] = 0;
  const old = Atomics.and(i32, p + PAGE.flags, ~(PG_locked | PG_waiters));
  if ((old & PG_waiters) !== 0) Atomics.notify(i32, p + PAGE.flags, Infinity);
  preempt_point_release();
}

/** sleep until the page is unlocked (does not take the lock) */
export function wait_on_page_locked(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  lockdep_acquire(f, LC_PAGE_LOCK, LD_WAIT); // a wait that might sleep: a dependency whether or not it sleeps now
  if ((Atomics.load(i32, f) & PG_locked) === 0) return;
  const t0 = lock_wait_begin(f, LC_PAGE_LOCK, i32[page_base(pfn) + PAGE.owner_cpu]);
  for (let i = 0; ; i++) {
    const cur = Atomics.load(i32, f);
    if ((cur & PG_locked) === 0) break;
    if (i < SPIN_LIMIT || controlled) { cpu_relax(); continue; }
    check_halt();
    if ((cur & PG_waiters) === 0) { Atomics.or(i32, f, PG_waiters); continue; }
    Atomics.wait(i32, f, cur, PARK_MS);
  }
  lock_wait_end(t0);
  preempt_point();
}
