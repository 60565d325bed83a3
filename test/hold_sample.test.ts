// lock_stat's hold-time sampling (src/sync/lock_stat.ts): every one of the
// first 64 acquisitions of a class on a CPU, then one in 64 on average, at
// random gaps, so an operation that always takes its locks in the same order
// still gets every one of them sampled in proportion (a fixed counter would
// sample only one position of the order).
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { f64, page_base } from '../src/shm/machine.js';
import { LOCKSTAT, LOCKSTAT_RW, PAGE } from '../src/shm/layout.js';
import { current } from '../src/cpu/current.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { spin_lock, spin_unlock } from '../src/sync/spinlock.js';
import { LC_ANON_VMA, LC_LRU, LC_PTL, LC_ZONE } from '../src/sync/lock_class.js';
import { mem_init, reset_cpu_accounting } from '../src/mm/init.js';
import { held_count, holds_class } from '../src/sync/lock_stat.js';
import { lockdep_cycle } from '../src/sync/lockdep.js';
import { createMachineBuffer, live_machine } from '../src/shm/machine.js';
import { lock_stat_rows } from '../src/report/lock_stat.js';
import { lock_class_name } from '../src/sync/lock_class.js';
import { DEFAULT_SIZES } from '../src/shm/layout.js';
import { set_current_cpu } from '../src/cpu/current.js';

const row = (cls: number) => current.lockstat_f64 + cls * LOCKSTAT_RW * LOCKSTAT.stride;

