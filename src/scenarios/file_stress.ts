// Files and anonymous memory under load together, with no switch: the fixed
// kernel must hold (issue 10 item 5, for the soak). File A is shared by
// every CPU: word c of each of its pages belongs to CPU c, which writes it
// through write(2) or through a MAP_SHARED mapping and checks it through
// read(2), the mapping, and a MAP_PRIVATE mapping (a private COW copy keeps
// what it had when it was copied, then only its own stores). File B belongs
// (one per filer CPU) belongs to that CPU alone, which also truncates and re-extends it and checks every
// byte against a plain model. The kswapd-like role reclaims file and
// anonymous pages, migrates the mappers' pages and writes the files back;
// mappers fork children that read the shared file. Every checker is armed:
// the data checks here, the kernel's BUG_ONs, and the end-of-run sweep.
import { FILE_PAGES, PAGE_SIZE, PG_lru, SWAP_SLOTS, WORDS_PER_PAGE } from '../shm/layout.js';
import { prandom_below } from '../cpu/current.js';
import { ACCESS_OK, ACCESS_SIGBUS, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import {
  EV_DUP_MMAP, EV_FILE_READ, EV_FILE_WRITE, EV_FSYNC, EV_MIGRATE, EV_SHRINK, EV_TRUNCATE, EV_USER, SP_DUP_MMAP, SP_EXIT_MMAP,
  SP_MIGRATE, SP_SHRINK, span_begin, span_end, trace_event,
} from '../cpu/events.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { FILE_EOF, FILE_OK, FIRST_FILE, radix_tree_lookup, do_fsync, file_read, file_rw, file_write, i_size_read } from '../mm/filemap.js';
import { do_truncate } from '../mm/truncate.js';
import { MS_ASYNC, MS_SYNC, sys_msync } from '../mm/msync.js';
import { MAP_PRIVATE, MAP_SHARED, do_mmap_anon, do_mmap_pgoff, mm_alloc } from '../mm/mmap.js';
import { PROT_READ, PROT_WRITE, page_flags } from '../mm/mm_types.js';
import { copy_mm, exit_mm } from '../mm/fork.js';
import { MPOL_MF_MOVE_ALL, do_migrate_pages } from '../mm/mempolicy.js';
import { isolate_lru_page, lru_add_drain } from '../mm/swap.js';
import { PAGEOUT_FREED, shrink_page_list } from '../mm/vmscan.js';
import { sys_swapon } from '../mm/swapfile.js';
import { sizes } from '../shm/machine.js';
import { E1, E2 } from '../shm/era.js';
import { set_path } from './family.js';
import type { CpuContext, Scenario, SetupState } from './types.js';
import { WIN_PINNED_ACROSS_UNMAP } from '../cpu/windows.js'; // cov

const FILE_A = FIRST_FILE;
/** the file B of the filer on CPU c: one per filer (CPUs 0, 3, 6: at most 3 on 8 CPUs) */
const file_b_of = (cpu: number) => FIRST_FILE + 1 + Math.floor(cpu / 3);
/** pages of file A (every CPU), of file B (the filer's), of each mapper's anonymous region */
const A_PAGES = 24, B_PAGES = 8, ANON_PAGES = 8;
// each mapper's mm maps A shared, A private, and an anon region; the filer's maps B shared
const SHARED = 0x20000, PRIVATE = 0x40000, ANON = 0x60000, B_MAP = 0x20000, B_PEEK = 0x80000;

const hex = (n: number) => '0x' + (n >>> 0).toString(16);
const roles = (n: number) => (n === 1 ? ['solo'] : Array.from({ length: n }, (_, c) => ['filer', 'mapper', 'kswapd'][c % 3]));

/** a check that failed: the user sees wrong data (or a wrong error) */
function wrong(what: string, got: number, want: number, mm = 0, addr = 0): never {
  fail(OOPS_SHADOW, `user data: wrong data in ${what}: read ${hex(got)}, expected ${hex(want)}`, 0, mm, addr);
}

function setup(nr_cpus: number): SetupState {
  if (nr_cpus > WORDS_PER_PAGE) throw new Error(`file-stress runs on at most ${WORDS_PER_PAGE} CPUs (one word of each page per CPU)`);
  if (sys_swapon(SWAP_SLOTS / 2, 0) !== 0) throw new Error('setup: swapon failed');
  file_write(FILE_A, A_PAGES - 1, 0, 0); // i_size: every word of A starts as zero
  const mms: number[] = [];
  for (let c = 0; c < nr_cpus; c++) {
    const mm = mm_alloc();
    const r = roles(nr_cpus)[c];
    if (r === 'mapper' || r === 'solo') {
      if (do_mmap_pgoff(mm, SHARED, A_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FILE_A, 0) < 0 ||
          do_mmap_pgoff(mm, PRIVATE, A_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, FILE_A, 0) < 0 ||
          do_mmap_anon(mm, ANON, ANON_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0) throw new Error('setup: mmap failed');
      // the first filer's file B, read-only: its loads race that filer's truncates (faults against truncate_count)
      if (r === 'mapper' && do_mmap_pgoff(mm, B_PEEK, B_PAGES * PAGE_SIZE, PROT_READ, MAP_SHARED, file_b_of(0), 0) < 0) throw new Error('setup: mmap of file B failed');
    }
    if ((r === 'filer' || r === 'solo') && do_mmap_pgoff(mm, r === 'solo' ? 0x80000 : B_MAP, B_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file_b_of(c), 0) < 0) {
      throw new Error('setup: mmap of file B failed');
    }
    mms.push(mm);
  }
  return { mms };
}

/** one CPU's program: its word of every page of A, and (the filer) file B */
class Program {
  readonly mm: number;
  readonly w: number; // this CPU's word of each page of A
  private readonly a = new Int32Array(A_PAGES); // what A's word w holds
  private readonly cow = new Int32Array(A_PAGES); // 1 once our private mapping has its own copy of the page
  private readonly priv = new Int32Array(A_PAGES * WORDS_PER_PAGE); // the private copy's words we know
  private readonly known = new Uint8Array(A_PAGES * WORDS_PER_PAGE); // ... and which of them we know
  private readonly b = new Int32Array(FILE_PAGES * WORDS_PER_PAGE); // file B as the filer left it
  private b_size = 0;
  private readonly b_base: number;
  private readonly fb: number;
  private counter = 1;
  private readonly list = new Int32Array(64);
  constructor(readonly ctx: CpuContext) {
    this.mm = (ctx.setup.mms as number[])[ctx.cpu];
    this.w = ctx.cpu;
    this.b_base = ctx.role === 'solo' ? 0x80000 : B_MAP;
    this.fb = file_b_of(ctx.cpu);
  }
  private next(): number { return ((this.ctx.cpu + 1) << 24) | (this.counter++ & 0xffffff); }

  /** write(2) or read(2) this CPU's word of a page of A */
  file_a(): void {
    const p = prandom_below(A_PAGES);
    if (prandom_below(2) === 0) {
      set_path(EV_FILE_WRITE);
      const v = this.next();
      file_write(FILE_A, p, this.w, v);
      if (file_rw.status !== FILE_OK) fail(OOPS_SHADOW, `user program: write(2) of file#${FILE_A} page ${p} failed (${file_rw.status})`);
      this.a[p] = v;
      trace_event(EV_FILE_WRITE, FILE_A, p, this.w, v);
    } else {
      set_path(EV_FILE_READ);
      const got = file_read(FILE_A, p, this.w);
      if (file_rw.status !== FILE_OK) fail(OOPS_SHADOW, `user program: read(2) of file#${FILE_A} page ${p} failed (${file_rw.status})`);
      trace_event(EV_FILE_READ, FILE_A, p, this.w, got);
      if (got !== this.a[p]) wrong(`file#${FILE_A} page ${p} word ${this.w} (read(2))`, got, this.a[p]);
    }
  }

  /** a store or load of this CPU's word through the shared mapping, or a load through the private one */
  map_a(): void {
    set_path(EV_USER);
    switch_mm(this.mm);
    const p = prandom_below(A_PAGES);
    const r = prandom_below(4);
    if (r === 0) {
      const v = this.next();
      user_access(this.mm, SHARED + p * PAGE_SIZE, this.w, true, v);
      if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: store to the shared mapping at ${hex(SHARED + p * PAGE_SIZE)} failed (${mmu.status})`);
      this.a[p] = v;
    } else if (r === 1) {
      const got = user_access(this.mm, SHARED + p * PAGE_SIZE, this.w, false, 0);
      if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: load from the shared mapping failed (${mmu.status})`);
      if (got !== this.a[p]) wrong(`file#${FILE_A} through MAP_SHARED mm#${this.mm} at ${hex(SHARED + p * PAGE_SIZE)} word ${this.w}`, got, this.a[p], this.mm, SHARED + p * PAGE_SIZE);
    } else if (r === 2) {
      // a private store: the first one copies the page (every word of it as it was then)
      const v = this.next();
      user_access(this.mm, PRIVATE + p * PAGE_SIZE, this.w, true, v);
      if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: store to the private mapping failed (${mmu.status})`);
      if (this.cow[p] === 0) { this.cow[p] = 1; this.known.fill(0, p * WORDS_PER_PAGE, (p + 1) * WORDS_PER_PAGE); }
      this.priv[p * WORDS_PER_PAGE + this.w] = v;
      this.known[p * WORDS_PER_PAGE + this.w] = 1;
    } else {
      const got = user_access(this.mm, PRIVATE + p * PAGE_SIZE, this.w, false, 0);
      if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: load from the private mapping failed (${mmu.status})`);
      // not copied yet: the private mapping shows the file; copied: the copy, which our word's last store set
      const want = this.cow[p] === 0 ? this.a[p] : this.known[p * WORDS_PER_PAGE + this.w] ? this.priv[p * WORDS_PER_PAGE + this.w] : got;
      if (got !== want) wrong(`file#${FILE_A} through MAP_PRIVATE mm#${this.mm} at ${hex(PRIVATE + p * PAGE_SIZE)} word ${this.w}`, got, want, this.mm, PRIVATE + p * PAGE_SIZE);
      if (this.cow[p] !== 0 && !this.known[p * WORDS_PER_PAGE + this.w]) { this.priv[p * WORDS_PER_PAGE + this.w] = got; this.known[p * WORDS_PER_PAGE + this.w] = 1; }
    }
    switch_mm(0);
  }

  /** the anonymous region: store and check our word (fork's children must not change it) */
  anon(): void {
    set_path(EV_USER);
    switch_mm(this.mm);
    const p = prandom_below(ANON_PAGES);
    const v = this.next();
    user_access(this.mm, ANON + p * PAGE_SIZE, this.w, true, v);
    if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: store to anonymous memory failed (${mmu.status})`);
    const got = user_access(this.mm, ANON + p * PAGE_SIZE, this.w, false, 0);
    if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: load from anonymous memory failed (${mmu.status})`);
    if (got !== v) wrong(`anonymous memory mm#${this.mm} at ${hex(ANON + p * PAGE_SIZE)} word ${this.w}`, got, v, this.mm, ANON + p * PAGE_SIZE);
    switch_mm(0);
  }

  /** fork: the child reads the shared file (our word: what we last wrote) and its anon copy, stores to the copy, exits */
  fork(): void {
    set_path(EV_DUP_MMAP);
    span_begin(SP_DUP_MMAP);
    const child = copy_mm(this.mm);
    span_end(SP_DUP_MMAP);
    if (child < 0) return;
    switch_mm(child);
    for (let k = 0; k < 4; k++) {
      const p = prandom_below(A_PAGES);
      const got = user_access(child, SHARED + p * PAGE_SIZE, this.w, false, 0);
      if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: child load from the shared mapping failed (${mmu.status})`);
      if (got !== this.a[p]) wrong(`file#${FILE_A} through MAP_SHARED in child mm#${child} at ${hex(SHARED + p * PAGE_SIZE)} word ${this.w}`, got, this.a[p], child, SHARED + p * PAGE_SIZE);
      user_access(child, ANON + prandom_below(ANON_PAGES) * PAGE_SIZE, this.w, true, 0x7f000000 | k); // the child's own copy
    }
    switch_mm(0);
    span_begin(SP_EXIT_MMAP);
    exit_mm(child);
    span_end(SP_EXIT_MMAP);
  }

  /**
   * a load from the first filer's file B, which that filer truncates at
   * will: SIGBUS past its end, else whatever it holds (only the filer knows
   * what that is); the kernel's checks and the sweep judge the faults
   */
  peek_b(): void {
    set_path(EV_USER);
    switch_mm(this.mm);
    user_access(this.mm, B_PEEK + prandom_below(B_PAGES) * PAGE_SIZE, prandom_below(WORDS_PER_PAGE), false, 0);
    switch_mm(0);
    if (mmu.status !== ACCESS_OK && mmu.status !== ACCESS_SIGBUS) fail(OOPS_SHADOW, `user program: load from file#${file_b_of(0)} failed (${mmu.status}), not SIGBUS`);
  }

  /** msync of the shared mapping (MS_ASYNC moves pte dirty bits; MS_SYNC writes the file and waits) */
  msync(): void {
    set_path(EV_FSYNC);
    if (sys_msync(this.mm, SHARED, A_PAGES * PAGE_SIZE, prandom_below(4) === 0 ? MS_SYNC : MS_ASYNC) !== 0) fail(OOPS_SHADOW, 'user program: msync failed');
  }

  /** file B, the filer's alone: write, read, store and load through its mapping, truncate, all against a model */
  file_b(): void {
    const p = prandom_below(B_PAGES), w = prandom_below(WORDS_PER_PAGE);
    const r = prandom_below(10);
    const at = p * WORDS_PER_PAGE + w;
    if (r < 3) {
      set_path(EV_FILE_WRITE);
      const v = this.next();
      file_write(this.fb, p, w, v);
      if (file_rw.status !== FILE_OK) fail(OOPS_SHADOW, `user program: write(2) of file#${this.fb} failed (${file_rw.status})`);
      this.b[at] = v;
      this.b_size = Math.max(this.b_size, p + 1);
    } else if (r < 5) {
      set_path(EV_FILE_READ);
      const got = file_read(this.fb, p, w);
      if (p >= this.b_size) { if (file_rw.status !== FILE_EOF) fail(OOPS_SHADOW, `user program: read(2) of file#${this.fb} past its end (${this.b_size} pages) did not end the file`); return; }
      if (file_rw.status !== FILE_OK) fail(OOPS_SHADOW, `user program: read(2) of file#${this.fb} failed (${file_rw.status})`);
      if (got !== this.b[at]) wrong(`file#${this.fb} page ${p} word ${w} (read(2))`, got, this.b[at]);
    } else if (r < 8) {
      set_path(EV_USER);
      switch_mm(this.mm);
      const addr = this.b_base + p * PAGE_SIZE;
      const store = r === 5;
      const v = store ? this.next() : 0;
      const got = user_access(this.mm, addr, w, store, v);
      switch_mm(0);
      if (p >= this.b_size) { if (mmu.status !== ACCESS_SIGBUS) fail(OOPS_SHADOW, `user program: access at ${hex(addr)} past the end of file#${this.fb} (${this.b_size} pages) did not get SIGBUS`); return; }
      if (mmu.status !== ACCESS_OK) fail(OOPS_SHADOW, `user program: access to file#${this.fb} through its mapping failed (${mmu.status})`);
      if (store) this.b[at] = v;
      else if (got !== this.b[at]) wrong(`file#${this.fb} through MAP_SHARED mm#${this.mm} at ${hex(addr)} word ${w}`, got, this.b[at], this.mm, addr);
    } else {
      set_path(EV_TRUNCATE);
      const n = prandom_below(B_PAGES + 1);
      do_truncate(this.fb, n);
      trace_event(EV_TRUNCATE, this.fb, n);
      if (n < this.b_size) this.b.fill(0, n * WORDS_PER_PAGE);
      this.b_size = n;
      if (i_size_read(this.fb) !== n) fail(OOPS_SHADOW, `user program: file#${this.fb} is ${i_size_read(this.fb)} pages after truncate to ${n}`);
    }
  }

  /** kswapd and friends: reclaim a page off the LRU, migrate a mapper's pages, or write a file back */
  kswapd(): void {
    const r = prandom_below(8);
    if (r < 4) {
      set_path(EV_SHRINK);
      // a page of file A (the busiest cache) half the time, else any pfn (anon pages, file B, page tables)
      const pfn = prandom_below(2) === 0 ? radix_tree_lookup(FILE_A, prandom_below(A_PAGES)) : 1 + prandom_below(sizes.nr_pages - 1);
      span_begin(SP_SHRINK);
      // scanned twice, as the inactive list would pass it again: the first pass may only clear its referenced bits
      for (let pass = 0; pass < 2; pass++) {
        lru_add_drain(); // shrink_inactive_list's first step (E1/E2: a page the last pass kept waits in this CPU's pagevec)
        if (pfn === 0 || (page_flags(pfn) & PG_lru) === 0 || isolate_lru_page(pfn) !== 0) break;
        if (shrink_page_list(pfn) === PAGEOUT_FREED) break;
      }
      span_end(SP_SHRINK);
    } else if (r < 7) {
      // root migrates a mapper's pages (migratepages(8)), holding that mm's mmap_sem: file and anon pages alike
      const mms = this.ctx.setup.mms as number[];
      const victims = roles(this.ctx.nr_cpus).flatMap((role, c) => (role === 'mapper' || role === 'solo' ? [mms[c]] : []));
      if (victims.length === 0) return;
      set_path(EV_MIGRATE);
      span_begin(SP_MIGRATE);
      do_migrate_pages(victims[prandom_below(victims.length)], MPOL_MF_MOVE_ALL, this.list);
      span_end(SP_MIGRATE);
    } else {
      set_path(EV_FSYNC);
      const f = prandom_below(2) === 0 ? FILE_A : file_b_of(3 * prandom_below(Math.ceil(this.ctx.nr_cpus / 3)));
      do_fsync(f);
      trace_event(EV_FSYNC, f);
    }
  }
}

