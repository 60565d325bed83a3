// mm/rmap.c of 2.6.6-mm (era E0): Hugh Dickins' anonmm object-based rmap
// for anonymous pages, before anon_vma. Every mm of a fork family has an
// anonmm on one list under the family head's lock. An anon page records
// (PG_anon) the anonmm of the mm that mapped it first, and in page->index
// the user virtual address it was mapped at; a walk visits every mm of the
// family at that one address. So a page that mremap moved in one mm while
// another still maps it at the old address cannot be found (seed 003).
//
// Locks (the 2.6.6-mm header, kernel-notes 2.2): faults, fork and mremap
// take mm->page_table_lock, then PG_maplock (page_map_lock / rmap_lock, a
// bit spinlock in page->flags guarding mapcount, mapping, index, PG_anon),
// then the family head's lock. Reclaim holds the page lock and PG_maplock,
// takes the head's lock and only trylocks each mm's page_table_lock (the
// reverse order), counting a failed trylock as "could not look".
import { ANONMM, CPUSTAT, IDALLOC, MM, PAGE, PAGE_SIZE, PG_anon, PG_maplock, PG_swapcache } from '../shm/layout.js';
import { BASES, anonmm_base, i32, mm_base, page_base } from '../shm/machine.js';
import { ListDesc, list_add_tail, list_del } from '../shm/list.js';
import { current } from '../cpu/current.js';
import { EV_ANONMM_INDEX, EV_RMAP_WARN, EV_UNMAP_ONE, trace_event } from '../cpu/events.js';
import { BUG_ON, OOPS_INTERNAL, fail } from '../check/bug.js';
import { WARN_ON } from '../check/warn.js';
import { LC_ANONMM, LC_IDALLOC, LC_MAPLOCK, LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_trylock, spin_unlock } from '../sync/spinlock.js';
import { PP_LOCK_ACQUIRE, PP_RMAP_READ, cpu_relax, preempt_point, preempt_point_release } from '../sync/preempt.js';
import { lock_acquired, lock_contended_acquired, lock_released, lock_wait_begin, lock_wait_end } from '../sync/lock_stat.js';
import { SW_ANONMM_MAPCOUNT_SINGLE_CHECK, SW_MREMAP_ANONMM_NO_COW, buggy } from '../shm/switches.js';
import { pte_offset, pte_table } from './pagewalk.js';
import { pte_dirty, pte_pfn, pte_present } from './pgtable.js';
import { swp_entry_to_pte } from './swapops.js';
import { SWAP_AGAIN, SWAP_FAIL, SWAP_SUCCESS, ptep_clear_flush, ptep_clear_flush_young, set_page_dirty } from './rmap.js';
import { put_page } from './swap.js';
import { swap_duplicate } from './swapfile.js';
import { mmlist_add } from './mmap.js';
import { WIN_ANONMM_MAPCOUNT_CHANGED, window_open } from '../cpu/windows.js'; // cov

const PAGE_MASK = ~(PAGE_SIZE - 1);
const ENOMEM = -12;

const af = (id: number, off: number) => anonmm_base(id) + off;
/** the family list: through each anonmm's list_next/prev, headed by the head's fam_first/fam_last */
const FAMILY: ListDesc = { base: anonmm_base, next: ANONMM.list_next, prev: ANONMM.list_prev };
const family_head = (hd: number) => anonmm_base(hd) + ANONMM.fam_first;
const mm_page_table_lock = (mm: number) => mm_base(mm) + MM.page_table_lock;

// ---------------------------------------------------------------------------
// page_map_lock / rmap_lock: PG_maplock, a bit spinlock in page->flags. The
// held stack names it by the page's mapping word (the page lock has the flags
// word): one lock instance per page, class PG_maplock.

const maplock_id = (pfn: number) => page_base(pfn) + PAGE.mapping;

