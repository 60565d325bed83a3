// mm/page_vma_mapped.c (4.14), the part seed 004 changed: find the pte that
// maps a page in one vma and return it with its PTL held. From 4.14 the
// rmap walkers use it instead of page_check_address; the model uses it for
// ZONE_DEVICE pages (try_to_unmap_one's device hunk), whose "mapping" is a
// device-private entry, not a present pte. One pte per page (no THP).
import { VMA } from '../shm/layout.js';
import { i32 } from '../shm/machine.js';
import { LC_PTL } from '../sync/lock_class.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { vma_address, vma_field } from './mm_types.js';
import { pte_lockptr, pte_offset, pte_table } from './pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present } from './pgtable.js';
import { device_private_entry_to_page, is_device_private_entry, is_migration_entry, pte_to_swp_entry, swp_offset } from './swapops.js';

/** page_vma_mapped_walk flags */
export const PVMW_MIGRATION = 1 << 1;

/** what the last walk found (module state, read right after the call): its address and the PTL it holds */
export const pvmw = { address: 0, ptl: 0 };

/** check_pte: does the pte at `slot` map `pfn` in the way the walk looks for? (caller holds the PTL) */
function check_pte(slot: number, pfn: number, flags: number): boolean {
  const pte = Atomics.load(i32, slot);
  if ((flags & PVMW_MIGRATION) !== 0) {
    if (!is_swap_pte(pte)) return false;
    const entry = pte_to_swp_entry(pte);
    if (!is_migration_entry(entry)) return false;
    return swp_offset(entry) === pfn; // migration_entry_to_page, without its lock assertion (the walker holds the page lock)
  }
  // seed 004: a device-private entry of this page maps it too
  if (is_swap_pte(pte)) {
    const entry = pte_to_swp_entry(pte);
    if (is_device_private_entry(entry) && device_private_entry_to_page(entry) === pfn) return true;
  }
  if (!pte_present(pte)) return false;
  return pte_pfn(pte) === pfn;
}

/**
 * page_vma_mapped_walk: the slot of the pte that maps `pfn` in `vma` (as
 * check_pte decides), with its PTL taken (pvmw.ptl, pvmw.address), or -1.
 * Caller holds the page lock and the rmap lock of the walk; the first look
 * at the pte is unlocked (map_pte), check_pte's under the PTL.
 */
export function page_vma_mapped_walk(pfn: number, vma: number, flags = 0): number {
  const addr = vma_address(pfn, vma);
  if (addr < 0) return -1;
  const table = pte_table(vma_field(vma, VMA.vm_mm), addr);
  if (table === 0) return -1;
  const slot = pte_offset(table, addr);
  // map_pte (4.14): an unlocked look first (no PVMW_SYNC in the model): a migration walk wants a swap pte, any
  // other walk a present one, so a device-private entry is never found by a non-migration walk (try_to_unmap
  // for migrate_vma_unmap); 4.19's "mm/rmap: map_pte() was not handling private ZONE_DEVICE page properly"
  // (Aug 2018) let swap ptes through for device-private pages
  const seen = Atomics.load(i32, slot);
  if ((flags & PVMW_MIGRATION) !== 0 ? !is_swap_pte(seen) : !pte_present(seen)) return -1;
  const ptl = pte_lockptr(table);
  spin_lock(ptl, LC_PTL);
  if (!check_pte(slot, pfn, flags)) { spin_unlock(ptl); return -1; }
  pvmw.address = addr;
  pvmw.ptl = ptl;
  return slot;
}
