// mm/memory.c: the fault handlers, fork's page-table copy and the zap done
// at exit. PTL rules: a pte is read unlocked only to decide what to do and
// is always re-checked under its PTL before it is changed.
import { CPUSTAT, GLOBALS, MM, PAGE, PAGE_SIZE, PG_locked, PG_uptodate, VMA, WORDS_PER_PAGE } from '../shm/layout.js';
import { BASES, i32, mm_base, page_base, phys_base, vma_base } from '../shm/machine.js';
import { SW_MIGRATION_READ_AS_BOOL, SW_SWAPIN_NO_EARLY_COW, SW_SWAPIN_NO_ENTRY_RECHECK, SW_SWAPIN_SWAPOFF_RACE, SW_SWAP_FAULT_ON_MIGRATION_ENTRY, buggy } from '../shm/switches.js';
import { E0, E1, E2, E3, E4, ERA } from '../shm/era.js';
import { current } from '../cpu/current.js';
import {
  COW_SWAPIN_CLASH, COW_SWAPIN_REUSED, COW_SWAPIN_WRITE, COW_WP_BACKED_OUT, COW_WP_NOMEM, EV_ANON_PAGE, EV_COPY_MIGRATION_ENTRY, EV_EARLY_COW, EV_NO_PAGE, EV_SWAPIN_MAP, EV_SWAPIN_RETRY, EV_COPY_PTE_RANGE, EV_FAULT, EV_GUP, EV_SWAP_PAGE, EV_WP_PAGE, EV_ZAP, trace_event,
} from '../cpu/events.js';
import { flush_tlb_page } from '../cpu/tlb.js';
import { OOPS_ERROR, OOPS_INTERNAL, OOPS_INVARIANT, fail } from '../check/bug.js';
import { invariant_message } from '../check/rules.js';
import { LC_PTL } from '../sync/lock_class.js';
import { REC_PEEK, cond_resched, record_step, recording } from '../sync/preempt.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { lock_page, trylock_page, unlock_page } from '../sync/page_lock.js';
import { PageAnon, PageReserved, PageSwapCacheP, maybe_mkwrite, page_private, VM_HUGETLB, VM_READ, VM_SHARED, VM_WRITE, is_cow_mapping, page_count, page_flags, page_mapcount, vma_field } from './mm_types.js';
import { pmd_addr_end, pte_alloc, pte_alloc_map_lock, pte_lockptr, pte_offset, pte_offset_map_lock, pte_table, pte_unmap_unlock } from './pagewalk.js';
import {
  _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_RW, mk_pte, pte_dirty, pte_file, pte_mkclean, pte_mkdirty, pte_mkold,
  pte_none, pte_pfn, pte_present, pte_write, pte_wrprotect, pte_young,
} from './pgtable.js';
import {
  SWP_MIGRATION_READ, is_migration_entry, is_write_migration_entry, make_migration_entry, make_migration_entry_read,
  migration_entry_to_page, pte_to_swp_entry, swp_entry_to_pte, swp_offset, swp_type,
  device_private_entry_to_page, is_device_private_entry, is_write_device_private_entry, make_device_private_entry_read, non_swap_entry,
} from './swapops.js';
import { alloc_bootmem_page, alloc_page } from './page_alloc.js';
import { device_private_entry_fault } from './memremap.js';
import { get_page, lru_add_drain, lru_cache_add_active, lru_pagevecs, mark_page_accessed, put_page } from './swap.js';
import { NOPAGE_OOM, NOPAGE_SIGBUS, filemap_nopage, mapping_truncate_count } from './filemap.js';
import { anon_vma_prepare, page_add_anon_rmap, page_add_file_rmap, page_add_new_anon_rmap, page_dup_rmap, page_remove_rmap, ptep_clear_flush, set_page_dirty } from './rmap.js';
import { migration_entry_wait } from './migrate.js';
import { can_share_swap_page, free_swap_and_cache, remove_exclusive_swap_page, get_swap_device, nr_swapfiles, put_swap_device, swap_duplicate, swap_free, swap_map_slot, vm_swap_full } from './swapfile.js';
import { free_page_and_swap_cache, free_pages_and_swap_cache, lookup_swap_cache, read_swap_cache_async, swapin_fail } from './swap_state.js';
import { find_vma, mmlist_add } from './mmap.js';
import { anonmm_check, mremap_moved_anon_rmap } from './rmap_anonmm.js';
import { unmap_hugepage_range } from './hugetlb.js';
import { WIN_COPY_MIGRATION_ENTRY, WIN_COPY_MIGRATION_COW, WIN_SWAPIN_PAGE_GONE, WIN_SWAPIN_CLASH, WIN_SWAP_FAULT_MIGRATION, window_open } from '../cpu/windows.js'; // cov

export const VM_FAULT_OOM = 0, VM_FAULT_SIGBUS = 1, VM_FAULT_MINOR = 2, VM_FAULT_MAJOR = 3; // 2.6.18 values

/** where this CPU's last VM_FAULT_OOM came from, for the report of a system call that failed with -ENOMEM (show_mem.ts) */
export const fault_oom = { at: '' };

/** VM_FAULT_OOM, noting where (a cold path: only a fault that fails comes here); every VM_FAULT_OOM of a fault returns through it */
export function oom(at: string): number {
  fault_oom.at = at;
  return VM_FAULT_OOM;
}

const anon_rss = (mm: number) => mm_base(mm) + MM.anon_rss;
const file_rss = (mm: number) => mm_base(mm) + MM.file_rss;
/** the rss counter a present pte of this page counts in (anon_rss or file_rss) */
const rss_of = (mm: number, page: number) => (PageAnon(page) ? anon_rss(mm) : file_rss(mm));


