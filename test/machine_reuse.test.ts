// xspeed (issue 16 item 6): the controlled executor boots every run in one
// Machine buffer. Booting in a used buffer must give the bytes of a fresh
// boot, and a run on a reused Machine must be the run a fresh Machine makes
// (same decisions, hand-offs, per-CPU events, failure and race windows) for
// the same scenario, seed and strategy; a run's result kept across the next
// run must still read as it ended.
import { afterAll, describe, expect, it } from 'vitest';
import { ControlledExecutor, ControlledOptions, ControlledRun } from '../src/exec/controlled.js';
import { boot_machine } from '../src/exec/boot.js';
import { i32 } from '../src/shm/machine.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { collect_events } from '../src/cpu/events.js';

const scenario = (name: string) => SCENARIOS.find((s) => s.name === name)!;
const fresh = new ControlledExecutor({ reuse_machine: false });
const reused = new ControlledExecutor();
afterAll(async () => { await fresh.close(); await reused.close(); });

/** what two runs of one schedule must agree on (the wall clock and lock hold times aside) */
function observed(r: ControlledRun) {
  return {
    outcome: r.run.outcome, oops: r.run.oops?.text ?? null, invariants: r.run.invariants, ops: r.run.ops, steps: r.steps, preemptions: r.preemptions,
    first_cpu: r.first_cpu, switches: r.switches, change_points: r.change_points, event_log: r.event_log, windows: r.run.windows, trail: r.trail ?? null,
  };
}

describe('one Machine reused across controlled runs', () => {
  it('booting in a used buffer gives the bytes of a fresh boot', () => {
    const S = scenario('orphaned-migration-entry');
    const o = { scenario: S, protocol: 'buggy' as const, cpus: 2, seed: 7, jitter: 0, ops: 0 };
    // one call site: lockdep keeps the stack of each dependency setup teaches it, this test's frame included
    const boot = (x: Parameters<typeof boot_machine>[0]) => boot_machine(x);
    const a = boot(o);
    const bytes = new Int32Array(a.sab).slice();
    const b = boot({ ...o, seed: 8 }); // another run's state, then scribbles over everything but the header
    i32.fill(0x5a5a5a5a, 16);
    const c = boot({ ...o, reuse: b.sab });
    expect(c.sab).toBe(b.sab);
    expect(new Int32Array(c.sab)).toEqual(bytes);
    expect(c.setup).toEqual(a.setup);
    // a buffer of other sizes is not reused
    const d = boot({ ...o, cpus: 3, reuse: b.sab });
    expect(d.sab).not.toBe(b.sab);
  });

  it('the same seed gives the same run on a fresh and on a reused Machine (several scenarios and strategies)', async () => {
    const cases: [string, 'buggy' | 'fixed', (seed: number) => ControlledOptions['strategy']][] = [
      ['orphaned-migration-entry', 'buggy', (seed) => ({ name: 'pct', seed, depth: 3, k: 300 })],
      ['orphaned-migration-entry', 'fixed', (seed) => ({ name: 'random', seed })],
      ['cow-migration-entry', 'buggy', (seed) => ({ name: 'random', seed })],
      ['swapin-entry-reuse', 'buggy', (seed) => ({ name: 'pct', seed, depth: 2, k: 200 })],
      ['orphaned-migration-entry', 'buggy', () => ({ name: 'exhaustive', first: 1, choices: [1, 1, 1, 0, 0, 1, 1] })],
    ];
    let reuses = 0;
    let last: ControlledRun | null = null;
    for (const seed of [1, 2, 3]) {
      for (const [name, protocol, strategy] of cases) {
        const o: ControlledOptions = { scenario: scenario(name), scenarioImport: name, protocol, cpus: 2, seed, ops: 2, max_steps: 100_000, strategy: strategy(seed) };
        const buf = last?.run.machine.i32.buffer;
        if (last) reused.release(last);
        const b = await reused.run(o);
        if (b.run.machine.i32.buffer === buf) reuses++;
        const a = await fresh.run(o);
        fresh.release(a);
        expect(observed(b), `${name} ${protocol} seed ${seed} ${o.strategy.name}`).toEqual(observed(a));
        last = b;
      }
    }
    expect(reuses).toBeGreaterThanOrEqual(10); // the buffer was reused (between runs of the same sizes)
  }, 120_000);

  it('a run\'s result kept across the next run (not released) still reads as it ended', async () => {
    const S = scenario('orphaned-migration-entry');
    const o: ControlledOptions = { scenario: S, scenarioImport: S.name, protocol: 'buggy', cpus: 2, seed: 5, ops: 1, max_steps: 100_000, strategy: { name: 'random', seed: 5 } };
    const a = await reused.run(o);
    const before = collect_events(a.run.machine);
    const b = await reused.run({ ...o, seed: 6, strategy: { name: 'random', seed: 6 } });
    expect(collect_events(a.run.machine)).toEqual(before);
    expect(a.run.machine.i32.buffer).not.toBe(b.run.machine.i32.buffer);
  }, 60_000);
});
