// Swapless page migration (mm/migrate.c, 2.6.18): lock the old page, turn
// its ptes into migration entries, check that only our reference is left,
// copy data and flags to the new page, then walk the rmap again and point
// every migration entry at the new page. A page's address_space (the swap
// cache, or a file) decides how its cache slot moves (a_ops->migratepage).
import { ADDRESS_SPACE, CPUSTAT, PAGE, PG_active, PG_checked, PG_dirty, PG_error, PG_mappedtodisk, PG_private, PG_referenced, PG_swapcache, PG_uptodate, PG_writeback, VMA, WORDS_PER_PAGE, MM, PERCPU } from '../shm/layout.js';
import { BASES, i32, mm_base, page_base, phys_base } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EV_MIGRATE, EV_MIGRATE_DONE, EV_MIGRATE_FAIL, EV_MIGRATION_WAIT, EV_MOVE_TO_NEW, EV_REMOVE_PTE, EV_SLOT_SWITCH, RMP_NOT_OURS, RMP_NO_TABLE, RMP_OUTSIDE, RMP_RESTORED, RMP_SKIP, trace_event } from '../cpu/events.js';
import { BUG, BUG_ON, OOPS_INVARIANT, fail } from '../check/bug.js';
import { LC_MMAP_SEM, LC_PTL } from '../sync/lock_class.js';
import { holds_class } from '../sync/lock_stat.js';
import { REC_PEEK, cond_resched, record_step, recording } from '../sync/preempt.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { PageWriteback, lock_page, trylock_page, unlock_page, wait_on_page_locked, wait_on_page_writeback } from '../sync/page_lock.js';
import { PAGE_MAPPING_ANON, PageAnon, TestClearPageFlag, maybe_mkwrite, page_cache_index, page_count, page_mapcount, page_mapped, page_mapping, vma_address, vma_field } from './mm_types.js';
import { pte_lockptr, pte_offset, pte_table, pte_offset_map_lock, pte_unmap_unlock } from './pagewalk.js';
import { is_swap_pte, mk_pte, pte_mkold, pte_mkwrite, pte_write } from './pgtable.js';
import { is_migration_entry, is_write_migration_entry, make_device_private_entry, migration_entry_to_page, pte_to_swp_entry, swp_entry_to_pte } from './swapops.js';
import { is_device_private_page, is_zone_device_page, waiter_wake_latency } from './memremap.js';
import { alloc_page } from './page_alloc.js';
import { BUFFER_MIGRATE, MIGRATE_NONE, try_to_release_page, mapping_field, radix_tree_slot, write_lock_tree, write_unlock_tree } from './filemap.js';
import { writepage } from './page_io.js';
import { writeback_met } from '../cpu/io.js';
import { get_page, get_page_unless_zero, isolate_lru_page, lru_add_drain_all, move_to_lru, put_page } from './swap.js';
import { find_vma } from './mmap.js';
import { FOLL_GET, follow_page } from './memory.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { E1, E2, E3, E4, ERA } from '../shm/era.js';
import { MIGRATE_SYNC } from './migrate_mode.js';
import { buffer_migrate_lock_buffers, unlock_buffer } from './buffer.js';
import { page_ref_freeze, page_ref_unfreeze } from './page_ref.js';
import { migrate_pages_to } from './vmscan_migrate.js';
import { SW_MIGRATE_NO_REFCOUNT_RECHECK, buggy } from '../shm/switches.js';
import { WIN_PINNED_ACROSS_UNMAP, WIN_REMOVE_PTE_CHILD_EMPTY, window_open } from '../cpu/windows.js'; // cov
import { rwsem_is_write_locked } from '../sync/rwsem.js'; // cov
import { mm_mmap_sem } from './mm_types.js'; // cov
import { SWAP_AGAIN, page_add_anon_rmap, page_add_file_rmap, rmap_walk, set_page_dirty, try_to_unmap } from './rmap.js';

export const EAGAIN = -11, ENOMEM = -12, EBUSY = -16;