/** rmap_lock (page_map_lock): spin on PG_maplock; never sleeps */
export function rmap_lock(pfn: number): void {
  const f = page_base(pfn) + PAGE.flags;
  const id = maplock_id(pfn);
  preempt_point(PP_LOCK_ACQUIRE, id);
  if ((Atomics.or(i32, f, PG_maplock) & PG_maplock) === 0) { lock_acquired(id, LC_MAPLOCK, false); return; }
  const t0 = lock_wait_begin(id, LC_MAPLOCK, 0);
  while ((Atomics.load(i32, f) & PG_maplock) !== 0 || (Atomics.or(i32, f, PG_maplock) & PG_maplock) !== 0) cpu_relax();
  lock_contended_acquired(id, LC_MAPLOCK, false, lock_wait_end(t0));
}

/** rmap_unlock (page_map_unlock) */
export function rmap_unlock(pfn: number): void {
  const id = maplock_id(pfn);
  lock_released(id);
  Atomics.and(i32, page_base(pfn) + PAGE.flags, ~PG_maplock);
  preempt_point_release(id);
}

// ---------------------------------------------------------------------------
// anonmm records and the family list

function anonmm_alloc(): number {
  const a = BASES.anonmm_alloc;
  spin_lock(a + IDALLOC.lock, LC_IDALLOC);
  const n = i32[a + IDALLOC.top];
  const id = n === 0 ? 0 : i32[BASES.anonmm_free + n - 1];
  if (n !== 0) i32[a + IDALLOC.top] = n - 1;
  spin_unlock(a + IDALLOC.lock);
  if (id === 0) return 0;
  for (let k = 0; k < ANONMM.stride; k++) i32[anonmm_base(id) + k] = 0;
  Atomics.store(i32, af(id, ANONMM.live), 1);
  return id;
}

function anonmm_free(id: number): void {
  Atomics.store(i32, af(id, ANONMM.live), 0);
  const a = BASES.anonmm_alloc;
  spin_lock(a + IDALLOC.lock, LC_IDALLOC);
  const n = i32[a + IDALLOC.top];
  i32[BASES.anonmm_free + n] = id;
  i32[a + IDALLOC.top] = n + 1;
  spin_unlock(a + IDALLOC.lock);
}

/** boot: every anonmm id but 0 is free */
export function init_anonmm(nr: number): void {
  let n = 0;
  for (let id = nr - 1; id >= 1; id--) i32[BASES.anonmm_free + n++] = id;
  i32[BASES.anonmm_alloc + IDALLOC.top] = n;
}

/** drop a reference; the last one unlinks the record from its family (head lock) and frees it */
function put_anonmm(id: number): void {
  if (Atomics.sub(i32, af(id, ANONMM.count), 1) !== 1) return;
  const hd = i32[af(id, ANONMM.head)];
  if (hd !== id) {
    spin_lock(af(hd, ANONMM.lock), LC_ANONMM);
    list_del(FAMILY, family_head(hd), id);
    spin_unlock(af(hd, ANONMM.lock));
    anonmm_free(id);
    put_anonmm(hd); // each member held its head
  } else {
    // the head goes last: no member, no page, no mm refers to the family any more
    list_del(FAMILY, family_head(hd), id);
    anonmm_free(id);
  }
}

/** exec_rmap: a new mm starts a family of its own (the head; count: the mm) */
export function exec_rmap(mm: number): number {
  const a = anonmm_alloc();
  if (a === 0) return ENOMEM;
  i32[af(a, ANONMM.head)] = a;
  i32[af(a, ANONMM.mm)] = mm;
  Atomics.store(i32, af(a, ANONMM.count), 1);
  list_add_tail(FAMILY, family_head(a), a);
  i32[mm_base(mm) + MM.anonmm] = a;
  return 0;
}

/** dup_rmap: fork puts the child's anonmm on the parent's family (takes the head's lock) */
export function dup_rmap(mm: number, oldmm: number): number {
  const a = anonmm_alloc();
  if (a === 0) return ENOMEM;
  const hd = i32[af(i32[mm_base(oldmm) + MM.anonmm], ANONMM.head)];
  i32[af(a, ANONMM.head)] = hd;
  i32[af(a, ANONMM.mm)] = mm;
  Atomics.store(i32, af(a, ANONMM.count), 1);
  spin_lock(af(hd, ANONMM.lock), LC_ANONMM);
  Atomics.add(i32, af(hd, ANONMM.count), 1);
  list_add_tail(FAMILY, family_head(hd), a);
  spin_unlock(af(hd, ANONMM.lock));
  i32[mm_base(mm) + MM.anonmm] = a;
  return 0;
}

