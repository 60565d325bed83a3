// The API a scenario module (mmrace run ./my-scenario.js) builds on: the
// kernel paths, the MMU, the locks and the checkers, under kernel names.
export type { Scenario, CpuContext, SetupState } from './scenarios/types.js';
export { current, prandom_below, prandom_u32 } from './cpu/current.js';
export { user_access, switch_mm, mmu, ACCESS_OK, ACCESS_SEGV, ACCESS_OOM, ACCESS_SIGBUS } from './cpu/mmu.js';
export { trace_event, EV_USER, EV_MIGRATE, EV_DUP_MMAP, EV_SHRINK, EV_SWAPOFF, EV_FILE_READ, EV_FILE_WRITE, EV_TRUNCATE, EV_FSYNC } from './cpu/events.js';
export { BUG, BUG_ON, fail, OOPS_SHADOW, OOPS_INVARIANT } from './check/bug.js';
export { Shadow, initial_value } from './check/shadow.js';
export { spin_lock, spin_unlock, spin_trylock } from './sync/spinlock.js';
export { lock_page, unlock_page, trylock_page, wait_on_page_locked, PageLocked } from './sync/page_lock.js';
export { down_read, up_read, down_write, up_write } from './sync/rwsem.js';
export { read_lock, read_unlock, write_lock, write_unlock, read_trylock, write_trylock } from './sync/rwlock.js';
export * from './sync/lock_class.js';
export { mm_alloc, do_mmap_anon, do_mmap_pgoff, find_vma, MAP_SHARED, MAP_PRIVATE } from './mm/mmap.js';
export {
  FIRST_FILE, file_read, file_write, file_rw, FILE_OK, FILE_EOF, FILE_ENOMEM, find_get_page, find_lock_page, add_to_page_cache,
  remove_from_page_cache, do_fsync, i_size_read,
} from './mm/filemap.js';
export { do_truncate, truncate_inode_pages } from './mm/truncate.js';
export { sys_msync, MS_ASYNC, MS_SYNC } from './mm/msync.js';
export { get_user_pages, set_page_dirty_lock } from './mm/memory.js';
export { alloc_page } from './mm/page_alloc.js';
export { copy_mm, exit_mm, get_task_mm, mmput } from './mm/fork.js';
export { migrate_pages } from './mm/migrate.js';
export { isolate_lru_page, move_to_lru, putback_lru_page, get_page, put_page } from './mm/swap.js';
export { sys_mprotect } from './mm/mprotect.js';
export { anon_vma_pin, anon_vma_unpin } from './mm/rmap.js';
export { pte_table, pte_offset } from './mm/pagewalk.js';
export * from './mm/pgtable.js';
export * from './mm/mm_types.js';
export { mm_base, page_base, phys_base, i32 } from './shm/machine.js';
export { Family, family_setup, run_family, cycle_roles, set_path, BASE } from './scenarios/family.js';
export * from './shm/layout.js';
// pkg: the package's programmatic API (the CLI's commands as functions) and defineScenario
export * from './api.js';
export { defineScenario, ScenarioDefinitionError } from './scenarios/define.js';
// lib: a user scenario's own switches and race windows, read and marked as the model reads and marks its own
export { defineSwitches, defineWindows, type OwnSwitch, type OwnSwitches, type OwnWindows } from './scenarios/define.js';
export { buggy } from './shm/switches.js';
export { window_open } from './cpu/windows.js';
export type { ScenarioDefinition, EraName } from './scenarios/define.js';
