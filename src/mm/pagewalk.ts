// Finding ptes: pgd slot -> page-table page -> pte word (pte_offset_map_lock,
// pte_alloc_map_lock, pte_lockptr). A pte "pointer" is the word index of the
// pte in the Machine; the split PTL lives in the table page's struct page.
import { MM, PAGE, PAGE_SHIFT, PGD_HUGE, PTRS_PER_PGD, PTRS_PER_PTE } from '../shm/layout.js';
import { BASES, i32, mm_base, page_base, ptes_base } from '../shm/machine.js';
import { LC_PAGE_TABLE_LOCK, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { pte_alloc_one, pte_free } from './page_alloc.js';
import { E0, ERA } from '../shm/era.js';
import { REC_PEEK, record_step, recording } from '../sync/preempt.js';

export const pgd_index = (addr: number) => (addr >>> (PAGE_SHIFT + 4)) & (PTRS_PER_PGD - 1);
export const pte_index = (addr: number) => (addr >>> PAGE_SHIFT) & (PTRS_PER_PTE - 1);
export const PMD_SIZE = PTRS_PER_PTE << PAGE_SHIFT;
/** end of the range covered by the table that maps addr, clamped to end */
export const pmd_addr_end = (addr: number, end: number) => Math.min(((addr + PMD_SIZE) & ~(PMD_SIZE - 1)) >>> 0, end);

/** the page-table page mapping addr in mm, or 0 (pmd_none) */
export const pte_table = (mm: number, addr: number) => { if (recording) record_step(REC_PEEK); return Atomics.load(i32, mm_base(mm) + MM.pgd + pgd_index(addr)); }; // capture: a pgd entry, read without page_table_lock
/** pte_offset_map: the word index of the pte for addr in a table */
export const pte_offset = (table: number, addr: number) => ptes_base(table) + pte_index(addr);
/**
 * pte_lockptr: the lock that guards a table's ptes. E1-E4: the split PTL in
 * the table page's struct page; E0 (2.6.6) has no split PTLs and every pte of
 * an mm is under mm->page_table_lock (the table page's index names its mm).
 */
/** seed 003 (E0): a pgd entry that maps a hugetlb run (pmd_huge): pmd_none is false, pmd_bad true */
export const pgd_huge = (entry: number) => (entry & PGD_HUGE) !== 0;
/** the run's first pfn in a huge pgd entry */
export const pgd_huge_pfn = (entry: number) => entry & ~PGD_HUGE;

/**
 * the lock class of mm->page_table_lock: in E0 that one word is also every
 * pte's lock, so each acquisition of it is LC_PTL (named &mm->page_table_lock
 * in E0); E1-E4 keep LC_PAGE_TABLE_LOCK apart from the split PTLs
 */
export const page_table_lock_class = () => (ERA.id === E0 ? LC_PTL : LC_PAGE_TABLE_LOCK);

export const pte_lockptr = (table: number) =>
  ERA.split_ptl ? page_base(table) + PAGE.ptl : mm_base(i32[page_base(table) + PAGE.index]) + MM.page_table_lock;

/** pte_offset_map_lock: lock the table's PTL, return the pte slot; -1 if there is no table */
export function pte_offset_map_lock(mm: number, addr: number): number {
  const table = pte_table(mm, addr);
  if (table === 0) return -1;
  spin_lock(pte_lockptr(table), LC_PTL);
  return pte_offset(table, addr);
}

/** the page-table page a pte slot lives in */
const slot_table = (slot: number) => Math.floor((slot - BASES.ptes) / PTRS_PER_PTE);

/**
 * __pte_alloc: make sure a table maps addr. The table is allocated outside
 * page_table_lock and installed under it, re-checking that nobody beat us.
 * Returns the table pfn, or 0 when out of memory.
 */
export function pte_alloc(mm: number, addr: number): number {
  const slot = mm_base(mm) + MM.pgd + pgd_index(addr);
  const have = Atomics.load(i32, slot);
  if (have !== 0) return have;
  const table = pte_alloc_one();
  if (table === 0) return 0;
  i32[page_base(table) + PAGE.index] = mm; // model: whose table (E0's pte_lockptr)
  const ptl = mm_base(mm) + MM.page_table_lock;
  spin_lock(ptl, page_table_lock_class());
  let used = table;
  if (recording) record_step(REC_PEEK); // capture: the pgd entry written here is read by walkers without page_table_lock
  if (Atomics.load(i32, slot) !== 0) used = Atomics.load(i32, slot); // someone populated it first
  else Atomics.store(i32, slot, table);
  spin_unlock(ptl);
  if (used !== table) pte_free(table);
  return used;
}

/** pte_alloc_map_lock: allocate if needed, then lock; -1 when out of memory */
export function pte_alloc_map_lock(mm: number, addr: number): number {
  const table = pte_alloc(mm, addr);
  if (table === 0) return -1;
  spin_lock(pte_lockptr(table), LC_PTL);
  return pte_offset(table, addr);
}

/** pte_unmap_unlock(pte, ptl): the pte pointer names its table, and so its PTL */
export function pte_unmap_unlock(slot: number): void {
  spin_unlock(pte_lockptr(slot_table(slot)));
}
