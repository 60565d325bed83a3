// Per-CPU latency histograms in shared memory: log-linear buckets (HDR
// style), merged across CPUs into hdr-histogram-js by src/report/latency.ts.
// A clock read costs about 50 ns, a tenth of a page fault and a sixth of the
// cheapest operation, so both are sampled at random: one operation in
// OP_SAMPLE_EVERY (timed from the end of the previous one) and one fault in
// FAULT_SAMPLE_EVERY. Uniform sampling leaves percentiles unbiased. Recording
// allocates nothing.
import { LAT_BUCKETS, LAT_KIND_FAULT, LAT_SUB, LAT_SUB_BITS, NR_LAT_KINDS, PERCPU } from '../shm/layout.js';
import { BASES, i32 } from '../shm/machine.js';
import { current, sample_draw } from './current.js';

export const OP_SAMPLE_EVERY = 4;
export const FAULT_SAMPLE_EVERY = 8;

/** bucket of a value in ns */
export function lat_bucket(ns: number): number {
  if (!(ns > 0)) return 0;
  if (ns >= 0x7fffffff) return LAT_BUCKETS - 1;
  const v = ns >>> 0;
  if (v < LAT_SUB) return v;
  const e = 31 - Math.clz32(v);
  return (e - LAT_SUB_BITS + 1) * LAT_SUB + ((v >>> (e - LAT_SUB_BITS)) & (LAT_SUB - 1));
}

/** the smallest value (ns) that lands in bucket i, and the bucket's width */
export function lat_bucket_low(i: number): number {
  if (i < LAT_SUB) return i;
  const e = Math.floor(i / LAT_SUB) + LAT_SUB_BITS - 1;
  return (LAT_SUB + (i & (LAT_SUB - 1))) * 2 ** (e - LAT_SUB_BITS);
}
export function lat_bucket_width(i: number): number {
  return i < LAT_SUB ? 1 : 2 ** (Math.floor(i / LAT_SUB) - 1);
}

function lat_record(kind: number, ns: number): void {
  const b = BASES.lat + (current.cpu * NR_LAT_KINDS + kind) * LAT_BUCKETS + lat_bucket(ns);
  i32[b] += 1;
}

/** start (ms) of this CPU's operation under way if it is sampled, else 0 */
let op_t = 0;

/** the next operation starts now: sample it (one in OP_SAMPLE_EVERY)? */
function op_sample(now: number): void {
  op_t = (sample_draw() & (OP_SAMPLE_EVERY - 1)) === 0 ? (now || performance.now()) : 0;
}

/** the CPU starts its first operation now */
export function lat_op_start(): void {
  op_sample(0);
}

/** an operation ended: if it was sampled, record its time under the path it started with */
export function lat_op_done(): void {
  const pc = current.pcpu;
  let t = 0;
  if (op_t !== 0) {
    t = performance.now();
    const path = i32[pc + PERCPU.op_path];
    lat_record(path, (t - op_t) * 1e6); // a path id (set_path checks it): below LAT_KIND_FAULT (events.ts checks at load)
  }
  i32[pc + PERCPU.op_path] = 0;
  op_sample(t);
}

/** 0 if this fault is not sampled, else its start time (ms) */
export function lat_fault_begin(): number {
  return (sample_draw() & (FAULT_SAMPLE_EVERY - 1)) === 0 ? performance.now() : 0;
}

export function lat_fault_end(t0: number): void {
  if (t0 !== 0) lat_record(LAT_KIND_FAULT, (performance.now() - t0) * 1e6);
}