/** page_address_in_vma: -1 (-EFAULT) unless vma belongs to the page's anon_vma (anon) or maps its file */
function page_address_in_vma(pfn: number, vma: number): number {
  const m = i32[page_base(pfn) + PAGE.mapping];
  if ((m >>> 1) !== vma_field(vma, (m & PAGE_MAPPING_ANON) !== 0 ? VMA.anon_vma : VMA.vm_file)) return -1;
  return vma_address(pfn, vma);
}

/**
 * remove_migration_pte: restore one migration entry to a working pte.
 * Caller holds anon_vma->lock or i_mmap_lock; takes the pte's PTL.
 */
export function remove_migration_pte(vma: number, addr: number, old: number, newpage: number): void {
  const mm = vma_field(vma, VMA.vm_mm);
  if (addr < 0) { trace_event(EV_REMOVE_PTE, mm, 0, RMP_OUTSIDE, 0); return; }
  const table = pte_table(mm, addr);
  if ((table === 0 || Atomics.load(i32, pte_offset(table, addr)) === 0) && rwsem_is_write_locked(mm_mmap_sem(mm))) window_open(WIN_REMOVE_PTE_CHILD_EMPTY); // cov: the orphan's step 3 (dup_mmap holds the child's mmap_sem for write)
  if (table === 0) { trace_event(EV_REMOVE_PTE, mm, addr, RMP_NO_TABLE, 0); return; }
  const slot = pte_offset(table, addr);
  if (!is_swap_pte(Atomics.load(i32, slot))) { trace_event(EV_REMOVE_PTE, mm, addr, RMP_SKIP, 0); return; } // unlocked peek
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  let pte = Atomics.load(i32, slot);
  if (!is_swap_pte(pte)) { spin_unlock(ptl); trace_event(EV_REMOVE_PTE, mm, addr, RMP_SKIP, 0); return; }
  const entry = pte_to_swp_entry(pte);
  if (!is_migration_entry(entry) || migration_entry_to_page(entry) !== old) {
    spin_unlock(ptl);
    trace_event(EV_REMOVE_PTE, mm, addr, RMP_NOT_OURS, 0);
    return;
  }
  const anon = PageAnon(newpage);
  Atomics.add(i32, BASES.mms + mm * MM.stride + (anon ? MM.anon_rss : MM.file_rss), 1);
  get_page(newpage);
  pte = pte_mkold(mk_pte(newpage, vma_field(vma, VMA.vm_page_prot)));
  // 2.6.18 trusts the entry; later kernels (E3/E4) also ask the vma (maybe_mkwrite)
  if (is_write_migration_entry(entry)) pte = ERA.restore_with_maybe_mkwrite ? maybe_mkwrite(pte, vma) : pte_mkwrite(pte);
  // seed 004 (E3): a device-private page comes back as a device-private entry, never a present pte
  if (is_zone_device_page(newpage) && is_device_private_page(newpage)) pte = swp_entry_to_pte(make_device_private_entry(newpage, pte_write(pte)));
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  Atomics.store(i32, slot, pte);
  if (anon) page_add_anon_rmap(newpage, vma, addr);
  else page_add_file_rmap(newpage);
  trace_event(EV_REMOVE_PTE, mm, addr, RMP_RESTORED, newpage);
  spin_unlock(ptl);
}

/** remove_migration_ptes' walk step over the rmap of the new page */
function remove_migration_pte_vma(newpage: number, vma: number, old: number): number {
  remove_migration_pte(vma, page_address_in_vma(newpage, vma), old, newpage);
  return SWAP_AGAIN;
}

/**
 * remove_migration_ptes: get rid of every migration entry of old, pointing
 * it at new. Caller holds the page lock; rmap_walk of new takes
 * anon_vma->lock or i_mmap_lock, then each PTL.
 */
export function remove_migration_ptes(old: number, newpage: number): void {
  rmap_walk(newpage, remove_migration_pte_vma, old, 0);
}

/**
 * migration_entry_wait: something used the pte of a page under migration:
 * wait for the page to be unlocked; the fault is then retried. Called from
 * do_swap_page with mmap_sem held for read; takes the PTL.
 */
