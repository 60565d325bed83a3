// Seed 000, do_swap_page: migration entries are swap ptes of the two top
// types. Buggy: a fault on a page under migration takes the swap-in path:
// the entry goes into the swap cache and its read is submitted to "swap
// type 30": get_swap_bio indexes swap_info[30], past the end of the array
// (MAX_SWAPFILES is 30). mmrace's bounds checker reports that access; 2.6.18
// had nothing that would, it went on with whatever lay after the array.
// The migrator moves a sibling's pages, still shared with the parent, whose
// program reads them.
import { cycle_roles, family_setup, run_family } from './family.js';
import type { CpuContext, Scenario } from './types.js';
import { WIN_SWAP_FAULT_MIGRATION } from '../cpu/windows.js'; // cov

const roles = cycle_roles(['migrator', 'toucher'], ['toucher', 'migrator']);

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'solo'], roles);
}

export const swapFaultMigrationEntry: Scenario = {
  name: 'swap-fault-on-migration-entry',
  title: 'a fault on a page under migration treats the migration entry as a swap entry',
  patch: '000_f600569768ae13bb',
  switches: ['swap-fault-on-migration-entry'],
  windows: [WIN_SWAP_FAULT_MIGRATION], // cov: src/cpu/windows.ts
  description: 'do_swap_page lacks the is_migration_entry -> migration_entry_wait branch',
  expect_buggy: 'mmrace: out-of-bounds read of swap_info[30] (or [31]) in swap_readpage',
  // 2.6.18 indexes swap_info[30/31] past the array; mmrace's bounds checker reports that first access
  signature: /^mmrace: out-of-bounds read of swap_info\[3[01]\] in swap_readpage/,
  sizes: { nr_pages: 1024, nr_mm: 16, nr_vma: 64 },
  roles,
  setup: () => family_setup(16, 2, 8),
  run,
};
