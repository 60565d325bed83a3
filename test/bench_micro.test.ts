// The micro bench's rows run to their end on the model as it is: a row that
// hangs (the migrate row did once the pagevecs held its page off the LRU) or
// times a failure path (the anon-fault rows timed -ENOMEM once anon_vma ids
// ran out) stops `npm run bench`; each row checks its own steps and throws.
import { describe, expect, it } from 'vitest';
import { micro } from '../bench/micro.js';

describe('bench micro', () => {
  it('every row runs with a tiny time budget, each timed step succeeding, and yields a finite cost', async () => {
    const rows = await micro(5);
    expect(rows.length).toBeGreaterThanOrEqual(15);
    for (const r of rows) expect(Number.isFinite(r.ns_per_op) && r.ns_per_op > 0, r.name).toBe(true);
    expect(rows.map((r) => r.name)).toContain('migrate one mapped page (isolate, unmap, copy, remap)');
  }, 120_000);
});
