// Per-CPU lock_stat counters (one record per CPU per lock class, on their
// own cache lines) and the held-lock stack that lockdep-style reports and the
// watchdog read. Clock reads are the expensive part (~50 ns), so wait time is
// measured only on the contended path, and hold time on every one of the
// first 64 acquisitions of a class on a CPU, then on one in 64 (at random
// gaps, not every 64th): a lock taken rarely has every hold timed, a hot one
// pays for a pair of clock reads once in 64 pairs.
// Every acquisition also feeds lockdep (src/sync/lockdep.ts), and, when the
// run is traced, writes lock wait/hold events for the Perfetto trace.
// --no-lock-stat is CONFIG_LOCK_STAT=n: no counts and no clock reads, while
// lockdep and the held-lock stack (CONFIG_PROVE_LOCKING) stay.
import { GLOBALS, HELD_CLS_MASK, HELD_MAX, HELD_READ, LD_LOCK, LOCKSTAT, LOCKSTAT_NR_PATHS, LOCKSTAT_RW, PERCPU } from '../shm/layout.js';
import { BASES, f64, i32, percpu_base, sizes } from '../shm/machine.js';
import { NR_LOCK_CLASSES } from './lock_class.js';
import { current, sample_draw } from '../cpu/current.js';
import { EV_LOCK_ACQ, EV_LOCK_REL, EV_LOCK_WAIT, EV_LOCK_WAITED, trace_only, tracing } from '../cpu/events.js';
import { lockdep_acquire, lockdep_depth_overflow } from './lockdep.js';
import { REC_RELEASE, REC_TOUCH, REC_WAIT, REC_WAITED, record_step, recording } from './preempt.js';

/** past a row's first HOLD_TIME_ALL acquisitions, hold times are sampled one acquisition in HOLD_SAMPLE_EVERY on average */
const HOLD_SAMPLE_EVERY = 64;
/**
 * the first HOLD_TIME_ALL acquisitions of each lock_stat row (class, read or
 * write) on each CPU are all timed: swapon's swap_lock or a truncate's
 * i_mmap_lock, taken a few times in a run, then gets every hold, not none
 */
const HOLD_TIME_ALL = 64;
/**
 * this CPU's hold sampling (each worker is one CPU: module state is per CPU,
 * and only this CPU reads it, so it lives in the worker, not in the Machine).
 * hold[GAP]: acquisitions left before the next sampled hold. The gaps are
 * random, uniform in [1, 2 * HOLD_SAMPLE_EVERY - 1] (mean HOLD_SAMPLE_EVERY),
 * so sampling does not alias with an operation's fixed lock order (see
 * sample_draw); an unsampled acquisition costs a decrement. hold[BITS]: bit k
 * set while held[k]'s hold is timed, from hold_t[k] (ms). A const typed array:
 * cheaper on the hot path than module `let`s.
 */
const hold = new Int32Array(2);
const GAP = 0, BITS = 1;
const hold_t = new Float64Array(HELD_MAX);
hold[GAP] = 1;
/** lock_stat is on in this run (GLOBALS.lock_stat_off: --no-lock-stat); read once per thread by lock_stat_attach */
let lockstat = true;

/**
 * this thread now runs a CPU (or the boot context) of the attached Machine:
 * is lock_stat on in its run? And a fresh table of gaps for its hold sampling.
 */
export function lock_stat_attach(): void {
  lockstat = i32[BASES.globals + GLOBALS.lock_stat_off] === 0;
  lock_stat_seed();
}

/**
 * gaps between sampled holds, drawn at each lock_stat_attach (uniform in [1, 2 * HOLD_SAMPLE_EVERY - 1]) and
 * taken in turn: the branch that starts a sampled hold stays a few instructions, which the JIT keeps
 * from costing the unsampled acquisitions around it (a draw there cost every acquisition ~8 ns)
 */
const HOLD_GAPS = 1024;
const hold_gaps = new Int32Array(HOLD_GAPS).fill(HOLD_SAMPLE_EVERY); // until lock_stat_attach draws them
let hold_gap_next = 0;

