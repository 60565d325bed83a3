// The raw harness of `mmrace bench scale` (issue 16 item 4): the scale
// scenario's shape of work done in plain JavaScript on real worker threads,
// with none of the model (no lock bookkeeping, no events, no checks, no
// shared counters), to measure what 2 workers doing disjoint work can get
// on this machine at all: the ceiling for the scenario's own 2-CPU ratio,
// measured in the same run. Each worker owns its words of one
// SharedArrayBuffer, on cache lines of its own; they share nothing but a
// start word and a stop word that only the main thread writes.
//
// Per operation, as scale's cycle (src/scenarios/scale.ts): a fork (copy 16
// ptes under a lock, take a reference on each page, the child reads every
// page, COW-copies every fourth, exits and drops everything), a program (16
// anonymous faults: a page from the free list, zeroed, its pte set under the
// lock; then dropped), a migration of 2 pages (pte cleared, 8 words copied
// to a new page, pte set, old page freed). Every step that the model does
// with an Atomics operation on a racing word is an Atomics operation here.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const PAGES = 16, FRESH = 16, WORDS = 8, POOL = 128;
/** words of one worker's area: lock, stop/ops line, ptes (parent, child, fresh), refcounts, free stack, page contents */
const LOCK = 0, PTE = 16, CPTE = PTE + PAGES, FPTE = CPTE + PAGES, REF = FPTE + FRESH, FREE_TOP = REF + POOL, FREE = FREE_TOP + 16;
const PHYS = FREE + POOL, AREA = PHYS + POOL * WORDS + 64;
/** control words (their own line): 0 start, 1 stop */
const CTL = 32;

interface RawTask { sab: SharedArrayBuffer; worker: number }

function lock(a: Int32Array, w: number): void { while (Atomics.compareExchange(a, w, 0, 1) !== 0); }
function unlock(a: Int32Array, w: number): void { Atomics.store(a, w, 0); }

/** one worker: rounds of its operations, each from the start word's round to the stop word's; ops/s of each round posted */
function raw_worker(t: RawTask): void {
  const a = new Int32Array(t.sab);
  const b = CTL + t.worker * AREA;
  const alloc = (): number => { const n = a[b + FREE_TOP]; a[b + FREE_TOP] = n - 1; return a[b + FREE + n - 1]; };
  const free = (pg: number): void => { const n = a[b + FREE_TOP]; a[b + FREE + n] = pg; a[b + FREE_TOP] = n + 1; };
  const put = (pg: number): void => { if (Atomics.sub(a, b + REF + pg, 1) === 1) { lock(a, b + LOCK); free(pg); unlock(a, b + LOCK); } };
  const fault_in = (slot: number): number => {
    lock(a, b + LOCK);
    const pg = alloc();
    unlock(a, b + LOCK);
    for (let w = 0; w < WORDS; w++) Atomics.store(a, b + PHYS + pg * WORDS + w, 0);
    Atomics.store(a, b + REF + pg, 1);
    lock(a, b + LOCK);
    Atomics.store(a, b + slot, pg + 1);
    unlock(a, b + LOCK);
    return pg;
  };
  /** a new page with old's words, its pte set in slot (a COW's or a migration's copy), old's reference dropped */
  const copy_to_new = (old: number, slot: number): number => {
    lock(a, b + LOCK);
    const pg = alloc();
    unlock(a, b + LOCK);
    for (let w = 0; w < WORDS; w++) Atomics.store(a, b + PHYS + pg * WORDS + w, Atomics.load(a, b + PHYS + old * WORDS + w));
    Atomics.store(a, b + REF + pg, 1);
    lock(a, b + LOCK);
    Atomics.store(a, b + slot, pg + 1);
    unlock(a, b + LOCK);
    put(old);
    return pg;
  };
  for (let k = 0; k < POOL; k++) { a[b + FREE + k] = k; }
  a[b + FREE_TOP] = POOL;
  for (let p = 0; p < PAGES; p++) fault_in(PTE + p);
  let sink = 0, k = t.worker;
  for (let round = 1; ; round++) {
    while (Atomics.load(a, 0) < round) if (Atomics.load(a, 0) < 0) return;
    const t0 = performance.now();
    let ops = 0;
    for (; Atomics.load(a, 1) < round; k++, ops++) {
      const op = k % 3;
      if (op === 0) { // fork: copy the ptes, a reference per page; the child reads all, COWs every fourth; exit
        for (let p = 0; p < PAGES; p++) {
          lock(a, b + LOCK);
          const e = Atomics.load(a, b + PTE + p);
          Atomics.add(a, b + REF + e - 1, 1);
          Atomics.store(a, b + CPTE + p, e);
          unlock(a, b + LOCK);
        }
        for (let p = 0; p < PAGES; p++) sink += Atomics.load(a, b + PHYS + (Atomics.load(a, b + CPTE + p) - 1) * WORDS + (p & 7));
        for (let p = 0; p < PAGES; p += 4) {
          const pg = copy_to_new(Atomics.load(a, b + CPTE + p) - 1, CPTE + p);
          Atomics.store(a, b + PHYS + pg * WORDS, p);
        }
        for (let p = 0; p < PAGES; p++) {
          lock(a, b + LOCK);
          const e = Atomics.exchange(a, b + CPTE + p, 0);
          unlock(a, b + LOCK);
          put(e - 1);
        }
      } else if (op === 1) { // program: anonymous faults on the second range, stores, then dropped
        for (let p = 0; p < FRESH; p++) {
          const pg = fault_in(FPTE + p);
          Atomics.store(a, b + PHYS + pg * WORDS + (p & 7), p + 1);
        }
        for (let p = 0; p < FRESH; p++) {
          lock(a, b + LOCK);
          const e = Atomics.exchange(a, b + FPTE + p, 0);
          unlock(a, b + LOCK);
          put(e - 1);
        }
        for (let p = 0; p < PAGES; p += 2) Atomics.store(a, b + PHYS + (Atomics.load(a, b + PTE + p) - 1) * WORDS + ((p >> 1) & 7), k);
      } else { // migrate two pages
        for (let j = 0; j < 2; j++) {
          const p = (k * 5 + j) % PAGES;
          lock(a, b + LOCK);
          const old = Atomics.exchange(a, b + PTE + p, 0) - 1; // the pte cleared while the page is copied
          unlock(a, b + LOCK);
          copy_to_new(old, PTE + p);
        }
      }
    }
    parentPort!.postMessage((ops + (sink & 0)) / ((performance.now() - t0) / 1000));
  }
}

