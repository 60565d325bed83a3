// The ground for seeds 001-004, unit by unit: the address_space page tree
// (files and swapper_space alike), rmap_walk's order over anon_vma and
// i_mmap lists, and the I/O agent's windows (PG_writeback, a locked page
// under read) completed by the CPU that waits for them.
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { ADDRESS_SPACE, CPUSTAT, PAGE, PG_uptodate, PG_writeback, SWAPPER_SPACE, SWAP_SLOTS, VMA, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { BASES, as_base, cpustat_base, i32, page_base, phys_base, vma_base } from '../src/shm/machine.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { put_page } from '../src/mm/swap.js';
import { FIRST_FILE, add_to_page_cache, find_get_page, mapping_nrpages, radix_tree_lookup, radix_tree_slot, __remove_from_page_cache, mapping_tree_lock } from '../src/mm/filemap.js';
import { add_to_swap, delete_from_swap_cache, lookup_swap_cache, read_swap_cache_async } from '../src/mm/swap_state.js';
import { swap_writepage, swap_device_slot } from '../src/mm/page_io.js';
import { sys_swapon } from '../src/mm/swapfile.js';
import { swp_offset } from '../src/mm/swapops.js';
import { PageLocked, lock_page, trylock_page, unlock_page, wait_on_page_writeback } from '../src/sync/page_lock.js';
import { spin_lock, spin_unlock } from '../src/sync/spinlock.js';
import { LC_TREE } from '../src/sync/lock_class.js';
import { BIO_IDLE, BIO_QUEUED, bio_state, blk_drain, nr_queued } from '../src/cpu/io.js';
import { SWAP_AGAIN, rmap_walk, vma_link_file } from '../src/mm/rmap.js';
import { do_mmap_anon, mm_alloc } from '../src/mm/mmap.js';
import { copy_mm } from '../src/mm/fork.js';
import { user_access } from '../src/cpu/mmu.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { pte_pfn } from '../src/mm/pgtable.js';
import { list_ids } from '../src/shm/list.js';
import { ANON_VMA_LIST, anon_vma_head, page_mapping } from '../src/mm/mm_types.js';
import { check_invariants } from '../src/check/invariants.js';
import { run_free } from '../src/exec/free_run.js';
import { JITTER_HEAVY, JITTER_NONE } from '../src/worker/jitter.js';
import { SCENARIOS } from '../src/scenarios/registry.js';

const BASE = 0x20000;

describe('address_space page tree', () => {
  it('a file page and a swap-cache page: slots, nrpages, page_mapping, and the sweep agrees', () => {
    boot();
    const as = FIRST_FILE;
    const pfn = alloc_page();
    expect(trylock_page(pfn)).toBe(true);
    expect(add_to_page_cache(pfn, as, 5)).toBe(0);
    const other = alloc_page();
    expect(trylock_page(other)).toBe(true);
    expect(add_to_page_cache(other, as, 5)).toBe(-17); // -EEXIST: that page stays private
    unlock_page(other);
    put_page(other);
    unlock_page(pfn);
    expect(i32[page_base(pfn) + PAGE.mapping]).toBe(as << 1);
    expect(page_mapping(pfn)).toBe(as);
    expect(mapping_nrpages(as)).toBe(1);
    expect(radix_tree_slot(as, 64)).toBe(-1); // past the file
    const got = find_get_page(as, 5);
    expect(got).toBe(pfn);
    put_page(got);

    expect(sys_swapon(SWAP_SLOTS, 0)).toBe(0);
    const anon = alloc_page();
    i32[page_base(anon) + PAGE.mapping] = (7 << 1) | 1;
    expect(trylock_page(anon)).toBe(true);
    expect(add_to_swap(anon)).toBe(true);
    const entry = i32[page_base(anon) + PAGE.private];
    expect(page_mapping(anon)).toBe(SWAPPER_SPACE);
    expect(radix_tree_lookup(SWAPPER_SPACE, entry)).toBe(anon);
    expect(i32[as_base(SWAPPER_SPACE) + ADDRESS_SPACE.nrpages]).toBe(1);
    const inv = check_invariants().filter((s) => s.includes('address_space') || s.includes('flight'));
    expect(inv).toEqual([]);

    // a slot naming the wrong index is caught
    i32[page_base(pfn) + PAGE.index] = 6;
    expect(check_invariants().join('\n')).toMatch(/address_space#2 index 0x5 holds pfn/);
    i32[page_base(pfn) + PAGE.index] = 5;
    expect(trylock_page(pfn)).toBe(true);
    spin_lock(mapping_tree_lock(as), LC_TREE);
    __remove_from_page_cache(pfn);
    spin_unlock(mapping_tree_lock(as));
    unlock_page(pfn);
    expect(mapping_nrpages(as)).toBe(0);
    delete_from_swap_cache(anon);
    unlock_page(anon);
    expect(i32[as_base(SWAPPER_SPACE) + ADDRESS_SPACE.nrpages]).toBe(0);
  });
});

// rmap_walk's visitor: records the vmas in order (module state, as the kernel walkers do)
const seen: number[] = [];
const record = (_pfn: number, vma: number) => { seen.push(vma); return SWAP_AGAIN; };

describe('rmap_walk', () => {
  it('visits the anon_vma list head to tail: the parent before its forked children', () => {
    boot();
    const parent = mm_alloc();
    expect(do_mmap_anon(parent, BASE, 4 * 4096, 3)).toBeGreaterThan(0);
    user_access(parent, BASE, 0, true, 1);
    const c1 = copy_mm(parent), c2 = copy_mm(parent);
    expect(c1).toBeGreaterThan(0);
    expect(c2).toBeGreaterThan(0);
    const pfn = pte_pfn(Atomics.load(i32, pte_offset(pte_table(parent, BASE), BASE)));
    const av = i32[page_base(pfn) + PAGE.mapping] >>> 1;
    expect(trylock_page(pfn)).toBe(true);
    seen.length = 0;
    expect(rmap_walk(pfn, record, 0, 0)).toBe(SWAP_AGAIN);
    unlock_page(pfn);
    expect(seen).toEqual(list_ids(ANON_VMA_LIST, anon_vma_head(av)));
    expect(seen.map((v) => i32[vma_base(v) + VMA.vm_mm])).toEqual([parent, c1, c2]);
  });

  it('visits i_mmap in insertion order, a child right after its parent, and stops when told', () => {
    boot();
    const as = FIRST_FILE;
    const [a, b, child] = [200, 201, 202];
    for (const v of [a, b, child]) { i32[vma_base(v) + VMA.vm_file] = as; i32[vma_base(v) + VMA.vm_mm] = 1; }
    vma_link_file(a, 0);
    vma_link_file(b, 0);
    vma_link_file(child, a); // fork: vma_prio_tree_add puts the child after its parent
    const pfn = alloc_page();
    i32[page_base(pfn) + PAGE.mapping] = as << 1;
    seen.length = 0;
    rmap_walk(pfn, record, 0, 0);
    expect(seen).toEqual([a, child, b]);
    seen.length = 0;
    expect(rmap_walk(pfn, (_p, v) => (seen.push(v), v === child ? 7 : SWAP_AGAIN), 0, 0)).toBe(7);
    expect(seen).toEqual([a, child]);
  });
});

describe('the I/O agent', () => {
  it('a write leaves PG_writeback set and the page unlocked until a waiter completes it; a read keeps the page locked until lock_page completes it', () => {
    boot();
    expect(sys_swapon(SWAP_SLOTS, 0)).toBe(0);
    const pfn = alloc_page();
    i32[page_base(pfn) + PAGE.mapping] = (3 << 1) | 1;
    for (let w = 0; w < WORDS_PER_PAGE; w++) i32[phys_base(pfn) + w] = 100 + w;
    expect(trylock_page(pfn)).toBe(true);
    expect(add_to_swap(pfn)).toBe(true);
    const entry = i32[page_base(pfn) + PAGE.private];
    i32[page_base(pfn) + PAGE.flags] &= ~(1 << 4); // clear_page_dirty_for_io
    swap_writepage(pfn);
    expect(PageLocked(pfn)).toBe(false);
    expect(i32[page_base(pfn) + PAGE.flags] & PG_writeback).toBe(PG_writeback);
    expect(bio_state(pfn)).toBe(BIO_QUEUED);
    const dev = swap_device_slot(entry);
    expect(i32[dev]).toBe(0); // not written yet
    wait_on_page_writeback(pfn);
    expect(i32[page_base(pfn) + PAGE.flags] & PG_writeback).toBe(0);
    expect(bio_state(pfn)).toBe(BIO_IDLE);
    expect(i32[dev + 3]).toBe(103);
    expect(i32[cpustat_base(0) + CPUSTAT.writeback_waits]).toBe(1);

    // drop it from the swap cache, then read it back into a new page
    lock_page(pfn);
    delete_from_swap_cache(pfn);
    unlock_page(pfn);
    expect(lookup_swap_cache(entry)).toBe(0);
    expect(nr_queued()).toBe(0);
  });

  it('lock_page on a page under read completes the read (one CPU: nothing else would)', () => {
    boot();
    expect(sys_swapon(SWAP_SLOTS, 0)).toBe(0);
    const src = alloc_page();
    i32[page_base(src) + PAGE.mapping] = (3 << 1) | 1;
    expect(trylock_page(src)).toBe(true);
    expect(add_to_swap(src)).toBe(true);
    const entry = i32[page_base(src) + PAGE.private];
    for (let w = 0; w < WORDS_PER_PAGE; w++) i32[swap_device_slot(entry) + w] = 500 + w; // what the disk holds
    // a pte's use keeps the slot when the cache lets the page go
    i32[BASES.swap_map + swp_offset(entry)] += 1;
    delete_from_swap_cache(src);
    unlock_page(src);
    const pfn = read_swap_cache_async(entry);
    expect(pfn).toBeGreaterThan(0);
    expect(PageLocked(pfn)).toBe(true);
    expect(i32[page_base(pfn) + PAGE.flags] & PG_uptodate).toBe(0);
    lock_page(pfn);
    expect(i32[page_base(pfn) + PAGE.flags] & PG_uptodate).toBe(PG_uptodate);
    expect(i32[phys_base(pfn) + 2]).toBe(502);
    unlock_page(pfn);
    blk_drain();
    expect(nr_queued()).toBe(0);
  });
});

describe('the I/O window on real workers (swap-stress, fixed protocol)', () => {
  const sum = (cpus: number, f: number) => { let s = 0; for (let c = 0; c < cpus; c++) s += i32[cpustat_base(c) + f]; return s; };
  const stress = SCENARIOS.find((s) => s.name === 'swap-stress')!;
  for (const cpus of [4, 1]) { // 4: reclaimer, toucher, forker and the migrator, who meets the reclaimer's writes
    it(`${cpus} CPU${cpus > 1 ? 's' : ''}: every I/O completes, ${cpus > 1 ? 'other CPUs meet pages under writeback, ' : ''}and the run holds`, async () => {
      // the window is timing's to open: another CPU completes a queued write at the end of its next op, so the
      // migrator or reclaimer must reach that very page first. Measured: 4 of 16 seeds under load; 16 seeds all
      // missed it once on an idle 2-core CI (at 1b78a31 and 037433a). Up to 48 seeds (~3 s each), every run clean
      let seen = 0;
      for (let seed = 3; seed < 51 && (seed === 3 || (cpus > 1 && seen === 0)); seed++) {
        // one CPU has nobody to race: jitter would only slow it down
        const r = await run_free({ scenario: stress, scenarioImport: stress.name, protocol: 'fixed', cpus, ops: cpus > 1 ? 100_000 : 150_000, duration_ms: 0, seed, jitter: cpus > 1 ? JITTER_HEAVY : JITTER_NONE, watchdog_ms: 30_000 });
        expect(r.outcome, r.oops?.text ?? r.invariants.join('\n')).toBe('clean');
        expect(sum(cpus, CPUSTAT.io_submitted)).toBeGreaterThan(50);
        expect(sum(cpus, CPUSTAT.io_completed)).toBe(sum(cpus, CPUSTAT.io_submitted));
        seen += sum(cpus, CPUSTAT.writeback_seen);
      }
      if (cpus > 1) expect(seen).toBeGreaterThan(0);
    }, 400_000);
  }
});
