// seed 002's page-lock instance cycle (src/sync/lockdep.ts page_lock_cycle):
// it reads the other CPUs' holds and waits while they run, one after the
// other, so its first reading may join two moments. A cycle is reported only
// if a second reading agrees (the lock still held by the same CPU, which
// still waits). Here CPU 1's state is written by hand as CPU 0 reads it.
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { lock_page } from '../src/sync/page_lock.js';
import { lock_wait_begin } from '../src/sync/lock_stat.js';
import { LC_PAGE_LOCK } from '../src/sync/lock_class.js';
import { lockdep_found } from '../src/sync/lockdep.js';
import { i32, page_base, percpu_base } from '../src/shm/machine.js';
import { PAGE, PERCPU, PG_locked } from '../src/shm/layout.js';

/** CPU 0 holds p1 and begins waiting for p2, whose owner word names CPU 1, which waits for p1; `locked`: p2 is still locked */
function cpu0_waits_for_p2(locked: boolean): boolean {
  boot({ nr_cpus: 2 });
  const p1 = alloc_page(), p2 = alloc_page();
  lock_page(p1);
  const f2 = page_base(p2) + PAGE.flags;
  i32[page_base(p2) + PAGE.owner_cpu] = 2; // CPU 1's tag
  if (locked) Atomics.or(i32, f2, PG_locked);
  const pc1 = percpu_base(1);
  Atomics.store(i32, pc1 + PERCPU.await_cls, LC_PAGE_LOCK);
  Atomics.store(i32, pc1 + PERCPU.await_lock, page_base(p1) + PAGE.flags);
  lock_wait_begin(f2, LC_PAGE_LOCK, 2);
  return lockdep_found();
}

describe('lockdep: page-lock wait cycles', () => {
  it('a real cycle (p2 locked by CPU 1, which waits for p1, held here) is reported', () => {
    expect(cpu0_waits_for_p2(true)).toBe(true);
  });

  it('a stale one (p2 released since its owner was read) is not: the second reading disagrees', () => {
    expect(cpu0_waits_for_p2(false)).toBe(false);
  });
});
