// Who runs next, under the controlled executor. Called by the CPU that holds
// the token at each of its decisions (so all the state it reads and writes,
// in SCHED, is quiescent), and by the executor once to pick the first CPU.
//
// A CPU is enabled when it is runnable, or when it waits (it found its lock
// or page busy and yielded) and some lock has been released or some CPU has
// exited since it last looked: only then can its wait have ended.
//
//  - random walk: uniform among the enabled CPUs at every decision;
//  - PCT (Burckhardt et al., ASPLOS 2010): distinct random priorities >= d,
//    d-1 change points drawn over the expected number of decisions k; the
//    highest-priority enabled CPU runs, and at the i-th change point the
//    running CPU drops to priority d-1-i;
//  - replay: a schedule is a list of segments "CPU c runs until its
//    preemption point pp (and its spin yield s after it)". The earliest
//    segment not yet finished whose CPU is enabled runs. That replays a
//    recorded run exactly, and still means something when segments are
//    removed (shrinking) or come from a free-running run (capture).
import { MAX_CPUS, SCHED } from '../shm/layout.js';
import { BASES, i32 } from '../shm/machine.js';
import {
  FALLBACK_RANDOM, STRAT_EXHAUSTIVE, STRAT_PCT, STRAT_RANDOM, TASK_DONE, TASK_RUNNABLE, TASK_WAITING, sched_rand,
} from './sched_state.js';

/** replay segments, flat: cpu, pp, spin per segment */
export type Segments = Int32Array;
export const SEG = 3;

function enabled(c: number, me: number, meBlocked: boolean): boolean {
  if (c === me) return !meBlocked;
  const s = BASES.sched;
  const st = i32[s + SCHED.state + c];
  return st === TASK_RUNNABLE || (st === TASK_WAITING && i32[s + SCHED.wait_gen + c] !== i32[s + SCHED.gen]);
}

function random_next(me: number, meBlocked: boolean, n: number): number {
  let count = 0;
  for (let c = 0; c < n; c++) if (enabled(c, me, meBlocked)) count++;
  if (count === 0) return -1;
  let r = sched_rand() % count;
  for (let c = 0; c < n; c++) {
    if (!enabled(c, me, meBlocked)) continue;
    if (r === 0) return c;
    r--;
  }
  return -1;
}

function pct_next(me: number, meBlocked: boolean, n: number, step: number): number {
  const s = BASES.sched;
  let k = i32[s + SCHED.next_change];
  const nchange = i32[s + SCHED.nchange];
  while (k < nchange && step >= i32[s + SCHED.change + k]) {
    i32[s + SCHED.prio + me] = i32[s + SCHED.depth] - 1 - k;
    k++;
  }
  i32[s + SCHED.next_change] = k;
  let best = -1, bestPrio = -1;
  for (let c = 0; c < n; c++) {
    if (!enabled(c, me, meBlocked)) continue;
    const p = i32[s + SCHED.prio + c];
    if (p > bestPrio) { best = c; bestPrio = p; }
  }
  return best;
}

/** the current CPU goes on if it can; else the next enabled CPU after it */
function nonpreemptive_next(me: number, meBlocked: boolean, n: number): number {
  if (me >= 0 && !meBlocked) return me;
  for (let d = 1; d <= n; d++) {
    const c = (me + d) % n;
    if (enabled(c, me, meBlocked)) return c;
  }
  return -1;
}

function finished(segs: Segments, j: number): boolean {
  const s = BASES.sched;
  const c = segs[j * SEG];
  const pp = i32[s + SCHED.pp + c];
  return pp > segs[j * SEG + 1] || (pp === segs[j * SEG + 1] && i32[s + SCHED.spin + c] >= segs[j * SEG + 2]);
}

/**
 * Per-schedule index, kept by each CPU for itself: for every CPU the index
 * of its first unfinished segment (a CPU's segments ascend, and a segment
 * once finished stays finished, so it only moves forward), and for every
 * segment the next one of the same CPU. Derived from the shared pp/spin
 * counters alone, so every CPU's copy gives the same answers.
 */
let idxFor: Segments | null = null;
let nextSame: Int32Array = new Int32Array(0);
const firstUnf = new Int32Array(MAX_CPUS);

function index_schedule(segs: Segments, n: number): void {
  const nseg = segs.length / SEG;
  nextSame = new Int32Array(nseg).fill(nseg);
  const lastSeen = new Int32Array(n).fill(-1);
  firstUnf.fill(nseg);
  for (let k = 0; k < nseg; k++) {
    const c = segs[k * SEG];
    if (lastSeen[c] >= 0) nextSame[lastSeen[c]] = k;
    else firstUnf[c] = k;
    lastSeen[c] = k;
  }
  idxFor = segs;
}

