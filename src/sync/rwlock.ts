// rwlock_t as 2.6's x86 had it: a spinning reader/writer lock that never
// sleeps. One word (RWLOCK.val): bits 0-15 count the readers inside, bits
// 16-27 hold the writer's cpu+1, SLEEPERS is set when a waiter parks. It is
// reader-biased: a reader gets in whenever no writer holds it, however long
// a writer has been spinning (the kernel's writers could starve the same
// way), so a reader may also take it again while it holds it. A writer gets
// in only when nobody holds it. As for the spinlock, workers may outnumber
// cores: a waiter spins a bounded number of times and then parks in
// Atomics.wait; the release that may let waiters in notifies them all.
// lock_stat counts reads and writes apart (the kernel's -W and -R rows).
// Every hold goes on the held stack under its class (| HELD_READ for a
// read), so lockdep, the watchdog's wait-for and any "no sleeping under a
// spin lock" check see it as they see a spinlock.
import { RWLOCK } from '../shm/layout.js';
import { i32, sizes } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { PP_LOCK_ACQUIRE, PP_LOCK_ACQUIRE_READ, preempt_point, preempt_point_release } from './preempt.js';
import { HELD_NONE, held_mode, lock_acquired, lock_acquired_fast, lock_contended_acquired, lock_released, lock_wait_begin, lock_wait_end } from './lock_stat.js';
import { wait_round, wake_all } from './spinlock.js';

export const RW_READERS = 0xffff;
export const RW_WRITER_SHIFT = 16;
export const RW_WRITER = 0xfff << RW_WRITER_SHIFT;

/** lock_stat's bounce: the last acquirer was another CPU (a plain write: readers race on it harmlessly) */
function rw_bounce(lock: number, me: number): boolean {
  const bounce = i32[lock + RWLOCK.last] !== me;
  i32[lock + RWLOCK.last] = me;
  return bounce;
}

/**
 * the CPU tag (cpu+1) a waiter waits for, for lock_stat's contending point:
 * the writer, or for a writer blocked by readers the first reader found on
 * the held stacks (read racily; 0 if none is seen)
 */
function rw_holder_tag(lock: number, cur: number): number {
  const w = (cur & RW_WRITER) >>> RW_WRITER_SHIFT;
  if (w !== 0) return w;
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) if (held_mode(cpu, lock) !== HELD_NONE) return cpu + 1;
  return 0;
}

/** read_lock: spin while a writer holds it; recursion and other readers are fine */
export function read_lock(lock: number, cls: number): void {
  preempt_point(PP_LOCK_ACQUIRE_READ, lock);
  const v = lock + RWLOCK.val;
  let cur = Atomics.load(i32, v);
  // no writer: in, retrying only when another reader moved the count under us (that is no contention)
  while ((cur & RW_WRITER) === 0) {
    const seen = Atomics.compareExchange(i32, v, cur, cur + 1);
    if (seen === cur) {
      lock_acquired_fast(lock, cls, rw_bounce(lock, current.tag), true);
      return;
    }
    cur = seen;
  }
  const t0 = lock_wait_begin(lock, cls, rw_holder_tag(lock, cur), true);
  for (let i = 0; ; i++) {
    const c = Atomics.load(i32, v);
    if ((c & RW_WRITER) === 0) {
      if (Atomics.compareExchange(i32, v, c, c + 1) === c) break;
      continue; // another reader came or went: no wait, try again
    }
    wait_round(v, c, i);
  }
  lock_contended_acquired(lock, cls, rw_bounce(lock, current.tag), lock_wait_end(t0), true);
}

/** read_trylock: in unless a writer holds it */
export function read_trylock(lock: number, cls: number): boolean {
  preempt_point(PP_LOCK_ACQUIRE_READ, lock);
  const v = lock + RWLOCK.val;
  for (;;) {
    const c = Atomics.load(i32, v);
    if ((c & RW_WRITER) !== 0) return false;
    if (Atomics.compareExchange(i32, v, c, c + 1) === c) break;
  }
  lock_acquired(lock, cls, rw_bounce(lock, current.tag), true, false, true);
  return true;
}

export function read_unlock(lock: number): void {
  lock_released(lock);
  const v = lock + RWLOCK.val;
  const old = Atomics.sub(i32, v, 1);
  if ((old & RW_READERS) === 1) wake_all(v, old); // the last reader: a writer may go in
  preempt_point_release(lock);
}

/** write_lock: spin until no reader and no writer holds it */
export function write_lock(lock: number, cls: number): void {
  preempt_point(PP_LOCK_ACQUIRE, lock);
  const v = lock + RWLOCK.val;
  const me = current.tag;
  const mine = me << RW_WRITER_SHIFT;
  const cur = Atomics.load(i32, v);
  if ((cur & (RW_READERS | RW_WRITER)) === 0 && Atomics.compareExchange(i32, v, cur, cur | mine) === cur) {
    lock_acquired_fast(lock, cls, rw_bounce(lock, me), false);
    return;
  }
  const t0 = lock_wait_begin(lock, cls, rw_holder_tag(lock, cur));
  for (let i = 0; ; i++) {
    const c = Atomics.load(i32, v);
    if ((c & (RW_READERS | RW_WRITER)) === 0) {
      if (Atomics.compareExchange(i32, v, c, c | mine) === c) break;
      continue;
    }
    wait_round(v, c, i);
  }
  lock_contended_acquired(lock, cls, rw_bounce(lock, me), lock_wait_end(t0));
}

/** write_trylock: in only if nobody holds it */
export function write_trylock(lock: number, cls: number): boolean {
  preempt_point(PP_LOCK_ACQUIRE, lock);
  const v = lock + RWLOCK.val;
  const me = current.tag;
  const c = Atomics.load(i32, v);
  if ((c & (RW_READERS | RW_WRITER)) !== 0 || Atomics.compareExchange(i32, v, c, c | (me << RW_WRITER_SHIFT)) !== c) return false;
  lock_acquired(lock, cls, rw_bounce(lock, me), true);
  return true;
}

export function write_unlock(lock: number): void {
  lock_released(lock);
  const v = lock + RWLOCK.val;
  wake_all(v, Atomics.and(i32, v, ~RW_WRITER));
  preempt_point_release(lock);
}

/** the writer's cpu, or -1 (diagnostics and assertions) */
export function rwlock_writer(lock: number): number {
  return ((Atomics.load(i32, lock + RWLOCK.val) & RW_WRITER) >>> RW_WRITER_SHIFT) - 1;
}

/** readers inside now */
export function rwlock_readers(lock: number): number {
  return Atomics.load(i32, lock + RWLOCK.val) & RW_READERS;
}

export function rwlock_is_locked(lock: number): boolean {
  return (Atomics.load(i32, lock + RWLOCK.val) & (RW_READERS | RW_WRITER)) !== 0;
}

