// The page allocator: one zone, a free stack under zone->lock. Pages come
// out with _count 1 and _mapcount -1; freeing runs free_pages_check, which
// prints 2.6.18's "Bad page state" report (a failure of the run in the model)
// on a page that is still mapped, locked, on the LRU or in the swap cache.
import { PAGE, PG_active, PG_buddy, PG_locked, PG_lru, PG_pgtable, PG_private, PG_reserved, PG_swapcache, PG_writeback, WORDS_PER_PAGE, ZONE } from '../shm/layout.js';
import { BASES, i32, page_base, phys_base, ptes_base, sizes } from '../shm/machine.js';
import { PTRS_PER_PTE } from '../shm/layout.js';
import { OOPS_BAD_PAGE, fail } from '../check/bug.js';
import { LC_ZONE } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { PageAnon } from './mm_types.js';
import { current } from '../cpu/current.js';
import { hex8 } from '../report/format.js';

const zone_lock = () => BASES.zone + ZONE.lock;

/** boot: every pfn but 0 starts free */
export function init_zone(): void {
  const z = BASES.zone;
  let n = 0;
  for (let pfn = sizes.nr_pages - 1; pfn >= 1; pfn--) {
    const p = page_base(pfn);
    i32[p + PAGE.flags] = PG_buddy;
    i32[p + PAGE._count] = 0;
    i32[p + PAGE._mapcount] = -1;
    i32[BASES.free_stack + n++] = pfn;
  }
  i32[z + ZONE.nr_free] = n;
}

/**
 * alloc_bootmem_page (seed 003, E0's ZERO_PAGE): a page taken at boot, before
 * any CPU identity exists, so without zone->lock (one thread runs); it is
 * never freed (PG_reserved)
 */
export function alloc_bootmem_page(): number {
  const n = i32[BASES.zone + ZONE.nr_free];
  const pfn = i32[BASES.free_stack + n - 1];
  i32[BASES.zone + ZONE.nr_free] = n - 1;
  const p = page_base(pfn);
  i32[p + PAGE.flags] = PG_reserved;
  i32[p + PAGE._count] = 1;
  return pfn;
}

export const nr_free_pages = () => Atomics.load(i32, BASES.zone + ZONE.nr_free);

/** where an i386 2.6.18 kernel's mem_map starts, and sizeof(struct page) there: the page line names a struct page's address */
const MEM_MAP_VADDR = 0xc1000000, STRUCT_PAGE_SIZE = 32;

/**
 * bad_page as 2.6.18 printed it (the call trace follows as its dump_stack);
 * which check fired is the model's note, on a line of its own. The kernel
 * then cleared the page and went on tainted; the model stops the run.
 */
function bad_page(pfn: number, why: string): never {
  const p = page_base(pfn);
  fail(OOPS_BAD_PAGE, `Bad page state in process '${current.comm}'\n` +
    `page:${hex8(MEM_MAP_VADDR + pfn * STRUCT_PAGE_SIZE)} flags:0x${hex8(Atomics.load(i32, p + PAGE.flags))} mapping:${hex8(i32[p + PAGE.mapping])} ` +
    `mapcount:${Atomics.load(i32, p + PAGE._mapcount) + 1} count:${Atomics.load(i32, p + PAGE._count)}\n` +
    `Trying to fix it up, but a reboot is needed\nmmrace: ${why} (pfn ${pfn})`, pfn);
}

/** returns a pfn with _count 1, or 0 when memory is exhausted */
export function alloc_page(): number {
  const lock = zone_lock();
  spin_lock(lock, LC_ZONE);
  const n = i32[BASES.zone + ZONE.nr_free];
  if (n === 0) { spin_unlock(lock); return 0; }
  const pfn = i32[BASES.free_stack + n - 1];
  i32[BASES.zone + ZONE.nr_free] = n - 1;
  spin_unlock(lock);
  // prep_new_page: the page must come back exactly as it was freed
  const p = page_base(pfn);
  if (Atomics.load(i32, p + PAGE.flags) !== PG_buddy || Atomics.load(i32, p + PAGE._count) !== 0 || Atomics.load(i32, p + PAGE._mapcount) !== -1) {
    bad_page(pfn, 'prep_new_page found a page in use');
  }
  i32[p + PAGE.mapping] = 0; i32[p + PAGE.index] = 0; i32[p + PAGE.private] = 0;
  i32[p + PAGE.anonmm_residual] = 0; // seed 003 (E0)
  i32[p + PAGE.lru_next] = 0; i32[p + PAGE.lru_prev] = 0;
  const ph = phys_base(pfn);
  for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, ph + w, 0);
  Atomics.store(i32, p + PAGE._count, 1);
  Atomics.store(i32, p + PAGE.flags, 0);
  return pfn;
}

const BAD_FLAGS = PG_lru | PG_private | PG_locked | PG_active | PG_swapcache | PG_writeback | PG_reserved | PG_buddy | PG_pgtable;

/** free_hot_cold_page: the last reference is gone */
export function free_hot_cold_page(pfn: number): void {
  const p = page_base(pfn);
  if (PageAnon(pfn)) i32[p + PAGE.mapping] = 0;
  const flags = Atomics.load(i32, p + PAGE.flags);
  if (Atomics.load(i32, p + PAGE._mapcount) !== -1 || i32[p + PAGE.mapping] !== 0 ||
      Atomics.load(i32, p + PAGE._count) !== 0 || (flags & BAD_FLAGS) !== 0) {
    bad_page(pfn, 'free_pages_check: page still in use');
  }
  Atomics.store(i32, p + PAGE.flags, PG_buddy);
  const lock = zone_lock();
  spin_lock(lock, LC_ZONE);
  const n = i32[BASES.zone + ZONE.nr_free];
  i32[BASES.free_stack + n] = pfn;
  i32[BASES.zone + ZONE.nr_free] = n + 1;
  spin_unlock(lock);
}

/** pte_alloc_one: a page-table page with its split PTL, all ptes none */
export function pte_alloc_one(): number {
  const pfn = alloc_page();
  if (pfn === 0) return 0;
  const p = page_base(pfn);
  i32[p + PAGE.ptl] = 0;
  const pt = ptes_base(pfn);
  for (let j = 0; j < PTRS_PER_PTE; j++) Atomics.store(i32, pt + j, 0);
  Atomics.or(i32, p + PAGE.flags, PG_pgtable);
  return pfn;
}

/** pte_free: caller guarantees no walker can reach the table any more */
export function pte_free(pfn: number): void {
  const p = page_base(pfn);
  Atomics.and(i32, p + PAGE.flags, ~PG_pgtable);
  if (Atomics.sub(i32, p + PAGE._count, 1) === 1) free_hot_cold_page(pfn);
}
