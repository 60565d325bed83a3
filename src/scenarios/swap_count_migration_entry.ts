// Seed 000, swap_duplicate and free_swap_and_cache: fork copies every swap
// pte with swap_duplicate, and exit drops each with free_swap_and_cache.
// Buggy: they treat a migration entry (type 30/31) as a swap slot and print
// "Bad swap file entry": fork or exit racing a migration.
import { cycle_roles, family_setup, run_family } from './family.js';
import type { CpuContext, Scenario } from './types.js';
import { WIN_COPY_MIGRATION_ENTRY } from '../cpu/windows.js'; // cov

const roles = cycle_roles(['migrator', 'forker'], ['toucher', 'migrator', 'forker']);

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'forker', 'solo'], roles);
}

export const swapCountMigrationEntry: Scenario = {
  name: 'swap-count-on-migration-entry',
  title: 'fork and exit count a migration entry as a swap slot',
  patch: '000_f600569768ae13bb',
  switches: ['swap-count-on-migration-entry'],
  windows: [WIN_COPY_MIGRATION_ENTRY], // cov: src/cpu/windows.ts
  description: 'swap_duplicate / free_swap_and_cache lack the is_migration_entry early returns',
  expect_buggy: 'swap_dup: Bad swap file entry (or swap_free: ...) for a type-30/31 entry',
  signature: /swap_(dup|free): Bad swap file entry [0-9a-f]{8}/,
  sizes: { nr_pages: 1024, nr_mm: 64, nr_vma: 256 },
  roles,
  setup: () => family_setup(32, 2, 16),
  run,
};
