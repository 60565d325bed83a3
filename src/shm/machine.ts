// The Machine: one SharedArrayBuffer holding every table of kernel state.
// A CPU (worker) attaches to the same buffer; the views and region bases
// below are module state so that hot paths index typed arrays directly.
import {
  ADDRESS_SPACE, BIO, FILE_PAGES, REQUEST_QUEUE, SWAPPER_SPACE,
  SWAP_INFO, SWAP_TYPES, BOUNDS, SWAP_INFO_GUARD, SWAP_SLOTS, SWAPG,
  ANON_VMA, ANONMM, HUGETLB, CPUSTAT, EVENT, GLOBALS, IDALLOC, IDCACHE, LOCKSTAT, MM, MMLIST, MachineSizes,
  MAX_CPUS, OOPS, PAGE, PAGEVEC, PCP, PERCPU, PHYS_STRIDE, PTRS_PER_PTE, RING_SIZE, SCHED, SEQ_LINE, VMA, WORDS_PER_PAGE, ZONE,
  LAT_BUCKETS, LOCKSTAT_NR_PATHS, LOCKSTAT_RW, LOCKDEP_EDGE, LOCKDEP_REPORT, NR_LAT_KINDS,
  DEV_MIRROR, DEV_PAGEMAP, DMIRROR, NR_PGMAPS,
  WINSTAT, WARN,
} from './layout.js';
import { NR_LOCK_CLASSES } from '../sync/lock_class.js';

const MAGIC = 0x6d6d7263; // 'mmrc'
const LAYOUT_VERSION = 2;
const HEADER_WORDS = 16;

/** region bases: word index into i32 (or double index into f64 for *_f64) */
export interface Bases {
  globals: number; seq: number; zone: number; mm_alloc: number; vma_alloc: number;
  av_alloc: number; mmlist: number; oops: number; bounds: number; pages: number; phys: number; ptes: number;
  free_stack: number; mms: number; mm_free: number; vmas: number; vma_free: number; anon_vmas: number;
  /** per-CPU array caches of free mm and vma ids (IDCACHE) */
  mm_cache: number; vma_cache: number;
  percpu: number; cpustat: number; events: number; lockstat_f64: number; sched: number;
  swapg: number; swap_info: number; swap_map: number; swap_slots: number;
  mappings: number; page_tree: number; backing: number; bios: number; queue: number;
  events_ts_f64: number; lat: number; lockstat_points: number; lockstat_contending: number; lockdep_dep: number; lockdep_edges: number; lockdep_report: number;
  /** kernel events per CPU ring (RING_SIZE) and trace-only events per CPU (0 unless tracing) */
  ring: number; tring: number; tevents: number; tevents_ts_f64: number;
  // seed 003 (E0)
  anonmms: number; anonmm_alloc: number; anonmm_free: number; hugetlb: number;
  /** seed 004 (E3): dev_pagemap records, the driver, its free stack, devmem and mirror */
  pgmaps: number; dmirror: number; dev_free: number; devmem: number; dev_mirror: number;
  /** cov: per-CPU race-window counters (WINSTAT, src/cpu/windows.ts) */
  winstat: number;
  /** the first WARN_ON of the run (WARN, src/check/warn.ts) */
  warn: number;
  /** scale: per-CPU page lists (PCP, src/mm/page_alloc.ts) */
  pcp: number;
  /** scale2: per-CPU LRU pagevecs (PAGEVEC, src/mm/swap.ts) */
  pvec: number;
  total_words: number;
}

/**
 * a view that stands in until a Machine is attached: any read or write of it
 * throws an Error naming the view (a plain empty array would read undefined
 * and drop writes). Atomics.* on it throws a TypeError.
 */
function unattached<T extends object>(name: string, empty: T): T {
  const fail = (): never => { throw new Error(`mmrace: ${name} used before a Machine is attached (createMachineBuffer or attachMachine first)`); };
  return new Proxy(empty, { get: fail, set: fail, has: fail, ownKeys: fail, getOwnPropertyDescriptor: fail, defineProperty: fail, deleteProperty: fail });
}
export let i32: Int32Array<ArrayBufferLike> = unattached('i32 (the Machine as Int32Array)', new Int32Array(0));
export let f64: Float64Array<ArrayBufferLike> = unattached('f64 (the Machine as Float64Array)', new Float64Array(0));
export let u8: Uint8Array<ArrayBufferLike> = unattached('u8 (the Machine as Uint8Array)', new Uint8Array(0));
export let sizes: MachineSizes = { nr_pages: 0, nr_mm: 0, nr_vma: 0, nr_anon_vma: 0, nr_cpus: 0, nr_files: 0, trace_ring: 0, nr_dev_pages: 0 };
/** the views and sizes before any attach (detachMachine puts them back) */
const UNATTACHED = { i32, f64, u8, sizes: { ...sizes } };
/** struct pages: RAM pfns, then the ZONE_DEVICE pfns (seed 004) */
export const nr_pfns = (s: MachineSizes) => s.nr_pages + (s.nr_dev_pages ?? 0);
const align16 = (n: number) => (n + 15) & ~15;
/** swapper_space's page_tree: one row of slots per swap type, indexed by the entry's offset */
export const swap_cache_stride = (s: MachineSizes) => Math.max(SWAP_SLOTS, s.nr_pages);
/** address_space records: none, swapper_space, then the files */
export const nr_mappings = (s: MachineSizes) => SWAPPER_SPACE + 1 + (s.nr_files ?? 0);
/** page_tree slots of a mapping: swapper_space is indexed by any entry value a pte may hold, migration entries (offset = pfn) included */
export const mapping_slots = (s: MachineSizes, as: number) => (as === SWAPPER_SPACE ? 32 * swap_cache_stride(s) : FILE_PAGES);

