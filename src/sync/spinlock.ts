// spinlock_t on a pair of words: val (0 free, holder cpu+1, SLEEPERS bit when
// someone parks) and last (the last holder, for lock_stat bounces). Workers
// may outnumber cores, so a waiter spins a bounded number of times and then
// parks in Atomics.wait; the unlocker notifies one sleeper.
import { SPINLOCK } from '../shm/layout.js';
import { i32 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { PP_LOCK_ACQUIRE, check_halt, controlled, cpu_relax, preempt_point, preempt_point_release } from './preempt.js';
import { lock_acquired, lock_acquired_fast, lock_contended_acquired, lock_released, lock_wait_begin, lock_wait_end } from './lock_stat.js';

export const SLEEPERS = 0x40000000;
/** spins before parking; tuned by bench/spinlock (see README) */
export let SPIN_LIMIT = 200;
/** a parked waiter re-checks the halt word this often */
export const PARK_MS = 20;

export function set_spin_limit(n: number): void { SPIN_LIMIT = n; }

/**
 * round `i` of a wait on a lock word last read as `cur` that the release
 * wakes with wake_all (rwsem, rwlock): spin, then set SLEEPERS and park
 * (controlled: always yield, never park)
 */
export function wait_round(word: number, cur: number, i: number): void {
  if (i < SPIN_LIMIT || controlled) { cpu_relax(); return; }
  check_halt();
  if ((cur & SLEEPERS) === 0) { Atomics.or(i32, word, SLEEPERS); return; }
  Atomics.wait(i32, word, cur, PARK_MS);
}

/** a release that may let waiters in, `old` the word before it: wake every parked one */
export function wake_all(word: number, old: number): void {
  if ((old & SLEEPERS) === 0) return;
  Atomics.and(i32, word, ~SLEEPERS);
  Atomics.notify(i32, word, Infinity);
}

export function spin_lock(lock: number, cls: number): void {
  preempt_point(PP_LOCK_ACQUIRE, lock);
  const me = current.tag;
  if (Atomics.compareExchange(i32, lock + SPINLOCK.val, 0, me) === 0) {
    const bounce = i32[lock + SPINLOCK.last] !== me;
    i32[lock + SPINLOCK.last] = me;
    lock_acquired_fast(lock, cls, bounce, false);
    return;
  }
  spin_lock_slow(lock, cls, me);
}

function spin_lock_slow(lock: number, cls: number, me: number): void {
  const t0 = lock_wait_begin(lock, cls, Atomics.load(i32, lock + SPINLOCK.val) & ~SLEEPERS);
  const v = lock + SPINLOCK.val;
  let got = false;
  // controlled: keep yielding (cpu_relax hands the token on) instead of parking
  for (let i = 0; i < SPIN_LIMIT || controlled; i++) {
    if (Atomics.load(i32, v) === 0 && Atomics.compareExchange(i32, v, 0, me) === 0) { got = true; break; }
    cpu_relax();
  }
  while (!got) {
    check_halt();
    const cur = Atomics.load(i32, v);
    if (cur === 0) {
      // take it with SLEEPERS set: others may still be parked behind us
      if (Atomics.compareExchange(i32, v, 0, me | SLEEPERS) === 0) got = true;
      continue;
    }
    if ((cur & SLEEPERS) === 0 && Atomics.compareExchange(i32, v, cur, cur | SLEEPERS) !== cur) continue;
    Atomics.wait(i32, v, cur | SLEEPERS, PARK_MS);
  }
  const waitNs = lock_wait_end(t0);
  const bounce = i32[lock + SPINLOCK.last] !== me;
  i32[lock + SPINLOCK.last] = me;
  lock_contended_acquired(lock, cls, bounce, waitNs);
}

export function spin_trylock(lock: number, cls: number): boolean {
  preempt_point(PP_LOCK_ACQUIRE, lock);
  const me = current.tag;
  if (Atomics.compareExchange(i32, lock + SPINLOCK.val, 0, me) !== 0) return false;
  const bounce = i32[lock + SPINLOCK.last] !== me;
  i32[lock + SPINLOCK.last] = me;
  lock_acquired(lock, cls, bounce, true);
  return true;
}

export function spin_unlock(lock: number): void {
  lock_released(lock);
  const prev = Atomics.exchange(i32, lock + SPINLOCK.val, 0);
  if ((prev & SLEEPERS) !== 0) Atomics.notify(i32, lock + SPINLOCK.val, 1);
  preempt_point_release(lock);
}

/** holder cpu of a spinlock, or -1 (diagnostics and assertions) */
export function spin_owner(lock: number): number {
  const v = Atomics.load(i32, lock + SPINLOCK.val) & ~SLEEPERS;
  return v === 0 ? -1 : v - 1;
}

export function spin_is_locked(lock: number): boolean {
  return Atomics.load(i32, lock + SPINLOCK.val) !== 0;
}
