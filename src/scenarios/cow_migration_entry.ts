// Seed 000, copy_one_pte: "the second arg to make_migration_entry is a
// boolean write, and SWP_MIGRATION_READ is 30". Buggy: fork meeting a
// migration entry in a COW mapping rewrites it as a WRITE entry in the
// parent and copies that to the child; when the migration ends both ptes
// come back writable on one page, and parent and child see each other's
// stores. Caught as data: the child sees the parent's store (or the parent
// the child's), and the end-of-run sweep finds a writable COW-shared pte.
import { cycle_roles, family_setup, run_family } from './family.js';
import type { CpuContext, Scenario } from './types.js';
import { WIN_COPY_MIGRATION_COW } from '../cpu/windows.js'; // cov

const roles = cycle_roles(['migrator', 'forker', 'toucher'], ['toucher', 'migrator', 'forker']);

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'forker', 'solo'], roles);
}

export const cowMigrationEntry: Scenario = {
  name: 'cow-migration-entry',
  title: 'fork copies a migration entry as WRITE: a COW page left writable in parent and child',
  patch: '000_f600569768ae13bb',
  switches: ['migration-read-as-bool'],
  windows: [WIN_COPY_MIGRATION_COW], // cov: src/cpu/windows.ts
  description: 'copy_one_pte calls make_migration_entry(page, SWP_MIGRATION_READ); 30 is a true `write`',
  expect_buggy: 'user data: COW leak between parent and child (or a writable COW-shared pte at the end)',
  signature: /COW leak|writable pte to COW-shared pfn/,
  sizes: { nr_pages: 1024, nr_mm: 64, nr_vma: 256 },
  roles,
  setup: () => family_setup(16, 0, 16, 0),
  run,
};