/** draw this CPU's table of gaps from its measuring sampler (sample_draw: the CPU's own stream, which set_current_cpu seeds) */
function lock_stat_seed(): void {
  hold_gap_next = 0;
  for (let k = 0; k < HOLD_GAPS; k++) hold_gaps[k] = 1 + (sample_draw() & 0x7fffffff) % (2 * HOLD_SAMPLE_EVERY - 1);
  hold[GAP] = hold_gaps[0];
  hold[BITS] = 0;
}

/** a sampled hold of held-stack entry n begins: the next gap, and the clock read (one acquisition in 64) */
function hold_sample_begin(n: number): void {
  hold[GAP] = hold_gaps[hold_gap_next = (hold_gap_next + 1) & (HOLD_GAPS - 1)];
  hold_time(n);
}

/** the hold of held-stack entry n is timed: its start now */
function hold_time(n: number): void {
  hold_t[n] = performance.now();
  hold[BITS] |= 1 << n;
}

/**
 * is the hold of held-stack entry n, the row's acquisition number `a`,
 * timed? Every gap runs down whatever the answer (the draws stay those of
 * the CPU's stream), and one of the row's first HOLD_TIME_ALL always is.
 */
function hold_start(n: number, a: number): void {
  if (--hold[GAP] === 0) hold_sample_begin(n);
  else if (a <= HOLD_TIME_ALL) hold_time(n);
}

/** this CPU's lock_stat row of a class, for writes (and plain locks) or reads */
const ls_row = (cls: number, read: boolean) => current.lockstat_f64 + (cls * LOCKSTAT_RW + (read ? 1 : 0)) * LOCKSTAT.stride;

/** lock_stat's count of an acquisition, in this CPU's row of the class (and of its bounces: the lock last held by another CPU) */
function count_acquisition(cls: number, read: boolean, bounce: boolean): number {
  const ls = ls_row(cls, read);
  if (bounce) f64[ls + LOCKSTAT.acq_bounces] += 1;
  return (f64[ls + LOCKSTAT.acquisitions] += 1);
}

/**
 * an acquisition (`read`: a read hold of an rwsem or rwlock): count it, teach lockdep
 * (a trylock teaches nothing) and push it on the held stack
 */
export function lock_acquired(lock: number, cls: number, bounce: boolean, trylock = false, contended = false, read = false): void {
  if (recording) record_step(REC_TOUCH); // capture: the hand-off's number, taken while the lock is held
  const a = lockstat ? count_acquisition(cls, read, bounce) : 0;
  if (!trylock) lockdep_acquire(lock, cls, LD_LOCK, read);
  if (tracing) trace_only(EV_LOCK_ACQ, lock, cls, contended ? 1 : 0);
  held_push(lock, read ? cls | HELD_READ : cls, a);
}

/**
 * the common acquisition, kept small enough for the JIT to inline into every
 * lock (callers pass `read` as a constant): a lock taken at once, not a
 * trylock. The same bookkeeping as lock_acquired (count, lockdep's check, the
 * held stack); recording, tracing and a full held stack go the long way.
 */
export function lock_acquired_fast(lock: number, cls: number, bounce: boolean, read: boolean): void {
  const pc = current.pcpu;
  const n = i32[pc + PERCPU.nheld];
  if (recording || tracing || n >= HELD_MAX) { lock_acquired(lock, cls, bounce, false, false, read); return; }
  if (n !== 0) lockdep_acquire(lock, cls, LD_LOCK, read);
  else hold[BITS] = 0; // an empty stack has no sampled entry (clears what a run unwound by a BUG left)
  if (lockstat) hold_start(n, count_acquisition(cls, read, bounce));
  i32[pc + PERCPU.held + n] = lock;
  i32[pc + PERCPU.held_cls + n] = read ? cls | HELD_READ : cls;
  i32[pc + PERCPU.nheld] = n + 1;
}

