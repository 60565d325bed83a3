// migrate_vma: mm/migrate.c's HMM part (4.14, with seed 004; E3). A device
// driver moves a range of a process's anonymous memory to its own memory
// and back: collect the pages of the range (unmapping those it can lock at
// once), prepare them (lock, isolate, check for pins), unmap the rest, let
// the driver allocate and copy (alloc_and_copy), switch the pages' identity
// (migrate_vma_pages), let the driver map them on its side
// (finalize_and_map), then restore the ptes on the new pages (finalize). It
// shares little with 2.6.18's migrate_pages (src/mm/migrate.ts), whose
// helpers it calls: remove_migration_pte(s) and migrate_page_move_mapping.
//
// Locks: the caller holds the mm's mmap_sem for read; pages are locked with
// trylock only (several at once: two migrations of overlapping ranges must
// not wait on each other's page locks); collect takes each PTL, the unmap
// the rmap lock then the PTLs; the driver's callbacks take LC_DEVMEM, a leaf.
import { CPUSTAT, MM, PAGE, PAGE_SIZE, PERCPU, PG_dirty, PG_private, PG_referenced, PG_swapbacked, PG_uptodate, VMA } from '../shm/layout.js';
import { i32, mm_base, page_base, percpu_base, sizes } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EV_VMA_CHECK, EV_VMA_COLLECT, EV_VMA_MOVE, trace_event } from '../cpu/events.js';
import { LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { trylock_page, unlock_page } from '../sync/page_lock.js';
import { SW_HMM_WAIT_REF_LIVELOCK, SW_ZONE_DEVICE_LRU, buggy } from '../shm/switches.js';
import { page_count, page_flags, page_mapcount, page_mapped, page_mapping, vma_field } from './mm_types.js';
import { pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { is_swap_pte, pte_none, pte_pfn, pte_present, pte_write } from './pgtable.js';
import { device_private_entry_to_page, is_device_private_entry, is_write_device_private_entry, make_migration_entry, pte_to_swp_entry, swp_entry_to_pte } from './swapops.js';
import { is_device_private_page, is_zone_device_page } from './memremap.js';
import { get_page, isolate_lru_page, put_page, putback_lru_page } from './swap.js';
import { page_remove_rmap, ptep_clear_flush, try_to_unmap } from './rmap.js';
import { migrate_page_move_mapping, remove_migration_pte, remove_migration_ptes } from './migrate.js';
import { WIN_HMM_CHECK_WAITER_REF, WIN_HMM_DEVICE_PAGE_FINALIZED, window_open } from '../cpu/windows.js'; // cov

// include/linux/migrate.h (seed 004: MIGRATE_PFN_DEVICE takes bit 4, ERROR moves up)
export const MIGRATE_PFN_VALID = 1 << 0;
export const MIGRATE_PFN_MIGRATE = 1 << 1;
export const MIGRATE_PFN_LOCKED = 1 << 2;
export const MIGRATE_PFN_WRITE = 1 << 3;
export const MIGRATE_PFN_DEVICE = 1 << 4;
export const MIGRATE_PFN_ERROR = 1 << 5;
export const MIGRATE_PFN_SHIFT = 6;

export const migrate_pfn = (pfn: number) => (pfn << MIGRATE_PFN_SHIFT) | MIGRATE_PFN_VALID;
export const migrate_pfn_to_page = (mpfn: number) => ((mpfn & MIGRATE_PFN_VALID) !== 0 ? mpfn >>> MIGRATE_PFN_SHIFT : 0);

/**
 * pages one migrate_vma call may cover in the model (the kernel's callers
 * pass up to a PMD's worth): each page holds two page locks across the call,
 * and the model's held-lock stack (HELD_MAX, lockdep's MAX_LOCK_DEPTH) is 8
 */
export const MIGRATE_VMA_MAX = 2;

/** struct migrate_vma: one per CPU (module state of the worker), reused by every call */
export interface MigrateVma { vma: number; start: number; end: number; npages: number; cpages: number; src: Int32Array; dst: Int32Array }
const migrate: MigrateVma = { vma: 0, start: 0, end: 0, npages: 0, cpages: 0, src: new Int32Array(MIGRATE_VMA_MAX), dst: new Int32Array(MIGRATE_VMA_MAX) };

/** struct migrate_vma_ops: the driver's two callbacks (called with the pages locked) */
export interface MigrateVmaOps {
  alloc_and_copy(m: MigrateVma, priv: number): void;
  finalize_and_map(m: MigrateVma, priv: number): void;
}

// Why the last device page this CPU tried to move stayed where it was: the
// reason counter C-LIVELOCK names (kernel-notes 5.2). Model-only bookkeeping.
export const HMM_REASONS = ['none', 'migrate_vma_check_page rejected a device-private page', 'device page failed isolation',
  'migrate_page -EAGAIN in migrate_vma_pages (4.14\'s residual)', 'the page lock was taken (trylock failed)',
  'try_to_unmap left a device page mapped (4.14\'s map_pte skips a device-private entry)',
  'try_to_unmap left a device page mapped by the entry collect did not replace (its trylock lost to another CPU; 4.14\'s map_pte)'] as const;
export const HMM_REASON_NONE = 0, HMM_REASON_CHECK = 1, HMM_REASON_ISOLATE = 2, HMM_REASON_EAGAIN = 3, HMM_REASON_TRYLOCK = 4, HMM_REASON_UNMAP = 5;
export const HMM_REASON_UNMAP_OWN = 6; // h13
/** the CPUSTAT counter each reason bumps (-1: none) */
export const HMM_REASON_STAT = [-1, CPUSTAT.hmm_check_rejects, CPUSTAT.hmm_isolate_fails, CPUSTAT.hmm_move_eagain, -1, -1, -1];
/** last: the reason; blockers: a mask of the CPUs holding a migration_entry_wait reference on the page then;
 *  collectors: of the other CPUs whose concurrent migrate_vma held a reference on it (not locked by them); count: its count then */
export const hmm_reason = { last: HMM_REASON_NONE, pfn: 0, count: 0, blockers: 0, collectors: 0 };

/** note who holds a waiter's or another migrate_vma's reference on the page that was just rejected (only on a rejection: a scan of the CPUs) */
function note_blockers(page: number): void {
  let mask = 0, cmask = 0;
  for (let c = 0; c < sizes.nr_cpus; c++) {
    if (i32[percpu_base(c) + PERCPU.wait_ref] === page) mask |= 1 << c;
    if (c !== current.cpu && i32[percpu_base(c) + PERCPU.migrate_ref] === page) cmask |= 1 << c;
  }
  hmm_reason.pfn = page;
  hmm_reason.count = page_count(page);
  hmm_reason.blockers = mask;
  hmm_reason.collectors = cmask;
}
function note_reason(r: number): void {
  hmm_reason.last = r;
  const f = HMM_REASON_STAT[r];
  if (f >= 0) i32[current.stat + f] += 1;
}

/**
 * model (h13), for the C-LIVELOCK reason: does page i's own address still
 * hold the page's device-private entry (collect could not lock the page, so
 * left the entry for try_to_unmap, which 4.14's map_pte cannot find)? A
 * failure then depends on the CPU that held the lock, and does not repeat by
 * itself as a second mapping (after fork) does. An unlocked peek (mmap_sem
 * held keeps the table)
 */
function own_entry(m: MigrateVma, i: number, page: number): boolean {
  const addr = m.start + i * PAGE_SIZE, table = pte_table(vma_field(m.vma, VMA.vm_mm), addr);
  if (table === 0) return false;
  const pte = Atomics.load(i32, pte_offset(table, addr));
  return is_swap_pte(pte) && is_device_private_entry(pte_to_swp_entry(pte)) && device_private_entry_to_page(pte_to_swp_entry(pte)) === page;
}

/**
 * lru_managed: does this page live on the LRU (the five is_zone_device_page
 * tests of seed 004)? switch:zone-device-lru: buggy, every page does.
 */
const lru_managed = (page: number) => buggy(SW_ZONE_DEVICE_LRU) || !is_zone_device_page(page);

/**
 * migrate_vma_collect: walk the range's ptes under each table's PTL: a
 * present pte or this device's private entry is collected with a
 * reference; a page we can lock at once is unmapped right here (the pte
 * becomes a migration entry). Caller holds mmap_sem for read.
 */
function migrate_vma_collect(m: MigrateVma): void {
  const mm = vma_field(m.vma, VMA.vm_mm);
  // migrate_vma_collect_pmd (4.14): one PTL held across the ptes of a table; the range never crosses one
  // (at most HELD_MAX pages) unless its end does, so a new table re-locks
  let table = 0, ptl = 0;
  for (let addr = m.start; addr < m.end; addr += PAGE_SIZE) {
    const t = pte_table(mm, addr);
    if (t !== table) {
      if (ptl !== 0) spin_unlock(ptl);
      table = t;
      ptl = 0;
      if (table !== 0) { ptl = pte_lockptr(table); spin_lock(ptl, LC_PTL); }
    }
    m.dst[m.npages] = 0;
    m.src[m.npages++] = table !== 0 ? migrate_vma_collect_pte(m, mm, addr, pte_offset(table, addr)) : 0;
  }
  if (ptl !== 0) spin_unlock(ptl);
}

/** one pte of migrate_vma_collect_pmd (caller holds its PTL); returns its src entry */
function migrate_vma_collect_pte(m: MigrateVma, mm: number, addr: number, slot: number): number {
  const pte = Atomics.load(i32, slot);
  let page: number, mpfn: number;
  if (pte_none(pte)) return 0; // seed 004 (v3): a hole is not collected
  if (!pte_present(pte)) {
    // Only care about unaddressable device page special page table entry; other special swap
    // entries are not migratable, and regular swapped pages are ignored
    if (!is_swap_pte(pte)) return 0;
    const entry = pte_to_swp_entry(pte);
    if (!is_device_private_entry(entry)) return 0;
    page = device_private_entry_to_page(entry);
    mpfn = migrate_pfn(page) | MIGRATE_PFN_DEVICE | MIGRATE_PFN_MIGRATE;
    if (is_write_device_private_entry(entry)) mpfn |= MIGRATE_PFN_WRITE;
  } else {
    page = pte_pfn(pte); // vm_normal_page: the model's present ptes all map normal pages
    mpfn = migrate_pfn(page) | MIGRATE_PFN_MIGRATE | (pte_write(pte) ? MIGRATE_PFN_WRITE : 0);
  }
  if (page === 0 || i32[page_base(page) + PAGE.mapping] === 0) return 0;
  // model (h13): the page this migration holds a reference on, for the C-LIVELOCK report (noted before the
  // reference is taken: trylock_page is a preemption point; another CPU can only be rejected on it while we do not lock it)
  i32[current.pcpu + PERCPU.migrate_ref] = page;
  // By getting a reference on the page we pin it and that blocks any kind of migration
  get_page(page);
  m.cpages++;
  const locked = trylock_page(page);
  trace_event(EV_VMA_COLLECT, mm, addr, page, locked ? 1 : 0);
  if (locked) {
    // Optimize for the common case where page is only mapped once in one process
    mpfn |= MIGRATE_PFN_LOCKED;
    if (pte_present(pte)) ptep_clear_flush(mm, slot); // the model flushes each pte it clears (kernel-notes 1.11)
    else Atomics.exchange(i32, slot, 0);
    Atomics.store(i32, slot, swp_entry_to_pte(make_migration_entry(page, mpfn & MIGRATE_PFN_WRITE)));
    Atomics.sub(i32, mm_base(mm) + MM.anon_rss, 1); // a migration entry is not counted (I-RSS); remove_migration_pte counts it back
    page_remove_rmap(page);
    put_page(page);
  }
  return mpfn;
}

/**
 * migrate_vma_check_page (caller holds the page lock, no spinlock): is the page pinned by someone we cannot see? Its
 * count may hold only its mappings and our one extra reference (collect's
 * for a device page, the isolation's for a RAM page), plus its cache's.
 */
export function migrate_vma_check_page(page: number): boolean {
  let extra = 1;
  // no compound pages in the model (PageCompound is never true)
  // Page from ZONE_DEVICE have one extra reference
  if (is_zone_device_page(page)) {
    if (!is_device_private_page(page)) return false; // other ZONE_DEVICE memory types are not supported
    // switch:hmm-wait-ref-livelock. Fixed (seed 004 v3): a private page cannot be pinned (it has no
    // present pte, GUP fails on it), and a migration_entry_wait waiter's reference cannot be told from
    // a pin: always true. Buggy (v2): the generic test, allowing for the device's base reference
    if (page_count(page) - 2 > page_mapcount(page)) window_open(WIN_HMM_CHECK_WAITER_REF); // cov: a reference beyond the device's and collect's
    if (!buggy(SW_HMM_WAIT_REF_LIVELOCK)) return true;
    extra++;
  }
  if (page_mapping(page) !== 0) extra += 1 + ((page_flags(page) & PG_private) !== 0 ? 1 : 0);
  const count = page_count(page), mapcount = page_mapcount(page);
  const ok = count - extra <= mapcount;
  trace_event(EV_VMA_CHECK, page, count, mapcount, ok ? 1 : 0);
  if (!ok && is_zone_device_page(page)) { note_blockers(page); note_reason(HMM_REASON_CHECK); }
  return ok;
}

/**
 * migrate_vma_prepare (mmap_sem held for read; takes page locks by trylock, lru_lock to isolate): lock every collected page (trylock: back off from a
 * page someone else holds), isolate RAM pages from the LRU, and drop the
 * pages that look pinned, restoring their ptes
 */
function migrate_vma_prepare(m: MigrateVma): void {
  const npages = m.npages;
  let restore = 0;
  for (let i = 0; i < npages && m.cpages > 0; i++) {
    const page = migrate_pfn_to_page(m.src[i]);
    let remap = true;
    if (page === 0) continue;
    if ((m.src[i] & MIGRATE_PFN_LOCKED) === 0) {
      // two concurrent migrations could each wait on the other's page lock: best effort, back off
      if (!trylock_page(page)) {
        if (is_zone_device_page(page)) note_reason(HMM_REASON_TRYLOCK);
        m.src[i] = 0;
        m.cpages--;
        i32[current.pcpu + PERCPU.migrate_ref] = 0; // model: collect's reference goes now
        put_page(page);
        continue;
      }
      remap = false;
      m.src[i] |= MIGRATE_PFN_LOCKED;
    }
    // ZONE_DEVICE pages are not on LRU (switch:zone-device-lru, prepare hunk)
    if (lru_managed(page)) {
      // no per-CPU pagevecs in the model: nothing to drain (lru_add_drain_all)
      if (isolate_lru_page(page) !== 0) {
        if (is_zone_device_page(page)) note_reason(HMM_REASON_ISOLATE);
        if (remap) {
          m.src[i] &= ~MIGRATE_PFN_MIGRATE;
          m.cpages--;
          restore++;
        } else {
          m.src[i] = 0;
          unlock_page(page);
          m.cpages--;
          put_page(page);
        }
        continue;
      }
      // Drop the reference we took in collect: the isolation holds one now
      put_page(page);
    }
    if (!migrate_vma_check_page(page)) {
      if (remap) {
        m.src[i] &= ~MIGRATE_PFN_MIGRATE;
        m.cpages--;
        restore++;
        if (lru_managed(page)) {
          get_page(page);
          putback_lru_page(page);
        }
      } else {
        m.src[i] = 0;
        unlock_page(page);
        m.cpages--;
        if (lru_managed(page)) putback_lru_page(page);
        else put_page(page);
      }
    }
  }
  for (let i = 0, addr = m.start; i < npages && restore > 0; i++, addr += PAGE_SIZE) {
    const page = migrate_pfn_to_page(m.src[i]);
    if (page === 0 || (m.src[i] & MIGRATE_PFN_MIGRATE) !== 0) continue;
    remove_migration_pte(m.vma, addr, page, page);
    m.src[i] = 0;
    unlock_page(page);
    put_page(page);
    restore--;
  }
}

/**
 * migrate_vma_unmap (pages locked; try_to_unmap takes the rmap lock, then each PTL): replace the remaining mappings of each page by
 * migration entries (try_to_unmap), check it once more for pins, and
 * restore what cannot move
 */
function migrate_vma_unmap(m: MigrateVma): void {
  const npages = m.npages;
  let restore = 0;
  for (let i = 0; i < npages && m.cpages > 0; i++) {
    const page = migrate_pfn_to_page(m.src[i]);
    if (page === 0 || (m.src[i] & MIGRATE_PFN_MIGRATE) === 0) continue;
    if (page_mapped(page)) {
      try_to_unmap(page, true); // TTU_MIGRATION | TTU_IGNORE_MLOCK | TTU_IGNORE_ACCESS
      if (!page_mapped(page) && migrate_vma_check_page(page)) continue;
      if (page_mapped(page) && is_zone_device_page(page)) note_reason(own_entry(m, i, page) ? HMM_REASON_UNMAP_OWN : HMM_REASON_UNMAP);
    } else if (migrate_vma_check_page(page)) continue;
    m.src[i] &= ~MIGRATE_PFN_MIGRATE;
    m.cpages--;
    restore++;
  }
  for (let i = 0; i < npages && restore > 0; i++) {
    const page = migrate_pfn_to_page(m.src[i]);
    if (page === 0 || (m.src[i] & MIGRATE_PFN_MIGRATE) !== 0) continue;
    remove_migration_ptes(page, page);
    m.src[i] = 0;
    unlock_page(page);
    restore--;
    // switch:zone-device-lru (unmap hunk)
    if (lru_managed(page)) putback_lru_page(page);
    else put_page(page);
  }
}

/** migrate_page_states: the page flags a new page takes over (both pages locked; the data moved by the driver) */
function migrate_page_states(newpage: number, page: number): void {
  const carry = page_flags(page) & (PG_uptodate | PG_referenced | PG_dirty | PG_swapbacked);
  Atomics.or(i32, page_base(newpage) + PAGE.flags, carry);
}

/**
 * migrate_page(mapping, newpage, page, MIGRATE_SYNC_NO_COPY): switch the
 * page's identity to the new page, exactly when only the expected
 * references remain (a device-private page has one more: the device's,
 * 4.14's migrate_page_move_mapping); the contents are the driver's to copy
 */
function migrate_page_no_copy(mapping: number, newpage: number, page: number): number {
  const rc = migrate_page_move_mapping(mapping, newpage, page, is_device_private_page(page) ? 1 : 0);
  trace_event(EV_VMA_MOVE, page, newpage, page_count(page), rc);
  if (rc !== 0) return rc;
  // 4.14: the new page takes the old one's identity only once the move succeeded (no turning back from here)
  const n = page_base(newpage), o = page_base(page);
  i32[n + PAGE.index] = i32[o + PAGE.index];
  i32[n + PAGE.mapping] = i32[o + PAGE.mapping];
  migrate_page_states(newpage, page);
  return 0;
}

/** migrate_vma_pages (both pages of each pair locked; a cache page's slot under tree_lock): give each page that can move its new page's identity */
function migrate_vma_pages(m: MigrateVma): void {
  for (let i = 0; i < m.npages; i++) {
    const newpage = migrate_pfn_to_page(m.dst[i]);
    const page = migrate_pfn_to_page(m.src[i]);
    if (newpage === 0) { m.src[i] &= ~MIGRATE_PFN_MIGRATE; continue; }
    if (page === 0 || (m.src[i] & MIGRATE_PFN_MIGRATE) === 0) continue; // holes are never collected (seed 004)
    const mapping = page_mapping(page);
    if (is_zone_device_page(newpage)) {
      if (is_device_private_page(newpage)) {
        // For now only support private anonymous when migrating to un-addressable device memory
        if (mapping !== 0) { m.src[i] &= ~MIGRATE_PFN_MIGRATE; continue; }
      } else {
        m.src[i] &= ~MIGRATE_PFN_MIGRATE; // other types of ZONE_DEVICE page are not supported
        continue;
      }
    }
    if (migrate_page_no_copy(mapping, newpage, page) !== 0) {
      if (is_zone_device_page(page)) note_reason(HMM_REASON_EAGAIN);
      m.src[i] &= ~MIGRATE_PFN_MIGRATE;
    }
  }
}

/**
 * migrate_vma_finalize (pages locked on entry, unlocked here; remove_migration_ptes takes the rmap lock, then each PTL): point the migration entries at the new pages (or
 * back at the old ones), unlock everything, and drop the old pages
 */
function migrate_vma_finalize(m: MigrateVma): void {
  for (let i = 0; i < m.npages; i++) {
    let newpage = migrate_pfn_to_page(m.dst[i]);
    const page = migrate_pfn_to_page(m.src[i]);
    if (page === 0) {
      if (newpage !== 0) { unlock_page(newpage); put_page(newpage); }
      continue;
    }
    if ((m.src[i] & MIGRATE_PFN_MIGRATE) === 0 || newpage === 0) {
      if (newpage !== 0) { unlock_page(newpage); put_page(newpage); }
      newpage = page;
    }
    remove_migration_ptes(page, newpage);
    unlock_page(page);
    m.cpages--;
    // switch:zone-device-lru (finalize hunks)
    if (lru_managed(page)) putback_lru_page(page);
    else put_page(page);
    if (newpage !== page) {
      i32[current.pcpu + PERCPU.migrate_ref] = newpage; // model: our reference on the new page outlives its lock
      unlock_page(newpage);
      if (is_zone_device_page(newpage)) window_open(WIN_HMM_DEVICE_PAGE_FINALIZED); // cov: a device page, which the LRU must not take
      if (lru_managed(newpage)) putback_lru_page(newpage);
      else put_page(newpage);
    }
  }
}

/**
 * migrate_vma: move [start, end) of an anonymous vma with the driver's ops.
 * Caller holds the mm's mmap_sem for read. Returns 0, or -EINVAL for a bad
 * range; which pages moved is in the src entries (MIGRATE_PFN_MIGRATE still
 * set, and a dst page): the returned view is this CPU's, valid until its
 * next call.
 */
export function migrate_vma(ops: MigrateVmaOps, vma: number, start: number, end: number, priv: number): MigrateVma | null {
  if (vma === 0 || vma_field(vma, VMA.vm_file) !== 0) return null;
  if (start >= end || start < vma_field(vma, VMA.vm_start) || end > vma_field(vma, VMA.vm_end)) return null;
  if ((end - start) / PAGE_SIZE > MIGRATE_VMA_MAX) return null;
  const m = migrate;
  m.vma = vma; m.start = start; m.end = end; m.npages = 0; m.cpages = 0;
  m.src.fill(0); m.dst.fill(0);
  hmm_reason.last = HMM_REASON_NONE;
  try {
    migrate_vma_collect(m);
    if (m.cpages === 0) return m;
    // Lock and isolate page
    migrate_vma_prepare(m);
    if (m.cpages === 0) return m;
    // Unmap pages
    migrate_vma_unmap(m);
    if (m.cpages === 0) return m;
    // the driver allocates the destination pages and copies: it may fail for some (dst 0)
    ops.alloc_and_copy(m, priv);
    // This is where the page identity switches
    migrate_vma_pages(m);
    ops.finalize_and_map(m, priv);
    // Unlock and remap pages
    migrate_vma_finalize(m);
    return m;
  } finally {
    i32[current.pcpu + PERCPU.migrate_ref] = 0; // model (h13): every reference this migration took is dropped
  }
}

/** after migrate_vma: did page i move? */
export const migrate_vma_moved = (m: MigrateVma, i: number) =>
  (m.src[i] & MIGRATE_PFN_MIGRATE) !== 0 && migrate_pfn_to_page(m.dst[i]) !== 0 && migrate_pfn_to_page(m.src[i]) !== 0;