/** seed 003 (E0): anonmm records: an mm's own, plus those of exited mms that pages still name */
export const nr_anonmm = (s: MachineSizes) => 2 * s.nr_mm;

/** lay out every region for the given capacities (cache-line aligned) */
export function planBases(s: MachineSizes): Bases {
  let w = HEADER_WORDS;
  const take = (n: number) => { const at = w; w = align16(w + n); return at; };
  const b = {} as Bases;
  b.globals = take(GLOBALS.stride);
  b.seq = take(SEQ_LINE.stride);
  b.zone = take(ZONE.stride);
  b.mm_alloc = take(IDALLOC.stride);
  b.vma_alloc = take(IDALLOC.stride);
  b.av_alloc = take(IDALLOC.stride);
  b.mmlist = take(MMLIST.stride);
  b.oops = take(OOPS.stride);
  b.bounds = take(BOUNDS.stride);
  b.pages = take(nr_pfns(s) * PAGE.stride);
  b.phys = take(s.nr_pages * PHYS_STRIDE);
  b.ptes = take(s.nr_pages * PTRS_PER_PTE);
  b.free_stack = take(s.nr_pages);
  b.mms = take(s.nr_mm * MM.stride);
  b.mm_free = take(s.nr_mm);
  b.vmas = take(s.nr_vma * VMA.stride);
  b.vma_free = take(s.nr_vma);
  b.mm_cache = take(s.nr_cpus * IDCACHE.stride);
  b.vma_cache = take(s.nr_cpus * IDCACHE.stride);
  b.anon_vmas = take(s.nr_anon_vma * ANON_VMA.stride);
  b.percpu = take(s.nr_cpus * PERCPU.stride);
  b.cpustat = take(s.nr_cpus * CPUSTAT.stride);
  b.ring = RING_SIZE;
  b.tring = s.trace_ring ?? 0;
  b.events = take(s.nr_cpus * b.ring * EVENT.stride);
  // doubles: word index is even (16-aligned), so double index = word / 2
  b.lockstat_f64 = take(2 * s.nr_cpus * NR_LOCK_CLASSES * LOCKSTAT_RW * LOCKSTAT.stride) / 2;
  b.sched = take(SCHED.stride);
  b.swapg = take(SWAPG.stride);
  // swap_info[] (MAX_SWAPFILES records of the era, at most 32) is followed directly by the guard
  // records (no alignment gap): see SWAP_INFO_GUARD and swap_init
  b.swap_info = take((SWAP_TYPES + SWAP_INFO_GUARD) * SWAP_INFO.stride);
  // per-type arrays cover all 32 types: an entry of any type decodes to a real index
  b.swap_map = take(SWAP_TYPES * SWAP_SLOTS);
  b.mappings = take(nr_mappings(s) * ADDRESS_SPACE.stride);
  // every mapping's page_tree slots, swapper_space's first, then each file's (see mapping_init)
  b.page_tree = take(mapping_slots(s, SWAPPER_SPACE) + (s.nr_files ?? 0) * FILE_PAGES);
  b.backing = take((s.nr_files ?? 0) * FILE_PAGES * WORDS_PER_PAGE);
  b.bios = take(nr_pfns(s) * BIO.stride); // a device page's lock words are looked at by the page-lock waiters too
  b.queue = take(REQUEST_QUEUE.stride);
  b.swap_slots = take(SWAP_TYPES * SWAP_SLOTS * WORDS_PER_PAGE);
  b.events_ts_f64 = take(2 * s.nr_cpus * b.ring) / 2; // event timestamps (ms, performance.now()), when tracing
  b.tevents = take(s.nr_cpus * b.tring * EVENT.stride);
  b.tevents_ts_f64 = take(2 * s.nr_cpus * b.tring) / 2;
  b.lat = take(s.nr_cpus * NR_LAT_KINDS * LAT_BUCKETS);
  b.lockstat_points = take(s.nr_cpus * NR_LOCK_CLASSES * LOCKSTAT_NR_PATHS);
  b.lockstat_contending = take(s.nr_cpus * NR_LOCK_CLASSES * LOCKSTAT_NR_PATHS);
  b.lockdep_dep = take(NR_LOCK_CLASSES * NR_LOCK_CLASSES);
  b.lockdep_edges = take(NR_LOCK_CLASSES * NR_LOCK_CLASSES * LOCKDEP_EDGE.stride);
  b.lockdep_report = take(LOCKDEP_REPORT.stride);
  // seed 003 (E0): anonmm records (id 0 none) with their id allocator, and the hugetlb pool
  b.anonmms = take(nr_anonmm(s) * ANONMM.stride);
  b.anonmm_alloc = take(IDALLOC.stride);
  b.anonmm_free = take(nr_anonmm(s));
  b.hugetlb = take(HUGETLB.stride);
  const nd = s.nr_dev_pages ?? 0;
  b.pgmaps = take(NR_PGMAPS * DEV_PAGEMAP.stride);
  b.dmirror = take(DMIRROR.stride);
  b.dev_free = take(nd);
  b.devmem = take(nd * WORDS_PER_PAGE);
  b.dev_mirror = take(nd * DEV_MIRROR.stride);
  b.winstat = take(s.nr_cpus * WINSTAT.stride); // cov
  b.warn = take(WARN.stride);
  b.pcp = take(s.nr_cpus * PCP.stride); // scale
  b.pvec = take(s.nr_cpus * PAGEVEC.stride); // scale2
  b.total_words = w;
  return b;
}