/** copy_user_highpage: word by word, racing with nothing (the source is read-only or unmapped) */
function copy_user_highpage(dst: number, src: number): void {
  const d = phys_base(dst);
  const s = phys_base(src);
  for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, d + w, Atomics.load(i32, s + w));
}

/** ZERO_PAGE (E0): the reserved page a read fault of anonymous memory maps read-only */
export const ZERO_PAGE = () => i32[BASES.globals + GLOBALS.zero_page];

/** boot (E0): set the zero page aside; its ptes hold no count and no rmap (PG_reserved) */
export function zero_page_init(): void {
  i32[BASES.globals + GLOBALS.zero_page] = alloc_bootmem_page();
}

/**
 * C-ANONMM (E0, model checker): the pte at addr, if it maps an anon page,
 * must be where the anonmm walk looks. Caller holds the PTL (mm's
 * page_table_lock), which it keeps unless the check fails.
 */
export function check_anonmm_pte(mm: number, slot: number, ptl: number, addr: number): void {
  const pte = Atomics.load(i32, slot);
  if (!pte_present(pte) || !PageAnon(pte_pfn(pte))) return;
  const why = anonmm_check(pte_pfn(pte), mm, addr);
  if (why === null || i32[page_base(pte_pfn(pte)) + PAGE.anonmm_residual] !== 0) return; // the seed's residual (note_early_cow_residual)
  spin_unlock(ptl);
  fail(OOPS_INVARIANT, invariant_message('C-ANONMM', why), pte_pfn(pte), mm, addr);
}

/**
 * The seed's residual race (E0): an early COW of a clashing address
 * (do_swap_page's, or swapoff's make_page_exclusive) ended in a do_wp_page
 * that left the page in place (reused it, backed out on pte_same, or had no
 * memory for the copy), so the page stays mapped at an address its index
 * does not name. The seed's code does that; the model
 * counts it (CPUSTAT.anonmm_residuals, an EV_EARLY_COW event) and marks the
 * page, whose C-ANONMM and I-ANONMM findings are then this residual's, not
 * a failure. Caller holds the PTL.
 */
export function note_early_cow_residual(mm: number, slot: number, page: number, addr: number): void {
  if (wp_outcome === WP_COPIED || wp_outcome === WP_NONE) return; // a copy is checked as itself
  const pte = Atomics.load(i32, slot);
  if (!pte_present(pte) || pte_pfn(pte) !== page || anonmm_check(page, mm, addr) === null) return;
  i32[page_base(page) + PAGE.anonmm_residual] = 1;
  i32[current.stat + CPUSTAT.anonmm_residuals] += 1;
  trace_event(EV_EARLY_COW, mm, addr, page, wp_outcome === WP_REUSED ? COW_SWAPIN_REUSED : wp_outcome === WP_BACKED_OUT ? COW_WP_BACKED_OUT : COW_WP_NOMEM);
}

/** handle_mm_fault: caller holds mmap_sem for read */
export function handle_mm_fault(mm: number, vma: number, addr: number, write: boolean): number {
  trace_event(EV_FAULT, mm, addr, write ? 1 : 0);
  if ((vma_field(vma, VMA.vm_flags) & VM_HUGETLB) !== 0) return VM_FAULT_SIGBUS; // mapping truncation does this
  const table = pte_alloc(mm, addr);
  if (table === 0) return oom('handle_mm_fault: pte_alloc_map found no page for a page table');
  return handle_pte_fault(mm, vma, addr, table, write);
}