/**
 * exit_rmap: the mm is gone from its anonmm (head lock); pages that still
 * name it keep the record. Called once every pte of the mm is zapped, while
 * its record (and page_table_lock, which walkers trylock) still exists.
 */
export function exit_rmap(mm: number): void {
  const a = i32[mm_base(mm) + MM.anonmm];
  if (a === 0) return;
  const hd = i32[af(a, ANONMM.head)];
  spin_lock(af(hd, ANONMM.lock), LC_ANONMM);
  i32[af(a, ANONMM.mm)] = 0;
  spin_unlock(af(hd, ANONMM.lock));
  i32[mm_base(mm) + MM.anonmm] = 0;
  put_anonmm(a);
}

/** the anonmm a page's mapping names (E0: PG_anon says mapping is one), or 0 */
export const page_anonmm = (pfn: number) => ((Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_anon) !== 0 ? i32[page_base(pfn) + PAGE.mapping] : 0);

// ---------------------------------------------------------------------------
// adding and removing mappings

/** page_add_anon_rmap: caller holds mm->page_table_lock; takes PG_maplock */
export function page_add_anon_rmap_anonmm(pfn: number, mm: number, addr: number): void {
  const p = page_base(pfn);
  rmap_lock(pfn);
  if (Atomics.load(i32, p + PAGE._mapcount) === -1) {
    BUG_ON(i32[p + PAGE.mapping] !== 0, 'kernel BUG at mm/rmap.c:399! BUG_ON(page->mapping) in page_add_anon_rmap', pfn);
    const a = i32[mm_base(mm) + MM.anonmm];
    Atomics.add(i32, af(a, ANONMM.count), 1);
    Atomics.or(i32, p + PAGE.flags, PG_anon);
    i32[p + PAGE.index] = addr & PAGE_MASK;
    i32[p + PAGE.mapping] = a;
  }
  Atomics.add(i32, p + PAGE._mapcount, 1);
  rmap_unlock(pfn);
}

/** page_dup_rmap: fork maps a mapped page once more (both page_table_locks held); takes PG_maplock */
export function page_dup_rmap_anonmm(pfn: number): void {
  rmap_lock(pfn);
  Atomics.add(i32, page_base(pfn) + PAGE._mapcount, 1);
  rmap_unlock(pfn);
}

/** clear_page_anon: the last mapping is gone (PG_maplock held): the page forgets its anonmm */
function clear_page_anon(pfn: number): void {
  const p = page_base(pfn);
  const a = i32[p + PAGE.mapping];
  i32[p + PAGE.mapping] = 0;
  Atomics.and(i32, p + PAGE.flags, ~PG_anon);
  if (a !== 0) put_anonmm(a);
}

/** page_remove_rmap: caller holds the pte's page_table_lock; takes PG_maplock */
export function page_remove_rmap_anonmm(pfn: number): void {
  const p = page_base(pfn);
  BUG_ON(Atomics.load(i32, p + PAGE._mapcount) < 0, 'kernel BUG at mm/rmap.c:438! BUG_ON(!page->mapcount) in page_remove_rmap', pfn);
  rmap_lock(pfn);
  if (Atomics.sub(i32, p + PAGE._mapcount, 1) === 0 && (Atomics.load(i32, p + PAGE.flags) & PG_anon) !== 0) clear_page_anon(pfn);
  rmap_unlock(pfn);
}

/**
 * mremap_move_anon_rmap: note the page's new address if no other mm maps
 * it; false means the caller must copy it first (make_page_exclusive).
 * Caller holds mm->page_table_lock of the one pte being moved.
 */
