// Eras (kernel-notes 0.2, 7): the kernel a run models. One table of the
// constants that differ between eras, and the few facts the paths branch
// on. GLOBALS.era is written at boot and never changes during a run; every
// thread reads it once when it attaches (era_attach) into the live bindings
// below, so a hot path reads a module variable, never the table.
import { GLOBALS, SWAP_TYPES } from './layout.js';
import { BASES, MachineView, i32 } from './machine.js';

export const E0 = 0, E1 = 1, E2 = 2, E3 = 3, E4 = 4;

export interface EraInfo {
  id: number;
  /** 'E2' */
  name: string;
  /** the kernel it models, as `uname -r` would say it */
  kernel: string;
  year: number;
  /** swap_info[] records (real swap devices) */
  max_swapfiles: number;
  /** special swap types, -1 where the era has none */
  swp_migration_read: number;
  swp_migration_write: number;
  swp_device_write: number;
  swp_device_read: number;
  /** E1-E4: a PTL per page-table page; E0: mm->page_table_lock guards every pte */
  split_ptl: boolean;
  /** remove_migration_pte: 2.6.18 makes a write entry's pte writable outright; later kernels ask maybe_mkwrite */
  restore_with_maybe_mkwrite: boolean;
  /** migration_entry_wait: 2.6.18 get_page; from 4.x get_page_unless_zero (a frozen page is skipped) */
  wait_get_page_unless_zero: boolean;
  /** do_swap_page after lock_page: which recheck of the swap-cache page the era has (kernel-notes 7) */
  swapin_recheck: 'none' | 'swapcache' | 'entry';
  /** mapping->tree_lock is an rwlock_t (2.6.16-2.6.26), else a spinlock (2.6.6; 2.6.27's lockless page cache on) */
  tree_rwlock: boolean;
  /** the PTL's lock class name in lockdep and lock_stat */
  ptl_class_name: string;
  /** the anon rmap lock's name */
  anon_vma_lock_name: string;
  /** the page-cache lock's name */
  tree_lock_name: string;
}

const NTYPES = SWAP_TYPES;

export const ERAS: readonly EraInfo[] = [
  { id: E0, name: 'E0', kernel: '2.6.6-mm', year: 2004, max_swapfiles: NTYPES,
    swp_migration_read: -1, swp_migration_write: -1, swp_device_write: -1, swp_device_read: -1,
    split_ptl: false, restore_with_maybe_mkwrite: false, wait_get_page_unless_zero: false, swapin_recheck: 'none', tree_rwlock: false,
    ptl_class_name: '&mm->page_table_lock', anon_vma_lock_name: 'anonmm->lock', tree_lock_name: '&mapping->tree_lock' },
  { id: E1, name: 'E1', kernel: '2.6.16', year: 2006, max_swapfiles: NTYPES,
    swp_migration_read: -1, swp_migration_write: -1, swp_device_write: -1, swp_device_read: -1,
    split_ptl: true, restore_with_maybe_mkwrite: false, wait_get_page_unless_zero: false, swapin_recheck: 'swapcache', tree_rwlock: true,
    ptl_class_name: '&page->ptl', anon_vma_lock_name: '&anon_vma->lock', tree_lock_name: '&mapping->tree_lock' },
  { id: E2, name: 'E2', kernel: '2.6.18', year: 2006, max_swapfiles: NTYPES - 2,
    swp_migration_read: NTYPES - 2, swp_migration_write: NTYPES - 1, swp_device_write: -1, swp_device_read: -1,
    split_ptl: true, restore_with_maybe_mkwrite: false, wait_get_page_unless_zero: false, swapin_recheck: 'none', tree_rwlock: true,
    ptl_class_name: '&page->ptl', anon_vma_lock_name: '&anon_vma->lock', tree_lock_name: '&mapping->tree_lock' },
  { id: E3, name: 'E3', kernel: '4.14', year: 2017, max_swapfiles: NTYPES - 5,
    swp_migration_read: NTYPES - 4, swp_migration_write: NTYPES - 3, swp_device_write: NTYPES - 2, swp_device_read: NTYPES - 1,
    split_ptl: true, restore_with_maybe_mkwrite: true, wait_get_page_unless_zero: true, swapin_recheck: 'entry', tree_rwlock: false,
    ptl_class_name: '&(ptlock_ptr(page))->rlock', anon_vma_lock_name: '&anon_vma->rwsem', tree_lock_name: '&(&mapping->tree_lock)->rlock' },
  { id: E4, name: 'E4', kernel: '5.1-rc3 + exchange pages RFC', year: 2019, max_swapfiles: NTYPES - 5,
    swp_migration_read: NTYPES - 4, swp_migration_write: NTYPES - 3, swp_device_write: NTYPES - 2, swp_device_read: NTYPES - 1,
    split_ptl: true, restore_with_maybe_mkwrite: true, wait_get_page_unless_zero: true, swapin_recheck: 'entry', tree_rwlock: false,
    ptl_class_name: '&(ptlock_ptr(page))->rlock', anon_vma_lock_name: '&anon_vma->rwsem', tree_lock_name: '&xa->xa_lock' },
];

/** the era every scenario runs in unless it says otherwise (the headline seed 000) */
export const DEFAULT_ERA = E2;

/** 'E2 (2.6.18)' */
export const era_label = (e: number) => `${ERAS[e].name} (${ERAS[e].kernel})`;

/** parse an --era value: 0..4 or E0..E4; null if it is neither */
export function parse_era(s: string): number | null {
  const m = /^[eE]?([0-4])$/.exec(s.trim());
  return m ? Number(m[1]) : null;
}

// The run's era, read once per thread. `let` exports are live bindings.
export let ERA: EraInfo = ERAS[DEFAULT_ERA];
export let MAX_SWAPFILES = ERA.max_swapfiles;
export let SWP_MIGRATION_READ = ERA.swp_migration_read;
export let SWP_MIGRATION_WRITE = ERA.swp_migration_write;

/** boot: the run's era goes into shared config (before setup) and this thread follows it */
export function era_boot(e: number): void {
  if (!Number.isInteger(e) || e < E0 || e > E4) throw new RangeError(`era must be 0..4 (E0..E4), not ${e}`);
  i32[BASES.globals + GLOBALS.era] = e;
  era_attach();
}

/** the era a Machine (a run's, as its result keeps it: src/exec/free_run.ts RunResult.machine) was booted in */
export const era_of = (m: MachineView): EraInfo => ERAS[m.i32[m.bases.globals + GLOBALS.era]] ?? ERAS[DEFAULT_ERA];

/** read GLOBALS.era into this thread's bindings (each worker, after attaching) */
export function era_attach(): void {
  ERA = ERAS[i32[BASES.globals + GLOBALS.era]] ?? ERAS[DEFAULT_ERA];
  MAX_SWAPFILES = ERA.max_swapfiles;
  SWP_MIGRATION_READ = ERA.swp_migration_read;
  SWP_MIGRATION_WRITE = ERA.swp_migration_write;
}