export function validateSizes(s: MachineSizes): string | null {
  if (!Number.isInteger(s.nr_cpus) || s.nr_cpus < 1 || s.nr_cpus > MAX_CPUS) return `cpus must be 1..${MAX_CPUS}`;
  if (!Number.isInteger(s.nr_pages) || s.nr_pages < 64 || s.nr_pages > 1 << 20) return 'nr_pages must be 64..1048576';
  const tr = s.trace_ring ?? 0;
  if (!Number.isInteger(tr) || (tr !== 0 && (tr < 64 || tr > 1 << 20 || (tr & (tr - 1)) !== 0))) return 'trace_ring must be 0 or a power of two, 64..1048576';
  const nd = s.nr_dev_pages ?? 0;
  if (!Number.isInteger(nd) || nd < 0 || nd > 4096) return 'nr_dev_pages must be 0..4096';
  const nf = s.nr_files ?? 0;
  if (!Number.isInteger(nf) || nf < 0 || nf > 64) return 'nr_files must be 0..64';
  for (const k of ['nr_mm', 'nr_vma', 'nr_anon_vma'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 2 || s[k] > 1 << 16) return `${k} must be 2..65536`;
  }
  return null;
}

export const BASES: Bases = planBases({ nr_pages: 0, nr_mm: 0, nr_vma: 0, nr_anon_vma: 0, nr_cpus: 0 });
export const lat_base = (cpu: number, kind: number, b: Readonly<Bases> = BASES) => b.lat + (cpu * NR_LAT_KINDS + kind) * LAT_BUCKETS;

/** a Machine buffer's header words: magic, layout version, the sizes (attachMachine reads them back) */
const header = (s: MachineSizes, b: Bases): number[] =>
  [MAGIC, LAYOUT_VERSION, s.nr_pages, s.nr_mm, s.nr_vma, s.nr_anon_vma, s.nr_cpus, b.tring, s.nr_files ?? 0, s.nr_dev_pages ?? 0];

/** allocate a zeroed Machine buffer and attach this thread to it */
export function createMachineBuffer(s: MachineSizes): SharedArrayBuffer {
  const err = validateSizes(s);
  if (err) throw new RangeError(err);
  const b = planBases(s);
  const sab = new SharedArrayBuffer(b.total_words * 4);
  new Int32Array(sab, 0, HEADER_WORDS).set(header(s, b));
  attachMachine(sab);
  return sab;
}

/**
 * xspeed: boot again in `sab`, a Machine buffer of an earlier run, if it has
 * the sizes `s` asks for: zeroed whole and its header written as
 * createMachineBuffer writes it, so the buffer is bit for bit a fresh one
 * (and this thread attached to it); false, and nothing touched, if it does
 * not fit. The controlled executor runs every run in one buffer this way: a
 * new SharedArrayBuffer per run costs its page faults, and the workers'
 * clones of the old ones keep them alive until their threads collect.
 */
