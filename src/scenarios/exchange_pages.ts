// Seed 002's scenarios (exchange pages, E4; kernel-notes 3.3, 4.8-4.10,
// 6.8-6.10). A process P owns anonymous pages (the `from` pool; its program,
// the toucher, stores and checks every word through the shadow); a file,
// mapped MAP_SHARED by a process Q whose program (the filer) stores, loads,
// reads and writes it against its own model, supplies the `to` pages. The
// exchanger pairs an anon page of P with a cached file page, isolates both
// and calls exchange_pages (MIGRATE_SYNC | MIGRATE_MT, the syscall's mode);
// kswapd reclaims file pages meanwhile; readers read with readahead, whose
// allocations compact by async exchange. Whatever the exchange does, every
// user must read back what it wrote: the exchange swaps pages under the
// addresses, never the data a user sees.
//
//  - exchange-abba (exchange-lock-order): two exchangers, pairs in opposite
//    orders, on pinned anon pages (the harness exchange_pinned, kernel-notes 8)
//  - exchange-async-readahead (exchange-async-mode-mask): readahead's own
//    compaction meets the page its batch holds locked
//  - exchange-freeze-unwind (exchange-freeze-no-unwind): a fault's reference
//    on from at the second freeze
//  - exchange-writeback (exchange-writeback-bug-on): fsync's writeback,
//    completed by the I/O agent on another CPU, on the to page
//  - exchange-writeback-busy (exchange-busy-unlock, a bug of the RFC
//    itself): sync-light exchanges give up on that writeback with -EBUSY and
//    leave the to page locked; the filer's next write(2) of it hangs
import { PAGE_SIZE, PG_lru, WORDS_PER_PAGE } from '../shm/layout.js';
import { i32, sizes } from '../shm/machine.js';
import { nr_free_pages } from '../mm/page_alloc.js'; // scale
import { E4 } from '../shm/era.js';
import { prandom_below } from '../cpu/current.js';
import { EV_EXCHANGE, EV_FILE_READ, EV_FILE_WRITE, EV_FSYNC, EV_READAHEAD, EV_SHRINK, EV_USER, SP_SHRINK, span_begin, span_end } from '../cpu/events.js';
import { ACCESS_OK, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { Shadow, initial_value } from '../check/shadow.js';
import { LC_MMAP_SEM } from '../sync/lock_class.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { PROT_READ, PROT_WRITE, mm_mmap_sem, page_flags } from '../mm/mm_types.js';
import { MAP_SHARED, do_mmap_anon, do_mmap_pgoff, mm_alloc } from '../mm/mmap.js';
import { FILE_OK, FIRST_FILE, do_fsync, file_backing, file_read, file_rw, file_write, find_get_page, i_size_write, radix_tree_lookup } from '../mm/filemap.js';
import { FOLL_GET, follow_page } from '../mm/memory.js';
import { isolate_lru_page, put_page, putback_lru_page } from '../mm/swap.js';
import { shrink_page_list } from '../mm/vmscan.js';
import { exchange_pages, exchange_pinned } from '../mm/exchange.js';
import { MIGRATE_MT, MIGRATE_SYNC, MIGRATE_SYNC_LIGHT } from '../mm/migrate_mode.js';
import { set_compact_low_mark } from '../mm/compaction.js';
import { page_cache_readahead } from '../mm/readahead.js';
import { invalidate_mapping_pages } from '../mm/truncate.js';
import { BASE, cycle_roles, must, set_path } from './family.js';
import type { CpuContext, Scenario, SetupState } from './types.js';
import { WIN_EXCHANGE_FREEZE_FROM_FAILED, WIN_EXCHANGE_SECOND_LOCKED, WIN_EXCHANGE_TO_WRITEBACK } from '../cpu/windows.js'; // cov

const FILE = FIRST_FILE;
/** Q's shared mapping of the file */
const QMAP = 0x80000;
const hex = (n: number) => '0x' + (n >>> 0).toString(16);
/** pairs per exchange_pages call of the exchanger */
const PAIRS = 4;
/** the file's initial word w of page p (setup's, before any user wrote) */
const file_initial = (p: number, w: number) => (0x7d << 24) | (p << 8) | w;

/** P with `npages` anon pages written with known values; the file's first `fpages` pages cached (written, or only on disk) and mapped by Q */
function exchange_setup(npages: number, fpages: number, cached: boolean, mapped: boolean): SetupState {
  const p = mm_alloc();
  if (do_mmap_anon(p, BASE, npages * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0) throw new Error('setup: mmap failed');
  for (let pg = 0; pg < npages; pg++) {
    for (let w = 0; w < WORDS_PER_PAGE; w++) {
      user_access(p, BASE + pg * PAGE_SIZE, w, true, initial_value(pg, w));
      if (mmu.status !== ACCESS_OK) throw new Error('setup: initial store failed');
    }
  }
  let q = 0;
  if (fpages > 0) {
    if (cached) {
      // write(2) caches every page (dirty, with buffers) and sets i_size
      for (let pg = 0; pg < fpages; pg++) for (let w = 0; w < WORDS_PER_PAGE; w++) file_write(FILE, pg, w, file_initial(pg, w));
    } else {
      // on disk only: the page cache starts empty
      for (let pg = 0; pg < fpages; pg++) for (let w = 0; w < WORDS_PER_PAGE; w++) i32[file_backing(FILE, pg) + w] = file_initial(pg, w);
      i_size_write(FILE, fpages);
    }
    if (mapped) {
      q = mm_alloc();
      if (do_mmap_pgoff(q, QMAP, fpages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FILE, 0) < 0) throw new Error('setup: mmap of the file failed');
      for (let pg = 0; pg < fpages; pg++) user_access(q, QMAP + pg * PAGE_SIZE, 0, false, 0);
    }
  }
  return { p, q, npages, fpages, free: nr_free_pages() }; // scale: the buddy's and the per-CPU lists'
}

/** one CPU's part of an exchange scenario */
class Exchange {
  readonly p: number;
  readonly q: number;
  readonly npages: number;
  readonly fpages: number;
  /** P's program (the toucher's, or solo's) */
  readonly shadow: Shadow | null;
  /** the file as the filer left it (one filer per run) */
  private readonly fdata: Int32Array;
  private readonly pairs = new Int32Array(2 * PAIRS);
  private counter = 1;

  constructor(readonly ctx: CpuContext, owner: boolean) {
    const s = ctx.setup;
    this.p = s.p as number; this.q = s.q as number; this.npages = s.npages as number; this.fpages = s.fpages as number;
    this.shadow = owner ? new Shadow(this.p, BASE, this.npages, ctx.cpu + 1, 'anon') : null;
    this.fdata = new Int32Array(Math.max(1, this.fpages) * WORDS_PER_PAGE);
    for (let pg = 0; pg < this.fpages; pg++) for (let w = 0; w < WORDS_PER_PAGE; w++) this.fdata[pg * WORDS_PER_PAGE + w] = file_initial(pg, w);
  }

  /** P's program: stores and checks on its pages (faults meet the exchanger's migration entries) */
  touch(): void {
    set_path(EV_USER);
    switch_mm(this.p);
    for (let k = 0; k < 8; k++) {
      const a = prandom_below(this.npages), b = prandom_below(this.npages);
      must(this.shadow!.store(a, prandom_below(WORDS_PER_PAGE)), 'store');
      must(this.shadow!.check(b, prandom_below(WORDS_PER_PAGE)), 'load');
    }
    switch_mm(0);
  }

  /** the page mapped at P's anon page pg, with a reference (follow_page under P's mmap_sem), or 0 */
  private anon_page(pg: number): number {
    const sem = mm_mmap_sem(this.p);
    down_read(sem, LC_MMAP_SEM);
    try {
      return follow_page(this.p, BASE + pg * PAGE_SIZE, FOLL_GET);
    } finally {
      up_read(sem);
    }
  }

  /**
   * the exchanger: up to PAIRS (anon page of P, cached page of the file)
   * pairs, each page isolated (its lookup reference dropped; isolation is
   * exclusive, so the pages are distinct), then one exchange_pages call with
   * the syscall's mode (one call in `light`: MIGRATE_SYNC_LIGHT, which gives
   * up on writeback instead of waiting)
   */
  exchange(light = 8): void {
    set_path(EV_EXCHANGE);
    let nr = 0;
    for (let k = 0; k < PAIRS; k++) {
      const a = this.anon_page(prandom_below(this.npages));
      if (a === 0) continue;
      const ok = isolate_lru_page(a) === 0;
      put_page(a);
      if (!ok) continue;
      const f = find_get_page(FILE, prandom_below(this.fpages));
      if (f === 0 || isolate_lru_page(f) !== 0) {
        if (f !== 0) put_page(f);
        putback_lru_page(a);
        continue;
      }
      put_page(f);
      this.pairs[2 * nr] = a; this.pairs[2 * nr + 1] = f;
      nr++;
    }
    if (nr > 0) exchange_pages(this.pairs, nr, (prandom_below(light) === 0 ? MIGRATE_SYNC_LIGHT : MIGRATE_SYNC) | MIGRATE_MT);
  }

  /** the abba harness: two anon pages of P, pinned (not isolated), exchanged p -> q (`rev`: q -> p) */
  exchange_pinned(rev: boolean): void {
    set_path(EV_EXCHANGE);
    let x = prandom_below(this.npages), y = prandom_below(this.npages - 1);
    if (y >= x) y++;
    if (x > y) { const t = x; x = y; y = t; }
    const a = this.anon_page(rev ? y : x);
    if (a === 0) return;
    const b = this.anon_page(rev ? x : y);
    if (b === 0) { put_page(a); return; }
    exchange_pinned(a, b, MIGRATE_SYNC | MIGRATE_MT);
  }

  private next(): number { return ((this.ctx.cpu + 1) << 24) | (this.counter++ & 0xffffff); }
  private wrong(what: string, got: number, want: number): never {
    fail(OOPS_SHADOW, `user data: wrong data in ${what}: read ${hex(got)}, expected ${hex(want)}`);
  }

  /** Q's program and its file calls: stores and loads through the mapping, read(2), write(2), fsync */
  file(fsync_weight: number): void {
    const pg = prandom_below(this.fpages), w = prandom_below(WORDS_PER_PAGE);
    const at = pg * WORDS_PER_PAGE + w;
    const r = prandom_below(8 + fsync_weight);
    if (r < 2) {
      set_path(EV_USER);
      switch_mm(this.q);
      const v = this.next();
      user_access(this.q, QMAP + pg * PAGE_SIZE, w, true, v);
      switch_mm(0);
      must(mmu.status === ACCESS_OK, 'store to the shared file mapping');
      this.fdata[at] = v;
    } else if (r < 4) {
      set_path(EV_USER);
      switch_mm(this.q);
      const got = user_access(this.q, QMAP + pg * PAGE_SIZE, w, false, 0);
      switch_mm(0);
      must(mmu.status === ACCESS_OK, 'load from the shared file mapping');
      if (got !== this.fdata[at]) this.wrong(`file#${FILE} through MAP_SHARED mm#${this.q} at ${hex(QMAP + pg * PAGE_SIZE)} word ${w}`, got, this.fdata[at]);
    } else if (r < 6) {
      set_path(EV_FILE_READ);
      const got = file_read(FILE, pg, w);
      if (file_rw.status !== FILE_OK) fail(OOPS_SHADOW, `user program: read(2) of file#${FILE} page ${pg} failed (${file_rw.status})`);
      if (got !== this.fdata[at]) this.wrong(`file#${FILE} page ${pg} word ${w} (read(2))`, got, this.fdata[at]);
    } else if (r < 8) {
      set_path(EV_FILE_WRITE);
      const v = this.next();
      file_write(FILE, pg, w, v);
      if (file_rw.status !== FILE_OK) fail(OOPS_SHADOW, `user program: write(2) of file#${FILE} page ${pg} failed (${file_rw.status})`);
      this.fdata[at] = v;
    } else {
      set_path(EV_FSYNC);
      do_fsync(FILE); // writeback of every dirty page: the I/O agent completes it on some CPU
    }
  }

  /** kswapd: reclaim a cached file page (clean ones leave the cache, dirty ones are written) or an anon page (no swap: it stays) */
  kswapd(): void {
    set_path(EV_SHRINK);
    const pfn = this.fpages > 0 && prandom_below(4) !== 0 ? radix_tree_lookup(FILE, prandom_below(this.fpages)) : 1 + prandom_below(sizes.nr_pages - 1);
    span_begin(SP_SHRINK);
    if (pfn !== 0 && (page_flags(pfn) & PG_lru) !== 0 && isolate_lru_page(pfn) === 0) shrink_page_list(pfn);
    span_end(SP_SHRINK);
  }

  /**
   * a reader: readahead of 2-4 pages of its half of the file that are not
   * cached, then every word checked through read(2), then the pages
   * dropped again (fadvise DONTNEED), so the next read misses
   */
  read_ahead(half: number): void {
    set_path(EV_READAHEAD);
    const span = this.fpages / 2;
    const n = 2 + prandom_below(3);
    const start = half * span + prandom_below(span - n + 1);
    page_cache_readahead(FILE, start, n);
    set_path(EV_FILE_READ);
    for (let pg = start; pg < start + n; pg++) {
      const w = prandom_below(WORDS_PER_PAGE);
      const got = file_read(FILE, pg, w);
      if (file_rw.status !== FILE_OK) fail(OOPS_SHADOW, `user program: read(2) of file#${FILE} page ${pg} failed (${file_rw.status})`);
      if (got !== file_initial(pg, w)) this.wrong(`file#${FILE} page ${pg} word ${w} (read(2) after readahead)`, got, file_initial(pg, w));
    }
    invalidate_mapping_pages(FILE, start, start + n);
  }
}

/** the CPU loop: each role's operation until stop */
function run_roles(ctx: CpuContext, roles: (n: number) => string[], body: (x: Exchange, role: string) => void, lone = ''): void {
  const r = roles(ctx.nr_cpus);
  const owner = r.indexOf('toucher') >= 0 ? r.indexOf('toucher') === ctx.cpu : ctx.role === 'solo';
  const x = new Exchange(ctx, owner);
  // no kswapd CPU (3 CPUs): the `lone` role reclaims a quarter of the time, so reclaim always runs
  const reclaim_too = ctx.role === lone && !r.includes('kswapd');
  while (!ctx.should_stop()) {
    if (reclaim_too && prandom_below(4) === 0) x.kswapd();
    else body(x, ctx.role);
    ctx.op_done();
  }
}

const abba_roles = cycle_roles(['exchanger-fwd', 'exchanger-rev', 'toucher'], ['exchanger-fwd', 'exchanger-rev']);

export const exchangeAbba: Scenario = {
  name: 'exchange-abba',
  title: 'two exchangers lock the same pages in opposite orders and sleep on each other\'s page lock (the deadlock seed 002\'s message names)',
  patch: '002_19ad3c618e26d64a',
  switches: ['exchange-lock-order'],
  windows: [WIN_EXCHANGE_SECOND_LOCKED], // cov: src/cpu/windows.ts
  eras: [E4],
  description: 'models the hazard the seed names ("we might need to lock multiple files ... which could cause deadlocks easily"), ' +
    'not a line it changes: unmap_and_exchange sleeps in lock_page(to) holding from; fixed: trylock to, else unlock from, wait, -EAGAIN. ' +
    'Pages pinned, not isolated (harness exchange_pinned: isolation keeps real exchangers apart)',
  expect_buggy: 'a deadlock: each exchanger waits for the page lock the other holds (hung task / wait-for cycle, exit 3)',
  // the scenario's own text: its exchangers' hung-task report or their wait-for cycle, not any liveness failure
  signature: /INFO: task exchanger-(fwd|rev):\d+ blocked for more than \d+ seconds|deadlock: CPU \d+ \(exchanger-(fwd|rev)\) waits for PG_locked/,
  sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32, nr_files: 1 },
  roles: abba_roles,
  setup: () => exchange_setup(4, 0, false, false),
  run: (ctx) => run_roles(ctx, abba_roles, (x, role) => {
    switch (role) {
      case 'exchanger-fwd': x.exchange_pinned(false); break;
      case 'exchanger-rev': x.exchange_pinned(true); break;
      case 'toucher': x.touch(); break;
      case 'kswapd': x.kswapd(); break;
      default: { const r = prandom_below(3); if (r === 0) x.exchange_pinned(prandom_below(2) === 0); else if (r === 1) x.touch(); else x.kswapd(); }
    }
  }),
};

const readahead_roles = cycle_roles(['reader', 'reader', 'toucher'], ['kswapd']);

export const exchangeAsyncReadahead: Scenario = {
  name: 'exchange-async-readahead',
  title: 'readahead\'s allocation compacts by async exchange and meets the page its own batch holds locked',
  patch: '002_19ad3c618e26d64a',
  switches: ['exchange-async-mode-mask'],
  windows: [WIN_EXCHANGE_SECOND_LOCKED], // cov: src/cpu/windows.ts
  eras: [E4],
  description: 'unmap_and_exchange tests the whole mode word: MIGRATE_ASYNC | MIGRATE_MT is not async, so the compaction of an ' +
    'allocation (PF_MEMALLOC) sleeps on a page lock, here the readahead page its own task holds (kernel-notes 4.9)',
  expect_buggy: 'mmrace: C-ASYNC: async migration might sleep on a page lock (a readahead page its own batch, or the other reader\'s, holds locked)',
  signature: /C-ASYNC: async migration might sleep/,
  sizes: { nr_pages: 160, nr_mm: 8, nr_vma: 32, nr_files: 1 },
  roles: readahead_roles,
  setup: () => exchange_setup(32, 32, false, false),
  run: (ctx) => {
    // about every allocation past the first few of a batch compacts (kernel-notes 6.9)
    set_compact_low_mark((ctx.setup.free as number) - 3);
    const readers = readahead_roles(ctx.nr_cpus).flatMap((r, c) => (r === 'reader' ? [c] : []));
    run_roles(ctx, readahead_roles, (x, role) => {
      switch (role) {
        case 'reader': x.read_ahead(readers.indexOf(ctx.cpu) % 2); break;
        case 'toucher': x.touch(); break;
        case 'kswapd': x.kswapd(); break;
        default: if (prandom_below(2) === 0) x.read_ahead(prandom_below(2)); else x.touch();
      }
    }, 'toucher');
  },
};

const freeze_roles = cycle_roles(['exchanger', 'toucher', 'filer'], ['kswapd']);

export const exchangeFreezeUnwind: Scenario = {
  name: 'exchange-freeze-unwind',
  title: 'the second freeze fails (a fault holds a reference on the anon page) and the file page is left frozen at refcount 0',
  patch: '002_19ad3c618e26d64a',
  switches: ['exchange-freeze-no-unwind'],
  windows: [WIN_EXCHANGE_FREEZE_FROM_FAILED], // cov: src/cpu/windows.ts
  eras: [E4],
  description: 'exchange_page_move_mapping freezes the file page, then fails to freeze the anon page (a migration-entry waiter\'s ' +
    'reference) and returns -EAGAIN without unfreezing the file page (kernel-notes 4.10)',
  expect_buggy: 'mmrace: C-FREEZE: the file page left frozen (refcount 0) at xa_unlock',
  // the check fires at the very xa_unlock that leaves the page frozen, before any user of the page can trip on it
  signature: /C-FREEZE: pfn \d+ left frozen \(refcount 0\) as exchange_page_move_mapping released xa_lock/,
  sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32, nr_files: 1 },
  roles: freeze_roles,
  setup: () => exchange_setup(8, 8, true, true),
  run: (ctx) => run_roles(ctx, freeze_roles, (x, role) => {
    switch (role) {
      case 'exchanger': x.exchange(); break;
      case 'toucher': x.touch(); break;
      case 'filer': x.file(0); break;
      case 'kswapd': x.kswapd(); break;
      default: { const r = prandom_below(3); if (r === 0) x.exchange(); else if (r === 1) x.touch(); else x.file(1); }
    }
  }, 'filer'),
};

