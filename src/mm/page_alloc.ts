// The page allocator: one zone, a free stack under zone->lock (the buddy),
// and in front of it a list of free pages per CPU (2.6.x's per_cpu_pages,
// the hot list): an order-0 allocation takes the head of this CPU's list and
// a free puts the page there, each without a lock (the kernel disables
// interrupts; no other CPU touches the list); only a refill from the buddy
// or a give-back to it, PCP_BATCH pages at once, takes zone->lock. Every
// era the model has (2.6.6 on) had the lists. Pages come out with _count 1
// and _mapcount -1; freeing runs free_pages_check, which prints 2.6.18's
// "Bad page state" report (a failure of the run in the model) on a page that
// is still mapped, locked, on the LRU or in the swap cache. A page on a
// per-CPU list is free but not PG_buddy, and not in zone->nr_free (the
// kernel's zone->free_pages), as in the kernel.
import { PAGE, PCP, PCP_BATCH, PCP_HIGH, PCP_LOW, PG_active, PG_buddy, PG_locked, PG_lru, PG_pgtable, PG_private, PG_reserved, PG_swapcache, PG_writeback, WORDS_PER_PAGE, ZONE } from '../shm/layout.js';
import { BASES, i32, page_base, pcp_base, phys_base, ptes_base, sizes } from '../shm/machine.js';
import { E0, ERA } from '../shm/era.js';
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
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) i32[pcp_base(cpu) + PCP.count] = 0; // scale: every per-CPU list empty
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

/**
 * the model's count of free pages: the buddy's (zone->nr_free) and every
 * CPU's per-CPU list's (read without their owners' leave: a statistic, as
 * the kernel's are). The kernel's nr_free_pages() counted the buddy only.
 */
export function nr_free_pages(): number {
  let n = Atomics.load(i32, BASES.zone + ZONE.nr_free);
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) n += Atomics.load(i32, pcp_base(cpu) + PCP.count);
  return n;
}

/** the pfns on a CPU's per-CPU list (for the checkers, at a quiescent point; a count out of range reads as what fits) */
export function pcp_pages(cpu: number): number[] {
  const pc = pcp_base(cpu);
  const count = Math.max(0, Math.min(PCP_HIGH, i32[pc + PCP.count]));
  return Array.from(i32.subarray(pc + PCP.list, pc + PCP.list + count));
}

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

/**
 * rmqueue_bulk: up to PCP_BATCH pages from the buddy onto this CPU's list,
 * below the pages it holds (list_add_tail); takes zone->lock. Returns the
 * list's new count.
 */
function rmqueue_bulk(pc: number, count: number): number {
  const lock = zone_lock();
  spin_lock(lock, LC_ZONE);
  const n = i32[BASES.zone + ZONE.nr_free];
  const k = Math.min(PCP_BATCH, n);
  const list = pc + PCP.list;
  i32.copyWithin(list + k, list, list + count); // the list and its count change between two preemption points
  for (let j = 0; j < k; j++) {
    const pfn = i32[BASES.free_stack + n - 1 - j];
    Atomics.and(i32, page_base(pfn) + PAGE.flags, ~PG_buddy); // rmv_page_order: out of the buddy
    i32[list + k - 1 - j] = pfn; // the first taken nearest the head
  }
  i32[BASES.zone + ZONE.nr_free] = n - k;
  i32[pc + PCP.count] = count + k;
  spin_unlock(lock);
  return count + k;
}

/**
 * free_pages_bulk: the PCP_BATCH coldest pages of this CPU's list (its
 * tail) back to the buddy; takes zone->lock
 */
function free_pages_bulk(pc: number, count: number): void {
  const lock = zone_lock();
  const list = pc + PCP.list;
  spin_lock(lock, LC_ZONE);
  const n = i32[BASES.zone + ZONE.nr_free];
  for (let j = 0; j < PCP_BATCH; j++) {
    const pfn = i32[list + j];
    Atomics.store(i32, page_base(pfn) + PAGE.flags, PG_buddy); // __free_one_page: set_page_order
    i32[BASES.free_stack + n + j] = pfn;
  }
  i32[BASES.zone + ZONE.nr_free] = n + PCP_BATCH;
  i32.copyWithin(list, list + PCP_BATCH, list + count); // the list and its count change between two preemption points
  i32[pc + PCP.count] = count - PCP_BATCH;
  spin_unlock(lock);
}

