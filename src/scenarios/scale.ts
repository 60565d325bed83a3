// scale (issue 16 item 4): disjoint work, to show how the model scales with
// CPUs. Every CPU runs a process family of its own on pages of its own, and
// nothing else: no page, mm, vma or anon_vma is shared between CPUs. What
// the CPUs still meet is what the kernel itself shares between unrelated
// processes: zone->lock (page allocation and freeing), zone->lru_lock (the
// LRU), the mm/vma id allocators and mmlist_lock. Fixed protocol only: no
// switch is on and no race is looked for; the user-data checks are there so
// that a fast run is also a correct one.
//
// Each CPU runs the same fixed cycle of three operations whatever the CPU
// count, so the mix of work never changes with the number of CPUs (the
// orphan scenario's roles do) and ops/s at 1 and at 2 CPUs compare like
// with like:
//  - fork: fork its parent (copy_mm: every pte write-protected and copied),
//    the child reads every page, stores to every fourth (COW faults), then
//    exits (zap, put_page, free);
//  - program: the parent stores to each page of a second anonymous range
//    (anonymous faults: a page allocated, zeroed, put on the LRU), then
//    madvise(MADV_DONTNEED)s it (2.6.18's madvise_dontneed: zap_page_range
//    under mmap_sem for read; the pages freed), and stores to its own pages
//    (the write faults that reuse a page the fork left write-protected). Not
//    mmap and munmap: a new vma's first fault takes a new anon_vma, and the
//    model never reuses anon_vma ids;
//  - migrate: sys_move_pages of two of the parent's pages (isolate from the
//    LRU, unmap, copy to a new page, remap, free the old one).
import { PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import { E2 } from '../shm/era.js';
import { EV_DUP_MMAP, EV_MIGRATE, EV_USER } from '../cpu/events.js';
import { ACCESS_OK, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { PROT_READ, PROT_WRITE, mm_mmap_sem } from '../mm/mm_types.js';
import { do_mmap_anon, find_vma, mm_alloc } from '../mm/mmap.js';
import { zap_page_range } from '../mm/memory.js';
import { copy_mm, exit_mm } from '../mm/fork.js';
import { do_move_pages } from '../mm/migrate.js';
import { LC_MMAP_SEM } from '../sync/lock_class.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { BASE, must, set_path } from './family.js';
import type { CpuContext, Scenario, SetupState } from './types.js';

/** pages of each CPU's parent */
export const SCALE_PAGES = 16;
/** pages of the range the parent's program faults in and drops each time */
export const SCALE_FRESH = 16;
/** where that range goes: past the parent's own pages */
const FRESH = BASE + 2 * SCALE_PAGES * PAGE_SIZE;
/** pages each migration moves */
const MIGRATE_BATCH = 2;
/** the operation kinds, in the order every CPU cycles through them */
export const SCALE_OPS = ['fork', 'program', 'migrate'] as const;

/** the value word w of page p holds after the parent's n-th store to it (a tag per CPU, so a stray page shows) */
const value = (cpu: number, p: number, w: number, n: number) => ((cpu + 1) << 24) | (p << 16) | (w << 12) | (n & 0xfff);

function setup(nr_cpus: number): SetupState {
  const parents: number[] = [];
  for (let c = 0; c < nr_cpus; c++) {
    const mm = mm_alloc();
    if (mm === 0 || do_mmap_anon(mm, BASE, SCALE_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0 ||
        do_mmap_anon(mm, FRESH, SCALE_FRESH * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0) throw new Error('scale: setup: mmap failed');
    for (let p = 0; p < SCALE_PAGES; p++) {
      for (let w = 0; w < WORDS_PER_PAGE; w++) {
        user_access(mm, BASE + p * PAGE_SIZE, w, true, value(c, p, w, 0));
        if (mmu.status !== ACCESS_OK) throw new Error('scale: setup: initial store failed');
      }
    }
    parents.push(mm);
  }
  return { parents };
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/** one CPU's process family: its parent and what the parent last stored (only this CPU stores to it) */
class Own {
  readonly mm: number;
  /** the parent's stores so far to each word */
  private readonly gen = new Int32Array(SCALE_PAGES * WORDS_PER_PAGE);
  private readonly addrs = new Int32Array(MIGRATE_BATCH);
  private readonly list = new Int32Array(MIGRATE_BATCH);
  private next = 0;

  constructor(readonly cpu: number, setup: SetupState) {
    this.mm = (setup.parents as number[])[cpu];
  }

  private want(p: number, w: number): number { return value(this.cpu, p, w, this.gen[p * WORDS_PER_PAGE + w]); }

  private check(mm: number, p: number, w: number, what: string): void {
    const v = user_access(mm, BASE + p * PAGE_SIZE, w, false, 0);
    must(mmu.status === ACCESS_OK, what);
    if (v !== this.want(p, w)) fail(OOPS_SHADOW, `user data: ${what}: mm#${mm} at ${hex(BASE + p * PAGE_SIZE)} word ${w}: read ${hex(v)}, expected ${hex(this.want(p, w))}`, 0, mm, BASE + p * PAGE_SIZE);
  }

  /** fork, the child's program (reads all, COW-stores to every fourth page), exit */
  fork(): void {
    set_path(EV_DUP_MMAP);
    const child = copy_mm(this.mm);
    if (child < 0) return;
    switch_mm(child);
    for (let p = 0; p < SCALE_PAGES; p++) this.check(child, p, p % WORDS_PER_PAGE, 'child load');
    for (let p = 0; p < SCALE_PAGES; p += 4) {
      user_access(child, BASE + p * PAGE_SIZE, 0, true, 0x7fff0000 | p);
      must(mmu.status === ACCESS_OK, 'child store');
    }
    switch_mm(0);
    exit_mm(child);
  }

  /** the parent's program: the second range faulted in and dropped (MADV_DONTNEED), then stores to its own pages */
  program(): void {
    set_path(EV_USER);
    const mm = this.mm;
    switch_mm(mm);
    for (let p = 0; p < SCALE_FRESH; p++) {
      if (user_access(mm, FRESH + p * PAGE_SIZE, p & 7, false, 0) !== 0) fail(OOPS_SHADOW, `user data: mm#${mm} at ${hex(FRESH + p * PAGE_SIZE)}: a dropped page reads non-zero`, 0, mm, FRESH + p * PAGE_SIZE);
      user_access(mm, FRESH + p * PAGE_SIZE, p & 7, true, p + 1);
      must(mmu.status === ACCESS_OK, 'parent store (second range)');
    }
    madvise_dontneed(mm, FRESH, SCALE_FRESH * PAGE_SIZE);
    for (let p = 0; p < SCALE_PAGES; p += 2) {
      const w = (p >> 1) & 7;
      this.gen[p * WORDS_PER_PAGE + w] += 1;
      user_access(mm, BASE + p * PAGE_SIZE, w, true, this.want(p, w));
      must(mmu.status === ACCESS_OK, 'parent store');
      this.check(mm, (p + 1) % SCALE_PAGES, w, 'parent load');
    }
    switch_mm(0);
  }

  /** sys_move_pages of MIGRATE_BATCH of the parent's pages, in turn */
  migrate(): void {
    set_path(EV_MIGRATE);
    for (let k = 0; k < MIGRATE_BATCH; k++) this.addrs[k] = BASE + ((this.next++ * 5) % SCALE_PAGES) * PAGE_SIZE;
    do_move_pages(this.mm, this.addrs, MIGRATE_BATCH, false, this.list);
  }
}

/** sys_madvise(MADV_DONTNEED) of [addr, addr + len) in one vma: mmap_sem for read, zap_page_range (takes each PTL) */
function madvise_dontneed(mm: number, addr: number, len: number): void {
  const sem = mm_mmap_sem(mm);
  down_read(sem, LC_MMAP_SEM);
  const vma = find_vma(mm, addr);
  if (vma !== 0) zap_page_range(vma, addr, addr + len);
  up_read(sem);
}

function run(ctx: CpuContext): void {
  const own = new Own(ctx.cpu, ctx.setup);
  // each CPU starts the cycle at its own place, so 2 CPUs do not run the same kind in lockstep
  for (let k = ctx.cpu; !ctx.should_stop(); k++) {
    const op = k % SCALE_OPS.length;
    if (op === 0) own.fork();
    else if (op === 1) own.program();
    else own.migrate();
    ctx.op_done();
  }
}

export const scale: Scenario = {
  name: 'scale',
  title: 'disjoint process families, one per CPU: how the model scales (fixed protocol)',
  patch: '-',
  switches: [],
  eras: [E2],
  description: 'each CPU forks, faults, COWs and migrates its own process family on its own pages; ' +
    'CPUs meet only on what the kernel shares between unrelated processes (zone->lock, lru_lock, id allocators, mmlist_lock)',
  expect_buggy: 'nothing: no switch is on (a scaling workload, see mmrace bench scale)',
  // 16 + 16 pages per CPU and their children, page tables included, for up to 64 CPUs
  sizes: { nr_pages: 4096, nr_mm: 160, nr_vma: 512 },
  roles: (n) => Array.from({ length: n }, () => 'family'),
  setup,
  run,
};
