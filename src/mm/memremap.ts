// Device memory (kernel/memremap.c and include/linux/memremap.h, 4.14; seed
// 004, E3). A driver registers a range of ZONE_DEVICE pfns with a
// dev_pagemap: struct pages exist for them, but their contents live on the
// device (devmem, src/drivers/dmirror.ts) and the CPU cannot address them.
// The kernel keeps page->pgmap where page->lru is for other pages; the model
// keeps the pgmap id in PAGE_pgmap (= lru_next), so a device page linked on
// an LRU really loses it. A device page is idle (free to the driver) at
// count 1: put_page bringing it to 1 calls the driver's page_free. The
// callbacks are ids (the functions are registered by the driver module in
// every thread that imports it), never pointers.
import { DEV_PAGEMAP, DMIRROR, MEMORY_DEVICE_PRIVATE, NR_PGMAPS, PAGE, PAGE_pgmap, PGMAP_ID_BASE, ZONE_DEVICE } from '../shm/layout.js';
import { BASES, i32, page_base, sizes } from '../shm/machine.js';
import { BUG, BUG_ON } from '../check/bug.js';
import { cond_resched } from '../sync/preempt.js';

/** the first ZONE_DEVICE pfn: device pages follow RAM (kernel-notes 1.1) */
export const dev_pfn_base = (): number => sizes.nr_pages;
export const nr_dev_pages = (): number => sizes.nr_dev_pages ?? 0;
/** a pfn of the device range (whatever its struct page now says) */
export const pfn_is_device = (pfn: number): boolean => pfn >= sizes.nr_pages && pfn < sizes.nr_pages + (sizes.nr_dev_pages ?? 0);

/** is_zone_device_page: page_zonenum(page) == ZONE_DEVICE (a constant of the page) */
export const is_zone_device_page = (pfn: number): boolean => i32[page_base(pfn) + PAGE.zone] === ZONE_DEVICE;

/** a pgmap id or address as the oops prints it (8 hex digits; kept here: mm/ does not reach into report/) */
const hex8 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
const pgmap_base = (id: number) => BASES.pgmaps + (id - PGMAP_ID_BASE) * DEV_PAGEMAP.stride;
/** a registered pgmap id */
/** is id a registered dev_pagemap? (page->pgmap checks, I-DEV too) */
export const pgmap_live = (id: number) => id > PGMAP_ID_BASE && id < PGMAP_ID_BASE + NR_PGMAPS && i32[pgmap_base(id) + DEV_PAGEMAP.live] === 1;

/**
 * page->pgmap, dereferenced: a value that is no registered dev_pagemap is
 * what the kernel would follow as a pointer into nowhere (an LRU link
 * written over it, zone-device-lru): the oops of kernel-notes 4.16
 */
export function page_pgmap(pfn: number): number {
  const id = i32[page_base(pfn) + PAGE_pgmap];
  if (!pgmap_live(id)) {
    BUG(`BUG: unable to handle kernel paging request at ${hex8(id)}\nmmrace: page->pgmap of device pfn ${pfn} is ${hex8(id)}, no dev_pagemap (page->lru overlays it)`, pfn);
  }
  return id;
}

export const pgmap_field = (id: number, off: number): number => i32[pgmap_base(id) + off];

/** is_device_private_page: ZONE_DEVICE and page->pgmap->type is private (dereferences pgmap) */
export const is_device_private_page = (pfn: number): boolean =>
  is_zone_device_page(pfn) && pgmap_field(page_pgmap(pfn), DEV_PAGEMAP.type) === MEMORY_DEVICE_PRIVATE;

/** pgmap->page_fault(vma, addr, page, flags, pmdp): returns a VM_FAULT_* code */
export type PageFaultFn = (mm: number, vma: number, addr: number, pfn: number, write: boolean) => number;
/** pgmap->page_free(page, data): the page went idle; the driver takes it back */
export type PageFreeFn = (pfn: number, data: number) => void;
const fault_fns: (PageFaultFn | undefined)[] = [];
const free_fns: (PageFreeFn | undefined)[] = [];

/** the driver module's callbacks, by id (each thread that imports the driver registers them) */
export function register_pgmap_ops(fault_id: number, fault: PageFaultFn, free_id: number, free: PageFreeFn): void {
  fault_fns[fault_id] = fault;
  free_fns[free_id] = free;
}

/**
 * devm_memremap_pages (boot): give pfns [first, first + nr) struct pages in
 * ZONE_DEVICE, each idle at count 1 with its pgmap; returns the pgmap id
 */
