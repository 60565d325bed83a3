// Per-CPU event rings (ftrace-like). Each event is stamped with a global
// sequence number so the rings of all CPUs merge into the exact order in
// which the events happened. Under the controlled executor only the CPU
// holding the token runs, so the number is a plain increment of BASES.seq
// (the token's hand-off orders it); free-running CPUs take it with an
// Atomics.add. Writing an event allocates nothing. With
// --trace (GLOBALS.trace) every event also gets a timestamp, and the
// trace-only events below (spans, lock waits and holds) are written too.
import { EVENT, GLOBALS, LAT_KIND_FAULT, LOCKSTAT_NR_PATHS, PERCPU } from '../shm/layout.js';
import { defineEnum } from '../shm/struct.js';
import { BASES, MachineView, f64, i32 } from '../shm/machine.js';
import { current } from './current.js';
import { controlled } from '../sync/preempt.js';

/** this CPU records timestamps and trace-only events (read once when the CPU attaches) */
export let tracing = false;
/** the path whose op span is open on this CPU (tracing only) */
let open_op = 0;

/** read the run's trace switch (each worker once, after attaching) */
export function events_attach(): void {
  // a Machine built without a trace ring cannot trace: its trace ring has no slots to wrap in
  tracing = i32[BASES.globals + GLOBALS.trace] !== 0 && BASES.tring > 0;
  open_op = 0; // a pooled worker runs one CPU after another: nothing is open in a new run
}

/**
 * kernel paths traced as nested spans (a0 of EV_SPAN_BEGIN/END). They are
 * marked where they are entered (the MMU, the scenarios' CPU loops), not
 * inside the kernel functions, whose code stays as the kernel has it; the
 * other kernel steps are in the trace as the ring's instant events.
 */
const SPANS = defineEnum('span', [
  { key: 'SP_FAULT', name: 'do_page_fault' }, { key: 'SP_DUP_MMAP', name: 'dup_mmap' }, { key: 'SP_EXIT_MMAP', name: 'exit_mmap' },
  { key: 'SP_MIGRATE', name: 'migrate_pages' }, { key: 'SP_SHRINK', name: 'shrink_page_list' }, { key: 'SP_MPROTECT', name: 'sys_mprotect' },
  { key: 'SP_FLUSH_WAIT', name: 'flush_tlb_page wait' },
]);
export const SPAN_NAMES: readonly string[] = SPANS.names;
export const { SP_FAULT, SP_DUP_MMAP, SP_EXIT_MMAP, SP_MIGRATE, SP_SHRINK, SP_MPROTECT, SP_FLUSH_WAIT } = SPANS.codes;

const hex = (n: number) => '0x' + (n >>> 0).toString(16);
const mmv = (mm: number, addr: number) => `mm#${mm} ${hex(addr)}`;

/**
 * one event code's entry: its constant, its name and how to print it. `path`:
 * the code is also a path id (set_path; PERCPU.path): lock_stat's contention
 * points and the latency kinds are indexed by it.
 */
export interface EventDef {
  key: string; name: string; fmt: (a0: number, a1: number, a2: number, a3: number) => string; trace?: boolean; path?: boolean;
}

/** event codes and how to print them; index = code, defined here and nowhere else */
// seed 003 (E0): the last argument of EV_MOVE_ONE_PAGE, EV_EARLY_COW and EV_HUGETLB
export const MOVE_MOVED = 0, MOVE_EAGAIN = 1, MOVE_NO_PTE = 2, MOVE_RMAP_REDONE = 3;
const MOVE_ONE_PAGE_WHAT = ['moved', 'shared anon page: -EAGAIN', 'no pte', 'moved, rmap redone (no COW)'];
export const COW_MREMAP = 0, COW_SWAPIN_CLASH = 1, COW_SWAPIN_WRITE = 2, COW_UNUSE_CLASH = 3, COW_SWAPIN_REUSED = 4, COW_WP_BACKED_OUT = 5, COW_WP_NOMEM = 6;
const EARLY_COW_WHY = ['make_page_exclusive (mremap)', 'do_swap_page: address clash', 'do_swap_page: write to a shared page', 'unuse_process: address clash',
  'do_wp_page reused the page, exclusive by now, at the clashing address (the seed\'s residual race: unreachable by rmap)',
  'do_wp_page backed out without a copy (pte_same failed: another CPU\'s access set the accessed bit meanwhile) and the page stays at the clashing address (the seed\'s residual race: unreachable by rmap)',
  'do_wp_page could not allocate the copy (VM_FAULT_OOM) and the page stays at the clashing address (the seed\'s residual: unreachable by rmap)'];
