// swapin-swapoff-race: a whole swapoff and swapon pass under one swap-in fault,
// and the entry value the fault read is given out again (5.14's get_swap_device
// closes it). The interleaving is placed on one CPU: the fault's own preemption
// points run the other CPU's steps (swapoff, swapon, reclaim) at the moment
// the race needs them.
import { afterEach, describe, expect, it } from 'vitest';
import { boot, parent, BASE } from './helpers.js';
import { ACCESS_OK, ACCESS_OOM, mmu, user_access } from '../src/cpu/mmu.js';
import { isolate_lru_page, lru_add_drain, put_page } from '../src/mm/swap.js';
import { lookup_swap_cache } from '../src/mm/swap_state.js';
import { pte_to_swp_entry } from '../src/mm/swapops.js';
import { blk_drain } from '../src/cpu/io.js';
import { is_swap_pte, pte_pfn, pte_present } from '../src/mm/pgtable.js';
import { BASES, i32 } from '../src/shm/machine.js';
import { SWAPG, SWAP_INFO } from '../src/shm/layout.js';
import { pte_lockptr, pte_table } from '../src/mm/pagewalk.js';
import { get_swap_device, get_swap_page, put_swap_device, swap_free, swap_info_base, sys_swapoff, sys_swapon } from '../src/mm/swapfile.js';
import { swp_offset } from '../src/mm/swapops.js';
import { shrink_page_list } from '../src/mm/vmscan.js';
import { PP_LOCK_ACQUIRE, set_preempt_hooks } from '../src/sync/preempt.js';
import { SW_SWAPIN_NO_ENTRY_RECHECK, SW_SWAPIN_SWAPOFF_RACE } from '../src/shm/switches.js';
import { copy_mm } from '../src/mm/fork.js';
import { PAGE } from '../src/shm/layout.js';
import { page_base } from '../src/shm/machine.js';
import { E0, E2 } from '../src/shm/era.js';

const users = () => Atomics.load(i32, swap_info_base(0) + SWAP_INFO.users);

/** the swap-cache page of a swap pte, or 0 (no reference kept) */
function cached(pte: number): number {
  if (!is_swap_pte(pte)) return 0;
  const pfn = lookup_swap_cache(pte_to_swp_entry(pte));
  if (pfn !== 0) put_page(pfn);
  return pfn;
}

/** reclaim the page at pte `slot` until the pte holds a swap entry and the page has left the swap cache (the I/O completed between passes); returns the pte */
function swap_out(slot: number): number {
  for (let k = 0; k < 8 && (!is_swap_pte(Atomics.load(i32, slot)) || cached(Atomics.load(i32, slot)) !== 0); k++) {
    const pte = Atomics.load(i32, slot);
    let pfn = pte_present(pte) ? pte_pfn(pte) : 0;
    if (pfn === 0 && is_swap_pte(pte)) { pfn = lookup_swap_cache(pte_to_swp_entry(pte)); if (pfn !== 0) put_page(pfn); }
    lru_add_drain(); // each pass is a shrink_inactive_list's (E1/E2: a new or kept page waits in this CPU's pagevec)
    if (pfn === 0 || isolate_lru_page(pfn) !== 0) break;
    shrink_page_list(pfn);
    blk_drain();
  }
  const pte = Atomics.load(i32, slot);
  expect(is_swap_pte(pte), 'the page went out to swap').toBe(true);
  expect(cached(pte), 'and left the swap cache').toBe(0);
  return pte;
}

/**
 * The fault reads the pte (entry X), misses the swap cache and reads X in. At
 * its first swap_lock (swap_duplicate of X) another CPU runs a whole swapoff
 * (the pte gets the page back, X is freed) and a swapon; at its next lock (the
 * PTL of the back-out) that CPU reclaims the page again, to X once more. The
 * steps run only if the device is free to go (buggy); returns what the fault
 * saw and whether the other CPU's swapoff ran.
 */
function placed_race(era: number, bugs: number) {
  boot({}, bugs, era);
  expect(sys_swapon(8, 0)).toBe(0);
  const p = parent(1);
  const x = swap_out(p.slot(0));
  let step = 0, swapoff_ran = false, held = -1;
  const swap_lock = BASES.swapg + SWAPG.swap_lock, ptl = pte_lockptr(pte_table(p.mm, BASE));
  const hook = (kind: number, object: number): void => {
    if (kind !== PP_LOCK_ACQUIRE || step >= 2 || object !== (step === 0 ? swap_lock : ptl)) return;
    const s = ++step;
    set_preempt_hooks(null, null); // the other CPU's steps run without the hook
    try {
      if (s === 1) {
        held = users();
        if (held === 0) { // nothing holds the device: swapoff and swapon complete under the fault
          expect(sys_swapoff(0)).toBe(0);
          swapoff_ran = true;
          expect(sys_swapon(8, 0)).toBe(0);
          expect(pte_present(Atomics.load(i32, p.slot(0)))).toBe(true);
        }
      } else if (swapoff_ran) {
        expect(swap_out(p.slot(0))).toBe(x); // the same entry value, from the new device
      }
    } finally {
      set_preempt_hooks(hook, null);
    }
  };
  set_preempt_hooks(hook, null);
  user_access(p.mm, BASE, 0, false, 0);
  set_preempt_hooks(null, null);
  return { status: mmu.status, swapoff_ran, held, steps: step, users: users() };
}