/** a contended acquisition that waited `waitNs` */
export function lock_contended_acquired(lock: number, cls: number, bounce: boolean, waitNs: number, read = false): void {
  if (!lockstat) { lock_acquired(lock, cls, bounce, false, true, read); return; }
  const ls = ls_row(cls, read);
  f64[ls + LOCKSTAT.contentions] += 1;
  if (bounce) f64[ls + LOCKSTAT.con_bounces] += 1;
  const n = f64[ls + LOCKSTAT.contentions];
  if (n === 1 || waitNs < f64[ls + LOCKSTAT.wait_min]) f64[ls + LOCKSTAT.wait_min] = waitNs;
  if (waitNs > f64[ls + LOCKSTAT.wait_max]) f64[ls + LOCKSTAT.wait_max] = waitNs;
  f64[ls + LOCKSTAT.wait_total] += waitNs;
  const row = (current.cpu * NR_LOCK_CLASSES + cls) * LOCKSTAT_NR_PATHS;
  const path = i32[current.pcpu + PERCPU.path], holder = i32[current.pcpu + PERCPU.await_holder_path];
  // path ids only (set_path checks them), each below LOCKSTAT_NR_PATHS (events.ts checks at load)
  i32[BASES.lockstat_points + row + path] += 1;
  i32[BASES.lockstat_contending + row + holder] += 1;
  lock_acquired(lock, cls, bounce, false, true, read);
}

/**
 * this CPU starts waiting for `lock`, held by the CPU tagged `holder` (cpu + 1; 0 if not known):
 * lockdep learns the dependency before the wait can deadlock
 */
export function lock_wait_begin(lock: number, cls: number, holder: number, read = false): number {
  if (recording) record_step(REC_WAIT); // capture: where the step found it busy
  // the holder's path is read racily: it is where the holder was about when we found the lock taken
  i32[current.pcpu + PERCPU.await_holder_path] = holder > 0 && holder <= sizes.nr_cpus ? i32[percpu_base(holder - 1) + PERCPU.path] : 0;
  // published before lockdep looks at the other CPUs' waits (page_lock_cycle): of two CPUs that begin
  // waiting for each other's lock together, at least one sees the other's await_lock (both seq-cst)
  Atomics.store(i32, current.pcpu + PERCPU.await_cls, read ? cls | HELD_READ : cls); // the watchdog's wait-for: a reader waits only for a writer
  Atomics.store(i32, current.pcpu + PERCPU.await_lock, lock);
  lockdep_acquire(lock, cls, LD_LOCK, read);
  if (tracing) trace_only(EV_LOCK_WAIT, lock, cls);
  return lockstat ? performance.now() : 0;
}

export function lock_wait_end(t0: number): number {
  if (recording) record_step(REC_WAITED); // capture: the step goes after what it waited for
  const pc = current.pcpu;
  if (tracing) trace_only(EV_LOCK_WAITED, i32[pc + PERCPU.await_lock], i32[pc + PERCPU.await_cls] & HELD_CLS_MASK);
  Atomics.store(i32, pc + PERCPU.await_lock, 0);
  return lockstat ? (performance.now() - t0) * 1e6 : 0;
}

/** push an acquisition on the held stack; `a`: its number in its lock_stat row (lock_stat on) */
function held_push(lock: number, cls: number, a: number): void {
  const pc = current.pcpu;
  const n = i32[pc + PERCPU.nheld];
  if (n < HELD_MAX) {
    i32[pc + PERCPU.held + n] = lock;
    i32[pc + PERCPU.held_cls + n] = cls;
    if (n === 0) hold[BITS] = 0; // an empty stack has no sampled entry (clears what a run unwound by a BUG left)
    if (lockstat) hold_start(n, a);
    i32[pc + PERCPU.nheld] = n + 1;
    return;
  }
  // past the stack: counted, not recorded, and lockdep can no longer see every held lock
  i32[pc + PERCPU.held_over] += 1;
  lockdep_depth_overflow();
}

/**
 * the lock at word `lock` is being released by this CPU (release order need
 * not be LIFO). The common case, the lock on top of the held stack, is kept
 * small enough for the JIT to inline into every unlock; the search below the
 * top, the sampled hold time and the overflow are out of line.
 */
export function lock_released(lock: number): void {
  if (recording) record_step(REC_RELEASE); // capture: numbered while the lock is still held
  const pc = current.pcpu;
  const top = i32[pc + PERCPU.nheld] - 1;
  if (top >= 0 && i32[pc + PERCPU.held + top] === lock) {
    if (tracing || (hold[BITS] & (1 << top)) !== 0) held_drop(lock, pc, top, top);
    else i32[pc + PERCPU.nheld] = top; // the common case: the top entry, not timed, not traced
  } else lock_released_below(lock, pc, top);
}