export function migration_entry_wait(mm: number, addr: number): void {
  const slot = pte_offset_map_lock(mm, addr);
  if (slot < 0) return;
  const pte = Atomics.load(i32, slot);
  if (!is_swap_pte(pte)) { pte_unmap_unlock(slot); return; }
  const entry = pte_to_swp_entry(pte);
  if (!is_migration_entry(entry)) { pte_unmap_unlock(slot); return; }
  const page = migration_entry_to_page(entry);
  i32[current.stat + CPUSTAT.migration_waits] += 1;
  trace_event(EV_MIGRATION_WAIT, mm, addr, page);
  // 2.6.18: get_page; from 4.x a frozen page (count 0) is not waited on
  if (ERA.wait_get_page_unless_zero) {
    if (!get_page_unless_zero(page)) { pte_unmap_unlock(slot); return; }
  } else get_page(page);
  i32[current.pcpu + PERCPU.wait_ref] = page; // model: whose reference this CPU holds, for the C-LIVELOCK report (seed 004)
  pte_unmap_unlock(slot);
  if (ERA.id === E4) {
    // 5.0's put_and_wait_on_page_locked: the reference goes as the waiter queues, before it sleeps,
    // so a waiter no longer holds up a migration's (or exchange's) reference count while it waits
    put_page(page);
    wait_on_page_locked(page);
    return;
  }
  wait_on_page_locked(page);
  if (ERA.id === E3) waiter_wake_latency(); // model knob (seed 004): still holding the reference until scheduled
  put_page(page);
  i32[current.pcpu + PERCPU.wait_ref] = 0;
}

/** migrate_page_copy: data, then the flags a page carries (caller holds both page locks); seed 001's, kept by 2.6.18 */
export function migrate_page_copy(newpage: number, old: number): void {
  const d = phys_base(newpage);
  const s = phys_base(old);
  for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, d + w, Atomics.load(i32, s + w));
  const of = Atomics.load(i32, page_base(old) + PAGE.flags);
  const carry = of & (PG_error | PG_referenced | PG_uptodate | PG_active | PG_checked | PG_mappedtodisk);
  Atomics.or(i32, page_base(newpage) + PAGE.flags, carry);
  if ((of & PG_dirty) !== 0) {
    Atomics.and(i32, page_base(old) + PAGE.flags, ~PG_dirty); // clear_page_dirty_for_io
    set_page_dirty(newpage);
  }
  Atomics.and(i32, page_base(old) + PAGE.flags, ~(PG_swapcache | PG_active | PG_private));
  i32[page_base(old) + PAGE.private] = 0;
  i32[page_base(old) + PAGE.mapping] = 0;
}

/**
 * migrate_page_move_mapping: only the expected references may remain: ours
 * (anon page without a mapping), or ours, the cache's and the buffers'; plus
 * `extra` the caller knows of (4.14's extra_count: migrate_vma's collect
 * reference). The cache slot is switched to the new page under
 * mapping->tree_lock (E4: the xarray's xa_lock); from E3 the old page's
 * count is frozen at 0 across the switch (kernel-notes 2.4), so a lockless
 * get_page_unless_zero cannot slip in between the check and the switch.
 * Caller holds both page locks.
 */
