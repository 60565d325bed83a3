// mm/mprotect.c: change the protection of whole or split vmas, then of
// their ptes under each PTL. Write permission is never granted to a private
// pte here: only a write fault (or restoring a write migration entry) does.
import { CPUSTAT, PAGE_SHIFT, VMA } from '../shm/layout.js';
import { i32, vma_base } from '../shm/machine.js';
import { SW_MPROTECT_SKIPS_MIGRATION_ENTRY, buggy } from '../shm/switches.js';
import { current } from '../cpu/current.js';
import { EV_CHANGE_PTE_RANGE, EV_MPROTECT, trace_event } from '../cpu/events.js';
import { flush_tlb_page } from '../cpu/tlb.js';
import { LC_MMAP_SEM, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_write, up_write } from '../sync/rwsem.js';
import { REC_PEEK, record_step, recording } from '../sync/preempt.js';
import { VM_EXEC, VM_READ, VM_WRITE, calc_vm_prot_bits, mm_mmap_sem, vm_get_page_prot, vma_field } from './mm_types.js';
import { pmd_addr_end, pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { pte_file, pte_modify, pte_present } from './pgtable.js';
import { is_write_migration_entry, make_migration_entry_read, pte_to_swp_entry, swp_entry_to_pte } from './swapops.js';
import { EACCES, EINVAL, ENOMEM, find_vma, split_vma } from './mmap.js';
import { WIN_MPROTECT_WRITE_MIGRATION, window_open } from '../cpu/windows.js'; // cov

/** change_pte_range: takes the table's PTL; flushes the range before returning */
function change_pte_range(mm: number, table: number, addr: number, end: number, newprot: number): void {
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  trace_event(EV_CHANGE_PTE_RANGE, mm, addr, end, newprot);
  const start = addr;
  for (; addr < end; addr += 1 << PAGE_SHIFT) {
    const slot = pte_offset(table, addr);
    const oldpte = Atomics.load(i32, slot);
    if (!pte_present(oldpte) && oldpte !== 0 && !pte_file(oldpte) && is_write_migration_entry(pte_to_swp_entry(oldpte))) window_open(WIN_MPROTECT_WRITE_MIGRATION); // cov
    if (pte_present(oldpte)) {
      // Avoid an SMP race with hardware updated dirty/clean bits: wipe the pte, then set the new one
      if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
      const ptent = pte_modify(Atomics.exchange(i32, slot, 0), newprot);
      Atomics.store(i32, slot, ptent);
    } else if (oldpte !== 0 && !pte_file(oldpte) && !buggy(SW_MPROTECT_SKIPS_MIGRATION_ENTRY)) {
      // switch:mprotect-skips-migration-entry (seed 000, change_pte_range hunk): before it, this branch did not exist
      const entry = pte_to_swp_entry(oldpte);
      if (is_write_migration_entry(entry)) {
        // A protection check is difficult so just be safe and disable write
        if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
        Atomics.store(i32, slot, swp_entry_to_pte(make_migration_entry_read(entry)));
      }
    }
  }
  spin_unlock(ptl);
  for (let a = start; a < end; a += 1 << PAGE_SHIFT) flush_tlb_page(mm, pte_offset(table, a)); // flush_tlb_range
}

function change_protection(mm: number, start: number, end: number, newprot: number): void {
  for (let addr = start; addr < end;) {
    const next = pmd_addr_end(addr, end);
    const table = pte_table(mm, addr);
    if (table !== 0) change_pte_range(mm, table, addr, next, newprot);
    addr = next;
  }
}

/** mprotect_fixup: split as needed, set the new flags, change the ptes (mmap_sem held for write) */
function mprotect_fixup(mm: number, vma: number, start: number, end: number, newflags: number): number {
  if (start > vma_field(vma, VMA.vm_start)) {
    if (split_vma(mm, vma, start) !== 0) return ENOMEM;
    vma = vma_field(vma, VMA.vm_next);
  }
  if (end < vma_field(vma, VMA.vm_end)) {
    if (split_vma(mm, vma, end) !== 0) return ENOMEM;
  }
  const v = vma_base(vma);
  i32[v + VMA.vm_flags] = newflags;
  const prot = vm_get_page_prot(newflags);
  i32[v + VMA.vm_page_prot] = prot;
  change_protection(mm, start, end, prot);
  return 0;
}

/** sys_mprotect: returns 0 or a negative errno; takes mmap_sem for write */
export function sys_mprotect(mm: number, start: number, len: number, prot: number): number {
  if ((start & ((1 << PAGE_SHIFT) - 1)) !== 0 || len < 0) return EINVAL;
  const end = start + ((len + (1 << PAGE_SHIFT) - 1) & ~((1 << PAGE_SHIFT) - 1));
  if (end === start) return 0;
  i32[current.stat + CPUSTAT.mprotects] += 1;
  trace_event(EV_MPROTECT, mm, start, end, prot);
  const sem = mm_mmap_sem(mm);
  down_write(sem, LC_MMAP_SEM);
  try {
    let vma = find_vma(mm, start);
    if (vma === 0 || vma_field(vma, VMA.vm_start) > start) return ENOMEM;
    let nstart = start;
    for (;;) {
      const flags = vma_field(vma, VMA.vm_flags);
      const newflags = calc_vm_prot_bits(prot) | (flags & ~(VM_READ | VM_WRITE | VM_EXEC));
      // newflags >> 4 shift VM_MAY% in place of VM_%
      if ((newflags & ~(newflags >> 4) & (VM_READ | VM_WRITE | VM_EXEC)) !== 0) return EACCES;
      const tmp = Math.min(vma_field(vma, VMA.vm_end), end);
      const rc = mprotect_fixup(mm, vma, nstart, tmp, newflags);
      if (rc !== 0) return rc;
      nstart = tmp;
      if (nstart >= end) return 0;
      vma = find_vma(mm, nstart);
      if (vma === 0 || vma_field(vma, VMA.vm_start) !== nstart) return ENOMEM;
    }
  } finally {
    up_write(sem);
  }
}