const writeback_roles = cycle_roles(['exchanger', 'filer', 'toucher'], ['kswapd']);

export const exchangeWriteback: Scenario = {
  name: 'exchange-writeback',
  title: 'exchange meets a file page under writeback that the I/O agent completes on another CPU',
  patch: '002_19ad3c618e26d64a',
  switches: ['exchange-writeback-bug-on'],
  windows: [WIN_EXCHANGE_TO_WRITEBACK], // cov: src/cpu/windows.ts
  eras: [E4],
  description: 'unmap_and_exchange before the patch: BUG_ON(PageWriteback(to_page)) once both pages are locked; the patch waits ' +
    '(MIGRATE_SYNC) or gives up with -EBUSY (async, sync-light). fsync starts the writes; another CPU completes them',
  expect_buggy: 'kernel BUG: BUG_ON(PageWriteback(to_page)) in unmap_and_exchange',
  signature: /BUG_ON\(PageWriteback\(to_page\)\) in unmap_and_exchange/,
  sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32, nr_files: 1 },
  roles: writeback_roles,
  setup: () => exchange_setup(8, 8, true, true),
  run: (ctx) => run_roles(ctx, writeback_roles, (x, role) => {
    switch (role) {
      case 'exchanger': x.exchange(); break;
      case 'filer': x.file(4); break;
      case 'toucher': x.touch(); break;
      case 'kswapd': x.kswapd(); break;
      default: { const r = prandom_below(3); if (r === 0) x.exchange(); else if (r === 1) x.touch(); else x.file(4); }
    }
  }, 'filer'),
};


