// A device driver with private memory (seed 004, E3; kernel-notes 3.5.3): a
// dmirror-like device (the kernel's lib/test_hmm.c came later; 4.14's HMM
// users were out-of-tree GPU drivers). Its "device" is this CPU-side code:
// it runs on the CPU that calls it, as a driver's ioctl or fault handler
// would, and it keeps its memory in devmem[dev][w], which the CPU cannot
// address. It:
//  - registers its pfns as MEMORY_DEVICE_PRIVATE (devm_memremap_pages) with
//    a page_fault callback (migrate back to RAM) and a page_free callback;
//  - moves a range to the device (dmirror_migrate_to_device, with
//    alloc_and_copy copying phys -> devmem), as a driver's migrate ioctl;
//  - serves the CPU's faults on its pages back to RAM (dmirror_devmem_fault:
//    migrate_vma of one page, alloc_and_copy copying devmem -> phys);
//  - faults on the range itself (hmm_vma_fault), waiting on migration
//    entries like a CPU fault.
// LC_DEVMEM guards the free stack and the mirror (a leaf: taken inside
// migrate_vma's callbacks, pages locked). `copy_delay_us` stands for the DMA.
import { DEV_MIRROR, DMIRROR, MEMORY_DEVICE_PRIVATE, PAGE_SIZE, VMA, WORDS_PER_PAGE } from '../shm/layout.js';
import { BASES, i32, phys_base } from '../shm/machine.js';
import { CPUSTAT } from '../shm/layout.js';
import { current } from '../cpu/current.js';
import { EV_DEVICE_FAULT, EV_MIRROR_FAULT, trace_event } from '../cpu/events.js';
import { BUG, BUG_ON, OOPS_INVARIANT, fail } from '../check/bug.js';
import { invariant_message } from '../check/rules.js';
import { LC_DEVMEM, LC_MMAP_SEM } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { check_halt, cond_resched, controlled } from '../sync/preempt.js';
import { down_read, up_read } from '../sync/rwsem.js';
import { trylock_page } from '../sync/page_lock.js';
import { mm_mmap_sem, vma_field } from '../mm/mm_types.js';
import { find_vma } from '../mm/mmap.js';
import { alloc_page } from '../mm/page_alloc.js';
import { get_page } from '../mm/swap.js';
import { dev_pfn_base, device_time, devm_memremap_pages, nr_dev_pages, pfn_is_device, register_pgmap_ops } from '../mm/memremap.js';
import { VM_FAULT_MINOR, oom } from '../mm/memory.js';
import { migration_entry_wait } from '../mm/migrate.js';
import { pte_offset, pte_table } from '../mm/pagewalk.js';
import { is_swap_pte, pte_none, pte_present } from '../mm/pgtable.js';
import { is_device_private_entry, is_migration_entry, pte_to_swp_entry } from '../mm/swapops.js';
import {
  MIGRATE_PFN_DEVICE, MIGRATE_PFN_LOCKED, MIGRATE_PFN_MIGRATE, MigrateVma, MigrateVmaOps, migrate_pfn, migrate_pfn_to_page, migrate_vma, migrate_vma_moved,
} from '../mm/migrate_vma.js';

/** callback ids of the driver's dev_pagemap */
const DMIRROR_PAGE_FAULT = 1, DMIRROR_PAGE_FREE = 1;
const DMIRROR_ID = 1;

const dm = () => BASES.dmirror;
const devlock = () => BASES.dmirror + DMIRROR.lock;
const dev_index = (pfn: number) => pfn - dev_pfn_base();
/** devmem[dev][0]: where the device keeps a page's contents */
export const devmem_base = (pfn: number) => BASES.devmem + dev_index(pfn) * WORDS_PER_PAGE;
const mirror_base = (pfn: number) => BASES.dev_mirror + dev_index(pfn) * DEV_MIRROR.stride;

