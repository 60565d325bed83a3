// A measuring run's warm-up (bench): fresh workers spend their first few
// hundred ms compiling, so the figures should be of what follows. When the
// warm-up ends the executor bumps GLOBALS.stat_epoch; each CPU, at the end of
// its next operation, sees the new epoch and zeroes its own counters
// (lock_stat, contention points, latency buckets, per-CPU counts). Only the
// owning CPU ever writes them, so the reset races with nobody.
import { CPUSTAT, GLOBALS, LAT_BUCKETS, LOCKSTAT, LOCKSTAT_NR_PATHS, LOCKSTAT_RW, NR_LAT_KINDS, PERCPU } from '../shm/layout.js';
import { BASES, f64, i32 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { lat_op_start } from '../cpu/latency.js';
import { NR_LOCK_CLASSES } from '../sync/lock_class.js';

/** the epoch this CPU's counters belong to */
let my_epoch = 0;

/** a worker starts a run: its counters belong to the run's first epoch */
export function stat_epoch_attach(): void {
  my_epoch = Atomics.load(i32, BASES.globals + GLOBALS.stat_epoch);
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

/** the executor ends the warm-up: returns the global op count at that moment */
export function stat_epoch_begin(): number {
  const ops = Atomics.load(i32, BASES.ops);
  Atomics.add(i32, BASES.globals + GLOBALS.stat_epoch, 1);
  return ops;
}
