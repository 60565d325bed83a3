// mm/mempolicy.c (2.6.18): the callers of migrate_pages that a user or an
// admin drives. do_migrate_pages is sys_migrate_pages' (and cpusets') body:
// with the target mm's mmap_sem held for read, check_range walks its vmas
// and isolates every page it maps onto a private list, then migrate_pages
// moves the list. The mmap_sem is what keeps the vmas, their anon_vmas and
// so the rmap walks of the list's pages alive (remove_migration_ptes: "We
// hold the mmap_sem lock. So no need to call page_lock_anon_vma").
import { MM, PAGE_SIZE, VMA } from '../shm/layout.js';
import { i32, mm_base, vma_base } from '../shm/machine.js';
import { LC_MMAP_SEM, LC_PTL } from '../sync/lock_class.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { page_mapcount } from './mm_types.js';
import { pmd_addr_end, pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { pte_pfn, pte_present } from './pgtable.js';
import { isolate_lru_page } from './swap.js';
import { migrate_pages, migrate_prep } from './migrate.js';

/** MPOL_MF_MOVE: only pages mapped once; MPOL_MF_MOVE_ALL (CAP_SYS_NICE, as root's migratepages has): shared ones too */
export const MPOL_MF_MOVE = 1 << 1, MPOL_MF_MOVE_ALL = 1 << 2;

/**
 * check_pte_range + migrate_page_add for one table: isolate each mapped
 * page onto the list. Caller holds mmap_sem; takes the PTL (lru_lock nests
 * inside it in isolate_lru_page). Returns the new list length.
 */
function check_pte_range(mm: number, addr: number, end: number, flags: number, list: Int32Array, n: number): number {
  const table = pte_table(mm, addr);
  if (table === 0) return n;
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  for (; addr < end && n < list.length; addr += PAGE_SIZE) {
    const pte = Atomics.load(i32, pte_offset(table, addr));
    if (!pte_present(pte)) continue;
    const page = pte_pfn(pte); // vm_normal_page: every present pte of the model maps a normal page
    // Avoid migrating a page that is shared with others (unless MOVE_ALL)
    if ((flags & MPOL_MF_MOVE_ALL) === 0 && page_mapcount(page) !== 1) continue;
    if (isolate_lru_page(page) === 0) list[n++] = page;
  }
  spin_unlock(ptl);
  return n;
}

/** check_range: every vma of mm, table by table; caller holds mmap_sem */
function check_range(mm: number, flags: number, list: Int32Array): number {
  let n = 0;
  for (let vma = i32[mm_base(mm) + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
    const end = i32[vma_base(vma) + VMA.vm_end];
    for (let addr = i32[vma_base(vma) + VMA.vm_start]; addr < end;) {
      const next = pmd_addr_end(addr, end);
      n = check_pte_range(mm, addr, next, flags, list, n);
      addr = next;
    }
  }
  return n;
}

/**
 * do_migrate_pages / migrate_to_node: move the pages mm maps. The caller
 * holds a reference on mm (get_task_mm); takes mmap_sem for read for the
 * whole isolation and migration. `list` is the caller's scratch space (its
 * length bounds one call). Returns the number of pages not migrated.
 */
export function do_migrate_pages(mm: number, flags: number, list: Int32Array): number {
  const sem = mm_base(mm) + MM.mmap_sem;
  migrate_prep();
  down_read(sem, LC_MMAP_SEM);
  let failed = 0;
  try {
    const n = check_range(mm, flags, list);
    if (n > 0) failed = migrate_pages(list, n);
  } finally {
    up_read(sem);
  }
  return failed;
}