function replay_next(me: number, meBlocked: boolean, n: number, step: number, segs: Segments): number {
  const s = BASES.sched;
  const nseg = segs.length / SEG;
  if (idxFor !== segs) index_schedule(segs, n);
  // the earliest unfinished segment overall (j), and the earliest whose CPU can run (best)
  let j = nseg, best = nseg;
  for (let c = 0; c < n; c++) {
    let k = firstUnf[c];
    while (k < nseg && finished(segs, k)) k = nextSame[k];
    firstUnf[c] = k;
    if (k < j) j = k;
    if (k < best && enabled(c, me, meBlocked)) best = k;
  }
  if (best < nseg) {
    if (best !== j && i32[s + SCHED.diverged] === 0) i32[s + SCHED.diverged] = step;
    return segs[best * SEG];
  }
  // used up (a recorded run ends this way), or nothing in it can run now (it no longer fits)
  if (j < nseg && i32[s + SCHED.diverged] === 0) i32[s + SCHED.diverged] = step;
  return i32[s + SCHED.fallback] === FALLBACK_RANDOM ? random_next(me, meBlocked, n) : nonpreemptive_next(me, meBlocked, n);
}

/**
 * exhaustive search (src/search/exhaustive.ts): decision `step` takes
 * choices[step - 1] while the prefix lasts, then the run goes on without
 * preemption; a prefix choice that cannot run marks the run diverged
 */
function exhaustive_next(me: number, meBlocked: boolean, n: number, step: number, choices: Int32Array): number {
  if (step <= choices.length) {
    const c = choices[step - 1];
    if (c >= 0 && c < n && enabled(c, me, meBlocked)) return c;
    if (i32[BASES.sched + SCHED.diverged] === 0) i32[BASES.sched + SCHED.diverged] = step;
  }
  return nonpreemptive_next(me, meBlocked, n);
}

/** the CPUs that could run at this decision, as a bit mask (recorded by the exhaustive search) */
export function enabled_mask(me: number, meBlocked: boolean, n: number): number {
  let m = 0;
  for (let c = 0; c < n; c++) if (enabled(c, me, meBlocked)) m |= 1 << c;
  return m;
}

/**
 * the decision of CPU `me` at decision number `step`: the CPU to run next
 * (me to go on), or -1 if no CPU can run (every one left waits: deadlock)
 */
export function pick_next(me: number, meBlocked: boolean, n: number, step: number, segs: Segments, choices?: Int32Array): number {
  const strat = i32[BASES.sched + SCHED.strategy];
  if (strat === STRAT_PCT) return pct_next(me, meBlocked, n, step);
  if (strat === STRAT_RANDOM) return random_next(me, meBlocked, n);
  if (strat === STRAT_EXHAUSTIVE && choices) return exhaustive_next(me, meBlocked, n, step, choices);
  return replay_next(me, meBlocked, n, step, segs);
}

/** after a halt every CPU unwinds in turn, lowest number first */
export function next_to_unwind(n: number): number {
  for (let c = 0; c < n; c++) if (i32[BASES.sched + SCHED.state + c] !== TASK_DONE) return c;
  return -1;
}

/** PCT set-up (executor, before the CPUs start): priorities and change points */
export function pct_init(n: number, depth: number, k: number): void {
  const s = BASES.sched;
  const perm = Array.from({ length: n }, (_, c) => c);
  for (let c = n - 1; c > 0; c--) {
    const r = sched_rand() % (c + 1);
    [perm[c], perm[r]] = [perm[r], perm[c]];
  }
  for (let c = 0; c < n; c++) i32[s + SCHED.prio + c] = depth + perm[c];
  const changes: number[] = [];
  for (let i = 0; i < depth - 1; i++) changes.push(1 + (sched_rand() % Math.max(1, k)));
  changes.sort((a, b) => a - b);
  changes.forEach((v, i) => { i32[s + SCHED.change + i] = v; });
  i32[s + SCHED.depth] = depth;
  i32[s + SCHED.nchange] = changes.length;
  i32[s + SCHED.next_change] = 0;
}

/** the CPU that runs first */
export function first_cpu(n: number, strat: number, replayFirst: number): number {
  if (strat === STRAT_RANDOM) return sched_rand() % n;
  if (strat === STRAT_PCT) return pct_next(-1, true, n, 0);
  return replayFirst;
}

/** the PCT change points of the current run (for the saved schedule) */
export function pct_changes(): number[] {
  const s = BASES.sched;
  return Array.from({ length: i32[s + SCHED.nchange] }, (_, i) => i32[s + SCHED.change + i]);
}