export const HUGETLB_MAPPED = 0, HUGETLB_UNMAPPED = 1, HUGETLB_ENTRY_GONE = 2;
const HUGETLB_WHAT = ['mapped', 'unmapped', 'entry gone: run leaked'];

const EV = defineEnum('event', [
  { key: 'EV_NONE', name: 'none', fmt: () => '' },
  { key: 'EV_FAULT', name: 'handle_mm_fault', fmt: (mm, a, w) => `${mmv(mm, a)} ${w ? 'write' : 'read'}` },
  { key: 'EV_ANON_PAGE', name: 'do_anonymous_page', fmt: (mm, a, pfn) => `${mmv(mm, a)} new pfn ${pfn}` },
  { key: 'EV_WP_PAGE', name: 'do_wp_page', fmt: (mm, a, old, newpage) => newpage ? `${mmv(mm, a)} COW pfn ${old} -> pfn ${newpage}` : `${mmv(mm, a)} reuse pfn ${old}` },
  { key: 'EV_MIGRATION_WAIT', name: 'migration_entry_wait', fmt: (mm, a, pfn) => `${mmv(mm, a)} waits on pfn ${pfn}` },
  { key: 'EV_DUP_MMAP', name: 'dup_mmap', fmt: (p, c) => `fork mm#${p} -> child mm#${c}`, path: true },
  { key: 'EV_ANON_VMA_LINK', name: 'anon_vma_link', fmt: (av, vma, head, mm) => `anon_vma#${av} ${head ? 'list_add (HEAD)' : 'list_add_tail'} vma#${vma} of mm#${mm}` },
  { key: 'EV_COPY_PTE_RANGE', name: 'copy_pte_range', fmt: (dst, a, src) => `child mm#${dst} <- mm#${src} table at ${hex(a)}` },
  { key: 'EV_COPY_MIGRATION_ENTRY', name: 'copy_one_pte', fmt: (dst, a, pfn, w) => `${mmv(dst, a)} copied ${w ? 'write' : 'read'} migration entry -> pfn ${pfn}` },
  { key: 'EV_DUP_MMAP_DONE', name: 'dup_mmap done', fmt: (p, c) => `mm#${p} -> mm#${c}` },
  { key: 'EV_EXIT_MMAP', name: 'exit_mmap', fmt: (mm) => `mm#${mm}` },
  { key: 'EV_MIGRATE', name: 'migrate_pages', fmt: (pfn) => `pfn ${pfn} isolated, locking`, path: true },
  { key: 'EV_UNMAP_ONE', name: 'try_to_unmap_one', fmt: (mm, a, pfn, w) => `${mmv(mm, a)} pfn ${pfn} -> ${w === 3 ? 'pte dropped (file page)' : w === 2 ? 'swap entry' : w ? 'write migration entry' : 'read migration entry'}` },
  { key: 'EV_MOVE_TO_NEW', name: 'move_to_new_page', fmt: (old, newpage) => `pfn ${old} -> pfn ${newpage} (count ok, copied)` },
  { key: 'EV_MIGRATE_FAIL', name: 'unmap_and_move fail', fmt: (pfn, rc, mapped) => `pfn ${pfn} rc ${rc}${mapped ? ' (still mapped)' : ''}` },
  { key: 'EV_REMOVE_PTE', name: 'remove_migration_pte', fmt: (mm, a, what, pfn) => `${mmv(mm, a)} ${['pte none/present: skip', 'restored -> pfn ' + pfn, 'not ours: skip', 'no page table: skip', 'outside vma'][what] ?? what}` },
  { key: 'EV_MIGRATE_DONE', name: 'unmap_and_move done', fmt: (old, newpage) => `pfn ${old} unlocked; now pfn ${newpage}` },
  { key: 'EV_CHANGE_PTE_RANGE', name: 'change_pte_range', fmt: (mm, a, e, prot) => `${mmv(mm, a)}..${hex(e)} prot ${hex(prot)}` },
  { key: 'EV_ZAP', name: 'zap_pte_range', fmt: (mm, a, pfn, kind) => `${mmv(mm, a)} ${kind === 1 ? 'dropped migration entry -> pfn ' + pfn : 'unmapped pfn ' + pfn}` },
  { key: 'EV_BUG', name: 'BUG', fmt: (_site, pfn) => (pfn ? `pfn ${pfn}` : '') },
  { key: 'EV_USER', name: 'user access', fmt: (mm, a, w, v) => `${mmv(mm, a)} ${w ? 'store' : 'load'} ${hex(v)}`, path: true },
  { key: 'EV_MPROTECT', name: 'sys_mprotect', fmt: (mm, a, e, prot) => `${mmv(mm, a)}..${hex(e)} prot ${hex(prot)}`, path: true },
  { key: 'EV_SWAP_PAGE', name: 'do_swap_page', fmt: (mm, a, pte) => `${mmv(mm, a)} pte ${hex(pte)}` },
  { key: 'EV_SHRINK', name: 'shrink_page_list', fmt: (pfn) => `pfn ${pfn} swapped out and freed`, path: true },
  { key: 'EV_SWAPON', name: 'sys_swapon', fmt: (type, rc) => `type ${type} -> ${rc}`, path: true },
  { key: 'EV_SWAPOFF', name: 'sys_swapoff', fmt: (type, rc) => `type ${type} -> ${rc}`, path: true },
  { key: 'EV_UNUSE_PTE', name: 'unuse_pte', fmt: (mm, a, pfn, e) => `${mmv(mm, a)} swap entry ${hex(e)} -> pfn ${pfn}` },
  { key: 'EV_SWAPIN_MAP', name: 'do_swap_page map', fmt: (mm, a, pfn, w) => `${mmv(mm, a)} pfn ${pfn} mapped ${w ? 'writable' : 'read-only'}` },
  // seed 001: a direct-I/O read into user memory pins a page, and migration's reference check under tree_lock
  { key: 'EV_DIO', name: 'dio_read_into_user', fmt: (mm, a, pfn, v) => `${mmv(mm, a)} I/O done: stored ${hex(v)} into pinned pfn ${pfn}, put_page`, path: true },
  { key: 'EV_GUP', name: 'get_user_pages', fmt: (mm, a, pfn, count) => `${mmv(mm, a)} pinned pfn ${pfn} (count ${count}), mmap_sem dropped, I/O starts` },
  { key: 'EV_SLOT_SWITCH', name: 'tree_lock recheck', fmt: (old, newpage, count, refs) =>
    newpage ? `pfn ${old} count ${count}${count !== refs ? ` (expected ${refs}, not checked)` : ''}: cache slot -> pfn ${newpage}` : `pfn ${old} count ${count} != ${refs}: back out, -EAGAIN` },
  { key: 'EV_SWAPIN_RETRY', name: 'do_swap_page retry', fmt: (mm, a, pfn) => `${mmv(mm, a)} pfn ${pfn} left the swap cache: "Page migration has occured", retry` },
  // files and the page cache
  { key: 'EV_NO_PAGE', name: 'do_no_page', fmt: (mm, a, pfn, anon) => `${mmv(mm, a)} ${anon ? 'private copy pfn ' : 'page cache pfn '}${pfn}` },
  { key: 'EV_FILE_READ', name: 'sys_read', fmt: (as, index, w, v) => `file#${as} index ${index} word ${w} -> ${hex(v)}`, path: true },
  { key: 'EV_FILE_WRITE', name: 'sys_write', fmt: (as, index, w, v) => `file#${as} index ${index} word ${w} <- ${hex(v)}`, path: true },
  { key: 'EV_TRUNCATE', name: 'do_truncate', fmt: (as, pages) => `file#${as} to ${pages} pages`, path: true },
  { key: 'EV_FSYNC', name: 'do_fsync', fmt: (as) => `file#${as}`, path: true },
  // seed 003 (E0, 2.6.6-mm): anonmm rmap, mremap, the early COW, swapoff's unuse_process
  { key: 'EV_MREMAP', name: 'sys_mremap', fmt: (mm, a, b, len) => `${mmv(mm, a)} -> ${hex(b)} (${len >>> 12} pages)`, path: true },
  { key: 'EV_MOVE_ONE_PAGE', name: 'move_one_page', fmt: (mm, a, b, what) => `${mmv(mm, a)} -> ${hex(b)} ${MOVE_ONE_PAGE_WHAT[what] ?? what}` },
  { key: 'EV_ANONMM_INDEX', name: 'mremap_move_anon_rmap', fmt: (pfn, old, a, mapcount) => `pfn ${pfn} index ${hex(old)} -> ${hex(a)} (mapcount ${mapcount})` },
  { key: 'EV_EARLY_COW', name: 'early COW', fmt: (mm, a, pfn, why) => `${mmv(mm, a)} pfn ${pfn}: ${EARLY_COW_WHY[why] ?? why}` },
  { key: 'EV_MREMAP_COWS', name: 'mremap moved cows', fmt: (mm, cows) => `mm#${mm}: mremap moved ${cows} cows` },
  { key: 'EV_RMAP_WARN', name: 'WARN_ON', fmt: (pfn, left, line) => `Badness in page_referenced_anon at mm/rmap.c:${line} (pfn ${pfn}: ${left} mapping(s) not found, no trylock failed)` },
  { key: 'EV_HUGETLB', name: 'hugetlb', fmt: (mm, a, run, what) => `${mmv(mm, a)} run pfn ${run} ${HUGETLB_WHAT[what] ?? what}` },
  // trace-only events (written when tracing; left out of the interleaving)
  { key: 'EV_OP_BEGIN', name: 'op begin', fmt: (path) => EVENTS[path]?.name ?? String(path), trace: true },
  { key: 'EV_OP_END', name: 'op end', fmt: (path) => EVENTS[path]?.name ?? String(path), trace: true },
  { key: 'EV_SPAN_BEGIN', name: 'span begin', fmt: (fn) => SPAN_NAMES[fn] ?? String(fn), trace: true },
  { key: 'EV_SPAN_END', name: 'span end', fmt: (fn) => SPAN_NAMES[fn] ?? String(fn), trace: true },
  { key: 'EV_LOCK_WAIT', name: 'lock wait', fmt: (lock, cls) => `lock ${lock} class ${cls}`, trace: true },
  { key: 'EV_LOCK_WAITED', name: 'lock waited', fmt: (lock, cls) => `lock ${lock} class ${cls}`, trace: true },
  { key: 'EV_LOCK_ACQ', name: 'lock acquired', fmt: (lock, cls, contended) => `lock ${lock} class ${cls}${contended ? ' (contended)' : ''}`, trace: true },
  { key: 'EV_LOCK_REL', name: 'lock released', fmt: (lock, cls) => `lock ${lock} class ${cls}`, trace: true },
  // seed 002 (exchange pages, E4)
  { key: 'EV_EXCHANGE', name: 'exchange_pages', fmt: (from, to, mode) => `pfn ${from} <-> pfn ${to} mode ${hex(mode)}`, path: true },
  { key: 'EV_EXCHANGE_MAPPING', name: 'exchange_page_move_mapping', fmt: (from, to, rc, why) =>
    rc === 0 ? `pfn ${from} <-> pfn ${to}: index, mapping${why ? ' and cache slot' : ''} exchanged` : `pfn ${from} <-> pfn ${to}: ${['count', 'cache slot', 'freeze of to_page', 'freeze of from_page'][why] ?? why} -> -EAGAIN` },
  { key: 'EV_EXCHANGE_DONE', name: 'unmap_and_exchange done', fmt: (from, to, rc) => `pfn ${from} <-> pfn ${to} rc ${rc}` },
  { key: 'EV_EXCHANGE_BACKOFF', name: 'unmap_and_exchange back off', fmt: (from, to) => `trylock of pfn ${to} failed: unlock pfn ${from}, wait, -EAGAIN` },
  { key: 'EV_READAHEAD', name: 'page_cache_readahead', fmt: (as, index, n) => `file#${as} index ${index} ${n} pages`, path: true },
  { key: 'EV_COMPACT', name: 'alloc_page_or_compact', fmt: (nr_free, pairs) => `nr_free ${nr_free}: async exchange of ${pairs} pairs`, path: true },
  // seed 004 (E3): HMM device-private memory
  { key: 'EV_MIGRATE_VMA', name: 'migrate_vma', fmt: (mm, a, dir) => `${mmv(mm, a)} ${dir ? 'to device memory' : 'back to RAM'}`, path: true },
  { key: 'EV_DEVICE_FAULT', name: 'device_private_entry_fault', fmt: (mm, a, pfn, moved) => `${mmv(mm, a)} device pfn ${pfn}${moved ? ' moved to RAM' : ': not moved, the access faults again'}`, path: true },
  { key: 'EV_MIRROR_FAULT', name: 'hmm_vma_fault', fmt: (mm, a, what) => `${mmv(mm, a)} ${['mirrored', 'already on the device', 'migration entry: waited, -EAGAIN', 'nothing mapped'][what] ?? what}`, path: true },
  { key: 'EV_VMA_COLLECT', name: 'migrate_vma_collect', fmt: (mm, a, pfn, locked) => `${mmv(mm, a)} pfn ${pfn} ${locked ? 'locked, pte -> migration entry' : 'not locked (trylock failed)'}` },
  { key: 'EV_VMA_CHECK', name: 'migrate_vma_check_page', fmt: (pfn, count, mapcount, ok) => `pfn ${pfn} count ${count} mapcount ${mapcount}: ${ok ? 'not pinned' : 'pinned: restore'}` },
  { key: 'EV_VMA_MOVE', name: 'migrate_vma_pages', fmt: (old, newpage, count, rc) => rc ? `pfn ${old} count ${count}: migrate_page -EAGAIN` : `pfn ${old} -> pfn ${newpage}` },
  { key: 'EV_DEV_LRU', name: 'putback_lru_page', fmt: (pfn) => `device pfn ${pfn} added to the LRU: page->pgmap overwritten` },
] as const satisfies readonly EventDef[]);
export const EVENTS: readonly EventDef[] = EV.table;

