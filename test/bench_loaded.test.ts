// The bench's first_bug_loaded part (issue 16 item 5), quick, on one
// scenario through its function: rows of the right shape, the spinner
// running during the loaded runs and gone after the part, even when a run
// throws. Times are only checked to be numbers: figures are measured, never asserted.
import { describe, expect, it } from 'vitest';
import { first_bug_loaded, first_bug_loaded_options, first_bug_loaded_table, start_spinner } from '../bench/first_bug_loaded.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import type { Scenario } from '../src/scenarios/types.js';
import { JITTER_ADAPTIVE, JITTER_NONE } from '../src/worker/jitter.js';

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('bench first_bug_loaded part', () => {
  it('the spinner runs until stopped, and is gone after', async () => {
    const s = start_spinner();
    expect(s.pid).toBeGreaterThan(0);
    expect(alive(s.pid)).toBe(true);
    await s.stop();
    expect(alive(s.pid)).toBe(false);
  });

  it('one scenario, one run a side: loaded and quiet at each level, the spinner alive during the runs and gone after', async () => {
    const o = { ...first_bug_loaded_options(true, [JITTER_NONE, JITTER_ADAPTIVE]), runs: 1, cap_ms: 2000 };
    const s = SCENARIOS.find((x) => x.name === 'swap-count-on-migration-entry')!;
    let pid = -1, during = false;
    const rows = await first_bug_loaded([{ ...s, setup: (...a: Parameters<Scenario['setup']>) => { if (pid > 0) during ||= alive(pid); return s.setup(...a); } }], o, [],
      (p) => { pid = p; });
    expect(during).toBe(true);
    expect(alive(pid)).toBe(false);
    expect(rows).toHaveLength(1);
    expect(rows[0].sides.map((x) => x.jitter)).toEqual(['none', 'adaptive']);
    for (const x of rows[0].sides) {
      for (const side of [x.loaded, x.quiet!]) {
        expect(side.runs).toBe(1);
        expect(side.reproduced + side.other_failure + side.not_found).toBe(side.runs);
        expect(typeof side.median_ms).toBe('number');
        // NaN when the run failed before any CPU finished an op (no sample)
        if (!Number.isNaN(side.overlap)) { expect(side.overlap).toBeGreaterThanOrEqual(0); expect(side.overlap).toBeLessThanOrEqual(1); }
      }
    }
    const table = first_bug_loaded_table(rows, o, 1);
    expect(table).toContain(`| ${s.name} | adaptive | ${rows[0].sides[1].loaded.reproduced}/1 |`);
  }, 120_000);

  it('the spinner is killed when a run throws', async () => {
    const s = SCENARIOS.find((x) => x.name === 'swap-count-on-migration-entry')!;
    let pid = -1;
    const o = { ...first_bug_loaded_options(true, [JITTER_NONE]), runs: 1, quiet: false };
    await expect(first_bug_loaded([{ ...s, setup: () => { throw new Error('setup fails'); } }], o, [], (p) => { pid = p; })).rejects.toThrow(/setup fails/);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  }, 60_000);
});
