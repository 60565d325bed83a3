// The free runs of one process keep their CPU workers (src/exec/pool.ts):
// a pool whose every task settled waits for the next run of as many CPUs,
// and the next run gives the same outcome as in a new pool.
import { describe, expect, it } from 'vitest';
import { drain_pools, give_back_pool, pools_created, take_pool } from '../src/exec/pool.js';
import { run } from '../src/api.js';

describe('kept worker pools', () => {
  it('a settled pool is taken again by the next run of as many CPUs; an unsettled one is torn down', async () => {
    await drain_pools();
    const a = take_pool(2);
    await give_back_pool(a, 2, true);
    expect(take_pool(2)).toBe(a); // kept
    expect(take_pool(2)).not.toBe(a); // and taken: a second run at once gets a pool of its own
    await give_back_pool(a, 2, false); // a CPU may still be looping: destroyed, not kept
    const b = take_pool(2);
    expect(b).not.toBe(a);
    await b.destroy();
    await drain_pools();
  });

  it('runs one after another in one process create one pool, and each ends as in a new pool', async () => {
    await drain_pools();
    const before = pools_created;
    const outcomes: string[] = [];
    for (let k = 0; k < 3; k++) {
      const r = await run('swap-stress', { protocol: 'fixed', cpus: 2, ops: 2000, seed: k + 1 });
      outcomes.push(r.outcome);
      expect(r.per_cpu.every((c) => c.status === 'done'), JSON.stringify(r.per_cpu)).toBe(true);
    }
    // the orphan's buggy line in the same kept workers still finds its BUG
    const bug = await run('orphaned-migration-entry', { protocol: 'buggy', cpus: 2, ops: 200_000 });
    expect(outcomes).toEqual(['clean', 'clean', 'clean']);
    expect(bug.outcome).toBe('bug');
    expect(pools_created - before).toBe(1);
    await drain_pools();
  });
});
