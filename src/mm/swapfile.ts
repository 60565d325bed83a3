// The parts of mm/swapfile.c that page-table code calls on every swap pte.
// Since seed 000 they must leave migration entries alone: those carry a
// pfn, not a swap slot, and hold no swap_map count.
import { OOPS_ERROR, fail } from '../check/bug.js';
import { is_migration_entry, swp_offset, swp_type } from './swapops.js';

/** number of swap devices switched on; the swap subsystem proper comes with swapon */
export const nr_swapfiles = 0;

function bad_swap_entry(fn: string, entry: number): never {
  fail(OOPS_ERROR, `${fn}: Bad swap file entry ${(entry >>> 0).toString(16).padStart(8, '0')} (type ${swp_type(entry)} offset ${swp_offset(entry)})`);
}

/** swap_duplicate: one more pte refers to this swap entry; returns 1 on success */
export function swap_duplicate(entry: number): number {
  if (is_migration_entry(entry)) return 1;
  if (swp_type(entry) >= nr_swapfiles) bad_swap_entry('swap_dup', entry);
  return 0;
}

/** free_swap_and_cache: a pte referring to this entry went away */
export function free_swap_and_cache(entry: number): void {
  if (is_migration_entry(entry)) return;
  if (swp_type(entry) >= nr_swapfiles) bad_swap_entry('swap_free', entry);
}
