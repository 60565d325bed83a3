// The controlled executor's speed: scheduling decisions per second, and
// hand-offs (decisions that pass the token to another CPU) per second,
// next to a raw Atomics.wait/notify ping-pong between two threads that do
// nothing else (a best case: the waiter has seldom fallen asleep). Measured over whole controlled runs of the orphan
// scenario (fixed protocol), set-up included, so it is what explore gets.
import { Worker } from 'node:worker_threads';
import { ControlledExecutor, StrategySpec } from '../src/exec/controlled.js';
import { orphanedMigrationEntry } from '../src/scenarios/orphaned_migration_entry.js';

const S = orphanedMigrationEntry;

export interface SchedRow { what: string; runs: number; decisions: number; hand_offs: number; decisions_per_s: number; hand_offs_per_s: number }

/** two threads handing a token back and forth with Atomics.wait/notify and nothing else */
export async function pingpong(ms: number): Promise<number> {
  const w = new Int32Array(new SharedArrayBuffer(16));
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const w = workerData.w, me = workerData.me, other = 1 - me, stop = performance.now() + workerData.ms;
    let n = 0;
    while (performance.now() < stop && Atomics.load(w, 2) === 0) {
      while (Atomics.load(w, me) === 0) Atomics.wait(w, me, 0, 100);
      Atomics.store(w, me, 0); Atomics.store(w, other, 1); Atomics.notify(w, other, 1); n++;
    }
    Atomics.store(w, 2, 1); Atomics.store(w, other, 1); Atomics.notify(w, other, 1);
    parentPort.postMessage(n);`;
  w[0] = 1;
  const t0 = performance.now();
  const counts = await Promise.all([0, 1].map((me) => new Promise<number>((res, rej) => {
    const t = new Worker(code, { eval: true, workerData: { w, me, ms } });
    t.once('message', (n: number) => { res(n); void t.terminate(); });
    t.once('error', rej);
  })));
  return (counts[0] + counts[1]) / ((performance.now() - t0) / 1000);
}

export async function sched(runsPer: number): Promise<SchedRow[]> {
  const ex = new ControlledExecutor();
  const rows: SchedRow[] = [];
  const base = { scenario: S, scenarioImport: S.name, protocol: 'fixed' as const, cpus: 2, ops: 20, max_steps: 1_000_000 };
  // PCT hands the token on rarely (decisions are cheap); a random walk on 4
  // CPUs hands it on at about 3 decisions in 4 (hand-offs dominate)
  const cases: [string, (i: number) => StrategySpec, number?][] = [
    ['PCT d=3 (few hand-offs)', (i) => ({ name: 'pct', seed: i + 1, depth: 3, k: 2000 })],
    ['random walk, 2 CPUs', (i) => ({ name: 'random', seed: i + 1 })],
    ['random walk, 4 CPUs', (i) => ({ name: 'random', seed: i + 1 }), 4],
  ];
  try {
    await ex.run({ ...base, seed: 1, strategy: { name: 'random', seed: 1 } }); // warm the workers up
    for (const [what, spec, cpus] of cases) {
      let decisions = 0, hand_offs = 0, ms = 0;
      for (let i = 0; i < runsPer; i++) {
        const r = await ex.run({ ...base, cpus: cpus ?? 2, seed: i + 1, strategy: spec(i) });
        if (r.run.outcome !== 'clean') throw new Error(`${what}: run ${i} ended ${r.run.outcome}`);
        decisions += r.steps;
        hand_offs += r.switches.length;
        ms += r.wall_ms;
      }
      rows.push({ what, runs: runsPer, decisions, hand_offs, decisions_per_s: decisions / (ms / 1000), hand_offs_per_s: hand_offs / (ms / 1000) });
    }
  } finally {
    await ex.close();
  }
  return rows;
}