export const {
  EV_FAULT, EV_ANON_PAGE, EV_WP_PAGE, EV_MIGRATION_WAIT, EV_DUP_MMAP, EV_ANON_VMA_LINK, EV_COPY_PTE_RANGE, EV_COPY_MIGRATION_ENTRY, EV_DUP_MMAP_DONE,
  EV_EXIT_MMAP, EV_MIGRATE, EV_UNMAP_ONE, EV_MOVE_TO_NEW, EV_MIGRATE_FAIL, EV_REMOVE_PTE, EV_MIGRATE_DONE, EV_CHANGE_PTE_RANGE, EV_ZAP, EV_BUG,
  EV_USER, EV_MPROTECT, EV_SWAP_PAGE, EV_SHRINK, EV_SWAPON, EV_SWAPOFF, EV_UNUSE_PTE, EV_SWAPIN_MAP,
  EV_DIO, EV_GUP, EV_SLOT_SWITCH, EV_SWAPIN_RETRY,
  EV_NO_PAGE, EV_FILE_READ, EV_FILE_WRITE, EV_TRUNCATE, EV_FSYNC,
  EV_MREMAP, EV_MOVE_ONE_PAGE, EV_ANONMM_INDEX, EV_EARLY_COW, EV_MREMAP_COWS, EV_RMAP_WARN, EV_HUGETLB,
  EV_OP_BEGIN, EV_OP_END, EV_SPAN_BEGIN, EV_SPAN_END, EV_LOCK_WAIT, EV_LOCK_WAITED, EV_LOCK_ACQ, EV_LOCK_REL,
  EV_EXCHANGE, EV_EXCHANGE_MAPPING, EV_EXCHANGE_DONE, EV_EXCHANGE_BACKOFF, EV_READAHEAD, EV_COMPACT,
  EV_MIGRATE_VMA, EV_DEVICE_FAULT, EV_MIRROR_FAULT, EV_VMA_COLLECT, EV_VMA_CHECK, EV_VMA_MOVE, EV_DEV_LRU,
} = EV.codes;

