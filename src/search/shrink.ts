// Shrinking a failing schedule to as few preemptions as still fail.
//
// A schedule is a list of segments "CPU c runs to its point pp" (one per
// hand-off). Dropping segments lets their CPU run on to its next segment:
// fewer hand-offs, often fewer preemptions. Delta debugging over the segment
// list (chunks first, then single segments) keeps a candidate when its run
// fails the same way (same outcome and message) and is smaller: fewer
// preemptions, then fewer hand-offs, then fewer decisions. The kept schedule
// is always what the candidate's run actually did, re-recorded, so it
// replays exactly. The result is 1-minimal (no single segment can go) and no
// prefix of it, the rest run without preemption, fails with fewer.
import { ControlledExecutor, ControlledOptions, ControlledRun, segments_of } from '../exec/controlled.js';
import { failure_signature } from './schedule.js';
import { SEG } from '../worker/strategies.js';

export interface ShrinkResult {
  signature: string;
  original: ControlledRun;
  shrunk: ControlledRun;
  /** options that replay the shrunk schedule */
  options: ControlledOptions;
  runs: number;
  /** the run budget ran out before the schedule was 1-minimal */
  budget_hit: boolean;
}

export class ShrinkError extends Error {}

const size = (r: ControlledRun): [number, number, number] => [r.preemptions, r.switches.length, r.steps];

function smaller(a: ControlledRun, b: ControlledRun): boolean {
  const x = size(a), y = size(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i];
  return false;
}

function with_segments(o: ControlledOptions, segments: number[], first: number): ControlledOptions {
  return { ...o, strategy: { name: 'replay', segments, first } };
}

export async function shrink(ex: ControlledExecutor, o: ControlledOptions, max_runs = 2000,
  progress?: (runs: number, best: ControlledRun) => void, stop?: () => boolean): Promise<ShrinkResult> {
  const original = await ex.run(o);
  const signature = failure_signature(original.run);
  if (original.run.outcome === 'clean' || original.run.outcome === 'internal') {
    throw new ShrinkError(`the schedule does not fail (outcome: ${original.run.outcome}): nothing to shrink`);
  }
  let best = original;
  let runs = 1;
  let budget_hit = false;
  let n = 2;
  for (;;) {
    const segs = segments_of(best.switches);
    const len = segs.length / SEG;
    if (len === 0) break;
    n = Math.min(n, len);
    let improved = false;
    const chunk = Math.ceil(len / n);
    for (let start = 0; start < len && !improved; start += chunk) {
      if (runs >= max_runs || stop?.()) { budget_hit = true; break; }
      const cand = [...segs.slice(0, start * SEG), ...segs.slice((start + chunk) * SEG)];
      const first = cand.length ? cand[0] : best.first_cpu;
      const r = await ex.run(with_segments(o, cand, first));
      runs++;
      if (failure_signature(r.run) === signature && smaller(r, best)) {
        best = r;
        improved = true;
        progress?.(runs, best);
      }
    }
    if (budget_hit) break;
    if (improved) { n = Math.max(n - 1, 2); continue; }
    if (n < len) { n = Math.min(len, n * 2); continue; }
    // single segments tried; last, cut the schedule short: what follows a
    // prefix runs without preemption, which often removes the most
    for (let keep = 0; keep < len - 1 && !improved; keep++) {
      if (runs >= max_runs || stop?.()) { budget_hit = true; break; }
      const cand = segs.slice(0, keep * SEG);
      const r = await ex.run(with_segments(o, cand, cand.length ? cand[0] : best.first_cpu));
      runs++;
      if (failure_signature(r.run) === signature && smaller(r, best)) { best = r; improved = true; progress?.(runs, best); }
    }
    if (budget_hit) break;
    if (!improved) break; // 1-minimal, and no prefix does better
    n = 2;
  }
  const segs = segments_of(best.switches);
  return { signature, original, shrunk: best, options: with_segments(o, segs, best.first_cpu), runs, budget_hit };
}
