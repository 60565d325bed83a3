// lockdep: the lock-order graph by lock class, learnt from every acquisition
// of every CPU. Taking class `to` while holding class `from` records the
// dependency from -> to; so does waiting for a page lock without taking it
// (wait_on_page_locked: a fault that waits under mmap_sem depends on the page
// lock as surely as lock_page does). A new dependency that closes a cycle is
// the kernel's "possible circular locking dependency": reported once, the run
// goes on (the kernel turns the validator off after its first report).
//
// Cost: the hot check is one plain read of the dependency matrix per held
// lock. Learning a dependency (at most NR_LOCK_CLASSES^2 times in a run)
// captures a raw call trace and searches the graph; it may allocate.
// As in lockdep, a trylock adds no dependency (it cannot wait), but the lock
// it took is a `from` for later acquisitions. Nesting within one class (two
// PTLs in copy_pte_range, old and new page in migration) is not checked: the
// kernel annotates those with *_nested subclasses.
import { GLOBALS, HELD_CLS_MASK, HELD_MAX, LD_LOCK, LD_WAIT, LOCKDEP_EDGE, LOCKDEP_REPORT, LOCKDEP_STACK_BYTES, MAX_CPUS, PERCPU, PG_locked } from '../shm/layout.js';
import { BASES, Bases, i32, percpu_base, sizes, u8 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { raw_call_trace } from '../check/stack.js';
import { LC_PAGE_LOCK, lock_class_name, NR_LOCK_CLASSES } from './lock_class.js';
import { page_lock_owner } from './page_lock.js';

const NR = NR_LOCK_CLASSES;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** frames of the lock primitives themselves say nothing about who took the lock */
const SYNC_FRAMES = /\/sync\/(lockdep|lock_stat|spinlock|rwlock|page_lock|rwsem|preempt)\.[tj]s$/;

export const dep_index = (from: number, to: number) => from * NR + to;
export const edge_base = (from: number, to: number, b: Readonly<Bases> = BASES) => b.lockdep_edges + dep_index(from, to) * LOCKDEP_EDGE.stride;

/** this CPU is about to take (LD_LOCK) or wait for (LD_WAIT) `lock` of class `cls` (`read`: for read, an rwsem or rwlock) */
export function lockdep_acquire(lock: number, cls: number, kind: number, read = false): void {
  const pc = current.pcpu;
  const n = i32[pc + PERCPU.nheld];
  if (n === 0 || i32[BASES.globals + GLOBALS.lockdep_off] !== 0) return; // nothing held: no dependency (a per-CPU word read first)
  let same = false;
  for (let k = 0; k < n; k++) {
    const from = i32[pc + PERCPU.held_cls + k] & HELD_CLS_MASK;
    if (from === cls) same = true;
    else if (i32[BASES.lockdep_dep + from * NR + cls] === 0) lockdep_new_dep(from, cls, lock, kind, read);
  }
  // seed 002: a second page lock waited for while holding one (nesting within the class, which the
  // class graph takes as annotated): an instance cycle through the CPUs' page-lock waits is a deadlock
  if (same && cls === LC_PAGE_LOCK) page_lock_wait(lock, kind, read);
}

/** seed 002: a page lock waited for while holding one: report the cycle if the wait closes one (out of lockdep_acquire's inlined path) */
function page_lock_wait(lock: number, kind: number, read: boolean): void {
  if (page_lock_cycle(lock)) report_cycle(LC_PAGE_LOCK, LC_PAGE_LOCK, lock, kind, read, [LC_PAGE_LOCK], raw_call_trace(SYNC_FRAMES, 8));
}

/**
 * seed 002: does waiting for page lock `lock` close a cycle of page-lock
 * waits? Its holder waits for a page lock whose holder ... waits for one
 * this CPU holds. Followed through PG_locked's owner_cpu, at most one step
 * per CPU; a racy read (the others are parked, or about to be).
 */
function page_lock_cycle(lock: number): boolean {
  const pc = current.pcpu;
  const n = Math.min(i32[pc + PERCPU.nheld], HELD_MAX);
  let want = lock;
  for (let step = 0; step < sizes.nr_cpus; step++) {
    const owner = page_lock_owner(want); // cpu + 1 of the page lock's holder
    if (owner === 0 || owner === current.tag) return false;
    chain_lock[step] = want; chain_owner[step] = owner;
    const opc = percpu_base(owner - 1);
    want = Atomics.load(i32, opc + PERCPU.await_lock);
    if (want === 0 || (Atomics.load(i32, opc + PERCPU.await_cls) & HELD_CLS_MASK) !== LC_PAGE_LOCK) return false;
    for (let k = 0; k < n; k++) if (i32[pc + PERCPU.held + k] === want) return chain_still_holds(step + 1, want);
  }
  return false;
}

/** the cycle page_lock_cycle read, one link per CPU: the lock waited for and its holder (cpu + 1) */
const chain_lock = new Int32Array(MAX_CPUS), chain_owner = new Int32Array(MAX_CPUS);

/**
 * Read the cycle again: each link's lock still locked by the same holder,
 * which still waits for the next. The first reads were made one after the
 * other while the CPUs ran, so they may join two moments: a holder read
 * before it unlocked and its wait read after it began waiting for another
 * lock (lock-two-pages, fixed: CPU 1 unlocks in another order than it
 * locked, and a false cycle was reported). In a real deadlock every CPU of
 * the cycle is parked: the second reading sees the same.
 */
function chain_still_holds(len: number, last: number): boolean {
  for (let k = 0; k < len; k++) {
    const lk = chain_lock[k], owner = chain_owner[k];
    if ((Atomics.load(i32, lk) & PG_locked) === 0 || page_lock_owner(lk) !== owner) return false;
    const next = k + 1 < len ? chain_lock[k + 1] : last;
    if (Atomics.load(i32, percpu_base(owner - 1) + PERCPU.await_lock) !== next) return false;
  }
  return true;
}

/** a CPU holds more locks than the held stack records: lockdep turns itself off (as the kernel's does) */
export function lockdep_depth_overflow(): void {
  if (Atomics.compareExchange(i32, BASES.globals + GLOBALS.lockdep_off, 0, current.cpu + 1) === 0) {
    i32[BASES.globals + GLOBALS.lockdep_off_path] = i32[current.pcpu + PERCPU.path];
  }
}

/** boot: dependencies learnt now are setup's (the boot CPU runs it as CPU 0) */
let booting = false;
export function lockdep_booting(on: boolean): void {
  booting = on;
}

function put_text(base: number, lenField: number, text: string): void {
  const bytes = encoder.encode(text).subarray(0, LOCKDEP_STACK_BYTES);
  u8.set(bytes, base * 4);
  i32[lenField] = bytes.length;
}

export function get_text(base: number, len: number, bytes: Uint8Array<ArrayBufferLike> = u8): string {
  return decoder.decode(bytes.slice(base * 4, base * 4 + len));
}

/** first sight of from -> to: remember where, then look for a way back from `to` to `from` */
function lockdep_new_dep(from: number, to: number, lock: number, kind: number, read: boolean): void {
  if (Atomics.compareExchange(i32, BASES.lockdep_dep + dep_index(from, to), 0, kind) !== 0) return;
  const trace = raw_call_trace(SYNC_FRAMES, 8); // symbolized by the report (src/check/stack.ts)
  const e = edge_base(from, to);
  i32[e + LOCKDEP_EDGE.cpu] = booting ? -1 : current.cpu;
  i32[e + LOCKDEP_EDGE.path] = i32[current.pcpu + PERCPU.path];
  i32[e + LOCKDEP_EDGE.seq] = Atomics.load(i32, BASES.seq);
  put_text(e + LOCKDEP_EDGE.text, e + LOCKDEP_EDGE.text_len, trace);
  Atomics.store(i32, e + LOCKDEP_EDGE.state, 2);
  const chain = dep_path(to, from);
  if (chain) report_cycle(from, to, lock, kind, read, chain, trace);
}

/** classes along recorded dependencies from `src` to `dst` (both included), or null */
export function dep_path(src: number, dst: number): number[] | null {
  const prev = new Array<number>(NR).fill(-1);
  const queue = [src];
  prev[src] = src;
  while (queue.length) {
    const c = queue.shift()!;
    if (c === dst) {
      const path = [c];
      for (let x = c; x !== src; x = prev[x]) path.unshift(prev[x]);
      return path;
    }
    for (let nx = 0; nx < NR; nx++) {
      if (prev[nx] === -1 && Atomics.load(i32, BASES.lockdep_dep + dep_index(c, nx)) !== 0) { prev[nx] = c; queue.push(nx); }
    }
  }
  return null;
}

function report_cycle(from: number, to: number, lock: number, kind: number, read: boolean, chain: number[], trace: string): void {
  const r = BASES.lockdep_report;
  if (Atomics.compareExchange(i32, r + LOCKDEP_REPORT.state, 0, 1) !== 0) return;
  const pc = current.pcpu;
  i32[r + LOCKDEP_REPORT.cpu] = booting ? -1 : current.cpu;
  i32[r + LOCKDEP_REPORT.path] = i32[pc + PERCPU.path];
  i32[r + LOCKDEP_REPORT.seq] = Atomics.load(i32, BASES.seq);
  i32[r + LOCKDEP_REPORT.kind] = kind;
  i32[r + LOCKDEP_REPORT.from] = from;
  i32[r + LOCKDEP_REPORT.to] = to;
  i32[r + LOCKDEP_REPORT.to_lock] = lock;
  i32[r + LOCKDEP_REPORT.to_read] = read ? 1 : 0;
  const n = i32[pc + PERCPU.nheld];
  i32[r + LOCKDEP_REPORT.nheld] = n;
  for (let k = 0; k < n; k++) {
    i32[r + LOCKDEP_REPORT.held + k] = i32[pc + PERCPU.held + k];
    i32[r + LOCKDEP_REPORT.held_cls + k] = i32[pc + PERCPU.held_cls + k];
  }
  const len = Math.min(chain.length, 32);
  i32[r + LOCKDEP_REPORT.chain_len] = len;
  for (let k = 0; k < len; k++) i32[r + LOCKDEP_REPORT.chain + k] = chain[k];
  put_text(r + LOCKDEP_REPORT.text, r + LOCKDEP_REPORT.text_len, trace);
  Atomics.store(i32, r + LOCKDEP_REPORT.state, 2);
}

/** the reported cycle as class names ("A -> B -> A"), or null */
export function lockdep_cycle(): string | null {
  const r = BASES.lockdep_report;
  if (Atomics.load(i32, r + LOCKDEP_REPORT.state) !== 2) return null;
  const names: string[] = [];
  for (let k = 0; k < i32[r + LOCKDEP_REPORT.chain_len]; k++) names.push(lock_class_name(i32[r + LOCKDEP_REPORT.chain + k]));
  return [...names, lock_class_name(i32[r + LOCKDEP_REPORT.to])].join(' -> ');
}

/** lockdep reported a cycle in this run */
export function lockdep_found(): boolean {
  return Atomics.load(i32, BASES.lockdep_report + LOCKDEP_REPORT.state) === 2;
}

export { LD_LOCK, LD_WAIT };
