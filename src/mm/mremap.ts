// mm/mremap.c of 2.6.6-mm with seed 003 (era E0): sys_mremap moves a range
// pte by pte under mm->page_table_lock. The anonmm rmap finds an anon page
// only at the one address page->index notes, in every mm of its family, so
// a moved page must either be exclusive to this mm (then its index follows
// it: mremap_move_anon_rmap) or be copied first (make_page_exclusive, the
// early COW). Swap ptes move freely: the clash is resolved when the page
// comes back in (do_swap_page, unuse_process).
import { CPUSTAT, MM, PAGE_SIZE, TASK_SIZE, VMA } from '../shm/layout.js';
import { i32, mm_base, vma_base } from '../shm/machine.js';
import { E0, ERA } from '../shm/era.js';
import { SW_MREMAP_ANONMM_NO_COW, buggy } from '../shm/switches.js';
import { current } from '../cpu/current.js';
import { COW_MREMAP, EV_MOVE_ONE_PAGE, EV_MREMAP, EV_MREMAP_COWS, EV_EARLY_COW, MOVE_EAGAIN, MOVE_MOVED, MOVE_RMAP_REDONE, trace_event } from '../cpu/events.js';
import { OOPS_INTERNAL, fail } from '../check/bug.js';
import { LC_MMAP_SEM, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_write, up_write } from '../sync/rwsem.js';
import { cond_resched } from '../sync/preempt.js';
import { PageAnon, mm_mmap_sem, vma_field } from './mm_types.js';
import { pte_alloc, pte_offset, pte_table } from './pagewalk.js';
import { pte_none, pte_pfn, pte_present } from './pgtable.js';
import { VM_FAULT_MAJOR, VM_FAULT_MINOR, VM_FAULT_OOM, check_anonmm_pte, handle_mm_fault } from './memory.js';
import { page_add_anon_rmap, page_remove_rmap, ptep_clear_flush } from './rmap.js';
import { mremap_move_anon_rmap } from './rmap_anonmm.js';
import { EINVAL, ENOMEM, do_munmap, find_vma, insert_vm_struct, vma_alloc } from './mmap.js';
import { vma_link_file } from './rmap.js';
import { is_vm_hugetlb_page } from './hugetlb.js';
import { WIN_MREMAP_SHARED_ANON, window_open } from '../cpu/windows.js'; // cov
import { page_mapcount } from './mm_types.js'; // cov

export const MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;
const EAGAIN = -11, EFAULT = -14;
const PAGE_MASK = ~(PAGE_SIZE - 1);
/** where get_unmapped_area starts looking (TASK_UNMAPPED_BASE, scaled to the model's 1 MiB) */
const TASK_UNMAPPED_BASE = 0x10000;

/**
 * make_page_exclusive: take a private copy of the (COW) page at addr by a
 * write fault, so that this mm alone maps what it will move or keep. Caller
 * holds mmap_sem (read or write); not a general purpose routine: it may not
 * succeed (move_page_tables loops until it does; unuse_process holds the
 * original page locked, so do_wp_page always copies).
 */
export function make_page_exclusive(vma: number, addr: number): number {
  switch (handle_mm_fault(vma_field(vma, VMA.vm_mm), vma, addr, true)) {
    case VM_FAULT_MINOR: case VM_FAULT_MAJOR: return 0;
    case VM_FAULT_OOM: return ENOMEM;
    default: return EFAULT;
  }
}

/** can_move_one_pte: a present anon pte moves only if its page is exclusive (then its index is updated); mm->page_table_lock held */
function can_move_one_pte(src: number, new_addr: number): boolean {
  const pte = Atomics.load(i32, src);
  if (pte_present(pte) && PageAnon(pte_pfn(pte))) return mremap_move_anon_rmap(pte_pfn(pte), new_addr);
  return true; // swap ptes, none and ZERO_PAGE move freely
}

/**
 * move_one_page: move the pte at old_addr to new_addr. Takes
 * mm->page_table_lock (dropped and retaken to allocate the new table, after
 * which the source is looked at again). Returns 0, -ENOMEM, or -EAGAIN for a
 * shared anon page that must be copied first.
 */
