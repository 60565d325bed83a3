// Per-CPU lock_stat counters (one record per CPU per lock class, on their
// own cache lines) and the held-lock stack that lockdep-style reports and the
// watchdog read. Clock reads are the expensive part (~50 ns), so wait time is
// measured only on the contended path and hold time on one acquisition in 16
// (at random gaps, not every 16th).
// Every acquisition also feeds lockdep (src/sync/lockdep.ts), and, when the
// run is traced, writes lock wait/hold events for the Perfetto trace.
import { HELD_CLS_MASK, HELD_MAX, HELD_READ, HELDTIME, LD_LOCK, LOCKSTAT, LOCKSTAT_NR_PATHS, LOCKSTAT_RW, PERCPU } from '../shm/layout.js';
import { BASES, f64, i32, percpu_base, sizes } from '../shm/machine.js';
import { NR_LOCK_CLASSES } from './lock_class.js';
import { current, sample_draw } from '../cpu/current.js';
import { EV_LOCK_ACQ, EV_LOCK_REL, EV_LOCK_WAIT, EV_LOCK_WAITED, trace_only, tracing } from '../cpu/events.js';
import { lockdep_acquire, lockdep_depth_overflow } from './lockdep.js';
import { REC_RELEASE, REC_TOUCH, REC_WAIT, REC_WAITED, record_step, recording } from './preempt.js';

/** hold times are sampled one acquisition in HOLD_SAMPLE_EVERY on average */
const HOLD_SAMPLE_EVERY = 16;
/**
 * acquisitions left before this CPU's next sampled hold (each worker is one
 * CPU: a module variable is per CPU). The gaps are drawn at random, uniform
 * in [1, 2 * HOLD_SAMPLE_EVERY - 1] (mean HOLD_SAMPLE_EVERY), so sampling does
 * not alias with an operation's fixed lock order (see sample_draw), and an
 * unsampled acquisition costs a decrement instead of a draw.
 */
let hold_gap = 1;

/** a sampled hold begins: draw the next gap and read the clock (out of line: one acquisition in 16) */
function hold_sample_begin(): number {
  hold_gap = 1 + (sample_draw() & 0x7fffffff) % (2 * HOLD_SAMPLE_EVERY - 1);
  return performance.now();
}

/** this CPU's lock_stat row of a class, for writes (and plain locks) or reads */
const ls_row = (cls: number, read: boolean) => current.lockstat_f64 + (cls * LOCKSTAT_RW + (read ? 1 : 0)) * LOCKSTAT.stride;

/**
 * an acquisition (`read`: a read hold of an rwsem or rwlock): count it, teach lockdep
 * (a trylock teaches nothing) and push it on the held stack
 */
export function lock_acquired(lock: number, cls: number, bounce: boolean, trylock = false, contended = false, read = false): void {
  if (recording) record_step(REC_TOUCH); // capture: the hand-off's number, taken while the lock is held
  const ls = ls_row(cls, read);
  f64[ls + LOCKSTAT.acquisitions] += 1;
  if (bounce) f64[ls + LOCKSTAT.acq_bounces] += 1;
  if (!trylock) lockdep_acquire(lock, cls, LD_LOCK, read);
  if (tracing) trace_only(EV_LOCK_ACQ, lock, cls, contended ? 1 : 0);
  held_push(lock, read ? cls | HELD_READ : cls);
}

/** a contended acquisition that waited `waitNs` */
export function lock_contended_acquired(lock: number, cls: number, bounce: boolean, waitNs: number, read = false): void {
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
  return performance.now();
}

export function lock_wait_end(t0: number): number {
  if (recording) record_step(REC_WAITED); // capture: the step goes after what it waited for
  const pc = current.pcpu;
  if (tracing) trace_only(EV_LOCK_WAITED, i32[pc + PERCPU.await_lock], i32[pc + PERCPU.await_cls] & HELD_CLS_MASK);
  Atomics.store(i32, pc + PERCPU.await_lock, 0);
  return (performance.now() - t0) * 1e6;
}

function held_push(lock: number, cls: number): void {
  const pc = current.pcpu;
  const n = i32[pc + PERCPU.nheld];
  if (n < HELD_MAX) {
    i32[pc + PERCPU.held + n] = lock;
    i32[pc + PERCPU.held_cls + n] = cls;
    f64[current.heldtime_f64 + HELDTIME.t + n] = --hold_gap === 0 ? hold_sample_begin() : 0;
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
  if (top >= 0 && i32[pc + PERCPU.held + top] === lock) held_drop(lock, pc, top, top);
  else lock_released_below(lock, pc, top);
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
  const t = f64[current.heldtime_f64 + HELDTIME.t + k];
  if (t !== 0) hold_sample(hc, t);
  for (let j = k; j < top; j++) {
    i32[pc + PERCPU.held + j] = i32[pc + PERCPU.held + j + 1];
    i32[pc + PERCPU.held_cls + j] = i32[pc + PERCPU.held_cls + j + 1];
    f64[current.heldtime_f64 + HELDTIME.t + j] = f64[current.heldtime_f64 + HELDTIME.t + j + 1];
  }
  i32[pc + PERCPU.nheld] = top;
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
