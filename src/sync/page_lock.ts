// The page lock: PG_locked in page->flags, set with Atomics.or. Sleepers set
// PG_waiters (a model device, like 4.10's flag: 2.6.18 hashed wait queues)
// and park on the flags word itself; unlock_page clears both bits
// and wakes every sleeper (each re-checks, as with the kernel's wait queue).
// A page under read I/O is locked on behalf of the I/O (src/cpu/io.ts): a
// waiter for such a page completes the read itself instead of sleeping, and
// so does a waiter for PG_writeback.
import { BIO, CPUSTAT, PAGE, PG_locked, PG_waiters, PG_writeback } from '../shm/layout.js';
import { bio_base, i32, page_base } from '../shm/machine.js';
import { PF_MEMALLOC, current } from '../cpu/current.js';
import { BUG_ON, OOPS_INVARIANT, fail } from '../check/bug.js';
import { LC_PAGE_LOCK, lock_class_name } from './lock_class.js';
import { PP_LOCK_ACQUIRE, PP_PAGE_WAIT, check_halt, controlled, cpu_relax, preempt_point, preempt_point_release } from './preempt.js';
import { lock_acquired, lock_acquired_fast, lock_contended_acquired, lock_released, lock_wait_begin, lock_wait_end } from './lock_stat.js';
import { PARK_MS, SPIN_LIMIT } from './spinlock.js';
import { LD_WAIT, lockdep_acquire } from './lockdep.js';

/** the I/O agent's wait for a page's bio (src/cpu/io.ts installs it when it loads) */
let io_waiter: (pfn: number) => void = () => {};
export function set_io_waiter(fn: (pfn: number) => void): void { io_waiter = fn; }
/** the page's lock is held for a read in flight: its waiter completes the read (an unlocked peek) */
const locked_for_read = (pfn: number) => Atomics.load(i32, bio_base(pfn) + BIO.state) !== 0 && i32[bio_base(pfn) + BIO.rw] === 0;

export function PageWriteback(pfn: number): boolean {
  return (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_writeback) !== 0;
}

export function PageLocked(pfn: number): boolean {
  return (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) !== 0;
}

/** one attempt; true if this CPU now holds the page lock */
export function trylock_page(pfn: number): boolean {
  const f = page_base(pfn) + PAGE.flags;
  preempt_point(PP_LOCK_ACQUIRE, f);
  if ((Atomics.or(i32, f, PG_locked) & PG_locked) !== 0) return false;
  i32[page_base(pfn) + PAGE.owner_cpu] = current.tag;
  lock_acquired(f, LC_PAGE_LOCK, false, true);
  return true;
}

export function lock_page(pfn: number): void {
  const p = page_base(pfn);
  const f = p + PAGE.flags;
  preempt_point(PP_LOCK_ACQUIRE, f);
  if ((Atomics.or(i32, f, PG_locked) & PG_locked) === 0) {
    i32[p + PAGE.owner_cpu] = current.tag;
    lock_acquired_fast(f, LC_PAGE_LOCK, false, false);
    return;
  }
  // C-ASYNC's rule is "parks on a page lock": only the contended path
  if ((current.flags & PF_MEMALLOC) !== 0) might_sleep_memalloc(pfn, 'lock_page');
  const t0 = lock_wait_begin(f, LC_PAGE_LOCK, i32[p + PAGE.owner_cpu]);
  for (let i = 0; ; i++) {
    const cur = Atomics.load(i32, f);
    if ((cur & PG_locked) === 0) {
      if ((Atomics.or(i32, f, PG_locked) & PG_locked) === 0) break;
      continue;
    }
    if (locked_for_read(pfn)) { io_waiter(pfn); continue; }
    if (i < SPIN_LIMIT || controlled) { cpu_relax(); continue; }
    check_halt();
    // PG_waiters only on the locked word we saw (the kernel sets it under the wait queue's lock, then looks
    // again): a plain OR after the holder's unlock would leave it on an unlocked page, and on a free one
    if ((cur & PG_waiters) === 0) { Atomics.compareExchange(i32, f, cur, cur | PG_waiters); continue; }
    Atomics.wait(i32, f, cur, PARK_MS);
  }
  i32[p + PAGE.owner_cpu] = current.tag;
  lock_contended_acquired(f, LC_PAGE_LOCK, false, lock_wait_end(t0));
}

/**
 * seed 002, C-ASYNC (kernel-notes 5.2): lock_page (and waiting for a locked
 * page) may sleep, and a task in
 * an allocation's own compaction (PF_MEMALLOC, MIGRATE_ASYNC) must not: it
 * may hold page locks itself (readahead's), so sleeping on one can wait for
 * itself. The kernel has no such check (might_sleep sees no spinlock here);
 * the model's says which lock the task was about to sleep on.
 */
