// From a free-running failure to a schedule the controlled executor replays.
//
// The free run numbers each CPU's steps (the code between two of its
// preemption points) on one shared counter, where they met other CPUs':
// once a lock was taken, before it was released, after the MMU read a pte
// (jitter flag JITTER_RECORD, src/worker/sched_record.ts). Merged in number
// order, the steps give a list of segments "CPU c runs to its point pp",
// which is exactly what a replay follows, in which every lock changes hands
// in the order it did free-running. A step a CPU was descheduled in has two
// numbers far apart, so there are two orders, by first and by last number;
// each is replayed, and one that fails with the same message on the same
// CPU, in the same one of its operations, on the same pfn is an exact
// capture ('replayed'). Reads and writes without a common lock in the middle
// of a step (a page's count, mapcount or mapping, a pgd entry, a pte the MMU
// reads) are numbered too ('peeks'): two more orders key each step by its
// last and by its first peek. Repairs first key the step where a replay left
// the free run by its other numbers, then move it past others' steps
// (src/search/capture_repair.ts). If no order replays the failure, it is re-hunted around
// it: controlled runs that follow a prefix of the captured schedule and then
// continue as a seeded random walk (shorter prefixes as attempts go on),
// alternating with random walks from the start of the same run.
import { PERCPU } from '../shm/layout.js';
import { percpu_base } from '../shm/machine.js';
import { RunOptions, RunResult, run_free } from '../exec/free_run.js';
import { JITTER_RECORD } from '../worker/jitter.js';
import { REC_AFTER_WAIT, REC_FIRST, REC_LAST, REC_PEEK_FIRST, REC_PEEK_LAST, REC_WAIT_BEGIN } from '../worker/sched_record.js';
import { MOVES, Mismatch, describe_mismatch, first_mismatch, further, move_step, position, record_keys, step_numbers } from './capture_repair.js';
import { ControlledExecutor, ControlledOptions, ControlledRun } from '../exec/controlled.js';
import { failure_signature } from './schedule.js';
import { mix_seed } from '../worker/sched_state.js';
import { SEG } from '../worker/strategies.js';

export interface CaptureResult {
  free: RunResult;
  /** free runs made until one failed */
  free_runs: number;
  /** segments merged from the free run's record */
  captured_segments: number;
  /** steps recorded (every CPU's, from its start to its last point and on) */
  points: number;
  /** replayed: the captured order fails the same way at the same place; re-hunted: a controlled run around it fails the same way */
  method: 'replayed' | 're-hunted' | null;
  /** how the controlled failure relates to the free-running one, in words */
  note: string;
  /** where the replay that followed the free run furthest left it (describe_mismatch), if none replayed it */
  diverged?: string;
  /** controlled runs tried after the free failure */
  attempts: number;
  options: ControlledOptions | null;
  controlled: ControlledRun | null;
}

/**
 * merge the CPUs' records (each step's number, by the point it starts at:
 * src/worker/sched_record.ts) into replay segments (cpu, pp, spin): the
 * steps of every CPU in number order, a CPU's consecutive steps one segment
 * ending at the point after its last. A step with a wait's beginning
 * (`waits`, -1: none) between its own number and its previous step's goes in
 * two: to its first wait yield (cpu, pp, 1) at that beginning, the rest at
 * its number. Every CPU's numbers ascend, so it is a merge.
 */
export function merge_record(records: { cpu: number; keys: ArrayLike<number>; waits?: ArrayLike<number> }[]): { segments: number[]; points: number } {
  const at = records.map(() => 0);
  const half = records.map(() => false); // the part of the current step up to its wait is merged
  const key = (i: number): number => {
    const { keys, waits } = records[i], j = at[i];
    const w = waits ? waits[j] : -1;
    return !half[i] && w >= 0 && w < keys[j] && (j === 0 || w > keys[j - 1]) ? w : keys[j];
  };
  const segments: number[] = [];
  let points = 0, cur = -1;
  for (;;) {
    let best = -1, bk = 0;
    for (let i = 0; i < records.length; i++) {
      if (at[i] >= records[i].keys.length) continue;
      const k = key(i);
      if (best < 0 || k < bk) { best = i; bk = k; }
    }
    if (best < 0) break;
    const pp = at[best]; // step pp runs from point pp to point pp + 1
    let end = pp + 1, spin = 0;
    if (bk !== records[best].keys[pp]) { half[best] = true; end = pp; spin = 1; } // to its first wait yield
    else { at[best]++; half[best] = false; points++; }
    if (best === cur) { segments[segments.length - 2] = end; segments[segments.length - 1] = spin; }
    else segments.push(records[best].cpu, end, spin);
    cur = best;
  }
  return { segments, points };
}

