// rw_semaphore on one word: bits 0-15 active readers, WRITER while a writer
// holds it, WAITING_WRITER units counting queued writers, SLEEPERS when
// someone parks. A queued writer stops new readers (the kernel's rwsem is
// fair in the same way), so writers cannot starve.
import { i32 } from '../shm/machine.js';
import { PP_LOCK_ACQUIRE, PP_LOCK_ACQUIRE_READ, preempt_point, preempt_point_release } from './preempt.js';
import { lock_acquired, lock_acquired_fast, lock_contended_acquired, lock_released, lock_wait_begin, lock_wait_end } from './lock_stat.js';
import { wait_round, wake_all } from './spinlock.js';

const READERS = 0xffff;
const WRITER = 0x10000;
const WAITING_WRITER = 0x20000;
const WAITING_MASK = 0x1ffe0000;

export function down_read(sem: number, cls: number): void {
  preempt_point(PP_LOCK_ACQUIRE_READ, sem);
  const cur = i32[sem]; // a plain peek: the compare-exchange below is the atomic step, and fails on a stale value
  if ((cur & (WRITER | WAITING_MASK)) === 0 && Atomics.compareExchange(i32, sem, cur, cur + 1) === cur) {
    lock_acquired_fast(sem, cls, false, true);
    return;
  }
  const t0 = lock_wait_begin(sem, cls, 0, true);
  for (let i = 0; ; i++) {
    const c = Atomics.load(i32, sem);
    if ((c & (WRITER | WAITING_MASK)) === 0) {
      if (Atomics.compareExchange(i32, sem, c, c + 1) === c) break;
      continue;
    }
    wait_round(sem, c, i);
  }
  lock_contended_acquired(sem, cls, false, lock_wait_end(t0), true);
}

export function down_read_trylock(sem: number, cls: number): boolean {
  preempt_point(PP_LOCK_ACQUIRE_READ, sem);
  const cur = Atomics.load(i32, sem);
  if ((cur & (WRITER | WAITING_MASK)) !== 0 || Atomics.compareExchange(i32, sem, cur, cur + 1) !== cur) return false;
  lock_acquired(sem, cls, false, true, false, true);
  return true;
}

export function up_read(sem: number): void {
  lock_released(sem);
  const old = Atomics.sub(i32, sem, 1);
  if ((old & READERS) === 1) wake_all(sem, old);
  preempt_point_release(sem);
}

export function down_write(sem: number, cls: number): void {
  preempt_point(PP_LOCK_ACQUIRE, sem);
  if (Atomics.compareExchange(i32, sem, 0, WRITER) === 0) {
    lock_acquired_fast(sem, cls, false, false);
    return;
  }
  const t0 = lock_wait_begin(sem, cls, 0);
  Atomics.add(i32, sem, WAITING_WRITER);
  try {
    for (let i = 0; ; i++) {
      const c = Atomics.load(i32, sem);
      if ((c & (READERS | WRITER)) === 0) {
        if (Atomics.compareExchange(i32, sem, c, c - WAITING_WRITER + WRITER) === c) break;
        continue;
      }
      wait_round(sem, c, i);
    }
  } catch (e) {
    Atomics.sub(i32, sem, WAITING_WRITER);
    throw e;
  }
  lock_contended_acquired(sem, cls, false, lock_wait_end(t0));
}

export function up_write(sem: number): void {
  lock_released(sem);
  const old = Atomics.sub(i32, sem, WRITER);
  wake_all(sem, old);
  preempt_point_release(sem);
}

export function rwsem_is_locked(sem: number): boolean {
  return (Atomics.load(i32, sem) & (READERS | WRITER)) !== 0;
}

/** cov: a writer holds sem (race-window coverage asks it of a child mm, whose dup_mmap holds it for the whole copy) */
export function rwsem_is_write_locked(sem: number): boolean {
  return (Atomics.load(i32, sem) & WRITER) !== 0;
}