function might_sleep_memalloc(pfn: number, fn: string): void {
  const f = page_base(pfn) + PAGE.flags;
  const owner = (Atomics.load(i32, f) & PG_locked) !== 0 ? i32[page_base(pfn) + PAGE.owner_cpu] : 0;
  const by = owner === 0 ? 'locked at the check, released since' : owner === current.tag ? `held by CPU ${owner - 1} (itself)` : `held by CPU ${owner - 1}`;
  fail(OOPS_INVARIANT, `mmrace: C-ASYNC: async migration might sleep: ${fn}(${lock_class_name(LC_PAGE_LOCK)} (page lock of pfn ${pfn}), ${by}) in a PF_MEMALLOC MIGRATE_ASYNC section of ${current.comm}/${current.cpu + 1}`, pfn);
}

export function unlock_page(pfn: number): void {
  const p = page_base(pfn);
  // a plain read: PG_locked is this CPU's own bit while it holds the lock (others change only other bits)
  BUG_ON((i32[p + PAGE.flags] & PG_locked) === 0, 'BUG() in unlock_page: !TestClearPageLocked(page)', pfn);
  lock_released(p + PAGE.flags);
  i32[p + PAGE.owner_cpu] = 0;
  const old = Atomics.and(i32, p + PAGE.flags, ~(PG_locked | PG_waiters));
  if ((old & PG_waiters) !== 0) Atomics.notify(i32, p + PAGE.flags, Infinity);
  preempt_point_release(p + PAGE.flags);
}

/** the holder of the page lock whose word (the page's flags) is `lockword`: its CPU + 1, or 0 (a racy read) */
export function page_lock_owner(lockword: number): number {
  return i32[lockword - PAGE.flags + PAGE.owner_cpu];
}

/** sleep until the page is unlocked (does not take the lock) */
export function wait_on_page_locked(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  if ((current.flags & PF_MEMALLOC) !== 0 && (Atomics.load(i32, f) & PG_locked) !== 0) might_sleep_memalloc(pfn, 'wait_on_page_locked');
  lockdep_acquire(f, LC_PAGE_LOCK, LD_WAIT); // a wait that might sleep: a dependency whether or not it sleeps now
  if ((Atomics.load(i32, f) & PG_locked) === 0) return;
  const t0 = lock_wait_begin(f, LC_PAGE_LOCK, i32[page_base(pfn) + PAGE.owner_cpu]);
  for (let i = 0; ; i++) {
    const cur = Atomics.load(i32, f);
    if ((cur & PG_locked) === 0) break;
    if (locked_for_read(pfn)) { io_waiter(pfn); continue; }
    if (i < SPIN_LIMIT || controlled) { cpu_relax(); continue; }
    check_halt();
    // as in lock_page: only on the locked word we saw. 5.0's put_and_wait (E4) waits here with no reference,
    // so the page may be unlocked and freed meanwhile: a plain OR left PG_waiters on a free page (a CI run's
    // "Bad page state" in prep_new_page, flags waiters|buddy)
    if ((cur & PG_waiters) === 0) { Atomics.compareExchange(i32, f, cur, cur | PG_waiters); continue; }
    Atomics.wait(i32, f, cur, PARK_MS);
  }
  lock_wait_end(t0);
  preempt_point(PP_PAGE_WAIT, f);
}

/**
 * the submitter of a read hands its page lock to the I/O: it leaves this
 * CPU's held locks, and the completion (unlock_page_io) releases it
 */
export function page_lock_to_io(pfn: number): void {
  const p = page_base(pfn);
  lock_released(p + PAGE.flags);
  i32[p + PAGE.owner_cpu] = 0;
}

/** a read completed: unlock the page on behalf of the I/O (the lock is no CPU's) */
export function unlock_page_io(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  const old = Atomics.and(i32, f, ~(PG_locked | PG_waiters));
  BUG_ON((old & PG_locked) === 0, 'BUG() in unlock_page: !TestClearPageLocked(page)', pfn);
  if ((old & PG_waiters) !== 0) Atomics.notify(i32, f, Infinity);
  preempt_point_release(f);
}

/** end_page_writeback: the write completed (writeback waiters complete I/O themselves, none sleeps) */
export function end_page_writeback(pfn: number): void {
  const old = Atomics.and(i32, page_base(pfn) + PAGE.flags, ~PG_writeback);
  BUG_ON((old & PG_writeback) === 0, 'BUG() in end_page_writeback: !TestClearPageWriteback(page)', pfn);
  preempt_point_release(page_base(pfn) + PAGE.flags);
}

/** wait_on_page_writeback: until the page's write completes (does not take the page lock) */
export function wait_on_page_writeback(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  if ((Atomics.load(i32, f) & PG_writeback) === 0) return;
  lockdep_acquire(f, LC_PAGE_LOCK, LD_WAIT); // a sleeping wait in the kernel (wait_on_page_bit)
  i32[current.stat + CPUSTAT.writeback_waits] += 1;
  while ((Atomics.load(i32, f) & PG_writeback) !== 0) {
    io_waiter(pfn);
    if ((Atomics.load(i32, f) & PG_writeback) !== 0) { cpu_relax(); check_halt(); }
  }
  preempt_point(PP_PAGE_WAIT, f);
}
