// The API a scenario module (mmrace run ./my-scenario.js) builds on: the
// kernel paths, the MMU, the locks and the checkers, under kernel names.
export type { Scenario, CpuContext, SetupState } from './scenarios/types.js';
export { current, prandom_below, prandom_u32 } from './cpu/current.js';
export { user_access, switch_mm, mmu, ACCESS_OK, ACCESS_SEGV, ACCESS_OOM, ACCESS_SIGBUS } from './cpu/mmu.js';
export { trace_event, EV_USER, EV_MIGRATE, EV_DUP_MMAP, EV_SHRINK, EV_SWAPOFF } from './cpu/events.js';
export { BUG, BUG_ON, fail, OOPS_SHADOW, OOPS_INVARIANT } from './check/bug.js';
export { Shadow, initial_value } from './check/shadow.js';
export { spin_lock, spin_unlock, spin_trylock } from './sync/spinlock.js';
export { lock_page, unlock_page, trylock_page, wait_on_page_locked, PageLocked } from './sync/page_lock.js';
export { down_read, up_read, down_write, up_write } from './sync/rwsem.js';
export * from './sync/lock_class.js';
export { mm_alloc, do_mmap_anon, find_vma } from './mm/mmap.js';
export { alloc_page } from './mm/page_alloc.js';
export { copy_mm, mmput } from './mm/fork.js';
export { migrate_pages } from './mm/migrate.js';
export { isolate_lru_page, move_to_lru, putback_lru_page, get_page, put_page } from './mm/swap.js';
export { sys_mprotect } from './mm/mprotect.js';
export { anon_vma_pin, anon_vma_unpin } from './mm/rmap.js';
export { pte_table, pte_offset } from './mm/pagewalk.js';
export * from './mm/pgtable.js';
export * from './mm/mm_types.js';
export { mm_base, page_base, i32 } from './shm/machine.js';
export { Family, family_setup, run_family, cycle_roles, set_path, BASE } from './scenarios/family.js';
export * from './shm/layout.js';