export function mremap_move_anon_rmap(pfn: number, addr: number): boolean {
  const p = page_base(pfn);
  let move = false;
  if (Atomics.load(i32, p + PAGE._mapcount) === 0) {
    // switch:anonmm-mapcount-single-check (seed 003, mremap_move_anon_rmap hunk)
    if (buggy(SW_ANONMM_MAPCOUNT_SINGLE_CHECK)) {
      preempt_point(PP_RMAP_READ, maplock_id(pfn)); // the object rmap_lock names; the unlocked test is all this line has: a fault may map the page now
      if (Atomics.load(i32, p + PAGE._mapcount) !== 0) window_open(WIN_ANONMM_MAPCOUNT_CHANGED); // cov: a fault mapped it since the test
      trace_event(EV_ANONMM_INDEX, pfn, i32[p + PAGE.index], addr & PAGE_MASK, Atomics.load(i32, p + PAGE._mapcount) + 1);
      i32[p + PAGE.index] = addr & PAGE_MASK;
      move = true;
    } else {
      rmap_lock(pfn);
      if (Atomics.load(i32, p + PAGE._mapcount) !== 0) window_open(WIN_ANONMM_MAPCOUNT_CHANGED); // cov: a fault mapped it since the test
      if (Atomics.load(i32, p + PAGE._mapcount) === 0) {
        trace_event(EV_ANONMM_INDEX, pfn, i32[p + PAGE.index], addr & PAGE_MASK, 1);
        i32[p + PAGE.index] = addr & PAGE_MASK;
        move = true;
      }
      rmap_unlock(pfn);
    }
  }
  return move;
}

/** mremap_moved_anon_rmap: does addr clash with the address the page has noted? (PG_maplock not needed: index of a mapped page moves only under its one mapper's page_table_lock) */
export const mremap_moved_anon_rmap = (pfn: number, addr: number) => i32[page_base(pfn) + PAGE.index] !== (addr & PAGE_MASK);

// ---------------------------------------------------------------------------
// the walkers: reclaim holds the page lock and PG_maplock

/** the pte slot mapping pfn at addr in mm (page_table_lock held), or -1 */
function anon_pte_slot(pfn: number, mm: number, addr: number): number {
  const table = pte_table(mm, addr);
  if (table === 0) return -1;
  const slot = pte_offset(table, addr);
  const pte = Atomics.load(i32, slot);
  return pte_present(pte) && pte_pfn(pte) === pfn ? slot : -1;
}

/** walk state (module state: no closure per call) */
let w_referenced = 0, w_mapcount = 0, w_failed = 0;

/**
 * the mms of pfn's family in walk order: page->mapping's own first, then
 * every other member, head to tail (head lock held by the caller); fills
 * walk_mms and returns how many
 */
const walk_mms = new Int32Array(256);
function family_mms(pfn: number): number {
  const first = i32[page_base(pfn) + PAGE.mapping];
  let n = 0;
  const m0 = i32[af(first, ANONMM.mm)];
  if (m0 !== 0) walk_mms[n++] = m0;
  const hd = i32[af(first, ANONMM.head)];
  for (let a = i32[family_head(hd)]; a !== 0; a = i32[af(a, ANONMM.list_next)]) {
    const m = i32[af(a, ANONMM.mm)];
    if (a === first || m === 0) continue;
    if (n === walk_mms.length) fail(OOPS_INTERNAL, `mmrace: family_mms: a family of more than ${walk_mms.length} mms (walk_mms is sized for the model's mm table)`);
    walk_mms[n++] = m;
  }
  return n;
}

/**
 * page_referenced_anon: test and clear the young bit of every pte of the
 * page, looking at page->index in each mm of the family. Caller holds the
 * page lock and PG_maplock; takes the head's lock and trylocks each
 * page_table_lock. WARN_ON(!failed) when mapcount ptes were not all found:
 * the rmap lost a mapping, unless a trylock failure explains it.
 */