/**
 * path ids: the event codes marked `path`. Arrays indexed by path (lock_stat's
 * points, the latency kinds below LAT_KIND_FAULT) must hold every one: checked here, at load.
 */
export const PATH_IDS: readonly number[] = EVENTS.flatMap((e, code) => (e.path ? [code] : []));
/** one more than the largest path id: every path-indexed array needs at least this many slots */
export const NR_PATH_IDS = Math.max(0, ...PATH_IDS) + 1;
const is_path = new Uint8Array(NR_PATH_IDS);
for (const code of PATH_IDS) is_path[code] = 1;
if (NR_PATH_IDS > LOCKSTAT_NR_PATHS || NR_PATH_IDS > LAT_KIND_FAULT) {
  throw new Error(`event ${EVENTS[NR_PATH_IDS - 1].key}: path id ${NR_PATH_IDS - 1} does not fit the path-indexed arrays (LOCKSTAT_NR_PATHS ${LOCKSTAT_NR_PATHS}, LAT_KIND_FAULT ${LAT_KIND_FAULT} in src/shm/layout.ts)`);
}

/** `code` is a path id (set_path takes nothing else) */
export function is_path_id(code: number): boolean {
  return is_path[code] === 1;
}

/** `code`, checked to be a path id: anything else is an error, never a fold into slot 0 */
export function path_id(code: number): number {
  if (is_path[code] !== 1) throw new Error(`set_path: ${code} is not a path id (the events marked 'path' in src/cpu/events.ts)`);
  return code;
}

