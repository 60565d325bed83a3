// lock_stat's hold-time sampling (src/sync/lock_stat.ts): one acquisition in
// 16 on average, at random gaps, so an operation that always takes its locks
// in the same order still gets every one of them sampled in proportion (a
// fixed counter would sample only one position of the order).
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { f64, page_base } from '../src/shm/machine.js';
import { LOCKSTAT, LOCKSTAT_RW, PAGE } from '../src/shm/layout.js';
import { current } from '../src/cpu/current.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { spin_lock, spin_unlock } from '../src/sync/spinlock.js';
import { LC_ANON_VMA, LC_LRU, LC_PTL, LC_ZONE } from '../src/sync/lock_class.js';
import { reset_cpu_accounting } from '../src/mm/init.js';

const row = (cls: number) => current.lockstat_f64 + cls * LOCKSTAT_RW * LOCKSTAT.stride;

describe('lock_stat hold-time sampling', () => {
  it('samples about one acquisition in 16, every lock of a fixed order in proportion, and times only sampled holds', () => {
    boot();
    // four locks always taken in the same order, as one operation would (4 divides 16: a counter would alias)
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
      // in proportion: 8000 / 16 = 500 expected per lock (binomial-like sd ~22); none left out, none favoured
      expect(samples).toBeGreaterThan(350);
      expect(samples).toBeLessThan(650);
      expect(f64[row(cls) + LOCKSTAT.hold_max]).toBeGreaterThanOrEqual(f64[row(cls) + LOCKSTAT.hold_min]);
      total += samples;
    }
    expect(total / (4 * ROUNDS)).toBeGreaterThan(1 / 20);
    expect(total / (4 * ROUNDS)).toBeLessThan(1 / 13);
  });
});
