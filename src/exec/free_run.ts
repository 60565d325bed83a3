// The free-running executor: every CPU is a piscina worker running flat
// out; the interleaving is whatever the machine gives (plus seeded jitter).
// The main thread only watches: duration/op budget, the halt word, and a
// per-CPU watchdog. It never blocks in Atomics.wait during a run.
import { CPU_RUNNING, GLOBALS, PERCPU } from '../shm/layout.js';
import { BASES, MachineView, i32, keep_machine, percpu_base } from '../shm/machine.js';
import { enter_boot_context, set_current_cpu } from '../cpu/current.js';
import { OOPS_INTERNAL, OOPS_INVARIANT, OOPS_SOFTLOCKUP, OopsRecord, read_oops, record_oops } from '../check/bug.js';
import { Outcome, classify } from '../check/outcome.js';
import { check_invariants } from '../check/invariants.js';
import { read_bounds_note } from '../check/bounds.js';
import { type HungTask, cpu_states, deadlock_report, hung_tasks_report, lockup_reason, lockup_report, lockup_secs, wait_cycle_key, waits_sleeping } from '../check/lockup.js';
import { Counter64 } from './counter64.js';
import { give_back_pool, take_pool } from './pool.js';
import { JITTER_ADAPTIVE_ALWAYS, JITTER_NAMES, JITTER_RECORD } from '../worker/jitter.js';
import type { Scenario } from '../scenarios/types.js';
import { boot_machine } from './boot.js';
import { era_label } from '../shm/era.js';
import { lockdep_cycle, lockdep_found } from '../sync/lockdep.js';
import { stat_epoch_begin } from '../worker/warmup.js';
import type { CpuResult, CpuTask } from '../worker/task.js';
import { WindowCount, window_counts } from '../cpu/windows.js';
import { type Overlap, overlap_of } from '../worker/overlap.js';

export interface RunOptions {
  /** the scenario itself, loaded on this thread */
  scenario: Scenario;
  /** what workers import: the built-in name or a module URL */
  scenarioImport: string;
  /** how the user named it (a built-in name or a path), for the replay line */
  scenarioAsTyped?: string;
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
  /** false: --no-lock-stat (lock_stat off: src/sync/lock_stat.ts) */
  lock_stat?: boolean;
  /** --era, for a scenario that runs in more than one */
  era?: number;
  /** run this many ms before duration_ms and leave them out of every counter (bench; src/worker/warmup.ts) */
  warmup_ms?: number;
  /** asked every tick: a signal's name ends the run as its budget would (src/cli/interrupt.ts) */
  interrupt?: () => string | null;
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
  /** why the run ended as it did, when the executor knows better than the oops's first line (src/report/json.ts reason_of) */
  reason?: string | null;
  /** the signal that ended the run early (src/cli/interrupt.ts), or null */
  interrupted?: string | null;
  /** each CPU's operations, counted past 2^31 (the shared counters are 32-bit) */
  cpu_ops?: number[];
  /**
   * the Machine as the run left it, kept once its CPUs stopped and its
   * checks ran (keep_machine): what every report reads (events, lock_stat,
   * latency, lockdep, CPUSTAT), so a report can be built after the next run
   * has booted
   */
  machine: MachineView;
  /** cov: how often each of the scenario's race windows opened (src/cpu/windows.ts) */
  windows: WindowCount[];
  /** load: how much the CPUs ran at the same time, and adaptive jitter's yields (src/worker/overlap.ts); null: no sample (a controlled run) */
  overlap?: Overlap | null;
}

const now = () => performance.now();
/** how long CPUs still running after the budget's end may stay exactly as they are before they count as blocked */
export const BLOCKED_MS = 500;
/** how long CPUs asked to stop may take (at most; never longer than the watchdog) */
export const STOP_GRACE_MS = 10_000;
/** how long the CPUs may take to load their scenario and reach the start barrier */
const BOOT_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


