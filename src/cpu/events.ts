// Per-CPU event rings (ftrace-like). Each event is stamped with a global
// sequence number so the rings of all CPUs merge into the exact order in
// which the events happened. Writing an event allocates nothing. With
// --trace (GLOBALS.trace) every event also gets a timestamp, and the
// trace-only events below (spans, lock waits and holds) are written too.
import { EVENT, GLOBALS, PERCPU } from '../shm/layout.js';
import { B, f64, i32 } from '../shm/machine.js';
import { current } from './current.js';

/** this CPU records timestamps and trace-only events (read once when the CPU attaches) */
export let tracing = false;
/** the path whose op span is open on this CPU (tracing only) */
let open_op = 0;

/** read the run's trace switch (each worker once, after attaching) */
export function events_attach(): void {
  tracing = i32[B.globals + GLOBALS.trace] !== 0;
  open_op = 0; // a pooled worker runs one CPU after another: nothing is open in a new run
}

/**
 * kernel paths traced as nested spans (a0 of EV_SPAN_BEGIN/END). They are
 * marked where they are entered (the MMU, the scenarios' CPU loops), not
 * inside the kernel functions, whose code stays as the kernel has it; the
 * other kernel steps are in the trace as the ring's instant events.
 */
export const SPAN_NAMES: readonly string[] = [
  'do_page_fault', 'dup_mmap', 'exit_mmap', 'migrate_pages', 'shrink_page_list', 'sys_mprotect', 'flush_tlb_page wait',
];
export const SP_FAULT = 0, SP_DUP_MMAP = 1, SP_EXIT_MMAP = 2, SP_MIGRATE = 3, SP_SHRINK = 4, SP_MPROTECT = 5, SP_FLUSH_WAIT = 6;

const hex = (n: number) => '0x' + (n >>> 0).toString(16);
const mmv = (mm: number, addr: number) => `mm#${mm} ${hex(addr)}`;