export function migrate_page_move_mapping(mapping: number, newpage: number, old: number, extra = 0): number {
  const expected = 1 + extra;
  if (mapping === 0) {
    if (page_count(old) !== expected) return EAGAIN;
    return 0;
  }
  write_lock_tree(mapping);
  const slot = radix_tree_slot(mapping, page_cache_index(old));
  const private_ref = (Atomics.load(i32, page_base(old) + PAGE.flags) & PG_private) !== 0 ? 1 : 0;
  const count = page_count(old);
  const want = expected + 1 + private_ref;
  if (count > want) window_open(WIN_PINNED_ACROSS_UNMAP); // cov: a reference the migration does not own (a get_user_pages pin)
  // switch:migrate-no-refcount-recheck (seed 001's re-check under tree_lock, as 2.6.18 kept it)
  if ((!buggy(SW_MIGRATE_NO_REFCOUNT_RECHECK) && count !== want) || slot < 0 || i32[slot] !== old) {
    write_unlock_tree(mapping);
    trace_event(EV_SLOT_SWITCH, old, 0, count, want);
    return EAGAIN;
  }
  // E3 on: page_ref_freeze; a reference taken since the test above makes it fail
  if (ERA.id >= E3 && !page_ref_freeze(old, want)) {
    write_unlock_tree(mapping);
    trace_event(EV_SLOT_SWITCH, old, 0, page_count(old), want);
    return EAGAIN;
  }
  // Now we know that no one else is looking at the page
  get_page(newpage); // the cache's reference
  if ((Atomics.load(i32, page_base(old) + PAGE.flags) & PG_swapcache) !== 0) {
    Atomics.or(i32, page_base(newpage) + PAGE.flags, PG_swapcache);
    i32[page_base(newpage) + PAGE.private] = i32[page_base(old) + PAGE.private];
  }
  i32[slot] = newpage;
  // drop the cache's reference, never the last: 2.6.18 __put_page; E3 on, the unfreeze writes count - 1
  if (ERA.id >= E3) page_ref_unfreeze(old, want - 1);
  else Atomics.sub(i32, page_base(old) + PAGE._count, 1);
  trace_event(EV_SLOT_SWITCH, old, newpage, count, want);
  write_unlock_tree(mapping);
  return 0;
}

/** migrate_page: the generic migratepage (no buffers) */
function migrate_page(mapping: number, newpage: number, old: number): number {
  BUG_ON((Atomics.load(i32, page_base(old) + PAGE.flags) & PG_writeback) !== 0, 'BUG_ON(PageWriteback(page)) in migrate_page', old);
  const rc = migrate_page_move_mapping(mapping, newpage, old);
  if (rc !== 0) return rc;
  migrate_page_copy(newpage, old);
  return 0;
}

/**
 * buffer_migrate_page: as migrate_page, and the buffers (PG_private, private,
 * their reference) move too. E4 (5.0 on) locks the buffers across the move
 * (buffer_migrate_lock_buffers; the model's 2.6.18-shaped migrate_pages has
 * no mode: it may block, as MIGRATE_SYNC)
 */
function buffer_migrate_page(mapping: number, newpage: number, old: number): number {
  if ((Atomics.load(i32, page_base(old) + PAGE.flags) & PG_private) === 0) return migrate_page(mapping, newpage, old);
  if (ERA.id === E4) buffer_migrate_lock_buffers(old, MIGRATE_SYNC);
  const rc = migrate_page_move_mapping(mapping, newpage, old);
  if (rc !== 0) {
    if (ERA.id === E4) unlock_buffer(old);
    return rc;
  }
  move_buffers(newpage, old);
  migrate_page_copy(newpage, old);
  if (ERA.id === E4) unlock_buffer(old); // the lock bit taken above (the model keeps BH_Lock in the page it was taken on)
  return 0;
}

/**
 * expected_page_refs (5.1, exported by seed 002): the references a page
 * under migration or exchange may have: the isolation's, and with a mapping
 * the cache's and the buffers'. (5.1 adds one for a device-private page;
 * none reaches this path in the model.)
 */
export function expected_page_refs(mapping: number, pfn: number): number {
  let expected = 1;
  if (mapping !== 0) expected += 1 + ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_private) !== 0 ? 1 : 0);
  return expected;
}

/**
 * buffer_migrate_page's move of the buffers once the cache slot has moved:
 * PG_private, private (the buffer-head id) and the buffers' reference go
 * to the new page (both pages locked; 2.6.16 and 2.6.18 alike)
 */
export function move_buffers(newpage: number, old: number): void {
  const o = page_base(old), n = page_base(newpage);
  Atomics.and(i32, o + PAGE.flags, ~PG_private);
  i32[n + PAGE.private] = i32[o + PAGE.private];
  i32[o + PAGE.private] = 0;
  Atomics.sub(i32, o + PAGE._count, 1); // the buffers' reference, never the last (ours is held)
  get_page(newpage);
  Atomics.or(i32, n + PAGE.flags, PG_private);
}

/**
 * writeout: a dirty page of a mapping without migratepage is written back
 * first; this attempt fails (-EAGAIN) and a later pass finds it clean. The
 * ptes come back before the write drops the page lock; relocked on return.
 */