if (!isMainThread && (workerData as { mmrace_raw?: RawTask } | null)?.mmrace_raw) {
  raw_worker((workerData as { mmrace_raw: RawTask }).mmrace_raw);
}

export interface RawPoint { workers: number; ops_per_s: number; ops_per_cpu_s: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * the raw harness on `workers` threads: a round of warmup_ms (compiles the
 * loop), then one of about duration_ms measured; operations per second of
 * all workers together, each timing its own round
 */
export async function raw_point(workers: number, duration_ms: number, warmup_ms: number): Promise<RawPoint> {
  const sab = new SharedArrayBuffer((CTL + workers * AREA) * 4);
  const a = new Int32Array(sab);
  const ws = Array.from({ length: workers }, (_, worker) => new Worker(new URL(import.meta.url), { workerData: { mmrace_raw: { sab, worker } } }));
  const queues = ws.map(() => [] as number[]);
  const failed: Error[] = [];
  ws.forEach((w, i) => { w.on('message', (v: number) => queues[i].push(v)); w.on('error', (e: Error) => failed.push(e)); });
  let cpu = 0;
  const round = async (r: number, ms: number): Promise<number> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    Atomics.store(a, 0, r);
    await sleep(ms);
    Atomics.store(a, 1, r);
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    while (!failed.length && queues.some((q) => q.length < r)) await sleep(2);
    if (failed.length) throw failed[0];
    const ops_per_s = queues.reduce((x, q) => x + q[r - 1], 0);
    cpu = (c.user + c.system) / 1e6 / wall; // CPUs' worth busy: ops/s over it is ops per CPU second
    return ops_per_s;
  };
  try {
    await round(1, warmup_ms);
    const ops_per_s = await round(2, duration_ms);
    return { workers, ops_per_s, ops_per_cpu_s: cpu > 0 ? ops_per_s / cpu : 0 };
  } finally {
    Atomics.store(a, 0, -1);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
