// Time to first failure of every built-in scenario with switches, buggy
// protocol at 2 CPUs: free-running (run_free, no jitter, a fresh seed per
// run, a wall-clock cap) and under the controlled executor (explore with
// mmrace explore's defaults, stopping at the first failing schedule).
// Only a failure with the scenario's own signature counts as reproduced:
// another failure first is a miss, counted apart.
import { run_free, type RunResult } from '../src/exec/free_run.js';
import { ControlledExecutor } from '../src/exec/controlled.js';
import { explore } from '../src/search/explore.js';
import { EXPLORE_DEFAULTS } from '../src/cli/controlled.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import type { Scenario } from '../src/scenarios/types.js';
import { expected_of, reproduced } from './expected.js';

export interface FirstFailureOptions {
  cpus: number;
  /** runs (free-running) and explorations per scenario, each with its own seed */
  runs: number;
  /** wall-clock cap of one free run and of one exploration */
  cap_ms: number;
  /** a scenario none of whose first `give_up` runs reproduced is not run further: the rest would only spend the cap */
  give_up: number;
}

export const first_failure_options = (quick: boolean): FirstFailureOptions => ({ cpus: 2, runs: quick ? 3 : 15, cap_ms: 10_000, give_up: 3 });

/** the free-running median goal of issue 9, for each race */
export const GOAL_MS = 1000;

export interface SideFigures {
  runs: number;
  reproduced: number;
  /** runs that ended in a failure other than the scenario's own */
  other_failure: number;
  /** free: runs that reached the cap clean; explore: explorations with no failing schedule within their bounds */
  not_found: number;
  /** over the reproduced runs only (NaN if none) */
  median_ms: number;
  p90_ms: number;
}

export interface FirstFailureRow {
  scenario: string;
  /** the era run with --era (a scenario whose switch spans eras gets a row per era), or null: its default */
  era: number | null;
  /** the CPUs it ran on when its recipe needs more than the part's (Scenario.cpus), else null */
  cpus: number | null;
  /** the signature counted (regex source), or null: any failure counted */
  signature: string | null;
  /** why the failure is no race, or null */
  deterministic: string | null;
  free: SideFigures & { goal: 'met' | 'missed' | 'n/a' };
  /** explore: ms include calibrating PCT's k, as a user waits for it; schedules = iterations up to the first failing one */
  explore: SideFigures & { median_schedules: number; p90_schedules: number };
  /** what ended a run other than a failure or its cap (an exploration's internal error), one line each */
  notes: string[];
  wall_ms: number;
}

/** nearest-rank quantile of sorted values (NaN if none) */
export const q = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] : NaN);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

function side(runs: number, ms: number[], other_failure: number, not_found: number): SideFigures {
  const s = sorted(ms);
  return { runs, reproduced: ms.length, other_failure, not_found, median_ms: q(s, 0.5), p90_ms: q(s, 0.9) };
}

/**
 * met: the median over all runs is within the goal, a run that did not
 * reproduce counting as longer than any (so more than half must reproduce)
 */
function goal(f: SideFigures, ms: number[], deterministic: string | null): 'met' | 'missed' | 'n/a' {
  if (deterministic) return 'n/a';
  const all = [...sorted(ms), ...new Array(f.runs - ms.length).fill(Infinity)];
  return q(all, 0.5) <= GOAL_MS ? 'met' : 'missed';
}

/** the CPUs a scenario is measured on: the part's, or more when its recipe needs them (Scenario.cpus) */
export const cpus_of = (s: Scenario, o: FirstFailureOptions): number => Math.max(o.cpus, s.cpus ?? 0);

/** the free runs of one scenario (seeds 1000..), with jitter level `jitter` (first_bug_loaded: also adaptive); `each` sees every run */
export async function free_side(s: Scenario, o: FirstFailureOptions, era?: number, jitter = 0, each?: (r: RunResult) => void): Promise<FirstFailureRow['free']> {
  const e = expected_of(s);
  const ms: number[] = [];
  let runs = 0, other = 0, clean = 0;
  for (let k = 0; k < o.runs && !(k >= o.give_up && ms.length === 0); k++) {
    const r = await run_free({ scenario: s, scenarioImport: s.name, protocol: 'buggy', cpus: cpus_of(s, o), ops: 0, duration_ms: o.cap_ms, seed: 1000 + k, jitter, era });
    runs++;
    each?.(r);
    // an exit-time violation has no time of its own: the run's length is when it was found
    if (reproduced(e, r)) ms.push(r.first_failure_ms ?? r.elapsed_ms);
    else if (r.outcome === 'clean') clean++;
    else other++;
  }
  const f = side(runs, ms, other, clean);
  return { ...f, goal: goal(f, ms, e.deterministic) };
}

