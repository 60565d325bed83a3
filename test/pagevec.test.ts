// scale2 (issue 16 item 3): the per-CPU LRU pagevecs of 2.6.16-2.6.18 in
// front of zone->lru_lock. A new page waits in its CPU's pagevec with the
// pagevec's reference, not PG_lru, until PAGEVEC_SIZE of them go onto the
// LRU at once or a drain moves them; lru_add_drain_all drains every CPU's;
// migration finds a just-faulted page because migrate_prep drains first;
// the invariant sweep counts the pagevec's reference and catches a page in
// a pagevec that is also on the LRU. E0 (and E3/E4) add at once. Where
// 2.6.18 drained for a CPU that faults: a swap-in's swapin_readahead, the
// swapoff's close; reclaim puts a page it keeps straight back on its list.
import { describe, expect, it } from 'vitest';
import { BASE, boot, parent } from './helpers.js';
import { PAGE, PAGEVEC_SIZE, PG_lru, ZONE } from '../src/shm/layout.js';
import { BASES, i32, page_base } from '../src/shm/machine.js';
import { isolate_lru_page, lru_add_drain, lru_add_drain_all, lru_cache_add_active, pagevec_pages, put_page } from '../src/mm/swap.js';
import { PAGEOUT_ACTIVATED, shrink_page_list } from '../src/mm/vmscan.js';
import { sys_swapoff, sys_swapon } from '../src/mm/swapfile.js';
import { blk_drain } from '../src/cpu/io.js';
import { is_swap_pte, pte_pfn, pte_present } from '../src/mm/pgtable.js';
import { lookup_swap_cache } from '../src/mm/swap_state.js';
import { pte_to_swp_entry } from '../src/mm/swapops.js';
import { PG_active } from '../src/shm/layout.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { do_move_pages } from '../src/mm/migrate.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { check_invariants } from '../src/check/invariants.js';
import { E0, E1, E2 } from '../src/shm/era.js';

const flags = (pfn: number) => i32[page_base(pfn) + PAGE.flags];
const count = (pfn: number) => i32[page_base(pfn) + PAGE._count];
const on_lru = () => i32[BASES.zone + ZONE.nr_active] + i32[BASES.zone + ZONE.nr_inactive];

/** reclaim the page at pte `slot` until the pte holds its swap entry and the page has left the swap cache (each pass drains first, as shrink_inactive_list does; the write completes between passes) */
function swap_out(slot: number): void {
  for (let k = 0; k < 8; k++) {
    const pte = i32[slot];
    const p = pte_present(pte) ? pte_pfn(pte) : is_swap_pte(pte) ? lookup_swap_cache(pte_to_swp_entry(pte)) : 0;
    if (p === 0) break;
    if (!pte_present(pte)) put_page(p); // lookup_swap_cache's reference
    lru_add_drain();
    if (isolate_lru_page(p) !== 0) break;
    shrink_page_list(p);
    blk_drain();
  }
  expect(is_swap_pte(i32[slot])).toBe(true);
  expect(lookup_swap_cache(pte_to_swp_entry(i32[slot]))).toBe(0);
}

