// Exhaustive search's speed (issue 14): the K=2 search of the orphan on
// test/fixtures/orphan_small.mjs (2 CPUs, one operation each, buggy) to its
// first failure, in one process, so that the rows share the machine's load:
// as before (a new Machine per run, redundant runs run to their end), now
// (one Machine, redundant runs cut where they became redundant), and now
// without the reduction; each row twice (not quick), in one order and then
// in the reverse, summed, since the workers keep warming up for thousands of
// runs and the earlier of two rows would lose. Then (not quick) the fixed
// protocol's complete K=2 search. Runs/s is wall-clock; CPU ms/run is this
// process's CPU time (every thread) per run, which a loaded machine moves
// less. Measured, never asserted. The fixture imports dist/src, as this
// compiled bench does.
import { fileURLToPath } from 'node:url';
import { ControlledExecutor } from '../src/exec/controlled.js';
import { exhaustive } from '../src/search/exhaustive.js';
import { load_module } from '../src/scenarios/registry.js';

export interface ExhaustiveRow {
  what: string; protocol: 'buggy' | 'fixed'; reduction: boolean; runs: number; schedules: number; redundant: number; pruned: number;
  found: boolean; complete: boolean; k: number; seconds: number; runs_per_s: number; cpu_ms_per_run: number;
  /** decisions per run: of the runs counted as schedules, and of the redundant ones (what the sleep-set cut shortens) */
  decisions_per_schedule: number; decisions_per_redundant: number;
}

export async function exhaustive_bench(quick: boolean): Promise<ExhaustiveRow[]> {
  const url = new URL('../../test/fixtures/orphan_small.mjs', import.meta.url).href;
  const scenario = await load_module(url, fileURLToPath(url));
  const base = { scenario, scenarioImport: url, protocol: 'buggy' as const, cpus: 2, seed: 1, ops: 1, max_steps: 100_000 };
  const rows: ExhaustiveRow[] = [];
  const sums = new Map<string, ExhaustiveRow & { n: number }>();
  const configs: [string, ControlledExecutor, boolean, boolean, 'buggy' | 'fixed'][] = [];
  const before = new ControlledExecutor({ reuse_machine: false }), now = new ControlledExecutor();
  configs.push(['as before: a Machine per run, no cut', before, true, false, 'buggy'], ['one Machine, sleep-set cut', now, true, true, 'buggy'], ['one Machine, no reduction', now, false, true, 'buggy']);
  const order = quick ? configs : [...configs, ...[...configs].reverse()];
  if (!quick) order.push(['one Machine, sleep-set cut: complete', now, true, true, 'fixed']);
  try {
    for (const ex of [before, now]) await exhaustive(ex, { base, preemptions: quick ? 1 : 2, reduction: false }); // warm the workers up (the first runs are several times slower)
    for (const [what, ex, reduction, cut, protocol] of order) {
      const t0 = performance.now(), c0 = process.cpuUsage();
      const d = [0, 0, 0, 0]; // decisions and runs: counted, redundant
      const r = await exhaustive(ex, { base: { ...base, protocol }, preemptions: 2, reduction, cut, on_run: (x, counted) => { d[counted ? 0 : 2] += x.steps; d[counted ? 1 : 3]++; } });
      const seconds = (performance.now() - t0) / 1000, c = process.cpuUsage(c0);
      const row = {
        what, protocol, reduction, runs: r.runs, schedules: r.schedules, redundant: r.redundant, pruned: r.pruned, found: !!r.first, complete: r.complete, k: r.first?.k ?? -1,
        seconds, runs_per_s: r.runs / seconds, cpu_ms_per_run: (c.user + c.system) / 1000 / r.runs,
        decisions_per_schedule: d[0] / d[1], decisions_per_redundant: d[2] / d[3],
      };
      const sum = sums.get(what);
      if (!sum) { sums.set(what, { ...row, n: 1 }); rows.push(row); continue; }
      // the same search again: its counts are the same; times add up
      const cpu = sum.cpu_ms_per_run * sum.runs * sum.n + row.cpu_ms_per_run * row.runs;
      sum.n++;
      sum.seconds += seconds;
      sum.runs_per_s = (sum.runs * sum.n) / sum.seconds;
      sum.cpu_ms_per_run = cpu / (sum.runs * sum.n);
      Object.assign(rows.find((x) => x.what === what)!, { seconds: sum.seconds / sum.n, runs_per_s: sum.runs_per_s, cpu_ms_per_run: sum.cpu_ms_per_run });
    }
  } finally {
    await before.close();
    await now.close();
  }
  return rows;
}

/** the part's markdown */
export function exhaustive_table(rows: ExhaustiveRow[]): string {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const out = [
    '| run | protocol | reduction | runs | schedules | redundant | pruned | decisions/schedule | decisions/redundant run | result | seconds | runs/s | CPU ms/run |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|',
  ];
  for (const r of rows) {
    const result = r.found ? `failure at K=${r.k}` : r.complete ? 'complete, clean' : 'not complete';
    out.push(`| ${r.what} | ${r.protocol} | ${r.reduction ? 'sleep sets' : 'none'} | ${r.runs} | ${r.schedules} | ${r.redundant} | ${r.pruned} | ${f(r.decisions_per_schedule)} | ${f(r.decisions_per_redundant)} | ${result} | ${f(r.seconds)} | ${f(r.runs_per_s, 0)} | ${f(r.cpu_ms_per_run, 2)} |`);
  }
  const a = rows[0], b = rows[1];
  out.push('', `same run (not quick: each row the mean of two, in opposite orders), to the first failure: ${f(b.runs_per_s / a.runs_per_s, 2)}x the runs/s of before, ${f(b.cpu_ms_per_run / a.cpu_ms_per_run, 2)}x its CPU time per run, ` +
    `${f(a.seconds / b.seconds, 2)}x faster to the failure (goal: 500 runs/s on 2 idle cores; K=2 to the orphan in <= 60 s). ` +
    'Redundant: runs the sleep sets found equivalent to one explored, now stopped at the decision they became so; pruned: branches never run.');
  return out.join('\n');
}
