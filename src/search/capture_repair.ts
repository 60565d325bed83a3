// Repairing a captured order (mmrace capture, src/search/capture.ts). The
// record numbers each step where it took or released a lock or read a pte;
// an unlocked access in the middle of a step (a page's count or flags, a pte
// written while another CPU walked) is placed only as well as its step's
// numbers place it. The free run also kept each point's kind and object, so
// a replay shows where it first left the free run: the step of the CPU that
// ended at another point (or failed, or did not fail) there. That step, or
// the other CPUs' steps next to it, ran in the wrong order: a repair moves
// it past 1, 2, 4, ... of the other CPUs' steps, later or earlier, keeping
// each CPU's own order, and keeps a move whose replay follows the free run
// further. The keys are fractional: a moved step goes between two others.
import { REC_FIELDS, REC_KIND, REC_OBJECT } from '../worker/sched_record.js';
import type { ControlledRun } from '../exec/controlled.js';
import type { RunResult } from '../exec/free_run.js';

/** where a replay first left the free run: the step `step` (from point step to step + 1) of `cpu` */
export interface Mismatch { cpu: number; step: number }

/** one number of every step of a CPU's record (REC_FIRST, REC_LAST, REC_AFTER_WAIT) as keys */
export function record_keys(rec: Int32Array | undefined, f: number): Float64Array {
  const n = rec ? rec.length / REC_FIELDS : 0;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = rec![k * REC_FIELDS + f];
  return out;
}

/** a replay that left the free run at `b` followed it further than one that left it at `a` (positions in their own orders) */
export function further(a: Mismatch, apos: number, b: Mismatch, bpos: number): boolean {
  // the moved step itself shifts positions: on one CPU only a later step counts
  return a.cpu === b.cpu ? b.step > a.step : bpos > apos;
}

/**
 * the earliest step (by `keys`) at which a replay left the free run: a CPU
 * whose point ended elsewhere; the CPU that failed free-running, if the
 * replay ran it past the step it failed in; the replay's failing CPU, if it
 * failed where the free run went on
 */
export function first_mismatch(free: RunResult, replay: ControlledRun, keys: Float64Array[]): Mismatch | null {
  let best: Mismatch | null = null;
  for (let c = 0; c < free.cpus; c++) {
    const rec = free.cpu_results[c]?.record, pts = replay.run.cpu_results[c]?.points;
    if (!rec || !pts) continue;
    const P = rec.length / REC_FIELDS - 1, Q = pts.length / 2;
    let i = 1;
    while (i <= P && i <= Q && rec[i * REC_FIELDS + REC_KIND] === pts[2 * (i - 1)] && rec[i * REC_FIELDS + REC_OBJECT] === pts[2 * (i - 1) + 1]) i++;
    let step = -1;
    if (i <= P && i <= Q) step = i - 1; // a different point
    else if (Q > P && free.oops?.cpu === c) step = P; // it failed there free-running
    else if (Q < P && replay.run.oops?.cpu === c) step = Q; // it failed there under control
    if (step >= 0 && step < keys[c].length && (!best || keys[c][step] < keys[best.cpu][best.step])) best = { cpu: c, step };
  }
  return best;
}

/** how far into the order a mismatch is: the steps before it */
export function position(keys: Float64Array[], m: Mismatch): number {
  const k = keys[m.cpu][m.step];
  let n = 0;
  for (const ks of keys) n += lower_bound(ks, k);
  return n;
}

function lower_bound(a: Float64Array, k: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (a[mid] < k) lo = mid + 1; else hi = mid; }
  return lo;
}

/** the spacing of steps dragged along with a moved one (a gap between two numbers is 1, at least 0.5 once split) */
const EPS = 1e-7;

/**
 * keys with step `m` moved past `d` of the other CPUs' steps (d > 0 later,
 * d < 0 earlier); its own CPU's steps in the way move with it. Null if there
 * are not that many other steps, or too many of its own to move.
 */
export function move_step(keys: Float64Array[], m: Mismatch, d: number): Float64Array[] | null {
  const others: number[] = [];
  const k = keys[m.cpu][m.step];
  keys.forEach((ks, c) => { if (c !== m.cpu) for (const x of ks) others.push(x); });
  const o = Float64Array.from(others).sort();
  const q = lower_bound(o, k); // other steps before it
  const t = q + d; // it goes between o[t - 1] and o[t]
  if (d > 0 ? t - 1 >= o.length : t < 0) return null;
  const lo = t - 1 >= 0 ? o[t - 1] : o[t] - 1, hi = t < o.length ? o[t] : o[t - 1] + 1;
  const K = (lo + hi) / 2, room = (hi - lo) / 2;
  const mine = Float64Array.from(keys[m.cpu]);
  mine[m.step] = K;
  let n = 1;
  if (d > 0) for (let j = m.step + 1; j < mine.length && mine[j] <= K + (n - 1) * EPS; j++, n++) mine[j] = K + n * EPS;
  else for (let j = m.step - 1; j >= 0 && mine[j] >= K - (n - 1) * EPS; j--, n++) mine[j] = K - n * EPS;
  if (n * EPS >= room) return null;
  return keys.map((ks, c) => (c === m.cpu ? mine : ks));
}

/** the moves a repair tries at a mismatch, nearest first */
export const MOVES = [1, -1, 2, -2, 4, -4, 8, -8, 16, -16, 64, -64];