export async function run_free(o: RunOptions): Promise<RunResult> {
  const { sab, roles, setup, switches: names, baseline, era } = boot_machine(o);

  const gb = BASES.globals;
  const pool = take_pool(o.cpus);
  const on_error = (e: Error) => { record_oops(OOPS_INTERNAL, `worker failed: ${e.message}`, 0, 0, 0, 0, false); };
  pool.on('error', on_error);
  const results: (CpuResult | null)[] = new Array(o.cpus).fill(null);
  let over = false; // the run has ended: what its workers report from now on is not recorded
  const tasks = roles.map((role, cpu) => {
    const t: CpuTask = { sab, cpu, nr_cpus: o.cpus, seed: o.seed, jitter: o.jitter, scenarioImport: o.scenarioImport, role, setup, barrier_timeout_ms: 60_000 };
    return (pool.run(t) as Promise<CpuResult>).then(
      (r) => { results[cpu] = r; },
      (e: Error) => {
        if (over) return; // a stuck CPU's task, rejected when its pool is torn down after the run: the next run's Machine is not its
        results[cpu] = { cpu, status: 'error', message: e.message };
        set_current_cpu(cpu, o.seed); // the oops names the CPU whose worker died
        record_oops(OOPS_INTERNAL, `mmrace: CPU ${cpu} (${role}) worker died: ${e.message}`, 0, cpu, 0, 0, false);
      },
    );
  });
  const all = Promise.all(tasks);

  // start barrier
  const bootDeadline = now() + BOOT_TIMEOUT_MS;
  while (Atomics.load(i32, gb + GLOBALS.barrier) < o.cpus && !results.some((r) => r) && now() < bootDeadline) await sleep(2);
  const arrived = Atomics.load(i32, gb + GLOBALS.barrier);
  let boot_reason: string | null = null;
  if (arrived < o.cpus && !results.some((r) => r)) {
    // a CPU whose scenario module never finished loading in its worker never comes: the run cannot start
    boot_reason = `${o.cpus - arrived} of ${o.cpus} CPUs did not reach the start barrier within ${BOOT_TIMEOUT_MS / 1000} s: the scenario module never finished loading in a worker`;
    if (!record_oops(OOPS_INTERNAL, `mmrace: ${boot_reason}`, 0, 0, 0, 0, false)) boot_reason = null;
  }
  const t0 = now();
  Atomics.store(i32, gb + GLOBALS.go, 1);
  Atomics.notify(i32, gb + GLOBALS.go);

  // watch: precise time of the first failure through waitAsync on the halt word
  let first_failure_ms: number | null = null;
  const haltWait = Atomics.waitAsync(i32, gb + GLOBALS.halt, 0);
  if (haltWait.async) void haltWait.value.then(() => { first_failure_ms ??= now() - t0; });
  else first_failure_ms = 0;

  const wd = o.watchdog_ms ?? 15_000;
  // CPUs asked to stop get this long before they are reported as not stopping
  const stop_grace = Math.min(STOP_GRACE_MS, wd);
  const lastProgress = new Array(o.cpus).fill(0);
  const lastChange = new Array(o.cpus).fill(now());
  // each CPU's progress at khungtaskd's last scan (the first is the start)
  const scanProgress = Array.from({ length: o.cpus }, (_, c) => Atomics.load(i32, percpu_base(c) + PERCPU.progress));
  let hungScanAt = now();
  let watchdog: string | null = null;
  let reason: string | null = boot_reason;
  let stopAt = Infinity;
  let warmOps = -1; // ops completed when the warm-up ended, -1 before
  let warmAt = t0;
  const warmup_ms = o.ops === 0 ? o.warmup_ms ?? 0 : 0; // a run by duration: warm-up, then duration_ms measured
  const cpu_ops = Array.from({ length: o.cpus }, () => new Counter64()); // the run's ops: their sum (there is no global op counter)
  const sample_ops = () => {
    for (let c = 0; c < o.cpus; c++) cpu_ops[c].sample(i32[percpu_base(c) + PERCPU.ops]);
  };
  let interrupted_by: string | null = null;
  let cycleKey = '', cycleAt = 0; // the wait-for cycle seen last (wait_cycle_key), and since when
  let still = '', stillAt = 0; // what the CPUs still running were doing, and since when
  let done = false;
  void all.then(() => { done = true; });
  while (!done && !boot_reason) {
    await sleep(10);
    const t = now();
    sample_ops();
    if (warmup_ms > 0 && warmOps < 0 && t - t0 >= warmup_ms) { warmOps = stat_epoch_begin(); for (const c of cpu_ops) c.rebase(); warmAt = t; }
    if (o.ops === 0 && t - t0 >= o.duration_ms + warmup_ms) Atomics.store(i32, gb + GLOBALS.stop, 1);
    if (!interrupted_by && (interrupted_by = o.interrupt?.() ?? null)) Atomics.store(i32, gb + GLOBALS.stop, 1);
    const stopping = Atomics.load(i32, gb + GLOBALS.stop) !== 0 || Atomics.load(i32, gb + GLOBALS.halt) !== 0;
    if (stopping && stopAt === Infinity) stopAt = t;
    const failed = results.findIndex((r) => r?.status === 'error');
    if (failed >= 0 && Atomics.load(i32, gb + GLOBALS.halt) === 0) {
      // a CPU that could not run (its module failed to load, its role threw): stop the others, and say which
      const why = `CPU ${failed} (${roles[failed]}) failed: ${results[failed]!.message ?? 'no message'}`;
      set_current_cpu(failed, o.seed);
      if (record_oops(OOPS_INTERNAL, `mmrace: ${why}`, 0, failed, 0, 0, false)) reason = why;
    }
    if (stopping) {
      const running = results.flatMap((r, c) => (r ? [] : [c]));
      const snap = `${Atomics.load(i32, BASES.seq)} ` + running.map((c) => {
        const pc = percpu_base(c);
        return `${c}:${Atomics.load(i32, pc + PERCPU.progress)}:${Atomics.load(i32, pc + PERCPU.await_lock)}:${Atomics.load(i32, pc + PERCPU.nheld)}`;
      }).join(' ');
      if (snap !== still) { still = snap; stillAt = t; }
      const waiting = running.some((c) => Atomics.load(i32, percpu_base(c) + PERCPU.await_lock) !== 0);
      // CPUs waiting for locks while nothing at all moved: blocked for good; report within a second of the budget's end
      if (running.length && waiting && t - stillAt >= BLOCKED_MS) {
        const d = deadlock_report(running, t - stillAt, roles);
        watchdog = d.text;
        set_current_cpu(running[0], o.seed);
        if (record_oops(OOPS_SOFTLOCKUP, d.text, 0, running[0], 0, 0, false)) reason = d.reason; // else the failure that came first is the reason
        break;
      }
      if (running.length && t - stopAt > stop_grace) {
        const moving = t - stillAt < BLOCKED_MS;
        const why = `${running.map((c) => `CPU ${c} (${roles[c]})`).join(', ')} did not stop within ${(stop_grace / 1000).toFixed(1)} s of being asked` +
          (moving ? ' and kept running: a role loop must end once ctx.should_stop() is true' : ' and made no progress: a loop that waits must go through a lock or end when ctx.should_stop() is true');
        watchdog = `mmrace: ${why}:\n${cpu_states(roles)}`;
        set_current_cpu(running[0], o.seed);
        if (record_oops(OOPS_SOFTLOCKUP, watchdog, 0, running[0], 0, 0, false)) reason = why;
        break;
      }
    }
    for (let cpu = 0; cpu < o.cpus && !stopping; cpu++) {
      const pc = percpu_base(cpu);
      const p = Atomics.load(i32, pc + PERCPU.progress);
      if (p !== lastProgress[cpu] || Atomics.load(i32, pc + PERCPU.state) !== CPU_RUNNING) { lastProgress[cpu] = p; lastChange[cpu] = t; continue; }
      // the soft-lockup detector's: a CPU that spins, or runs a loop that never sleeps (a sleeping wait is khungtaskd's, below)
      if (t - lastChange[cpu] > wd && !waits_sleeping(cpu)) {
        const secs = lockup_secs(t - lastChange[cpu]);
        watchdog = lockup_report(cpu, secs, roles, (lastChange[cpu] - t0) / 1000);
        set_current_cpu(cpu, o.seed);
        if (record_oops(OOPS_SOFTLOCKUP, watchdog, 0, cpu, 0, 0, false)) reason = lockup_reason(cpu, secs, roles);
        break;
      }
    }
    if (!watchdog && !stopping && t - hungScanAt >= wd) {
      // khungtaskd's scan, every wd: each CPU in a sleeping wait that made no progress since the previous scan is a
      // hung task, and one scan reports them all (a deadlock's tasks together, whichever of them blocked first)
      const hung: HungTask[] = [];
      const hung_secs = lockup_secs(wd); // the kernel prints its timeout (hung_task_timeout_secs, here --watchdog), not how long the task slept
      for (let cpu = 0; cpu < o.cpus; cpu++) {
        const p = Atomics.load(i32, percpu_base(cpu) + PERCPU.progress);
        if (p === scanProgress[cpu] && Atomics.load(i32, percpu_base(cpu) + PERCPU.state) === CPU_RUNNING && waits_sleeping(cpu)) {
          hung.push({ cpu, secs: hung_secs, began_s: (lastChange[cpu] - t0) / 1000 });
        }
        scanProgress[cpu] = p;
      }
      hungScanAt = t;
      if (hung.length) {
        watchdog = hung_tasks_report(hung, roles);
        set_current_cpu(hung[0].cpu, o.seed);
        if (record_oops(OOPS_SOFTLOCKUP, watchdog, 0, hung[0].cpu, 0, 0, false)) reason = lockup_reason(hung[0].cpu, hung[0].secs, roles);
      }
    }
    if (!watchdog && !stopping) {
      // mmrace's deadlock detector (C-WAITFOR): CPUs each waiting for a lock the next one holds, the cycle unchanged
      // and none of them progressing for BLOCKED_MS, can never go on: the run ends there, not at its budget or at a
      // kernel detector's timeout. Checked after those detectors, so a watchdog shorter than BLOCKED_MS speaks first.
      const key = wait_cycle_key();
      if (key !== cycleKey) { cycleKey = key; cycleAt = t; }
      else if (key !== '' && t - cycleAt >= BLOCKED_MS) {
        const blocked = key.split(' ').map((w) => Number(w.split(':')[0]));
        const d = deadlock_report(blocked, t - cycleAt, roles, true);
        watchdog = d.text;
        set_current_cpu(blocked[0], o.seed);
        if (record_oops(OOPS_SOFTLOCKUP, d.text, 0, blocked[0], 0, 0, false)) reason = d.reason;
      }
    }
    if (watchdog) break;
  }
  const end = now();
  over = true;
  pool.off('error', on_error);
  if (done) await give_back_pool(pool, o.cpus, true); else void pool.destroy(); // a CPU still running: its worker cannot be reused
  const warmed = warmOps >= 0;
  const elapsed_ms = end - warmAt;
  sample_ops();
  const ops = cpu_ops.reduce((t, c) => t + c.value, 0);

  const oops = read_oops();
  let invariants: string[] = [];
  const allDone = results.every((r) => r?.status === 'done');
  if (!oops && allDone) {
    invariants = check_invariants();
    if (invariants.length) { enter_boot_context(o.seed); record_oops(OOPS_INVARIANT, `invariant violated at the end of the run:\n${invariants.join('\n')}`, 0, 0, 0, 0, false); }
  }
  const finalOops = read_oops();
  const machine = keep_machine(results.includes(null)); // after the sweep's last write; a CPU that never stopped may still write: a copy
  const outcome = classify(finalOops, !!watchdog, allDone, lockdep_found);
  if (interrupted_by && outcome === 'clean') reason = `interrupted by ${interrupted_by}: every CPU stopped when asked and no check failed`;
  return {
    scenario: o.scenario.name, scenario_arg: o.scenarioAsTyped ?? o.scenario.name, era_arg: o.era === undefined ? '' : ` --era ${o.era}`, protocol: o.protocol, cpus: o.cpus, seed: o.seed, jitter: JITTER_NAMES[o.jitter & ~(JITTER_RECORD | JITTER_ADAPTIVE_ALWAYS)],
    roles, switches: names, baseline, era: era_label(era), bounds: read_bounds_note()?.text ?? null, elapsed_ms, ops, outcome, warmup_ms: warmed ? warmAt - t0 : 0, lockdep_cycle: lockdep_cycle(),
    first_failure_ms: finalOops ? first_failure_ms : null, oops: finalOops, invariants,
    cpu_results: results.map((r, cpu) => r ?? { cpu, status: 'stuck', message: 'did not finish' }), watchdog,
    reason, interrupted: interrupted_by, cpu_ops: cpu_ops.map((c) => c.value), machine, windows: window_counts(machine, o.scenario.windows, o.scenario.own_windows),
    overlap: overlap_of(machine),
  };
}