export interface CaptureOptions {
  free: RunOptions;
  /** free runs to try (seeds seed, seed+1, ...) until one fails */
  runs: number;
  /** controlled attempts to re-hunt the failure if the captured order does not replay it */
  rehunt: number;
  /** replays that may move steps where a replay left the free run (src/search/capture_repair.ts); default 16 */
  repair?: number;
  max_steps: number;
  progress?: (what: string) => void;
  /** called with the failing free run's result, before any controlled run */
  on_free_failure?: (r: RunResult) => void;
}

export async function capture(ex: ControlledExecutor, o: CaptureOptions): Promise<CaptureResult | { free: RunResult; free_runs: number; method: null }> {
  let free: RunResult | null = null;
  let k = 0;
  for (; k < o.runs; k++) {
    if (k > 0 && o.free.interrupt?.()) break;
    o.progress?.(`free run ${k + 1}/${o.runs}`);
    free = await run_free({ ...o.free, seed: o.free.seed + k, jitter: o.free.jitter | JITTER_RECORD });
    if (free.outcome !== 'clean') break;
  }
  const fr = free!;
  if (fr.outcome === 'clean') return { free: fr, free_runs: k, method: null };
  o.on_free_failure?.(fr);
  if (fr.outcome === 'internal') return { free: fr, free_runs: k + 1, method: null };
  const signature = failure_signature(fr);
  const free_ops = cpu_ops(fr);
  const quota = Math.max(...free_ops) + 1;
  // the orders of the record (src/worker/sched_record.ts): every step by its first number, its last, its first after a wait,
  // its last peek, its first peek (a step that peeked at nothing: by its first number)
  const ORDERS = [[REC_FIRST, REC_FIRST], [REC_LAST, REC_LAST], [REC_AFTER_WAIT, REC_AFTER_WAIT], [REC_PEEK_LAST, REC_FIRST], [REC_PEEK_FIRST, REC_FIRST]];
  const keysets = ORDERS.map(([f, or]) => fr.cpu_results.map((r) => record_keys(r.record, f, or)));
  // the third splits a step that waited: to its wait where the wait began, the rest after the wait's end
  const waits = fr.cpu_results.map((r) => record_keys(r.record, REC_WAIT_BEGIN));
  const order = (keys: Float64Array[]) => merge_record(keys.map((k, cpu) => ({ cpu, keys: k, waits: keys === keysets[2] || from?.waits ? waits[cpu] : undefined })));
  let from: { keys: Float64Array[]; waits: boolean; at: Mismatch; pos: number; desc: string } | null = null;
  const { segments, points } = order(keysets[0]);
  const base: ControlledOptions = {
    scenario: o.free.scenario, scenarioImport: o.free.scenarioImport, scenarioAsTyped: o.free.scenarioAsTyped, protocol: o.free.protocol,
    cpus: fr.cpus, seed: fr.seed, ops: quota, max_steps: Math.max(o.max_steps, 2 * points + 10_000),
    strategy: { name: 'replay', segments, first: segments.length ? segments[0] : 0 },
    extra_switches: o.free.extra_switches,
  };
  const result: CaptureResult = {
    free: fr, free_runs: k + 1, captured_segments: segments.length / SEG, points, method: null, note: '', attempts: 0, options: null, controlled: null,
  };
  // the same failure in the same place: same CPU, in the same one of its operations, on the same page
  const fingerprint = (r: RunResult, ops: number[]) => `${failure_signature(r)} cpu ${r.oops?.cpu} op ${ops[r.oops?.cpu ?? 0]} pfn ${r.oops?.pfn}`;
  const want = fingerprint(fr, free_ops);
  const where = (r: RunResult, ops: number[]) => `CPU ${r.oops?.cpu} in its operation ${(ops[r.oops?.cpu ?? 0] ?? 0) + 1}, pfn ${r.oops?.pfn}`;
  let near = null as { options: ControlledOptions; run: ControlledRun; note: string } | null; // set in attempt()
  // each step numbered where it took its locks and read ptes, where it released them, where its wait
  // ended: they differ for a CPU descheduled with a lock held, whose writes in the step fall between
  // them; then repairs from the order whose replay followed the free run furthest
  let moves = 0, tries = 0;
  const repair = o.repair ?? 16;
  const attempt = async (keys: Float64Array[], what: string) => {
    const segs = order(keys).segments;
    const opts: ControlledOptions = { ...base, strategy: { name: 'replay', segments: segs, first: segs.length ? segs[0] : 0 } };
    o.progress?.(`replaying the captured order (${what})`);
    const r = await ex.run({ ...opts, points: true });
    result.attempts++;
    const ops = cpu_ops(r.run);
    if (!near && fingerprint(r.run, ops) !== want && failure_signature(r.run) === signature) {
      near = { options: opts, run: r, note: `the captured order, replayed under control, fails the same way but elsewhere (${where(r.run, ops)}; free-running: ${where(fr, free_ops)})` };
    }
    const at = first_mismatch(fr, r, keys);
    return { opts, r, ops, exact: fingerprint(r.run, ops) === want, at, pos: at ? position(keys, at) : -1 };
  };
  const exact = (a: { opts: ControlledOptions; r: ControlledRun; ops: number[] }, how: string): CaptureResult =>
    ({ ...result, method: 'replayed', options: a.opts, controlled: a.r, note: `the captured order (${how}) replays to the same failure at the same place (${where(a.r.run, a.ops)})` });
  for (const [i, keys] of keysets.entries()) {
    const how = `steps by their ${['first', 'last', 'first after a wait', 'last peek', 'first peek'][i]} numbers`;
    const a = await attempt(keys, how);
    if (a.exact) return exact(a, how);
    if (a.at && (!from || further(from.at, from.pos, a.at, a.pos))) from = { keys, waits: i === 2, at: a.at, pos: a.pos, desc: describe_mismatch(fr, a.r, a.at, keys) };
  }
  while (from && tries < repair && !o.free.interrupt?.()) {
    let moved = false;
    const at = from.at, cur = from.keys;
    // the step keyed by its own other numbers first, then moved past 1, -1, 2, ... of the other CPUs' steps
    const candidates = [...step_numbers(fr.cpu_results[at.cpu]?.record, cur, at), ...MOVES.map((d) => move_step(cur, at, d))];
    for (const keys of candidates) {
      if (tries >= repair) break;
      if (!keys) continue;
      tries++;
      const a = await attempt(keys, `repair ${tries}/${repair}`);
      if (a.exact) return exact(a, `with ${moves + 1} step${moves ? 's' : ''} moved where replays left the free run, ${tries} repair replays`);
      if (a.at && further(from.at, from.pos, a.at, a.pos)) { from = { ...from, keys, at: a.at, pos: a.pos, desc: describe_mismatch(fr, a.r, a.at, keys) }; moves++; moved = true; break; }
    }
    if (!moved) break;
  }
  if (from) result.diverged = from.desc;
  if (near) return { ...result, method: 're-hunted', options: near.options, controlled: near.run, note: near.note };
  const nseg = segments.length / SEG;
  for (let t = 0; t < o.rehunt && !o.free.interrupt?.(); t++) {
    // every other attempt hunts from the start (cheap); the others follow the
    // captured order up to 1, 2, 4, ... turns short of the failure (a step
    // bound past the prefix keeps them short); all with fresh random walks
    const cut = t % 2 === 0 ? nseg : Math.min(nseg, 2 ** (t >> 1));
    const prefix = segments.slice(0, (nseg - cut) * SEG);
    const opts: ControlledOptions = {
      ...base, max_steps: prefix_decisions(prefix) + o.max_steps,
      strategy: { name: 'replay', segments: prefix, first: prefix.length ? prefix[0] : 0, fallback: 'random', seed: mix_seed(fr.seed, t) },
    };
    o.progress?.(`re-hunting around it: attempt ${t + 1}/${o.rehunt}`);
    const r = await ex.run(opts);
    result.attempts++;
    if (failure_signature(r.run) === signature) {
      return { ...result, method: 're-hunted', options: opts, controlled: r,
        note: prefix.length
          ? `the captured order does not fail under control; its first ${nseg - cut} of ${nseg} turns followed by a random walk do (attempt ${t + 1}, ${where(r.run, cpu_ops(r.run))})`
          : `the captured order does not fail under control; a random walk from the start does (attempt ${t + 1}, ${where(r.run, cpu_ops(r.run))})` };
    }
  }
  result.note = `neither the captured order nor ${o.rehunt} re-hunting runs around it failed the same way under control`;
  return result;
}

/** decisions a replay of these segments makes at least: every CPU's last point in them */
function prefix_decisions(segs: number[]): number {
  const last = new Map<number, number>();
  for (let k = 0; k < segs.length; k += SEG) last.set(segs[k], segs[k + 1]);
  let t = 0;
  for (const pp of last.values()) t += pp;
  return t;
}

/** each CPU's operations (its 32-bit counter, as the fingerprint has always read it) from the run's Machine as its result keeps it */
function cpu_ops(r: RunResult): number[] {
  const m = r.machine;
  return Array.from({ length: r.cpus }, (_, c) => m.i32[percpu_base(c, m.bases) + PERCPU.ops]);
}
