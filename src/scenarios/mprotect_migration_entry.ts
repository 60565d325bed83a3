// Seed 000, change_pte_range: before the patch, mprotect only looked at
// present ptes. Buggy: a page under migration has a WRITE migration entry;
// mprotect(PROT_READ) passes it by; when the migration ends,
// remove_migration_pte restores a writable pte in a now read-only vma, and
// the program's next store succeeds where it must get SIGSEGV.
//
// Under 2.6.18's locking the write entry must be in an mm whose mmap_sem the
// migrator does not hold (mprotect takes it for write): the page is a
// MAP_SHARED file page, writable in the parent and in its children alike;
// the migrator moves a child's pages (sys_migrate_pages, MPOL_MF_MOVE_ALL)
// holding only the child's mmap_sem, and the parent's pte becomes a write
// entry too. An anonymous page writable in one mm is mapped by that mm only,
// so its migrator would hold the very mmap_sem mprotect needs.
import { PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import { prandom_below } from '../cpu/current.js';
import { ACCESS_OK, ACCESS_SEGV, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { PROT_READ, PROT_WRITE } from '../mm/mm_types.js';
import { sys_mprotect } from '../mm/mprotect.js';
import { BASE, Family, cycle_roles, family_setup, must, run_family, set_path } from './family.js';
import { EV_MPROTECT, SP_MPROTECT, span_begin, span_end } from '../cpu/events.js';
import type { CpuContext, Scenario } from './types.js';
import { WIN_MPROTECT_WRITE_MIGRATION } from '../cpu/windows.js'; // cov

const roles = cycle_roles(['migrator', 'protector', 'forker'], ['migrator', 'forker']);

/** the parent's program: write everything, make it read-only, expect every store to fault, make it writable again */
function protect_round(f: Family): void {
  set_path(EV_MPROTECT);
  const sh = f.shadow!;
  const len = f.npages * PAGE_SIZE;
  for (const p of f.mine) must(sh.store(p, p % WORDS_PER_PAGE), 'parent store');
  // verify the data before freezing it
  switch_mm(f.parent);
  for (let k = 0; k < 4; k++) for (const p of f.mine) must(sh.check(p, p % WORDS_PER_PAGE), 'parent load');
  switch_mm(0);
  span_begin(SP_MPROTECT);
  const ro = sys_mprotect(f.parent, BASE, len, PROT_READ);
  span_end(SP_MPROTECT);
  if (ro !== 0) fail(OOPS_SHADOW, 'user program: mprotect(PROT_READ) failed');
  switch_mm(f.parent);
  for (let round = 0; round < 3; round++) {
    for (const p of f.mine) {
      const addr = BASE + p * PAGE_SIZE;
      user_access(f.parent, addr, 7, true, 0x0bad0bad);
      if (mmu.status === ACCESS_OK) {
        fail(OOPS_SHADOW, `user program: store to 0x${addr.toString(16)} succeeded after mprotect(PROT_READ) returned (expected SIGSEGV)`, 0, f.parent, addr);
      }
      if (mmu.status !== ACCESS_SEGV) must(false, 'store to a read-only page');
      must(sh.check(p, p % WORDS_PER_PAGE), 'parent load');
    }
  }
  switch_mm(0);
  span_begin(SP_MPROTECT);
  const rw = sys_mprotect(f.parent, BASE, len, PROT_READ | PROT_WRITE);
  span_end(SP_MPROTECT);
  if (rw !== 0) fail(OOPS_SHADOW, 'user program: mprotect(PROT_READ|PROT_WRITE) failed');
}

function run(ctx: CpuContext): void {
  // with no forker CPU (2 CPUs) the parent forks its helper child itself, between rounds
  const forks = !roles(ctx.nr_cpus).includes('forker');
  run_family(ctx, ['protector', 'solo'], roles, {
    protector: (f) => { if (forks) f.fork_one(); protect_round(f); },
    solo: (f) => { const r = prandom_below(3); if (r === 0) f.migrate_one(); else if (r === 1) f.fork_one(); else protect_round(f); },
  });
}

export const mprotectMigrationEntry: Scenario = {
  name: 'mprotect-migration-entry',
  title: 'mprotect(PROT_READ) misses a write migration entry: the page comes back writable',
  patch: '000_f600569768ae13bb',
  switches: ['mprotect-skips-migration-entry'],
  windows: [WIN_MPROTECT_WRITE_MIGRATION], // cov: src/cpu/windows.ts
  description: 'change_pte_range ignores non-present ptes, so a write migration entry of a MAP_SHARED file page stays WRITE',
  expect_buggy: 'user program: a store succeeds after mprotect(PROT_READ) (or a writable pte in a read-only vma)',
  signature: /succeeded after mprotect\(PROT_READ\)|writable pte in a read-only vma/,
  sizes: { nr_pages: 1024, nr_mm: 16, nr_vma: 64 },
  roles,
  setup: () => family_setup(8, 1, 8, 0, 1, true),
  run,
};
