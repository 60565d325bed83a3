// do_swap_page's back-out when read_swap_cache_async gives it no page: "if
// the pte is still what we faulted on, we are out of memory" (VM_FAULT_OOM).
// pte_same cannot see an ABA: the slot freed (the page came back into the
// pte and left the swap cache) and handed out again, to the same page, which
// is unmapped into the same entry value while the fault slept. The fault
// then returns VM_FAULT_OOM with memory to spare: an OOM kill, or -ENOMEM
// from get_user_pages. A race of every era's do_swap_page, not a seed's: a
// kernel's swap device is so large that a lap of its slots outlasts any
// sleep, but a small device laps in microseconds under E1's migration (every
// anon page it moves takes a slot and frees it). It was met once in CI by
// dio-migration-refcount's fixed E1 run, whose device is therefore as large
// as the model allows. Steps are placed with the preemption hook on one CPU.
import { describe, expect, it } from 'vitest';
import { set_preempt_hooks } from '../src/sync/preempt.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { LC_MMAP_SEM } from '../src/sync/lock_class.js';
import { trylock_page, unlock_page } from '../src/sync/page_lock.js';
import { E1 } from '../src/shm/era.js';
import { BASES, i32 } from '../src/shm/machine.js';
import { USER_PAGES, ZONE } from '../src/shm/layout.js';
import { mm_mmap_sem, page_private } from '../src/mm/mm_types.js';
import { fault_oom, get_user_pages } from '../src/mm/memory.js';
import { migrate_pages } from '../src/mm/migrate.js';
import { try_to_unmap } from '../src/mm/rmap.js';
import { add_to_swap, swapper_tree_lock } from '../src/mm/swap_state.js';
import { isolate_lru_page } from '../src/mm/swap.js';
import { sys_swapon } from '../src/mm/swapfile.js';
import { pte_lockptr, pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present } from '../src/mm/pgtable.js';
import { pte_to_swp_entry } from '../src/mm/swapops.js';
import { BASE, boot, parent } from './helpers.js';

/** get_user_pages of the page at BASE, as the direct I/O does (mmap_sem for read around it); its return */
function gup(mm: number, pages: Int32Array): number {
  down_read(mm_mmap_sem(mm), LC_MMAP_SEM);
  try {
    return get_user_pages(mm, BASE, 1, false, pages);
  } finally {
    up_read(mm_mmap_sem(mm));
  }
}

/** lock the page, give it a swap slot, unmap its pte into a swap pte of that slot: a 2.6.16 migration's first steps */
function unmap_to_swap(page: number): number {
  expect(trylock_page(page)).toBe(true);
  expect(add_to_swap(page)).toBe(true);
  try_to_unmap(page, false, true);
  unlock_page(page);
  return page_private(page);
}

describe('do_swap_page\'s VM_FAULT_OOM back-out and a reused swap entry (E1)', () => {
  it('the slot freed and given out again to the same pte while the fault slept: -ENOMEM with memory free, and the report says why', () => {
    boot({}, 0, E1);
    sys_swapon(2, 0); // one usable slot: every add_to_swap hands out the same entry value
    const { mm, pfn } = parent(1);
    const x = pfn(0);
    const table = pte_table(mm, BASE);
    const slot = pte_offset(table, BASE);
    const pte = () => Atomics.load(i32, slot);
    const e = unmap_to_swap(x); // x in the swap cache, the pte a swap pte (a migration that backed out leaves this)
    expect(is_swap_pte(pte()) && pte_to_swp_entry(pte()) === e).toBe(true);
    let stage = 0, busy = false, moved = 0;
    set_preempt_hooks((_kind, object) => {
      if (busy) return;
      busy = true;
      try {
        if (stage === 0 && object === swapper_tree_lock()) {
          // the fault has read its pte (swap entry e) and looks e up: a migration completes first,
          // x's slot to a new page, the pte back to it (remove_from_swap), the slot freed
          stage = 1;
          expect(isolate_lru_page(x)).toBe(0);
          const list = new Int32Array(USER_PAGES);
          list[0] = x;
          expect(migrate_pages(list, 1)).toBe(0); // the faulter's mmap_sem covers it (held on this CPU)
          expect(pte_present(pte())).toBe(true);
          moved = pte_pfn(pte());
        } else if (stage === 1 && object === pte_lockptr(table)) {
          // read_swap_cache_async found e free and gave up; before the back-out's PTL, the next
          // migration of the page takes the only slot again and unmaps the pte into e once more
          stage = 2;
          expect(unmap_to_swap(moved)).toBe(e);
        }
      } finally {
        busy = false;
      }
    }, null);
    const pages = new Int32Array(1);
    const n = gup(mm, pages);
    set_preempt_hooks(null, null);
    expect(stage).toBe(2);
    expect(n).toBe(-12); // -ENOMEM
    expect(i32[BASES.zone + ZONE.nr_free]).toBeGreaterThan(100); // memory was never short
    expect(fault_oom.at).toMatch(/^do_swap_page: read_swap_cache_async\(entry 0x[0-9a-f]+\) returned no page \(the slot is no longer in use: swap_duplicate failed\) and the pte still holds the entry; the slot is in use again \(swap_map 2\): freed and given out anew while the fault slept/);
    // the pte was sound all along: the same access, tried again, finds the page in the swap cache
    expect(gup(mm, pages)).toBe(1);
    expect(pages[0]).toBe(moved);
  });
});

