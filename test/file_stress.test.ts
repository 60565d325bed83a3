// file-stress (issue 10 item 5): files and anonymous memory under load on 3
// CPUs, no switch: every data check, kernel check and the end-of-run sweep
// must hold over a million operations, and the load must really have gone
// through the page cache, reclaim, migration, writeback and truncate.
import { describe, expect, it } from 'vitest';
import { run_free } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { cpustat_base, i32 } from '../src/shm/machine.js';
import { CPUSTAT } from '../src/shm/layout.js';
import { JITTER_LIGHT } from '../src/worker/jitter.js';

const total = (cpus: number, field: number) => { let s = 0; for (let c = 0; c < cpus; c++) s += i32[cpustat_base(c) + field]; return s; };

describe('file-stress', () => {
  it('holds over 1e6 operations on 3 CPUs, with migration, reclaim, writeback and forks all busy', async () => {
    const sc = SCENARIOS.find((s) => s.name === 'file-stress')!;
    expect(sc.switches).toEqual([]);
    const r = await run_free({ scenario: sc, scenarioImport: sc.name, protocol: 'fixed', cpus: 3, ops: 1_000_000, duration_ms: 0, seed: 3, jitter: JITTER_LIGHT, watchdog_ms: 30_000 });
    expect(r.outcome, r.oops?.text ?? r.invariants.join('\n')).toBe('clean');
    expect(r.ops).toBeGreaterThanOrEqual(1_000_000);
    expect(total(3, CPUSTAT.migrate_ok)).toBeGreaterThan(1_000);
    expect(total(3, CPUSTAT.forks)).toBeGreaterThan(100);
    expect(total(3, CPUSTAT.cow)).toBeGreaterThan(100);
    expect(total(3, CPUSTAT.io_completed)).toBeGreaterThan(100);
    expect(total(3, CPUSTAT.swapouts)).toBeGreaterThan(100); // pages reclaimed: file pages written back and dropped, anon pages swapped
  });
});
