// A measuring run's warm-up (bench): fresh workers spend their first few
// hundred ms compiling, so the figures should be of what follows. When the
// warm-up ends the executor bumps GLOBALS.stat_epoch; each CPU, at the end of
// its next operation, sees the new epoch and zeroes its own counters
// (lock_stat, contention points, latency buckets, per-CPU counts). Only the
// owning CPU ever writes them, so the reset races with nobody.
// The per-CPU op counts also stand in for a global op counter: a free run's
// ops budget is checked by summing them every few ops (ops_budget_spent).
import { CPUSTAT, GLOBALS, LAT_BUCKETS, LOCKSTAT, LOCKSTAT_NR_PATHS, LOCKSTAT_RW, NR_LAT_KINDS, PERCPU } from '../shm/layout.js';
import { BASES, f64, i32, sizes } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { lat_op_start } from '../cpu/latency.js';
import { NR_LOCK_CLASSES } from '../sync/lock_class.js';

/** the epoch this CPU's counters belong to */
let my_epoch = 0;
/** a free run's ops budget (0: none), how often this CPU checks it (ops_check_every), ops until its next check */
let budget = 0, check_every = 1, until_check = 1;

/** a worker starts a run: its counters belong to the run's first epoch; its budget checks start afresh */
export function stat_epoch_attach(): void {
  my_epoch = Atomics.load(i32, BASES.globals + GLOBALS.stat_epoch);
  budget = i32[BASES.globals + GLOBALS.ops_budget];
  check_every = until_check = ops_check_every(budget, sizes.nr_cpus);
}

/**
 * at the end of each operation (after this CPU counted it): is the free run's
 * ops budget spent? Every check_every ops this CPU sums the CPUs' counts;
 * there is no global op counter for every CPU to bump (issue 16 item 2)
 */
export function ops_budget_spent(): boolean {
  if (budget === 0 || --until_check !== 0) return false;
  const left = budget - ops_total(sizes.nr_cpus);
  if (left <= 0) return true;
  // look again sooner as the budget runs out: no later than when every CPU has done its share of what is
  // left, so the stop comes at the budget, late only by the ops under way (as with one global counter)
  until_check = Math.min(check_every, Math.max(1, Math.floor(left / sizes.nr_cpus)));
  return false;
}

/** at the end of each operation: start this CPU's counters afresh if the executor began a new epoch */
export function stat_epoch_check(): void {
  const e = Atomics.load(i32, BASES.globals + GLOBALS.stat_epoch);
  if (e === my_epoch) return;
  my_epoch = e;
  const cpu = current.cpu;
  f64.fill(0, current.lockstat_f64, current.lockstat_f64 + NR_LOCK_CLASSES * LOCKSTAT_RW * LOCKSTAT.stride);
  for (const region of [BASES.lockstat_points, BASES.lockstat_contending]) {
    const pts = region + cpu * NR_LOCK_CLASSES * LOCKSTAT_NR_PATHS;
    i32.fill(0, pts, pts + NR_LOCK_CLASSES * LOCKSTAT_NR_PATHS);
  }
  const lat = BASES.lat + cpu * NR_LAT_KINDS * LAT_BUCKETS;
  i32.fill(0, lat, lat + NR_LAT_KINDS * LAT_BUCKETS);
  i32.fill(0, current.stat, current.stat + CPUSTAT.stride);
  i32[current.pcpu + PERCPU.ops] = 0;
  lat_op_start();
}

/** the executor ends the warm-up: returns the ops the CPUs completed until then (the sum of their counts) */
export function stat_epoch_begin(): number {
  const ops = ops_total(sizes.nr_cpus);
  Atomics.add(i32, BASES.globals + GLOBALS.stat_epoch, 1);
  return ops;
}

/** at most this many ops between two budget checks of a CPU */
export const OPS_CHECK_MAX = 32;

/**
 * how often (in its own ops) a CPU checks an ops budget: every op for a small
 * budget, at most every OPS_CHECK_MAX ops, and at most every budget / (64 * nr_cpus).
 * Near the end a CPU checks sooner (ops_budget_spent: after its share of
 * what is left), so the run stops at the budget, late only by the ops under
 * way when the stop is seen (as with one global counter). A controlled run has no budget (GLOBALS.ops_budget 0): each
 * CPU stops at its own quota (SCHED.ops_quota), exactly.
 */
export function ops_check_every(budget: number, nr_cpus: number): number {
  return Math.max(1, Math.min(OPS_CHECK_MAX, Math.floor(budget / (64 * nr_cpus))));
}

/**
 * operations completed by all CPUs: the sum of their PERCPU.progress words,
 * each bumped (Atomics) once per op by its own CPU. In a run with a budget
 * progress equals PERCPU.ops (no warm-up zeroes ops there); a CPU reads the
 * others' lines only at a check, so disjoint CPUs share no line per op.
 */
export function ops_total(nr_cpus: number): number {
  let t = 0;
  for (let c = 0; c < nr_cpus; c++) t += Atomics.load(i32, BASES.percpu + c * PERCPU.stride + PERCPU.progress);
  return t;
}
