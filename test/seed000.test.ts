// Seed 000's other hunks, each a scenario: the buggy line reproduces its
// failure on real workers within a bounded op budget, and the fixed line
// holds under the same load. Plus the swap subsystem under stress.
import { describe, expect, it } from 'vitest';
import { run_free, RunResult } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { cpustat_base, i32 } from '../src/shm/machine.js';
import { CPUSTAT } from '../src/shm/layout.js';
import { JITTER_HEAVY, JITTER_NONE } from '../src/exec/jitter.js';
import { boot } from './helpers.js';
import { EPERM, sys_swapon } from '../src/mm/swapfile.js';
import { MAX_SWAPFILES } from '../src/mm/swapops.js';
import { KernelBug, read_oops, OOPS_BOUNDS } from '../src/check/bug.js';
import { SW_SWAPON_TYPE_RANGE } from '../src/shm/switches.js';

const scenario = (name: string) => SCENARIOS.find((s) => s.name === name)!;
const run = (name: string, protocol: 'buggy' | 'fixed', cpus: number, ops: number, seed: number, jitter = JITTER_NONE) =>
  run_free({ scenario: scenario(name), scenarioRef: name, protocol, cpus, ops, duration_ms: 0, seed, jitter, watchdog_ms: 30_000 });
const total = (cpus: number, field: number) => { let s = 0; for (let c = 0; c < cpus; c++) s += i32[cpustat_base(c) + field]; return s; };

const BUGS: [string, RegExp][] = [
  ['cow-migration-entry', /COW leak|writable pte to COW-shared pfn/],
  ['mprotect-migration-entry', /succeeded after mprotect\(PROT_READ\)|writable pte in a read-only vma/],
  ['swap-fault-on-migration-entry', /Read-error on swap-device \(entry [0-9a-f]{8}: type 3[01] /],
  ['swap-count-on-migration-entry', /swap_(dup|free): Bad swap file entry [0-9a-f]{8}/],
  ['swapon-type-range', /BUG: KASAN: global-out-of-bounds in sys_swapon/],
];

describe('seed 000 scenarios on 3 CPUs', () => {
  for (const [name, sig] of BUGS) {
    it(`${name}: the buggy line reproduces it, the fixed line holds`, async () => {
      let hit: RunResult | null = null;
      const attempts: string[] = [];
      for (let seed = 1; seed <= 5 && !hit; seed++) {
        const r = await run(name, 'buggy', 3, 300_000, seed);
        attempts.push(`${r.outcome}@${r.ops}: ${r.oops?.text.split('\n')[0] ?? ''}`);
        if ((r.outcome === 'bug' || r.outcome === 'violation') && sig.test(r.oops?.text ?? '')) hit = r;
      }
      expect(hit, `attempts: ${attempts.join('; ')}`).not.toBeNull();
      expect(hit!.switches).toEqual(scenario(name).switches);

      const f = await run(name, 'fixed', 3, 300_000, 42);
      expect(f.outcome, f.oops?.text ?? f.invariants.join('\n')).toBe('clean');
      expect(f.ops).toBeGreaterThanOrEqual(300_000);
    });
  }

  it('swap-stress: reclaim, swap-in, fork, migration and swapoff on 5 CPUs with heavy jitter hold', async () => {
    const r = await run('swap-stress', 'fixed', 5, 1_000_000, 9, JITTER_HEAVY);
    expect(r.outcome, r.oops?.text ?? r.invariants.join('\n')).toBe('clean');
    expect(total(5, CPUSTAT.swapouts)).toBeGreaterThan(100);
    expect(total(5, CPUSTAT.swapins)).toBeGreaterThan(100);
    expect(total(5, CPUSTAT.migrate_ok)).toBeGreaterThan(1_000);
    expect(total(5, CPUSTAT.forks)).toBeGreaterThan(100);
  });
});

describe('sys_swapon range check', () => {
  it(`fixed: ${MAX_SWAPFILES} devices, then -EPERM, not a crash`, () => {
    boot();
    for (let k = 0; k < MAX_SWAPFILES; k++) expect(sys_swapon(8, 0)).toBe(k);
    expect(sys_swapon(8, 0)).toBe(EPERM);
    expect(sys_swapon(8, 0)).toBe(EPERM);
  });

  it('buggy: the old check lets type 30 through, and the write past swap_info[] is caught', () => {
    boot({}, SW_SWAPON_TYPE_RANGE);
    for (let k = 0; k < MAX_SWAPFILES; k++) expect(sys_swapon(8, 0)).toBe(k);
    expect(() => sys_swapon(8, 0)).toThrow(KernelBug);
    expect(read_oops()!.kind).toBe(OOPS_BOUNDS);
    expect(read_oops()!.text).toMatch(/swap_info\[30\]/);
  });
});
