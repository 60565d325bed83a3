// Reverse mapping for anonymous pages (mm/rmap.c, 2.6.17/18): every vma that
// may map a page of an anon_vma is on anon_vma->head, and walkers visit them
// head to tail under anon_vma->lock.
import { ANON_VMA, IDALLOC, MM, PAGE, VMA } from '../shm/layout.js';
import { B, av_base, i32, page_base, sizes, vma_base } from '../shm/machine.js';
import { list_add, list_add_tail, list_del, list_empty } from '../shm/list.js';
import { SW_ANON_VMA_LIST_HEAD, buggy } from '../shm/switches.js';
import { EV_ANON_VMA_LINK, EV_UNMAP_ONE, trace_event } from '../cpu/events.js';
import { flush_tlb_page } from '../cpu/tlb.js';
import { BUG, BUG_ON } from '../check/bug.js';
import { LC_ANON_VMA, LC_PAGE_TABLE_LOCK, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import {
  ANON_VMA_LIST, PAGE_MAPPING_ANON, PageAnon, SetPageFlag, anon_vma_head, anon_vma_lock, linear_page_index,
  page_anon_vma, page_mapped, vma_address, vma_field,
} from './mm_types.js';
import { pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { pte_dirty, pte_pfn, pte_present, pte_write } from './pgtable.js';
import { is_migration_entry, make_migration_entry, swp_entry_to_pte } from './swapops.js';
import { PG_dirty, PG_locked, PG_swapcache } from '../shm/layout.js';
import { put_page } from './swap.js';
import { swap_duplicate } from './swapfile.js';
import { mmlist_add } from './mmap.js';
import { VM_LOCKED } from './mm_types.js';
import { _PAGE_ACCESSED } from './pgtable.js';

export const SWAP_SUCCESS = 0, SWAP_AGAIN = 1, SWAP_FAIL = 2;

/** anon_vma_alloc: ids are never reused within a run (a type-stable slab) */
function anon_vma_alloc(): number {
  const id = Atomics.add(i32, B.av_alloc + IDALLOC.next_never_used, 1) + 1;
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
  if (vma_field(vma, VMA.anon_vma) !== 0) return 0;
  const mm = vma_field(vma, VMA.vm_mm);
  let allocated = anon_vma_alloc();
  if (allocated === 0) return -12;
  const av = allocated;
  spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  const ptl = B.mms + mm * MM.stride + MM.page_table_lock;
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

function __page_set_anon_rmap(pfn: number, vma: number, addr: number): void {
  const p = page_base(pfn);
  i32[p + PAGE.index] = linear_page_index(vma, addr);
  i32[p + PAGE.mapping] = (vma_field(vma, VMA.anon_vma) << 1) | PAGE_MAPPING_ANON;
}

/** page_add_anon_rmap: caller holds the pte's PTL */
export function page_add_anon_rmap(pfn: number, vma: number, addr: number): void {
  if (Atomics.add(i32, page_base(pfn) + PAGE._mapcount, 1) === -1) __page_set_anon_rmap(pfn, vma, addr);
}

/** page_add_new_anon_rmap: a page nobody else can see yet */
export function page_add_new_anon_rmap(pfn: number, vma: number, addr: number): void {
  Atomics.store(i32, page_base(pfn) + PAGE._mapcount, 0);
  __page_set_anon_rmap(pfn, vma, addr);
}

/** page_dup_rmap: fork maps an already-mapped page once more (PTL held) */
export function page_dup_rmap(pfn: number): void {
  Atomics.add(i32, page_base(pfn) + PAGE._mapcount, 1);
}

/** page_remove_rmap: caller holds the pte's PTL */
export function page_remove_rmap(pfn: number): void {
  const now = Atomics.sub(i32, page_base(pfn) + PAGE._mapcount, 1) - 1;
  if (now < -1) BUG('Eeek! page_mapcount(page) went negative! in page_remove_rmap', pfn);
}

/** set_page_dirty for an anon page: just the flag */
export function set_page_dirty(pfn: number): void {
  SetPageFlag(pfn, PG_dirty);
}

/** ptep_clear_flush_young: test and clear the accessed bit, flushing if it was set */
export function ptep_clear_flush_young(slot: number): boolean {
  const young = (Atomics.and(i32, slot, ~_PAGE_ACCESSED) & _PAGE_ACCESSED) !== 0;
  if (young) flush_tlb_page(slot);
  return young;
}

/** ptep_clear_flush: take the pte away and wait out every access through it */
export function ptep_clear_flush(slot: number): number {
  const old = Atomics.exchange(i32, slot, 0);
  flush_tlb_page(slot);
  return old;
}

/**
 * try_to_unmap_one: replace this vma's pte of the page by a migration entry.
 * Caller holds the page lock and anon_vma->lock; takes the pte's PTL.
 */
function try_to_unmap_one(pfn: number, vma: number, migration: boolean): number {
  const addr = vma_address(pfn, vma);
  if (addr < 0) return SWAP_AGAIN;
  const mm = vma_field(vma, VMA.vm_mm);
  const table = pte_table(mm, addr); // page_check_address
  if (table === 0) return SWAP_AGAIN;
  const slot = pte_offset(table, addr);
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  const pte = Atomics.load(i32, slot);
  if (!pte_present(pte) || pte_pfn(pte) !== pfn) { spin_unlock(ptl); return SWAP_AGAIN; }
  // If the page is mlock()d or recently referenced, reclaim must not unmap it (migration must)
  if (!migration && ((vma_field(vma, VMA.vm_flags) & VM_LOCKED) !== 0 || ptep_clear_flush_young(slot))) {
    spin_unlock(ptl);
    return SWAP_FAIL;
  }
  const pteval = ptep_clear_flush(slot);
  if (pte_dirty(pteval)) set_page_dirty(pfn);
  let entry: number;
  if ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_swapcache) !== 0) {
    // Store the swap location in the pte. See handle_pte_fault() ...
    entry = i32[page_base(pfn) + PAGE.private];
    swap_duplicate(entry);
    mmlist_add(mm);
  } else {
    // Store the pfn in a migration pte; do_swap_page waits until it is removed
    BUG_ON(!migration, 'BUG_ON(!migration) in try_to_unmap_one', pfn);
    entry = make_migration_entry(pfn, pte_write(pteval));
  }
  Atomics.store(i32, slot, swp_entry_to_pte(entry));
  trace_event(EV_UNMAP_ONE, mm, addr, pfn, !is_migration_entry(entry) ? 2 : pte_write(pteval) ? 1 : 0);
  Atomics.sub(i32, B.mms + mm * MM.stride + MM.anon_rss, 1);
  page_remove_rmap(pfn);
  put_page(pfn);
  spin_unlock(ptl);
  return SWAP_AGAIN;
}

/** try_to_unmap (anon; reclaim or migration): caller holds the page lock; takes anon_vma->lock, then each PTL */
export function try_to_unmap(pfn: number, migration: boolean): number {
  BUG_ON((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_locked) === 0, 'BUG_ON(!PageLocked(page)) in try_to_unmap', pfn);
  if (!PageAnon(pfn) || !page_mapped(pfn)) return page_mapped(pfn) ? SWAP_AGAIN : SWAP_SUCCESS;
  const av = page_anon_vma(pfn); // page_lock_anon_vma
  let ret = SWAP_AGAIN;
  spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  for (let vma = i32[anon_vma_head(av)]; vma !== 0; vma = i32[vma_base(vma) + VMA.anon_vma_next]) {
    ret = try_to_unmap_one(pfn, vma, migration);
    if (ret === SWAP_FAIL || !page_mapped(pfn)) break;
  }
  spin_unlock(anon_vma_lock(av));
  if (!page_mapped(pfn)) ret = SWAP_SUCCESS;
  return ret;
}
