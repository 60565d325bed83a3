// Single-thread costs of the primitives and kernel paths, against the raw
// cost of an Atomics lock/unlock pair on the same machine. Each timed call
// runs BATCH iterations so the timer's own cost does not dominate.
import { Bench } from 'tinybench';
import { BASES, attachMachine, createMachineBuffer, i32, page_base } from '../src/shm/machine.js';
import { DEFAULT_SIZES, GLOBALS, PAGE, TRACE_RING_SIZE } from '../src/shm/layout.js';
import { events_attach } from '../src/cpu/events.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { mem_init } from '../src/mm/init.js';
import { spin_lock, spin_unlock } from '../src/sync/spinlock.js';
import { lock_page, unlock_page } from '../src/sync/page_lock.js';
import { LC_MMAP_SEM, LC_PTL } from '../src/sync/lock_class.js';
import { lock_stat_attach } from '../src/sync/lock_stat.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { MAP_SHARED, do_mmap_anon, do_mmap_pgoff, find_vma, mm_alloc } from '../src/mm/mmap.js';
import { zap_page_range } from '../src/mm/memory.js';
import { FIRST_FILE, file_write, find_get_page } from '../src/mm/filemap.js';
import { copy_mm, exit_mm } from '../src/mm/fork.js';
import { migrate_pages, migrate_prep } from '../src/mm/migrate.js';
import { isolate_lru_page, put_page } from '../src/mm/swap.js';
import { ACCESS_OK, mmu, user_access } from '../src/cpu/mmu.js';
import { flush_tlb_page } from '../src/cpu/tlb.js';
import { PROT_READ, PROT_WRITE, mm_mmap_sem } from '../src/mm/mm_types.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { _PAGE_RW, pte_pfn } from '../src/mm/pgtable.js';
import { E0, era_attach } from '../src/shm/era.js';
import { page_referenced } from '../src/mm/rmap.js';
import { E3 } from '../src/shm/era.js';
import { dmirror_init, dmirror_migrate_to_device } from '../src/drivers/dmirror.js';

const BATCH = 1000;
export interface MicroRow { name: string; ns_per_op: number; ops_per_s: number; rme: number }

/**
 * seed 003's pair of workloads, on the machine attached now: a page that a
 * parent and three forked children map (the rmap walk's page), and an mm
 * with an empty 16-page region (the fault's)
 */
function family_of_four(): { pfn: number; fresh: number } {
  const BASE = 0x20000;
  const parent = mm_alloc();
  do_mmap_anon(parent, BASE, 4096, PROT_READ | PROT_WRITE);
  user_access(parent, BASE, 0, true, 1);
  for (let k = 0; k < 3; k++) copy_mm(parent);
  const fresh = empty_with_anon_vma(16);
  return { pfn: pte_pfn(Atomics.load(i32, pte_offset(pte_table(parent, BASE), BASE))), fresh };
}

/**
 * an empty region of npages whose vma already has its anon_vma (a page was
 * faulted in and zapped again, as after MADV_DONTNEED): a forked child's vma
 * joins that anon_vma, so a child's first write is do_anonymous_page with no
 * anon_vma_prepare allocation. Without it each child allocated an anon_vma,
 * whose ids are never reused within a run (src/mm/rmap.ts), and after
 * nr_anon_vma children every fault failed -ENOMEM: the row timed the failure.
 */
function empty_with_anon_vma(npages: number): number {
  const BASE = 0x20000;
  const mm = mm_alloc();
  do_mmap_anon(mm, BASE, npages * 4096, PROT_READ | PROT_WRITE);
  user_access(mm, BASE, 0, true, 1);
  zap_page_range(find_vma(mm, BASE), BASE, BASE + npages * 4096);
  return mm;
}

/** a timed fault must succeed: a row that timed the failure path would report a figure of nothing */
function fault_ok(row: string): void {
  if (mmu.status !== ACCESS_OK) throw new Error(`bench micro: '${row}': a fault failed (status ${mmu.status}): the row would time the failure path`);
}

