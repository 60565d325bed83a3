// Seed 000, do_swap_page: migration entries are swap ptes of the two top
// types. Buggy: a fault on a page under migration takes the swap-in path:
// the entry goes into the swap cache and is read from "swap type 30", a
// device that does not exist (in the kernel, swap_info[] past its end).
import { cycle_roles, family_setup, run_family } from './family.js';
import type { CpuContext, Scenario } from './types.js';

const roles = cycle_roles(['migrator', 'toucher'], ['toucher', 'migrator']);

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'solo'], roles);
}

export const swapFaultMigrationEntry: Scenario = {
  name: 'swap-fault-on-migration-entry',
  title: 'a fault on a page under migration treats the migration entry as a swap entry',
  seed: '000_f600569768ae13bb',
  switches: ['swap-fault-on-migration-entry'],
  description: 'do_swap_page lacks the is_migration_entry -> migration_entry_wait branch',
  expect_buggy: 'Read-error on swap-device: swap-in from type 30/31, which is no device',
  sizes: { nr_pages: 1024, nr_mm: 16, nr_vma: 64 },
  roles,
  setup: () => family_setup(16, 2, 8),
  run,
};
