// mm/msync.c as 2.6.18 had it: the dirty bits of a shared file mapping's
// ptes are moved to their pages (msync_pte_range), and MS_SYNC then writes
// the file out and waits (do_fsync). Without it a store through a shared
// mapping reaches the page cache's dirty state only when the pte is zapped
// or unmapped by reclaim.
import { PAGE_SIZE, VMA } from '../shm/layout.js';
import { i32 } from '../shm/machine.js';
import { flush_tlb_page } from '../cpu/tlb.js';
import { LC_MMAP_SEM, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { cond_resched } from '../sync/preempt.js';
import { VM_SHARED, mm_mmap_sem, vma_field } from './mm_types.js';
import { _PAGE_DIRTY, pte_pfn, pte_present } from './pgtable.js';
import { pmd_addr_end, pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { find_vma } from './mmap.js';
import { set_page_dirty } from './rmap.js';
import { do_fsync } from './filemap.js';

export const MS_ASYNC = 1, MS_SYNC = 4;

/** msync_pte_range: for each dirty pte of one table, clean it (flushed) and dirty its page; takes the PTL */
function msync_pte_range(mm: number, addr: number, end: number): void {
  const table = pte_table(mm, addr);
  if (table === 0) return;
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  for (; addr < end; addr += PAGE_SIZE) {
    const slot = pte_offset(table, addr);
    const pte = Atomics.load(i32, slot);
    if (!pte_present(pte)) continue;
    // ptep_clear_flush_dirty: an atomic and, then the flush, so a store in flight lands dirty again
    if ((Atomics.and(i32, slot, ~_PAGE_DIRTY) & _PAGE_DIRTY) === 0) continue;
    flush_tlb_page(mm, slot);
    set_page_dirty(pte_pfn(pte));
  }
  spin_unlock(ptl);
}

/**
 * sys_msync over [start, start + len): every shared file vma in the range
 * gets its dirty ptes moved to the page cache under mmap_sem for read;
 * MS_SYNC then writes each such file out (do_fsync) after mmap_sem is
 * dropped. Returns 0 or -ENOMEM when part of the range is unmapped.
 */
export function sys_msync(mm: number, start: number, len: number, flags: number): number {
  const end = start + len;
  let unmapped = false;
  let sync_file = 0;
  const sem = mm_mmap_sem(mm);
  down_read(sem, LC_MMAP_SEM);
  for (let addr = start; addr < end;) {
    const vma = find_vma(mm, addr);
    if (vma === 0) { unmapped = true; break; }
    const vs = vma_field(vma, VMA.vm_start), ve = vma_field(vma, VMA.vm_end);
    if (vs > addr) unmapped = true;
    const from = Math.max(vs, addr), to = Math.min(ve, end);
    if (from >= to) break;
    if ((vma_field(vma, VMA.vm_flags) & VM_SHARED) !== 0 && vma_field(vma, VMA.vm_file) !== 0) {
      for (let a = from; a < to;) {
        const next = pmd_addr_end(a, to);
        msync_pte_range(mm, a, next);
        a = next;
      }
      sync_file = vma_field(vma, VMA.vm_file);
    }
    addr = to;
    cond_resched();
  }
  up_read(sem);
  if ((flags & MS_SYNC) !== 0 && sync_file !== 0) do_fsync(sync_file);
  return unmapped ? -12 : 0;
}
