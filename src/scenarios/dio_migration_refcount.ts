// Seed 001's reference check: migration must see every holder of the old
// page, and a get_user_pages pin is visible only in the page's count. A
// direct-I/O read into user memory (the `dio` role) pins a page, drops
// mmap_sem and waits for its I/O; meanwhile the migrator unmaps the page
// and switches its cache slot to a new page under tree_lock. Fixed: the
// count is checked again under tree_lock, finds the pin, and the migration
// backs out (-EAGAIN). Buggy (migrate-no-refcount-recheck): the slot moves,
// the data is copied, the ptes come back on the new page, and the I/O's
// store lands in the old page, which nobody maps any more: the program
// reads its buffer back and finds the old data, a lost write.
//
// E2 (2.6.18, default): the pages are swap-cache pages (swapped out and
// faulted back in read-only at setup), so migration makes swap ptes and
// the check is migrate_page_move_mapping's; the pin may be taken at any
// time before the unmap. E1 (2.6.16, --era 1): migration itself puts the
// page in the swap cache; the pin must come between the unlocked first test
// and the unmap in migrate_page_remove_references.
//
// Roles: migrator (sys_migrate_pages of the process, holding its mmap_sem
// for read), dio (pins a page of its buffer, I/O time, stores into the
// pinned page, reads it back), toucher (the program's other thread: stores
// and checks on its own pages).
//
// Each thread owns whole pages, never words of a page another thread uses:
// 2.6.18's do_wp_page copies a page whose trylock_page fails (a migrator or
// reclaim holds it) even when the faulting mm is its only mapper, so a store
// by another thread to a page under direct I/O can move that mm to a copy
// and leave the I/O's store in the pinned original, in either protocol: the
// get_user_pages/COW race, a bug of its own that the kernel closed only
// with FOLL_PIN (5.8-5.9), and the reason O_DIRECT buffers were not to
// share pages with data other threads write.
import { PAGE_SIZE, SWAP_SLOTS, USER_PAGES, WORDS_PER_PAGE } from '../shm/layout.js';
import { i32, phys_base } from '../shm/machine.js';
import { E1, E2, ERA } from '../shm/era.js';
import { prandom_below } from '../cpu/current.js';
import { EV_DIO, EV_MIGRATE, EV_USER, SP_MIGRATE, span_begin, span_end, trace_event } from '../cpu/events.js';
import { ACCESS_OK, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { cond_resched } from '../sync/preempt.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { LC_MMAP_SEM } from '../sync/lock_class.js';
import { Shadow, initial_value } from '../check/shadow.js';
import { PROT_READ, PROT_WRITE, PageSwapCacheP, mm_mmap_sem } from '../mm/mm_types.js';
import { do_mmap_anon, mm_alloc } from '../mm/mmap.js';
import { get_user_pages, set_page_dirty_lock } from '../mm/memory.js';
import { MPOL_MF_MOVE, do_migrate_pages } from '../mm/mempolicy.js';
import { isolate_lru_page, lru_add_drain, put_page } from '../mm/swap.js';
import { shrink_page_list } from '../mm/vmscan.js';
import { lookup_swap_cache } from '../mm/swap_state.js';
import { sys_swapon } from '../mm/swapfile.js';
import { pte_offset, pte_table } from '../mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present } from '../mm/pgtable.js';
import { pte_to_swp_entry } from '../mm/swapops.js';
import { blk_drain } from '../cpu/io.js';
import { BASE, cycle_roles, must, must_syscall, set_path } from './family.js';
import type { CpuContext, Scenario, SetupState } from './types.js';
import { WIN_PINNED_ACROSS_UNMAP } from '../cpu/windows.js'; // cov

const NPAGES = 8;
/**
 * the largest device the model has: E1's migration takes a slot for every
 * anon page it moves and frees it at once, so the slots go round fast, and
 * a faulter that sleeps for a lap of them can meet do_swap_page's ABA (its
 * VM_FAULT_OOM back-out sees the same entry value in the pte again: a
 * spurious OOM kill or -ENOMEM; test/swapin_oom_aba.test.ts). A 64-slot
 * device met it in about 1 run in 100 of the fixed E1 run on a loaded
 * machine; a lap four times longer makes it that much rarer. It is a race of
 * the kernel's own, not of the seed: kernel swap devices lap in hours.
 */
const DEVICE_SLOTS = SWAP_SLOTS;
/** the I/O takes 0..IO_US µs */
const IO_US = 200;

const roles = cycle_roles(['migrator', 'dio', 'toucher'], ['dio', 'toucher']);

/** reclaim one page of mm to swap: a few passes (the first may only clear young bits; the write completes between) */
function swap_out(mm: number, addr: number): void {
  for (let k = 0; k < 8; k++) {
    lru_add_drain(); // each pass is a shrink_inactive_list, whose first step this is (E1/E2: a page kept by the last pass waits in the pagevec)
    const table = pte_table(mm, addr);
    const pte = Atomics.load(i32, pte_offset(table, addr));
    let pfn = pte_present(pte) ? pte_pfn(pte) : 0;
    if (pfn === 0 && is_swap_pte(pte)) {
      pfn = lookup_swap_cache(pte_to_swp_entry(pte));
      if (pfn === 0) return; // out, and out of the swap cache
      put_page(pfn); // the swap cache still holds it
    }
    if (pfn === 0 || isolate_lru_page(pfn) !== 0) break;
    shrink_page_list(pfn);
    blk_drain();
  }
  throw new Error(`setup: page at 0x${addr.toString(16)} would not swap out`);
}

function setup(): SetupState {
  const mm = mm_alloc();
  if (do_mmap_anon(mm, BASE, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0) throw new Error('setup: mmap failed');
  for (let p = 0; p < NPAGES; p++) {
    for (let w = 0; w < WORDS_PER_PAGE; w++) {
      user_access(mm, BASE + p * PAGE_SIZE, w, true, initial_value(p, w));
      if (mmu.status !== ACCESS_OK) throw new Error('setup: initial store failed');
    }
  }
  if (sys_swapon(DEVICE_SLOTS, 0) !== 0) throw new Error('setup: swapon failed');
  if (ERA.id === E2) {
    // 2.6.18 migrates a plain anon page with migration entries, whose unlocked count test is safe; the
    // refcount re-check guards swap-cache pages: swap each page out, then read it back (it stays cached)
    for (let p = 0; p < NPAGES; p++) {
      const addr = BASE + p * PAGE_SIZE;
      swap_out(mm, addr);
      user_access(mm, addr, 0, false, 0);
      const pte = Atomics.load(i32, pte_offset(pte_table(mm, addr), addr));
      if (mmu.status !== ACCESS_OK || !pte_present(pte) || !PageSwapCacheP(pte_pfn(pte))) throw new Error('setup: swap-in did not leave the page in the swap cache');
    }
  }
  return { parent: mm, npages: NPAGES };
}

/** one CPU's part */
class Dio {
  readonly mm: number;
  readonly shadow: Shadow;
  private readonly list = new Int32Array(USER_PAGES);
  private readonly pages = new Int32Array(1);
  /** the (page, word) pairs this CPU's program owns, as page * WORDS_PER_PAGE + word (one writer per word) */
  private readonly mine: number[] = [];

  constructor(readonly ctx: CpuContext) {
    this.mm = ctx.setup.parent as number;
    this.shadow = new Shadow(this.mm, BASE, NPAGES, ctx.cpu + 1, 'parent');
    // the pages are shared out among the CPUs that run the program (dio and toucher), whole pages each
    const owners = roles(ctx.nr_cpus).flatMap((r, c) => (r === 'dio' || r === 'toucher' || r === 'solo' ? [c] : []));
    for (let p = 0; p < NPAGES; p++) {
      if (owners[p % owners.length] === ctx.cpu) for (let w = 0; w < WORDS_PER_PAGE; w++) this.mine.push(p * WORDS_PER_PAGE + w);
    }
  }

  /** one of this CPU's (page, word) pairs, at random */
  private pick(): number {
    return this.mine[prandom_below(this.mine.length)];
  }

  /** sys_migrate_pages of the process (2.6.16 and 2.6.18 alike): its mmap_sem for read, every page it maps */
  migrate(): void {
    set_path(EV_MIGRATE);
    span_begin(SP_MIGRATE);
    do_migrate_pages(this.mm, MPOL_MF_MOVE, this.list);
    span_end(SP_MIGRATE);
  }

  /**
   * dio_read_into_user (kernel-notes 3.2.4): pin one page of the buffer for
   * writing, drop mmap_sem, let the I/O take its time, store the data into
   * the pinned page with no lock held, dirty it, unpin; then the program
   * reads its buffer back through the MMU
   */
  dio(): void {
    set_path(EV_DIO);
    const pw = this.pick();
    const p = (pw / WORDS_PER_PAGE) | 0, w = pw % WORDS_PER_PAGE;
    const addr = BASE + p * PAGE_SIZE;
    switch_mm(this.mm);
    const sem = mm_mmap_sem(this.mm);
    down_read(sem, LC_MMAP_SEM);
    let n: number;
    try {
      n = get_user_pages(this.mm, addr, 1, true, this.pages);
    } finally {
      up_read(sem);
    }
    must_syscall(n, 1, 'direct I/O: get_user_pages');
    const page = this.pages[0];
    io_time(prandom_below(IO_US + 1));
    const v = this.shadow.next_value();
    Atomics.store(i32, phys_base(page) + w, v);
    trace_event(EV_DIO, this.mm, addr, page, v);
    set_page_dirty_lock(page);
    put_page(page);
    this.shadow.expect(p, w, v);
    must(this.shadow.check(p, w), 'read of the I/O buffer');
    switch_mm(0);
  }

  /** the program's other thread: stores and checks on its own pages */
  touch(): void {
    set_path(EV_USER);
    switch_mm(this.mm);
    for (let k = 0; k < 8; k++) {
      const a = this.pick(), b = this.pick();
      must(this.shadow.store((a / WORDS_PER_PAGE) | 0, a % WORDS_PER_PAGE), 'store');
      must(this.shadow.check((b / WORDS_PER_PAGE) | 0, b % WORDS_PER_PAGE), 'load');
    }
    switch_mm(0);
  }
}

/**
 * the I/O's time: `us` µs in which the program's thread waits (sleeps, in
 * the kernel) while the other CPUs go on: a preemption point every 10 µs,
 * so that under the controlled executor the wait is a stretch of steps in
 * which another CPU may run (their number depends on `us` only, never on
 * wall time: a replay takes the same steps), and a spin between them
 */
function io_time(us: number): void {
  for (let k = 0; k <= us / 10; k++) {
    cond_resched();
    const t0 = performance.now();
    while (performance.now() - t0 < 0.01) { /* the transfer */ }
  }
}

function run(ctx: CpuContext): void {
  const d = new Dio(ctx);
  while (!ctx.should_stop()) {
    switch (ctx.role) {
      case 'migrator': d.migrate(); break;
      case 'dio': d.dio(); break;
      case 'toucher': d.touch(); break;
      default: { const r = prandom_below(3); if (r === 0) d.migrate(); else if (r === 1) d.dio(); else d.touch(); }
    }
    ctx.op_done();
  }
}

export const dioMigrationRefcount: Scenario = {
  name: 'dio-migration-refcount',
  title: 'migration switches the cache slot of a page pinned by get_user_pages: the direct I/O\'s data is lost',
  patch: '001_390dd438745448cc',
  switches: ['migrate-no-refcount-recheck'],
  windows: [WIN_PINNED_ACROSS_UNMAP], // cov: src/cpu/windows.ts
  eras: [E2, E1],
  description: 'the slot switch under tree_lock trusts the unlocked reference test (E1: migrate_page_remove_references; ' +
    'E2: migrate_page_move_mapping); a get_user_pages pin taken before the unmap is not seen',
  expect_buggy: 'user data: lost write (the I/O stored into the old page after migration moved its pte to the new one)',
  signature: /^user data: lost write in/,
  sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32 },
  roles,
  setup,
  run,
};
