// The controlled executor: the same kernel code on the same CPU workers, but
// one CPU runs at a time. The token passes between CPUs at preemption points
// (src/worker/sched_cpu.ts) as a seeded strategy decides (src/worker/strategies.ts),
// so a run is a function of the scenario, the seed and the schedule. The main
// thread only sets the run up, waits, and reads the result; a watchdog (wall
// clock, the one safety net that is not counted in decisions) catches a CPU
// that loops without ever reaching a preemption point.
//
// One executor keeps its worker pool across runs: explore, shrink and
// replay --verify run many short runs, and a pool start costs more than a run.
import type { Piscina } from 'piscina';
import { EVENT, GLOBALS, PERCPU, SCHED } from '../shm/layout.js';
import { BASES, MachineView, i32, keep_machine, percpu_base } from '../shm/machine.js';
import { event_slot, ring_window } from '../cpu/events.js';
import { lockdep_cycle, lockdep_found } from '../sync/lockdep.js';
import { window_counts } from '../cpu/windows.js'; // cov
import { boot_machine } from './boot.js';
import { enter_boot_context, set_current_cpu } from '../cpu/current.js';
import {
  OOPS_INTERNAL, OOPS_INVARIANT, OOPS_SOFTLOCKUP, read_oops, record_oops,
} from '../check/bug.js';
import { classify } from '../check/outcome.js';
import { check_invariants } from '../check/invariants.js';
import { create_pool } from './pool.js';
import type { RunResult } from './free_run.js';
import { lockup_report, lockup_secs } from '../check/lockup.js';
import type { Scenario } from '../scenarios/types.js';
import type { CpuResult, CpuTask } from '../worker/task.js';
import { LOG_FIELDS, TRAIL_FIELDS } from '../worker/sched_cpu.js';
import { era_label } from '../shm/era.js';
import { read_bounds_note } from '../check/bounds.js';
import { first_cpu, pct_changes, pct_init } from '../worker/strategies.js';
import { sleep_mask } from '../worker/footprint.js';
import {
  FALLBACK_NONPREEMPTIVE, FALLBACK_RANDOM, STRAT_EXHAUSTIVE, STRAT_PCT, STRAT_RANDOM, STRAT_REPLAY, mix_seed,
} from '../worker/sched_state.js';

export type StrategySpec =
  | { name: 'random'; seed: number }
  | { name: 'pct'; seed: number; depth: number; k: number }
  /** segments: flat (cpu, pp, spin); first: the CPU that starts if there is no segment */
  | { name: 'replay'; segments: number[]; first: number; fallback?: 'nonpreemptive' | 'random'; seed?: number }
  /** h14: exhaustive search: the first CPU, then the CPU chosen at each decision of a prefix; after it, no preemption */
  | { name: 'exhaustive'; first: number; choices: number[]; sleep?: number[] };

export interface ControlledOptions {
  /** the scenario itself, loaded on this thread */
  scenario: Scenario;
  /** what workers import: the built-in name or a module URL */
  scenarioImport: string;
  /** how the user named it (a built-in name or a path), for the saved schedule */
  scenarioAsTyped?: string;
  protocol: 'buggy' | 'fixed';
  cpus: number;
  /** seeds every CPU's own choices (workload), as in a free-running run */
  seed: number;
  /** operations each CPU runs (0: until the step bound) */
  ops: number;
  /** the step bound (scheduling decisions); the CPUs are then asked to stop */
  max_steps: number;
  strategy: StrategySpec;
  extra_switches?: string[];
  /** record where each hand-off happened (for the ladder) */
  sites?: boolean;
  /** capture: log every CPU's points (kind, object) in its result */
  points?: boolean;
  /** wall-clock safety net for a CPU that never reaches a preemption point */
  watchdog_ms?: number;
  /** record a timestamped trace (replay --trace) */
  trace?: boolean;
  /** --era, for a scenario that runs in more than one */
  era?: number;
}

/**
 * one hand-off: at decision `step`, CPU `cpu` at its point pp (spin yield `spin`) gave the token to `to`;
 * `kind` (PP_* in src/sync/preempt.ts) and `object` (a word index, or -1) say what its step there touches.
 * In memory only: the schedule file keeps step, cpu, pp, spin, to and why.
 */
export interface Switch { step: number; cpu: number; pp: number; spin: number; to: number; why: number; evseq: number; kind: number; object: number; site?: string }

/** h14: one decision of an exhaustive search's run: the holder at its point (kind, object), why, the CPUs that could run (mask), the one chosen (-1: none could) */
export interface Decision { step: number; cpu: number; why: number; kind: number; object: number; mask: number; next: number }

