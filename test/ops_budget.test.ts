// Issue 16 item 2: the ops budget of a free run without a global op counter.
// Each CPU counts on its own PERCPU line and sums the counts every few ops;
// the run must still stop at the budget, within the documented overshoot.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { run_free } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { OPS_CHECK_MAX, ops_check_every } from '../src/worker/warmup.js';

describe('ops budget', () => {
  it('checks every op for a small budget, and never lets the late stop exceed 1/64 of the budget', () => {
    expect(ops_check_every(100, 2)).toBe(1);
    expect(ops_check_every(1_000_000, 2)).toBe(OPS_CHECK_MAX);
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 1, max: 16 }), (budget, cpus) => {
      const k = ops_check_every(budget, cpus);
      expect(k).toBeGreaterThanOrEqual(1);
      expect(k).toBeLessThanOrEqual(OPS_CHECK_MAX);
      if (k > 1) expect(cpus * (k - 1)).toBeLessThanOrEqual(budget / 64);
    }));
  });

  it('a free run stops at its budget: at least the budget, at most nr_cpus * every ops past it', async () => {
    const scenario = SCENARIOS.find((s) => s.name === 'orphaned-migration-entry')!;
    for (const [ops, cpus] of [[37, 2], [20_000, 3]]) {
      const r = await run_free({ scenario, scenarioImport: scenario.name, protocol: 'fixed', cpus, ops, duration_ms: 0, seed: 5, jitter: 0, watchdog_ms: 30_000 });
      expect(r.outcome).toBe('clean');
      expect(r.ops).toBe(r.cpu_ops!.reduce((a, b) => a + b, 0));
      expect(r.ops).toBeGreaterThanOrEqual(ops);
      // each CPU: at most every - 1 ops before its next check, and the op under way when the stop is seen
      expect(r.ops).toBeLessThanOrEqual(ops + cpus * ops_check_every(ops, cpus));
    }
  }, 60_000);

  it('one CPU stops exactly at its budget, however far apart its checks start', async () => {
    const scenario = SCENARIOS.find((s) => s.name === 'orphaned-migration-entry')!;
    for (const ops of [200, 5_000]) {
      expect(ops_check_every(ops, 1)).toBeGreaterThan(1); // checks start every few ops, not every op
      const r = await run_free({ scenario, scenarioImport: scenario.name, protocol: 'fixed', cpus: 1, ops, duration_ms: 0, seed: 3, jitter: 0, watchdog_ms: 30_000 });
      expect(r.outcome).toBe('clean');
      expect(r.ops).toBe(ops);
    }
  }, 60_000);
});