async function explore_side(ex: ControlledExecutor, s: Scenario, o: FirstFailureOptions, notes: string[], era?: number): Promise<FirstFailureRow['explore']> {
  const e = expected_of(s);
  const D = EXPLORE_DEFAULTS;
  const base = { scenario: s, scenarioImport: s.name, protocol: 'buggy' as const, cpus: cpus_of(s, o), ops: D.ops, max_steps: D.max_steps, watchdog_ms: D.watchdog_s * 1000, era };
  const ms: number[] = [], schedules: number[] = [];
  let runs = 0, other = 0, none = 0;
  for (let k = 0; k < o.runs && !(k >= o.give_up && ms.length === 0); k++) {
    const t0 = performance.now();
    runs++;
    let reps;
    try {
      reps = await explore(ex, {
        base, strategies: D.strategies, iterations: D.iterations, seed: D.seed + k, depth: D.depth, k: null,
        stop_at_first: true, stop: () => performance.now() - t0 > o.cap_ms,
      });
    } catch (err) {
      // explore stops at an internal error; the other seeds may still say something
      notes.push(`explore seed ${D.seed + k}: ${(err as Error).message.split('\n')[0]}`);
      other++;
      continue;
    }
    const t = performance.now() - t0;
    // with several strategies, the first one to fail is what a user would read first
    const first = reps.find((r) => r.first)?.first;
    if (!first) none++;
    else if (reproduced(e, first.run.run)) { ms.push(t); schedules.push(first.iteration + 1); }
    else other++;
  }
  const sc = sorted(schedules);
  return { ...side(runs, ms, other, none), median_schedules: q(sc, 0.5), p90_schedules: q(sc, 0.9) };
}

/** the eras a scenario is measured in: its default (no --era), then each other era it lists */
export const eras_of = (s: Scenario): (number | undefined)[] => [undefined, ...(s.eras ?? []).slice(1)];

/** the scenarios the part measures: every one with a switch (a scenario without one has no buggy protocol) */
export const raced = (all: readonly Scenario[] = SCENARIOS) => all.filter((s) => s.switches.length > 0);

export async function first_failure(scenarios: readonly Scenario[], o: FirstFailureOptions): Promise<FirstFailureRow[]> {
  const rows: FirstFailureRow[] = [];
  const ex = new ControlledExecutor();
  try {
    for (const s of scenarios) {
      for (const era of eras_of(s)) {
        const t0 = performance.now();
        const e = expected_of(s);
        const notes: string[] = [];
        const free = await free_side(s, o, era);
        const expl = await explore_side(ex, s, o, notes, era);
        rows.push({ scenario: s.name, era: era ?? null, cpus: cpus_of(s, o) !== o.cpus ? cpus_of(s, o) : null, signature: e.signature?.source ?? null, deterministic: e.deterministic, free, explore: expl, notes, wall_ms: performance.now() - t0 });
      }
    }
  } finally {
    await ex.close();
  }
  return rows;
}

/** a row's scenario as a user runs it */
export const row_name = (r: { scenario: string; era: number | null; cpus: number | null }) =>
  `${r.scenario}${r.era === null ? '' : ` --era ${r.era}`}${r.cpus === null ? '' : ` --cpus ${r.cpus}`}`;

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

/** the part's markdown: one row per scenario, then what each row needs said about it */
export function first_failure_table(rows: FirstFailureRow[], o: FirstFailureOptions, wall_ms: number): string {
  const out = [
    `| scenario | free: reproduced/runs | capped | other failure | median ms | p90 ms | median <= ${GOAL_MS / 1000} s | ` +
      'explore: reproduced/runs | none found | other failure | median ms | p90 ms | median schedules | p90 schedules |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const F = r.free, X = r.explore;
    out.push(`| ${row_name(r)} | ${F.reproduced}/${F.runs} | ${F.not_found} | ${F.other_failure} | ${f1(F.median_ms)} | ${f1(F.p90_ms)} | ` +
      `${F.goal === 'n/a' ? 'n/a (deterministic)' : F.goal} | ${X.reproduced}/${X.runs} | ${X.not_found} | ${X.other_failure} | ` +
      `${f1(X.median_ms)} | ${f1(X.p90_ms)} | ${f0(X.median_schedules)} | ${f0(X.p90_schedules)} |`);
  }
  out.push('');
  const D = EXPLORE_DEFAULTS;
  out.push(`${o.cpus} CPUs (a row with --cpus N: its recipe's roles need N), buggy protocol, no jitter. Free: up to ${o.runs} runs (seeds 1000..), each capped at ${o.cap_ms / 1000} s (capped: clean at the cap). ` +
    `Explore: up to ${o.runs} explorations (seeds ${D.seed}..), ${D.strategies.join('+')} d=${D.depth}, ${D.ops} op/CPU, at most ${D.iterations} schedules or ${o.cap_ms / 1000} s each, ` +
    'stopping at the first failing schedule; its ms include calibrating k. Medians and p90s are over the reproduced runs; ' +
    `the goal column is the median over all runs (a miss counts as longer than any), against ${GOAL_MS / 1000} s. ` +
    `A scenario none of whose first ${o.give_up} runs reproduced is not run further.`);
  for (const r of rows) {
    if (r.deterministic) out.push(`- ${row_name(r)}: deterministic by construction (${r.deterministic}): its time is how long the workload takes to get there, not a race.`);
    if (!r.signature) out.push(`- ${row_name(r)}: no signature known, any failure counted as reproduced.`);
    for (const n of r.notes) out.push(`- ${row_name(r)}: ${n}`);
  }
  out.push(`\npart wall time: ${(wall_ms / 1000).toFixed(1)} s`);
  return out.join('\n');
}
