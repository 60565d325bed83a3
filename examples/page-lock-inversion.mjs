// A scenario module of the kind a user writes (mmrace run ./examples/page-lock-inversion.mjs):
// a kernel path of our own that holds a page lock and then takes mmap_sem.
// mm/swapfile.c's unuse_mm goes out of its way not to do that: with the page
// locked it only tries down_read_trylock, and on failure unlocks the page,
// takes mmap_sem, and locks the page again. The fault path takes them the
// other way round (mmap_sem, then it sleeps on the page lock in
// migration_entry_wait or lock_page), so this path closes a cycle, and
// lockdep reports a "possible circular locking dependency" as soon as both
// orders have run once, whether or not they ever meet and deadlock.
import {
  run_family, family_setup, cycle_roles, set_path, EV_SWAPOFF,
  isolate_lru_page, move_to_lru, lock_page, unlock_page, down_read, up_read,
  mm_mmap_sem, LC_MMAP_SEM, PageAnon,
} from '../dist/src/index.js';

const roles = cycle_roles(['migrator', 'toucher', 'inverter'], ['toucher', 'migrator']);

/** the inverted path: page lock, then mmap_sem (unuse_mm without its trylock) */
function unuse_mm_inverted(f) {
  set_path(EV_SWAPOFF);
  const pfn = f.pick_page();
  if (pfn === 0 || !PageAnon(pfn) || isolate_lru_page(pfn) !== 0) return;
  lock_page(pfn);
  const sem = mm_mmap_sem(f.parent);
  down_read(sem, LC_MMAP_SEM); // the fixed unuse_mm: down_read_trylock, else unlock_page first
  up_read(sem);
  unlock_page(pfn);
  move_to_lru(pfn);
}

export default {
  name: 'page-lock-inversion',
  title: 'page lock, then mmap_sem: the order unuse_mm avoids (lockdep example)',
  description: 'a path that holds PG_locked while it takes mmap_sem, against faults that wait for the page lock under mmap_sem',
  expect_buggy: 'lockdep: possible circular locking dependency',
  roles,
  setup: () => family_setup(32, 2, 16), // siblings that share half the parent's pages: the migrator moves theirs
  run(ctx) {
    run_family(ctx, ['toucher'], roles, { inverter: unuse_mm_inverted });
  },
};
