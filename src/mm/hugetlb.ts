// mm/hugetlb.c of 2.6.6 (era E0), as far as seed 003 needs it: a hugetlb
// vma covers exactly one pgd slot and is prefaulted at mmap from a pool of
// contiguous runs reserved at boot. Its pgd entry maps the run directly
// (PGD_HUGE | first pfn): there is no pte table behind it, so a walker that
// takes it for one meets an entry that is not pmd_none but is pmd_bad (the
// i386 PSE bit). The run's head page holds one reference per mapping and
// one for the pool. hugetlb_lock guards the pool; mm->page_table_lock the
// pgd entry.
import { HPAGE_PAGES, HUGETLB, HUGETLB_RUNS, MM, PAGE, PAGE_SHIFT, PG_reserved, PGD_HUGE, TASK_SIZE, VMA } from '../shm/layout.js';
import { BASES, i32, mm_base, page_base, vma_base } from '../shm/machine.js';
import { EV_HUGETLB, HUGETLB_ENTRY_GONE, HUGETLB_MAPPED, HUGETLB_UNMAPPED, trace_event } from '../cpu/events.js';
import { flush_tlb_page } from '../cpu/tlb.js';
import { LC_HUGETLB, LC_MMAP_SEM, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_write, up_write } from '../sync/rwsem.js';
import { VM_HUGETLB, VM_MAYREAD, VM_MAYWRITE, VM_READ, VM_WRITE, mm_mmap_sem, vm_get_page_prot, vma_field } from './mm_types.js';
import { alloc_page } from './page_alloc.js';
import { pgd_index } from './pagewalk.js';
import { EINVAL, ENOMEM, find_vma, insert_vm_struct, vma_alloc } from './mmap.js';

export const HPAGE_SIZE = HPAGE_PAGES << PAGE_SHIFT;
const hugetlb_lock = () => BASES.hugetlb + HUGETLB.lock;

/** is_vm_hugetlb_page */
export const is_vm_hugetlb_page = (vma: number) => (vma_field(vma, VMA.vm_flags) & VM_HUGETLB) !== 0;
import { pgd_huge, pgd_huge_pfn } from './pagewalk.js'; // the entry's encoding lives with the page-table walk
export { pgd_huge, pgd_huge_pfn };

/**
 * hugetlb_init (boot CPU, scenario setup, before anything else allocates):
 * reserve nr runs of HPAGE_PAGES contiguous pages. The pages are
 * PG_reserved (no LRU, no rmap); each run's head holds the pool's reference.
 */
export function hugetlb_init(nr: number): void {
  const h = BASES.hugetlb;
  if (nr > HUGETLB_RUNS) throw new Error(`hugetlb_init: at most ${HUGETLB_RUNS} runs`);
  for (let r = 0; r < nr; r++) {
    let first = 0;
    for (let k = 0; k < HPAGE_PAGES; k++) {
      const pfn = alloc_page();
      if (pfn === 0 || (k > 0 && pfn !== first + k)) throw new Error('hugetlb_init: no contiguous run (reserve the pool before anything else allocates)');
      if (k === 0) first = pfn;
      Atomics.or(i32, page_base(pfn) + PAGE.flags, PG_reserved);
    }
    i32[h + HUGETLB.run + r] = first;
    i32[h + HUGETLB.used + r] = 0;
  }
  i32[h + HUGETLB.nr_runs] = nr;
}

/** take a free run for mm (hugetlb_lock); its head's first pfn, or 0 */
function alloc_huge_run(mm: number): number {
  const h = BASES.hugetlb;
  spin_lock(hugetlb_lock(), LC_HUGETLB);
  let first = 0;
  for (let r = 0; r < i32[h + HUGETLB.nr_runs] && first === 0; r++) {
    if (i32[h + HUGETLB.used + r] !== 0) continue;
    i32[h + HUGETLB.used + r] = mm;
    first = i32[h + HUGETLB.run + r];
  }
  spin_unlock(hugetlb_lock());
  return first;
}

/** give a run back to the pool (hugetlb_lock) */
function free_huge_run(first: number): void {
  const h = BASES.hugetlb;
  spin_lock(hugetlb_lock(), LC_HUGETLB);
  for (let r = 0; r < i32[h + HUGETLB.nr_runs]; r++) if (i32[h + HUGETLB.run + r] === first) i32[h + HUGETLB.used + r] = 0;
  spin_unlock(hugetlb_lock());
}

/**
 * mmap of a hugetlbfs file at a fixed, slot-aligned address: one pgd slot,
 * prefaulted from the pool (hugetlb_prefault). Takes mmap_sem for write,
 * then page_table_lock. Returns the vma id or -errno.
 */
