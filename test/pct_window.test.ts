// xspeed (issue 16 item 6): PCT's automatic window (calibrate_k) on more
// than 2 CPUs is the random walk's decisions to the first exit divided by
// n - 1, not the whole count (which grows with every CPU interleaved), and
// skips an operation that returned at once, so on 4 CPUs PCT finds the
// orphaned migration entry in every seed (with the whole count, k ~450,
// seed 3 found nothing in 500 runs). Deterministic: a seed's exploration is
// the same every time, so these seeds either find it or not.
import { afterAll, describe, expect, it } from 'vitest';
import { ControlledExecutor } from '../src/exec/controlled.js';
import { explore } from '../src/search/explore.js';
import { orphanedMigrationEntry as S } from '../src/scenarios/orphaned_migration_entry.js';

const ORPHAN = /BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page/;
const ex = new ControlledExecutor();
afterAll(async () => { await ex.close(); });

describe('PCT\'s automatic window', () => {
  it('on 4 CPUs finds the orphaned migration entry in each of seeds 1, 2, 3 within explore\'s default 500 runs', async () => {
    const base = { scenario: S, scenarioImport: S.name, protocol: 'buggy' as const, cpus: 4, ops: 1, max_steps: 100_000 };
    for (const seed of [1, 2, 3]) {
      const [r] = await explore(ex, { base, strategies: ['pct'], iterations: 500, seed, depth: 3, k: null, stop_at_first: true });
      // a third of the ~450 decisions to the first exit
      expect(r.k, `seed ${seed}`).toBeGreaterThanOrEqual(50);
      expect(r.k, `seed ${seed}`).toBeLessThanOrEqual(400);
      expect(r.first, `seed ${seed}: no failure in ${r.iterations} PCT runs at k=${r.k}`).not.toBeNull();
      expect(r.first!.run.run.oops?.text).toMatch(ORPHAN);
    }
  }, 180_000);
});
