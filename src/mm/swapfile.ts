// mm/swapfile.c (2.6.17/18): swap devices, swap_map use counts, swapon and
// swapoff. swap_lock protects swap_info[], every swap_map[] and the device
// list. Since seed 000 the callers that meet swap ptes must leave migration
// entries alone: those carry a pfn, not a swap slot, and hold no count.
import { CPUSTAT, MM, MMLIST, PAGE_SIZE, PG_dirty, PG_reserved, PG_writeback, SWAPPER_SPACE, SWAP_GUARD_CANARY, SWAP_INFO, SWAP_INFO_GUARD, SWAP_SLOTS, SWAPG, VMA } from '../shm/layout.js';
import { BASES, i32, mm_base, vma_base } from '../shm/machine.js';
import { SW_SWAPIN_NO_EARLY_COW, SW_SWAPIN_SWAPOFF_RACE, SW_SWAPON_TYPE_RANGE, SW_SWAP_COUNT_ON_MIGRATION_ENTRY, SW_UNUSE_PROCESS_HUGETLB, buggy } from '../shm/switches.js';
import { OOPS_ERROR, fail } from '../check/bug.js';
import { out_of_bounds } from '../check/bounds.js';
import { LC_MMAP_SEM, LC_MMLIST, LC_PTL, LC_SWAP } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_read, down_read_trylock, up_read } from '../sync/rwsem.js';
import { lock_page, unlock_page, trylock_page, wait_on_page_locked, wait_on_page_writeback } from '../sync/page_lock.js';
import { REC_PEEK, cond_resched, cpu_relax, record_step, recording } from '../sync/preempt.js';
import { COW_UNUSE_CLASH, EV_EARLY_COW, EV_UNUSE_PTE, trace_event } from '../cpu/events.js';
import { current, signal_pending } from '../cpu/current.js';
import { is_migration_entry, pte_to_swp_entry, swp_entry, swp_entry_to_pte, swp_offset, swp_type } from './swapops.js';
import { E0, ERA, MAX_SWAPFILES, SWP_MIGRATION_READ, SWP_MIGRATION_WRITE, era_label } from '../shm/era.js';
import { ClearPageFlag, PageSwapCacheP, SetPageFlag, page_count, page_flags, page_private } from './mm_types.js';
import { __delete_from_swap_cache, delete_from_swap_cache, lookup_swap_cache, read_swap_cache_async } from './swap_state.js';
import { write_lock_tree, write_unlock_tree } from './filemap.js';
import { swap_writepage } from './page_io.js';
import { mmput } from './fork.js';
import { mk_pte, pte_mkold } from './pgtable.js';
import { pgd_index, pmd_addr_end, pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { get_page, lru_add_drain, put_page } from './swap.js';
import { page_add_anon_rmap } from './rmap.js';
import { PTRS_PER_PGD, PTRS_PER_PTE, PAGE_SHIFT } from '../shm/layout.js';
import { flush_tlb_page } from '../cpu/tlb.js';
import { mremap_moved_anon_rmap } from './rmap_anonmm.js';
import { is_vm_hugetlb_page, pgd_huge, pgd_huge_pfn } from './hugetlb.js';
import { make_page_exclusive } from './mremap.js';
import { check_anonmm_pte, early_cow_begin, early_cow_left_page, note_early_cow_residual } from './memory.js';
import { WIN_SWAPON_TYPE_PAST_MAX, WIN_UNUSE_CLASH, WIN_UNUSE_HUGETLB_VMA, window_open } from '../cpu/windows.js'; // cov

export const SWP_USED = 1, SWP_WRITEOK = 2;
export const SWAP_MAP_MAX = 0x7fff, SWAP_MAP_BAD = 0x8000;
export const EPERM = -1, EINTR = -4, EINVAL = -22, ENOMEM = -12, EBUSY = -16;

const swap_lock = () => BASES.swapg + SWAPG.swap_lock;
/** swap_info[type], deliberately unchecked: a type past the array lands in the guard records after it */
export const swap_info_base = (type: number) => BASES.swap_info + type * SWAP_INFO.stride;

/**
 * &swap_info[type] as a kernel path computes it: unchecked, as in the kernel,
 * but the model's bounds checker (src/check/bounds.ts) sees an index past
 * the era's MAX_SWAPFILES records.
 */
export function swap_info(type: number, fn: string, write = false): number {
  if (type >= MAX_SWAPFILES) {
    const why = type === SWP_MIGRATION_READ ? `type ${type} is SWP_MIGRATION_READ` : type === SWP_MIGRATION_WRITE ? `type ${type} is SWP_MIGRATION_WRITE` : `type ${type} >= MAX_SWAPFILES`;
    out_of_bounds('swap_info', type, MAX_SWAPFILES, fn, write, `MAX_SWAPFILES of ${era_label(ERA.id)}; ${why}`);
  }
  return swap_info_base(type);
}
export const swap_map_slot = (type: number, offset: number) => BASES.swap_map + type * SWAP_SLOTS + offset;
export const nr_swapfiles = () => i32[BASES.swapg + SWAPG.nr_swapfiles];
export const nr_swap_pages = () => Atomics.load(i32, BASES.swapg + SWAPG.nr_swap_pages);
/** slots on every switched-on device (swap_lock to change; read unlocked for reports and scenarios) */
export const total_swap_pages = () => i32[BASES.swapg + SWAPG.total_swap_pages];
/** vm_swap_full: more than half of swap is in use */
export const vm_swap_full = () => nr_swap_pages() * 2 < i32[BASES.swapg + SWAPG.total_swap_pages];

/** boot: no device; the guard right after the era's swap_info[MAX_SWAPFILES] holds its canary */
export function swap_init(): void {
  i32[BASES.swapg + SWAPG.swap_list_head] = -1;
  i32[BASES.swapg + SWAPG.swap_list_next] = -1;
  const g = swap_info_base(MAX_SWAPFILES);
  for (let k = 0; k < SWAP_INFO_GUARD * SWAP_INFO.stride; k++) i32[g + k] = SWAP_GUARD_CANARY;
}

/** model checker: the records after swap_info[] still hold their canary */
export function swap_guard_intact(): boolean {
  const g = swap_info_base(MAX_SWAPFILES);
  for (let k = 0; k < SWAP_INFO_GUARD * SWAP_INFO.stride; k++) if (i32[g + k] !== SWAP_GUARD_CANARY) return false;
  return true;
}

function printk_err(fn: string, what: string, entry: number): never {
  fail(OOPS_ERROR, `${fn}: ${what}${(entry >>> 0).toString(16).padStart(8, '0')}`);
}

/**
 * swap_info_get: check an entry and take swap_lock. Returns the type with
 * swap_lock held; an entry no device backs is an error-level message, which
 * 2.6.18 prints as "swap_free: ..." whichever of its callers asked.
 */
function swap_info_get(entry: number): number {
  const type = swp_type(entry);
  if (type >= nr_swapfiles()) printk_err('swap_free', 'Bad swap file entry ', entry);
  const p = swap_info(type, 'swap_info_get');
  if ((i32[p + SWAP_INFO.flags] & SWP_USED) === 0) printk_err('swap_free', 'Unused swap file entry ', entry);
  const off = swp_offset(entry);
  if (off >= i32[p + SWAP_INFO.max]) printk_err('swap_free', 'Bad swap offset entry ', entry);
  if (i32[swap_map_slot(type, off)] === 0) printk_err('swap_free', 'Unused swap offset entry ', entry);
  spin_lock(swap_lock(), LC_SWAP);
  return type;
}

/** swap_entry_free: drop one use of a slot (swap_lock held); returns the count left */
function swap_entry_free(type: number, off: number): number {
  const slot = swap_map_slot(type, off);
  let count = i32[slot];
  if (count < SWAP_MAP_MAX) {
    count--;
    i32[slot] = count;
    if (count === 0) {
      const p = swap_info_base(type);
      if (off < i32[p + SWAP_INFO.lowest_bit]) i32[p + SWAP_INFO.lowest_bit] = off;
      if (off > i32[p + SWAP_INFO.highest_bit]) i32[p + SWAP_INFO.highest_bit] = off;
      i32[p + SWAP_INFO.inuse_pages] -= 1;
      Atomics.add(i32, BASES.swapg + SWAPG.nr_swap_pages, 1);
    }
  }
  return count;
}

/** swap_free: a reference to a swap slot went away */
export function swap_free(entry: number): void {
  const type = swap_info_get(entry);
  swap_entry_free(type, swp_offset(entry));
  spin_unlock(swap_lock());
}

/** si->users killed by swapoff: no get_swap_device succeeds until the next swapon */
const SWAP_USERS_DEAD = 1 << 30;

/**
 * get_swap_device (5.14): hold entry's device against swapoff for the whole
 * of a fault (percpu_ref_tryget_live on si->users). Returns the type, -1 if
 * swapoff has killed the device (the caller backs out: its pte has changed),
 * or -2 if no device backs the entry at all (the caller goes on without a
 * reference and the era's own checks report it). No lock: the ref is atomic.
 * The whole of swapoff and swapon cannot pass under a fault that holds it.
 */
export function get_swap_device(entry: number): number {
  const type = swp_type(entry);
  if (type >= nr_swapfiles()) return -2; // a device switched off keeps its killed ref until the next swapon
  const users = swap_info_base(type) + SWAP_INFO.users;
  for (let v = Atomics.load(i32, users); ;) {
    if ((v & SWAP_USERS_DEAD) !== 0) return -1;
    const was = Atomics.compareExchange(i32, users, v, v + 1);
    if (was === v) return type;
    v = was;
  }
}

/** put_swap_device: the fault is done with the device */
export function put_swap_device(type: number): void {
  Atomics.sub(i32, swap_info_base(type) + SWAP_INFO.users, 1);
}

/** swap_duplicate: one more pte refers to this entry; 1 on success */
export function swap_duplicate(entry: number): number {
  // switch:swap-count-on-migration-entry (seed 000, swap_duplicate hunk)
  if (!buggy(SW_SWAP_COUNT_ON_MIGRATION_ENTRY) && is_migration_entry(entry)) return 1;
  const type = swp_type(entry);
  if (type >= nr_swapfiles()) printk_err('swap_dup', 'Bad swap file entry ', entry);
  const off = swp_offset(entry);
  let result = 0;
  spin_lock(swap_lock(), LC_SWAP);
  const slot = swap_map_slot(type, off);
  if (off < i32[swap_info(type, 'swap_duplicate') + SWAP_INFO.max] && i32[slot] !== 0) {
    if (i32[slot] < SWAP_MAP_MAX - 1) { i32[slot] += 1; result = 1; }
    else if (i32[slot] <= SWAP_MAP_MAX) { i32[slot] = SWAP_MAP_MAX; result = 1; } // sticky
  }
  spin_unlock(swap_lock());
  return result; // 0: the slot was freed meanwhile (swap-in backs out)
}

/** page_swapcount: uses of the page's slot beyond the swap cache (page lock held) */
export function page_swapcount(pfn: number): number {
  const entry = page_private(pfn);
  const type = swap_info_get(entry);
  const count = i32[swap_map_slot(type, swp_offset(entry))] - 1; // the swap cache's own use
  spin_unlock(swap_lock());
  return count;
}

/**
 * remove_exclusive_swap_page (2.6.x): if the swap cache is the slot's only
 * user and the caller's reference and the cache's are the page's only ones,
 * take the page out of the cache and free the slot (the page, now dirty, is
 * the only copy). Caller holds the page lock and a reference, maybe a PTL;
 * takes swap_lock, then the swap cache's tree_lock, under which it tests the
 * count again: a lookup_swap_cache takes its reference under that lock.
 */
export function remove_exclusive_swap_page(page: number): boolean {
  if (!PageSwapCacheP(page) || (page_flags(page) & PG_writeback) !== 0) return false;
  if (page_count(page) !== 2) return false; // us and the cache
  const entry = page_private(page);
  const type = swap_info_get(entry);
  let freed = false;
  if (i32[swap_map_slot(type, swp_offset(entry))] === 1) { // the cache is the slot's only user
    write_lock_tree(SWAPPER_SPACE);
    if (page_count(page) === 2 && (page_flags(page) & PG_writeback) === 0) {
      __delete_from_swap_cache(page);
      SetPageFlag(page, PG_dirty);
      freed = true;
    }
    write_unlock_tree(SWAPPER_SPACE);
  }
  spin_unlock(swap_lock());
  if (freed) {
    swap_free(entry);
    put_page(page); // the cache's reference
  }
  return freed;
}

/** try_to_free_swap (4.x): drop a locked page from the swap cache if no pte holds its slot; the page is dirty again (page lock held) */
export function try_to_free_swap(page: number): boolean {
  if (!PageSwapCacheP(page) || (page_flags(page) & PG_writeback) !== 0) return false;
  if (page_swapcount(page) !== 0) return false;
  delete_from_swap_cache(page);
  SetPageFlag(page, PG_dirty);
  return true;
}

/** can_share_swap_page: the faulting pte is the only user (page lock held) */
export function can_share_swap_page(pfn: number, mapcount: number): boolean {
  if (ERA.id === E0) return can_share_swap_page_count(pfn);
  let count = mapcount;
  if (count <= 1 && PageSwapCacheP(pfn)) count += page_swapcount(pfn);
  return count === 1;
}

/**
 * 2.6.6 (E0) counts references, not mappings: the page is ours alone if
 * only we (a pte, or the swap-in's lookup reference that becomes one) and
 * the swap cache hold it, and the swap cache is the slot's only user
 * (exclusive_swap_page). A reference in flight, such as another mm's swap-in
 * between its unlock_page and its set_pte, keeps the page shared.
 */
function can_share_swap_page_count(pfn: number): boolean {
  const count = page_count(pfn);
  if (count === 1) return (page_flags(pfn) & PG_reserved) === 0;
  if (count !== 2 || !PageSwapCacheP(pfn)) return false;
  // exclusive_swap_page: the slot's only user is the cache, and the cache and we hold the only references;
  // takes swap_lock (swap_info_get), and tree_lock inside it, as 2.6.6 nested them
  const entry = page_private(pfn);
  const type = swap_info_get(entry);
  let mine = false;
  if (i32[swap_map_slot(type, swp_offset(entry))] === 1) {
    write_lock_tree(SWAPPER_SPACE);
    mine = page_count(pfn) === 2;
    write_unlock_tree(SWAPPER_SPACE);
  }
  spin_unlock(swap_lock()); // swap_info_put
  return mine;
}

/** get_swap_page: a free slot on the highest-priority writable device, or 0 */
export function get_swap_page(): number {
  spin_lock(swap_lock(), LC_SWAP);
  let entry = 0;
  if (nr_swap_pages() > 0) {
    for (let type = i32[BASES.swapg + SWAPG.swap_list_head]; type >= 0 && entry === 0; type = i32[swap_info_base(type) + SWAP_INFO.next]) {
      const p = swap_info(type, 'get_swap_page');
      if ((i32[p + SWAP_INFO.flags] & SWP_WRITEOK) === 0) continue;
      const off = scan_swap_map(type);
      if (off !== 0) entry = swp_entry(type, off);
    }
  }
  spin_unlock(swap_lock());
  return entry;
}

/**
 * scan_swap_map: the next free slot from cluster_next, going back to
 * lowest_bit once cluster_next is past highest_bit (swap_lock held). The
 * slots are handed out round the device, not the one just freed again: a
 * faulter that slept on an entry meets its value again only after a lap.
 */
function scan_swap_map(type: number): number {
  const p = swap_info_base(type);
  const lo = i32[p + SWAP_INFO.lowest_bit], hi = i32[p + SWAP_INFO.highest_bit];
  if (hi < lo || i32[p + SWAP_INFO.inuse_pages] >= i32[p + SWAP_INFO.pages]) return 0;
  let off = i32[p + SWAP_INFO.cluster_next];
  if (off > hi || off < lo) off = lo;
  for (let n = 0; n <= hi - lo; n++, off = off >= hi ? lo : off + 1) {
    if (i32[swap_map_slot(type, off)] !== 0) continue;
    i32[swap_map_slot(type, off)] = 1;
    i32[p + SWAP_INFO.inuse_pages] += 1;
    Atomics.sub(i32, BASES.swapg + SWAPG.nr_swap_pages, 1);
    if (off === lo) i32[p + SWAP_INFO.lowest_bit] = lo + 1;
    if (off === hi) i32[p + SWAP_INFO.highest_bit] = hi - 1;
    i32[p + SWAP_INFO.cluster_next] = off + 1;
    return off;
  }
  return 0;
}

/**
 * sys_swapon: switch on a device of `slots` slots (slot 0 is the header).
 * Returns the type, or -EPERM when every type is in use.
 */
export function sys_swapon(slots: number, prio: number): number {
  if (!Number.isInteger(slots) || slots < 2 || slots > SWAP_SLOTS) return EINVAL;
  spin_lock(swap_lock(), LC_SWAP);
  let type = 0;
  const nr = nr_swapfiles();
  for (; type < nr; type++) if ((i32[swap_info_base(type) + SWAP_INFO.flags] & SWP_USED) === 0) break;
  // switch:swapon-type-range (seed 000, sys_swapon hunk)
  const limit = buggy(SW_SWAPON_TYPE_RANGE)
    ? swp_type(pte_to_swp_entry(swp_entry_to_pte(swp_entry(~0, 0)))) + 1 // the old "obfuscated" check: type > 31
    : MAX_SWAPFILES;
  if (type >= MAX_SWAPFILES) window_open(WIN_SWAPON_TYPE_PAST_MAX); // cov: the swapon the range check is about
  if (type >= limit) { spin_unlock(swap_lock()); return EPERM; }
  // buggy: type 30 passes and this initialises swap_info[30], the data after the array
  const p = swap_info(type, 'sys_swapon', true);
  if (type >= nr) i32[BASES.swapg + SWAPG.nr_swapfiles] = type + 1;
  i32[p + SWAP_INFO.flags] = SWP_USED;
  i32[p + SWAP_INFO.prio] = prio;
  i32[p + SWAP_INFO.inuse_pages] = 0;
  spin_unlock(swap_lock());
  // read the header, set up swap_map: slot 0 is the header and is marked bad
  for (let off = 0; off < SWAP_SLOTS; off++) i32[swap_map_slot(type, off)] = off === 0 || off >= slots ? SWAP_MAP_BAD : 0;
  spin_lock(swap_lock(), LC_SWAP);
  i32[p + SWAP_INFO.max] = slots;
  i32[p + SWAP_INFO.pages] = slots - 1;
  i32[p + SWAP_INFO.lowest_bit] = 1;
  i32[p + SWAP_INFO.highest_bit] = slots - 1;
  i32[p + SWAP_INFO.cluster_next] = 1;
  i32[p + SWAP_INFO.flags] = SWP_USED | SWP_WRITEOK;
  Atomics.store(i32, p + SWAP_INFO.users, 0); // percpu_ref_resurrect: faults may hold the device again
  Atomics.add(i32, BASES.swapg + SWAPG.nr_swap_pages, slots - 1);
  i32[BASES.swapg + SWAPG.total_swap_pages] += slots - 1;
  // insert into swap_list by priority (highest first)
  let prev = -1;
  let cur = i32[BASES.swapg + SWAPG.swap_list_head];
  while (cur >= 0 && i32[swap_info_base(cur) + SWAP_INFO.prio] >= prio) { prev = cur; cur = i32[swap_info_base(cur) + SWAP_INFO.next]; }
  i32[p + SWAP_INFO.next] = cur;
  if (prev < 0) i32[BASES.swapg + SWAPG.swap_list_head] = type;
  else i32[swap_info_base(prev) + SWAP_INFO.next] = type;
  spin_unlock(swap_lock());
  i32[current.stat + CPUSTAT.swapons] += 1;
  return type;
}

/** unuse_pte: the swap pte at slot maps page again (page locked, the pte's PTL held) */
function unuse_pte(mm: number, vma: number, slot: number, addr: number, entry: number, page: number): void {
  Atomics.add(i32, mm_base(mm) + MM.anon_rss, 1);
  get_page(page);
  if (recording) record_step(REC_PEEK); // capture: a pte the MMU reads without the PTL
  Atomics.store(i32, slot, pte_mkold(mk_pte(page, i32[vma_base(vma) + VMA.vm_page_prot])));
  page_add_anon_rmap(page, vma, addr);
  trace_event(EV_UNUSE_PTE, mm, addr, page, entry);
  swap_free(entry);
}

/** unuse_pte_range: point every pte holding entry at page (PTL per table); mmap_sem held */
export function unuse_vma(mm: number, vma: number, entry: number, page: number): boolean {
  const want = swp_entry_to_pte(entry);
  const end = i32[vma_base(vma) + VMA.vm_end];
  let found = false;
  for (let addr = i32[vma_base(vma) + VMA.vm_start]; addr < end;) {
    const next = pmd_addr_end(addr, end);
    const table = pte_table(mm, addr);
    if (table !== 0) {
      const ptl = pte_lockptr(table);
      spin_lock(ptl, LC_PTL);
      for (let a = addr; a < next; a += PAGE_SIZE) {
        const slot = pte_offset(table, a);
        if (Atomics.load(i32, slot) !== want) continue;
        unuse_pte(mm, vma, slot, a, entry, page);
        found = true;
      }
      spin_unlock(ptl);
    }
    addr = next;
  }
  return found;
}

/** mmap_sem for read with the page lock held: never sleep on it with the lock held (drop it, take mmap_sem, relock) */
function down_read_page_locked(sem: number, page: number): void {
  if (down_read_trylock(sem, LC_MMAP_SEM)) return;
  unlock_page(page);
  down_read(sem, LC_MMAP_SEM);
  lock_page(page);
}

/**
 * unuse_mm: mmap_sem for read, then every anon vma. Caller holds the page
 * lock; a fault holding mmap_sem may be waiting for that page lock, so
 * never sleep on mmap_sem with it held: drop it, take mmap_sem, relock.
 */
function unuse_mm(mm: number, entry: number, page: number): void {
  const sem = mm_base(mm) + MM.mmap_sem;
  down_read_page_locked(sem, page);
  try {
    for (let vma = i32[mm_base(mm) + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
      if (i32[vma_base(vma) + VMA.anon_vma] !== 0 && unuse_vma(mm, vma, entry, page)) break;
    }
  } finally {
    up_read(sem);
  }
}

// 2.6.6's swapoff walk (era E0): unuse_process holds mm->page_table_lock, the PTL of every pte, over the
// whole walk of the mm's vmas, and unuse_vma/unuse_pgd/unuse_pmd go down the page tables themselves,
// stopping at the first pte found (try_to_unuse calls again while the slot is still in use).

/** i386's _PAGE_PSE, and the present|rw|user|accessed|dirty bits (0x67) a pmd entry carries */
const _PAGE_PSE = 0x80, _KERNPG_TABLE_BITS = 0x67;

/**
 * unuse_pmd + unuse_pte: the pte of vma in pgd slot `s` holding entry, made
 * to map page. Returns 1 + the address found (the address may be 0), or 0.
 * Caller holds the page lock, mmap_sem and mm->page_table_lock.
 */
function unuse_pmd(mm: number, vma: number, s: number, entry: number, page: number): number {
  const pgd = mm_base(mm) + MM.pgd + s;
  const table = Atomics.load(i32, pgd);
  if (table === 0) return 0; // pmd_none
  if (pgd_huge(table)) {
    // pmd_bad (i386: the PSE bit): 2.6.6 reports it and clears the entry, unmapping the huge page
    Atomics.store(i32, pgd, 0); // pmd_clear
    flush_tlb_page(mm, pgd);
    spin_unlock(mm_base(mm) + MM.page_table_lock);
    // pmd_ERROR as i386 printed it: the entry's value, here a 4 MB page's (_PAGE_PSE | _PAGE_TABLE bits)
    const pmd_val = ((pgd_huge_pfn(table) << PAGE_SHIFT) | _PAGE_PSE | _KERNPG_TABLE_BITS) >>> 0;
    fail(OOPS_ERROR, `mm/swapfile.c:480: bad pmd ${pmd_val.toString(16).padStart(8, '0')}.`, 0, mm, s);
  }
  const want = swp_entry_to_pte(entry);
  const lo = Math.max(i32[vma_base(vma) + VMA.vm_start], (s * PTRS_PER_PTE) << PAGE_SHIFT);
  const hi = Math.min(i32[vma_base(vma) + VMA.vm_end], ((s + 1) * PTRS_PER_PTE) << PAGE_SHIFT);
  for (let a = lo; a < hi; a += PAGE_SIZE) {
    const slot = pte_offset(table, a);
    if (Atomics.load(i32, slot) !== want) continue;
    unuse_pte(mm, vma, slot, a, entry, page);
    return 1 + a; // add 1 since address may be 0
  }
  return 0;
}

/** unuse_vma + unuse_pgd: every pgd slot the vma covers, until a pte is found (page_table_lock held) */
function unuse_vma_pgds(mm: number, vma: number, entry: number, page: number): number {
  const first = pgd_index(i32[vma_base(vma) + VMA.vm_start]);
  const last = pgd_index(i32[vma_base(vma) + VMA.vm_end] - 1);
  for (let s = first; s <= last && s < PTRS_PER_PGD; s++) {
    const found = unuse_pmd(mm, vma, s, entry, page);
    if (found !== 0) return found;
  }
  return 0;
}

/**
 * unuse_process (2.6.6 with seed 003): mmap_sem for read, page_table_lock
 * over the walk of every vma, one pte per call; then, outside
 * page_table_lock, the early COW of a page mapped at an address that
 * clashes with the one it noted. Caller holds the page lock; mmap_sem is
 * taken with the trylock dance of later kernels (kernel-notes 8: the seed's
 * plain down_read under the page lock can deadlock against a queued writer).
 */
function unuse_process(mm: number, entry: number, page: number): number {
  const sem = mm_base(mm) + MM.mmap_sem;
  down_read_page_locked(sem, page);
  let ret = 0;
  try {
    const ptl = mm_base(mm) + MM.page_table_lock;
    let foundaddr = 0, vma = i32[mm_base(mm) + MM.mmap_first];
    spin_lock(ptl, LC_PTL);
    for (; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
      // switch:unuse-process-hugetlb (seed 003, unuse_process hunk): a hugetlb vma has no pte tables
      if (is_vm_hugetlb_page(vma)) window_open(WIN_UNUSE_HUGETLB_VMA); // cov: a vma without pte tables
      if (!buggy(SW_UNUSE_PROCESS_HUGETLB) && is_vm_hugetlb_page(vma)) continue;
      foundaddr = unuse_vma_pgds(mm, vma, entry, page);
      if (foundaddr !== 0) break;
    }
    spin_unlock(ptl);
    if (foundaddr === 0) return 0;
    const addr = foundaddr - 1;
    if (mremap_moved_anon_rmap(page, addr)) window_open(WIN_UNUSE_CLASH); // cov: page->index names another address
    // switch:swapin-no-early-cow (seed 003, unuse_process hunk)
    let cow = false;
    if (!buggy(SW_SWAPIN_NO_EARLY_COW) && mremap_moved_anon_rmap(page, addr)) {
      trace_event(EV_EARLY_COW, mm, addr, page, COW_UNUSE_CLASH);
      i32[current.stat + CPUSTAT.early_cows] += 1;
      early_cow_begin();
      ret = make_page_exclusive(vma, addr);
      cow = true;
    }
    const table = pte_table(mm, addr);
    spin_lock(ptl, LC_PTL);
    // the seed's residual, on swapoff's path as on do_swap_page's: make_page_exclusive is one
    // handle_mm_fault, and do_wp_page may leave the page where its index does not point: with swapoff
    // holding the page lock it never reuses it, but it backs out if the pte changed before it took the PTL
    // again (the mm's own thread read the page and set the accessed bit), or finds no memory for the copy;
    // the seed does not try again ("in general may not succeed")
    if (cow && early_cow_left_page()) note_early_cow_residual(mm, pte_offset(table, addr), page, addr);
    check_anonmm_pte(mm, pte_offset(table, addr), ptl, addr); // C-ANONMM
    spin_unlock(ptl);
  } finally {
    up_read(sem);
  }
  return ret;
}

/** find_next_to_unuse: the next slot still in use after prev, wrapping to the start; 0 when none is */
function find_next_to_unuse(type: number, prev: number): number {
  const max = i32[swap_info_base(type) + SWAP_INFO.max];
  for (let n = 1, off = prev; n < max; n++) {
    off = off + 1 >= max ? 1 : off + 1;
    const c = i32[swap_map_slot(type, off)];
    if (c !== 0 && c !== SWAP_MAP_BAD) return off;
  }
  return 0;
}

/**
 * try_to_unuse: bring every used slot of the device back into memory and
 * point its ptes at the page (every mm on init_mm.mmlist), then drop it
 * from the swap cache; go round until no slot is in use (an exiting mm's
 * slots are freed by its own zap). A slot whose count never falls (a leak)
 * keeps it going round for ever, so a signal ends it: returns 0, -ENOMEM or
 * -EINTR.
 */
function try_to_unuse(type: number): number {
  const ml = BASES.mmlist + MMLIST.lock;
  for (let off = 0; (off = find_next_to_unuse(type, off)) !== 0;) {
    if (signal_pending()) return EINTR; // the admin's kill, or the run's end (the model's only signal)
    cond_resched();
    const map = swap_map_slot(type, off);
    const entry = swp_entry(type, off);
    const page = read_swap_cache_async(entry);
    if (page === 0) {
      if (i32[map] === 0) continue; // freed while we allocated
      return ENOMEM;
    }
    wait_on_page_locked(page); // a read in flight completes here
    wait_on_page_writeback(page);
    lock_page(page);
    wait_on_page_writeback(page); // a writeback started before we locked it
    // each mm is pinned (mm_users) while its ptes are fixed, and stays pinned until the next one is
    let prev = 0;
    spin_lock(ml, LC_MMLIST);
    for (let mm = i32[BASES.mmlist + MMLIST.first]; mm !== 0 && i32[map] > 1;) {
      // 2.6.18's pin of an mm found on mmlist (mmget_not_zero is 4.11's name for it): an mm whose count was
      // already 0 is exiting, and its zap frees the entry
      if (Atomics.add(i32, mm_base(mm) + MM.mm_users, 1) + 1 === 1) {
        Atomics.sub(i32, mm_base(mm) + MM.mm_users, 1);
        mm = i32[mm_base(mm) + MM.mmlist_next];
        continue;
      }
      spin_unlock(ml);
      if (prev !== 0) mmput(prev);
      prev = mm;
      if (ERA.id === E0) unuse_process(mm, entry, page);
      else unuse_mm(mm, entry, page);
      spin_lock(ml, LC_MMLIST);
      mm = i32[mm_base(mm) + MM.mmlist_next];
    }
    spin_unlock(ml);
    if (prev !== 0) mmput(prev);
    // a reference may remain (an exiting mm): save the data, then leave the cache anyway;
    // the remaining reference reads it back from disk into another page
    if (i32[map] > 1 && (page_flags(page) & PG_dirty) !== 0 && PageSwapCacheP(page) && page_private(page) === entry) {
      ClearPageFlag(page, PG_dirty);
      swap_writepage(page);
      lock_page(page);
      wait_on_page_writeback(page); // delete_from_swap_cache must not meet PG_writeback
    }
    if (PageSwapCacheP(page) && page_private(page) === entry) {
      delete_from_swap_cache(page);
      SetPageFlag(page, PG_dirty); // the data now lives only in memory
    }
    unlock_page(page);
    put_page(page);
  }
  return 0;
}

/** sys_swapoff: stop allocating from the device, bring its pages back, switch it off */
/**
 * sys_swapoff's filp_close of the swap partition (2.6.16/2.6.18): its last
 * close (blkdev_put -> kill_bdev) truncates the device's page cache, which
 * holds the header page sys_swapon read (the model's reclaimers never take
 * a page-cache page of it, so it is still there), and truncate_inode_pages
 * releases that page through a pagevec: __pagevec_release drains this CPU's
 * LRU pagevecs first (E1/E2: the pages try_to_unuse swapped in reach the
 * LRU here). The header page itself is not modelled. No lock held.
 */
function swapoff_close(): void {
  lru_add_drain();
}

export function sys_swapoff(type: number): number {
  spin_lock(swap_lock(), LC_SWAP);
  if (type < 0 || type >= nr_swapfiles()) { spin_unlock(swap_lock()); return EINVAL; }
  const p = swap_info(type, 'sys_swapoff', true);
  if ((i32[p + SWAP_INFO.flags] & SWP_WRITEOK) === 0) { spin_unlock(swap_lock()); return EINVAL; }
  // unlink from swap_list, take its pages out of the free count
  let prev = -1;
  for (let cur = i32[BASES.swapg + SWAPG.swap_list_head]; cur >= 0 && cur !== type; cur = i32[swap_info_base(cur) + SWAP_INFO.next]) prev = cur;
  if (prev < 0) i32[BASES.swapg + SWAPG.swap_list_head] = i32[p + SWAP_INFO.next];
  else i32[swap_info_base(prev) + SWAP_INFO.next] = i32[p + SWAP_INFO.next];
  // every slot leaves the count; try_to_unuse's frees give back the used ones as they go
  Atomics.sub(i32, BASES.swapg + SWAPG.nr_swap_pages, i32[p + SWAP_INFO.pages]);
  i32[BASES.swapg + SWAPG.total_swap_pages] -= i32[p + SWAP_INFO.pages];
  i32[p + SWAP_INFO.flags] &= ~SWP_WRITEOK;
  spin_unlock(swap_lock());
  const err = try_to_unuse(type);
  spin_lock(swap_lock(), LC_SWAP);
  if (err !== 0) {
    // re-insert at the head and give back what we took
    i32[p + SWAP_INFO.next] = i32[BASES.swapg + SWAPG.swap_list_head];
    i32[BASES.swapg + SWAPG.swap_list_head] = type;
    Atomics.add(i32, BASES.swapg + SWAPG.nr_swap_pages, i32[p + SWAP_INFO.pages]);
    i32[BASES.swapg + SWAPG.total_swap_pages] += i32[p + SWAP_INFO.pages];
    i32[p + SWAP_INFO.flags] |= SWP_WRITEOK;
    spin_unlock(swap_lock());
    return err;
  }
  // switch:swapin-swapoff-race (5.14's swapoff hunk): kill si->users and wait for the faults that hold the
  // device; only then may it go, and a swapon give its entry values out again
  if (!buggy(SW_SWAPIN_SWAPOFF_RACE)) {
    spin_unlock(swap_lock());
    const users = p + SWAP_INFO.users;
    Atomics.or(i32, users, SWAP_USERS_DEAD); // percpu_ref_kill
    while (Atomics.load(i32, users) !== SWAP_USERS_DEAD) { cond_resched(); cpu_relax(); } // wait_for_completion(&p->comp)
    spin_lock(swap_lock(), LC_SWAP);
  }
  i32[p + SWAP_INFO.flags] = 0;
  i32[p + SWAP_INFO.max] = 0;
  i32[p + SWAP_INFO.pages] = 0;
  spin_unlock(swap_lock());
  swapoff_close();
  i32[current.stat + CPUSTAT.swapoffs] += 1;
  return 0;
}

/**
 * free_swap_and_cache: a pte referring to entry went away; if the swap
 * cache page is now the slot's only user, free both.
 */
export function free_swap_and_cache(entry: number): void {
  // switch:swap-count-on-migration-entry (seed 000, free_swap_and_cache hunk)
  if (!buggy(SW_SWAP_COUNT_ON_MIGRATION_ENTRY) && is_migration_entry(entry)) return;
  const type = swap_info_get(entry);
  let page = 0;
  if (swap_entry_free(type, swp_offset(entry)) === 1) {
    page = lookup_swap_cache(entry);
    if (page !== 0 && !trylock_page(page)) { put_page(page); page = 0; }
  }
  spin_unlock(swap_lock());
  if (page !== 0) {
    // one_user: only the swap cache and our lookup hold it, so nobody can fault it back
    if (PageSwapCacheP(page) && (page_flags(page) & PG_writeback) === 0 && page_count(page) === 2) delete_from_swap_cache(page);
    unlock_page(page);
    put_page(page);
  }
}
