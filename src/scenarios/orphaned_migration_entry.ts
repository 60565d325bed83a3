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
import { PERCPU, PG_lru } from '../shm/layout.js';
import { i32, sizes } from '../shm/machine.js';
import { current, prandom_below } from '../cpu/current.js';
import { EV_DUP_MMAP, EV_MIGRATE, EV_USER, } from '../cpu/events.js';
import { ACCESS_OK, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { Shadow, TAG_CHILD, TAG_SETUP, initial_value, tag_of } from '../check/shadow.js';
import { PROT_READ, PROT_WRITE, PageAnon, page_anon_vma, page_flags } from '../mm/mm_types.js';
import { do_mmap_anon, mm_alloc } from '../mm/mmap.js';
import { copy_mm, mmput } from '../mm/fork.js';
import { migrate_pages } from '../mm/migrate.js';
import { isolate_lru_page, putback_lru_page } from '../mm/swap.js';
import { anon_vma_pin, anon_vma_unpin } from '../mm/rmap.js';
import { pte_offset, pte_table } from '../mm/pagewalk.js';
import { pte_pfn, pte_present } from '../mm/pgtable.js';
import { PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import type { CpuContext, Scenario, SetupState } from './types.js';

const BASE = 0x20000;
const NPAGES = 32;
const SIBLINGS = 2;

function must(ok: boolean, what: string): void {
  if (!ok) fail(OOPS_SHADOW, `user program: unexpected ${mmu.status === 1 ? 'SIGSEGV' : mmu.status === 2 ? 'OOM kill' : 'SIGBUS'} in ${what}`);
}

function set_path(code: number): void {
  i32[current.pcpu + PERCPU.path] = code;
}

/** CPUs that run the parent's own program, and so own (write) its pages */
function owners(roles: string[]): number[] {
  const t = roles.flatMap((r, c) => (r === 'toucher' ? [c] : []));
  if (t.length > 0) return t;
  return roles.flatMap((r, c) => (r === 'forker' || r === 'solo' ? [c] : []));
}

function roles(n: number): string[] {
  if (n === 1) return ['solo'];
  if (n === 2) return ['migrator', 'forker'];
  const base = ['migrator', 'forker', 'toucher'];
  const extra = ['migrator', 'toucher', 'forker'];
  return Array.from({ length: n }, (_, c) => (c < 3 ? base[c] : extra[(c - 3) % 3]));
}

function setup(): SetupState {
  const parent = mm_alloc();
  const vma = do_mmap_anon(parent, BASE, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE);
  if (vma < 0) throw new Error(`setup: mmap failed (${vma})`);
  for (let p = 0; p < NPAGES; p++) {
    for (let w = 0; w < WORDS_PER_PAGE; w++) {
      user_access(parent, BASE + p * PAGE_SIZE, w, true, initial_value(p, w));
      if (mmu.status !== ACCESS_OK) throw new Error('setup: initial store failed');
    }
  }
  const siblings: number[] = [];
  for (let s = 0; s < SIBLINGS; s++) {
    const child = copy_mm(parent);
    if (child < 0) throw new Error('setup: fork failed');
    siblings.push(child);
  }
  return { parent, base: BASE, npages: NPAGES, siblings };
}

/** one migration of a page mapped by the parent (or, now and then, any anon page) */
function migrate_one(parent: number): void {
  let pfn = 0;
  if (prandom_below(4) !== 0) {
    const addr = BASE + prandom_below(NPAGES) * PAGE_SIZE;
    const table = pte_table(parent, addr);
    if (table === 0) return;
    const pte = Atomics.load(i32, pte_offset(table, addr));
    if (!pte_present(pte)) return;
    pfn = pte_pfn(pte);
  } else {
    pfn = 1 + prandom_below(sizes.nr_pages - 1);
  }
  if ((page_flags(pfn) & PG_lru) === 0 || !PageAnon(pfn)) return;
  if (isolate_lru_page(pfn) !== 0) return;
  if (!PageAnon(pfn)) { putback_lru_page(pfn); return; }
  const av = page_anon_vma(pfn);
  anon_vma_pin(av);
  try {
    migrate_pages(pfn);
  } finally {
    anon_vma_unpin(av);
  }
}

/** fork the parent, run the child's program, exit the child */
function fork_one(parent: number, nr_cpus: number, mine: Shadow): void {
  const child = copy_mm(parent);
  if (child < 0) return;
  switch_mm(child);
  for (let p = 0; p < NPAGES; p++) {
    const w = p % WORDS_PER_PAGE;
    const v = user_access(child, BASE + p * PAGE_SIZE, w, false, 0);
    must(mmu.status === ACCESS_OK, 'child read');
    const t = tag_of(v);
    if (!(t === TAG_SETUP || (t >= 1 && t <= nr_cpus))) {
      fail(OOPS_SHADOW, `user data: ${t === TAG_CHILD ? 'COW leak: an earlier child\'s store is visible in' : 'wrong data in'} child mm#${child} at 0x${(BASE + p * PAGE_SIZE).toString(16)} word ${w}: read 0x${(v >>> 0).toString(16)}`, 0, child, BASE + p * PAGE_SIZE);
    }
  }
  mine.reset(child);
  for (let p = 0; p < NPAGES; p += 4) {
    must(mine.store(p, 1), 'child store');
    must(mine.check(p, 1), 'child load');
  }
  switch_mm(0);
  mmput(child);
}

function run(ctx: CpuContext): void {
  const parent = ctx.setup.parent as number;
  const own = owners(roles(ctx.nr_cpus));
  const shadow = own.includes(ctx.cpu) ? new Shadow(parent, BASE, NPAGES, ctx.cpu + 1, 'parent') : null;
  const childShadow = new Shadow(0, BASE, NPAGES, TAG_CHILD, 'child');
  const mine: number[] = [];
  for (let p = 0; p < NPAGES; p++) if (own[p % own.length] === ctx.cpu) mine.push(p);

  const touch = () => {
    set_path(EV_USER);
    switch_mm(parent);
    for (let k = 0; k < 8; k++) {
      const p = mine[prandom_below(mine.length)];
      const w = prandom_below(WORDS_PER_PAGE);
      must(shadow!.store(p, w), 'parent store');
      must(shadow!.check(mine[prandom_below(mine.length)], prandom_below(WORDS_PER_PAGE)), 'parent load');
    }
    switch_mm(0);
  };

  while (!ctx.should_stop()) {
    switch (ctx.role) {
      case 'migrator':
        set_path(EV_MIGRATE);
        migrate_one(parent);
        break;
      case 'forker':
        set_path(EV_DUP_MMAP);
        fork_one(parent, ctx.nr_cpus, childShadow);
        if (shadow) touch();
        break;
      case 'toucher':
        touch();
        break;
      default: { // solo: one CPU does everything in turn (no race is possible)
        const r = prandom_below(3);
        if (r === 0) migrate_one(parent);
        else if (r === 1) fork_one(parent, ctx.nr_cpus, childShadow);
        else touch();
      }
    }
    ctx.op_done();
  }
}

export const orphanedMigrationEntry: Scenario = {
  name: 'orphaned-migration-entry',
  title: 'fork racing swapless migration leaves an orphaned migration entry',
  seed: '000_f600569768ae13bb',
  switches: ['anon-vma-list-head'],
  description: 'anon_vma_link adds the child vma at the head of the anon_vma list (list_add); ' +
    'remove_migration_ptes passes the child before fork copies the parent\'s migration entry into it',
  expect_buggy: 'kernel BUG: BUG_ON(!PageLocked(p)) in migration_entry_to_page',
  sizes: { nr_pages: 1024, nr_mm: 64, nr_vma: 256 },
  roles,
  setup: () => setup(),
  run,
};