/** a copy's end that is RAM: the CPU may address it; a device pfn here is the C-DEVMEM oops */
function ram_page(pfn: number): number {
  if (pfn_is_device(pfn)) fail(OOPS_INVARIANT, invariant_message('C-DEVMEM', `access to unaddressable device memory (pfn ${pfn}) in a CPU copy`), pfn);
  return phys_base(pfn);
}

export interface DmirrorKnobs { copy_delay_us?: number; replay_delay_us?: number; wake_delay_us?: number; devlru_note?: boolean }

/** boot (setup, before the CPUs start): every device pfn is the driver's, idle */
export function dmirror_init(knobs: DmirrorKnobs = {}): number {
  const n = nr_dev_pages();
  if (n === 0) throw new Error('dmirror_init: the machine has no device pfns (sizes.nr_dev_pages)');
  const id = devm_memremap_pages(dev_pfn_base(), n, MEMORY_DEVICE_PRIVATE, DMIRROR_PAGE_FAULT, DMIRROR_PAGE_FREE, DMIRROR_ID);
  const b = dm();
  i32[b + DMIRROR.lock] = 0;
  for (let k = 0; k < n; k++) {
    i32[BASES.dev_free + k] = dev_pfn_base() + n - 1 - k;
    i32[mirror_base(dev_pfn_base() + k) + DEV_MIRROR.mm] = 0;
    i32[mirror_base(dev_pfn_base() + k) + DEV_MIRROR.addr] = 0;
  }
  i32[b + DMIRROR.nr_free] = n;
  i32[b + DMIRROR.copy_delay_us] = knobs.copy_delay_us ?? 0;
  i32[b + DMIRROR.replay_delay_us] = knobs.replay_delay_us ?? 0;
  i32[b + DMIRROR.wake_delay_us] = knobs.wake_delay_us ?? 0;
  i32[b + DMIRROR.devlru_note] = knobs.devlru_note ? 1 : 0;
  return id;
}

export const dmirror_nr_free = () => Atomics.load(i32, dm() + DMIRROR.nr_free);
/** dev_alloc: an idle device page, its count 1 -> 2; 0 if the device is full. Takes LC_DEVMEM */
function dmirror_devmem_alloc(): number {
  spin_lock(devlock(), LC_DEVMEM);
  const n = i32[dm() + DMIRROR.nr_free];
  if (n === 0) { spin_unlock(devlock()); return 0; }
  const pfn = i32[BASES.dev_free + n - 1];
  i32[dm() + DMIRROR.nr_free] = n - 1;
  spin_unlock(devlock());
  get_page(pfn);
  return pfn;
}

/** pgmap->page_free: the page went idle (count 1); back on the free stack, the mirror forgets it. Takes LC_DEVMEM */
function dmirror_devmem_free(pfn: number, _data: number): void {
  spin_lock(devlock(), LC_DEVMEM);
  const n = i32[dm() + DMIRROR.nr_free];
  BUG_ON(n >= nr_dev_pages(), 'mmrace: dmirror free stack overflow (a device page freed twice)', pfn);
  i32[BASES.dev_free + n] = pfn;
  i32[dm() + DMIRROR.nr_free] = n + 1;
  i32[mirror_base(pfn) + DEV_MIRROR.mm] = 0;
  i32[mirror_base(pfn) + DEV_MIRROR.addr] = 0;
  spin_unlock(devlock());
}

/** the DMA of one page (knob copy_delay_us) */
const dma_time = () => device_time(i32[dm() + DMIRROR.copy_delay_us]);

/** lock a page nobody else can see yet (BUG if someone does) */
function lock_new_page(pfn: number): void {
  if (!trylock_page(pfn)) BUG('mmrace: a page the driver just allocated is locked by someone else', pfn);
}

