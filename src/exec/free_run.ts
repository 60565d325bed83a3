// The free-running executor: every CPU is a piscina worker running flat
// out; the interleaving is whatever the machine gives (plus seeded jitter).
// The main thread only watches: duration/op budget, the halt word, and a
// per-CPU watchdog. It never blocks in Atomics.wait during a run.
import { CPU_RUNNING, GLOBALS, PERCPU } from '../shm/layout.js';
import { B, i32, percpu_base } from '../shm/machine.js';
import { set_current_cpu } from '../cpu/current.js';
import { OOPS_INTERNAL, OOPS_INVARIANT, OOPS_SOFTLOCKUP, OopsRecord, read_oops, record_oops } from '../check/bug.js';
import { Outcome, classify } from '../check/outcome.js';
import { check_invariants } from '../check/invariants.js';
import { read_bounds_note } from '../check/bounds.js';
import { cpu_states, lockup_report } from '../check/lockup.js';
import { create_pool } from './pool.js';
import { JITTER_NAMES } from '../worker/jitter.js';
import type { Scenario } from '../scenarios/types.js';
import { boot_machine } from './boot.js';
import { era_label } from '../shm/era.js';
import { lockdep_cycle, lockdep_found } from '../sync/lockdep.js';
import { stat_epoch_begin } from '../worker/warmup.js';
import type { CpuResult, CpuTask } from '../worker/task.js';

export interface RunOptions {
  scenario: Scenario;
  /** what workers import: the built-in name or a module URL */
  scenarioRef: string;
  /** how the user named it (a built-in name or a path), for the replay line */
  scenarioArg?: string;
  protocol: 'buggy' | 'fixed';
  cpus: number;
  duration_ms: number; // used when ops === 0
  ops: number;
  seed: number;
  jitter: number;
  watchdog_ms?: number;
  /** extra switches by name, on top of the protocol's */
  extra_switches?: string[];
  /** record a timestamped trace (--trace) */
  trace?: boolean;
  /** --era, for a scenario that runs in more than one */
  era?: number;
  /** run this many ms before duration_ms and leave them out of every counter (bench; src/worker/warmup.ts) */
  warmup_ms?: number;
}

export type { Outcome }; // src/check/outcome.ts

