// Time to first failure under load (issue 16 item 5): the first_failure
// part's free runs (buggy protocol, 2 CPUs, seeds 1000.., a wall-clock cap)
// with another process keeping one core busy: a child `node -e 'for(;;){}'`
// spins beside the runs and is killed at the end, even when a run throws.
// Each jitter level asked for (none, adaptive by default) is measured
// loaded and quiet (the spinner not yet started); a quiet row of jitter none
// is taken from the first_failure part when it ran in the same bench. Beside
// each side: the CPUs' measured overlap (RunResult.overlap), averaged over
// its runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import type { Scenario } from '../src/scenarios/types.js';
import { JITTER_NAMES } from '../src/worker/jitter.js';
import { expected_of } from './expected.js';
import { type FirstFailureOptions, type FirstFailureRow, GOAL_MS, cpus_of, eras_of, free_side, row_name } from './first_failure.js';

export interface LoadedOptions extends FirstFailureOptions {
  /** the jitter levels measured (JITTER_* codes) */
  jitters: number[];
  /** measure the quiet side too (else only rows the first_failure part gave) */
  quiet: boolean;
}

export const first_bug_loaded_options = (quick: boolean, jitters: number[]): LoadedOptions =>
  ({ cpus: 2, runs: quick ? 3 : 9, cap_ms: 10_000, give_up: 3, jitters, quiet: true });

export type LoadedSide = FirstFailureRow['free'] & {
  /** the mean over its runs of the fraction of overlap samples in which >= 2 CPUs progressed (NaN if none measured) */
  overlap: number;
  /** 1-minute load average when the side began and ended */
  load: [number, number];
};

export interface LoadedRow {
  scenario: string;
  era: number | null;
  /** the CPUs it ran on when its recipe needs more than the part's (Scenario.cpus), else null */
  cpus: number | null;
  deterministic: string | null;
  /** by jitter level name: loaded, and quiet (null when not measured) */
  sides: { jitter: string; loaded: LoadedSide; quiet: LoadedSide | null }[];
}

/** a process keeping one core busy; `stop` kills it and resolves once it is gone (it is killed at exit too, should the bench die first) */
export function start_spinner(): { pid: number; stop: () => Promise<void> } {
  const child: ChildProcess = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', kill);
  return { pid: child.pid ?? -1, stop: async () => { kill(); process.removeListener('exit', kill); await gone; } };
}

async function side_of(s: Scenario, o: LoadedOptions, era: number | undefined, jitter: number): Promise<LoadedSide> {
  const l0 = loadavg()[0];
  const ov: number[] = [];
  const f = await free_side(s, o, era, jitter, (r) => { if (r.overlap && Number.isFinite(r.overlap.fraction)) ov.push(r.overlap.fraction); });
  return { ...f, overlap: ov.length ? ov.reduce((a, b) => a + b, 0) / ov.length : NaN, load: [l0, loadavg()[0]] };
}

/**
 * every scenario's loaded (and quiet) free runs at each jitter level;
 * `quiet_from`: the first_failure part's rows, whose free side stands for the quiet side of jitter none
 */
export async function first_bug_loaded(scenarios: readonly Scenario[], o: LoadedOptions, quiet_from: FirstFailureRow[] = [], on_spinner?: (pid: number) => void): Promise<LoadedRow[]> {
  const rows: LoadedRow[] = [];
  for (const s of scenarios) for (const era of eras_of(s)) {
    rows.push({ scenario: s.name, era: era ?? null, cpus: cpus_of(s, o) !== o.cpus ? cpus_of(s, o) : null, deterministic: expected_of(s).deterministic, sides: o.jitters.map((j) => ({ jitter: JITTER_NAMES[j], loaded: null as unknown as LoadedSide, quiet: null })) });
  }
  const each = async (f: (s: Scenario, era: number | undefined, row: LoadedRow) => Promise<void>) => {
    let k = 0;
    for (const s of scenarios) for (const era of eras_of(s)) await f(s, era, rows[k++]);
  };
  if (o.quiet) {
    await each(async (s, era, row) => {
      for (const [i, j] of o.jitters.entries()) {
        const given = j === 0 ? quiet_from.find((r) => r.scenario === s.name && r.era === (era ?? null)) : undefined;
        row.sides[i].quiet = given ? { ...given.free, overlap: NaN, load: [NaN, NaN] } : await side_of(s, o, era, j);
      }
    });
  }
  const spinner = start_spinner();
  on_spinner?.(spinner.pid);
  try {
    await new Promise((r) => setTimeout(r, 300)); // the spinner is running before the first run boots
    await each(async (s, era, row) => {
      for (const [i, j] of o.jitters.entries()) row.sides[i].loaded = await side_of(s, o, era, j);
    });
  } finally {
    await spinner.stop();
  }
  return rows;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const pc = (n: number) => (Number.isFinite(n) ? `${(100 * n).toFixed(0)} %` : '-');

/** the part's markdown: per scenario and jitter level, loaded beside quiet */
export function first_bug_loaded_table(rows: LoadedRow[], o: LoadedOptions, wall_ms: number): string {
  const out = [
    `| scenario | jitter | loaded: reproduced/runs | median ms | p90 ms | overlap | median <= ${GOAL_MS / 1000} s | quiet: reproduced/runs | median ms | p90 ms | overlap |`,
    '|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    for (const x of r.sides) {
      const L = x.loaded, Q = x.quiet;
      out.push(`| ${row_name(r)} | ${x.jitter} | ${L.reproduced}/${L.runs} | ${f1(L.median_ms)} | ${f1(L.p90_ms)} | ${pc(L.overlap)} | ` +
        `${L.goal === 'n/a' ? 'n/a (deterministic)' : L.goal} | ${Q ? `${Q.reproduced}/${Q.runs}` : '-'} | ${Q ? f1(Q.median_ms) : '-'} | ${Q ? f1(Q.p90_ms) : '-'} | ${Q ? pc(Q.overlap) : '-'} |`);
    }
  }
  const loads = rows.flatMap((r) => r.sides.flatMap((x) => [...x.loaded.load]));
  out.push('');
  out.push(`${o.cpus} CPUs (a row with --cpus N: its recipe's roles need N), buggy protocol, free-running; loaded: a child \`node -e 'for(;;){}'\` spinning beside the runs. Up to ${o.runs} runs per side (seeds 1000..), ` +
    `each capped at ${o.cap_ms / 1000} s; medians and p90s over the reproduced runs; the goal column is the median over all runs (a miss counts as longer than any). ` +
    'Overlap: the mean over the runs of the fraction of the CPUs\' overlap samples in which at least 2 CPUs progressed. ' +
    `A quiet row of jitter none with overlap '-' is the first_failure part's. Load average (1 min) while loaded: ${f1(Math.min(...loads))}-${f1(Math.max(...loads))}.`);
  const missed = rows.flatMap((r) => r.sides.filter((x) => x.loaded.goal === 'missed').map((x) => `${row_name(r)} (${x.jitter})`));
  out.push(missed.length ? `loaded goal missed: ${missed.join(', ')}` : 'loaded goal met by every race at every jitter level measured');
  out.push(`\npart wall time: ${(wall_ms / 1000).toFixed(1)} s`);
  return out.join('\n');
}