export function devm_memremap_pages(first: number, nr: number, type: number, page_fault: number, page_free: number, data: number): number {
  let id = 0;
  for (let k = 1; k < NR_PGMAPS && id === 0; k++) if (i32[pgmap_base(PGMAP_ID_BASE + k) + DEV_PAGEMAP.live] === 0) id = PGMAP_ID_BASE + k;
  if (id === 0) throw new Error('devm_memremap_pages: no free dev_pagemap');
  if (first < dev_pfn_base() || first + nr > dev_pfn_base() + nr_dev_pages()) throw new RangeError(`devm_memremap_pages: pfns ${first}..${first + nr - 1} are not device pfns`);
  const g = pgmap_base(id);
  i32[g + DEV_PAGEMAP.type] = type;
  i32[g + DEV_PAGEMAP.page_fault] = page_fault;
  i32[g + DEV_PAGEMAP.page_free] = page_free;
  i32[g + DEV_PAGEMAP.data] = data;
  i32[g + DEV_PAGEMAP.first_pfn] = first;
  i32[g + DEV_PAGEMAP.nr] = nr;
  i32[g + DEV_PAGEMAP.live] = 1;
  for (let pfn = first; pfn < first + nr; pfn++) {
    const p = page_base(pfn);
    i32[p + PAGE.flags] = 0;
    i32[p + PAGE.zone] = ZONE_DEVICE;
    i32[p + PAGE.mapping] = 0; i32[p + PAGE.index] = 0; i32[p + PAGE.private] = 0;
    i32[p + PAGE_pgmap] = id;
    i32[p + PAGE.lru_prev] = 0;
    Atomics.store(i32, p + PAGE._mapcount, -1);
    Atomics.store(i32, p + PAGE._count, 1); // the device's base reference: idle
  }
  return id;
}

/**
 * put_zone_device_private_page: put_page of a device-private page (4.14's
 * branch of put_page; any context that may take the driver's leaf lock). The 2 -> 1 transition means idle: the page loses its
 * mapping and goes back to the driver. A device page never reaches 0.
 */
export function put_zone_device_private_page(pfn: number): void {
  const count = Atomics.sub(i32, page_base(pfn) + PAGE._count, 1) - 1;
  if (count === 1) {
    const id = page_pgmap(pfn);
    i32[page_base(pfn) + PAGE.mapping] = 0;
    const free = free_fns[pgmap_field(id, DEV_PAGEMAP.page_free)];
    if (!free) BUG(`mmrace: dev_pagemap ${hex8(id)} has no page_free callback in this thread`, pfn);
    free(pfn, pgmap_field(id, DEV_PAGEMAP.data));
  } else BUG_ON(count <= 0, 'mmrace: device pfn count 0: a device page lost the reference its driver keeps (4.14 would free it as a RAM page)', pfn);
}

/**
 * device_private_entry_fault (4.14 mm/memory.c via hmm): the fault on a
 * device-private entry asks the page's driver to migrate it back to RAM. As
 * in 4.14, no reference or lock is taken on the device page first. Caller
 * holds mmap_sem for read.
 */
export function device_private_entry_fault(mm: number, vma: number, addr: number, pfn: number, write: boolean): number {
  const id = page_pgmap(pfn);
  const fault = fault_fns[pgmap_field(id, DEV_PAGEMAP.page_fault)];
  if (!fault) BUG(`mmrace: dev_pagemap ${hex8(id)} has no page_fault callback in this thread`, pfn);
  return fault(mm, vma, addr, pfn, write);
}


/**
 * `us` µs of model time (a DMA, a replay delay, a scheduling latency) with
 * a preemption point every 10 µs: under the controlled executor the wait is
 * a stretch of steps in which other CPUs may run (their number depends on
 * `us` only, never on wall time)
 */
export function device_time(us: number): void {
  for (let k = 0; k < us / 10; k++) {
    cond_resched();
    const t0 = performance.now();
    while (performance.now() - t0 < 0.01) { /* time passes */ }
  }
}

/**
 * model knob (seed 004, kernel-notes 6.15 wake_delay): a waiter woken from
 * wait_on_page_locked in migration_entry_wait is not running yet; for
 * `wake_delay_us` it still holds its reference (its scheduling latency).
 * 0 (the default) costs one load.
 */
export const waiter_wake_latency = (): void => device_time(i32[BASES.dmirror + DMIRROR.wake_delay_us]);
