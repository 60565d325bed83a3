// Recording a free-running run's order of preemption points (mmrace capture).
// Each point takes the next number of one shared counter (SCHED.rec_next);
// a CPU keeps, in its own memory, the runs of consecutive numbers it took
// (first number, its pp there, length) and returns them with its result.
// Merged, the runs say which CPU passed which of its points in what order:
// a schedule the controlled executor can replay. The counter is one more
// contended word per point, a perturbation of the order of jitter's.
import { SCHED } from '../shm/layout.js';
import { BASES, i32 } from '../shm/machine.js';
import type { PreemptHook } from '../sync/preempt.js';

/** a run in a CPU's record: first global number, the CPU's pp at it, length */
export const REC_FIELDS = 3;

let runs: number[] = [];
let last = -2;
let pp = 0;

/** the recording hook, with the jitter delay (if any) after the point is numbered */
export function recording_hook(delay: PreemptHook | null): PreemptHook {
  runs = []; last = -2; pp = 0;
  const rec = (): void => {
    const g = Atomics.add(i32, BASES.sched + SCHED.rec_next, 1);
    pp++;
    if (g === last + 1) runs[runs.length - 1]++;
    else runs.push(g, pp, 1);
    last = g;
  };
  return delay ? (kind, object) => { rec(); delay(kind, object); } : rec;
}

export function recorded_runs(): number[] {
  return runs;
}
