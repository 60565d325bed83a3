// Seed 000, anon_vma list order: fork racing swapless migration leaves a
// migration entry in the child that nobody will ever remove.
//
// A parent with two long-lived forked siblings shares one anon_vma. CPUs:
//  - migrator: migrates pages mapped by the parent, compaction-style (no
//    mmap_sem, the anon_vma pinned), "recklessly while running load";
//  - forker: forks the parent, runs the child (it reads every page, writes
//    some) and exits it;
//  - toucher: the parent's own program, storing and checking its data.
// Buggy (list_add): the child vma sits before its parent on the anon_vma
// list, so remove_migration_ptes can pass the child (pte still empty) before
// copy_pte_range copies the parent's migration entry into it. The child then
// keeps an entry to an old page that is unlocked and freed: its next fault
// hits BUG_ON(!PageLocked) in migration_entry_to_page, or the next migration
// walking the list does.
import { cycle_roles, family_setup, run_family } from './family.js';
import type { CpuContext, Scenario } from './types.js';
import { WIN_COPY_MIGRATION_ENTRY, WIN_REMOVE_PTE_CHILD_EMPTY } from '../cpu/windows.js'; // cov

const roles = cycle_roles(['migrator', 'forker', 'toucher'], ['migrator', 'toucher', 'forker']);

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'forker', 'solo'], roles);
}

export const orphanedMigrationEntry: Scenario = {
  name: 'orphaned-migration-entry',
  title: 'fork racing swapless migration leaves an orphaned migration entry',
  patch: '000_f600569768ae13bb',
  switches: ['anon-vma-list-head'],
  windows: [WIN_COPY_MIGRATION_ENTRY, WIN_REMOVE_PTE_CHILD_EMPTY], // cov: src/cpu/windows.ts
  description: 'anon_vma_link adds the child vma at the head of the anon_vma list (list_add); ' +
    'remove_migration_ptes passes the child before fork copies the parent\'s migration entry into it',
  expect_buggy: 'kernel BUG: BUG_ON(!PageLocked(p)) in migration_entry_to_page',
  // the kernel's BUG where it catches the orphan, or the exit-time check when no fault reaches it first
  signature: /BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page|orphaned migration entry/,
  sizes: { nr_pages: 1024, nr_mm: 64, nr_vma: 256 },
  roles,
  // PCT on 2 CPUs: the measured window (the whole run, ~620 decisions) finds it 16 times in 7,500 runs (seeds 1-15), k 400 29 in 3,000
  pct_k: 400,
  setup: () => family_setup(32, 6, 8),
  run,
};