export async function micro(timeMs = 400): Promise<MicroRow[]> {
  // seed 003: an E0 (2.6.6-mm) machine beside the E2 one, for the anonmm fault and rmap walk against E2's
  const e0 = createMachineBuffer({ ...DEFAULT_SIZES, nr_pages: 4096, nr_cpus: 1 });
  mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0, era: E0 });
  set_current_cpu(0, 1);
  const e0w = family_of_four();
  // a trace ring, for the traced row (without one, --trace's events had nowhere to go and wrote past their region)
  const e2 = createMachineBuffer({ ...DEFAULT_SIZES, nr_pages: 4096, nr_cpus: 1, trace_ring: TRACE_RING_SIZE });
  mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0 });
  set_current_cpu(0, 1);
  const e2w = family_of_four();
  /** run a task on the E0 machine (each thread's era follows the machine it is attached to) */
  const on_e0 = { beforeAll: () => { attachMachine(e0); era_attach(); }, afterAll: () => { attachMachine(e2); era_attach(); } };

  const raw = new Int32Array(new SharedArrayBuffer(64));
  const ptl = page_base(alloc_page()) + PAGE.ptl;
  const lp = alloc_page();
  const BASE = 0x20000;
  const parent = mm_alloc();
  do_mmap_anon(parent, BASE, 32 * 4096, PROT_READ | PROT_WRITE);
  for (let p = 0; p < 32; p++) user_access(parent, BASE + p * 4096, 0, true, p);
  const slot = pte_offset(pte_table(parent, BASE), BASE);
  const faultMm = empty_with_anon_vma(16);
  // a 16-page file, all of it in the page cache, mapped MAP_SHARED
  const fileMm = mm_alloc();
  for (let p = 0; p < 16; p++) file_write(FIRST_FILE, p, 0, p);
  do_mmap_pgoff(fileMm, BASE, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, FIRST_FILE, 0);
  let sink = 0;

  const b = new Bench({ time: timeMs, warmup: true });
  b.add('raw Atomics lock/unlock pair', () => {
    for (let k = 0; k < BATCH; k++) { while (Atomics.compareExchange(raw, 0, 0, 1) !== 0); Atomics.store(raw, 0, 0); }
  });
  b.add('raw lock + PTE step (lock, load pte, store pte, unlock)', () => {
    for (let k = 0; k < BATCH; k++) {
      while (Atomics.compareExchange(raw, 0, 0, 1) !== 0);
      const v = Atomics.load(raw, 4); Atomics.store(raw, 4, v ^ 2);
      Atomics.store(raw, 0, 0);
    }
  });
  b.add('spin_lock/spin_unlock (lock_stat, held stack, preempt point)', () => {
    for (let k = 0; k < BATCH; k++) { spin_lock(ptl, LC_PTL); spin_unlock(ptl); }
  });
  b.add('spin_lock/spin_unlock, lock_stat off (--no-lock-stat: lockdep check and held stack only)', () => {
    for (let k = 0; k < BATCH; k++) { spin_lock(ptl, LC_PTL); spin_unlock(ptl); }
  }, {
    beforeAll: () => { i32[BASES.globals + GLOBALS.lock_stat_off] = 1; lock_stat_attach(); },
    afterAll: () => { i32[BASES.globals + GLOBALS.lock_stat_off] = 0; lock_stat_attach(); },
  });
  b.add('spin_lock/spin_unlock, traced (--trace: timestamped hold events)', () => {
    for (let k = 0; k < BATCH; k++) { spin_lock(ptl, LC_PTL); spin_unlock(ptl); }
  }, {
    beforeAll: () => { i32[BASES.globals + GLOBALS.trace] = 1; events_attach(); },
    afterAll: () => { i32[BASES.globals + GLOBALS.trace] = 0; events_attach(); },
  });
  b.add('performance.now() (one clock read: why timing is sampled)', () => {
    for (let k = 0; k < BATCH; k++) sink += performance.now();
  });
  b.add('lock_page/unlock_page', () => {
    for (let k = 0; k < BATCH; k++) { lock_page(lp); unlock_page(lp); }
  });
  b.add('user access, TLB hit (MMU load)', () => {
    for (let k = 0; k < BATCH; k++) sink += user_access(parent, BASE + (k & 31) * 4096, k & 7, false, 0);
  });
  b.add('write fault, do_wp_page reuse (the minimal fault path)', () => {
    for (let k = 0; k < BATCH; k++) {
      Atomics.and(i32, slot, ~_PAGE_RW); // write-protect behind the program's back, as soft-dirty tracking does
      flush_tlb_page(parent, slot);
      user_access(parent, BASE, 1, true, k);
    }
  });
  const SMALL = 16;
  b.add('anon fault: do_anonymous_page (+ amortised exit of 16 pages)', () => {
    for (let k = 0; k < BATCH / SMALL; k++) {
      const mm = copy_mm(faultMm); // the vma's anon_vma, and no pte: the child's writes are first touches
      for (let p = 0; p < SMALL; p++) { user_access(mm, BASE + p * 4096, 0, true, p); fault_ok('anon fault'); }
      exit_mm(mm);
    }
  });
  b.add('page-cache lookup: find_get_page + put_page (tree_lock read)', () => {
    for (let k = 0; k < BATCH; k++) put_page(find_get_page(FIRST_FILE, k & 15));
  });
  b.add('file fault: do_no_page of a cached page (+ amortised exit of 16 pages)', () => {
    for (let k = 0; k < BATCH / SMALL; k++) {
      const mm = copy_mm(fileMm); // a shared file vma: fork copies no ptes, the child faults them in
      for (let p = 0; p < SMALL; p++) { sink += user_access(mm, BASE + p * 4096, 0, false, 0); fault_ok('file fault'); }
      exit_mm(mm);
    }
  });
  b.add('fork + exit of a 32-page parent (per fork)', () => {
    for (let k = 0; k < BATCH / 100; k++) exit_mm(copy_mm(parent)); // the child's exit takes task_lock (exit_mm), as 2.6.18's did
  });
  b.add('migrate one mapped page (isolate, unmap, copy, remap)', () => {
    const list = new Int32Array(1);
    down_read(mm_mmap_sem(parent), LC_MMAP_SEM);
    for (let k = 0; k < BATCH / 10; k++) {
      const table = pte_table(parent, BASE + (k & 31) * 4096);
      const pfn = pte_pfn(Atomics.load(i32, pte_offset(table, BASE + (k & 31) * 4096)));
      migrate_prep(); // sys_move_pages' lru_add_drain_all: a page still in a CPU's pagevec is on no LRU list yet (E2)
      if (isolate_lru_page(pfn) !== 0) throw new Error(`bench micro: 'migrate one mapped page': pfn ${pfn} could not be isolated`);
      list[0] = pfn;
      migrate_pages(list, 1); // with the parent's mmap_sem held, as sys_move_pages holds it
    }
    up_read(mm_mmap_sem(parent));
  });
  // seed 003: the E0 fault and rmap walk against E2's, in this same run
  const walk = (pfn: number) => () => { for (let k = 0; k < BATCH; k++) sink += page_referenced(pfn); };
  const anon_faults = (mm: number) => () => {
    for (let k = 0; k < BATCH / SMALL; k++) {
      const child = copy_mm(mm);
      for (let p = 0; p < SMALL; p++) { user_access(child, BASE + p * 4096, 0, true, p); fault_ok('anon fault'); }
      exit_mm(child);
    }
  };
  b.add('E2 rmap walk: page_referenced of a page 4 mms map (anon_vma list, a PTL each)', walk(e2w.pfn));
  b.add('E0 rmap walk: page_referenced of a page 4 mms map (anonmm family at page->index, PG_maplock)', walk(e0w.pfn), on_e0);
  b.add('E2 anon fault: do_anonymous_page (+ amortised exit of 16 pages)', anon_faults(e2w.fresh));
  b.add('E0 anon fault: do_anonymous_page (+ amortised exit of 16 pages)', anon_faults(e0w.fresh), on_e0);
  await b.run();
  const per: Record<string, number> = {
    'anon fault: do_anonymous_page (+ amortised exit of 16 pages)': BATCH,
    'file fault: do_no_page of a cached page (+ amortised exit of 16 pages)': BATCH,
    'fork + exit of a 32-page parent (per fork)': BATCH / 100,
    'migrate one mapped page (isolate, unmap, copy, remap)': BATCH / 10,
    'E2 anon fault: do_anonymous_page (+ amortised exit of 16 pages)': BATCH,
    'E0 anon fault: do_anonymous_page (+ amortised exit of 16 pages)': BATCH,
  };
  void sink;
  return b.tasks.map((t) => {
    const r = t.result as unknown as { latency: { mean: number; rme: number } };
    const n = per[t.name] ?? BATCH;
    const ns = (r.latency.mean * 1e6) / n;
    return { name: t.name, ns_per_op: ns, ops_per_s: 1e9 / ns, rme: r.latency.rme };
  });
}