export function do_mmap_hugetlb(mm: number, addr: number): number {
  if ((addr & (HPAGE_SIZE - 1)) !== 0 || addr < 0 || addr + HPAGE_SIZE > TASK_SIZE) return EINVAL;
  const sem = mm_mmap_sem(mm);
  down_write(sem, LC_MMAP_SEM);
  try {
    const next = find_vma(mm, addr);
    if (next !== 0 && vma_field(next, VMA.vm_start) < addr + HPAGE_SIZE) return EINVAL;
    const slot = mm_base(mm) + MM.pgd + pgd_index(addr);
    if (Atomics.load(i32, slot) !== 0) return EINVAL; // a pte table is already there
    const first = alloc_huge_run(mm);
    if (first === 0) return ENOMEM;
    const vma = vma_alloc();
    if (vma === 0) { free_huge_run(first); return ENOMEM; }
    const flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_HUGETLB;
    const v = vma_base(vma);
    i32[v + VMA.vm_mm] = mm; i32[v + VMA.vm_start] = addr; i32[v + VMA.vm_end] = addr + HPAGE_SIZE;
    i32[v + VMA.vm_flags] = flags; i32[v + VMA.vm_page_prot] = vm_get_page_prot(flags);
    i32[v + VMA.vm_pgoff] = 0;
    insert_vm_struct(mm, vma);
    // hugetlb_prefault: the run's head takes the mapping's reference
    Atomics.add(i32, page_base(first) + PAGE._count, 1);
    const ptl = mm_base(mm) + MM.page_table_lock;
    spin_lock(ptl, LC_PTL); // E0: mm->page_table_lock, the pte lock's class
    Atomics.store(i32, slot, PGD_HUGE | first);
    spin_unlock(ptl);
    trace_event(EV_HUGETLB, mm, addr, first, HUGETLB_MAPPED);
    return vma;
  } finally {
    up_write(sem);
  }
}

/**
 * unmap_hugepage_range at exit (no other user of the mm): the pgd entry's
 * run loses the mapping's reference and goes back to the pool. An entry
 * that is gone (a walker cleared it as a "bad pmd") leaks its run.
 */
export function unmap_hugepage_range(vma: number): void {
  const mm = vma_field(vma, VMA.vm_mm);
  const addr = vma_field(vma, VMA.vm_start);
  const slot = mm_base(mm) + MM.pgd + pgd_index(addr);
  const ptl = mm_base(mm) + MM.page_table_lock;
  spin_lock(ptl, LC_PTL); // E0: mm->page_table_lock, the pte lock's class
  const entry = Atomics.load(i32, slot);
  if (pgd_huge(entry)) Atomics.store(i32, slot, 0);
  spin_unlock(ptl);
  if (!pgd_huge(entry)) { trace_event(EV_HUGETLB, mm, addr, 0, HUGETLB_ENTRY_GONE); return; }
  flush_tlb_page(mm, slot);
  const first = pgd_huge_pfn(entry);
  Atomics.sub(i32, page_base(first) + PAGE._count, 1);
  free_huge_run(first);
  trace_event(EV_HUGETLB, mm, addr, first, HUGETLB_UNMAPPED);
}

/**
 * I-HUGE (kernel-notes 5.1), quiescent: each hugetlb vma's pgd slot holds
 * PGD_HUGE and the run the pool gave its mm; a run's head count is the
 * pool's reference plus its mapping; a run whose mm is dead is back in the pool.
 */
export function check_hugetlb(bad: (text: string) => void): void {
  const h = BASES.hugetlb;
  for (let r = 0; r < i32[h + HUGETLB.nr_runs]; r++) {
    const first = i32[h + HUGETLB.run + r];
    const mm = i32[h + HUGETLB.used + r];
    const count = i32[page_base(first) + PAGE._count];
    if (mm === 0) { if (count !== 1) bad(`hugetlb run at pfn ${first} is in the pool with count ${count}, not 1`); continue; }
    if (i32[mm_base(mm) + MM.live] === 0) { bad(`hugetlb run at pfn ${first} still belongs to mm#${mm}, which exited: the run leaked`); continue; }
    let mapped = false;
    for (let vma = i32[mm_base(mm) + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
      if (!is_vm_hugetlb_page(vma)) continue;
      const e = i32[mm_base(mm) + MM.pgd + pgd_index(vma_field(vma, VMA.vm_start))];
      if (e === (PGD_HUGE | first)) mapped = true;
      else bad(`hugetlb vma#${vma} of mm#${mm} at 0x${(vma_field(vma, VMA.vm_start) >>> 0).toString(16)}: pgd entry 0x${(e >>> 0).toString(16)}, not its run (pfn ${first}): the huge mapping is gone`);
    }
    if (count !== 1 + (mapped ? 1 : 0)) bad(`hugetlb run at pfn ${first}: count ${count} but ${mapped ? 1 : 0} mapping + the pool refer to it`);
  }
}
