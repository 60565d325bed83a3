// Preemption points. Every primitive calls preempt_point(); kernel paths call
// cond_resched() where the kernel would. Both check the halt word (a BUG on
// any CPU stops all of them) and then run the executor's hook: nothing for a
// plain free-running CPU, seeded delays for jitter, a token hand-off for a
// controlled executor. Kernel paths never talk to the scheduler themselves.
//
// Under the controlled executor one CPU runs at a time, so a waiter must
// never spin out its turn or park: `controlled` makes the wait loops of the
// spinlock, page lock, rwsem and TLB flush call cpu_relax() (which yields the
// token) for as long as they wait. It is read only on those slow paths.
import { GLOBALS } from '../shm/layout.js';
import { B, i32 } from '../shm/machine.js';

/** thrown to unwind a CPU when the run is halted (pre-allocated: no allocation on the hot path) */
export class Halted extends Error {
  constructor() { super('halted'); this.name = 'Halted'; }
}
export const HALTED = new Halted();

export type PreemptHook = () => void;
const noop: PreemptHook = () => {};
let hook: PreemptHook = noop;
let releaseHook: PreemptHook = noop;
let spinHook: PreemptHook = noop;
/** true while a controlled executor runs this CPU: waits yield instead of parking */
export let controlled = false;

/**
 * install the executor's hooks (jitter, controlled scheduling). `release`
 * runs after a lock release instead of `pp` (the controlled executor learns
 * there that a waiter may go on); it defaults to `pp`.
 */
export function set_preempt_hooks(pp: PreemptHook | null, spin: PreemptHook | null,
  opts: { release?: PreemptHook; controlled?: boolean } = {}): void {
  hook = pp ?? noop;
  releaseHook = opts.release ?? hook;
  spinHook = spin ?? noop;
  controlled = opts.controlled ?? false;
}

export function halted(): boolean {
  return i32[B.globals + GLOBALS.halt] !== 0;
}

export function check_halt(): void {
  if (i32[B.globals + GLOBALS.halt] !== 0) throw HALTED;
}

export function preempt_point(): void {
  if (i32[B.globals + GLOBALS.halt] !== 0) throw HALTED;
  hook();
}

/**
 * after a release: a switch point too, but never throws, so that unlocking in
 * a finally block while unwinding from a BUG keeps the BUG's exception
 */
export function preempt_point_release(): void {
  if (i32[B.globals + GLOBALS.halt] !== 0) return;
  releaseHook();
}

/** where the kernel calls cond_resched(): a voluntary switch point */
export const cond_resched = preempt_point;

/** inside a wait loop: lets a controlled executor run the lock holder instead (it may throw Halted) */
export function cpu_relax(): void {
  spinHook();
}
