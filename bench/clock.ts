// Issue 16 item 2: what the global counters cost disjoint work. Each thread
// runs the same loop on its own data (a fixed amount of local work, then
// three kernel events through trace_event and the end of an operation) in
// one of three ways, with 1 and then 2 threads, in the same run, rounds
// interleaved so that a busy machine loads every variant alike:
//   raw      the local work only (the ceiling for 2 threads)
//   before   events numbered by Atomics.add on BASES.seq, ops by Atomics.add on one global word (main before item 2)
//   step1    events numbered by BASES.seq, ops counted per CPU and summed every 32 ops (now)
// (branch clock-lamport adds a fourth: events stamped with per-CPU Lamport clocks)
// On a loaded machine wall-clock rates say little (the threads do not run
// together), so each thread also measures its own time on a CPU
// (/proc/thread-self/schedstat): a line bounced between cores stalls the
// thread on its CPU, which that time counts. Prints per variant: ops per
// CPU-second with 1 and 2 threads, the 2-thread efficiency (their ratio:
// 1.0 is perfect scaling, 2 threads = 2x), how long the two threads were
// surely on CPUs at once, and the cost of an event on one thread.
// Last, one thread's cost of trace_event free-running and under the controlled executor.
// Run: node dist/bench/clock.js (CLOCK_BENCH_MS, CLOCK_BENCH_ROUNDS, CLOCK_BENCH_LOCAL)
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { DEFAULT_SIZES, PERCPU } from '../src/shm/layout.js';
import { BASES, attachMachine, createMachineBuffer, i32 } from '../src/shm/machine.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { EV_FAULT, events_attach, trace_event } from '../src/cpu/events.js';
import { set_preempt_hooks } from '../src/sync/preempt.js';

const VARIANTS = ['raw', 'before', 'step1'] as const;
type Variant = typeof VARIANTS[number];
const LOCAL = Number(process.env.CLOCK_BENCH_LOCAL ?? 400); // local work per op: LOCAL steps of an xorshift over the thread's own array (400: about 1 us, a fault's order)
const MS = Number(process.env.CLOCK_BENCH_MS ?? 300); // each measurement
const ROUNDS = Number(process.env.CLOCK_BENCH_ROUNDS ?? 5);
/** the old global op counter: a word on a line of its own, shared by the threads */
const OPS_WORD = 16;

interface Job { sab: SharedArrayBuffer; opsSab: SharedArrayBuffer; cpu: number; variant: Variant; ms: number }

/** this thread's time on a CPU so far, ns (Linux) */
const cpu_ns = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);

interface Rate { ops: number; cpu_ns: number; wall_ms: number }

function worker(j: Job): Rate {
  attachMachine(j.sab);
  set_current_cpu(j.cpu, 1);
  events_attach();
  const pc = BASES.percpu + j.cpu * PERCPU.stride;
  const global_ops = new Int32Array(j.opsSab);
  const own = new Int32Array(1024);
  let x = j.cpu + 1, ops = 0, until = 32;
  const v = j.variant;
  const t0 = performance.now(), c0 = cpu_ns();
  while (performance.now() - t0 < j.ms) {
    for (let b = 0; b < 256; b++) {
      for (let k = 0; k < LOCAL; k++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; own[x & 1023] += 1; }
      if (v !== 'raw') {
        trace_event(EV_FAULT, j.cpu, x, 0); trace_event(EV_FAULT, j.cpu, x, 1); trace_event(EV_FAULT, j.cpu, x, 2);
        i32[pc + PERCPU.ops] += 1;
        Atomics.add(i32, pc + PERCPU.progress, 1);
        if (v === 'before') Atomics.add(global_ops, OPS_WORD, 1);
        else if (--until === 0) { until = 32; let t = 0; for (let c = 0; c < 2; c++) t += Atomics.load(i32, BASES.percpu + c * PERCPU.stride + PERCPU.progress); if (t < 0) ops--; }
      }
      ops++;
    }
  }
  return { ops, cpu_ns: cpu_ns() - c0, wall_ms: performance.now() - t0 };
}

/** ops per CPU-second of the threads, and the ms they surely overlapped (their CPU time beyond the wall time) */
async function measure(variant: Variant, threads: number): Promise<{ rate: number; overlap_ms: number }> {
  const sab = createMachineBuffer({ ...DEFAULT_SIZES, nr_cpus: 2 }), opsSab = new SharedArrayBuffer(192);
  attachMachine(sab);
  const rates = await Promise.all(Array.from({ length: threads }, (_, cpu) => new Promise<Rate>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { sab, opsSab, cpu, variant, ms: MS } satisfies Job });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const ops = rates.reduce((a, r) => a + r.ops, 0), ns = rates.reduce((a, r) => a + r.cpu_ns, 0);
  return { rate: ops / (ns / 1e9), overlap_ms: Math.max(0, ns / 1e6 - Math.max(...rates.map((r) => r.wall_ms))) };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function main(): Promise<void> {
  const r: Record<string, number[]> = {}, overlap: Record<string, number[]> = {};
  const load0 = loadavg()[0];
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of VARIANTS) {
      for (const n of [1, 2]) {
        const m = await measure(v, n);
        (r[`${v}/${n}`] ??= []).push(m.rate);
        if (n === 2) (overlap[v] ??= []).push(m.overlap_ms);
      }
    }
  }
  console.log(`disjoint work (${LOCAL} local steps per op, 3 events), ${ROUNDS} rounds of ${MS} ms each, medians; ` +
    `load average ${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`);
  const raw1 = median(r['raw/1']);
  for (const v of VARIANTS) {
    const one = median(r[`${v}/1`]), two = median(r[`${v}/2`]);
    const eff = median(r[`${v}/1`].map((o, i) => r[`${v}/2`][i] / o));
    const ev = v === 'raw' ? '' : `; ${(((1e9 / one) - (1e9 / raw1)) / 3).toFixed(1)} ns per event on 1 thread (with its share of the op's counting)`;
    console.log(`  ${v.padEnd(8)} ${(one / 1e6).toFixed(2)} M ops per CPU-second on 1 thread, ${(two / 1e6).toFixed(2)} on 2: ` +
      `efficiency ${eff.toFixed(2)} (same-round ratios), the 2 threads surely together ${median(overlap[v]).toFixed(0)} of ${MS} ms${ev}`);
  }
}

/** one thread: trace_event as a free-running CPU (Atomics.add on BASES.seq) and under the controlled executor (a plain increment) */
function event_cost(): void {
  attachMachine(createMachineBuffer({ ...DEFAULT_SIZES, nr_cpus: 2 }));
  set_current_cpu(0, 1);
  events_attach();
  const N = 1_000_000, ns: Record<string, number[]> = { free: [], controlled: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['free', 'controlled']) {
      set_preempt_hooks(null, null, { controlled: mode === 'controlled' });
      const t = performance.now();
      for (let k = 0; k < N; k++) trace_event(EV_FAULT, 1, k, 0);
      ns[mode].push((performance.now() - t) * 1e6 / N);
    }
  }
  set_preempt_hooks(null, null);
  console.log(`  trace_event on 1 thread: ${median(ns.free).toFixed(1)} ns free-running, ${median(ns.controlled).toFixed(1)} ns under the controlled executor ` +
    `(same-round ratio ${median(ns.free.map((f, i) => ns.controlled[i] / f)).toFixed(2)})`);
}

if (isMainThread) { await main(); event_cost(); }
else parentPort!.postMessage(worker(workerData as Job));
