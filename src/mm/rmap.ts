// Reverse mapping (mm/rmap.c, 2.6.17/18): every vma that may map a page of
// an anon_vma is on anon_vma->head, every vma of a file on its mapping's
// i_mmap list; rmap_walk visits them head to tail under anon_vma->lock or
// i_mmap_lock, then each pte under its PTL. try_to_unmap, page_referenced
// and remove_migration_ptes (migrate.ts) are all walks.
import { ANON_VMA, IDALLOC, MM, PAGE, VMA } from '../shm/layout.js';
import { BASES, as_base, av_base, i32, mm_base, page_base, sizes, vma_base } from '../shm/machine.js';
import { ListDesc, list_add, list_add_after, list_add_tail, list_del, list_empty } from '../shm/list.js';
import { SW_ANON_VMA_LIST_HEAD, buggy } from '../shm/switches.js';
import { E0, E4, ERA } from '../shm/era.js';
import { EV_ANON_VMA_LINK, EV_UNMAP_ONE, trace_event } from '../cpu/events.js';
import { flush_tlb_page } from '../cpu/tlb.js';
import { BUG, BUG_ON } from '../check/bug.js';
import { LC_ANON_VMA, LC_I_MMAP, LC_PAGE_TABLE_LOCK, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import {
  ANON_VMA_LIST, PAGE_MAPPING_ANON, PageAnon, SetPageFlag, anon_vma_head, anon_vma_lock, linear_page_index,
  TestClearPageFlag, page_mapcount, page_mapped, vma_address, vma_field,
} from './mm_types.js';
import { pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { pte_dirty, pte_pfn, pte_present, pte_write } from './pgtable.js';
import { is_migration_entry, make_migration_entry, swp_entry_to_pte } from './swapops.js';
import { ADDRESS_SPACE, PG_dirty, PG_locked, PG_referenced, PG_swapbacked, PG_swapcache } from '../shm/layout.js';
import { put_page } from './swap.js';
import { swap_duplicate } from './swapfile.js';
import { mmlist_add } from './mmap.js';
import { VM_LOCKED, page_flags, page_mapping } from './mm_types.js';
import { write_lock_tree, write_unlock_tree } from './filemap.js';
import { _PAGE_ACCESSED } from './pgtable.js';
import {
  no_anon_vma, page_add_anon_rmap_anonmm, page_dup_rmap_anonmm, page_referenced_anonmm, page_remove_rmap_anonmm, try_to_unmap_anonmm,
} from './rmap_anonmm.js';
import { is_device_private_page, is_zone_device_page } from './memremap.js';
import { page_vma_mapped_walk, pvmw } from './page_vma_mapped.js';
import { REC_PEEK, record_step, recording } from '../sync/preempt.js';

export const SWAP_SUCCESS = 0, SWAP_AGAIN = 1, SWAP_FAIL = 2;

/** anon_vma_alloc: ids are never reused within a run (a type-stable slab) */
function anon_vma_alloc(): number {
  const id = Atomics.add(i32, BASES.av_alloc + IDALLOC.next_never_used, 1) + 1;
  if (id >= sizes.nr_anon_vma) return 0;
  const a = av_base(id);
  i32[a + ANON_VMA.lock] = 0; i32[a + ANON_VMA.head_first] = 0; i32[a + ANON_VMA.head_last] = 0;
  i32[a + ANON_VMA.pin] = 0;
  Atomics.store(i32, a + ANON_VMA.live, 1);
  return id;
}

function anon_vma_free(av: number): void {
  Atomics.store(i32, av_base(av) + ANON_VMA.live, 0);
}

/** anon_vma_prepare: give the vma an anon_vma before its first anon page; -ENOMEM on failure */
export function anon_vma_prepare(vma: number): number {
  if (ERA.id === E0) return 0; // 2.6.6: no anon_vma; the mm's anonmm is its rmap object (rmap_anonmm.ts)
  if (vma_field(vma, VMA.anon_vma) !== 0) return 0;
  const mm = vma_field(vma, VMA.vm_mm);
  let allocated = anon_vma_alloc();
  if (allocated === 0) return -12;
  const av = allocated;
  spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  const ptl = BASES.mms + mm * MM.stride + MM.page_table_lock;
  spin_lock(ptl, LC_PAGE_TABLE_LOCK);
  if (vma_field(vma, VMA.anon_vma) === 0) {
    i32[vma_base(vma) + VMA.anon_vma] = av;
    // switch:anon-vma-list-head (seed 000, anon_vma_prepare hunk)
    if (buggy(SW_ANON_VMA_LIST_HEAD)) list_add(ANON_VMA_LIST, anon_vma_head(av), vma);
    else list_add_tail(ANON_VMA_LIST, anon_vma_head(av), vma);
    allocated = 0;
  }
  spin_unlock(ptl);
  spin_unlock(anon_vma_lock(av));
  if (allocated !== 0) anon_vma_free(allocated);
  return 0;
}

/** __anon_vma_link: caller holds anon_vma->lock (vma_adjust / split_vma) */
export function __anon_vma_link(vma: number): void {
  const av = vma_field(vma, VMA.anon_vma);
  if (av === 0) return;
  // switch:anon-vma-list-head (seed 000, __anon_vma_link hunk)
  if (buggy(SW_ANON_VMA_LIST_HEAD)) list_add(ANON_VMA_LIST, anon_vma_head(av), vma);
  else list_add_tail(ANON_VMA_LIST, anon_vma_head(av), vma);
}

/** anon_vma_link: fork links the child's vma into the parent's anon_vma; takes anon_vma->lock */
export function anon_vma_link(vma: number): void {
  const av = vma_field(vma, VMA.anon_vma);
  if (av === 0) return;
  spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  // switch:anon-vma-list-head (seed 000, anon_vma_link hunk: the orphan race)
  const head = buggy(SW_ANON_VMA_LIST_HEAD);
  if (head) list_add(ANON_VMA_LIST, anon_vma_head(av), vma);
  else list_add_tail(ANON_VMA_LIST, anon_vma_head(av), vma);
  trace_event(EV_ANON_VMA_LINK, av, vma, head ? 1 : 0, vma_field(vma, VMA.vm_mm));
  spin_unlock(anon_vma_lock(av));
}

/** anon_vma_unlink: takes anon_vma->lock; frees the anon_vma when no vma and no pin is left */
export function anon_vma_unlink(vma: number): void {
  const av = vma_field(vma, VMA.anon_vma);
  if (av === 0) return;
  spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  list_del(ANON_VMA_LIST, anon_vma_head(av), vma);
  const empty = list_empty(anon_vma_head(av)) && Atomics.load(i32, av_base(av) + ANON_VMA.pin) === 0;
  spin_unlock(anon_vma_lock(av));
  if (empty) anon_vma_free(av);
}

/**
 * model: keep an anon_vma alive across a migration that holds no mmap_sem
 * (later kernels' anon_vma refcount). Taken under anon_vma->lock so that
 * anon_vma_unlink's "empty and unpinned" decision sees it.
 */
export function anon_vma_pin(av: number): void {
  spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  Atomics.add(i32, av_base(av) + ANON_VMA.pin, 1);
  spin_unlock(anon_vma_lock(av));
}

export function anon_vma_unpin(av: number): void {
  spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  const left = Atomics.sub(i32, av_base(av) + ANON_VMA.pin, 1) - 1;
  const empty = left === 0 && list_empty(anon_vma_head(av));
  spin_unlock(anon_vma_lock(av));
  if (empty) anon_vma_free(av);
}

/**
 * page_get_anon_vma (E3/E4, seed 002's exchange): a reference on the anon
 * page's anon_vma that keeps it alive while the page is unmapped, or 0 if
 * the page is not mapped (then nobody can map it again while we hold its
 * page lock, and no anon_vma is needed). Caller holds the page lock; the
 * model's reference is anon_vma_pin (takes anon_vma->lock).
 */
export function page_get_anon_vma(pfn: number): number {
  if (recording) record_step(REC_PEEK); // capture: page->mapping and _mapcount, read under the page lock only
  const m = i32[page_base(pfn) + PAGE.mapping];
  if ((m & PAGE_MAPPING_ANON) === 0 || !page_mapped(pfn)) return 0;
  anon_vma_pin(m >>> 1);
  return m >>> 1;
}

/** put_anon_vma: drop page_get_anon_vma's reference (may free the anon_vma; takes anon_vma->lock) */
export function put_anon_vma(av: number): void {
  anon_vma_unpin(av);
}

function __page_set_anon_rmap(pfn: number, vma: number, addr: number): void {
  const p = page_base(pfn);
  i32[p + PAGE.index] = linear_page_index(vma, addr);
  i32[p + PAGE.mapping] = (vma_field(vma, VMA.anon_vma) << 1) | PAGE_MAPPING_ANON;
}

/** page_add_anon_rmap: caller holds the pte's PTL */
export function page_add_anon_rmap(pfn: number, vma: number, addr: number): void {
  if (ERA.id === E0) { page_add_anon_rmap_anonmm(pfn, vma_field(vma, VMA.vm_mm), addr); return; }
  if (recording) record_step(REC_PEEK); // capture: _mapcount and mapping change under the PTL, read without it
  if (Atomics.add(i32, page_base(pfn) + PAGE._mapcount, 1) === -1) __page_set_anon_rmap(pfn, vma, addr);
}

/** page_add_new_anon_rmap: a page nobody else can see yet */
export function page_add_new_anon_rmap(pfn: number, vma: number, addr: number): void {
  if (ERA.id === E0) { page_add_anon_rmap_anonmm(pfn, vma_field(vma, VMA.vm_mm), addr); return; } // 2.6.6 has no _new variant
  if (ERA.id === E4) Atomics.or(i32, page_base(pfn) + PAGE.flags, PG_swapbacked); // 5.1: __SetPageSwapBacked (2.6.28 on); exchange carries it
  if (recording) record_step(REC_PEEK); // capture: _mapcount and mapping, read without the PTL
  Atomics.store(i32, page_base(pfn) + PAGE._mapcount, 0);
  __page_set_anon_rmap(pfn, vma, addr);
}

/** page_add_file_rmap: one more pte maps this page-cache page (caller holds the pte's PTL) */
export function page_add_file_rmap(pfn: number): void {
  if (recording) record_step(REC_PEEK); // capture: _mapcount, read without the PTL
  Atomics.add(i32, page_base(pfn) + PAGE._mapcount, 1);
}

/** page_dup_rmap: fork maps an already-mapped page once more (PTL held) */
export function page_dup_rmap(pfn: number): void {
  if (ERA.id === E0) { page_dup_rmap_anonmm(pfn); return; }
  if (recording) record_step(REC_PEEK); // capture: _mapcount, read without the PTL
  Atomics.add(i32, page_base(pfn) + PAGE._mapcount, 1);
}

/** page_remove_rmap: caller holds the pte's PTL */
export function page_remove_rmap(pfn: number): void {
  if (ERA.id === E0) { page_remove_rmap_anonmm(pfn); return; }
  if (recording) record_step(REC_PEEK); // capture: _mapcount, read without the PTL
  const now = Atomics.sub(i32, page_base(pfn) + PAGE._mapcount, 1) - 1;
  if (now < -1) BUG('Eeek! page_mapcount(page) went negative! in page_remove_rmap', pfn);
}

/** set_page_dirty for an anon page: just the flag */
export function set_page_dirty(pfn: number): void {
  const mapping = page_mapping(pfn);
  if (mapping === 0) { SetPageFlag(pfn, PG_dirty); return; }
  // __set_page_dirty_buffers/_nobuffers: a clean page's slot gets its dirty tag under tree_lock
  // (tags are not modelled; the lock is taken as 2.6.16/2.6.18 took it)
  if ((page_flags(pfn) & PG_dirty) !== 0) return;
  write_lock_tree(mapping);
  SetPageFlag(pfn, PG_dirty);
  write_unlock_tree(mapping);
}

/** ptep_clear_flush_young: test and clear the accessed bit, flushing if it was set */
export function ptep_clear_flush_young(mm: number, slot: number): boolean {
  const young = (Atomics.and(i32, slot, ~_PAGE_ACCESSED) & _PAGE_ACCESSED) !== 0;
  if (young) flush_tlb_page(mm, slot);
  return young;
}

/** ptep_clear_flush: take the pte away and wait out every access through it */
export function ptep_clear_flush(mm: number, slot: number): number {
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  const old = Atomics.exchange(i32, slot, 0);
  flush_tlb_page(mm, slot);
  return old;
}

/**
 * rmap_one: one vma's part of a walk (page, vma, and the walker's two
 * arguments); SWAP_AGAIN goes on, anything else ends the walk with that value
 */
export type RmapOne = (pfn: number, vma: number, a0: number, a1: number) => number;

/** mapping->i_mmap: the file's vmas through vma->shared_next/prev */
export const I_MMAP_LIST: ListDesc = { base: vma_base, next: VMA.shared_next, prev: VMA.shared_prev };

/**
 * rmap_walk: call one(page, vma, a0, a1) for every vma that may map the
 * page, head to tail; the order is part of the protocol (fork adds a
 * child's vma after its parent's, so a walk that meets the parent first
 * also meets the child: seed 000's anon-vma-list-head breaks exactly this).
 * Caller holds the page lock; takes anon_vma->lock (anon) or
 * mapping->i_mmap_lock (file), and `one` takes each PTL. Returns the value
 * that ended the walk, or SWAP_AGAIN. Allocation-free: `one` is a
 * module-level function and its arguments are plain numbers.
 */
export function rmap_walk(pfn: number, one: RmapOne, a0: number, a1: number): number {
  if (ERA.id === E0) no_anon_vma('rmap_walk (migration)');
  if (recording) record_step(REC_PEEK); // capture: page->mapping, read under the page lock only
  const m = i32[page_base(pfn) + PAGE.mapping];
  if (m === 0) return SWAP_AGAIN;
  const anon = (m & PAGE_MAPPING_ANON) !== 0;
  const lock = anon ? anon_vma_lock(m >>> 1) : as_base(m >>> 1) + ADDRESS_SPACE.i_mmap_lock; // page_lock_anon_vma
  const head = anon ? anon_vma_head(m >>> 1) : as_base(m >>> 1) + ADDRESS_SPACE.i_mmap_first;
  const next = anon ? VMA.anon_vma_next : VMA.shared_next;
  let ret = SWAP_AGAIN;
  spin_lock(lock, anon ? LC_ANON_VMA : LC_I_MMAP);
  for (let vma = i32[head]; vma !== 0 && ret === SWAP_AGAIN; vma = i32[vma_base(vma) + next]) ret = one(pfn, vma, a0, a1);
  spin_unlock(lock);
  return ret;
}

/** __vma_link_file: a file vma joins its mapping's i_mmap, right after `parent` if given (caller holds i_mmap_lock) */
export function __vma_link_file(vma: number, parent: number): void {
  const as = vma_field(vma, VMA.vm_file);
  if (parent !== 0) list_add_after(I_MMAP_LIST, as_base(as) + ADDRESS_SPACE.i_mmap_first, parent, vma); // vma_prio_tree_add
  else list_add_tail(I_MMAP_LIST, as_base(as) + ADDRESS_SPACE.i_mmap_first, vma);
}

/** vma_link_file: a file vma joins its mapping's i_mmap (a forked child's right after its parent's); takes i_mmap_lock */
export function vma_link_file(vma: number, parent: number): void {
  const as = vma_field(vma, VMA.vm_file);
  if (as === 0) return;
  const lock = as_base(as) + ADDRESS_SPACE.i_mmap_lock;
  spin_lock(lock, LC_I_MMAP);
  __vma_link_file(vma, parent);
  spin_unlock(lock);
}

/** __remove_shared_vm_struct: a file vma leaves i_mmap; takes i_mmap_lock */
export function vma_unlink_file(vma: number): void {
  const as = vma_field(vma, VMA.vm_file);
  if (as === 0) return;
  const lock = as_base(as) + ADDRESS_SPACE.i_mmap_lock;
  spin_lock(lock, LC_I_MMAP);
  list_del(I_MMAP_LIST, as_base(as) + ADDRESS_SPACE.i_mmap_first, vma);
  spin_unlock(lock);
}

/** what page_check_address found: the address and the PTL it took (module state, read right after the call) */
let pca_addr = 0, pca_ptl = 0;

/** page_check_address: the slot of the pte mapping the page in this vma, with its PTL taken (pca_ptl), or -1 */
function page_check_address(pfn: number, vma: number): number {
  const addr = vma_address(pfn, vma);
  if (addr < 0) return -1;
  const table = pte_table(vma_field(vma, VMA.vm_mm), addr);
  if (table === 0) return -1;
  const slot = pte_offset(table, addr);
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  const pte = Atomics.load(i32, slot);
  if (!pte_present(pte) || pte_pfn(pte) !== pfn) { spin_unlock(ptl); return -1; }
  pca_addr = addr;
  pca_ptl = ptl;
  return slot;
}

/** page_referenced's walk state: ptes found young, and mappings still to find (module state: no closure per call) */
let referenced = 0, mapcount_left = 0;

/** page_referenced_one: test and clear the young bit of this vma's pte of the page (takes the PTL) */
function page_referenced_one(pfn: number, vma: number): number {
  const slot = page_check_address(pfn, vma);
  if (slot < 0) return SWAP_AGAIN;
  if (ptep_clear_flush_young(vma_field(vma, VMA.vm_mm), slot)) referenced++;
  spin_unlock(pca_ptl);
  // every mapping found: the rest of the list cannot map it
  return --mapcount_left === 0 ? SWAP_SUCCESS : SWAP_AGAIN;
}

/**
 * page_referenced: how many of the page's ptes were young, plus
 * PG_referenced; clears them all (the second chance reclaim gives). Caller
 * holds the page lock (shrink_page_list's is_locked); takes anon_vma->lock
 * or i_mmap_lock, then each PTL.
 */
export function page_referenced(pfn: number): number {
  if (ERA.id === E0) return (TestClearPageFlag(pfn, PG_referenced) ? 1 : 0) + page_referenced_anonmm(pfn);
  referenced = TestClearPageFlag(pfn, PG_referenced) ? 1 : 0;
  if (page_mapped(pfn) && i32[page_base(pfn) + PAGE.mapping] !== 0) {
    mapcount_left = page_mapcount(pfn);
    rmap_walk(pfn, page_referenced_one, 0, 0);
  }
  return referenced;
}

/**
 * try_to_unmap_one: replace this vma's pte of the page: by its swap entry
 * (swap cache), a migration entry (migration), or nothing (a file page the
 * reclaim drops). Caller holds the page lock and anon_vma->lock or
 * i_mmap_lock; takes the pte's PTL.
 */
function try_to_unmap_one(pfn: number, vma: number, migration: boolean, ignore_refs: boolean): number {
  // seed 004 (E3): ZONE_DEVICE pages other than device-private ones are not migrated; a
  // device-private page is mapped by a device-private entry, which page_vma_mapped_walk matches
  const device = is_zone_device_page(pfn);
  if (migration && device && !is_device_private_page(pfn)) return SWAP_AGAIN;
  const slot = device ? page_vma_mapped_walk(pfn, vma) : page_check_address(pfn, vma);
  if (slot < 0) return SWAP_AGAIN;
  const addr = device ? pvmw.address : pca_addr, ptl = device ? pvmw.ptl : pca_ptl;
  const mm = vma_field(vma, VMA.vm_mm);
  if (migration && device) {
    // seed 004: the device entry becomes a (read) migration entry of the page: ptep_get_and_clear,
    // no TLB holds a device entry; do_swap_page will wait until the migration pte is removed
    if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
    Atomics.exchange(i32, slot, 0);
    Atomics.store(i32, slot, swp_entry_to_pte(make_migration_entry(pfn, 0)));
    trace_event(EV_UNMAP_ONE, mm, addr, pfn, 0);
    // discard: as below (the model counts a device entry in anon_rss, kernel-notes 5.1 I-RSS)
    Atomics.sub(i32, mm_base(mm) + MM.anon_rss, 1);
    page_remove_rmap(pfn);
    put_page(pfn);
    spin_unlock(ptl);
    return SWAP_AGAIN;
  }
  // If the page is mlock()d or recently referenced, reclaim must not unmap it (2.6.18's migration must);
  // 2.6.16's migration (seed 001's hunk) still clears the young bit but ignores it (ignore_refs)
  if (!migration && ((vma_field(vma, VMA.vm_flags) & VM_LOCKED) !== 0 || (ptep_clear_flush_young(mm, slot) && !ignore_refs))) {
    spin_unlock(ptl);
    return SWAP_FAIL;
  }
  const pteval = ptep_clear_flush(mm, slot);
  if (pte_dirty(pteval)) set_page_dirty(pfn);
  const anon = PageAnon(pfn);
  let entry = 0;
  if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_swapcache) !== 0) {
    // Store the swap location in the pte. See handle_pte_fault() ...
    entry = i32[page_base(pfn) + PAGE.private];
    swap_duplicate(entry);
    mmlist_add(mm);
  } else if (anon || migration) {
    // Store the pfn in a migration pte; do_swap_page waits until it is removed
    BUG_ON(!migration, 'BUG_ON(!migration) in try_to_unmap_one', pfn);
    entry = make_migration_entry(pfn, pte_write(pteval));
  }
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  if (entry !== 0) Atomics.store(i32, slot, swp_entry_to_pte(entry));
  trace_event(EV_UNMAP_ONE, mm, addr, pfn, entry === 0 ? 3 : !is_migration_entry(entry) ? 2 : pte_write(pteval) ? 1 : 0);
  Atomics.sub(i32, BASES.mms + mm * MM.stride + (anon ? MM.anon_rss : MM.file_rss), 1);
  page_remove_rmap(pfn);
  put_page(pfn);
  spin_unlock(ptl);
  return SWAP_AGAIN;
}

