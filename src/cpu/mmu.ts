// The MMU: user loads and stores through an mm's page tables. A present pte
// with the right permission reaches phys; anything else is a page fault that
// runs do_page_fault -> handle_mm_fault. Hardware sets A (and D for a store)
// in the pte before the access takes effect, so a kernel path that clears
// the pte always sees D for every store that lands.
import { CPUSTAT, MM, PERCPU } from '../shm/layout.js';
import { i32, mm_base, phys_base, sizes } from '../shm/machine.js';
import { E3, ERA } from '../shm/era.js';
import { livelock_fault_begin, livelock_fault_end, livelock_progress } from '../check/livelock.js';
import { OOPS_INVARIANT, fail } from '../check/bug.js';
import { invariant_message } from '../check/rules.js';
import { current } from './current.js';
import { tlb_access_done, tlb_switch_mm } from './tlb.js';
import { pgd_huge, pgd_huge_pfn, pgd_index, pte_index, pte_offset } from '../mm/pagewalk.js';
import { _PAGE_ACCESSED, _PAGE_DIRTY, pte_hw_present, pte_pfn, pte_write } from '../mm/pgtable.js';
import { VM_FAULT_MAJOR, VM_FAULT_MINOR, VM_FAULT_OOM, handle_mm_fault } from '../mm/memory.js';
import { find_vma } from '../mm/mmap.js';
import { VMA } from '../shm/layout.js';
import { vma_field, VM_EXEC, VM_READ, VM_WRITE, mm_mmap_sem } from '../mm/mm_types.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { LC_MMAP_SEM } from '../sync/lock_class.js';
import { PP_PTE_READ, REC_TOUCH, controlled, preempt_point, record_step, recording } from '../sync/preempt.js';
import { lat_fault_begin, lat_fault_end } from './latency.js';
import { EV_SPAN_BEGIN, EV_SPAN_END, SP_FAULT, trace_only, tracing } from './events.js';

export const ACCESS_OK = 0, ACCESS_SEGV = 1, ACCESS_OOM = 2, ACCESS_SIGBUS = 3;
/** result of the last user access on this CPU (no allocation per access) */
export const mmu = { status: ACCESS_OK };

/** do_page_fault: mmap_sem for read, find the vma, check access, handle it */
export function do_page_fault(mm: number, addr: number, write: boolean): number {
  i32[current.stat + CPUSTAT.faults] += 1;
  const t0 = lat_fault_begin();
  if (tracing) trace_only(EV_SPAN_BEGIN, SP_FAULT, mm, addr, write ? 1 : 0);
  const sem = mm_mmap_sem(mm);
  down_read(sem, LC_MMAP_SEM);
  try {
    const vma = find_vma(mm, addr);
    if (vma === 0 || addr < vma_field(vma, VMA.vm_start)) return ACCESS_SEGV;
    const flags = vma_field(vma, VMA.vm_flags);
    if (write ? (flags & VM_WRITE) === 0 : (flags & (VM_READ | VM_EXEC)) === 0) return ACCESS_SEGV;
    const r = handle_mm_fault(mm, vma, addr, write);
    if (r === VM_FAULT_MINOR || r === VM_FAULT_MAJOR) return ACCESS_OK;
    return r === VM_FAULT_OOM ? ACCESS_OOM : ACCESS_SIGBUS;
  } finally {
    up_read(sem);
    if (tracing) trace_only(EV_SPAN_END, SP_FAULT);
    lat_fault_end(t0);
  }
}

/**
 * One user access of word `word` of the page at addr. Returns the loaded
 * value (or the stored one); mmu.status says whether the access completed.
 */
export function user_access(mm: number, addr: number, word: number, write: boolean, value: number): number {
  const pc = current.pcpu;
  const pgd = mm_base(mm) + MM.pgd + pgd_index(addr);
  const livelock = ERA.id === E3; // C-LIVELOCK's bookkeeping (seed 004): one era test per access, not one per step
  if (i32[pc + PERCPU.active_mm] !== mm) tlb_switch_mm(mm); // before any announce of mm's slots
  for (;;) {
    preempt_point(PP_PTE_READ, controlled || recording ? walk_object(pgd, addr) : -1); // named only when an executor records it
    const table = Atomics.load(i32, pgd);
    if (pgd_huge(table)) { // seed 003 (E0): a hugetlb pgd entry maps its run directly, no pte table
      Atomics.store(i32, pc + PERCPU.announce, pgd);
      if (Atomics.load(i32, pgd) !== table) { tlb_access_done(); continue; }
      const hw = phys_base(pgd_huge_pfn(table) + pte_index(addr)) + word;
      const hv = write ? (Atomics.store(i32, hw, value), value) : Atomics.load(i32, hw);
      tlb_access_done();
      mmu.status = ACCESS_OK;
      return hv;
    }
    let pte = 0;
    let slot = 0;
    if (table !== 0) {
      slot = pte_offset(table, addr);
      Atomics.store(i32, pc + PERCPU.announce, slot);
      pte = Atomics.load(i32, slot);
    }
    if (recording) record_step(REC_TOUCH); // capture: this step is numbered where it read the pte (or found no table)
    if (!pte_hw_present(pte) || (write && !pte_write(pte))) {
      if (table !== 0) tlb_access_done();
      if (livelock) livelock_fault_begin(); // C-LIVELOCK (seed 004)
      const r = do_page_fault(mm, addr, write);
      if (r !== ACCESS_OK) { mmu.status = r; return 0; }
      if (livelock) livelock_fault_end(mm, addr, pte, slot);
      continue;
    }
    const need = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
    if ((pte & need) !== need && Atomics.compareExchange(i32, slot, pte, pte | need) !== pte) {
      tlb_access_done();
      continue; // the pte changed under us: walk again
    }
    // C-DEVMEM: a present pte never names a device pfn: the CPU cannot address device memory
    if (pte_pfn(pte) >= sizes.nr_pages) { tlb_access_done(); devmem_access(mm, addr, pte); }
    const w = phys_base(pte_pfn(pte)) + word;
    let v: number;
    if (write) { Atomics.store(i32, w, value); v = value; i32[current.stat + CPUSTAT.user_writes] += 1; }
    else { v = Atomics.load(i32, w); i32[current.stat + CPUSTAT.user_reads] += 1; }
    tlb_access_done();
    if (livelock) livelock_progress();
    mmu.status = ACCESS_OK;
    return v;
  }
}

/** this CPU now runs the user program of mm (for reports) */
export function switch_mm(mm: number): void {
  i32[current.pcpu + PERCPU.user_mm] = mm;
}

/**
 * what the MMU's walk reads unlocked: the pte slot, or while the address has
 * no page table yet, the pgd entry. Worked out only under the controlled
 * executor (a free-running CPU records no objects; it would be one more
 * shared load per access).
 */
function walk_object(pgd: number, addr: number): number {
  const table = Atomics.load(i32, pgd);
  return table !== 0 ? pte_offset(table, addr) : pgd;
}

/** model checker C-DEVMEM (kernel-notes 1.11): the MMU met a present pte naming a device pfn (the kernel has no such check: the access would hit whatever the address decodes to) */
function devmem_access(mm: number, addr: number, pte: number): never {
  fail(OOPS_INVARIANT, invariant_message('C-DEVMEM', `access to unaddressable device memory: mm#${mm} 0x${(addr >>> 0).toString(16)} pte 0x${(pte >>> 0).toString(16)} names device pfn ${pte_pfn(pte)}`), pte_pfn(pte), mm, addr);
}