function run(ctx: CpuContext): void {
  const prog = new Program(ctx);
  // on 2 CPUs there is no kswapd CPU: the mapper does its work a quarter of the time
  const lone = !roles(ctx.nr_cpus).includes('kswapd');
  while (!ctx.should_stop()) {
    switch (ctx.role) {
      case 'filer': if (prandom_below(2) === 0) prog.file_a(); else prog.file_b(); break;
      case 'mapper': {
        if (lone && prandom_below(4) === 0) { prog.kswapd(); break; }
        const r = prandom_below(16);
        if (r < 7) prog.map_a(); else if (r < 10) prog.anon(); else if (r < 12) prog.peek_b(); else if (r < 14) prog.file_a(); else if (r === 14) prog.msync(); else prog.fork();
        break;
      }
      case 'kswapd': if (prandom_below(4) === 0) prog.file_a(); else prog.kswapd(); break;
      default: { // solo: every operation on one CPU
        const r = prandom_below(8);
        if (r === 0) prog.file_a(); else if (r === 1) prog.file_b(); else if (r === 2) prog.map_a(); else if (r === 3) prog.anon();
        else if (r === 4) prog.kswapd(); else if (r === 5) prog.msync(); else if (r === 6) prog.fork(); else prog.map_a();
      }
    }
    ctx.op_done();
  }
}

export const fileStress: Scenario = {
  name: 'file-stress',
  title: 'read, write, mmap stores, truncate, writeback, reclaim, fork and migration of file and anon pages together (no switch: the fixed kernel must hold)',
  patch: '001_390dd438745448cc',
  switches: [],
  windows: [WIN_PINNED_ACROSS_UNMAP], // cov: src/cpu/windows.ts
  eras: [E2, E1], // 2.6.18's migration with migration entries, or 2.6.16's through the swap cache (seed 001)
  description: 'files and the page cache under load with every checker armed, for the soak',
  expect_buggy: 'nothing: the scenario has no switch; run it with --expect clean',
  signature: /^user data: wrong data/,
  sizes: { nr_pages: 1024, nr_mm: 64, nr_vma: 256, nr_files: 4 },
  roles,
  setup,
  run,
};
