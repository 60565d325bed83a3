// Exact capture (issue 14 item 3): how often mmrace capture replays the
// free-running failure itself. For each of `seeds` start seeds, capture as
// the CLI does by default (orphaned-migration-entry, buggy, 2 CPUs, no
// jitter, free runs of 5 s, up to 5 of them) but with no re-hunting: a
// capture is exact when the recorded order, replayed under control, fails
// with the same message on the same CPU in the same one of its operations on
// the same pfn (capture's method 'replayed'). The rate is over the free
// failures that are the orphan (the scenario's signature); another failure
// (a lockup on an overloaded machine) is listed, not counted. Measured,
// never asserted.
import { ControlledExecutor } from '../src/exec/controlled.js';
import { capture } from '../src/search/capture.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { failure_message } from '../src/search/schedule.js';

export interface CaptureRow {
  /** the start seed (capture tries it, then the next ones, until a free run fails) */
  seed: number;
  /** the free run that failed: its seed and operations; null if none of the runs failed */
  free_seed: number | null;
  free_ops: number;
  /** steps recorded, replay segments merged from them */
  steps: number;
  turns: number;
  /** replayed: the same failure at the same place; elsewhere: the same failure, another CPU, operation or pfn; none: no such failure */
  result: 'replayed' | 'elsewhere' | 'none' | 'no free failure' | 'not the orphan';
  /** controlled replays made (3 orders, then repairs) */
  replays: number;
  seconds: number;
  /** where the replay that followed the free run furthest left it (none replayed it exactly) */
  diverged?: string;
}

export interface CaptureFigures { rows: CaptureRow[]; captured: number; replayed: number; rate: number }

/** seeds 10, 20, ... (10 apart: a start seed's free runs use the seeds after it) */
export async function capture_bench(seeds: number, duration_ms = 5000): Promise<CaptureFigures> {
  const scenario = SCENARIOS.find((s) => s.name === 'orphaned-migration-entry')!;
  const rows: CaptureRow[] = [];
  const ex = new ControlledExecutor();
  try {
    for (let i = 1; i <= seeds; i++) {
      const t0 = performance.now();
      const seed = 10 * i;
      const res = await capture(ex, {
        free: { scenario, scenarioImport: scenario.name, protocol: 'buggy', cpus: 2, duration_ms, ops: 0, seed, jitter: 0 },
        runs: 5, rehunt: 0, max_steps: 100_000,
      });
      const failed = res.free.outcome !== 'clean';
      const orphan = failed && scenario.signature!.test(failure_message(res.free));
      const result = !failed ? 'no free failure' : !orphan ? 'not the orphan' : res.method === 'replayed' ? 'replayed' : res.method ? 'elsewhere' : 'none';
      rows.push({
        seed, free_seed: failed ? res.free.seed : null, free_ops: res.free.ops,
        steps: 'points' in res ? res.points : 0, turns: 'captured_segments' in res ? res.captured_segments : 0,
        result, replays: 'attempts' in res ? res.attempts : 0, seconds: (performance.now() - t0) / 1000,
        ...('diverged' in res && res.diverged ? { diverged: res.diverged } : {}),
      });
    }
  } finally {
    await ex.close();
  }
  const captured = rows.filter((r) => r.result !== 'no free failure' && r.result !== 'not the orphan').length;
  const replayed = rows.filter((r) => r.result === 'replayed').length;
  return { rows, captured, replayed, rate: captured ? replayed / captured : NaN };
}