export interface RunResult {
  scenario: string; scenario_arg: string;
  /** ' --era N' when the run chose its era, for the replay line; '' otherwise */
  era_arg: string;
  protocol: string; cpus: number; seed: number; jitter: string; roles: string[];
  switches: string[];
  /** the era's own pre-patch lines on besides `switches` (src/shm/switches.ts) */
  baseline: string[];
  /** the kernel the run modelled: 'E2 (2.6.18)' */
  era: string;
  /** the bounds checker's note of the first out-of-bounds access, when the scenario lets the run go on past it (src/check/bounds.ts) */
  bounds: string | null;
  elapsed_ms: number; ops: number; outcome: Outcome;
  /** ms of warm-up left out of elapsed_ms, ops and the counters (0 if none) */
  warmup_ms: number;
  /** the lock-order cycle lockdep reported ("A -> B -> A"), or null */
  lockdep_cycle: string | null;
  first_failure_ms: number | null; oops: OopsRecord | null; invariants: string[];
  cpu_results: CpuResult[]; watchdog: string | null;
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


export async function run_free(o: RunOptions): Promise<RunResult> {
  const { sab, roles, setup, switches: names, baseline, era } = boot_machine(o);

  const gb = B.globals;
  const pool = create_pool(o.cpus);
  pool.on('error', (e: Error) => { record_oops(OOPS_INTERNAL, `worker failed: ${e.message}`, 0, 0, 0, 0, false); });
  const results: (CpuResult | null)[] = new Array(o.cpus).fill(null);
  const tasks = roles.map((role, cpu) => {
    const t: CpuTask = { sab, cpu, nr_cpus: o.cpus, seed: o.seed, jitter: o.jitter, scenario: o.scenarioRef, role, setup, barrier_timeout_ms: 60_000 };
    return (pool.run(t) as Promise<CpuResult>).then(
      (r) => { results[cpu] = r; },
      (e: Error) => { results[cpu] = { cpu, status: 'error', message: e.message }; record_oops(OOPS_INTERNAL, `CPU ${cpu} worker: ${e.message}`, 0, 0, 0, 0, false); },
    );
  });
  const all = Promise.all(tasks);

  // start barrier
  const bootDeadline = now() + 60_000;
  while (Atomics.load(i32, gb + GLOBALS.barrier) < o.cpus && !results.some((r) => r) && now() < bootDeadline) await sleep(2);
  const t0 = now();
  Atomics.store(i32, gb + GLOBALS.go, 1);
  Atomics.notify(i32, gb + GLOBALS.go);

  // watch: precise time of the first failure through waitAsync on the halt word
  let first_failure_ms: number | null = null;
  const haltWait = Atomics.waitAsync(i32, gb + GLOBALS.halt, 0);
  if (haltWait.async) void haltWait.value.then(() => { first_failure_ms ??= now() - t0; });
  else first_failure_ms = 0;

  const wd = o.watchdog_ms ?? 15_000;
  const lastProgress = new Array(o.cpus).fill(0);
  const lastChange = new Array(o.cpus).fill(now());
  let watchdog: string | null = null;
  let stopAt = Infinity;
  let warmOps = -1; // B.ops when the warm-up ended, -1 before
  let warmAt = t0;
  const warmup_ms = o.ops === 0 ? o.warmup_ms ?? 0 : 0; // a run by duration: warm-up, then duration_ms measured
  let done = false;
  void all.then(() => { done = true; });
  while (!done) {
    await sleep(10);
    const t = now();
    if (warmup_ms > 0 && warmOps < 0 && t - t0 >= warmup_ms) { warmOps = stat_epoch_begin(); warmAt = t; }
    if (o.ops === 0 && t - t0 >= o.duration_ms + warmup_ms) Atomics.store(i32, gb + GLOBALS.stop, 1);
    const stopping = Atomics.load(i32, gb + GLOBALS.stop) !== 0 || Atomics.load(i32, gb + GLOBALS.halt) !== 0;
    if (stopping && stopAt === Infinity) stopAt = t;
    if (stopping && t - stopAt > 10_000) {
      watchdog ??= `mmrace: CPUs did not stop within 10 s of being asked:\n${cpu_states(roles)}`;
      break;
    }
    for (let cpu = 0; cpu < o.cpus && !stopping; cpu++) {
      const pc = percpu_base(cpu);
      const p = Atomics.load(i32, pc + PERCPU.progress);
      if (p !== lastProgress[cpu] || Atomics.load(i32, pc + PERCPU.state) !== CPU_RUNNING) { lastProgress[cpu] = p; lastChange[cpu] = t; continue; }
      if (t - lastChange[cpu] > wd) {
        const secs = Math.round((t - lastChange[cpu]) / 1000);
        watchdog = lockup_report(cpu, secs, roles);
        record_oops(OOPS_SOFTLOCKUP, watchdog, 0, cpu, 0, 0, false);
        break;
      }
    }
  }
  const end = now();
  if (done) await pool.destroy(); else void pool.destroy();
  const warmed = warmOps >= 0;
  const elapsed_ms = end - warmAt;
  const ops = Atomics.load(i32, B.ops) - (warmed ? warmOps : 0);

  const oops = read_oops();
  let invariants: string[] = [];
  const allDone = results.every((r) => r?.status === 'done');
  if (!oops && allDone) {
    invariants = check_invariants();
    if (invariants.length) { set_current_cpu(0, o.seed); record_oops(OOPS_INVARIANT, `invariant violated at the end of the run:\n${invariants.join('\n')}`, 0, 0, 0, 0, false); }
  }
  const finalOops = read_oops();
  const outcome = classify(finalOops, !!watchdog, allDone, lockdep_found);
  return {
    scenario: o.scenario.name, scenario_arg: o.scenarioArg ?? o.scenario.name, era_arg: o.era === undefined ? '' : ` --era ${o.era}`, protocol: o.protocol, cpus: o.cpus, seed: o.seed, jitter: JITTER_NAMES[o.jitter],
    roles, switches: names, baseline, era: era_label(era), bounds: read_bounds_note()?.text ?? null, elapsed_ms, ops, outcome, warmup_ms: warmed ? warmAt - t0 : 0, lockdep_cycle: lockdep_cycle(),
    first_failure_ms: finalOops ? first_failure_ms : null, oops: finalOops, invariants,
    cpu_results: results.map((r, cpu) => r ?? { cpu, status: 'error', message: 'did not finish' }), watchdog,
  };
}
