// Recording a free-running run for mmrace capture (jitter flag JITTER_RECORD).
// A CPU's steps are what it runs between two of its preemption points; the
// controlled executor runs each step whole, one CPU at a time. To replay a
// free run, every step gets numbers (from one shared counter,
// SCHED.rec_next) taken at the moments its work met other CPUs':
//  - at its point, just before it runs;
//  - once it holds a lock it took (lock_acquired), just before it releases
//    one (lock_released), once a wait for a lock or page is over
//    (lock_wait_end), and just after the MMU read a pte unlocked.
// A step keeps three of them: `first`, its first number after the point
// (its acquisition, its pte read; else the point's), `last`, its last (a
// release, if it made one), and `first` again but no earlier than the end of
// a wait in it; and where its first wait began (a replay in the third
// order runs the step to that wait, then the rest after the wait's end). Either orders every lock's hand-offs as the
// free run made them: a holder's steps are numbered before it releases, the
// next holder's only once it has the lock. They differ for a CPU descheduled
// while it holds a lock: its writes happened between the two, and `last`
// puts them after the reads others made meanwhile, `first` before.
// src/search/capture.ts merges the CPUs' steps in number order (by each of
// the three in turn) into replay segments. A step is also numbered where it
// peeks (record_step(REC_PEEK)): where it reads or writes a word another CPU
// changes without a lock this step holds (a page's count, mapcount, mapping
// or flags, a pgd entry, a pte the MMU reads without the PTL); its first and
// last peek are kept, and capture replays two more orders, every step by its
// last peek and by its first (a step without one by its first number). Any
// number taken between a step's acquisition and its release keeps every
// lock's hand-offs in order, so these orders do too, and they put a step that
// raced another CPU on such a word where its access was. A CPU keeps its numbers in its own memory
// (index: its point count), with each point's kind and object (capture
// compares a replay's points with them), and returns them with its result. Only a
// recording CPU does any of this: others have no hook, and lock_stat and the
// MMU test one flag.
import { SCHED } from '../shm/layout.js';
import { BASES, i32 } from '../shm/machine.js';
import { REC_PEEK, REC_RELEASE, REC_WAIT, REC_WAITED, type PreemptHook } from '../sync/preempt.js';

/**
 * what a record keeps per step: first and last numbers, first after a wait, the first wait's beginning (-1: none),
 * the kind and object of the point it starts at, the numbers of its first and last peek (REC_PEEK; -1: none)
 */
export const REC_FIELDS = 8;
export const REC_FIRST = 0, REC_LAST = 1, REC_AFTER_WAIT = 2, REC_WAIT_BEGIN = 3, REC_KIND = 4, REC_OBJECT = 5, REC_PEEK_FIRST = 6, REC_PEEK_LAST = 7;

/**
 * the record's memory: shared, so that returning it with the result passes a
 * view, not a copy (a long run's record is tens of MB, and a halted CPU that
 * took seconds to copy it would be reported as not stopping)
 */
const shared = (n: number) => new Int32Array(new SharedArrayBuffer(4 * n));

/** rec[REC_FIELDS * pp + f]: the numbers of the step that starts at this CPU's point pp (step 0: from its start to its first point) */
let rec: Int32Array<SharedArrayBuffer> = shared(0);
let pp = 0;
/** the step whose `first` an acquisition or pte read has already set, and the step whose wait ended */
let first_pp = -1, wait_pp = -1;

function ticket(): number {
  return Atomics.add(i32, BASES.sched + SCHED.rec_next, 1);
}

/** past the preallocated record: double it (rare; one allocation per 128k points at most) */
function grow(): void {
  const r = shared(rec.length * 2);
  r.set(rec);
  rec = r;
}

/** the recording hooks: at a point (then the jitter delay, if any), and at an acquisition, release or pte read */
export function recording_hooks(delay: PreemptHook | null): { point: PreemptHook; record: (what: number) => void } {
  rec = shared(REC_FIELDS << 17); // each run its own: the last run's record belongs to its result
  pp = 0; first_pp = -1; wait_pp = -1;
  rec.fill(-1, 0, REC_FIELDS); // before every numbered step
  const point = (kind: number, object: number): void => {
    pp++;
    const at = REC_FIELDS * pp;
    if (at === rec.length) grow();
    rec[at + REC_FIRST] = rec[at + REC_LAST] = rec[at + REC_AFTER_WAIT] = ticket();
    rec[at + REC_WAIT_BEGIN] = rec[at + REC_PEEK_FIRST] = rec[at + REC_PEEK_LAST] = -1;
    rec[at + REC_KIND] = kind; rec[at + REC_OBJECT] = object;
  };
  const record = (what: number): void => {
    const g = ticket(), at = REC_FIELDS * pp;
    if (what === REC_PEEK) { if (rec[at + REC_PEEK_FIRST] < 0) rec[at + REC_PEEK_FIRST] = g; rec[at + REC_PEEK_LAST] = g; return; }
    if (what === REC_WAIT) { if (rec[at + REC_WAIT_BEGIN] < 0) rec[at + REC_WAIT_BEGIN] = g; return; }
    if (what === REC_WAITED) { wait_pp = pp; rec[at + REC_AFTER_WAIT] = g; } // it comes after what it waited for
    else if (what !== REC_RELEASE && first_pp !== pp) { first_pp = pp; rec[at + REC_FIRST] = g; if (wait_pp !== pp) rec[at + REC_AFTER_WAIT] = g; }
    rec[at + REC_LAST] = g;
  };
  return { point: delay ? (kind, object) => { point(kind, object); delay(kind, object); } : point, record };
}

/** this CPU's record, steps 0..pp (a view of its shared memory, returned with its result) */
export function recorded_steps(): Int32Array {
  return rec.subarray(0, REC_FIELDS * (pp + 1));
}
