import { describe, expect, it } from 'vitest';
import { boot, BASE } from './helpers.js';
import { E0 } from '../src/shm/era.js';
import { ACCESS_OK, mmu, user_access } from '../src/cpu/mmu.js';
import { do_mmap_anon, mm_alloc } from '../src/mm/mmap.js';
import { copy_mm, mmput } from '../src/mm/fork.js';
import { PROT_READ, PROT_WRITE } from '../src/mm/mm_types.js';
import { check_invariants } from '../src/check/invariants.js';
import { MREMAP_FIXED, MREMAP_MAYMOVE, sys_mremap } from '../src/mm/mremap.js';
import { sys_swapon, sys_swapoff } from '../src/mm/swapfile.js';
import { isolate_lru_page } from '../src/mm/swap.js';
import { shrink_page_list } from '../src/mm/vmscan.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { pte_pfn, pte_present } from '../src/mm/pgtable.js';
import { i32 } from '../src/shm/machine.js';
import { blk_drain } from '../src/cpu/io.js';
import { page_base } from '../src/shm/machine.js';
import { PAGE } from '../src/shm/layout.js';
import { lock_page, unlock_page } from '../src/sync/page_lock.js';
import { add_to_swap } from '../src/mm/swap_state.js';
import { page_referenced, try_to_unmap } from '../src/mm/rmap.js';
import { cpustat_base } from '../src/shm/machine.js';
import { CPUSTAT, MM, PERCPU } from '../src/shm/layout.js';
import { mm_base, percpu_base } from '../src/shm/machine.js';

describe('E0 smoke', () => {
  it('fork, mremap, swap, swapoff', () => {
    boot({}, 0, E0);
    const p = mm_alloc();
    do_mmap_anon(p, BASE, 4 * 4096, PROT_READ | PROT_WRITE);
    for (let k = 0; k < 4; k++) user_access(p, BASE + k * 4096, 0, true, 100 + k);
    user_access(p, BASE + 3 * 4096, 1, false, 0); 
    expect(check_invariants()).toEqual([]);
    const c = copy_mm(p);
    expect(check_invariants()).toEqual([]);
    const r = sys_mremap(p, BASE, 4 * 4096, 4 * 4096, MREMAP_MAYMOVE | MREMAP_FIXED, 0x40000);
    expect(r).toBe(0x40000);
    console.log('locked', Atomics.load(i32, mm_base(p) + MM.page_table_lock), Atomics.load(i32, mm_base(c) + MM.page_table_lock), 'held', i32[percpu_base(0) + PERCPU.nheld]);
    let sw = 0; for (const [mm, a] of [[p, 0x40000], [c, BASE]]) for (let k = 0; k < 4; k++) { const pte = i32[pte_offset(pte_table(mm, a + k * 4096), a + k * 4096)]; if (!pte_present(pte) && pte !== 0) sw++; }
    console.log('swap ptes', sw);
    expect(check_invariants()).toEqual([]);
    for (let k = 0; k < 4; k++) { expect(user_access(p, 0x40000 + k * 4096, 0, false, 0)).toBe(100 + k); expect(user_access(c, BASE + k * 4096, 0, false, 0)).toBe(100 + k); }
    sys_swapon(64, 0);
    { const pfn = pte_pfn(i32[pte_offset(pte_table(c, BASE), BASE)]); const pb = page_base(pfn);
      console.log('C page', pfn, 'flags', i32[pb+PAGE.flags].toString(16), 'map', i32[pb+PAGE.mapping], 'idx', i32[pb+PAGE.index].toString(16), 'mapc', i32[pb+PAGE._mapcount], 'count', i32[pb+PAGE._count]);
      lock_page(pfn); console.log('ref', page_referenced(pfn), page_referenced(pfn), 'add', add_to_swap(pfn), 'unmap', try_to_unmap(pfn, false)); unlock_page(pfn); }
    for (let round = 0; round < 3; round++) for (const [mm, a] of [[p, 0x40000], [c, BASE]]) for (let k = 0; k < 4; k++) {
      const pte = i32[pte_offset(pte_table(mm, a + k * 4096), a + k * 4096)];
      if (!pte_present(pte)) continue;
      const iso = isolate_lru_page(pte_pfn(pte)); const rr = iso === 0 ? shrink_page_list(pte_pfn(pte)) : -1; console.log('iso', round, mm, k, pte.toString(16), rr, i32[pte_offset(pte_table(mm, a + k * 4096), a + k * 4096)].toString(16));
      blk_drain();
    }
    expect(check_invariants()).toEqual([]);
    for (let k = 0; k < 4; k++) { expect(user_access(p, 0x40000 + k * 4096, 0, false, 0)).toBe(100 + k); expect(mmu.status).toBe(ACCESS_OK); }
    expect(check_invariants()).toEqual([]);
    expect(sys_swapoff(0)).toBe(0);
    expect(check_invariants()).toEqual([]);
    for (let k = 0; k < 4; k++) { expect(user_access(c, BASE + k * 4096, 0, false, 0)).toBe(100 + k); }
    console.log('cows', i32[cpustat_base(0)+CPUSTAT.mremap_cows], 'swapouts', i32[cpustat_base(0)+CPUSTAT.swapouts], 'swapins', i32[cpustat_base(0)+CPUSTAT.swapins], 'early', i32[cpustat_base(0)+CPUSTAT.early_cows]);
    mmput(c); mmput(p);
    expect(check_invariants()).toEqual([]);
  });
});
