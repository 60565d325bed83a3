// Preemption points. Every primitive calls preempt_point(kind, object), naming
// what the step after it touches (a lock word, a pte slot); kernel paths call
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
import { BASES, i32 } from '../shm/machine.js';
import { defineEnum } from '../shm/struct.js';

/**
 * What a preemption point is about to touch: the kind of step and its object
 * (a word index in the Machine, or -1 for none). A later partial-order
 * reduction calls two steps dependent when they touch the same object.
 */
const PP_KINDS = defineEnum('preemption point', [
  { key: 'PP_LOCK_ACQUIRE', name: 'lock' }, // a lock or trylock for writing (spinlock, page lock, rwsem/rwlock write): object = the lock word
  { key: 'PP_LOCK_ACQUIRE_READ', name: 'lock-read' }, // a read acquire of an rwsem or rwlock: object = the lock word
  { key: 'PP_LOCK_RELEASE', name: 'unlock' }, // after a release (unlock, end of writeback or read I/O): object = the lock word
  { key: 'PP_PAGE_WAIT', name: 'page-wait' }, // wait_on_page_locked/writeback is over: object = the page's flags word
  { key: 'PP_PTE_READ', name: 'pte-read' }, // the MMU's unlocked walk: object = the pte slot (the pgd entry while there is no table); -1 when free-running
  { key: 'PP_RESCHED', name: 'cond_resched' }, // cond_resched(): object -1
  { key: 'PP_WAIT', name: 'wait' }, // cpu_relax() in a wait loop: object = the one its last point named (what it waits for)
  { key: 'PP_EXIT', name: 'exit' }, // the CPU's task is over: object -1
  // seed 003 (E0)
  { key: 'PP_RMAP_READ', name: 'rmap-read' }, // an unlocked read of a page's rmap state (mapcount) that a later step trusts: object = the page's _mapcount word
] as const);
export const {
  PP_LOCK_ACQUIRE, PP_LOCK_ACQUIRE_READ, PP_LOCK_RELEASE, PP_PAGE_WAIT, PP_PTE_READ, PP_RESCHED, PP_WAIT, PP_EXIT, PP_RMAP_READ,
} = PP_KINDS.codes;
export const PP_KIND_NAMES: readonly string[] = PP_KINDS.names;

/** thrown to unwind a CPU when the run is halted (pre-allocated: no allocation on the hot path) */
export class Halted extends Error {
  constructor() { super('halted'); this.name = 'Halted'; }
}
export const HALTED = new Halted();

/** an executor's hook at a preemption point, told the point's kind and object (a hook may ignore them) */
export type PreemptHook = (kind: number, object: number) => void;
const noop = (): void => {};
let hook: PreemptHook = noop;
let releaseHook: PreemptHook = noop;
let spinHook: () => void = noop;
/** true while a controlled executor runs this CPU: waits yield instead of parking */
export let controlled = false;
/** capture (src/worker/sched_record.ts): true while a free-running CPU records; lock_stat's acquisitions, releases and ends of waits and the MMU's pte read then call record_step() */
export let recording = false;
let recordHook: (what: number) => void = noop;
/**
 * what record_step saw: a lock taken or a pte read, a lock about to be released, a wait over, a wait begun;
 * REC_PEEK: a word another CPU may change without a lock this step holds (a page's count, mapcount, flags) was read or written
 */
export const REC_TOUCH = 0, REC_RELEASE = 1, REC_WAITED = 2, REC_WAIT = 3, REC_PEEK = 4;

/**
 * install the executor's hooks (jitter, controlled scheduling). `release`
 * runs after a lock release instead of `pp` (the controlled executor learns
 * there that a waiter may go on); it defaults to `pp`.
 */
export function set_preempt_hooks(pp: PreemptHook | null, spin: (() => void) | null,
  opts: { release?: PreemptHook; controlled?: boolean; record?: (what: number) => void } = {}): void {
  hook = pp ?? noop;
  releaseHook = opts.release ?? hook;
  spinHook = spin ?? noop;
  controlled = opts.controlled ?? false;
  recording = opts.record !== undefined;
  recordHook = opts.record ?? noop;
}

/** a lock was just taken or is about to be released, a wait is over, or the MMU just read a pte (called only while `recording`: capture numbers the step there) */
export function record_step(what: number): void {
  recordHook(what);
}

export function halted(): boolean {
  return i32[BASES.globals + GLOBALS.halt] !== 0;
}

export function check_halt(): void {
  if (i32[BASES.globals + GLOBALS.halt] !== 0) throw HALTED;
}

/** a switch point before a step of `kind` (PP_*) on `object` (a word index, or -1) */
export function preempt_point(kind: number, object: number): void {
  if (i32[BASES.globals + GLOBALS.halt] !== 0) throw HALTED;
  if (hook !== noop) hook(kind, object); // no executor hook (free-running without jitter): no call at all
}

/**
 * after a release: a switch point too, but never throws, so that unlocking in
 * a finally block while unwinding from a BUG keeps the BUG's exception
 */
export function preempt_point_release(lock: number): void {
  // no hook (free-running without jitter): nothing to skip, so the halt word is not read either
  if (releaseHook !== noop && i32[BASES.globals + GLOBALS.halt] === 0) releaseHook(PP_LOCK_RELEASE, lock);
}

/** where the kernel calls cond_resched(): a voluntary switch point that names nothing */
export function cond_resched(): void {
  preempt_point(PP_RESCHED, -1);
}

/** inside a wait loop: lets a controlled executor run the lock holder instead (it may throw Halted) */
export function cpu_relax(): void {
  spinHook();
}