/** lock_released of a lock that is not on top of the held stack: found below it, or one held past HELD_MAX */
function lock_released_below(lock: number, pc: number, top: number): void {
  for (let k = top - 1; k >= 0; k--) {
    if (i32[pc + PERCPU.held + k] === lock) { held_drop(lock, pc, k, top); return; }
  }
  // not on the stack: one of the locks held past HELD_MAX (a lock never taken must change nothing)
  if (i32[pc + PERCPU.held_over] > 0) {
    i32[pc + PERCPU.held_over] -= 1;
    if (tracing) trace_only(EV_LOCK_REL, lock, -1);
  }
}

/** take entry k (of 0..top) off this CPU's held stack, recording its hold time if it was sampled */
function held_drop(lock: number, pc: number, k: number, top: number): void {
  const hc = i32[pc + PERCPU.held_cls + k];
  if (tracing) trace_only(EV_LOCK_REL, lock, hc & HELD_CLS_MASK);
  if ((hold[BITS] & (1 << k)) !== 0) hold_sample(hc, hold_t[k]);
  if (k < top) held_shift(pc, k, top);
  else hold[BITS] &= ~(1 << k);
  i32[pc + PERCPU.nheld] = top;
}

/** entries k+1..top of the held stack move down one (a release below the top), with their sampled bits and start times */
function held_shift(pc: number, k: number, top: number): void {
  for (let j = k; j < top; j++) {
    i32[pc + PERCPU.held + j] = i32[pc + PERCPU.held + j + 1];
    i32[pc + PERCPU.held_cls + j] = i32[pc + PERCPU.held_cls + j + 1];
    hold_t[j] = hold_t[j + 1];
  }
  const below = (1 << k) - 1;
  hold[BITS] = (hold[BITS] & below) | ((hold[BITS] >>> 1) & ~below);
}

/** a sampled hold (held-stack class word hc, taken at time t) ends now: into the class's lock_stat row */
function hold_sample(hc: number, t: number): void {
  const holdNs = (performance.now() - t) * 1e6;
  const ls = ls_row(hc & HELD_CLS_MASK, (hc & HELD_READ) !== 0);
  const m = f64[ls + LOCKSTAT.hold_samples] += 1;
  if (m === 1 || holdNs < f64[ls + LOCKSTAT.hold_min]) f64[ls + LOCKSTAT.hold_min] = holdNs;
  if (holdNs > f64[ls + LOCKSTAT.hold_max]) f64[ls + LOCKSTAT.hold_max] = holdNs;
  f64[ls + LOCKSTAT.hold_total] += holdNs;
}

/** does this CPU hold a lock of class `cls` (recorded in held[]; for "caller holds ..." checks) */
export function holds_class(cls: number): boolean {
  const pc = current.pcpu;
  const n = Math.min(i32[pc + PERCPU.nheld], HELD_MAX);
  for (let k = 0; k < n; k++) if ((i32[pc + PERCPU.held_cls + k] & HELD_CLS_MASK) === cls) return true;
  return false;
}

/** held_mode's answers: CPU c does not hold the lock, holds it (for write, or a plain lock), holds it for read only */
export const HELD_NONE = 0, HELD_WRITE = 1, HELD_READ_ONLY = 2;

/** how CPU `cpu` holds the lock at word `lock`, from its held stack (racy unless that CPU is stopped: the watchdog, lock_stat) */
export function held_mode(cpu: number, lock: number): number {
  const pc = percpu_base(cpu);
  const n = Math.min(i32[pc + PERCPU.nheld], HELD_MAX);
  let mode = HELD_NONE;
  for (let k = 0; k < n; k++) {
    if (i32[pc + PERCPU.held + k] !== lock) continue;
    if ((i32[pc + PERCPU.held_cls + k] & HELD_READ) === 0) return HELD_WRITE;
    mode = HELD_READ_ONLY;
  }
  return mode;
}

/** number of locks this CPU holds now (for "must not hold locks" checks) */
export function held_count(): number {
  return i32[current.pcpu + PERCPU.nheld] + i32[current.pcpu + PERCPU.held_over];
}