export function page_referenced_anon(pfn: number): number {
  const p = page_base(pfn);
  w_referenced = 0; w_failed = 0;
  w_mapcount = Atomics.load(i32, p + PAGE._mapcount) + 1;
  const first = i32[p + PAGE.mapping];
  const hd = i32[af(first, ANONMM.head)];
  const addr = i32[p + PAGE.index];
  spin_lock(af(hd, ANONMM.lock), LC_ANONMM);
  const n = family_mms(pfn);
  for (let k = 0; k < n && w_mapcount > 0; k++) {
    const ptl = mm_page_table_lock(walk_mms[k]);
    if (!spin_trylock(ptl, LC_PTL)) { w_failed++; continue; }
    const slot = anon_pte_slot(pfn, walk_mms[k], addr);
    if (slot >= 0) {
      if (ptep_clear_flush_young(walk_mms[k], slot)) w_referenced++;
      w_mapcount--;
    }
    spin_unlock(ptl);
  }
  // The warning below may appear if page_referenced catches the page in between page_add_anon_rmap and the
  // early COW that mremap_moved_anon_rmap demanded (do_wp_page drops page_table_lock to copy): a warning,
  // not a failure of the run; the lost mapping itself is C-ANONMM's and I-ANONMM's to catch
  // WARN_ON(!failed) (2.6.6 prints "Badness in page_referenced_anon at mm/rmap.c:<line>" and a stack, and goes
  // on): the first one's splat is kept for the report, every one counted and traced; the line is the patched
  // file's, 264 before it
  const line = buggy(SW_MREMAP_ANONMM_NO_COW) ? 264 : 270;
  if (WARN_ON(w_mapcount > 0 && w_failed === 0, 'page_referenced_anon', 'mm/rmap.c', line)) {
    trace_event(EV_RMAP_WARN, pfn, w_mapcount, line);
    i32[current.stat + CPUSTAT.rmap_warns] += 1;
  }
  spin_unlock(af(hd, ANONMM.lock));
  return w_referenced;
}

/**
 * try_to_unmap_one (2.6.6): turn mm's pte of the page at addr into its swap
 * pte. Caller holds the page lock, PG_maplock and mm->page_table_lock; the
 * mapcount drops here directly (the map lock is held), and try_to_unmap
 * clears the anon mapping once it reaches 0.
 */
export function try_to_unmap_one_anonmm(pfn: number, mm: number, addr: number): number {
  const slot = anon_pte_slot(pfn, mm, addr);
  if (slot < 0) return SWAP_AGAIN;
  // If the page was recently referenced, reclaim must not unmap it (the mlock test needs the vma: not modelled)
  if (ptep_clear_flush_young(mm, slot)) return SWAP_FAIL;
  const pteval = ptep_clear_flush(mm, slot);
  if (pte_dirty(pteval)) set_page_dirty(pfn);
  const p = page_base(pfn);
  BUG_ON((Atomics.load(i32, p + PAGE.flags) & PG_swapcache) === 0, 'kernel BUG at mm/rmap.c:511! BUG_ON(!PageSwapCache(page)) in try_to_unmap_one', pfn);
  const entry = i32[p + PAGE.private];
  swap_duplicate(entry);
  mmlist_add(mm);
  Atomics.store(i32, slot, swp_entry_to_pte(entry));
  trace_event(EV_UNMAP_ONE, mm, addr, pfn, 2);
  Atomics.sub(i32, mm_base(mm) + MM.anon_rss, 1);
  Atomics.sub(i32, p + PAGE._mapcount, 1);
  put_page(pfn);
  return SWAP_AGAIN;
}

/**
 * try_to_unmap_anon: unmap the page from every mm of its family at
 * page->index. Caller holds the page lock and PG_maplock; takes the head's
 * lock and trylocks each page_table_lock (a failure leaves the page mapped:
 * SWAP_AGAIN). Clears the anon mapping when no pte is left.
 */
export function try_to_unmap_anon(pfn: number): number {
  const p = page_base(pfn);
  const first = i32[p + PAGE.mapping];
  const hd = i32[af(first, ANONMM.head)];
  const addr = i32[p + PAGE.index];
  let ret = SWAP_AGAIN;
  spin_lock(af(hd, ANONMM.lock), LC_ANONMM);
  const n = family_mms(pfn);
  for (let k = 0; k < n && Atomics.load(i32, p + PAGE._mapcount) >= 0; k++) {
    const ptl = mm_page_table_lock(walk_mms[k]);
    if (!spin_trylock(ptl, LC_PTL)) continue;
    ret = try_to_unmap_one_anonmm(pfn, walk_mms[k], addr);
    spin_unlock(ptl);
    if (ret === SWAP_FAIL) break;
  }
  spin_unlock(af(hd, ANONMM.lock));
  if (Atomics.load(i32, p + PAGE._mapcount) < 0) {
    clear_page_anon(pfn);
    return SWAP_SUCCESS;
  }
  return ret === SWAP_FAIL ? SWAP_FAIL : SWAP_AGAIN;
}