/** event codes and how to print them; index = code */
export const EVENTS: readonly { name: string; fmt: (a0: number, a1: number, a2: number, a3: number) => string; trace?: boolean }[] = [
  { name: 'none', fmt: () => '' },
  { name: 'handle_mm_fault', fmt: (mm, a, w) => `${mmv(mm, a)} ${w ? 'write' : 'read'}` },
  { name: 'do_anonymous_page', fmt: (mm, a, pfn) => `${mmv(mm, a)} new pfn ${pfn}` },
  { name: 'do_wp_page', fmt: (mm, a, old, nw) => nw ? `${mmv(mm, a)} COW pfn ${old} -> pfn ${nw}` : `${mmv(mm, a)} reuse pfn ${old}` },
  { name: 'migration_entry_wait', fmt: (mm, a, pfn) => `${mmv(mm, a)} waits on pfn ${pfn}` },
  { name: 'dup_mmap', fmt: (p, c) => `fork mm#${p} -> child mm#${c}` },
  { name: 'anon_vma_link', fmt: (av, vma, head, mm) => `anon_vma#${av} ${head ? 'list_add (HEAD)' : 'list_add_tail'} vma#${vma} of mm#${mm}` },
  { name: 'copy_pte_range', fmt: (dst, a, src) => `child mm#${dst} <- mm#${src} table at ${hex(a)}` },
  { name: 'copy_one_pte', fmt: (dst, a, pfn, w) => `${mmv(dst, a)} copied ${w ? 'write' : 'read'} migration entry -> pfn ${pfn}` },
  { name: 'dup_mmap done', fmt: (p, c) => `mm#${p} -> mm#${c}` },
  { name: 'exit_mmap', fmt: (mm) => `mm#${mm}` },
  { name: 'migrate_pages', fmt: (pfn) => `pfn ${pfn} isolated, locking` },
  { name: 'try_to_unmap_one', fmt: (mm, a, pfn, w) => `${mmv(mm, a)} pfn ${pfn} -> ${w === 3 ? 'pte dropped (file page)' : w === 2 ? 'swap entry' : w ? 'write migration entry' : 'read migration entry'}` },
  { name: 'move_to_new_page', fmt: (old, nw) => `pfn ${old} -> pfn ${nw} (count ok, copied)` },
  { name: 'unmap_and_move fail', fmt: (pfn, rc, mapped) => `pfn ${pfn} rc ${rc}${mapped ? ' (still mapped)' : ''}` },
  { name: 'remove_migration_pte', fmt: (mm, a, what, pfn) => `${mmv(mm, a)} ${['pte none/present: skip', 'restored -> pfn ' + pfn, 'not ours: skip', 'no page table: skip', 'outside vma'][what] ?? what}` },
  { name: 'unmap_and_move done', fmt: (old, nw) => `pfn ${old} unlocked; now pfn ${nw}` },
  { name: 'change_pte_range', fmt: (mm, a, e, prot) => `${mmv(mm, a)}..${hex(e)} prot ${hex(prot)}` },
  { name: 'zap_pte_range', fmt: (mm, a, pfn, kind) => `${mmv(mm, a)} ${kind === 1 ? 'dropped migration entry -> pfn ' + pfn : 'unmapped pfn ' + pfn}` },
  { name: 'BUG', fmt: (_site, pfn) => (pfn ? `pfn ${pfn}` : '') },
  { name: 'user access', fmt: (mm, a, w, v) => `${mmv(mm, a)} ${w ? 'store' : 'load'} ${hex(v)}` },
  { name: 'sys_mprotect', fmt: (mm, a, e, prot) => `${mmv(mm, a)}..${hex(e)} prot ${hex(prot)}` },
  { name: 'do_swap_page', fmt: (mm, a, pte) => `${mmv(mm, a)} pte ${hex(pte)}` },
  { name: 'shrink_page_list', fmt: (pfn) => `pfn ${pfn} swapped out and freed` },
  { name: 'sys_swapon', fmt: (type, rc) => `type ${type} -> ${rc}` },
  { name: 'sys_swapoff', fmt: (type, rc) => `type ${type} -> ${rc}` },
  { name: 'unuse_pte', fmt: (mm, a, pfn, e) => `${mmv(mm, a)} swap entry ${hex(e)} -> pfn ${pfn}` },
  { name: 'do_swap_page map', fmt: (mm, a, pfn, w) => `${mmv(mm, a)} pfn ${pfn} mapped ${w ? 'writable' : 'read-only'}` },
  // trace-only events (written when tracing; left out of the interleaving)
  { name: 'op begin', fmt: (path) => EVENTS[path]?.name ?? String(path), trace: true },
  { name: 'op end', fmt: (path) => EVENTS[path]?.name ?? String(path), trace: true },
  { name: 'span begin', fmt: (fn) => SPAN_NAMES[fn] ?? String(fn), trace: true },
  { name: 'span end', fmt: (fn) => SPAN_NAMES[fn] ?? String(fn), trace: true },
  { name: 'lock wait', fmt: (lock, cls) => `lock ${lock} class ${cls}`, trace: true },
  { name: 'lock waited', fmt: (lock, cls) => `lock ${lock} class ${cls}`, trace: true },
  { name: 'lock acquired', fmt: (lock, cls, contended) => `lock ${lock} class ${cls}${contended ? ' (contended)' : ''}`, trace: true },
  { name: 'lock released', fmt: (lock, cls) => `lock ${lock} class ${cls}`, trace: true },
];

export const EV_FAULT = 1, EV_ANON_PAGE = 2, EV_WP_PAGE = 3, EV_MIGRATION_WAIT = 4, EV_DUP_MMAP = 5,
  EV_ANON_VMA_LINK = 6, EV_COPY_PTE_RANGE = 7, EV_COPY_MIGRATION_ENTRY = 8, EV_DUP_MMAP_DONE = 9,
  EV_EXIT_MMAP = 10, EV_MIGRATE = 11, EV_UNMAP_ONE = 12, EV_MOVE_TO_NEW = 13, EV_MIGRATE_FAIL = 14,
  EV_REMOVE_PTE = 15, EV_MIGRATE_DONE = 16, EV_CHANGE_PTE_RANGE = 17, EV_ZAP = 18, EV_BUG = 19,
  EV_USER = 20, EV_MPROTECT = 21, EV_SWAP_PAGE = 22, EV_SHRINK = 23, EV_SWAPON = 24, EV_SWAPOFF = 25, EV_UNUSE_PTE = 26, EV_SWAPIN_MAP = 27,
  EV_OP_BEGIN = 28, EV_OP_END = 29, EV_SPAN_BEGIN = 30, EV_SPAN_END = 31, EV_LOCK_WAIT = 32, EV_LOCK_WAITED = 33,
  EV_LOCK_ACQ = 34, EV_LOCK_REL = 35;

// remove_migration_pte outcomes (a2 of EV_REMOVE_PTE)
export const RMP_SKIP = 0, RMP_RESTORED = 1, RMP_NOT_OURS = 2, RMP_NO_TABLE = 3, RMP_OUTSIDE = 4;

/** record an event in this CPU's ring */
export function trace_event(code: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): void {
  ring_write(B.events, B.events_ts_f64, B.ring, PERCPU.ring_head, Atomics.add(i32, B.seq, 1) + 1, code, a0, a1, a2, a3);
}

