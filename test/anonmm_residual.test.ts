// Seed 003's residual through swapoff (E0): unuse_process's early COW is one
// handle_mm_fault (make_page_exclusive), and the seed does not try again. With
// the page locked by swapoff, do_wp_page always copies, but it drops the PTL
// to allocate and copy, and backs out if the pte changed meanwhile: the mm's
// own thread reading the page sets the accessed bit. The page then stays
// where its index does not point. The interleaving is placed on one CPU: at
// do_wp_page's relock of the PTL, the other thread's read runs.
import { afterEach, describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { E0 } from '../src/shm/era.js';
import { ACCESS_OK, mmu, user_access } from '../src/cpu/mmu.js';
import { do_mmap_anon, mm_alloc } from '../src/mm/mmap.js';
import { copy_mm } from '../src/mm/fork.js';
import { MREMAP_FIXED, MREMAP_MAYMOVE, sys_mremap } from '../src/mm/mremap.js';
import { isolate_lru_page, put_page } from '../src/mm/swap.js';
import { lookup_swap_cache } from '../src/mm/swap_state.js';
import { pte_to_swp_entry } from '../src/mm/swapops.js';
import { blk_drain } from '../src/cpu/io.js';
import { PROT_READ, PROT_WRITE } from '../src/mm/mm_types.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present } from '../src/mm/pgtable.js';
import { cpustat_base, i32, mm_base, page_base } from '../src/shm/machine.js';
import { CPUSTAT, MM, PAGE, PAGE_SIZE } from '../src/shm/layout.js';
import { sys_swapoff, sys_swapon } from '../src/mm/swapfile.js';
import { shrink_page_list } from '../src/mm/vmscan.js';
import { PP_LOCK_ACQUIRE, set_preempt_hooks } from '../src/sync/preempt.js';

const A = 0x20000, B = 0x60000;
const pte_at = (mm: number, addr: number) => Atomics.load(i32, pte_offset(pte_table(mm, addr), addr));

/** a parent and its child share one page; both ptes go out to swap, and the child moves its swap pte A -> B */
function shared_swapped_then_moved() {
  boot({ nr_pages: 256, nr_mm: 8, nr_vma: 32 }, 0, E0);
  expect(sys_swapon(8, 0)).toBe(0);
  const parent = mm_alloc();
  expect(do_mmap_anon(parent, A, PAGE_SIZE, PROT_READ | PROT_WRITE)).toBeGreaterThanOrEqual(0);
  user_access(parent, A, 0, true, 0x1234);
  const child = copy_mm(parent);
  for (let k = 0; k < 8; k++) {
    const pte = pte_at(parent, A);
    let pfn = pte_present(pte) ? pte_pfn(pte) : 0;
    if (pfn === 0 && is_swap_pte(pte)) { pfn = lookup_swap_cache(pte_to_swp_entry(pte)); if (pfn !== 0) put_page(pfn); }
    if (pfn === 0 || isolate_lru_page(pfn) !== 0) break;
    shrink_page_list(pfn);
    blk_drain();
  }
  expect(is_swap_pte(pte_at(parent, A)) && is_swap_pte(pte_at(child, A)), 'both ptes in swap').toBe(true);
  expect(sys_mremap(child, A, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, B)).toBe(B);
  expect(is_swap_pte(pte_at(child, B))).toBe(true);
  return { parent, child };
}

const residuals = () => i32[cpustat_base(0) + CPUSTAT.anonmm_residuals];
const early_cows = () => i32[cpustat_base(0) + CPUSTAT.early_cows];

describe("seed 003's residual on swapoff's path (unuse_process -> make_page_exclusive)", () => {
  afterEach(() => set_preempt_hooks(null, null));

  it('alone, swapoff copies the page whose address clashes in the mm it visits second', () => {
    const { parent, child } = shared_swapped_then_moved();
    expect(sys_swapoff(0)).toBe(0);
    const pp = pte_pfn(pte_at(parent, A)), cp = pte_pfn(pte_at(child, B));
    expect(cp).not.toBe(pp); // two pages now, each at the address its index names
    expect(i32[page_base(cp) + PAGE.index]).toBe(B);
    expect(i32[page_base(pp) + PAGE.index]).toBe(A);
    expect(early_cows()).toBe(1);
    expect(residuals()).toBe(0);
  });

  it("the clashing mm's own thread reading the page while do_wp_page copies it makes do_wp_page back out: the page stays, counted as the seed's residual and not failed", () => {
    const { parent, child } = shared_swapped_then_moved();
    // whichever mm swapoff visits second meets the clash (the first one's unuse_pte notes its address)
    const mms = [{ mm: parent, addr: A, ptl: mm_base(parent) + MM.page_table_lock, n: 0 }, { mm: child, addr: B, ptl: mm_base(child) + MM.page_table_lock, n: 0 }];
    let hit: (typeof mms)[number] | null = null, read = -1;
    const hook = (kind: number, object: number): void => {
      if (kind !== PP_LOCK_ACQUIRE || hit) return;
      const m = mms.find((x) => x.ptl === object);
      if (!m || ++m.n !== 3) return; // unuse_process's walk, handle_pte_fault, do_wp_page's relock
      hit = m;
      set_preempt_hooks(null, null);
      read = user_access(m.mm, m.addr, 0, false, 0); // the other thread: a read through the present pte sets its accessed bit
      expect(mmu.status).toBe(ACCESS_OK);
      set_preempt_hooks(hook, null);
    };
    set_preempt_hooks(hook, null);
    expect(sys_swapoff(0)).toBe(0); // no C-ANONMM failure: the residual is recognised
    set_preempt_hooks(null, null);
    expect(hit).not.toBeNull();
    expect(read).toBe(0x1234);
    const pp = pte_pfn(pte_at(parent, A)), cp = pte_pfn(pte_at(child, B));
    expect(cp).toBe(pp); // no copy was made
    const other = hit!.mm === parent ? B : A;
    expect(i32[page_base(cp) + PAGE.index]).toBe(other); // unreachable by rmap at hit's address
    expect(i32[page_base(cp) + PAGE.anonmm_residual]).toBe(1);
    expect(early_cows()).toBe(1);
    expect(residuals()).toBe(1);
  });
});
