// Preemption points. Every primitive calls preempt_point(); kernel paths call
// cond_resched() where the kernel would. Both check the halt word (a BUG on
// any CPU stops all of them) and then run the executor's hook: nothing for a
// plain free-running CPU, seeded delays for jitter, a token hand-off for a
// controlled executor. Kernel paths never talk to the scheduler themselves.
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
let spinHook: PreemptHook = noop;

/** install the executor's hooks (jitter, controlled scheduling) */
export function set_preempt_hooks(pp: PreemptHook | null, spin: PreemptHook | null): void {
  hook = pp ?? noop;
  spinHook = spin ?? noop;
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
  hook();
}

/** where the kernel calls cond_resched(): a voluntary switch point */
export const cond_resched = preempt_point;

/** inside a spin loop: lets a controlled executor run the lock holder instead */
export function cpu_relax(): void {
  spinHook();
}