describe('lock_stat hold-time sampling', () => {
  it('times the first 64 holds of a class, then about one acquisition in 64, every lock of a fixed order in proportion', () => {
    boot();
    // four locks always taken in the same order, as one operation would (4 divides 64: a counter would alias)
    const order = [LC_PTL, LC_ANON_VMA, LC_LRU, LC_ZONE];
    const locks = order.map(() => page_base(alloc_page()) + PAGE.ptl);
    reset_cpu_accounting(); // after the allocations (they take zone->lock)
    const ROUNDS = 8000;
    for (let k = 0; k < ROUNDS; k++) {
      for (let j = 0; j < 4; j++) spin_lock(locks[j], order[j]);
      for (let j = 3; j >= 0; j--) spin_unlock(locks[j]);
    }
    let total = 0;
    for (const cls of order) {
      const acq = f64[row(cls) + LOCKSTAT.acquisitions];
      const samples = f64[row(cls) + LOCKSTAT.hold_samples];
      expect(acq).toBe(ROUNDS);
      // in proportion: 64 + 7936 / 64 = 188 expected per lock (sd ~11); none left out, none favoured
      expect(samples).toBeGreaterThan(140);
      expect(samples).toBeLessThan(240);
      expect(f64[row(cls) + LOCKSTAT.hold_max]).toBeGreaterThanOrEqual(f64[row(cls) + LOCKSTAT.hold_min]);
      total += samples;
    }
    expect(total / (4 * ROUNDS)).toBeGreaterThan(1 / 60);
    expect(total / (4 * ROUNDS)).toBeLessThan(1 / 30);
  });

  it('times every hold of a lock taken fewer than 64 times (a rare lock is not left without hold times)', () => {
    boot();
    const a = page_base(alloc_page()) + PAGE.ptl, b = page_base(alloc_page()) + PAGE.ptl;
    reset_cpu_accounting();
    for (let k = 0; k < 40; k++) { spin_lock(a, LC_ANON_VMA); spin_lock(b, LC_LRU); spin_unlock(b); spin_unlock(a); }
    for (const cls of [LC_ANON_VMA, LC_LRU]) {
      expect(f64[row(cls) + LOCKSTAT.acquisitions]).toBe(40);
      expect(f64[row(cls) + LOCKSTAT.hold_samples]).toBe(40);
    }
    // and past the first 64, only some are: 1000 more acquisitions add about 1000 / 64
    for (let k = 0; k < 1000; k++) { spin_lock(a, LC_ANON_VMA); spin_unlock(a); }
    const more = f64[row(LC_ANON_VMA) + LOCKSTAT.hold_samples] - 40;
    expect(more).toBeGreaterThan(24); // 24 of 64..1040 all timed
    expect(more).toBeLessThan(24 + 40);
    // lock_stat's holdtime-total is the kernel's sum over every hold: the timed holds' mean times all 1040
    const r = lock_stat_rows(live_machine()).find((x) => x.class === lock_class_name(LC_ANON_VMA))!;
    const timed_us = f64[row(LC_ANON_VMA) + LOCKSTAT.hold_total] / 1000;
    expect(r.acquisitions).toBe(1040);
    expect(r.hold_samples).toBe(40 + more);
    expect(r.holdtime_total).toBeCloseTo(timed_us * 1040 / (40 + more), 6);
    expect(r.holdtime_avg).toBeCloseTo(timed_us / (40 + more), 6);
  });

  it('times a hold released below the top of the held stack from its own start (sampled entries move down with it)', () => {
    boot();
    const order = [LC_PTL, LC_ANON_VMA, LC_LRU, LC_ZONE];
    const locks = order.map(() => page_base(alloc_page()) + PAGE.ptl);
    reset_cpu_accounting();
    const W = 50_000; // ns of busy work between the acquisitions: each lock's true hold differs by W
    const spin = () => { const t = performance.now() + W / 1e6; while (performance.now() < t); };
    const ROUNDS = 2500;
    let wrong = 0; // checked after the loop: an expect() inside would lengthen the holds it sits in
    for (let k = 0; k < ROUNDS; k++) {
      // taken W apart: true holds 3W+, 2W+, W+ and ~0 for the four
      for (let j = 0; j < 4; j++) { spin_lock(locks[j], order[j]); if (j < 3) spin(); }
      // out of LIFO order: the second, then the first (entries 2 and 3 move down twice), then the top two
      spin_unlock(locks[1]); spin_unlock(locks[0]);
      if (!(holds_class(LC_LRU) && holds_class(LC_ZONE) && !holds_class(LC_PTL))) wrong++;
      spin_unlock(locks[3]); spin_unlock(locks[2]);
      if (held_count() !== 0) wrong++;
    }
    expect(wrong).toBe(0);
    const min = (cls: number) => f64[row(cls) + LOCKSTAT.hold_min];
    for (const cls of order) {
      const samples = f64[row(cls) + LOCKSTAT.hold_samples];
      expect(samples).toBeGreaterThan(70); // 64 + 2436 / 64 = 102 expected
      expect(samples).toBeLessThan(140);
    }
    // the shortest sampled hold of each: preemption only lengthens holds, so a minimum read from another
    // entry's start (a start that did not move with its entry) shows as a lock held W more or less than it was
    expect(min(LC_PTL)).toBeGreaterThan(2.5 * W);
    expect(min(LC_ANON_VMA)).toBeGreaterThan(1.5 * W);
    expect(min(LC_ANON_VMA)).toBeLessThan(3 * W);
    expect(min(LC_LRU)).toBeGreaterThan(0.8 * W);
    expect(min(LC_LRU)).toBeLessThan(2 * W);
    expect(min(LC_ZONE)).toBeLessThan(0.5 * W);
  });

  it('--no-lock-stat (CONFIG_LOCK_STAT=n): no counts and no timing, while the held stack and lockdep stay', () => {
    createMachineBuffer({ ...DEFAULT_SIZES, nr_cpus: 1 });
    mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0, lock_stat: false });
    set_current_cpu(0, 1);
    const a = page_base(alloc_page()) + PAGE.ptl, b = page_base(alloc_page()) + PAGE.ptl;
    reset_cpu_accounting();
    for (let k = 0; k < 1000; k++) {
      spin_lock(a, LC_LRU); spin_lock(b, LC_ZONE);
      expect(held_count()).toBe(2);
      spin_unlock(b); spin_unlock(a);
    }
    for (const cls of [LC_LRU, LC_ZONE]) {
      expect(f64[row(cls) + LOCKSTAT.acquisitions]).toBe(0);
      expect(f64[row(cls) + LOCKSTAT.hold_samples]).toBe(0);
    }
    // lockdep still learns the order, and sees its inversion
    spin_lock(b, LC_ZONE); spin_lock(a, LC_LRU); spin_unlock(a); spin_unlock(b);
    expect(lockdep_cycle()).toMatch(/LRU|lru/);
    // and a run booted with it on counts again
    boot();
    spin_lock(a, LC_LRU); spin_unlock(a);
    expect(f64[row(LC_LRU) + LOCKSTAT.acquisitions]).toBeGreaterThan(0);
  });
});
