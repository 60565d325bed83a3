// Seed 004's ground on one thread (E3): device memory the CPU cannot
// address, device-private entries, migrate_vma to the device and the
// device fault back, the pgmap kept in the LRU words.
import { describe, expect, it } from 'vitest';
import { BASE, boot, parent } from './helpers.js';
import { E3 } from '../src/shm/era.js';
import { KernelBug, OOPS_BUG, OOPS_INVARIANT, OOPS_SOFTLOCKUP, read_oops } from '../src/check/bug.js';
import { copy_mm, mmput } from '../src/mm/fork.js';
import { BASES } from '../src/shm/machine.js';
import { GLOBALS } from '../src/shm/layout.js';
import { check_invariants } from '../src/check/invariants.js';
import { i32, page_base } from '../src/shm/machine.js';
import { PAGE, PAGE_pgmap, PG_lru, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { SW_ZONE_DEVICE_LRU } from '../src/shm/switches.js';
import { ACCESS_OK, mmu, user_access } from '../src/cpu/mmu.js';
import { mk_pte, pte_present, PAGE_SHARED } from '../src/mm/pgtable.js';
import { device_private_entry_to_page, is_device_private_entry, is_write_device_private_entry, make_device_private_entry, non_swap_entry, pte_to_swp_entry, swp_entry, swp_type } from '../src/mm/swapops.js';
import { dev_pfn_base, is_device_private_page, is_zone_device_page } from '../src/mm/memremap.js';
import { dmirror_init, dmirror_migrate_to_device, dmirror_nr_free, devmem_base } from '../src/drivers/dmirror.js';
import { page_count, page_mapcount } from '../src/mm/mm_types.js';
import { LIVELOCK_R, LIVELOCK_R_DEVICE, livelock_attach, livelock_fault_begin, livelock_fault_end, livelock_progress } from '../src/check/livelock.js';
import { HMM_REASON_CHECK, HMM_REASON_EAGAIN, HMM_REASON_NONE, hmm_reason } from '../src/mm/migrate_vma.js';
import { cpustat_base } from '../src/shm/machine.js';
import { CPUSTAT } from '../src/shm/layout.js';
import { SWP_MIGRATION_WRITE, swp_entry_to_pte } from '../src/mm/swapops.js';

const DEV = 16;
function e3(bugs = 0, knobs = {}) {
  boot({ nr_pages: 256, nr_dev_pages: DEV }, bugs, E3);
  dmirror_init(knobs);
  return parent(4);
}

describe('device memory (E3)', () => {
  it('device pfns follow RAM, ZONE_DEVICE, idle at count 1, pgmap in the LRU words, all on the driver\'s free list', () => {
    e3();
    const d = dev_pfn_base();
    expect(d).toBe(256);
    for (let k = 0; k < DEV; k++) {
      expect(is_zone_device_page(d + k)).toBe(true);
      expect(is_device_private_page(d + k)).toBe(true);
      expect(page_count(d + k)).toBe(1);
      expect(i32[page_base(d + k) + PAGE_pgmap]).toBe(i32[page_base(d) + PAGE.lru_next]);
    }
    expect(dmirror_nr_free()).toBe(DEV);
    expect(check_invariants()).toEqual([]);
  });

  it('device-private entries: types 30/31 in E3, non-swap, decoded without a lock', () => {
    e3();
    const e = make_device_private_entry(300, 1);
    expect(swp_type(e)).toBe(30);
    expect(is_device_private_entry(e) && is_write_device_private_entry(e) && non_swap_entry(e)).toBe(true);
    expect(device_private_entry_to_page(e)).toBe(300);
    expect(swp_type(make_device_private_entry(300, 0))).toBe(31);
    expect(is_device_private_entry(swp_entry(3, 5))).toBe(false);
  });

  it('a page moved to the device and faulted back reads the same; counts and the free list come back', () => {
    const { mm, sh, slot } = e3();
    for (let w = 0; w < WORDS_PER_PAGE; w++) expect(sh.store(1, w)).toBe(true);
    expect(dmirror_migrate_to_device(mm, BASE + 4096, 1)).toBe(1);
    const pte = i32[slot(1)];
    expect(pte_present(pte)).toBe(false);
    const entry = pte_to_swp_entry(pte);
    expect(is_device_private_entry(entry)).toBe(true);
    const dpage = device_private_entry_to_page(entry);
    expect(page_count(dpage)).toBe(2);
    expect(page_mapcount(dpage)).toBe(1);
    expect(dmirror_nr_free()).toBe(DEV - 1);
    expect(check_invariants()).toEqual([]);
    // the data is on the device now
    expect(i32[devmem_base(dpage) + 3]).not.toBe(0);
    for (let w = 0; w < WORDS_PER_PAGE; w++) expect(sh.check(1, w)).toBe(true);
    expect(pte_present(i32[slot(1)])).toBe(true);
    expect(page_count(dpage)).toBe(1);
    expect(dmirror_nr_free()).toBe(DEV);
    expect(check_invariants()).toEqual([]);
  });

  it('a CPU access through a present pte to a device pfn is an oops (access to unaddressable device memory)', () => {
    const { mm, slot } = e3();
    i32[slot(2)] = mk_pte(dev_pfn_base() + 3, PAGE_SHARED);
    expect(() => user_access(mm, BASE + 2 * 4096, 0, false, 0)).toThrow(KernelBug);
    const o = read_oops()!;
    expect(o.kind).toBe(OOPS_INVARIANT);
    expect(o.text).toMatch(/^mmrace: invariant C-DEVMEM: access to unaddressable device memory: mm#\d+ 0x22000 pte 0x[0-9a-f]+ names device pfn 259/);
  });

  it('zone-device-lru: the device page put back on the LRU is caught at once (C-DEVLRU)', () => {
    const { mm } = e3(SW_ZONE_DEVICE_LRU);
    expect(() => dmirror_migrate_to_device(mm, BASE, 1)).toThrow(KernelBug);
    const o = read_oops()!;
    expect(o.kind).toBe(OOPS_INVARIANT);
    expect(o.text).toMatch(/invariant C-DEVLRU: device page pfn \d+ added to the LRU: pgmap overwritten/);
  });

  it('zone-device-lru, noted: the LRU link overwrites pgmap and the next put_page oopses on it', () => {
    const { mm } = e3(SW_ZONE_DEVICE_LRU, { devlru_note: true });
    expect(() => dmirror_migrate_to_device(mm, BASE, 1)).toThrow(KernelBug);
    const o = read_oops()!;
    expect(o.kind).toBe(OOPS_BUG);
    expect(o.text).toMatch(/^BUG: unable to handle kernel paging request at [0-9a-f]{8}\nmmrace: page->pgmap of device pfn/);
    expect(i32[page_base(o.pfn) + PAGE.flags] & PG_lru).toBe(PG_lru);
  });

  it('the fixed protocol passes the same move', () => {
    const { mm, sh } = e3();
    expect(dmirror_migrate_to_device(mm, BASE, 2)).toBe(2);
    expect(check_invariants()).toEqual([]);
    expect(sh.check(0, 0) && sh.check(1, 0)).toBe(true);
    expect(mmu.status).toBe(ACCESS_OK);
    expect(check_invariants()).toEqual([]);
  });

  it('fork copies a device-private entry: one more reference and mapping, read in both; 4.14\'s map_pte cannot unmap the parent\'s entry, so the child\'s fault never brings the page back: C-LIVELOCK', () => {
    const { mm, sh, slot } = e3();
    expect(sh.store(2, 5)).toBe(true);
    expect(dmirror_migrate_to_device(mm, BASE + 2 * 4096, 1)).toBe(1);
    const entry = pte_to_swp_entry(i32[slot(2)]);
    expect(is_write_device_private_entry(entry)).toBe(true);
    const dpage = device_private_entry_to_page(entry);
    const child = copy_mm(mm);
    expect(page_count(dpage)).toBe(3);
    expect(page_mapcount(dpage)).toBe(2);
    expect(is_write_device_private_entry(pte_to_swp_entry(i32[slot(2)]))).toBe(false);
    expect(check_invariants()).toEqual([]);
    // collect migrates the child's entry; try_to_unmap's walk (no PVMW_MIGRATION) skips the parent's non-present
    // pte before taking the PTL, the page stays mapped and is restored: every retry the same (fixed in 4.19)
    expect(() => user_access(child, BASE + 2 * 4096, 5, false, 0)).toThrow(KernelBug);
    const o = read_oops()!;
    expect(o.kind).toBe(OOPS_SOFTLOCKUP);
    expect(o.text).toMatch(/\nmmrace: reason: try_to_unmap left a device page mapped/);
    expect(is_device_private_entry(pte_to_swp_entry(i32[slot(2)]))).toBe(true); // the parent's entry never moved
  });

  it('zone-device-lru, the other direction: a device page fails isolation in migrate_vma_prepare, never comes back: C-LIVELOCK with that reason', () => {
    const { mm, sh } = e3();
    expect(dmirror_migrate_to_device(mm, BASE, 1)).toBe(1); // moved by the fixed lines
    i32[BASES.globals + GLOBALS.bugs] |= SW_ZONE_DEVICE_LRU;
    expect(() => sh.check(0, 0)).toThrow(KernelBug);
    const o = read_oops()!;
    expect(o.kind).toBe(OOPS_SOFTLOCKUP);
    expect(o.text).toMatch(/^INFO: livelock: CPU#0 retried the fault at mm#\d+ 0x20000 256 times without progress\nmmrace: reason: device page failed isolation \(hmm_isolate_fails 256 on this CPU\)/);
  });
});


// C-LIVELOCK's two thresholds (kernel-notes 5.2), on the detector itself: the MMU calls livelock_fault_end after
// each fault that returned with the access still to retry, with the pte it found and the slot it read it from
describe('C-LIVELOCK thresholds (kernel-notes 5.2)', () => {
  /** a slot holding pte, and the MMU's call after a fault that left it there (a fresh streak for this thread) */
  function detector(pte_of: (pfn: number) => number) {
    const { mm, slot, pfn } = e3();
    livelock_attach();
    const s = slot(1), page = pfn(1), pte = pte_of(page);
    i32[s] = pte;
    const fault = (reason = HMM_REASON_NONE) => { livelock_fault_begin(); hmm_reason.last = reason; livelock_fault_end(mm, BASE + 4096, pte, s); };
    return { mm, s, page, pte, fault };
  }
  /** a migration entry of pfn, as another CPU's migration leaves it while it holds the page lock */
  const migration_pte = (pfn: number) => swp_entry_to_pte(swp_entry(SWP_MIGRATION_WRITE, pfn));

  it('a fault that leaves the same migration entry 10000 times in a row is a livelock, whatever its reason; the 9999th is not', () => {
    const t = detector(migration_pte);
    for (let k = 1; k < LIVELOCK_R; k++) t.fault();
    expect(read_oops()).toBeNull();
    expect(() => t.fault()).toThrow(KernelBug);
    const o = read_oops()!;
    expect(o.kind).toBe(OOPS_SOFTLOCKUP);
    expect(o.text).toMatch(new RegExp(`^INFO: livelock: CPU#0 retried the fault at mm#${t.mm} 0x21000 10000 times without progress\\n` +
      `mmrace: reason: none recorded; every fault left the pte 0x[0-9a-f]+ \\(a migration entry of pfn ${t.page}\\) as it found it`));
  });

  it('a completed access, a changed pte or a device fault in between starts the count afresh', () => {
    const t = detector(migration_pte);
    for (let k = 1; k < LIVELOCK_R; k++) t.fault();
    livelock_progress(); // the access completed
    for (let k = 1; k < LIVELOCK_R; k++) t.fault();
    const was = i32[t.s];
    i32[t.s] = 0; // the fault mapped something (the slot no longer holds the pte it found)
    t.fault();
    i32[t.s] = was;
    for (let k = 1; k < LIVELOCK_R; k++) t.fault();
    livelock_fault_end(t.mm, BASE + 4096, swp_entry_to_pte(make_device_private_entry(dev_pfn_base(), 1)), 0); // a device fault elsewhere
    for (let k = 1; k < LIVELOCK_R; k++) t.fault();
    expect(read_oops()).toBeNull();
  });

  it('device faults: 256 that each left the same device page, one rejected as pinned, are a livelock; 256 lost only to the residual are a statistic', () => {
    const t = detector(() => swp_entry_to_pte(make_device_private_entry(dev_pfn_base() + 2, 1)));
    const dpage = dev_pfn_base() + 2;
    for (let k = 1; k < LIVELOCK_R_DEVICE; k++) t.fault(HMM_REASON_EAGAIN);
    t.fault(HMM_REASON_EAGAIN);
    expect(read_oops()).toBeNull();
    expect(i32[cpustat_base(0) + CPUSTAT.hmm_residual_streaks]).toBe(1);
    // another CPU's fault on the same device page is under way when ours returns: its migration entry, not progress
    t.fault(HMM_REASON_CHECK);
    i32[t.s] = migration_pte(dpage);
    for (let k = 2; k < LIVELOCK_R_DEVICE; k++) t.fault();
    expect(read_oops()).toBeNull();
    expect(() => t.fault()).toThrow(KernelBug);
    expect(read_oops()!.text).toMatch(/^INFO: livelock: CPU#0 retried the fault at mm#\d+ 0x21000 256 times without progress\nmmrace: reason: migrate_vma_check_page rejected a device-private page \(hmm_check_rejects 0 on this CPU\); the last fault's: none/);
  });
});