/** to the device (the pages locked, mmap_sem read; takes LC_DEVMEM to allocate): for each page that may move, a device page with the RAM page's contents */
function to_device_alloc_and_copy(m: MigrateVma, _priv: number): void {
  for (let i = 0; i < m.npages; i++) {
    const page = migrate_pfn_to_page(m.src[i]);
    if (page === 0 || (m.src[i] & MIGRATE_PFN_MIGRATE) === 0 || (m.src[i] & MIGRATE_PFN_DEVICE) !== 0) continue;
    const dpage = dmirror_devmem_alloc();
    if (dpage === 0) continue; // the device is full: this page stays (dst 0)
    lock_new_page(dpage);
    const s = ram_page(page), d = devmem_base(dpage);
    for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, d + w, Atomics.load(i32, s + w));
    dma_time();
    m.dst[i] = migrate_pfn(dpage) | MIGRATE_PFN_LOCKED;
  }
}

/** to the device: the mirror records what each device page now backs. Takes LC_DEVMEM */
function to_device_finalize_and_map(m: MigrateVma, _priv: number): void {
  const mm = vma_field(m.vma, VMA.vm_mm);
  spin_lock(devlock(), LC_DEVMEM);
  for (let i = 0; i < m.npages; i++) {
    if (!migrate_vma_moved(m, i)) continue;
    const dpage = migrate_pfn_to_page(m.dst[i]);
    i32[mirror_base(dpage) + DEV_MIRROR.mm] = mm;
    i32[mirror_base(dpage) + DEV_MIRROR.addr] = m.start + i * PAGE_SIZE;
  }
  spin_unlock(devlock());
}

/** back to RAM (the pages locked, mmap_sem read; zone->lock to allocate): a new RAM page with the device page's contents */
function to_ram_alloc_and_copy(m: MigrateVma, _priv: number): void {
  for (let i = 0; i < m.npages; i++) {
    const page = migrate_pfn_to_page(m.src[i]);
    if (page === 0 || (m.src[i] & MIGRATE_PFN_MIGRATE) === 0 || (m.src[i] & MIGRATE_PFN_DEVICE) === 0) continue;
    const rpage = alloc_page();
    if (rpage === 0) continue;
    lock_new_page(rpage);
    const s = devmem_base(page), d = ram_page(rpage);
    for (let w = 0; w < WORDS_PER_PAGE; w++) Atomics.store(i32, d + w, Atomics.load(i32, s + w));
    dma_time();
    m.dst[i] = migrate_pfn(rpage) | MIGRATE_PFN_LOCKED;
  }
}

/** back to RAM: nothing to map on the device side (page_free clears the mirror when the page goes idle) */
function to_ram_finalize_and_map(_m: MigrateVma, _priv: number): void { /* the device page goes idle in finalize */ }

const TO_DEVICE: MigrateVmaOps = { alloc_and_copy: to_device_alloc_and_copy, finalize_and_map: to_device_finalize_and_map };
const TO_RAM: MigrateVmaOps = { alloc_and_copy: to_ram_alloc_and_copy, finalize_and_map: to_ram_finalize_and_map };

/**
 * the driver's migrate ioctl: move npages from addr to device memory.
 * Takes mm's mmap_sem for read; returns the number of pages moved.
 */
export function dmirror_migrate_to_device(mm: number, addr: number, npages: number): number {
  const sem = mm_mmap_sem(mm);
  down_read(sem, LC_MMAP_SEM);
  let moved = 0;
  try {
    const vma = find_vma(mm, addr);
    if (vma === 0 || addr < vma_field(vma, VMA.vm_start)) return 0;
    const m = migrate_vma(TO_DEVICE, vma, addr, addr + npages * PAGE_SIZE, DMIRROR_ID);
    for (let i = 0; m !== null && i < m.npages; i++) if (migrate_vma_moved(m, i) && (m.src[i] & MIGRATE_PFN_DEVICE) === 0) moved++;
  } finally {
    up_read(sem);
  }
  i32[current.stat + CPUSTAT.dev_to_device] += moved;
  return moved;
}