export function move_one_page(vma: number, old_addr: number, new_addr: number): number {
  const mm = vma_field(vma, VMA.vm_mm);
  const ptl = mm_base(mm) + MM.page_table_lock;
  spin_lock(ptl, LC_PTL);
  const src_table = pte_table(mm, old_addr);
  if (src_table === 0 || pte_none(Atomics.load(i32, pte_offset(src_table, old_addr)))) {
    spin_unlock(ptl);
    return 0;
  }
  const src = pte_offset(src_table, old_addr);
  let dst_table = pte_table(mm, new_addr);
  if (dst_table === 0) {
    spin_unlock(ptl);
    dst_table = pte_alloc(mm, new_addr); // takes page_table_lock to install the table
    spin_lock(ptl, LC_PTL);
    // page_table_lock was dropped: re-check the src entry
    if (pte_none(Atomics.load(i32, src))) { spin_unlock(ptl); return 0; }
  }
  if (pte_present(Atomics.load(i32, src)) && PageAnon(pte_pfn(Atomics.load(i32, src))) && page_mapcount(pte_pfn(Atomics.load(i32, src))) > 1) window_open(WIN_MREMAP_SHARED_ANON); // cov: page->index cannot follow this move
  let error = 0, what = MOVE_MOVED;
  if (dst_table === 0) error = ENOMEM;
  else if (buggy(SW_MREMAP_ANONMM_NO_COW)) {
    // switch:mremap-anonmm-no-cow (seed 003, the pre-patch copy_one_pte): move, then redo the rmap; for a page
    // another mm maps too, the pair only moves mapcount down and up: index keeps the old address
    const pte = ptep_clear_flush(mm, src);
    Atomics.store(i32, pte_offset(dst_table, new_addr), pte);
    if (pte_present(pte) && PageAnon(pte_pfn(pte))) {
      page_remove_rmap(pte_pfn(pte));
      page_add_anon_rmap(pte_pfn(pte), vma, new_addr);
      what = MOVE_RMAP_REDONE;
    }
  } else if (!can_move_one_pte(src, new_addr)) {
    error = EAGAIN;
    what = MOVE_EAGAIN;
  } else {
    Atomics.store(i32, pte_offset(dst_table, new_addr), ptep_clear_flush(mm, src));
  }
  trace_event(EV_MOVE_ONE_PAGE, mm, old_addr, new_addr, what);
  if (error === 0) check_anonmm_pte(mm, pte_offset(dst_table, new_addr), ptl, new_addr); // C-ANONMM
  spin_unlock(ptl);
  return error;
}

/** move_page_tables: page by page; a shared anon page is copied first and tried again. Returns the bytes moved */
function move_page_tables(vma: number, new_addr: number, old_addr: number, len: number, cows: Int32Array): number {
  let offset = 0;
  for (; offset < len; offset += PAGE_SIZE) {
    let ret = move_one_page(vma, old_addr + offset, new_addr + offset);
    // The anonmm objrmap can only track anon page movements if the page is exclusive to one mm: break COW
    // (take a copy of the page) to make it exclusive. If shared while on swap, it is copied when brought back in
    if (ret === EAGAIN) {
      trace_event(EV_EARLY_COW, vma_field(vma, VMA.vm_mm), old_addr + offset, 0, COW_MREMAP);
      ret = make_page_exclusive(vma, old_addr + offset);
      offset -= PAGE_SIZE;
      cows[0]++;
    }
    if (ret !== 0) break;
    cond_resched();
  }
  return offset;
}

/** copy_vma: the vma for the new range, same flags, its pgoff following the moved part (mmap_sem held for write) */
function copy_vma(vma: number, new_addr: number, new_len: number, old_addr: number): number {
  const nv = vma_alloc();
  if (nv === 0) return 0;
  const v = vma_base(vma), n = vma_base(nv);
  for (const f of VMA.fields) i32[n + VMA[f]] = i32[v + VMA[f]];
  i32[n + VMA.vm_start] = new_addr;
  i32[n + VMA.vm_end] = new_addr + new_len;
  i32[n + VMA.vm_pgoff] = i32[v + VMA.vm_pgoff] + ((old_addr - i32[v + VMA.vm_start]) >>> 12);
  i32[n + VMA.vm_next] = 0;
  i32[n + VMA.anon_vma_next] = 0; i32[n + VMA.anon_vma_prev] = 0;
  i32[n + VMA.shared_next] = 0; i32[n + VMA.shared_prev] = 0;
  insert_vm_struct(vma_field(vma, VMA.vm_mm), nv);
  vma_link_file(nv, vma);
  return nv;
}

/** move_vma: mmap_sem held for write. Returns new_addr, or -errno (the old range then stays) */
function move_vma(vma: number, old_addr: number, old_len: number, new_len: number, new_addr: number): number {
  const mm = vma_field(vma, VMA.vm_mm);
  const new_vma = copy_vma(vma, new_addr, new_len, old_addr);
  if (new_vma === 0) return ENOMEM;
  cows[0] = 0;
  const moved = move_page_tables(vma, new_addr, old_addr, old_len, cows);
  if (moved < old_len) {
    // On error, move entries back from new area to old, which will succeed since page tables are still
    // there, and then unmap the new area instead of the old
    move_page_tables(new_vma, old_addr, new_addr, moved, cows);
    do_munmap(mm, new_addr, new_len);
    return ENOMEM;
  }
  if (cows[0] !== 0) { // printk(KERN_WARNING "%s: mremap moved %d cows\n"): a warning, not a failure
    trace_event(EV_MREMAP_COWS, mm, cows[0]);
    i32[current.stat + CPUSTAT.mremap_cows] += cows[0];
  }
  do_munmap(mm, old_addr, old_len);
  i32[current.stat + CPUSTAT.mremaps] += 1;
  return new_addr;
}
const cows = new Int32Array(1);