/**
 * record a trace-only event (tracing on) in the CPU's trace ring: it takes
 * the current sequence number without consuming one, and the kernel ring
 * keeps exactly what an untraced run keeps (a replay's splat stays word for word)
 */
export function trace_only(code: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): void {
  ring_write(B.tevents, B.tevents_ts_f64, B.tring, PERCPU.tring_head, Atomics.load(i32, B.seq), code, a0, a1, a2, a3);
}

function ring_write(base: number, ts: number, size: number, headField: number, seq: number, code: number, a0: number, a1: number, a2: number, a3: number): void {
  const pc = current.pcpu;
  const head = i32[pc + headField]; // wraps past 2^31: only its low bits pick the slot
  const slot = current.cpu * size + (head & (size - 1));
  const e = base + slot * EVENT.stride;
  i32[e + EVENT.code] = code;
  i32[e + EVENT.a0] = a0; i32[e + EVENT.a1] = a1; i32[e + EVENT.a2] = a2; i32[e + EVENT.a3] = a3;
  if (tracing) f64[ts + slot] = performance.now();
  i32[e + EVENT.seq] = seq; // rings are read at quiescence or after a halt
  i32[pc + headField] = head + 1;
}

/** tracing: the CPU's operation moves to path `code` (closes the previous path's span) */
export function trace_path(code: number): void {
  if (open_op !== 0) trace_only(EV_OP_END, open_op);
  trace_only(EV_OP_BEGIN, code);
  open_op = code;
}

/** tracing: the CPU's operation is over */
export function trace_op_end(): void {
  if (open_op !== 0) { trace_only(EV_OP_END, open_op); open_op = 0; }
}

/** slot of the k-th kernel event ever written by `cpu` (valid for the last B.ring of them) */
export function event_slot(cpu: number, k: number): number {
  return cpu * B.ring + (k & (B.ring - 1));
}

/** the ring indices still held: the last `size` of `head` written (head is an unsigned count) */
export function ring_window(headWord: number, size: number): [number, number] {
  const head = headWord >>> 0;
  return [head > size ? head - size : 0, head];
}

export interface TracedEvent {
  seq: number; cpu: number; code: number; name: string; text: string; args: number[];
  /** performance.now() ms when tracing, else 0 */
  ts: number;
}

/**
 * read every CPU's ring (after the run, or at a halt) merged by sequence
 * number; the trace-only events are left out unless `withTrace`
 */
export function collect_events(nr_cpus: number, last = Infinity, withTrace = false): TracedEvent[] {
  const out: TracedEvent[] = [];
  const read = (cpu: number, base: number, ts: number, size: number, headField: number) => {
    const [from, to] = ring_window(i32[B.percpu + cpu * PERCPU.stride + headField], size);
    for (let k = from; k < to; k++) {
      const slot = cpu * size + (k & (size - 1));
      const e = base + slot * EVENT.stride;
      const code = i32[e + EVENT.code];
      if (code === 0) continue; // never written
      const d = EVENTS[code] ?? { name: `event ${code}`, fmt: () => '' };
      const a = [i32[e + EVENT.a0], i32[e + EVENT.a1], i32[e + EVENT.a2], i32[e + EVENT.a3]];
      out.push({ seq: i32[e + EVENT.seq], cpu, code, name: d.name, text: d.fmt(a[0], a[1], a[2], a[3]), args: a, ts: f64[ts + slot] });
    }
  };
  for (let cpu = 0; cpu < nr_cpus; cpu++) {
    read(cpu, B.events, B.events_ts_f64, B.ring, PERCPU.ring_head);
    if (withTrace && B.tring > 0) read(cpu, B.tevents, B.tevents_ts_f64, B.tring, PERCPU.tring_head);
  }
  // a trace-only event carries the seq of the last kernel event before it: after that event, then by
  // time; the sort is stable, so a CPU's own events keep their ring order
  const tonly = (e: TracedEvent) => (EVENTS[e.code]?.trace ? 1 : 0);
  out.sort((x, y) => x.seq - y.seq || tonly(x) - tonly(y) || x.ts - y.ts);
  return Number.isFinite(last) ? out.slice(-last) : out;
}

/** tracing: kernel function `fn` (SP_*) starts; a0/a1 say on what */
export function span_begin(fn: number, a0 = 0, a1 = 0): void {
  if (tracing) trace_only(EV_SPAN_BEGIN, fn, a0, a1);
}

/** tracing: kernel function `fn` returns (or unwinds) */
export function span_end(fn: number): void {
  if (tracing) trace_only(EV_SPAN_END, fn);
}