const busy_roles = cycle_roles(['exchanger', 'filer', 'toucher'], ['kswapd']);

export const exchangeWritebackBusy: Scenario = {
  name: 'exchange-writeback-busy',
  title: 'a sync-light exchange gives up on a file page under writeback (-EBUSY) and leaves it locked; the next write(2) of it hangs',
  patch: '002_19ad3c618e26d64a',
  switches: ['exchange-busy-unlock'],
  windows: [WIN_EXCHANGE_TO_WRITEBACK], // cov: src/cpu/windows.ts
  eras: [E4],
  description: 'a bug in the RFC itself, found by the model (not a hunk the seed fixes): the patch\'s -EBUSY exit for a to_page under ' +
    'writeback does `goto out_unlock`, a label past unlock_page(to_page), so in async and sync-light mode to_page stays locked; ' +
    'the filer (write(2), stores through its MAP_SHARED mapping) then sleeps on that page lock for good. Fixed: unlock both',
  expect_buggy: 'the exchanger returns to user space with the page lock held (lockdep\'s "lock held when returning to user space", exit 1), or a user of the file hangs on it (liveness, exit 3), or I-LOCKED at the end',
  // the exchanger's operation ended with the lock held; or the users of the file pages (or the exchanger itself, retrying
  // that page) hung on the page lock; or the lock still held at the end
  signature: /exchanger\/\d+ is leaving the kernel with locks still held!\n\d+ locks? held by exchanger\/\d+:\n #0:  \(PG_locked|INFO: task (filer|exchanger):\d+ blocked for more than \d+ seconds|I-LOCKED/,
  sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32, nr_files: 1 },
  roles: busy_roles,
  setup: () => exchange_setup(8, 8, true, true),
  run: (ctx) => run_roles(ctx, busy_roles, (x, role) => {
    switch (role) {
      case 'exchanger': x.exchange(1); break;
      case 'filer': x.file(4); break;
      case 'toucher': x.touch(); break;
      case 'kswapd': x.kswapd(); break;
      default: { const r = prandom_below(3); if (r === 0) x.exchange(1); else if (r === 1) x.touch(); else x.file(4); }
    }
  }, 'filer'),
};
