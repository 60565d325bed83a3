// The bench's first_failure part, run quick on one scenario through its
// function: the row has every figure the table and BENCH_JSON print, and
// its counts add up. Times are only checked to be numbers: figures are
// measured, never asserted.
import { describe, expect, it } from 'vitest';
import { cpus_of, first_failure, first_failure_options, first_failure_table, raced, row_name } from '../bench/first_failure.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { capture_bench } from '../bench/capture.js';

describe('bench first_failure part', () => {
  it('measures every scenario with a switch, and nothing else', () => {
    const names = raced().map((s) => s.name);
    expect(names).toContain('orphaned-migration-entry');
    for (const s of SCENARIOS) expect(names.includes(s.name)).toBe(s.switches.length > 0);
  });

  it('a scenario whose race needs a role dealt out only from more CPUs is measured on them, and its row says so', () => {
    const o = first_failure_options(true);
    const byName = (n: string) => SCENARIOS.find((x) => x.name === n)!;
    for (const [n, cpus, needs] of [['swapin-entry-reuse', 7, 'reader'], ['swap-stress', 5, 'swapper']] as const) {
      const s = byName(n);
      expect(cpus_of(s, o)).toBe(cpus);
      expect(s.roles(o.cpus)).not.toContain(needs); // on the part's 2 CPUs the race's role is not there at all
      expect(s.roles(cpus)).toContain(needs);
    }
    expect(cpus_of(byName('orphaned-migration-entry'), o)).toBe(o.cpus);
    expect(row_name({ scenario: 'swapin-entry-reuse', era: null, cpus: 7 })).toBe('swapin-entry-reuse --cpus 7');
    expect(row_name({ scenario: 'dio-migration-refcount', era: 1, cpus: null })).toBe('dio-migration-refcount --era 1');
  });

  it('one scenario, BENCH_QUICK: a row of the right shape, reproduced <= runs', async () => {
    const o = first_failure_options(true);
    const s = SCENARIOS.find((x) => x.name === 'swap-count-on-migration-entry')!;
    const rows = await first_failure([s], o);
    expect(rows).toHaveLength(1);
    const r = rows[0];
    expect(r.scenario).toBe(s.name);
    expect(r.signature).toEqual(expect.any(String));
    expect(r.deterministic).toBeNull();
    expect(['met', 'missed']).toContain(r.free.goal);
    for (const side of [r.free, r.explore]) {
      expect(side.runs).toBeGreaterThan(0);
      expect(side.runs).toBeLessThanOrEqual(o.runs);
      expect(side.reproduced).toBeLessThanOrEqual(side.runs);
      expect(side.reproduced + side.other_failure + side.not_found).toBe(side.runs);
      for (const v of [side.median_ms, side.p90_ms]) expect(typeof v).toBe('number');
      if (side.reproduced > 0) expect(side.p90_ms).toBeGreaterThanOrEqual(side.median_ms);
    }
    expect(typeof r.explore.median_schedules).toBe('number');
    expect(r.wall_ms).toBeGreaterThan(0);
    const table = first_failure_table(rows, o, r.wall_ms);
    expect(table).toContain(`| ${s.name} | ${r.free.reproduced}/${r.free.runs} |`);
    expect(table).toMatch(/part wall time: \d+\.\d s/);
  });
});

describe('bench capture part', () => {
  it('one start seed: a row of the right shape; the rate counts only orphan captures', async () => {
    const c = await capture_bench(1, 2000);
    expect(c.rows).toHaveLength(1);
    const r = c.rows[0];
    expect(r.seed).toBe(10);
    expect(['replayed', 'elsewhere', 'none', 'no free failure', 'not the orphan']).toContain(r.result);
    expect(c.captured).toBe(['replayed', 'elsewhere', 'none'].includes(r.result) ? 1 : 0);
    expect(c.replayed).toBe(r.result === 'replayed' ? 1 : 0);
    if (c.captured) {
      expect(r.steps).toBeGreaterThan(0);
      expect(r.replays).toBeGreaterThanOrEqual(1);
      expect(c.rate).toBe(c.replayed);
    }
  });
});