export interface ControlledRun {
  run: RunResult;
  first_cpu: number;
  switches: Switch[];
  /** decisions taken (every preemption point, spin yield and exit of the running CPU) */
  steps: number;
  preemptions: number;
  /** replay: decision at which the run left its schedule (0: followed it to the end) */
  diverged: number;
  /** PCT: the change points drawn for this run */
  change_points: number[];
  /** every CPU's event ring, as text: what --verify compares */
  event_log: string[];
  wall_ms: number;
  /** exhaustive search only: every decision, in order */
  trail?: Decision[];
  /** xspeed: exhaustive search: the decision at which a sleeping CPU was chosen and the run stopped, redundant (0: not cut) */
  cut?: number;
}

const now = () => performance.now();


/** every CPU's retained events, one line each, from the run's Machine as its result keeps it */
function event_log(n: number, m: MachineView): string[] {
  const { i32, bases: BASES } = m;
  const out: string[] = [];
  for (let cpu = 0; cpu < n; cpu++) {
    const [from, head] = ring_window(i32[percpu_base(cpu, BASES) + PERCPU.ring_head], BASES.ring);
    const lines = [`ring_head ${head}`];
    for (let k = from; k < head; k++) {
      const e = BASES.events + event_slot(cpu, k) * EVENT.stride;
      lines.push(`${i32[e + EVENT.seq]} ${i32[e + EVENT.code]} ${i32[e + EVENT.a0]} ${i32[e + EVENT.a1]} ${i32[e + EVENT.a2]} ${i32[e + EVENT.a3]}`);
    }
    out.push(lines.join('\n'));
  }
  return out;
}