describe('scan_swap_map', () => {
  it('hands the slots out round the device: past highest_bit it goes back to lowest_bit, never the slot just freed again', () => {
    boot({}, 0, E2);
    expect(sys_swapon(8, 0)).toBe(0); // slots 1..7
    const offs: number[] = [];
    for (let k = 0; k < 16; k++) {
      const e = get_swap_page();
      offs.push(swp_offset(e));
      swap_free(e); // one entry in use at a time, as one migrator's passes use them
    }
    expect(offs).toEqual([1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 1, 2]);
  });
});

describe('swapin-swapoff-race', () => {
  afterEach(() => set_preempt_hooks(null, null));

  it('get_swap_device holds a device until put; swapoff kills it; swapon brings it back', () => {
    boot({}, 0, E2);
    expect(sys_swapon(8, 0)).toBe(0);
    expect(get_swap_device(1 << 27)).toBe(-2); // a type no device ever had: no reference, the era's checks report it
    const p = parent(1);
    const x = pte_to_swp_entry(swap_out(p.slot(0)));
    expect(get_swap_device(x)).toBe(0);
    expect(users()).toBe(1);
    put_swap_device(0);
    expect(users()).toBe(0);
    expect(sys_swapoff(0)).toBe(0); // nothing holds it: the wait is over at once
    expect(get_swap_device(x)).toBe(-1); // killed: a fault backs out
    expect(sys_swapon(8, 0)).toBe(0);
    expect(get_swap_device(x)).toBe(0);
    put_swap_device(0);
  });

  for (const era of [E0, E2]) {
    it(`buggy (${era === E0 ? '2.6.6' : '2.6.18'} as released): swapoff and swapon pass under the fault, the entry comes back, and the back-out reads VM_FAULT_OOM`, () => {
      const r = placed_race(era, SW_SWAPIN_SWAPOFF_RACE);
      expect(r.held).toBe(0);
      expect(r.swapoff_ran).toBe(true);
      expect(r.steps).toBe(2);
      expect(r.status).toBe(ACCESS_OOM); // the task would be killed
    });

    it(`fixed (5.14's get_swap_device) in ${era === E0 ? 'E0' : 'E2'}: the fault holds the device at the same point, so no swapoff can complete under it, and the load succeeds`, () => {
      const r = placed_race(era, 0);
      expect(r.held).toBe(1); // swapoff would wait here for the fault's put_swap_device
      expect(r.swapoff_ran).toBe(false);
      expect(r.status).toBe(ACCESS_OK);
      expect(r.users).toBe(0); // put at the end of the fault
    });
  }

  /**
   * The other half, after lock_page (2.6.32's recheck, seed 000's swapin-entry-reuse): the fault finds the
   * swap-cache page Q of entry X (shared with a child) and, at its lock_page(Q), another CPU runs swapoff (Q
   * leaves the cache, both ptes map it), swapon, the parent's store (a COW: the parent's pte gets a copy with
   * the new value) and reclaim of that copy, to X once more. pte_same passes; without the recheck the fault
   * maps Q, whose data is stale. Both runs leave out 5.14's device reference, which would keep that swapoff
   * from completing at all.
   */
  function placed_stale(bugs: number) {
    boot({}, bugs | SW_SWAPIN_SWAPOFF_RACE, E2);
    expect(sys_swapon(8, 0)).toBe(0);
    const p = parent(1);
    const child = copy_mm(p.mm);
    user_access(p.mm, BASE, 1, false, 0);
    // reclaim once: the pte goes to swap, the page Q stays in the swap cache until the next pass
    const q = p.pfn(0);
    for (let k = 0; k < 8 && !is_swap_pte(Atomics.load(i32, p.slot(0))); k++) {
      lru_add_drain(); // as swap_out's passes
      if (isolate_lru_page(q) !== 0) break;
      shrink_page_list(q);
      blk_drain();
    }
    const x = Atomics.load(i32, p.slot(0));
    expect(is_swap_pte(x)).toBe(true);
    expect(cached(x)).toBe(q);
    const old = user_access(child, BASE, 0, false, 0); // the child's copy of word 0 (faults Q back into the child only)
    let done = false;
    const hook = (kind: number, object: number): void => {
      if (done || kind !== PP_LOCK_ACQUIRE || object !== page_base(q) + PAGE.flags) return;
      done = true;
      set_preempt_hooks(null, null);
      expect(sys_swapoff(0)).toBe(0);
      expect(sys_swapon(8, 0)).toBe(0);
      user_access(p.mm, BASE, 0, true, old + 1); // the parent's store: a COW, the copy holds the new value
      expect(p.pfn(0)).not.toBe(q);
      expect(swap_out(p.slot(0))).toBe(x); // the copy goes out to the same entry value
    };
    set_preempt_hooks(hook, null);
    const v = user_access(p.mm, BASE, 0, false, 0);
    set_preempt_hooks(null, null);
    expect(done).toBe(true);
    return { v, old, mapped_q: p.pfn(0) === q };
  }

  it('without the recheck (2.6.18 as released) pte_same passes after swapoff, swapon, a COW and reclaim: the stale page is mapped', () => {
    const r = placed_stale(SW_SWAPIN_NO_ENTRY_RECHECK);
    expect(r.mapped_q).toBe(true);
    expect(r.v).toBe(r.old); // the parent's store is lost
  });

  it("with 2.6.32's recheck the page is no longer the cache page of X: the fault backs out and reads the store", () => {
    const r = placed_stale(0);
    expect(r.mapped_q).toBe(false);
    expect(r.v).toBe(r.old + 1);
  });
});