/**
 * seed 004 (E3): one device round trip on one thread, in a Machine of its
 * own (E3, 16 device pages): migrate_vma of a page to device memory (the
 * dmirror driver's copy, no DMA delay), then the program's load faults it
 * back to RAM (do_swap_page -> the device's page_fault -> migrate_vma)
 */
export async function device_micro(timeMs = 400): Promise<MicroRow[]> {
  createMachineBuffer({ ...DEFAULT_SIZES, nr_pages: 512, nr_cpus: 1, nr_dev_pages: 16 });
  mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0, era: E3 });
  set_current_cpu(0, 1);
  const BASE = 0x20000;
  const mm = mm_alloc();
  do_mmap_anon(mm, BASE, 8 * 4096, PROT_READ | PROT_WRITE);
  for (let p = 0; p < 8; p++) user_access(mm, BASE + p * 4096, 0, true, p);
  dmirror_init({});
  let sink = 0;
  const ROUNDS = 100;
  const b = new Bench({ time: timeMs, warmup: true });
  b.add('device round trip: migrate_vma to device memory + the device fault back (E3)', () => {
    for (let k = 0; k < ROUNDS; k++) {
      const addr = BASE + (k & 7) * 4096;
      dmirror_migrate_to_device(mm, addr, 1);
      sink += user_access(mm, addr, 0, false, 0);
    }
  });
  await b.run();
  void sink;
  return b.tasks.map((t) => {
    const r = t.result as unknown as { latency: { mean: number; rme: number } };
    const ns = (r.latency.mean * 1e6) / ROUNDS;
    return { name: t.name, ns_per_op: ns, ops_per_s: 1e9 / ns, rme: r.latency.rme };
  });
}