/**
 * alloc_page (buffered_rmqueue, order 0): the head of this CPU's list,
 * refilled from the buddy first when empty (E0, 2.6.6: when down to
 * pcp->low). Returns a pfn with _count 1, or 0 when memory is exhausted
 * (pages on other CPUs' lists stay there: 2.6.x did not drain them for an
 * allocation). Caller may hold spinlocks; this CPU's list needs no lock
 * (the kernel's local_irq_save); a refill takes zone->lock.
 */
export function alloc_page(): number {
  const pc = pcp_base(current.cpu);
  let count = i32[pc + PCP.count];
  if (ERA.id === E0 ? count <= PCP_LOW : count === 0) count = rmqueue_bulk(pc, count);
  if (count === 0) return 0;
  const pfn = i32[pc + PCP.list + count - 1];
  i32[pc + PCP.count] = count - 1;
  // prep_new_page: the page must come back exactly as it was freed
  const p = page_base(pfn);
  if (Atomics.load(i32, p + PAGE.flags) !== 0 || Atomics.load(i32, p + PAGE._count) !== 0 || Atomics.load(i32, p + PAGE._mapcount) !== -1) {
    bad_page(pfn, 'prep_new_page found a page in use');
  }
  i32[p + PAGE.mapping] = 0; i32[p + PAGE.index] = 0; i32[p + PAGE.private] = 0;
  i32[p + PAGE.anonmm_residual] = 0; // seed 003 (E0)
  i32[p + PAGE.lru_next] = 0; i32[p + PAGE.lru_prev] = 0;
  // clear_highpage: plain stores, as clear_page's: no CPU can reach the page until a pte or a
  // cache slot (both Atomics stores, after these) publishes it
  const ph = phys_base(pfn);
  for (let w = 0; w < WORDS_PER_PAGE; w++) i32[ph + w] = 0;
  Atomics.store(i32, p + PAGE._count, 1);
  Atomics.store(i32, p + PAGE.flags, 0);
  return pfn;
}

const BAD_FLAGS = PG_lru | PG_private | PG_locked | PG_active | PG_swapcache | PG_writeback | PG_reserved | PG_buddy | PG_pgtable;

/**
 * free_hot_cold_page: the last reference is gone; the page goes on the head
 * of this CPU's list, and a list that reached PCP_HIGH gives PCP_BATCH back
 * to the buddy. No lock for the list (local_irq_save); the give-back takes
 * zone->lock.
 */
export function free_hot_cold_page(pfn: number): void {
  const p = page_base(pfn);
  if (PageAnon(pfn)) i32[p + PAGE.mapping] = 0;
  const flags = Atomics.load(i32, p + PAGE.flags);
  if (Atomics.load(i32, p + PAGE._mapcount) !== -1 || i32[p + PAGE.mapping] !== 0 ||
      Atomics.load(i32, p + PAGE._count) !== 0 || (flags & BAD_FLAGS) !== 0) {
    bad_page(pfn, 'free_pages_check: page still in use');
  }
  Atomics.store(i32, p + PAGE.flags, 0); // free, not in the buddy: a flag set from now on is caught by prep_new_page
  const pc = pcp_base(current.cpu);
  const count = i32[pc + PCP.count];
  i32[pc + PCP.list + count] = pfn;
  i32[pc + PCP.count] = count + 1;
  if (count + 1 >= PCP_HIGH) free_pages_bulk(pc, count + 1);
}

/** pte_alloc_one: a page-table page with its split PTL, all ptes none */
export function pte_alloc_one(): number {
  const pfn = alloc_page();
  if (pfn === 0) return 0;
  const p = page_base(pfn);
  i32[p + PAGE.ptl] = 0;
  const pt = ptes_base(pfn);
  for (let j = 0; j < PTRS_PER_PTE; j++) i32[pt + j] = 0; // plain: the MMU meets the table only once __pte_alloc's pgd store (Atomics) installs it
  Atomics.or(i32, p + PAGE.flags, PG_pgtable);
  return pfn;
}

/** pte_free: caller guarantees no walker can reach the table any more */
export function pte_free(pfn: number): void {
  const p = page_base(pfn);
  Atomics.and(i32, p + PAGE.flags, ~PG_pgtable);
  if (Atomics.sub(i32, p + PAGE._count, 1) === 1) free_hot_cold_page(pfn);
}
