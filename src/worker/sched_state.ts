// Names for the controlled executor's shared record (SCHED in shm/layout.ts)
// and the little accessors both sides use: the executor (main thread) fills
// it before the CPUs start, then only the CPU holding the token touches it.
import { SCHED } from '../shm/layout.js';
import { BASES, i32 } from '../shm/machine.js';

/** SCHED.strategy */
export const STRAT_RANDOM = 0, STRAT_PCT = 1, STRAT_REPLAY = 2;
// h14: exhaustive search (src/search/exhaustive.ts): a prefix of choices, then no preemption
export const STRAT_EXHAUSTIVE = 3;

/** SCHED.fallback: what a replay does once its schedule is used up (or cannot be followed) */
export const FALLBACK_NONPREEMPTIVE = 0, FALLBACK_RANDOM = 1;

/** SCHED.state[cpu] */
export const TASK_RUNNABLE = 0, TASK_WAITING = 1, TASK_DONE = 2;

/** why the token left a CPU (the `why` of a decision) */
export const WHY_PREEMPT = 0, WHY_BLOCK = 1, WHY_EXIT = 2;
export const WHY_NAMES = ['preempt', 'block', 'exit'] as const;

/** the strategy's own xorshift32 stream (random walk, PCT set-up, replay fallback) */
export function sched_rand(): number {
  const at = BASES.sched + SCHED.rng;
  let x = i32[at];
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  i32[at] = x;
  return x >>> 0;
}

/** a never-zero xorshift seed from a run seed and a stream number */
export function mix_seed(seed: number, stream: number): number {
  let h = Math.imul((seed ^ 0x5bd1e995) >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b);
  h ^= h >>> 15; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 13;
  return (h >>> 0) || 0x2545f491;
}
