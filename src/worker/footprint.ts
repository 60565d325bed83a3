// What a step of the controlled executor touches, for the exhaustive
// search's partial-order reduction (src/search/exhaustive.ts explains the
// relation): the search reads it off a run's trail, and a CPU worker reads
// it off its own decisions to stop a run the moment it becomes redundant
// (the sleep-set cut, src/worker/sleep_cut.ts). One definition for both.
import { PP_LOCK_ACQUIRE, PP_LOCK_RELEASE } from '../sync/preempt.js';

/** the object of a footprint that stands for any word */
const ALL = -1;

/** what a step touches: flat (object, write 0/1) pairs */
export type Footprint = number[];

/** where a CPU stands: the point of its last decision (null: it has not run yet) */
export type Point = { kind: number; object: number } | null;

function start_access(p: Point): Footprint {
  if (!p || p.object < 0) return [ALL, 1];
  switch (p.kind) {
    case PP_LOCK_ACQUIRE: return [p.object, 1];
    case PP_LOCK_RELEASE: return [p.object, 1]; // the code after an unlock: named by the lock, conservatively
    // anything else may touch anything: an unlocked pte or rmap read (the MMU's walk also sets A/D bits and
    // stores user data), a page wait, cond_resched, a waiter's retry and what follows it, and a read acquire:
    // after down_read(mmap_sem) handle_pte_fault reads the pte unlocked, with no point of its own, and a step
    // under that pte's lock on another CPU may change it (seen: orphan-small K=2 lost a final state)
    default: return [ALL, 1];
  }
}

function end_access(p: Point): Footprint {
  if (!p) return [ALL, 1]; // the run ended in it: unknown
  if (p.kind === PP_LOCK_RELEASE) return p.object >= 0 ? [p.object, 1] : [ALL, 1]; // (it may end a wait: a waiter's step is ALL)
  return [];
}

/** the footprint of a CPU's step from point `from` to point `to` */
export function footprint(from: Point, to: Point): Footprint {
  return [...start_access(from), ...end_access(to)];
}

/** two steps of different CPUs do not commute */
export function dependent(a: Footprint, b: Footprint): boolean {
  for (let i = 0; i < a.length; i += 2) {
    for (let j = 0; j < b.length; j += 2) {
      if ((a[i] === b[j] || a[i] === ALL || b[j] === ALL) && (a[i + 1] | b[j + 1]) !== 0) return true;
    }
  }
  return false;
}


/** a sleep set as a controlled task carries it: flat (cpu, footprint length, footprint...) per sleeping CPU */
export function flat_sleep(sleep: readonly (readonly [number, Footprint])[]): number[] {
  const out: number[] = [];
  for (const [cpu, f] of sleep) out.push(cpu, f.length, ...f);
  return out;
}

/** the CPUs of a flat sleep set, a bit each (SCHED.sleep) */
export function sleep_mask(flat: readonly number[]): number {
  let m = 0;
  for (let k = 0; k < flat.length; k += 2 + flat[k + 1]) m |= 1 << flat[k];
  return m;
}
