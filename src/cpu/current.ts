// `current` for the thread running a simulated CPU: its id and the bases of
// its per-CPU records, set once when the worker attaches. A worker is one CPU.
import { B, cpustat_base, percpu_base } from '../shm/machine.js';
import { HELDTIME, LOCKSTAT, LOCKSTAT_RW } from '../shm/layout.js';
import { NR_LOCK_CLASSES } from '../sync/lock_class.js';

export const current = {
  cpu: 0,
  /** cpu + 1: the value a held spinlock word carries */
  tag: 1,
  pcpu: 0, // word index of this CPU's PERCPU record
  stat: 0, // word index of this CPU's CPUSTAT record
  ls: 0, // double index of this CPU's LOCKSTAT records
  ht: 0, // double index of this CPU's HELDTIME record
  /** xorshift32 state for the CPU's own choices (workload, jitter) */
  rng: 0x9e3779b9,
};

export function set_current_cpu(cpu: number, seed: number): void {
  current.cpu = cpu;
  current.tag = cpu + 1;
  current.pcpu = percpu_base(cpu);
  current.stat = cpustat_base(cpu);
  current.ls = B.lockstat_f64 + cpu * NR_LOCK_CLASSES * LOCKSTAT_RW * LOCKSTAT.stride;
  current.ht = B.heldtime_f64 + cpu * HELDTIME.stride;
  // distinct, never-zero stream per CPU from one run seed
  let s = (seed ^ Math.imul(cpu + 1, 0x9e3779b1)) >>> 0;
  if (s === 0) s = 0x2545f491;
  current.rng = s;
}

/** next pseudo-random u32 of this CPU (xorshift32: allocation-free) */
export function prandom_u32(): number {
  let x = current.rng;
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  current.rng = x >>> 0;
  return current.rng;
}

/** uniform integer in [0, n) */
export function prandom_below(n: number): number {
  return prandom_u32() % n;
}
