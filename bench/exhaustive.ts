// Exhaustive search's speed (issue 14 item 1): the K=2 search of the orphan
// on test/fixtures/orphan_small.mjs (2 CPUs, one operation each, buggy) to
// its first failure, with the reduction and without: runs, schedules
// counted, runs the reduction found redundant, seconds, runs/s. Measured,
// never asserted. The fixture imports dist/src, as this compiled bench does.
import { fileURLToPath } from 'node:url';
import { ControlledExecutor } from '../src/exec/controlled.js';
import { exhaustive } from '../src/search/exhaustive.js';
import { load_module } from '../src/scenarios/registry.js';

export interface ExhaustiveRow { reduction: boolean; runs: number; schedules: number; redundant: number; found: boolean; k: number; seconds: number; runs_per_s: number }

export async function exhaustive_bench(quick: boolean): Promise<ExhaustiveRow[]> {
  const url = new URL('../../test/fixtures/orphan_small.mjs', import.meta.url).href;
  const scenario = await load_module(url, fileURLToPath(url));
  const base = { scenario, scenarioImport: url, protocol: 'buggy' as const, cpus: 2, seed: 1, ops: 1, max_steps: 100_000 };
  const rows: ExhaustiveRow[] = [];
  const ex = new ControlledExecutor();
  try {
    await exhaustive(ex, { base, preemptions: 1, reduction: false }); // warm the workers up (the first runs are several times slower)
    for (const reduction of quick ? [true] : [true, false]) {
      const t0 = performance.now();
      const r = await exhaustive(ex, { base, preemptions: 2, reduction });
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ reduction, runs: r.runs, schedules: r.schedules, redundant: r.redundant, found: !!r.first, k: r.first?.k ?? -1, seconds, runs_per_s: r.runs / seconds });
    }
  } finally {
    await ex.close();
  }
  return rows;
}