/** try_to_unmap's walk step: stops once no pte maps the page */
function try_to_unmap_vma(pfn: number, vma: number, migration: number, ignore_refs: number): number {
  const ret = try_to_unmap_one(pfn, vma, migration !== 0, ignore_refs !== 0);
  return ret === SWAP_AGAIN && !page_mapped(pfn) ? SWAP_SUCCESS : ret;
}

/**
 * try_to_unmap (reclaim or migration): caller holds the page lock; takes
 * anon_vma->lock or i_mmap_lock, then each PTL. `migration`: 2.6.18's
 * migration entries; `ignore_refs`: 2.6.16's migration (seed 001), which
 * unmaps into swap ptes (or drops a file page's ptes) even when young.
 */
export function try_to_unmap(pfn: number, migration: boolean, ignore_refs = false): number {
  BUG_ON((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in try_to_unmap', pfn);
  if (!page_mapped(pfn)) return SWAP_SUCCESS;
  if (ERA.id === E0) return migration ? no_anon_vma('try_to_unmap for migration') : try_to_unmap_anonmm(pfn);
  const ret = rmap_walk(pfn, try_to_unmap_vma, migration ? 1 : 0, ignore_refs ? 1 : 0);
  return page_mapped(pfn) ? ret : SWAP_SUCCESS;
}