describe('per-CPU LRU pagevecs', () => {
  it('a faulted page waits in this CPU\'s pagevec with its reference, not PG_lru; lru_add_drain puts it on the LRU', () => {
    boot({}, 0, E2);
    const { pfn } = parent(3);
    const pages = [pfn(0), pfn(1), pfn(2)];
    expect(pagevec_pages(0)).toEqual(pages);
    for (const p of pages) {
      expect(flags(p) & PG_lru).toBe(0);
      expect(count(p)).toBe(2); // the pte's and the pagevec's
    }
    expect(on_lru()).toBe(0);
    expect(check_invariants()).toEqual([]); // the sweep counts the pagevec's reference
    lru_add_drain();
    expect(pagevec_pages(0)).toEqual([]);
    for (const p of pages) {
      expect(flags(p) & PG_lru).toBe(PG_lru);
      expect(count(p)).toBe(1);
    }
    expect(on_lru()).toBe(3);
    expect(check_invariants()).toEqual([]);
  });

  it('the PAGEVEC_SIZE-th page takes the whole pagevec onto the LRU at once', () => {
    boot({}, 0, E2);
    const { pfn } = parent(PAGEVEC_SIZE + 1);
    for (let p = 0; p < PAGEVEC_SIZE; p++) expect(flags(pfn(p)) & PG_lru).toBe(PG_lru);
    expect(pagevec_pages(0)).toEqual([pfn(PAGEVEC_SIZE)]);
    expect(on_lru()).toBe(PAGEVEC_SIZE);
    expect(check_invariants()).toEqual([]);
  });

  it('lru_add_drain_all drains another CPU\'s pagevec; lru_add_drain only this CPU\'s', () => {
    boot({ nr_cpus: 2 }, 0, E2);
    set_current_cpu(1, 1);
    const { pfn } = parent(2);
    set_current_cpu(0, 1);
    expect(pagevec_pages(1)).toEqual([pfn(0), pfn(1)]);
    lru_add_drain();
    expect(pagevec_pages(1)).toEqual([pfn(0), pfn(1)]);
    lru_add_drain_all();
    expect(pagevec_pages(1)).toEqual([]);
    expect(flags(pfn(1)) & PG_lru).toBe(PG_lru);
    expect(check_invariants()).toEqual([]);
  });

  it('sys_move_pages migrates a page still in another CPU\'s pagevec (migrate_prep drains it first)', () => {
    boot({ nr_cpus: 2 }, 0, E2);
    set_current_cpu(1, 1);
    const { mm, pfn, sh } = parent(2);
    set_current_cpu(0, 1);
    const old = pfn(0);
    const list = new Int32Array(2);
    expect(do_move_pages(mm, Int32Array.of(BASE), 1, false, list)).toBe(0);
    expect(pfn(0)).not.toBe(old);
    expect(sh.check(0, 0)).toBe(true); // the data moved with the page
    // the old page went back through CPU 0's pagevec and is freed when it drains
    lru_add_drain();
    expect(check_invariants()).toEqual([]);
  });

  it('2.6.16: isolate_lru_page drains every CPU on a miss (no migrate_prep yet); 2.6.18\'s misses', () => {
    for (const era of [E1, E2]) {
      boot({ nr_cpus: 2 }, 0, era);
      set_current_cpu(1, 1);
      const { pfn } = parent(1);
      set_current_cpu(0, 1);
      expect(isolate_lru_page(pfn(0))).toBe(era === E1 ? 0 : -16);
      expect(pagevec_pages(1)).toEqual(era === E1 ? [] : [pfn(0)]);
    }
  });

  it('the sweep catches a page that is in a pagevec and on the LRU (I-LRU) and a pagevec\'s lost reference (I-REF)', () => {
    boot({}, 0, E2);
    const { pfn } = parent(2);
    lru_cache_add_active(pfn(0)); // added twice: the kernel's __pagevec_lru_add would BUG at the drain
    let v = check_invariants();
    expect(v.some((s) => /I-LRU: pfn \d+ is in CPU 0's pagevec and in CPU 0's/.test(s))).toBe(true);
    boot({}, 0, E2);
    const f = parent(1);
    i32[page_base(f.pfn(0)) + PAGE._count] -= 1; // a put_page too many: the pagevec's reference is gone
    v = check_invariants();
    expect(v).toEqual([expect.stringMatching(/I-REF: pfn \d+: count 1 but 1 ptes \+ a pagevec refer to it/)]);
  });

  it('E0 (2.6.6 in the model) adds at once: no page waits', () => {
    boot({}, 0, E0);
    const p = alloc_page();
    lru_cache_add_active(p);
    expect(pagevec_pages(0)).toEqual([]);
    expect(flags(p) & PG_lru).toBe(PG_lru);
  });

  it('a swap-in fault drains this CPU\'s pagevecs first (swapin_readahead), its own page then waits there; swapoff drains at its close', () => {
    boot({}, 0, E2);
    expect(sys_swapon(8, 0)).toBe(0);
    const { sh, slot, pfn } = parent(2);
    swap_out(slot(0));
    lru_add_drain();
    const other = parent(1); // a new page waits in CPU 0's pagevec
    expect(pagevec_pages(0)).toEqual([other.pfn(0)]);
    expect(sh.check(0, 0)).toBe(true); // the swap-in fault
    expect(flags(other.pfn(0)) & PG_lru).toBe(PG_lru); // drained by the fault's swapin_readahead
    expect(pagevec_pages(0)).toEqual([pfn(0)]); // the swapped-in page, added after the drain
    expect(check_invariants()).toEqual([]);
    // out again, then swapoff brings it back in (try_to_unuse): on the LRU when sys_swapoff returns
    swap_out(slot(0));
    expect(sys_swapoff(0)).toBe(0);
    expect(is_swap_pte(i32[slot(0)])).toBe(false);
    expect(pagevec_pages(0)).toEqual([]);
    expect(flags(pfn(0)) & PG_lru).toBe(PG_lru);
    expect(sh.check(0, 0)).toBe(true);
    expect(check_invariants()).toEqual([]);
  });

  it('reclaim puts a page it keeps straight back on its LRU list, not through the pagevec', () => {
    boot({}, 0, E2);
    const { pfn } = parent(1);
    lru_add_drain();
    const p = pfn(0);
    expect(isolate_lru_page(p)).toBe(0);
    expect(shrink_page_list(p)).toBe(PAGEOUT_ACTIVATED); // its pte is young: referenced, so activated
    expect(pagevec_pages(0)).toEqual([]);
    expect(flags(p) & (PG_lru | PG_active)).toBe(PG_lru | PG_active);
    expect(count(p)).toBe(1); // the isolation reference went
    expect(check_invariants()).toEqual([]);
  });
});
