// `current` for the thread running a simulated CPU: its id and the bases of
// its per-CPU records, set once when the worker attaches. A worker is one CPU.
import { BASES, cpustat_base, i32, percpu_base } from '../shm/machine.js';
import { GLOBALS, LOCKSTAT, LOCKSTAT_RW } from '../shm/layout.js';
import { NR_LOCK_CLASSES } from '../sync/lock_class.js';

export const current = {
  cpu: 0,
  /** cpu + 1: the value a held spinlock word carries */
  tag: 1,
  pcpu: 0, // word index of this CPU's PERCPU record
  stat: 0, // word index of this CPU's CPUSTAT record
  lockstat_f64: 0, // index in f64 (doubles) of this CPU's LOCKSTAT records
  /** xorshift32 state for the CPU's own choices (workload, jitter) */
  rng: 0x9e3779b9,
  /** the task's comm as the kernel's own messages name it: the CPU's role (set by cpu_main), the boot task's before */
  comm: 'swapper',
  /** true on the main thread while it acts as the boot context (enter_boot_context), not as a simulated CPU */
  boot: false,
  /** seed 002: the task's PF_* flags (PF_MEMALLOC: an allocation's own compaction runs; no sleeping on page locks) */
  flags: 0,
};

/** task flag: the task is allocating memory for itself (direct compaction), sched.h's PF_MEMALLOC */
export const PF_MEMALLOC = 0x800;

/**
 * signal_pending(current). The model delivers one signal: the end of the run.
 * Once the executor asks the CPUs to stop (GLOBALS.stop: the budget is spent,
 * ^C, a controlled run's step bound), every task has a fatal signal pending,
 * and a kernel loop the kernel made interruptible (swapoff's try_to_unuse)
 * gives up with -EINTR, as it would for the admin's kill. A loop that cannot
 * end (a leaked swap count) then ends the run with the sweep's finding, not
 * with a CPU that never stops.
 */
export function signal_pending(): boolean {
  return Atomics.load(i32, BASES.globals + GLOBALS.stop) !== 0;
}

/** the CPU whose per-CPU records the boot context borrows, and which its oopses name (the kernel's boot CPU) */
export const BOOT_CPU = 0;

export function set_current_cpu(cpu: number, seed: number): void {
  current.boot = false;
  current.flags = 0;
  current.cpu = cpu;
  current.tag = cpu + 1;
  current.pcpu = percpu_base(cpu);
  current.stat = cpustat_base(cpu);
  current.lockstat_f64 = BASES.lockstat_f64 + cpu * NR_LOCK_CLASSES * LOCKSTAT_RW * LOCKSTAT.stride;
  // distinct, never-zero stream per CPU from one run seed
  let s = (seed ^ Math.imul(cpu + 1, 0x9e3779b1)) >>> 0;
  if (s === 0) s = 0x2545f491;
  current.rng = s;
  sampler[0] = (s ^ 0x2545f491) >>> 0 || 0x2545f491;
}

/**
 * The main thread's own identity while it boots the Machine, runs the
 * scenario's setup and sweeps the invariants after a run: the boot task, not
 * a simulated CPU (`current.boot`). Having no per-CPU records of its own, it
 * borrows BOOT_CPU's (held-lock stack and lock_stat, which
 * reset_cpu_accounting clears after boot), takes the same RNG stream, and an
 * oops it records names BOOT_CPU, as the kernel's boot CPU would be named.
 */
export function enter_boot_context(seed: number): void {
  set_current_cpu(BOOT_CPU, seed);
  current.boot = true;
}

/** one step of xorshift32 (never 0 from a non-zero state) */
export function xorshift32(x: number): number {
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  return x >>> 0;
}

/** next pseudo-random u32 of this CPU (allocation-free) */
export function prandom_u32(): number {
  current.rng = xorshift32(current.rng);
  return current.rng;
}

/**
 * xorshift32 state of the measuring samplers (lock hold times, op and fault
 * latency), apart from current.rng so that measuring never changes what the
 * workload chooses. Kept in an Int32Array, not in `current`: a u32 above the
 * small-integer range stored in an object field or a module variable is a
 * heap number, allocated on every draw (perf: about 15 ns per lock acquisition).
 */
const sampler = new Int32Array(1);
sampler[0] = 0x2545f491; // never 0 (xorshift's fixed point), even before set_current_cpu seeds it

/**
 * next draw of this CPU's measuring sampler: 32 random bits as an int32 (the
 * same bits xorshift32 gives; callers mask the low ones). Sampling by a
 * counter would alias with the fixed order in which an operation takes its
 * locks (every 16th acquisition of an op that takes 4 locks is always its
 * first); a pseudo-random draw samples every lock in proportion.
 */
export function sample_draw(): number {
  let x = sampler[0];
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  sampler[0] = x;
  return x;
}

/** uniform integer in [0, n) */
export function prandom_below(n: number): number {
  return prandom_u32() % n;
}