export function writeout(mapping: number, old: number): number {
  if (!TestClearPageFlag(old, PG_dirty)) return EAGAIN; // clear_page_dirty_for_io
  remove_migration_ptes(old, old);
  writepage(mapping, old); // unlocks the page
  lock_page(old);
  return EAGAIN;
}

/** fallback_migrate_page: a mapping with no migratepage: write out dirty data, release buffers, then migrate_page */
function fallback_migrate_page(mapping: number, newpage: number, old: number): number {
  if ((Atomics.load(i32, page_base(old) + PAGE.flags) & PG_dirty) !== 0) return writeout(mapping, old);
  if ((Atomics.load(i32, page_base(old) + PAGE.flags) & PG_private) !== 0 && !try_to_release_page(old)) return EAGAIN;
  return migrate_page(mapping, newpage, old);
}

/** mapping->a_ops->migratepage (an anon page without a mapping: migrate_page) */
function a_ops_migratepage(mapping: number, newpage: number, old: number): number {
  const kind = mapping === 0 ? 0 : mapping_field(mapping, ADDRESS_SPACE.a_migratepage);
  if (kind === BUFFER_MIGRATE) return buffer_migrate_page(mapping, newpage, old);
  if (kind === MIGRATE_NONE) return fallback_migrate_page(mapping, newpage, old);
  return migrate_page(mapping, newpage, old);
}

/** move_to_new_page: caller holds the old page's lock; locks the new page */
function move_to_new_page(newpage: number, old: number): number {
  // Block others from accessing the new page when we get around to establishing additional references
  if (!trylock_page(newpage)) BUG('BUG() in move_to_new_page: TestSetPageLocked(newpage)', newpage);
  const n = page_base(newpage);
  i32[n + PAGE.index] = i32[page_base(old) + PAGE.index];
  i32[n + PAGE.mapping] = i32[page_base(old) + PAGE.mapping];
  const rc = a_ops_migratepage(page_mapping(old), newpage, old); // swapper_space's is migrate_page
  if (rc === 0) {
    trace_event(EV_MOVE_TO_NEW, old, newpage);
    remove_migration_ptes(old, newpage);
  } else {
    i32[n + PAGE.mapping] = 0;
  }
  unlock_page(newpage);
  return rc;
}

/**
 * unmap_and_move: migrate one isolated page. Returns 0 when the page was
 * migrated (or freed under us), EAGAIN to retry, another errno to give up.
 * The old page stays isolated on EAGAIN; otherwise it has been put back.
 */
function unmap_and_move(old: number, force: boolean): number {
  const newpage = alloc_page();
  if (newpage === 0) return ENOMEM;
  if (page_count(old) === 1) {
    // page was freed from under us: only our isolation reference is left
    move_to_lru(old);
    put_page(newpage);
    return 0;
  }
  let rc = EAGAIN;
  if (!trylock_page(old)) {
    if (!force) { put_page(newpage); return rc; }
    lock_page(old);
  }
  trace_event(EV_MIGRATE, old);
  unlock: {
    if (PageWriteback(old)) {
      writeback_met(old);
      if (!force) break unlock;
      wait_on_page_writeback(old);
    }
    // Establish migration ptes or remove ptes
    try_to_unmap(old, true);
    if (!page_mapped(old)) rc = move_to_new_page(newpage, old);
    if (rc !== 0) {
      trace_event(EV_MIGRATE_FAIL, old, rc, page_mapped(old) ? 1 : 0);
      remove_migration_ptes(old, old);
    }
  }
  unlock_page(old);
  if (rc === 0) trace_event(EV_MIGRATE_DONE, old, newpage);
  if (rc !== EAGAIN) move_to_lru(old); // migrated: this drops the last reference (E1/E2: the pagevec's, when it drains) and frees it
  // move the new page to the LRU; if migration failed this frees it
  move_to_lru(newpage);
  return rc;
}

