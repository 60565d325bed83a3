// The CPUs' overlap in a free run (issue 16 item 5): how much of the run the
// simulated CPUs really ran at the same time, and adaptive jitter, which acts
// on it.
//
// Measure: at the end of each of its ops a CPU takes a sample: did another
// CPU progress (a kernel event in its ring, a user access, an op done) since
// this CPU's last sample? When two workers share one core, the OS runs each for a time
// slice of milliseconds, hundreds of ops, and only the first sample after a
// switch sees the other's progress: the fraction of samples that saw some is
// near 0. When they run on two cores at once nearly every sample sees some.
// Each CPU counts its own samples on its own PERCPU line (plain stores, no
// allocation, no message); the executor adds them up after the run.
//
// Adaptive jitter (JITTER_ADAPTIVE): a race needs one CPU to do its step
// while another stands inside the race window. CPUs that time-slice one core
// at millisecond grain almost never switch inside a window a few microseconds
// wide. While its recent samples say the CPUs rarely overlap, a CPU gives up
// its core now and then at a preemption point (a futex wait with a timeout of
// a few microseconds on a word nobody notifies), so that the OS runs the other
// CPU there: the interleaving becomes fine-grained again. It only changes when
// a CPU runs, at points that are already preemption points, as an OS
// preemption there would; it never changes what any CPU does. After a yield
// the CPU looks at the others' progress afresh, so its next sample covers
// only the time it ran (the other CPU ran because this one slept: that is no
// overlap), and the controller does not talk itself out of yielding. A
// sample in which no other CPU progressed but none could (each waits for a
// lock or is done) leaves the controller as it was: yielding would not help.
//
// Adaptive jitter also stalls, whatever the overlap, at half the points that
// name an unlocked read a later step trusts (PP_RMAP_READ: mremap's
// mapcount test): a busy delay of a few microseconds between the read and the
// step that trusts it, as KCSAN delays at a watched access, so that a CPU on
// the other core can act inside a window two steps wide. Like a yield it
// changes only when a CPU runs.
import { CPU_RUNNING, PERCPU } from '../shm/layout.js';
import { BASES, MachineView, i32 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { PP_RMAP_READ } from '../sync/preempt.js';

/**
 * how long a stall at a racy read lasts (spin iterations, a few microseconds):
 * KCSAN's watchpoint delay, here at the one kind of point that names an
 * unlocked read a later step trusts (PP_RMAP_READ), whatever the overlap
 */
export const STALL_ITERS = 4096;
let sink = 0;
/** a busy delay of `iters` steps of an LCG (its result kept, so the loop is not optimised away); also light and heavy jitter's */
export function delay(iters: number): void {
  let x = sink;
  for (let i = 0; i < iters; i++) x = (x * 1103515245 + 12345) | 0;
  sink = x;
}

/** the controller's estimate is fixed point: OV_ONE = every recent sample saw another CPU progress */
export const OV_ONE = 1 << 12;
/** each sample moves the estimate by 1 / 2^OV_SHIFT of the way (about the last 16 samples count) */
export const OV_SHIFT = 4;
/** below this (a quarter of the recent samples) the CPUs are taken not to run at once: adaptive jitter engages */
export const OV_LOW = OV_ONE >> 2;
/** while engaged, a yield at one preemption point in 2^YIELD_BITS, chosen at random */
export const YIELD_BITS = 5;
/** how long a yield waits (ms): a few microseconds, rounded up by the OS's timer slack */
export const YIELD_MS = 0.005;

/** one sample into the estimate: `seen` says another CPU progressed since the last */
export function ov_update(estimate: number, seen: boolean): number {
  return estimate + (((seen ? OV_ONE : 0) - estimate) >> OV_SHIFT);
}

/** adaptive jitter is engaged at this estimate */
export const ov_low = (estimate: number): boolean => estimate < OV_LOW;

let on = false; // sampling: a free-running CPU only (a controlled run runs one CPU at a time)
let nr = 0;
let last = new Int32Array(8); // each CPU's progress signature at this CPU's last sample (grown at attach, never on the hot path)
let estimate = OV_ONE; // assume overlap until samples say otherwise
let engaged = false; // ov_low(estimate), read at every preemption point
let rng = 1; // adaptive jitter's own xorshift32: the scenario's prandom stream stays as without it

/** adaptive jitter's own xorshift32 (the scenario's prandom stream stays as without it) */
function next_rng(): number {
  let x = rng;
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  rng = x;
  return x;
}

/** what changes whenever a CPU progresses: a kernel event in its ring, a user access through its MMU, an op done */
const sig = (cpu: number): number => {
  const pc = BASES.percpu + cpu * PERCPU.stride;
  return (i32[pc + PERCPU.ring_head] + i32[pc + PERCPU.access_seq] + i32[pc + PERCPU.progress]) | 0;
};

let always = false; // JITTER_ADAPTIVE_ALWAYS: engaged whatever the estimate

/** a worker starts a run: sample when `free` (a free run of nr_cpus CPUs); `always`: adaptive jitter engaged whatever the overlap */
export function overlap_attach(free: boolean, nr_cpus: number, seed: number, always_engaged = false): void {
  on = free;
  nr = nr_cpus;
  if (last.length < nr) last = new Int32Array(nr);
  for (let c = 0; c < nr; c++) last[c] = sig(c);
  estimate = OV_ONE;
  always = always_engaged;
  engaged = always;

  rng = ((seed * 0x9e3779b1) ^ (current.cpu + 1) * 0x85ebca6b) | 0 || 1;
}

/** at the end of each op (src/worker/cpu_main.ts): one sample (allocation-free; plain stores on this CPU's own line) */
export function overlap_sample(): void {
  if (!on) return;
  const me = current.cpu;
  let seen = false, could = false; // another CPU progressed; another CPU could have (running, not waiting for a lock)
  for (let c = 0; c < nr; c++) {
    if (c === me) continue;
    const s = sig(c);
    if (s !== last[c]) { last[c] = s; seen = true; }
    const pc = BASES.percpu + c * PERCPU.stride;
    if (i32[pc + PERCPU.state] === CPU_RUNNING && i32[pc + PERCPU.await_lock] === 0) could = true;
  }
  const pc = current.pcpu;
  i32[pc + PERCPU.ov_samples] += 1;
  if (seen) i32[pc + PERCPU.ov_seen] += 1;
  // others that only wait for a lock (perhaps this CPU's) or are done say nothing of the OS's turns: a yield would not help them
  if (!seen && !could) return;
  estimate = ov_update(estimate, seen);
  engaged = always || ov_low(estimate);
}

/** adaptive jitter's preemption-point hook: a stall at a racy read; while the CPUs rarely overlap, now and then give up the core */
export function adaptive_point(kind: number): void {
  if (kind === PP_RMAP_READ) { if ((next_rng() & 1) === 0) delay(STALL_ITERS); return; }
  if (!engaged) return; // the common case: nothing but this test
  if ((next_rng() & ((1 << YIELD_BITS) - 1)) !== 0) return;
  const pc = current.pcpu;
  i32[pc + PERCPU.ov_yields] += 1;
  Atomics.wait(i32, pc + PERCPU.ov_park, 0, YIELD_MS);
  for (let c = 0; c < nr; c++) last[c] = sig(c); // what the others did while this CPU slept is no overlap
}

/** a run's overlap, summed over its CPUs (free runs; null when no sample was taken) */
export interface Overlap {
  /** samples in which another CPU progressed too, over all samples */
  fraction: number;
  samples: number;
  /** adaptive jitter's yields */
  yields: number;
}

/** the overlap the CPUs of a run's Machine counted (its kept view) */
export function overlap_of(m: MachineView): Overlap | null {
  let samples = 0, seen = 0, yields = 0;
  for (let c = 0; c < m.sizes.nr_cpus; c++) {
    const pc = m.bases.percpu + c * PERCPU.stride;
    samples += m.i32[pc + PERCPU.ov_samples];
    seen += m.i32[pc + PERCPU.ov_seen];
    yields += m.i32[pc + PERCPU.ov_yields];
  }
  return samples === 0 && yields === 0 ? null : { fraction: samples ? seen / samples : 0, samples, yields };
}