function handle_pte_fault(mm: number, vma: number, addr: number, table: number, write: boolean): number {
  const slot = pte_offset(table, addr);
  const entry = Atomics.load(i32, slot);
  if (!pte_present(entry)) {
    if (pte_none(entry)) {
      if (vma_field(vma, VMA.vm_file) !== 0) return do_no_page(mm, vma, addr, table, write);
      return do_anonymous_page(mm, vma, addr, table, write);
    }
    return do_swap_page(mm, vma, addr, table, entry, write);
  }
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  if (Atomics.load(i32, slot) !== entry) { spin_unlock(ptl); return pte_changed_before_lock(mm, vma, addr, table, write, entry); }
  if (write && !pte_write(entry)) return do_wp_page(mm, vma, addr, table, entry); // drops ptl
  // ptep_set_access_flags: only A/D can change under us (hardware), never W
  Atomics.or(i32, slot, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
  spin_unlock(ptl);
  return VM_FAULT_MINOR;
}

/**
 * handle_pte_fault found the pte changed once it held the PTL: the fault is
 * over (the access is retried). But 2.6.6 (E0) reads the pte under
 * page_table_lock, so an accessed/dirty bit another CPU's access set before
 * the lock is simply seen there: read it again (make_page_exclusive's one
 * fault must reach do_wp_page). Out of line: the write fault stays small.
 */
function pte_changed_before_lock(mm: number, vma: number, addr: number, table: number, write: boolean, entry: number): number {
  const now = Atomics.load(i32, pte_offset(table, addr));
  if (ERA.id === E0 && ((now ^ entry) & ~(_PAGE_ACCESSED | _PAGE_DIRTY)) === 0) return handle_pte_fault(mm, vma, addr, table, write);
  return VM_FAULT_MINOR;
}

/** do_anonymous_page: caller holds mmap_sem for read; takes the PTL */
function do_anonymous_page(mm: number, vma: number, addr: number, table: number, write: boolean): number {
  if (ERA.id === E0 && !write) return do_anonymous_zero_page(mm, vma, addr, table);
  if (anon_vma_prepare(vma) !== 0) return oom('do_anonymous_page: anon_vma_prepare');
  const page = alloc_page();
  if (page === 0) return oom('do_anonymous_page: alloc_page');
  let entry = mk_pte(page, vma_field(vma, VMA.vm_page_prot));
  if (write) entry = maybe_mkwrite(pte_mkdirty(entry), vma);
  const ptl = pte_lockptr(table);
  const slot = pte_offset(table, addr);
  spin_lock(ptl, LC_PTL);
  if (!pte_none(Atomics.load(i32, slot))) {
    spin_unlock(ptl);
    put_page(page);
    return VM_FAULT_MINOR;
  }
  Atomics.add(i32, anon_rss(mm), 1);
  lru_cache_add_active(page);
  page_add_new_anon_rmap(page, vma, addr);
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  Atomics.store(i32, slot, entry);
  trace_event(EV_ANON_PAGE, mm, addr, page);
  if (ERA.id === E0) check_anonmm_pte(mm, slot, ptl, addr); // C-ANONMM
  spin_unlock(ptl);
  return VM_FAULT_MINOR;
}

/** 2.6.6's do_anonymous_page for a read: ZERO_PAGE read-only, no rmap, no rss, no reference (takes the PTL) */
function do_anonymous_zero_page(mm: number, vma: number, addr: number, table: number): number {
  const ptl = pte_lockptr(table);
  const slot = pte_offset(table, addr);
  spin_lock(ptl, LC_PTL);
  if (pte_none(Atomics.load(i32, slot))) {
    if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
    Atomics.store(i32, slot, pte_wrprotect(mk_pte(ZERO_PAGE(), vma_field(vma, VMA.vm_page_prot))));
    trace_event(EV_ANON_PAGE, mm, addr, ZERO_PAGE());
  }
  spin_unlock(ptl);
  return VM_FAULT_MINOR;
}

/**
 * do_no_page: a fault on an empty pte of a file vma. The page comes from
 * the page cache (filemap_nopage); a write fault of a private mapping gets
 * its own anonymous copy at once. truncate_count is sampled before the
 * lookup and checked under the PTL: a truncate that ran meanwhile may have
 * taken the page out of the file, so the fault starts over (and then meets
 * the new i_size). Caller holds mmap_sem for read; takes the PTL (E4: inside
 * the page lock filemap_nopage took, released once the pte is set).
 */
function do_no_page(mm: number, vma: number, addr: number, table: number, write: boolean): number {
  const as = vma_field(vma, VMA.vm_file);
  const ptl = pte_lockptr(table);
  const slot = pte_offset(table, addr);
  for (;;) {
    const sequence = Atomics.load(i32, mapping_truncate_count(as));
    let page = filemap_nopage(vma, addr);
    if (page === NOPAGE_SIGBUS) return VM_FAULT_SIGBUS;
    if (page === NOPAGE_OOM) return oom('do_no_page: ->nopage returned NOPAGE_OOM');
    // E4: filemap_fault returned the page locked, held until its pte is set (do_read_fault/do_shared_fault)
    let locked = ERA.id === E4 ? page : 0;
    let anon = false;
    // Should we do an early C-O-W break?
    if (write && (vma_field(vma, VMA.vm_flags) & VM_SHARED) === 0) {
      if (anon_vma_prepare(vma) !== 0) { if (locked) unlock_page(locked); put_page(page); return oom('do_no_page: anon_vma_prepare'); }
      const newpage = alloc_page();
      if (newpage === 0) { if (locked) unlock_page(locked); put_page(page); return oom('do_no_page: alloc_page for the private copy'); }
      copy_user_highpage(newpage, page);
      if (locked) { unlock_page(locked); locked = 0; } // do_cow_fault: the copy is made, the file page goes
      put_page(page);
      page = newpage;
      anon = true;
    }
    spin_lock(ptl, LC_PTL);
    // For a file-backed vma, someone could have truncated or otherwise invalidated this page
    if (Atomics.load(i32, mapping_truncate_count(as)) !== sequence) {
      spin_unlock(ptl);
      if (locked) unlock_page(locked);
      put_page(page);
      cond_resched();
      continue;
    }
    if (!pte_none(Atomics.load(i32, slot))) { // someone else mapped it first
      spin_unlock(ptl);
      if (locked) unlock_page(locked);
      put_page(page);
      return VM_FAULT_MINOR;
    }
    // model checker (C-NOPAGE): a page-cache page mapped here must still be in the file (truncate_count's promise)
    if (!anon && i32[page_base(page) + PAGE.mapping] !== as << 1) {
      spin_unlock(ptl);
      fail(OOPS_INVARIANT, invariant_message('C-NOPAGE', `do_no_page maps pfn ${page} at mm#${mm} 0x${addr.toString(16)}, which left file#${as} while the fault looked it up (page->mapping 0x${(i32[page_base(page) + PAGE.mapping] >>> 0).toString(16)})`), page, mm, addr);
    }
    let entry = mk_pte(page, vma_field(vma, VMA.vm_page_prot));
    if (write) entry = maybe_mkwrite(pte_mkdirty(entry), vma);
    if (anon) {
      Atomics.add(i32, anon_rss(mm), 1);
      lru_cache_add_active(page);
      page_add_new_anon_rmap(page, vma, addr);
    } else {
      Atomics.add(i32, file_rss(mm), 1);
      page_add_file_rmap(page);
    }
    if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
    Atomics.store(i32, slot, entry); // the page's reference from nopage becomes the pte's
    trace_event(EV_NO_PAGE, mm, addr, page, anon ? 1 : 0);
    spin_unlock(ptl);
    if (locked) unlock_page(locked);
    return VM_FAULT_MAJOR;
  }
}

/**
 * do_wp_page's last outcome on this CPU, read at once by the early COWs of
 * do_swap_page and unuse_process: each of these but WP_COPIED leaves the
 * page where it was (the seed's residual when that address clashes)
 */
const WP_NONE = 0, WP_COPIED = 1, WP_REUSED = 2, WP_BACKED_OUT = 3, WP_NOMEM = 4;
let wp_outcome = WP_NONE;
/** before an early COW through handle_mm_fault (swapoff's make_page_exclusive): forget the last outcome */
export function early_cow_begin(): void { wp_outcome = WP_NONE; }
/** after it: did do_wp_page leave the page in place (reused, backed out on pte_same, or no memory for the copy)? */
export const early_cow_left_page = (): boolean => wp_outcome !== WP_NONE && wp_outcome !== WP_COPIED;

/**
 * do_wp_page: write fault on a present read-only pte. Entered with the PTL
 * held; returns with it released. Reuse when we are the only mapper (the
 * page lock keeps swap and migration out while we look), else copy.
 */
function do_wp_page(mm: number, vma: number, addr: number, table: number, orig: number): number {
  const ptl = pte_lockptr(table);
  const slot = pte_offset(table, addr);
  const old = pte_pfn(orig);
  const vm_flags = vma_field(vma, VMA.vm_flags);
  let reuse = false;
  if ((vm_flags & VM_SHARED) !== 0) {
    reuse = true; // a shared mapping writes to the page-cache page itself (maybe_mkwrite decides the bit)
  } else if (PageAnon(old) && trylock_page(old)) {
    reuse = can_share_swap_page(old, page_mapcount(old));
    unlock_page(old);
  }
  wp_outcome = reuse ? WP_REUSED : WP_BACKED_OUT; // WP_COPIED once the copy is in the pte
  if (reuse) {
    Atomics.or(i32, slot, _PAGE_ACCESSED | _PAGE_DIRTY | ((vm_flags & VM_WRITE) !== 0 ? _PAGE_RW : 0));
    trace_event(EV_WP_PAGE, mm, addr, old, 0);
    spin_unlock(ptl);
    return VM_FAULT_MINOR;
  }
  get_page(old);
  spin_unlock(ptl);
  i32[current.stat + CPUSTAT.cow] += 1;
  if (anon_vma_prepare(vma) !== 0) { put_page(old); wp_outcome = WP_NOMEM; return oom('do_wp_page: anon_vma_prepare'); }
  const newpage = alloc_page();
  if (newpage === 0) { put_page(old); wp_outcome = WP_NOMEM; return oom('do_wp_page: alloc_page for the copy'); }
  copy_user_highpage(newpage, old);
  spin_lock(ptl, LC_PTL);
  let drop = newpage;
  const zero = ERA.id === E0 && PageReserved(old); // 2.6.6: ZERO_PAGE's pte held no rmap, no rss, no reference
  if (Atomics.load(i32, slot) === orig) { // pte_same
    if (zero) Atomics.add(i32, anon_rss(mm), 1);
    else if (!PageAnon(old)) { // a private copy of a file page: the pte moves from file_rss to anon_rss
      Atomics.sub(i32, file_rss(mm), 1);
      Atomics.add(i32, anon_rss(mm), 1);
    }
    if (!zero) page_remove_rmap(old);
    const entry = maybe_mkwrite(pte_mkdirty(mk_pte(newpage, vma_field(vma, VMA.vm_page_prot))), vma);
    ptep_clear_flush(mm, slot); // ptep_establish: no CPU keeps using the old page
    lru_cache_add_active(newpage);
    page_add_new_anon_rmap(newpage, vma, addr);
    if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
    Atomics.store(i32, slot, entry);
    wp_outcome = WP_COPIED;
    trace_event(EV_WP_PAGE, mm, addr, old, newpage);
    drop = zero ? 0 : old; // the old pte's reference
    // C-ANONMM of the copy (a reused page keeps the pte it had: do_swap_page's early COW checks that one)
    if (ERA.id === E0) check_anonmm_pte(mm, slot, ptl, addr);
  }
  spin_unlock(ptl);
  if (drop !== 0) put_page(drop);
  put_page(old);
  return VM_FAULT_MINOR;
}

/**
 * The recheck of the swap-cache page after lock_page, as each era had it
 * (kernel-notes 7). 2.6.16 retried when migration had taken the page out of
 * the swap cache ("Page migration has occured"); 2.6.17 dropped that and
 * trusted pte_same. 2.6.32 checks the page is still the cache page of this
 * very entry: swapoff may have released the swap cache under us and a
 * swapon given the same entry value to another page, an ABA that pte_same
 * cannot see. 2.6.18 (E2) has the pre-2.6.32 line behind the switch.
 */
function swapin_page_changed(page: number, entry: number): boolean {
  const recheck = ERA.swapin_recheck;
  if (recheck === 'swapcache') return !PageSwapCacheP(page);
  // switch:swapin-no-entry-recheck (2.6.32's do_swap_page hunk; on in 2.6.18 as released)
  if (recheck === 'entry' || (ERA.id === E2 && !buggy(SW_SWAPIN_NO_ENTRY_RECHECK))) return !PageSwapCacheP(page) || page_private(page) !== entry;
  return false;
}

/**
 * do_swap_page: a non-present, non-none pte. A migration entry waits for
 * the migration to end; a swap entry is read into the swap cache (or found
 * there), mapped under the page lock and the PTL, and its slot use dropped.
 * Caller holds mmap_sem for read.
 */
function do_swap_page(mm: number, vma: number, addr: number, table: number, orig: number, write: boolean): number {
  trace_event(EV_SWAP_PAGE, mm, addr, orig);
  const entry = pte_to_swp_entry(orig);
  if (is_migration_entry(entry)) window_open(WIN_SWAP_FAULT_MIGRATION); // cov: a fault raced a migration
  // switch:swap-fault-on-migration-entry (seed 000, do_swap_page hunk)
  if (!buggy(SW_SWAP_FAULT_ON_MIGRATION_ENTRY) && is_migration_entry(entry)) {
    migration_entry_wait(mm, addr);
    return VM_FAULT_MINOR;
  }
  // 4.14 (E3 on): the other special entries: a device-private page faults to its driver, anything else is bad
  if (ERA.id >= E3 && non_swap_entry(entry)) {
    if (is_device_private_entry(entry)) return device_private_entry_fault(mm, vma, addr, device_private_entry_to_page(entry), write);
    print_bad_pte(mm, addr, orig);
    return VM_FAULT_SIGBUS;
  }
  // switch:swapin-swapoff-race (5.14's do_swap_page hunk): hold the device for the whole fault, so no swapoff
  // and swapon can pass under it and give this entry value to another page
  if (buggy(SW_SWAPIN_SWAPOFF_RACE)) return do_swap_page_entry(mm, vma, addr, table, orig, entry, write);
  const si = get_swap_device(entry);
  if (si === -1) return VM_FAULT_MINOR; // swapoff took the device: our pte no longer holds this entry
  const r = do_swap_page_entry(mm, vma, addr, table, orig, entry, write);
  if (si >= 0) put_swap_device(si);
  return r;
}

/** why read_swap_cache_async gave do_swap_page no page for entry while its pte still held it (the report's line) */
function swapin_oom_at(entry: number): string {
  const e = '0x' + (entry >>> 0).toString(16);
  // a slot that was free when the read looked and is in use again now was given out anew: the same pte may
  // have been unmapped to the same entry meanwhile (an ABA that pte_same cannot see), not memory running out
  const uses = swp_type(entry) < nr_swapfiles() ? Atomics.load(i32, swap_map_slot(swp_type(entry), swp_offset(entry))) : 0;
  const again = swapin_fail.slot_freed && uses > 0 ? `; the slot is in use again (swap_map ${uses}): freed and given out anew while the fault slept, and the pte holds the same entry value once more` : '';
  return `do_swap_page: read_swap_cache_async(entry ${e}) returned no page (${swapin_fail.why}) and the pte still holds the entry${again}`;
}

/**
 * swapin_readahead (2.6.16/2.6.18 mm/memory.c) as with vm.page-cluster 0:
 * no neighbouring slot is read (swap readahead is not modelled), which
 * leaves its last step, run whatever it read: lru_add_drain, this CPU's
 * pagevecs onto the LRU (E1/E2; a no-op elsewhere). The faulted page itself
 * is added after it, by read_swap_cache_async. Caller holds mmap_sem for
 * read and no spinlock.
 */
function swapin_readahead(): void {
  lru_add_drain();
}

/** do_swap_page's swap entry: look it up or read it, lock the page, recheck, map (caller holds mmap_sem for read) */
function do_swap_page_entry(mm: number, vma: number, addr: number, table: number, orig: number, entry: number, write: boolean): number {
  const ptl = pte_lockptr(table);
  const slot = pte_offset(table, addr);
  let ret = VM_FAULT_MINOR;
  let page = lookup_swap_cache(entry);
  if (page === 0) {
    swapin_readahead();
    page = read_swap_cache_async(entry);
    if (page === 0) {
      // Back out if somebody else faulted in this pte while we were reading
      spin_lock(ptl, LC_PTL);
      const same = Atomics.load(i32, slot) === orig;
      spin_unlock(ptl);
      return same ? oom(swapin_oom_at(entry)) : VM_FAULT_MINOR;
    }
    ret = VM_FAULT_MAJOR;
    i32[current.stat + CPUSTAT.swapins] += 1;
  }
  lock_page(page);
  if (!PageSwapCacheP(page) || page_private(page) !== entry) window_open(WIN_SWAPIN_PAGE_GONE); // cov: the entry may be reused under us
  if (swapin_page_changed(page, entry)) {
    // 2.6.16 (E1): "Page migration has occured" (the page left the swap cache): retry the lookup
    if (ERA.id === E1) trace_event(EV_SWAPIN_RETRY, mm, addr, page);
    unlock_page(page);
    put_page(page);
    return ret; // the fault is retried
  }
  spin_lock(ptl, LC_PTL);
  // the !PageUptodate SIGBUS came after 2.6.6 (E0 maps what the read left)
  if (Atomics.load(i32, slot) !== orig || (ERA.id !== E0 && (page_flags(page) & PG_uptodate) === 0)) {
    const sigbus = Atomics.load(i32, slot) === orig;
    spin_unlock(ptl);
    unlock_page(page);
    put_page(page);
    return sigbus ? VM_FAULT_SIGBUS : ret;
  }
  // 2.6.6 (E0) frees the slot before it maps the page, and unlocks the page before the pte is set
  const e0 = ERA.id === E0;
  if (e0) {
    swap_free(entry);
    if (vm_swap_full()) remove_exclusive_swap_page(page);
  }
  // the page's reference from the lookup becomes the pte's
  Atomics.add(i32, anon_rss(mm), 1);
  let pte = mk_pte(page, vma_field(vma, VMA.vm_page_prot));
  let write_access = write;
  if (write_access && can_share_swap_page(page, page_mapcount(page))) { // our pte is not mapped yet (E0 counts references)
    pte = maybe_mkwrite(pte_mkdirty(pte), vma);
    write_access = false;
  }
  if (e0) unlock_page(page);
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  Atomics.store(i32, slot, pte);
  page_add_anon_rmap(page, vma, addr);
  trace_event(EV_SWAPIN_MAP, mm, addr, page, pte_write(pte) ? 1 : 0);
  if (e0) {
    // switch:swapin-no-early-cow (seed 003, do_swap_page hunk): a write to a page others share, or an
    // address the page did not note (mremap moved it in this mm or another), takes a private copy now
    if (mremap_moved_anon_rmap(page, addr)) window_open(WIN_SWAPIN_CLASH); // cov: page->index names another address
    if (!buggy(SW_SWAPIN_NO_EARLY_COW) && (write_access || mremap_moved_anon_rmap(page, addr))) {
      trace_event(EV_EARLY_COW, mm, addr, page, write_access ? COW_SWAPIN_WRITE : COW_SWAPIN_CLASH);
      if (!write_access) i32[current.stat + CPUSTAT.early_cows] += 1;
      const r = do_wp_page(mm, vma, addr, table, pte); // drops the PTL
      spin_lock(ptl, LC_PTL);
      // The seed's residual race: do_wp_page left the page at the clashing address. Either the other mapper
      // copied it away (its own write fault) after our page_add_anon_rmap, so it was exclusive and reused, or
      // the pte changed before do_wp_page took the PTL again (another CPU's access set the accessed bit), so it
      // backed out, or the copy found no memory (a write to a shared page that clashes meets the same)
      note_early_cow_residual(mm, slot, page, addr);
      check_anonmm_pte(mm, slot, ptl, addr);
      spin_unlock(ptl);
      return r === VM_FAULT_OOM ? VM_FAULT_OOM : ret;
    }
    check_anonmm_pte(mm, slot, ptl, addr);
    spin_unlock(ptl);
    return ret;
  }
  swap_free(entry);
  if (vm_swap_full()) remove_exclusive_swap_page(page);
  unlock_page(page);
  if (write_access) return do_wp_page(mm, vma, addr, table, pte); // drops the PTL
  spin_unlock(ptl);
  return ret;
}

/** print_bad_pte (4.14): a pte the fault path cannot make sense of */
function print_bad_pte(mm: number, addr: number, pte: number): void {
  fail(OOPS_ERROR, `BUG: Bad page map in process ${current.comm}  pte:${(pte >>> 0).toString(16).padStart(8, '0')} pmd:00000000\nmmrace: mm#${mm} addr 0x${addr.toString(16)}`, 0, mm, addr);
}

/**
 * copy_one_pte: called with the child's and the parent's PTLs held. A swap
 * or migration entry is copied as it is (made read for a COW mapping); a
 * present COW pte is write-protected in both.
 */
function copy_one_pte(dst_mm: number, src_mm: number, dst_slot: number, src_slot: number, vm_flags: number, addr: number): void {
  let pte = Atomics.load(i32, src_slot);
  if (!pte_present(pte)) {
    if (!pte_file(pte)) {
      let entry = pte_to_swp_entry(pte);
      // 4.14 (seed 004): a device-private entry maps its device page: one more reference and mapping;
      // a write entry of a COW mapping becomes read in both
      if (ERA.id >= E3 && is_device_private_entry(entry)) {
        const page = device_private_entry_to_page(entry);
        get_page(page);
        Atomics.add(i32, anon_rss(dst_mm), 1);
        page_dup_rmap(page);
        if (is_write_device_private_entry(entry) && is_cow_mapping(vm_flags)) {
          entry = make_device_private_entry_read(entry);
          pte = swp_entry_to_pte(entry);
          if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
          Atomics.store(i32, src_slot, pte);
        }
        if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
        Atomics.store(i32, dst_slot, pte);
        return;
      }
      if (is_migration_entry(entry)) window_open(WIN_COPY_MIGRATION_ENTRY); // cov: fork racing migration
      swap_duplicate(entry);
      mmlist_add(dst_mm, src_mm); // make sure dst_mm is on swapoff's mmlist, after src_mm
      if (is_migration_entry(entry) && is_cow_mapping(vm_flags)) window_open(WIN_COPY_MIGRATION_COW); // cov: the entry the buggy line rewrites
      if (buggy(SW_MIGRATION_READ_AS_BOOL)) {
        // switch:migration-read-as-bool, the pre-patch line: SWP_MIGRATION_READ (30) is a true `write`
        if (is_migration_entry(entry) && is_cow_mapping(vm_flags)) {
          const page = migration_entry_to_page(entry);
          entry = make_migration_entry(page, SWP_MIGRATION_READ);
          pte = swp_entry_to_pte(entry);
          if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
          Atomics.store(i32, src_slot, pte);
        }
      } else if (is_write_migration_entry(entry) && is_cow_mapping(vm_flags)) {
        // COW mappings require pages in both parent and child to be set to read
        entry = make_migration_entry_read(entry);
        pte = swp_entry_to_pte(entry);
        if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
        Atomics.store(i32, src_slot, pte);
      }
      if (is_migration_entry(entry)) trace_event(EV_COPY_MIGRATION_ENTRY, dst_mm, addr, swp_offset(entry), is_write_migration_entry(entry) ? 1 : 0);
    }
    if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
    Atomics.store(i32, dst_slot, pte);
    return;
  }
  if (is_cow_mapping(vm_flags) && pte_write(pte)) {
    Atomics.and(i32, src_slot, ~_PAGE_RW); // ptep_set_wrprotect: atomic against hardware A/D updates
    flush_tlb_page(src_mm, src_slot);
    pte = pte_wrprotect(Atomics.load(i32, src_slot));
  }
  if ((vm_flags & VM_SHARED) !== 0) pte = pte_mkclean(pte);
  pte = pte_mkold(pte);
  const page = pte_pfn(pte);
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  if (ERA.id === E0 && PageReserved(page)) { Atomics.store(i32, dst_slot, pte); return; } // ZERO_PAGE: no count, no rmap
  get_page(page);
  page_dup_rmap(page);
  Atomics.add(i32, rss_of(dst_mm, page), 1);
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  Atomics.store(i32, dst_slot, pte);
}

/** copy_pte_range: child's PTL, then the parent's (nested); one table at a time */
function copy_pte_range(dst_mm: number, src_mm: number, vma: number, addr: number, end: number): number {
  const src_table = pte_table(src_mm, addr);
  if (src_table === 0) return 0;
  const dst_slot0 = pte_alloc_map_lock(dst_mm, addr);
  if (dst_slot0 < 0) return -12;
  const dst_ptl = pte_lockptr(pte_table(dst_mm, addr));
  const src_ptl = pte_lockptr(src_table);
  spin_lock(src_ptl, LC_PTL);
  trace_event(EV_COPY_PTE_RANGE, dst_mm, addr, src_mm);
  const vm_flags = vma_field(vma, VMA.vm_flags);
  const dst_table = pte_table(dst_mm, addr);
  for (; addr < end; addr += PAGE_SIZE) {
    const src_slot = pte_offset(src_table, addr);
    if (pte_none(Atomics.load(i32, src_slot))) continue;
    copy_one_pte(dst_mm, src_mm, pte_offset(dst_table, addr), src_slot, vm_flags, addr);
    if (ERA.id === E0) check_anonmm_pte(dst_mm, pte_offset(dst_table, addr), dst_ptl, addr); // C-ANONMM of the child's pte (a failure ends the run with src_ptl held)
  }
  spin_unlock(src_ptl);
  spin_unlock(dst_ptl);
  cond_resched();
  return 0;
}

/** copy_page_range: fork copies the parent's ptes of one vma (both mmap_sems held for write) */
export function copy_page_range(dst_mm: number, src_mm: number, vma: number): number {
  if ((vma_field(vma, VMA.vm_flags) & VM_HUGETLB) !== 0) fail(OOPS_INTERNAL, 'mmrace: fork of a hugetlb vma (copy_hugetlb_page_range) is not modelled');
  // Don't copy ptes where a page fault will fill them correctly (2.6.6 has no anon_vma: it copies every vma)
  if (ERA.id !== E0 && vma_field(vma, VMA.anon_vma) === 0) return 0;
  const end = vma_field(vma, VMA.vm_end);
  for (let addr = vma_field(vma, VMA.vm_start); addr < end;) {
    const next = pmd_addr_end(addr, end);
    if (copy_pte_range(dst_mm, src_mm, vma, addr, next) !== 0) return -12;
    addr = next;
  }
  return 0;
}

/**
 * mmu_gather (2.6.18 on SMP), E1/E2: the pages zap_pte_range unmapped keep
 * their ptes' references here until tlb_finish_mmu (the end of the zap, or
 * a full gather) drops them PAGEVEC_SIZE at a time, one lru_lock take each;
 * other eras release each page at once (free_page_and_swap_cache). Either
 * way a page only the swap cache still holds leaves the cache there. This
 * CPU's, in its worker (a kernel stack's); tlb_gather_mmu empties it, a
 * halted run may have left pages in it. The model gathers at every CPU count (2.6.18 freed at once, its fast
 * mode, with one CPU online).
 */
const FREE_PTE_NR = 64;
const tlb_pages = new Int32Array(FREE_PTE_NR);
let tlb_nr = 0;

/** tlb_gather_mmu: an empty gather for this zap */
function tlb_gather_mmu(): void {
  tlb_nr = 0;
}

/** tlb_remove_page: the unmapped page's reference into the gather (a full one released at once, under the caller's PTL as in 2.6.18) */
function tlb_remove_page(page: number): void {
  if (!lru_pagevecs()) { free_page_and_swap_cache(page); return; }
  tlb_pages[tlb_nr++] = page;
  if (tlb_nr === FREE_PTE_NR) tlb_finish_mmu();
}

/** tlb_finish_mmu (tlb_flush_mmu): every gathered reference dropped; caller holds no spinlock but maybe a PTL */
function tlb_finish_mmu(): void {
  const nr = tlb_nr;
  tlb_nr = 0;
  if (nr > 0) free_pages_and_swap_cache(tlb_pages, nr);
}

/** zap_pte_range: drop every pte of [addr, end) in one table; takes the PTL; the pages' references go to the gather */
function zap_pte_range(mm: number, table: number, addr: number, end: number): void {
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  for (; addr < end; addr += PAGE_SIZE) {
    const slot = pte_offset(table, addr);
    const pte = Atomics.load(i32, slot);
    if (pte_none(pte)) continue;
    if (pte_present(pte)) {
      const ptent = ptep_clear_flush(mm, slot); // tlb gather, flushed before the page can be freed
      const page = pte_pfn(ptent);
      if (ERA.id === E0 && PageReserved(page)) continue; // ZERO_PAGE
      if (!PageAnon(page)) {
        // a file page: the pte's dirty bit is the only record of stores through it; its young bit keeps its second chance
        if (pte_dirty(ptent)) set_page_dirty(page);
        if (pte_young(ptent)) mark_page_accessed(page);
      }
      Atomics.sub(i32, rss_of(mm, page), 1);
      page_remove_rmap(page);
      tlb_remove_page(page);
      continue;
    }
    if (!pte_file(pte)) {
      const entry = pte_to_swp_entry(pte);
      // 4.14 (seed 004): a device-private entry is a mapping of its device page
      if (ERA.id >= E3 && is_device_private_entry(entry)) {
        const page = device_private_entry_to_page(entry);
        if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
        Atomics.store(i32, slot, 0);
        Atomics.sub(i32, anon_rss(mm), 1);
        page_remove_rmap(page);
        put_page(page);
        continue;
      }
      if (is_migration_entry(entry)) {
        trace_event(EV_ZAP, mm, addr, swp_offset(entry), 1);
        // model checker (C-MIGENT): a migration entry may exist only while its page is locked by the migration
        if ((Atomics.load(i32, page_base(swp_offset(entry)) + PAGE.flags) & PG_locked) === 0) {
          spin_unlock(ptl);
          fail(OOPS_INVARIANT, invariant_message('C-MIGENT', `orphaned migration entry dropped at exit: mm#${mm} addr 0x${addr.toString(16)} -> pfn ${swp_offset(entry)}, which is not under migration`), swp_offset(entry), mm, addr);
        }
      }
      free_swap_and_cache(entry);
    }
    if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
    Atomics.store(i32, slot, 0);
  }
  spin_unlock(ptl);
}

/**
 * zap_page_range: drop the ptes of [addr, end) in one vma (truncate's
 * unmap_mapping_range holds i_mmap_lock; takes each PTL)
 */
export function zap_page_range(vma: number, addr: number, end: number): void {
  const mm = vma_field(vma, VMA.vm_mm);
  lru_add_drain(); // E1/E2: this CPU's pagevecs first, as 2.6.18's zap_page_range did
  tlb_gather_mmu();
  while (addr < end) {
    const next = pmd_addr_end(addr, end);
    const table = pte_table(mm, addr);
    if (table !== 0) zap_pte_range(mm, table, addr, next);
    addr = next;
  }
  tlb_finish_mmu();
}

/** unmap_vmas: zap every vma of an exiting mm (mmap_sem held for write) */
export function unmap_vmas(mm: number): void {
  tlb_gather_mmu();
  for (let vma = i32[mm_base(mm) + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
    if ((vma_field(vma, VMA.vm_flags) & VM_HUGETLB) !== 0) { unmap_hugepage_range(vma); continue; } // E0 only: no pte table behind it
    const end = vma_field(vma, VMA.vm_end);
    for (let addr = vma_field(vma, VMA.vm_start); addr < end;) {
      const next = pmd_addr_end(addr, end);
      const table = pte_table(mm, addr);
      if (table !== 0) zap_pte_range(mm, table, addr, next);
      addr = next;
      tlb_finish_mmu(); // 2.6.18's unmap_vmas finished the gather before each cond_resched and began a new one
      cond_resched();
    }
  }
}


// get_user_pages and follow_page as 2.6.16-2.6.18 had them (mm/memory.c):
// the way a driver or direct I/O pins user pages. A pinned page holds one
// more reference than its ptes and caches account for, and nothing else
// marks it: the reference count is the only thing that tells migration a
// pin is there (seed 001's re-check under tree_lock).

/** follow_page flags */
export const FOLL_WRITE = 0x01, FOLL_TOUCH = 0x02, FOLL_GET = 0x04;
export const EFAULT = -14;
const ENOMEM = -12;

/**
 * follow_page: the page a present pte maps (writable, for FOLL_WRITE), with
 * a reference for FOLL_GET, or 0 when a fault must make it so. Caller holds
 * mmap_sem; takes the PTL.
 */
export function follow_page(mm: number, addr: number, flags: number): number {
  const slot = pte_offset_map_lock(mm, addr);
  if (slot < 0) return 0;
  const pte = Atomics.load(i32, slot);
  let page = 0;
  if (pte_present(pte) && ((flags & FOLL_WRITE) === 0 || pte_write(pte))) {
    page = pte_pfn(pte); // vm_normal_page: every present pte of the model maps a normal page
    if ((flags & FOLL_GET) !== 0) get_page(page);
    // FOLL_TOUCH: a page written through the pin is dirty (mark_page_accessed: no access aging in the model)
    if ((flags & (FOLL_TOUCH | FOLL_WRITE)) === (FOLL_TOUCH | FOLL_WRITE) && !pte_dirty(pte)) set_page_dirty(page);
  }
  pte_unmap_unlock(slot);
  return page;
}

/**
 * get_user_pages: pin `len` pages from `start` into `pages`, faulting each
 * in (breaking COW for a write) until follow_page finds it. Caller holds
 * mm's mmap_sem for read (the pins outlive it). Returns the number pinned,
 * or -EFAULT / -ENOMEM when none was.
 */
export function get_user_pages(mm: number, start: number, len: number, write: boolean, pages: Int32Array): number {
  const foll = FOLL_TOUCH | FOLL_GET | (write ? FOLL_WRITE : 0);
  let i = 0;
  for (; i < len; i++) {
    const addr = start + i * PAGE_SIZE;
    const vma = find_vma(mm, addr);
    if (vma === 0 || addr < vma_field(vma, VMA.vm_start)) return i ? i : EFAULT;
    if ((vma_field(vma, VMA.vm_flags) & (write ? VM_WRITE : VM_READ)) === 0) return i ? i : EFAULT;
    cond_resched();
    let page: number;
    while ((page = follow_page(mm, addr, foll)) === 0) {
      const ret = handle_mm_fault(mm, vma, addr, write);
      if (ret === VM_FAULT_SIGBUS) return i ? i : EFAULT;
      if (ret === VM_FAULT_OOM) return i ? i : ENOMEM;
    }
    trace_event(EV_GUP, mm, addr, page, page_count(page));
    pages[i] = page;
  }
  return i;
}

/** set_page_dirty_lock (mm/page-writeback.c): set_page_dirty under the page lock, for a page only a reference holds */
export function set_page_dirty_lock(page: number): void {
  lock_page(page);
  set_page_dirty(page);
  unlock_page(page);
}