/** get_unmapped_area: the lowest gap of len bytes from TASK_UNMAPPED_BASE (mmap_sem held), or -ENOMEM */
function get_unmapped_area(mm: number, len: number): number {
  let addr = TASK_UNMAPPED_BASE;
  for (let vma = i32[mm_base(mm) + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
    if (addr + len <= vma_field(vma, VMA.vm_start)) break;
    addr = Math.max(addr, vma_field(vma, VMA.vm_end));
  }
  return addr + len <= TASK_SIZE ? addr : ENOMEM;
}

/**
 * sys_mremap (E0): shrink in place, grow in place when the next vma leaves
 * room, else (MREMAP_MAYMOVE) move to new_addr (MREMAP_FIXED; its range is
 * unmapped first) or to a free area. The old range must lie in one vma.
 * Takes mmap_sem for write. Returns the new address or -errno.
 */
export function sys_mremap(mm: number, addr: number, old_len: number, new_len: number, flags: number, new_addr = 0): number {
  if (ERA.id !== E0) fail(OOPS_INTERNAL, `mmrace: sys_mremap is modelled for E0 (2.6.6-mm, seed 003) only, not ${ERA.name}`);
  if ((addr & ~PAGE_MASK) !== 0 || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) !== 0) return EINVAL;
  old_len = (old_len + PAGE_SIZE - 1) & PAGE_MASK;
  new_len = (new_len + PAGE_SIZE - 1) & PAGE_MASK;
  if (new_len <= 0 || old_len <= 0 || addr + old_len > TASK_SIZE) return EINVAL;
  const sem = mm_mmap_sem(mm);
  down_write(sem, LC_MMAP_SEM);
  try {
    trace_event(EV_MREMAP, mm, addr, (flags & MREMAP_FIXED) !== 0 ? new_addr : 0, new_len);
    if ((flags & MREMAP_FIXED) !== 0) {
      if ((flags & MREMAP_MAYMOVE) === 0 || (new_addr & ~PAGE_MASK) !== 0 || new_addr < 0 || new_addr + new_len > TASK_SIZE) return EINVAL;
      if (new_addr < addr + old_len && addr < new_addr + new_len) return EINVAL; // the ranges may not overlap
      const r = do_munmap(mm, new_addr, new_len);
      if (r !== 0) return r;
      if (old_len > new_len) { // do_mremap (MREMAP_FIXED): a shrinking move unmaps the tail first and moves the rest
        const t = do_munmap(mm, addr + new_len, old_len - new_len);
        if (t !== 0) return t;
        old_len = new_len;
      }
    } else if (old_len >= new_len) {
      // shrinking: just unmap the tail
      if (old_len > new_len) { const r = do_munmap(mm, addr + new_len, old_len - new_len); if (r !== 0) return r; }
      return addr;
    }
    const vma = find_vma(mm, addr);
    if (vma === 0 || vma_field(vma, VMA.vm_start) > addr || addr + old_len > vma_field(vma, VMA.vm_end)) return EFAULT;
    if (is_vm_hugetlb_page(vma)) return EINVAL;
    if ((flags & MREMAP_FIXED) === 0) {
      // grow in place: the range ends the vma and the next vma (or TASK_SIZE) leaves room
      const next = vma_field(vma, VMA.vm_next);
      const limit = next !== 0 ? vma_field(next, VMA.vm_start) : TASK_SIZE;
      if (addr + old_len === vma_field(vma, VMA.vm_end) && addr + new_len <= limit) {
        // 2.6.6 moved vm_end under page_table_lock as well as mmap_sem (the swapoff and rmap walkers take only it)
        const ptl = mm_base(mm) + MM.page_table_lock;
        spin_lock(ptl, LC_PTL);
        i32[vma_base(vma) + VMA.vm_end] = addr + new_len;
        spin_unlock(ptl);
        return addr;
      }
      if ((flags & MREMAP_MAYMOVE) === 0) return ENOMEM;
      new_addr = get_unmapped_area(mm, new_len);
      if (new_addr < 0) return new_addr;
    }
    return move_vma(vma, addr, old_len, new_len, new_addr);
  } finally {
    up_write(sem);
  }
}
