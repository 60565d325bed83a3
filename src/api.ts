// The programmatic API of the mmrace package (import { run } from 'mmrace'):
// the CLI's commands as functions that return their reports instead of
// printing them. A scenario is named as on the command line: a built-in
// name, a module path (relative to the current directory) or a module's URL
// (new URL('./my-scenario.js', import.meta.url)). CPU workers import that
// module themselves, so a scenario object alone is not enough: it must live
// in a module.
//
// Everything heavy (the executors, piscina, the reports) is imported on first
// use: a scenario module imports 'mmrace' inside every CPU worker too, and
// should not pay for the executors there.
import { writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { Scenario } from './scenarios/types.js';
import type { RunResult } from './exec/free_run.js';
import type { ControlledExecutor, ControlledOptions, ControlledRun } from './exec/controlled.js';
import type { RunReport } from './report/json.js';
import type { BenchReport } from './report/report_types.js';
import type { ExploreStrategy, StrategyReport } from './search/explore.js';
import type { FoundBy, ScheduleFile } from './search/schedule.js';

export type { Scenario, RunReport, BenchReport, ScheduleFile, StrategyReport, ExploreStrategy };

/** a built-in scenario's name, a scenario module's path (from the current directory), or its URL */
export type ScenarioRef = string | URL;

export type Protocol = 'buggy' | 'fixed';

/** options every command shares */
export interface CommonOptions {
  /** 'buggy' turns the scenario's switches on (default), 'fixed' runs the patched lines */
  protocol?: Protocol;
  /** simulated CPUs, each a worker thread (default 2) */
  cpus?: number;
  /** the seed of every CPU's own choices (default 1) */
  seed?: number;
  /** the kernel era (0..4 for E0..E4), for a scenario that runs in more than one */
  era?: number;
  /** extra switches by name, on top of the protocol's */
  switches?: string[];
  /** a CPU that reaches no preemption point or progress for this long ends the run (ms, default 15 000) */
  watchdog_ms?: number;
}

export interface RunOptions extends CommonOptions {
  /** stop after this many operations in all (default 0: run for duration_ms) */
  ops?: number;
  /** run this long when ops is 0 (ms, default 5000) */
  duration_ms?: number;
  /** scheduling noise: 0 none (default), 1 light, 2 heavy, 3 adaptive (gives up the core at preemption points while the CPUs rarely run at once) */
  jitter?: 0 | 1 | 2 | 3;
  /** what the run should show: the report's expectation_met says whether it did */
  expect?: 'bug' | 'clean';
  /** false: lock_stat off, as --no-lock-stat (CONFIG_LOCK_STAT=n: no counts and no clock reads; lockdep stays). Default true */
  lock_stat?: boolean;
}

interface Resolved { scenario: Scenario; scenarioImport: string; scenarioAsTyped: string }

/** load a scenario named by a ScenarioRef, and what CPU workers must import to run it */
export async function load_scenario(ref: ScenarioRef): Promise<Resolved> {
  const { loadScenario, load_module, scenarioModuleUrl, scenario_label } = await import('./scenarios/registry.js');
  if (ref instanceof URL || /^file:/.test(ref)) {
    const url = String(ref);
    // named by its path in reports and replay lines, as if given on the command line
    return { scenario: await load_module(url), scenarioImport: url, scenarioAsTyped: scenario_label(url) };
  }
  const scenario = await loadScenario(ref);
  return { scenario, scenarioImport: scenarioModuleUrl(ref) ?? scenario.name, scenarioAsTyped: ref };
}

const common = (o: CommonOptions) => ({
  protocol: o.protocol ?? 'buggy', cpus: o.cpus ?? 2, seed: o.seed ?? 1, era: o.era, extra_switches: o.switches, watchdog_ms: o.watchdog_ms,
});

const version = async (): Promise<string> => (await import('./cli/version.js')).VERSION;

/** one free-running run (mmrace run): every CPU runs its role at full speed until the budget is spent or a check fails */
export async function run(ref: ScenarioRef, o: RunOptions = {}): Promise<RunReport> {
  const s = await load_scenario(ref);
  const { run_free } = await import('./exec/free_run.js');
  const { build_report } = await import('./report/json.js');
  const ops = o.ops ?? 0, duration_ms = o.duration_ms ?? 5000;
  const r: RunResult = await run_free({ ...s, ...common(o), ops, duration_ms, jitter: o.jitter ?? 0, lock_stat: o.lock_stat });
  const failed = r.outcome === 'bug' || r.outcome === 'violation';
  const expect = o.expect ?? null;
  const met = expect === null ? null : expect === 'bug' ? failed : r.outcome === 'clean';
  return build_report(r, ops > 0 ? { ops } : { duration_ms }, expect, met, await version());
}

export interface BenchOptions extends Omit<RunOptions, 'cpus' | 'ops' | 'expect' | 'lock_stat'> {
  /** the CPU counts to measure, one run each (default [1, 2]) */
  cpus_list?: number[];
  /** ms each point runs before it measures (default 500) */
  warmup_ms?: number;
  /** run the sweep this many times in turn (default 1): the report gives the median round's points and every round's ratios (`rounds`) */
  rounds?: number;
}

/** throughput, lock_stat and latency at each CPU count (mmrace bench) */
export async function bench(ref: ScenarioRef, o: BenchOptions = {}): Promise<BenchReport> {
  const s = await load_scenario(ref);
  const { run_bench } = await import('./cli/bench_run.js');
  const { cpus: _cpus, ...c } = common(o);
  return run_bench({ ...s, ...c, cpus_list: o.cpus_list ?? [1, 2], duration_ms: o.duration_ms ?? 2000, warmup_ms: o.warmup_ms ?? 500,
    jitter: o.jitter ?? 0, rounds: o.rounds }, await version());
}

/** a failing schedule, what its replay reported, and the schedule file's text */
export interface Counterexample {
  schedule: ScheduleFile;
  /** the report of a replay of the schedule */
  report: RunReport;
  /** the splat (or lockdep report) the replay printed */
  splat: string | null;
  /** the interleaving: each CPU's turns with the token, as `mmrace replay --ladder` draws them */
  ladder: string;
  /** the schedule file: save it and `mmrace replay` it */
  json: string;
  /** where it was saved (the `out` option), or null */
  saved: string | null;
}

async function with_executor<T>(fn: (ex: ControlledExecutor) => Promise<T>): Promise<T> {
  const { ControlledExecutor } = await import('./exec/controlled.js');
  const ex = new ControlledExecutor();
  try { return await fn(ex); } finally { await ex.close(); }
}

/**
 * replay exactly what a controlled run did, and the schedule of it. A
 * module's failure is replayed on its own, as mmrace explore does: a fresh
 * instance of the module in fresh workers, so a failure that needs state
 * left over from earlier runs (module-level variables) is refused, not saved
 */
async function counterexample(ex: ControlledExecutor, o: ControlledOptions, r: ControlledRun, found: FoundBy, out?: string): Promise<Counterexample> {
  const { segments_of } = await import('./exec/controlled.js');
  const { build_report } = await import('./report/json.js');
  const { schedule_of, schedule_json, decisions_sha256, file_sha256, failure_signature } = await import('./search/schedule.js');
  const { code_sha256 } = await import('./search/fingerprint.js');
  const { scenario_label } = await import('./scenarios/registry.js');
  const { ladder } = await import('./report/ladder.js');
  const { collect_events } = await import('./cpu/events.js');
  const replay = { ...o, sites: true, strategy: { name: 'replay' as const, segments: segments_of(r.switches), first: r.first_cpu } };
  const alone = o.scenarioImport.startsWith('file:') ? await (await import('./cli/controlled.js')).own_instance(o) : null;
  let again: ControlledRun;
  try { again = await (alone?.ex ?? ex).run(alone ? { ...replay, ...alone.o } : replay); } finally { await alone?.ex.close(); }
  if (alone && failure_signature(again.run) !== failure_signature(r.run)) {
    throw new Error(`the failure did not replay on its own: a fresh instance of ${o.scenarioAsTyped ?? o.scenario.name} in fresh workers ended ` +
      `${failure_signature(again.run)}, not ${failure_signature(r.run)}. The module keeps state from one run to the next (module-level variables?); ` +
      'every run must start from what setup() returns');
  }
  const v = await version();
  const report = build_report(again.run, { ops: again.run.ops }, null, null, v);
  const splat = report.failure?.splat ?? report.lockdep.report?.text ?? null;
  const schedule = schedule_of(o, again, found, `mmrace ${v}`, splat);
  schedule.decisions_sha256 = decisions_sha256(schedule.decisions);
  schedule.code_sha256 = code_sha256();
  if (out !== undefined && o.scenarioImport.startsWith('file:')) {
    // as mmrace explore records it: the module's path relative to the schedule file
    const mod = scenario_label(o.scenarioImport);
    schedule.module = { path: relative(dirname(resolve(out)), mod), sha256: file_sha256(mod) };
  }
  const json = schedule_json(schedule);
  if (out !== undefined) writeFileSync(out, json);
  return { schedule, report, splat, ladder: ladder(again, collect_events(again.run.machine)), json, saved: out ?? null };
}

export interface ExploreOptions extends CommonOptions {
  /** 'pct' (default), 'random', or both */
  strategies?: ExploreStrategy[];
  /** runs per strategy (default 500) */
  iterations?: number;
  /** operations per CPU in each run (default 1) */
  ops?: number;
  /** PCT bug depth (default 3) */
  depth?: number;
  /** PCT's window: the decisions its d-1 change points are spread over (default: measured, as `--k`) */
  k?: number;
  /** scheduling decisions before the CPUs are asked to stop (default 100 000) */
  max_steps?: number;
  /** stop at the first failing run (default true) */
  stop_at_first?: boolean;
  /** save the first failure's schedule here */
  out?: string;
}

export interface ExploreResult {
  /** per strategy: runs, failures, hit rate */
  strategies: StrategyReport[];
  /** the first failure found, replayed, as a schedule; null when every run held */
  first: Counterexample | null;
}

/** search schedules under the controlled executor (mmrace explore: random walk or PCT) */
export async function explore(ref: ScenarioRef, o: ExploreOptions = {}): Promise<ExploreResult> {
  const s = await load_scenario(ref);
  const { explore: search } = await import('./search/explore.js');
  const base = { ...s, ...common(o), ops: o.ops ?? 1, max_steps: o.max_steps ?? 100_000 };
  const depth = o.depth ?? 3;
  return with_executor(async (ex) => {
    const strategies = await search(ex, { base, strategies: o.strategies ?? ['pct'], iterations: o.iterations ?? 500, seed: o.seed ?? 1, depth, k: o.k ?? null,
      stop_at_first: o.stop_at_first ?? true });
    const found = strategies.find((x) => x.first);
    const f = found?.first;
    if (!found || !f) return { strategies, first: null };
    return { strategies, first: await counterexample(ex, f.options, f.run, { name: found.strategy, seed: f.options.seed, iteration: f.iteration,
      ...(found.strategy === 'pct' ? { depth, k: found.k ?? undefined, change_points: f.run.change_points } : {}) }, o.out) };
  });
}

export interface ExhaustiveOptions extends CommonOptions {
  /** the preemption bound K: every schedule with at most K preemptions (default 2) */
  preemptions?: number;
  /** operations per CPU in each run (default 1) */
  ops?: number;
  /** scheduling decisions before the CPUs are asked to stop (default 100 000) */
  max_steps?: number;
  /** budgets: stop (not complete) after this many runs, or this long (ms) */
  max_schedules?: number;
  time_ms?: number;
  /** partial-order reduction (sleep sets; default true) */
  reduction?: boolean;
  /** save the first failure's schedule here */
  out?: string;
}

export interface ExhaustiveExploreResult {
  /** every schedule within the bound was explored */
  complete: boolean;
  /** why the search stopped before the end: 'failure', or the budget that ran out */
  stopped: string | null;
  bound: number;
  schedules: number;
  redundant: number;
  runs: number;
  failures: number;
  /** the verdict line mmrace explore --strategy exhaustive prints */
  verdict: string;
  /** how often each of the scenario's race windows opened over the schedules explored */
  windows: { name: string; count: number }[];
  /** the first failure, replayed, as a schedule; null when none was found */
  first: Counterexample | null;
}

/** every schedule with at most `preemptions` preemptions (mmrace explore --strategy exhaustive), stopping at the first failure */
export async function explore_exhaustive(ref: ScenarioRef, o: ExhaustiveOptions = {}): Promise<ExhaustiveExploreResult> {
  const s = await load_scenario(ref);
  const { exhaustive } = await import('./search/exhaustive.js');
  const { verdict } = await import('./cli/exhaustive.js');
  const base = { ...s, ...common(o), ops: o.ops ?? 1, max_steps: o.max_steps ?? 100_000 };
  const max_runs = o.max_schedules ?? Infinity, time_ms = o.time_ms ?? Infinity;
  const t0 = performance.now();
  return with_executor(async (ex) => {
    const res = await exhaustive(ex, {
      base, preemptions: o.preemptions ?? 2, reduction: o.reduction ?? true,
      stop: (p) => p.runs >= max_runs ? `max_schedules ${max_runs}` : performance.now() - t0 >= time_ms ? `time_ms ${time_ms}` : null,
    });
    const f = res.first;
    return {
      complete: res.complete, stopped: res.stopped, bound: res.bound, schedules: res.schedules, redundant: res.redundant, runs: res.runs,
      failures: res.failures, verdict: verdict(res), windows: res.windows,
      first: f ? await counterexample(ex, f.options, f.run, { name: 'exhaustive', k: f.k, iteration: f.index }, o.out) : null,
    };
  });
}

export interface ReplayResult {
  report: RunReport;
  splat: string | null;
  /** the replay made the recorded decisions, hand-off for hand-off */
  followed: boolean;
  /** it ended in the recorded failure (null: the schedule recorded none) */
  reproduced: boolean | null;
}

/** replay a schedule file (mmrace replay); `module` overrides the scenario module it recorded */
export async function replay(schedule_path: string, o: { module?: string; watchdog_ms?: number } = {}): Promise<ReplayResult> {
  const { load_schedule, first_difference, failure_message } = await import('./search/schedule.js');
  const { build_report } = await import('./report/json.js');
  const loaded = await load_schedule(schedule_path, o.module);
  const options = { ...loaded.options, ...(o.watchdog_ms === undefined ? {} : { watchdog_ms: o.watchdog_ms }) };
  const r = await with_executor((ex) => ex.run(options));
  const report = build_report(r.run, { ops: r.run.ops }, null, null, await version());
  const e = loaded.file.expect;
  return {
    report, splat: report.failure?.splat ?? report.lockdep.report?.text ?? null,
    followed: first_difference(loaded.file, r.switches) < 0 && (r.diverged === 0 || (r.run.outcome === 'liveness' && r.diverged === r.steps)),
    reproduced: e ? r.run.outcome === e.outcome && failure_message(r.run) === e.message : null,
  };
}

export interface ShrinkResult extends Counterexample {
  /** preemptions before and after */
  preemptions: { from: number; to: number };
  runs: number;
  /** the run budget ran out before the schedule was 1-minimal */
  budget_hit: boolean;
}

/** shrink a failing schedule file to as few preemptions as still fail the same way (mmrace shrink) */
export async function shrink(schedule_path: string, o: { module?: string; max_runs?: number; out?: string } = {}): Promise<ShrinkResult> {
  const { load_schedule } = await import('./search/schedule.js');
  const { shrink: minimise } = await import('./search/shrink.js');
  const loaded = await load_schedule(schedule_path, o.module);
  return with_executor(async (ex) => {
    const res = await minimise(ex, loaded.options, o.max_runs ?? 2000);
    const c = await counterexample(ex, res.options, res.shrunk, { name: 'shrink', from: schedule_path }, o.out);
    return { ...c, preemptions: { from: res.original.preemptions, to: res.shrunk.preemptions }, runs: res.runs, budget_hit: res.budget_hit };
  });
}

/** the text report `mmrace run` prints */
export async function text_report(r: RunReport, opts: { lockStat?: boolean; latency?: boolean; lockOrder?: boolean } = {}): Promise<string> {
  return (await import('./report/text.js')).text_report(r, opts);
}

/** the self-contained HTML page `--report` writes, for a run or a bench */
export async function html_report(r: RunReport | BenchReport): Promise<string> {
  return (await import('./report/html.js')).render_html(r);
}