/**
 * migrate_pages: move every page of `from` (pfns isolated from the LRU by
 * the caller, `nr` of them; the kernel chains them through page->lru, the
 * model keeps the caller's private list in an array) to new pages. Up to
 * ten passes over the list, retrying pages that were busy, blocking on
 * their page lock from the third pass on. A page leaves the list when it is
 * migrated or fails for good; what is left is put back (putback_lru_pages).
 * Returns the number of pages not migrated.
 *
 * Every 2.6.16-2.6.18 caller holds the mmap_sem of the mm whose pages it
 * moves (sys_migrate_pages, sys_move_pages, cpusets, mbind): the model
 * checks it, since an unlocked migrator makes races that era excluded.
 */
export function migrate_pages(from: Int32Array, nr: number): number {
  if (ERA.id <= E2 && !holds_class(LC_MMAP_SEM)) {
    fail(OOPS_INVARIANT, `mmrace: migrate_pages called without an mmap_sem: every ${ERA.kernel} caller holds the mmap_sem of the mm it migrates (kernel-notes 8)`);
  }
  // 2.6.16 migrated through the swap cache, from mm/vmscan.c (seed 001): its caller's half, then its 10 passes
  if (ERA.id === E1) return migrate_pages_to(from, nr);
  const st = current.stat;
  let retry = 1;
  let nr_failed = 0;
  for (let pass = 0; pass < 10 && retry > 0; pass++) {
    retry = 0;
    for (let i = 0; i < nr; i++) {
      const pfn = from[i];
      if (pfn === 0) continue;
      cond_resched();
      const rc = unmap_and_move(pfn, pass > 2);
      if (rc === EAGAIN) { retry++; continue; }
      if (rc === ENOMEM) { pass = 10; break; } // the page stays on the list: put back below
      from[i] = 0; // unmap_and_move took it off the list (migrated, or put back)
      i32[st + CPUSTAT.migrations] += 1;
      if (rc === 0) i32[st + CPUSTAT.migrate_ok] += 1;
      else { i32[st + CPUSTAT.migrate_fail] += 1; nr_failed++; }
    }
  }
  const left = putback_lru_pages(from, nr);
  i32[st + CPUSTAT.migrations] += left;
  i32[st + CPUSTAT.migrate_fail] += left;
  return nr_failed + left;
}

/** putback_lru_pages: whatever is still on the list goes back to the LRU; returns how many */
export function putback_lru_pages(from: Int32Array, nr: number): number {
  let count = 0;
  for (let i = 0; i < nr; i++) {
    if (from[i] === 0) continue;
    move_to_lru(from[i]);
    from[i] = 0;
    count++;
  }
  return count;
}

/**
 * migrate_prep (2.6.18): every CPU's pagevecs onto the LRU, so that the
 * pages about to be isolated are there (may sleep: no spinlock held). 2.6.16
 * (E1) had none: its isolate_lru_page drained on a miss.
 */
export function migrate_prep(): void {
  if (ERA.id !== E1) lru_add_drain_all();
}

/**
 * do_move_pages (sys_move_pages, 2.6.18): move the pages mapped at `addrs`
 * in mm. With mm's mmap_sem held for read: look each page up, isolate it
 * onto the list (shared pages too when `migrate_all`, i.e. MPOL_MF_MOVE_ALL),
 * then migrate_pages. The caller holds a reference on mm. Returns the
 * number of pages not migrated.
 */
export function do_move_pages(mm: number, addrs: Int32Array, n: number, migrate_all: boolean, list: Int32Array): number {
  const sem = mm_base(mm) + MM.mmap_sem;
  down_read(sem, LC_MMAP_SEM);
  let nr = 0;
  let failed = 0;
  try {
    migrate_prep();
    for (let k = 0; k < n && nr < list.length; k++) {
      const addr = addrs[k];
      const vma = find_vma(mm, addr);
      if (vma === 0 || addr < vma_field(vma, VMA.vm_start)) continue;
      const page = follow_page(mm, addr, FOLL_GET);
      if (page === 0) continue;
      if (migrate_all || page_mapcount(page) <= 1) {
        if (isolate_lru_page(page) === 0) list[nr++] = page;
      }
      // either the duplicate of isolate_lru_page's reference, or the lookup's on a page we leave
      put_page(page);
    }
    if (nr > 0) failed = migrate_pages(list, nr);
  } finally {
    up_read(sem);
  }
  return failed;
}
