// xspeed: the exhaustive search's sleep-set cut, CPU side. A run of the
// search replays a prefix of choices, then goes on without preemption; the
// CPUs asleep when the prefix ends (src/search/exhaustive.ts: a sibling
// branch already explored stands for their next steps) stay asleep until a
// step that does not commute with theirs. The first decision after the
// prefix that would run a sleeping CPU makes the run redundant: nothing
// after it is explored, so the run stops there (the search's `extend` finds
// the same decision in the trail and counts the run redundant). The set is
// the search's, kept by the CPUs: SCHED.sleep (a CPU bit each) is shared,
// since each CPU filters it at its own decisions; each CPU's footprints and
// its own last point are its own. Without a sleep set it does nothing.
import { GLOBALS, SCHED } from '../shm/layout.js';
import { BASES, i32 } from '../shm/machine.js';
import { Footprint, Point, dependent, footprint } from './footprint.js';

/** the sleeping CPUs' next steps, by CPU (null: not asleep) */
let asleep: (Footprint | null)[] = [];
/** decisions of the prefix: a cut is only looked for after it */
let prefix = 0;
/** this CPU's point at its last decision: kind and object (has_last false: none yet); numbers, so that a decision with no sleeper allocates nothing */
let last_kind = 0, last_object = 0, has_last = false;

/** a controlled task's sleep set (flat, src/search/footprint.ts flat_sleep) and the length of its prefix */
export function sleep_install(flat: readonly number[] | undefined, prefix_len: number, n: number): void {
  asleep = new Array(n).fill(null);
  for (let k = 0; flat && k < flat.length; k += 2 + flat[k + 1]) asleep[flat[k]] = flat.slice(k + 2, k + 2 + flat[k + 1]);
  prefix = prefix_len;
  has_last = false;
}

/**
 * CPU `me`'s decision `step`, at its point (kind, object), chose `next`:
 * wake the sleepers its step since its last decision does not commute with
 * (and `me` itself); true if `next` sleeps: the run is cut here (halted, the
 * decision at SCHED.cut), and the caller keeps the token to unwind
 */
export function sleep_cut(me: number, step: number, next: number, kind: number, object: number): boolean {
  const s = BASES.sched;
  const had = has_last, from_kind = last_kind, from_object = last_object;
  last_kind = kind; last_object = object; has_last = true;
  let mask = i32[s + SCHED.sleep];
  if (step <= prefix || mask === 0) return false;
  const from: Point = had ? { kind: from_kind, object: from_object } : null;
  const did = footprint(from, { kind, object });
  for (let c = 0; c < asleep.length; c++) {
    if (((mask >>> c) & 1) !== 0 && (c === me || dependent(asleep[c]!, did))) mask &= ~(1 << c);
  }
  i32[s + SCHED.sleep] = mask;
  if (next < 0 || ((mask >>> next) & 1) === 0) return false;
  if (i32[s + SCHED.cut] === 0) i32[s + SCHED.cut] = step;
  Atomics.store(i32, BASES.globals + GLOBALS.halt, 1);
  return true;
}