/** page_referenced for an E0 anon page: PG_maplock around the walk, as 2.6.6's shrink_list takes it */
export function page_referenced_anonmm(pfn: number): number {
  rmap_lock(pfn);
  const r = (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_anon) !== 0 && Atomics.load(i32, page_base(pfn) + PAGE._mapcount) >= 0 ? page_referenced_anon(pfn) : 0;
  rmap_unlock(pfn);
  return r;
}

/** try_to_unmap for an E0 anon page (reclaim only: E0 has no migration): PG_maplock around the walk */
export function try_to_unmap_anonmm(pfn: number): number {
  rmap_lock(pfn);
  const r = (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_anon) !== 0 && Atomics.load(i32, page_base(pfn) + PAGE._mapcount) >= 0 ? try_to_unmap_anon(pfn) : SWAP_SUCCESS;
  rmap_unlock(pfn);
  return r;
}

// ---------------------------------------------------------------------------
// model checkers (kernel-notes 5: I-ANONMM and its continuous form C-ANONMM)

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/** is mm on the family of anonmm a? (reads the list: head lock held, or a quiescent machine) */
function family_has(a: number, mm: number): boolean {
  if (a <= 0) return false;
  const hd = i32[af(a, ANONMM.head)];
  for (let x = i32[family_head(hd)], n = 0; x !== 0 && n < 1 << 16; x = i32[af(x, ANONMM.list_next)], n++) if (i32[af(x, ANONMM.mm)] === mm) return true;
  return false;
}

/**
 * why the anonmm walk of pfn would not reach its pte at (mm, addr), or
 * null if it would: the page must say PG_anon, its anonmm's family must hold
 * mm, and page->index must be addr. Quiescent machine, or the caller holds
 * the locks that keep these fields still (anonmm_check).
 */
export function anonmm_unreachable(pfn: number, mm: number, addr: number): string | null {
  const p = page_base(pfn);
  if ((Atomics.load(i32, p + PAGE.flags) & PG_anon) === 0) return `page is not PageAnon (mapping ${hex(i32[p + PAGE.mapping])})`;
  const a = i32[p + PAGE.mapping];
  if (!family_has(a, mm)) return `anonmm#${a}'s family does not hold mm#${mm}`;
  if (i32[p + PAGE.index] !== (addr & PAGE_MASK)) return `page->index ${hex(i32[p + PAGE.index])}: the walk looks only there, in every mm of the family`;
  return null;
}

/**
 * C-ANONMM: a pte this operation just mapped or moved must be reachable by
 * the anonmm walk. Caller holds mm->page_table_lock (the pte stays); takes
 * PG_maplock and the head's lock (index, mapping and the family stay).
 * Returns the finding, or null; the caller unlocks and fails.
 */
export function anonmm_check(pfn: number, mm: number, addr: number): string | null {
  rmap_lock(pfn);
  const a = i32[page_base(pfn) + PAGE.mapping];
  const hd = (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_anon) !== 0 && a > 0 ? i32[af(a, ANONMM.head)] : 0;
  if (hd !== 0) spin_lock(af(hd, ANONMM.lock), LC_ANONMM);
  const why = anonmm_unreachable(pfn, mm, addr);
  if (hd !== 0) spin_unlock(af(hd, ANONMM.lock));
  rmap_unlock(pfn);
  return why === null ? null : `pfn ${pfn} mapped at mm#${mm} ${hex(addr)} is unreachable by rmap: ${why}; reclaim can never unmap it (an unswappable page)`;
}

/** the model's refusal of an anon_vma facility in E0 */
export function no_anon_vma(what: string): never {
  fail(OOPS_INTERNAL, `mmrace: ${what} needs anon_vma (2.6.7 on); E0 (2.6.6-mm) has the anonmm rmap, and no migration`);
}
