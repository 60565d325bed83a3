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
import { REC_AFTER_WAIT, REC_FIELDS, REC_FIRST, REC_KIND, REC_LAST, REC_OBJECT, REC_PEEK_FIRST, REC_PEEK_LAST } from '../worker/sched_record.js';
import { PP_KIND_NAMES } from '../sync/preempt.js';
import { PAGE } from '../shm/layout.js';
import type { MachineView } from '../shm/machine.js';
import type { ControlledRun } from '../exec/controlled.js';
import type { RunResult } from '../exec/free_run.js';

/** where a replay first left the free run: the step `step` (from point step to step + 1) of `cpu` */
export interface Mismatch { cpu: number; step: number }

/** one number of every step of a CPU's record (REC_FIRST, REC_LAST, ...) as keys; where it is -1 (a step with no peek), field `or` */
export function record_keys(rec: Int32Array | undefined, f: number, or = f): Float64Array {
  const n = rec ? rec.length / REC_FIELDS : 0;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = rec![k * REC_FIELDS + f];
    out[k] = v < 0 ? rec![k * REC_FIELDS + or] : v;
  }
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

/**
 * where a replay left the free run, in words: the CPU's step, how many of its
 * steps the free run recorded, the point the step started at, where it ended
 * free-running and where under control (for the bench and diagnosis)
 */
export function describe_mismatch(free: RunResult, replay: ControlledRun, m: Mismatch, keys: Float64Array[]): string {
  const rec = free.cpu_results[m.cpu]!.record!, pts = replay.run.cpu_results[m.cpu]?.points ?? [];
  const P = rec.length / REC_FIELDS - 1;
  const pt = (kind: number, object: number) => `${PP_KIND_NAMES[kind] ?? kind} ${word_name(object, free.machine)}`;
  const at = (i: number) => (i >= 1 && i <= P ? pt(rec[i * REC_FIELDS + REC_KIND], rec[i * REC_FIELDS + REC_OBJECT]) : i > P ? 'its failure' : 'its start');
  const got = m.step < pts.length / 2 ? pt(pts[2 * m.step], pts[2 * m.step + 1]) : replay.run.oops?.cpu === m.cpu ? 'a failure' : 'its end';
  const total = keys.reduce((t, k) => t + k.length, 0);
  return `CPU ${m.cpu} step ${m.step} of ${P} (${position(keys, m)} of ${total} steps in order), from ${at(m.step)}: free to ${at(m.step + 1)}, replay to ${got}`;
}

/** a word of the Machine by its region: "pages[41].ptl", "ptes+1027", "word 12" */
export function word_name(w: number, m: MachineView): string {
  if (w < 0) return '-';
  let best = '', at = -1;
  for (const [k, v] of Object.entries(m.bases)) if (typeof v === 'number' && !k.endsWith('_f64') && v <= w && v > at && k !== 'total_words' && k !== 'ring' && k !== 'tring') { best = k; at = v; }
  if (best === 'pages') return `pages[${Math.floor((w - at) / PAGE.stride)}].${PAGE.fields.find((f) => (PAGE as unknown as Record<string, number>)[f] === (w - at) % PAGE.stride) ?? (w - at) % PAGE.stride}`;
  return best ? `${best}+${w - at}` : `word ${w}`;
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

/** the numbers a step's record holds (its first, last, first after a wait, first and last peek), for step_numbers */
const STEP_NUMBERS = [REC_FIRST, REC_LAST, REC_AFTER_WAIT, REC_PEEK_FIRST, REC_PEEK_LAST];

/**
 * keys with step `m` keyed by each other number its own record holds, where
 * that keeps its CPU's steps in order: a step's numbers are all moments of
 * its own run, so these are the first repairs worth a replay (before moving
 * it past a guessed count of the other CPUs' steps)
 */
export function step_numbers(rec: Int32Array | undefined, keys: Float64Array[], m: Mismatch): Float64Array[][] {
  const mine = keys[m.cpu], k = m.step;
  if (!rec || (k + 1) * REC_FIELDS > rec.length) return [];
  const lo = k > 0 ? mine[k - 1] : -Infinity, hi = k + 1 < mine.length ? mine[k + 1] : Infinity;
  const out: Float64Array[][] = [];
  const seen = new Set<number>([mine[k]]);
  for (const f of STEP_NUMBERS) {
    const v = rec[k * REC_FIELDS + f];
    if (v < 0 || v <= lo || v >= hi || seen.has(v)) continue;
    seen.add(v);
    const moved = Float64Array.from(mine);
    moved[k] = v;
    out.push(keys.map((ks, c) => (c === m.cpu ? moved : ks)));
  }
  return out;
}

/** the moves a repair tries at a mismatch, nearest first */
export const MOVES = [1, -1, 2, -2, 4, -4, 8, -8, 16, -16, 64, -64];
