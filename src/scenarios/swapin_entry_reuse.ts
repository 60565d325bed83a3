// 2.6.32's do_swap_page recheck, found missing by swap-stress here: after
// lock_page, 2.6.18 trusts pte_same alone. A faulter looks up the swap-cache
// page of entry E and sleeps on its lock; meanwhile swapoff brings E's page
// back into every pte and drops it from the swap cache, swapon gives the
// device the same type, and reclaim swaps the same pte out again to the same
// slot: the pte reads E once more (an ABA). The faulter wakes, sees
// pte_same, and maps its old page, whose data went stale when the program
// stored through the page swapoff had mapped. 2.6.32 also checks that the
// page is still the swap-cache page of E (PageSwapCache && page_private ==
// E) and retries. A small device makes the same slot come back often, and a
// parent of two pages (one sibling sharing them, children forked again and
// again) keeps every CPU on the same pages: the chain is swapoff (the
// faulter's page leaves the cache), swapon, the parent's store COWing the
// page it shares with a child, and reclaim of that copy to the same slot,
// all while the faulter is preempted (7 CPUs on 2 cores, heavy jitter).
// E2's pagevecs hide a new page from reclaim until its CPU drains them, so
// the parent's two threads reclaim directly after each operation that
// allocated (see allocating): the COW copy reaches the LRU there.
import { BASE, Family, cycle_roles, must, run_family, set_path } from './family.js';
import { ACCESS_OK, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { EV_USER } from '../cpu/events.js';
import { CPUSTAT, PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import { swap_cycle, swap_family_setup } from './swap_stress.js';
import type { CpuContext, Scenario } from './types.js';
import { current, prandom_below } from '../cpu/current.js';
import { i32 } from '../shm/machine.js';
import { WIN_SWAPIN_PAGE_GONE } from '../cpu/windows.js'; // cov

const roles = cycle_roles(['swapper', 'toucher', 'reader', 'reclaimer', 'forker', 'reclaimer', 'migrator'], ['reader', 'reclaimer']);

/**
 * a second thread of the parent's program: it reads pages at random (their values
 * are the toucher's to check), so its faults on swapped-out pages sleep in
 * do_swap_page's lock_page while swapoff holds the page
 */
function read_all(f: Family): void {
  set_path(EV_USER);
  switch_mm(f.parent);
  for (let k = 0; k < 8; k++) {
    const p = prandom_below(f.npages);
    user_access(f.parent, BASE + p * PAGE_SIZE, p % WORDS_PER_PAGE, false, 0);
    must(mmu.status === ACCESS_OK, 'parent read');
  }
  switch_mm(0);
}
const DEVICE_SLOTS = 8;

/** this CPU's allocations for the parent's threads so far: COW copies and swap-ins */
const allocated = () => i32[current.stat + CPUSTAT.cow] + i32[current.stat + CPUSTAT.swapins];

/**
 * One operation of the parent's two threads (`op`), on a machine short of
 * memory: an operation that allocated (a COW copy, a swap-in) reclaims
 * directly, as 2.6.x's __alloc_pages did once the watermarks failed
 * (try_to_free_pages), on this CPU, whose LRU pagevecs that reclaim drains
 * first (shrink_inactive_list's lru_add_drain; E1/E2). Without it their new
 * pages wait in those pagevecs, where the reclaimers' drains (each of its
 * own CPU, as 2.6.18's kswapd) never reach, and nothing goes out to swap.
 * Done after the operation, not inside the allocation that entered it
 * (which drained before adding its own page: the next one would push it).
 */
function allocating(f: Family, op: (f: Family) => void): void {
  const before = allocated();
  op(f);
  if (allocated() !== before) f.reclaim_one();
}

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'solo'], roles, {
    swapper: (f) => swap_cycle(DEVICE_SLOTS, f.ctx),
    reader: (f) => allocating(f, read_all),
    toucher: (f) => allocating(f, (g) => g.touch()),
    solo: (f) => { const r = prandom_below(8); if (r === 0) swap_cycle(DEVICE_SLOTS); else if (r < 4) f.reclaim_one(); else f.touch(); },
  });
}

export const swapinEntryReuse: Scenario = {
  name: 'swapin-entry-reuse',
  title: 'swapoff/swapon reuse a swap entry under a sleeping faulter: pte_same passes and a stale page is mapped',
  patch: '2.6.32 do_swap_page',
  switches: ['swapin-no-entry-recheck'],
  also_fixed: ['swapin-swapoff-race'], // the same load meets 5.14's race (an OOM kill); the recheck alone is shown placed (test/swap_device.test.ts)
  windows: [WIN_SWAPIN_PAGE_GONE], // cov: src/cpu/windows.ts
  description: 'do_swap_page checks only pte_same after lock_page; 2.6.32 also checks PageSwapCache(page) && page_private(page) == entry',
  expect_buggy: 'user data: lost write (a stale page mapped after swapoff/swapon reused the entry)',
  signature: /^user data: (lost write|wrong data)/,
  sizes: { nr_pages: 1024, nr_mm: 64, nr_vma: 256 },
  roles,
  cpus: 7, // the reader (the faulter that sleeps) is the third role and the reclaimers the fourth and sixth: the recipe's 7 CPUs on 2 cores
  setup: () => swap_family_setup(2, 1, DEVICE_SLOTS), // two pages: every CPU works on the same ones
  run,
};