function merge_switches(results: CpuResult[]): Switch[] {
  const out: Switch[] = [];
  for (const r of results) {
    const l = r.switches ?? [];
    for (let k = 0; k < l.length; k += LOG_FIELDS) {
      const sw: Switch = { step: l[k], cpu: r.cpu, pp: l[k + 1], spin: l[k + 2], to: l[k + 3], why: l[k + 4], evseq: l[k + 5], kind: l[k + 6], object: l[k + 7] };
      if (r.sites) sw.site = r.sites[k / LOG_FIELDS];
      out.push(sw);
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

/** h14: every CPU's trail (exhaustive search), merged in decision order */
function merge_trails(results: CpuResult[]): Decision[] {
  const out: Decision[] = [];
  for (const r of results) {
    const l = r.trail ?? [];
    for (let k = 0; k < l.length; k += TRAIL_FIELDS) {
      out.push({ step: l[k], cpu: r.cpu, why: l[k + 1], kind: l[k + 2], object: l[k + 3], mask: l[k + 4], next: l[k + 5] });
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

export class ControlledExecutor {
  private pool: Piscina | null = null;
  private poolCpus = 0;
  private poolError: string | null = null;
  /** the watch's one line on why it stopped the run, or null */
  private reason: string | null = null;
  /** xspeed: the Machine buffer every run boots in again (null: none yet, or a CPU the watchdog gave up on may still write it) */
  private machine: SharedArrayBuffer | null = null;
  /** xspeed: the last run's Machine as its result keeps it, still the shared buffer: copied before the next boot unless released */
  private lent: MachineView | null = null;

  /** xspeed: `reuse_machine` false: a new Machine buffer for every run (as before; the tests compare the two) */
  constructor(private readonly opts: { reuse_machine?: boolean } = {}) {}

  private ensure_pool(cpus: number): Piscina {
    if (this.pool && this.poolCpus === cpus) return this.pool;
    if (this.pool) void this.pool.destroy();
    const pool = create_pool(cpus);
    pool.on('error', (e: Error) => { this.poolError = e.message; });
    this.pool = pool;
    this.poolCpus = cpus;
    return pool;
  }

  /** the pool cannot be trusted after a watchdog abort: a CPU may still be looping */
  private drop_pool(): void {
    if (this.pool) void this.pool.destroy();
    this.pool = null;
    this.machine = null; // nor the buffer it may still write
  }

  /** xspeed: the caller keeps nothing of `r`'s Machine (r.run.machine) past the next run: the next boot need not copy it */
  release(r: ControlledRun): void {
    if (this.lent === r.run.machine) this.lent = null;
  }

  /** xspeed: the last run's result gets the Machine it keeps as memory of its own before its buffer boots the next run */
  private detach_lent(): void {
    const m = this.lent;
    this.lent = null;
    if (!m) return;
    m.i32 = m.i32.slice();
    m.f64 = new Float64Array(m.i32.buffer);
    m.u8 = new Uint8Array(m.i32.buffer);
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.destroy();
  }

  async run(o: ControlledOptions): Promise<ControlledRun> {
    this.detach_lent();
    const { sab, roles, setup, switches: names, baseline, era } = boot_machine({ ...o, jitter: 0, ops: 0, reuse: this.opts.reuse_machine === false ? null : this.machine });
    this.machine = sab;
    const first = this.init_sched(o);

    const pool = this.ensure_pool(o.cpus);
    this.poolError = null;
    const gb = BASES.globals;
    // no start barrier to wait for: a CPU runs only once it is handed the token
    Atomics.store(i32, gb + GLOBALS.go, 1);
    const segments = o.strategy.name === 'replay' ? o.strategy.segments : [];
    const results: (CpuResult | null)[] = new Array(o.cpus).fill(null);
    const t0 = now();
    const all = Promise.all(roles.map((role, cpu) => {
      const t: CpuTask = {
        sab, cpu, nr_cpus: o.cpus, seed: o.seed, jitter: 0, scenarioImport: o.scenarioImport, role, setup, barrier_timeout_ms: 60_000,
        controlled: { roles, segments, sites: o.sites ?? false, ...(o.strategy.name === 'exhaustive' ? { choices: o.strategy.choices, sleep: o.strategy.sleep } : {}), ...(o.points ? { points: true } : {}) },
      };
      return (pool.run(t) as Promise<CpuResult>).then(
        (r) => { results[cpu] = r; },
        (e: Error) => { results[cpu] = { cpu, status: 'error', message: e.message }; },
      );
    }));
    this.reason = null;
    const watchdog = await this.watch(all, results, o, roles, t0);
    const wall_ms = now() - t0;

    let oops = read_oops();
    let invariants: string[] = [];
    const allDone = results.every((r) => r?.status === 'done');
    if (!oops && allDone) {
      invariants = check_invariants();
      if (invariants.length) {
        enter_boot_context(o.seed);
        record_oops(OOPS_INVARIANT, `invariant violated at the end of the run:\n${invariants.join('\n')}`, 0, 0, 0, 0, false);
        oops = read_oops();
      }
    }
    if (!oops && this.poolError) { record_oops(OOPS_INTERNAL, `worker failed: ${this.poolError}`, 0, 0, 0, 0, false); oops = read_oops(); }
    const machine = keep_machine(results.includes(null)); // after the last write (the sweep's, the pool's); a CPU the watchdog gave up on may still write: a copy
    if (machine.i32.buffer === this.machine) this.lent = machine;
    const outcome = classify(oops, !!watchdog, allDone, lockdep_found); // as run_free classifies
    const sb = machine.bases.sched;
    const run: RunResult = {
      scenario: o.scenario.name, scenario_arg: o.scenarioAsTyped ?? o.scenario.name, era_arg: o.era === undefined ? '' : ` --era ${o.era}`, protocol: o.protocol, cpus: o.cpus, seed: o.seed,
      warmup_ms: 0, lockdep_cycle: lockdep_cycle(), jitter: 'none', roles, switches: names, baseline, era: era_label(era), bounds: read_bounds_note()?.text ?? null, elapsed_ms: wall_ms, ops: sum_ops(o.cpus), outcome,
      first_failure_ms: null, oops, invariants,
      cpu_results: results.map((r, cpu) => r ?? { cpu, status: 'stuck', message: 'did not finish' }), watchdog, reason: this.reason, machine,
      windows: window_counts(machine, o.scenario.windows, o.scenario.own_windows), // cov
    };
    return {
      run, first_cpu: first, switches: merge_switches(run.cpu_results),
      steps: machine.i32[sb + SCHED.step], cut: machine.i32[sb + SCHED.cut], preemptions: machine.i32[sb + SCHED.preemptions], diverged: machine.i32[sb + SCHED.diverged],
      change_points: o.strategy.name === 'pct' ? pct_changes() : [], event_log: event_log(o.cpus, machine), wall_ms,
      ...(o.strategy.name === 'exhaustive' ? { trail: merge_trails(run.cpu_results) } : {}),
    };
  }

  /** fill SCHED before any CPU starts; returns the CPU that runs first */
  private init_sched(o: ControlledOptions): number {
    const s = BASES.sched;
    const st = o.strategy;
    i32[s + SCHED.strategy] = st.name === 'random' ? STRAT_RANDOM : st.name === 'pct' ? STRAT_PCT : st.name === 'exhaustive' ? STRAT_EXHAUSTIVE : STRAT_REPLAY;
    i32[s + SCHED.max_steps] = o.max_steps;
    i32[s + SCHED.grace_steps] = Math.max(10_000, o.max_steps >> 1);
    i32[s + SCHED.ops_quota] = o.ops;
    i32[s + SCHED.rng] = mix_seed(st.name === 'replay' ? st.seed ?? 0 : st.name === 'exhaustive' ? 0 : st.seed, 0);
    i32[s + SCHED.fallback] = st.name === 'replay' && st.fallback === 'random' ? FALLBACK_RANDOM : FALLBACK_NONPREEMPTIVE;
    if (st.name === 'pct') pct_init(o.cpus, st.depth, st.k);
    if (st.name === 'exhaustive') i32[s + SCHED.sleep] = sleep_mask(st.sleep ?? []); // xspeed
    const replayFirst = st.name === 'replay' ? (st.segments.length ? st.segments[0] : st.first) : st.name === 'exhaustive' ? st.first : 0;
    const first = first_cpu(o.cpus, i32[s + SCHED.strategy], replayFirst);
    if (first < 0 || first >= o.cpus) throw new RangeError(`schedule starts on CPU ${first}, the run has ${o.cpus}`);
    i32[s + SCHED.token] = first;
    Atomics.store(i32, s + SCHED.run + first, 1);
    return first;
  }

  /** wait for every CPU; abort a run whose decisions stop moving for watchdog_ms */
  private async watch(all: Promise<unknown>, results: (CpuResult | null)[], o: ControlledOptions, roles: string[], t0: number): Promise<string | null> {
    let done = false;
    void all.then(() => { done = true; });
    const wd = o.watchdog_ms ?? 15_000;
    let lastStep = -1, lastChange = now();
    while (!done) {
      await Promise.race([all, new Promise((r) => setTimeout(r, 50))]);
      if (done) break;
      const step = Atomics.load(i32, BASES.sched + SCHED.step);
      const t = now();
      if (step !== lastStep) { lastStep = step; lastChange = t; continue; }
      const failed = results.findIndex((r) => r?.status === 'error');
      if (failed >= 0 || t - lastChange > wd) {
        const cpu = failed >= 0 ? failed : Atomics.load(i32, BASES.sched + SCHED.token);
        const secs = lockup_secs(t - lastChange);
        const msg = failed >= 0
          ? `mmrace: CPU ${failed} (${roles[failed]}) failed: ${results[failed]!.message ?? 'no message'}`
          : `${lockup_report(cpu, secs, roles, (lastChange - t0) / 1000)}\n` +
            `mmrace: CPU ${cpu} holds the token and has reached no preemption point since decision ${step}: a loop that waits for another CPU must go through a lock or cond_resched()`;
        this.reason = failed >= 0 ? msg.replace(/^mmrace: /, '')
          : `CPU ${cpu} (${roles[cpu]}) reached no preemption point for ${((t - lastChange) / 1000).toFixed(1)} s from ${((lastChange - t0) / 1000).toFixed(2)} s into the run (decision ${step})`;
        set_current_cpu(cpu, o.seed);
        if (!record_oops(failed >= 0 ? OOPS_INTERNAL : OOPS_SOFTLOCKUP, msg, 0, cpu, 0, 0, false)) this.reason = null; // the failure first recorded is the reason
        Atomics.store(i32, BASES.sched + SCHED.abort, 1);
        Atomics.store(i32, BASES.globals + GLOBALS.halt, 1);
        this.drop_pool();
        return failed >= 0 ? null : msg;
      }
    }
    return null;
  }
}

function sum_ops(n: number): number {
  let t = 0;
  for (let c = 0; c < n; c++) t += i32[percpu_base(c) + PERCPU.ops];
  return t;
}

/** a segment with no end: the CPU the last hand-off went to runs on */
export const SEG_OPEN = 0x7fffffff;

/**
 * the replay segments (cpu, pp, spin) of a run's hand-offs: one per hand-off,
 * ending where the CPU gave the token away, and an open one for the CPU the
 * last hand-off went to (else nothing would say who runs after it)
 */
export function segments_of(switches: readonly { cpu: number; pp: number; spin: number; to: number }[]): number[] {
  const out: number[] = [];
  for (const w of switches) out.push(w.cpu, w.pp, w.spin);
  if (switches.length) out.push(switches[switches.length - 1].to, SEG_OPEN, 0);
  return out;
}