// remove_migration_pte outcomes (a2 of EV_REMOVE_PTE)
export const RMP_SKIP = 0, RMP_RESTORED = 1, RMP_NOT_OURS = 2, RMP_NO_TABLE = 3, RMP_OUTSIDE = 4;

/** record an event in this CPU's ring */
export function trace_event(code: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): void {
  // controlled: one CPU runs at a time, and the token's hand-off (Atomics) orders one holder's plain write
  // before the next holder's read: the same numbers, with no atomic read-modify-write per event
  const seq = controlled ? (i32[BASES.seq] = i32[BASES.seq] + 1) : Atomics.add(i32, BASES.seq, 1) + 1;
  ring_write(BASES.events, BASES.events_ts_f64, BASES.ring, PERCPU.ring_head, seq, code, a0, a1, a2, a3);
}

/**
 * record a trace-only event (tracing on) in the CPU's trace ring: it takes
 * the current sequence number without consuming one, and the kernel ring
 * keeps exactly what an untraced run keeps (a replay's splat stays word for word)
 */
export function trace_only(code: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): void {
  ring_write(BASES.tevents, BASES.tevents_ts_f64, BASES.tring, PERCPU.tring_head, Atomics.load(i32, BASES.seq), code, a0, a1, a2, a3);
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

/** slot of the k-th kernel event ever written by `cpu` (valid for the last BASES.ring of them) */
export function event_slot(cpu: number, k: number): number {
  return cpu * BASES.ring + (k & (BASES.ring - 1));
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
 * number; the trace-only events are left out unless `withTrace`. `m`: a
 * run's Machine as its result keeps it (src/exec/free_run.ts RunResult.machine),
 * or live_machine() for the attached one
 */
export function collect_events(m: MachineView, last = Infinity, withTrace = false): TracedEvent[] {
  const out: TracedEvent[] = [];
  const { i32, f64, bases: B } = m;
  const nr_cpus = m.sizes.nr_cpus;
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
