// scale (issue 16 item 4): the scale workload runs clean on several CPUs,
// each CPU on its own process family; `mmrace bench scale` reports the raw
// harness's ratio, work by kind, kernel events and CPU time beside ops/s,
// and says whether the role mix changes with the CPU count. Figures are
// only checked to be there and to add up, never against a speed.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run_free } from '../src/exec/free_run.js';
import { WORKLOADS, SCENARIOS, loadScenario } from '../src/scenarios/registry.js';
import { role_mix_notes } from '../src/cli/bench_run.js';
import { mmrace } from './cli_helpers.js';
import { spread } from '../src/report/bench_text.js';
import type { BenchReport } from '../src/report/report_types.js';
// the built module: it starts the built CLI (dist/src/cli.js) as its children
import { procs_point } from '../dist/src/cli/bench_procs.js';

const tmp = mkdtempSync(join(tmpdir(), 'mmrace-scale-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the scale workload', () => {
  it('is found by name, is no race scenario, and runs clean on 3 CPUs (invariants checked at the end)', async () => {
    const s = await loadScenario('scale');
    expect(WORKLOADS).toContain(s);
    expect(SCENARIOS).not.toContain(s);
    expect(s.switches).toEqual([]);
    const r = await run_free({ scenario: s, scenarioImport: s.name, protocol: 'fixed', cpus: 3, ops: 900, duration_ms: 0, seed: 3, jitter: 1, watchdog_ms: 30_000 });
    expect(r.outcome, r.oops?.text ?? r.reason ?? '').toBe('clean');
    expect(r.invariants).toEqual([]);
    for (const n of r.cpu_ops!) expect(n).toBeGreaterThan(0);
    expect(new Set(r.roles)).toEqual(new Set(['family']));
  }, 60_000);

  it('role-mix notes: unchanged for scale, changed (with the mix) for the orphan scenario', async () => {
    const scale = await loadScenario('scale');
    expect(role_mix_notes(scale.roles, [1, 2, 4])).toEqual([expect.stringContaining('the role mix is the same at every point (family 100%)')]);
    const orphan = await loadScenario('orphaned-migration-entry');
    const [n] = role_mix_notes(orphan.roles, [1, 2]);
    expect(n).toContain('the role mix changes with the CPU count (1 -> 2 CPUs: solo 100% -> migrator 50%, forker 50%)');
    expect(role_mix_notes(orphan.roles, [2])).toEqual([]);
  });

  it('mmrace bench scale --cpus 1,2 --rounds 2: raw harness, work by kind, events, CPU time and every round\'s ratios in the text and the JSON', () => {
    const j = join(tmp, 'scale.json');
    const r = mmrace('bench', 'scale', '--cpus', '1,2', '--duration', '0.3', '--warmup', '0.2', '--rounds', '2', '--json', j);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('scaling, model, raw harness');
    expect(r.out).toContain('ops/s by kind');
    const rep = JSON.parse(readFileSync(j, 'utf8')) as BenchReport;
    expect(rep.points.map((p) => p.cpus)).toEqual([1, 2]);
    for (const p of rep.points) {
      expect(p.outcome).toBe('clean');
      expect(p.raw_ops_per_s).toBeGreaterThan(0);
      expect(p.kinds!.map((k) => k.op).sort()).toEqual(['op:dup_mmap', 'op:migrate_pages', 'op:user access']);
      // the kinds share out the point's ops/s
      expect(p.kinds!.reduce((a, k) => a + k.ops_per_s, 0)).toBeCloseTo(p.ops_per_s, 3);
      expect(Object.keys(p.events_per_s!)).toEqual(expect.arrayContaining(['faults', 'cow', 'forks', 'exits', 'migrate_ok']));
      expect(p.cpu_s).toBeGreaterThan(0);
    }
    expect(rep.points[0].raw_speedup).toBe(1);
    expect(rep.points[1].raw_speedup).toEqual(expect.any(Number));
    // the separate-processes ceiling: one process alone, then two together
    for (const p of rep.points) expect(p.procs_ops_per_s).toBeGreaterThan(0);
    expect(rep.points[0].procs_speedup).toBe(1);
    expect(rep.points[1].procs_speedup).toEqual(expect.any(Number));
    expect(r.out).toContain('procs x');
    expect(rep.points[1].work_speedup).toEqual(expect.any(Number));
    expect(rep.notes.some((n) => n.includes('the role mix is the same at every point'))).toBe(true);
    // two sweeps in turn: each round's ratios, and the points are the median round's (of two, the lower by the 2-CPU speedup)
    expect(r.out).toMatch(/^round 1: +1 CPUs/m);
    expect(r.out).toMatch(/^round 2: +2 CPUs/m);
    // the second round runs the counts in reverse (ABBA), and still reports them in order
    expect(r.out.search(/^round 2: +2 CPUs/m)).toBeLessThan(r.out.search(/^round 2: +1 CPUs/m));
    expect(r.out).toContain('rounds: the sweep of 1, 2 CPUs ran 2 times in turn (every other one in reverse order)');
    const R = rep.rounds!;
    expect(R.n).toBe(2);
    expect(R.per_cpus.map((c) => c.cpus)).toEqual([1, 2]);
    for (const c of R.per_cpus) for (const k of ['ops_per_s', 'speedup', 'raw_speedup', 'procs_speedup'] as const) expect(c[k]).toHaveLength(2);
    const two = R.per_cpus[1].speedup as number[];
    expect(rep.points[1].speedup).toBe(two[R.median_round]);
    expect(two[R.median_round]).toBe(Math.min(...two));
    expect(rep.points[0].ops_per_s).toBe(R.per_cpus[0].ops_per_s[R.median_round]);
    expect(rep.replay).toMatch(/ --rounds 2$/);
  }, 90_000);

  it('spread: median, least and greatest of the rounds\' figures, skipping the missing', () => {
    expect(spread([1.2, null, 0.9, 1.5])).toEqual({ median: 1.2, min: 0.9, max: 1.5 });
    expect(spread([2, 1])).toEqual({ median: 1.5, min: 1, max: 2 });
    expect(spread([null, null])).toBeNull();
  });

  it('the separate-processes ceiling: n children of 1 CPU each, summed; a child that fails names its error', async () => {
    expect(await procs_point(2, { scenario: 'scale', seed: 1, duration_ms: 300 })).toBeGreaterThan(0);
    await expect(procs_point(1, { scenario: 'no-such-scenario', seed: 1, duration_ms: 100 }))
      .rejects.toThrow(/separate process .* ended with exit 2: mmrace: error: unknown scenario 'no-such-scenario'/);
  }, 60_000);
});
