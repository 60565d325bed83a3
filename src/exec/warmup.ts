// A measuring run's warm-up: counters as they stood when the warm-up ended,
// subtracted once the CPUs have stopped, so the figures are of the steady
// state (fresh workers spend their first few hundred ms compiling). The
// snapshot is read while CPUs run: each counter is written by its own CPU
// only, so a read sees some recent value of it, which is all a rate needs.
// Minima and maxima cannot be subtracted: they cover the whole run.
import { CPUSTAT, LAT_BUCKETS, LOCKSTAT, LOCKSTAT_NR_PATHS, NR_LAT_KINDS, PERCPU } from '../shm/layout.js';
import { B, f64, i32, percpu_base, sizes } from '../shm/machine.js';
import { NR_LOCK_CLASSES } from '../sync/lock_class.js';

const SUMS: readonly number[] = [LOCKSTAT.contentions, LOCKSTAT.con_bounces, LOCKSTAT.wait_total, LOCKSTAT.acquisitions,
  LOCKSTAT.acq_bounces, LOCKSTAT.hold_total, LOCKSTAT.hold_samples];

export interface Warm { ops: number; lockstat: Float64Array; lat: Int32Array; points: Int32Array; cpustat: Int32Array; cpu_ops: number[] }

export function warm_snapshot(): Warm {
  const n = sizes.nr_cpus;
  return {
    ops: Atomics.load(i32, B.ops),
    lockstat: f64.slice(B.lockstat_f64, B.lockstat_f64 + n * NR_LOCK_CLASSES * LOCKSTAT.stride),
    lat: i32.slice(B.lat, B.lat + n * NR_LAT_KINDS * LAT_BUCKETS),
    points: i32.slice(B.lockstat_points, B.lockstat_points + n * NR_LOCK_CLASSES * LOCKSTAT_NR_PATHS),
    cpustat: i32.slice(B.cpustat, B.cpustat + n * CPUSTAT.stride),
    cpu_ops: Array.from({ length: n }, (_, c) => i32[percpu_base(c) + PERCPU.ops]),
  };
}

/** take the warm-up's share out of every summed counter (after the CPUs stopped); returns the ops measured */
export function subtract_warmup(w: Warm): number {
  for (let k = 0; k < w.lockstat.length; k += LOCKSTAT.stride) for (const f of SUMS) f64[B.lockstat_f64 + k + f] -= w.lockstat[k + f];
  for (let k = 0; k < w.lat.length; k++) i32[B.lat + k] -= w.lat[k];
  for (let k = 0; k < w.points.length; k++) i32[B.lockstat_points + k] -= w.points[k];
  for (let k = 0; k < w.cpustat.length; k++) i32[B.cpustat + k] -= w.cpustat[k];
  w.cpu_ops.forEach((v, c) => { i32[percpu_base(c) + PERCPU.ops] -= v; });
  return Atomics.load(i32, B.ops) - w.ops;
}