/**
 * pgmap->page_fault (dmirror_devmem_fault): the CPU touched a page that
 * lives on the device: migrate that one page back to RAM. Whether it moved
 * or not the access is retried (a page that did not move faults again).
 * Caller (do_swap_page) holds mmap_sem for read; no reference or lock is
 * held on the device page (4.14).
 */
function dmirror_devmem_fault(mm: number, vma: number, addr: number, pfn: number, _write: boolean): number {
  i32[current.stat + CPUSTAT.dev_faults] += 1;
  const m = migrate_vma(TO_RAM, vma, addr, addr + PAGE_SIZE, DMIRROR_ID);
  const moved = m !== null && migrate_vma_moved(m, 0);
  trace_event(EV_DEVICE_FAULT, mm, addr, pfn, moved ? 1 : 0);
  if (moved) i32[current.stat + CPUSTAT.dev_to_ram] += 1;
  else i32[current.stat + CPUSTAT.dev_fault_retries] += 1;
  if (!moved && m !== null && (m.src[0] & MIGRATE_PFN_MIGRATE) !== 0 && migrate_pfn_to_page(m.dst[0]) === 0) return oom('dmirror_devmem_fault: no page to migrate the device page back to');
  return VM_FAULT_MINOR;
}

export const MIRROR_MAPPED = 0, MIRROR_ON_DEVICE = 1, MIRROR_WAITED = 2, MIRROR_NONE = 3;

/**
 * hmm_vma_fault: the device faults on addr (4.14): a present pte is
 * mirrored; its own device-private entry is already there; a migration
 * entry is waited on as a CPU fault waits (migration_entry_wait, whose
 * reference is held across the wait), and the device replays later
 * (-EAGAIN). Takes mm's mmap_sem for read; reads the pte without the PTL
 * (4.14's hmm walk), migration_entry_wait then takes it.
 */
export function hmm_vma_fault(mm: number, addr: number): number {
  i32[current.stat + CPUSTAT.mirror_faults] += 1;
  const sem = mm_mmap_sem(mm);
  down_read(sem, LC_MMAP_SEM);
  let what = MIRROR_NONE;
  try {
    // hmm_vma_walk_pmd (4.14): pte_offset_map, no PTL: the pte is read once, unlocked (mmap_sem keeps the table)
    const table = pte_table(mm, addr);
    if (table === 0) return what;
    const pte = Atomics.load(i32, pte_offset(table, addr));
    if (pte_present(pte)) what = MIRROR_MAPPED;
    else if (!pte_none(pte) && is_swap_pte(pte)) {
      const entry = pte_to_swp_entry(pte);
      if (is_device_private_entry(entry)) what = MIRROR_ON_DEVICE;
      else if (is_migration_entry(entry)) {
        migration_entry_wait(mm, addr);
        what = MIRROR_WAITED;
      }
    }
  } finally {
    up_read(sem);
  }
  trace_event(EV_MIRROR_FAULT, mm, addr, what);
  return what;
}

/**
 * the device has nothing to do for now: its thread sleeps ~20 µs (a futex
 * wait on the driver's free count, which nobody notifies), giving the core
 * to the CPUs that make it work; under the controlled executor it gives its
 * turn instead (no wall time there)
 */
export function dmirror_idle(): void {
  if (controlled) { cond_resched(); return; }
  const w = dm() + DMIRROR.nr_free;
  Atomics.wait(i32, w, Atomics.load(i32, w), 0.02);
  check_halt();
}

/** the device's replay delay after a -EAGAIN (knob replay_delay_us) */
export const dmirror_replay_delay = () => device_time(i32[dm() + DMIRROR.replay_delay_us]);

register_pgmap_ops(DMIRROR_PAGE_FAULT, dmirror_devmem_fault, DMIRROR_PAGE_FREE, dmirror_devmem_free);