export function resetMachineBuffer(sab: SharedArrayBuffer, s: MachineSizes): boolean {
  if (validateSizes(s)) return false;
  const b = planBases(s);
  if (sab.byteLength !== b.total_words * 4) return false;
  const h = new Int32Array(sab, 0, HEADER_WORDS);
  const want = header(s, b);
  for (let k = 0; k < want.length; k++) if (h[k] !== want[k]) return false;
  new Int32Array(sab).fill(0);
  h.set(want);
  attachMachine(sab);
  return true;
}

/** point this thread's views at a Machine buffer (workers call this once) */
export function attachMachine(sab: SharedArrayBuffer): void {
  const h = new Int32Array(sab, 0, HEADER_WORDS);
  if (h[0] !== MAGIC || h[1] !== LAYOUT_VERSION) throw new Error('not an mmrace Machine buffer (bad magic/version)');
  sizes = { nr_pages: h[2], nr_mm: h[3], nr_vma: h[4], nr_anon_vma: h[5], nr_cpus: h[6], trace_ring: h[7], nr_files: h[8], nr_dev_pages: h[9] };
  Object.assign(BASES, planBases(sizes));
  i32 = new Int32Array(sab);
  f64 = new Float64Array(sab);
  u8 = new Uint8Array(sab);
}

// Record bases. Each table's id 0 is "none", so a zeroed field is a null pointer.
export const page_base = (pfn: number) => BASES.pages + pfn * PAGE.stride;
export const mm_base = (mm: number) => BASES.mms + mm * MM.stride;
export const vma_base = (vma: number) => BASES.vmas + vma * VMA.stride;
export const av_base = (av: number) => BASES.anon_vmas + av * ANON_VMA.stride;
export const as_base = (as: number) => BASES.mappings + as * ADDRESS_SPACE.stride;
export const bio_base = (pfn: number) => BASES.bios + pfn * BIO.stride;
export const percpu_base = (cpu: number, b: Readonly<Bases> = BASES) => b.percpu + cpu * PERCPU.stride;
/** scale: a CPU's per-CPU page list */
export const pcp_base = (cpu: number, b: Readonly<Bases> = BASES) => b.pcp + cpu * PCP.stride;
/** scale2: a CPU's LRU pagevecs */
export const pvec_base = (cpu: number, b: Readonly<Bases> = BASES) => b.pvec + cpu * PAGEVEC.stride;
export const cpustat_base = (cpu: number, b: Readonly<Bases> = BASES) => b.cpustat + cpu * CPUSTAT.stride;
export const phys_base = (pfn: number) => BASES.phys + pfn * PHYS_STRIDE;
export const ptes_base = (ptpfn: number) => BASES.ptes + ptpfn * PTRS_PER_PTE;
export const g = (field: number) => BASES.globals + field;

/**
 * A Machine's words as a report reads them: this thread's live views
 * (live_machine), or a run's, kept when it ended (keep_machine), which stays
 * as the run left it while the next run boots. Its bases and sizes are the
 * run's own, so the layout's accessors work on it unchanged.
 */
export interface MachineView {
  i32: Int32Array<ArrayBufferLike>; f64: Float64Array<ArrayBufferLike>; u8: Uint8Array<ArrayBufferLike>;
  bases: Readonly<Bases>; sizes: Readonly<MachineSizes>;
}

/** the attached Machine itself: what it reads changes while CPUs run and when the next run boots */
export function live_machine(): MachineView {
  return { i32, f64, u8, bases: BASES, sizes };
}

/**
 * the attached Machine as a run's result keeps it (src/exec/free_run.ts
 * RunResult.machine): views of its own over the whole buffer, every region
 * as planBases lays it out (a counter or event added to the layout is in it
 * without a word here), with the run's bases and sizes. Taken once the CPUs
 * have stopped. The next boot makes a new buffer and points the live views
 * at it, so nothing writes this one again; `copy`: copy it into memory of its
 * own all the same, for a run one of whose CPUs never stopped and may still
 * write (a copy costs a fresh allocation's page faults: ~10 ms a 2 MB Machine
 * on a busy host, which explore's short runs would pay every run)
 */
export function keep_machine(copy = false): MachineView {
  const w = copy ? i32.slice() : new Int32Array(i32.buffer);
  return { i32: w, f64: new Float64Array(w.buffer), u8: new Uint8Array(w.buffer), bases: { ...BASES }, sizes: { ...sizes } };
}

/** forget the attached Machine: its views throw again as before the first attach (a test that a report reads only its run's result) */
export function detachMachine(): void {
  ({ i32, f64, u8 } = UNATTACHED);
  sizes = { ...UNATTACHED.sizes };
  Object.assign(BASES, planBases(sizes));
}
/** seed 003 (E0) */
export const anonmm_base = (id: number) => BASES.anonmms + id * ANONMM.stride;
