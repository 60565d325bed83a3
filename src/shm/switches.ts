// Bug switches. Each names one hunk of a seed patch; when its bit is set in
// the shared config the code at that hunk runs the pre-patch (buggy) line.
// Each switch is read at exactly the line the patch changed.
import { GLOBALS } from './layout.js';
import { BASES, i32 } from './machine.js';
import { E0, E1, E2, E3, E4, era_label } from './era.js';

export interface SwitchInfo {
  bit: number; name: string; /** the seed patch (its id) whose hunk this is */ patch: string; what: string;
  /** the eras whose code has this line (kernel-notes 0.3); a run in another era refuses the switch */
  eras: readonly number[];
  /**
   * eras whose kernel, as released, carries the pre-patch line because the fix
   * came later: every run of such an era has it on, unless the run's scenario
   * is about this switch and runs the fixed protocol
   */
  baseline_in?: readonly number[];
}

/** a switch a run cannot have (unknown, or outside the run's era): one line for the user */
export class SwitchError extends Error {}

export const SW_ANON_VMA_LIST_HEAD = 1 << 0;
export const SW_MIGRATION_READ_AS_BOOL = 1 << 1;
export const SW_MPROTECT_SKIPS_MIGRATION_ENTRY = 1 << 2;
export const SW_SWAP_FAULT_ON_MIGRATION_ENTRY = 1 << 3;
export const SW_SWAP_COUNT_ON_MIGRATION_ENTRY = 1 << 4;
export const SW_SWAPON_TYPE_RANGE = 1 << 5;
export const SW_SWAPIN_NO_ENTRY_RECHECK = 1 << 6;
export const SW_MIGRATE_NO_REFCOUNT_RECHECK = 1 << 7;
// seed 002 (exchange pages, E4)
export const SW_EXCHANGE_LOCK_ORDER = 1 << 8;
export const SW_EXCHANGE_WRITEBACK_BUG_ON = 1 << 9;
export const SW_EXCHANGE_ASYNC_MODE_MASK = 1 << 10;
export const SW_EXCHANGE_FREEZE_NO_UNWIND = 1 << 11;
// seed 003 (E0)
export const SW_MREMAP_ANONMM_NO_COW = 1 << 12;
export const SW_SWAPIN_NO_EARLY_COW = 1 << 13;
export const SW_ANONMM_MAPCOUNT_SINGLE_CHECK = 1 << 14;
export const SW_UNUSE_PROCESS_HUGETLB = 1 << 15;
// seed 004 (E3)
export const SW_HMM_WAIT_REF_LIVELOCK = 1 << 16;
export const SW_ZONE_DEVICE_LRU = 1 << 17;
export const SW_EXCHANGE_BUSY_UNLOCK = 1 << 18;
// a later kernel's fix that swapoff-cycling loads meet in every era (issue 12)
export const SW_SWAPIN_SWAPOFF_RACE = 1 << 19;
// lib: bits 24..30 belong to a user scenario's own switches (defineSwitches, src/scenarios/define.ts), in the
// order it declares them; a run has one scenario, so two scenarios' own switches never meet in one word
export const USER_SWITCH_SHIFT = 24;
export const USER_SWITCH_MAX = 7;

export const SWITCHES: readonly SwitchInfo[] = [
  { bit: SW_ANON_VMA_LIST_HEAD, name: 'anon-vma-list-head', patch: '000_f600569768ae13bb',
    what: 'anon_vma_prepare/__anon_vma_link/anon_vma_link use list_add (head) instead of list_add_tail', eras: [E2] },
  { bit: SW_MIGRATION_READ_AS_BOOL, name: 'migration-read-as-bool', patch: '000_f600569768ae13bb',
    what: 'copy_one_pte passes SWP_MIGRATION_READ (30) as the boolean `write` of make_migration_entry', eras: [E2] },
  { bit: SW_MPROTECT_SKIPS_MIGRATION_ENTRY, name: 'mprotect-skips-migration-entry', patch: '000_f600569768ae13bb',
    what: 'change_pte_range leaves write migration entries alone instead of making them read entries', eras: [E2] },
  { bit: SW_SWAP_FAULT_ON_MIGRATION_ENTRY, name: 'swap-fault-on-migration-entry', patch: '000_f600569768ae13bb',
    what: 'do_swap_page treats a migration entry as a swap entry instead of calling migration_entry_wait', eras: [E2] },
  { bit: SW_SWAP_COUNT_ON_MIGRATION_ENTRY, name: 'swap-count-on-migration-entry', patch: '000_f600569768ae13bb',
    what: 'swap_duplicate and free_swap_and_cache act on migration entries as if they were swap slots', eras: [E2] },
  { bit: SW_SWAPON_TYPE_RANGE, name: 'swapon-type-range', patch: '000_f600569768ae13bb',
    what: 'sys_swapon checks the type against the largest pte-encodable type (31), not MAX_SWAPFILES (30)', eras: [E2] },
  { bit: SW_SWAPIN_NO_ENTRY_RECHECK, name: 'swapin-no-entry-recheck', patch: '2.6.32 do_swap_page',
    what: 'do_swap_page trusts pte_same after lock_page; 2.6.32 also rechecks PageSwapCache and page_private == entry (an ABA across swapoff/swapon)',
    eras: [E2], baseline_in: [E2] },
  { bit: SW_MIGRATE_NO_REFCOUNT_RECHECK, name: 'migrate-no-refcount-recheck', patch: '001_390dd438745448cc',
    what: 'the slot switch under tree_lock trusts the unlocked reference test: page_count != nr_refs is not re-checked (a get_user_pages pin taken meanwhile is lost)',
    eras: [E1, E2] },
  // seed 002 (exchange pages, E4)
  { bit: SW_EXCHANGE_LOCK_ORDER, name: 'exchange-lock-order', patch: '002_19ad3c618e26d64a',
    what: 'not a line the seed changes: the hazard its message names ("lock multiple files ... could cause deadlocks"): unmap_and_exchange sleeps in lock_page(to) holding from; fixed (the model\'s, after the kernel\'s multi-page rule): trylock to, else unlock from, wait, -EAGAIN',
    eras: [E4] },
  { bit: SW_EXCHANGE_WRITEBACK_BUG_ON, name: 'exchange-writeback-bug-on', patch: '002_19ad3c618e26d64a',
    what: 'unmap_and_exchange has BUG_ON(PageWriteback(to_page)) as before the patch, instead of -EBUSY (async, sync-light) or wait_on_page_writeback (sync)',
    eras: [E4] },
  { bit: SW_EXCHANGE_ASYNC_MODE_MASK, name: 'exchange-async-mode-mask', patch: '002_19ad3c618e26d64a',
    what: 'unmap_and_exchange compares the whole mode word (mode == MIGRATE_ASYNC) instead of mode & MIGRATE_MODE_MASK, so MIGRATE_ASYNC | MIGRATE_MT callers sleep in lock_page',
    eras: [E4] },
  { bit: SW_EXCHANGE_FREEZE_NO_UNWIND, name: 'exchange-freeze-no-unwind', patch: '002_19ad3c618e26d64a',
    what: 'exchange_page_move_mapping: when freezing from_page fails, to_page is not unfrozen (left at refcount 0)',
    eras: [E4] },
  // seed 003 (E0)
  { bit: SW_MREMAP_ANONMM_NO_COW, name: 'mremap-anonmm-no-cow', patch: '003_f0940409cbfd1b0d',
    what: 'move_one_page moves a present anon pte with page_remove_rmap + page_add_anon_rmap (copy_one_pte) instead of can_move_one_pte and an early COW of a shared page', eras: [E0] },
  { bit: SW_SWAPIN_NO_EARLY_COW, name: 'swapin-no-early-cow', patch: '003_f0940409cbfd1b0d',
    what: 'do_swap_page and unuse_process map a swap-cache page at an address that clashes with its page->index instead of taking a private copy (mremap_moved_anon_rmap)', eras: [E0] },
  { bit: SW_ANONMM_MAPCOUNT_SINGLE_CHECK, name: 'anonmm-mapcount-single-check', patch: '003_f0940409cbfd1b0d',
    what: 'mremap_move_anon_rmap trusts its unlocked mapcount == 1 test and writes page->index without rmap_lock and the re-test', eras: [E0] },
  { bit: SW_UNUSE_PROCESS_HUGETLB, name: 'unuse-process-hugetlb', patch: '003_f0940409cbfd1b0d',
    what: 'swapoff\'s unuse_process walks hugetlb vmas as if they had pte tables (no is_vm_hugetlb_page test)', eras: [E0] },
  // seed 004 (E3)
  { bit: SW_HMM_WAIT_REF_LIVELOCK, name: 'hmm-wait-ref-livelock', patch: '004_8d57fd20e497ebda',
    what: 'migrate_vma_check_page gives device-private pages the generic extra-reference test, so a migration_entry_wait waiter\'s reference makes them look pinned and the device fault retries forever',
    eras: [E3] },
  { bit: SW_ZONE_DEVICE_LRU, name: 'zone-device-lru', patch: '004_8d57fd20e497ebda',
    what: 'migrate_vma isolates ZONE_DEVICE pages from and puts them back on the LRU, whose links overlay page->pgmap',
    eras: [E3] },
  { bit: SW_EXCHANGE_BUSY_UNLOCK, name: 'exchange-busy-unlock', patch: '002_19ad3c618e26d64a',
    what: 'a bug in the RFC itself, found by the model (not a hunk the seed fixes): unmap_and_exchange\'s new -EBUSY writeback path (async, sync-light) does `goto out_unlock`, a label past unlock_page(to_page), so to_page stays locked for good; fixed: unlock both',
    eras: [E4] },
  { bit: SW_SWAPIN_SWAPOFF_RACE, name: 'swapin-swapoff-race', patch: '5.14 do_swap_page (get_swap_device)',
    what: 'do_swap_page holds no reference on the swap device, so a whole swapoff and swapon can pass under one fault; the same entry value, given out again, passes pte_same: the back-out reads VM_FAULT_OOM (the task is killed), or a stale page is mapped. 5.14 takes get_swap_device for the fault and swapoff waits for it',
    eras: [E0, E1, E2, E3, E4], baseline_in: [E0, E1, E2, E3, E4] },
];
// lib: a model switch in the user bits would be read by a user scenario's buggy() too
if (SWITCHES.some((s) => s.bit >>> USER_SWITCH_SHIFT !== 0)) throw new Error(`switches: bits ${USER_SWITCH_SHIFT}.. are a user scenario's own (defineSwitches)`);

/**
 * The switches a run turns on: the scenario's own for the buggy protocol,
 * plus any extra by name (`names`), and the era's baseline: pre-patch lines
 * its kernel shipped with because the fix came later (kernel-notes 7), on in
 * every run of that era unless the run's scenario is about the switch (or
 * names it in `also_fixed`) and runs the fixed protocol. A switch outside
 * the run's era is refused.
 */
export function bugs_mask(protocol: 'buggy' | 'fixed', scenarioSwitches: readonly string[], extra: readonly string[] = [], era = E2, alsoFixed: readonly string[] = [],
  own: readonly SwitchInfo[] = []): { mask: number; names: string[]; baseline: string[] } {
  const names = protocol === 'buggy' ? [...scenarioSwitches] : [];
  for (const n of extra) if (!names.includes(n)) names.push(n);
  // a scenario's fixed run also carries the later fixes it names (Scenario.also_fixed); its buggy run leaves them at the baseline
  const off = (n: string) => protocol === 'fixed' && (scenarioSwitches.includes(n) || alsoFixed.includes(n));
  const baseline = SWITCHES.filter((s) => s.baseline_in?.includes(era) && !names.includes(s.name) && !off(s.name)).map((s) => s.name);
  let mask = 0;
  // lib: a user scenario's own switches (`own`) are found by name first
  const by_name = (n: string) => own.find((s) => s.name === n) ?? switch_by_name(n);
  for (const n of [...scenarioSwitches, ...alsoFixed, ...names]) {
    const s = by_name(n);
    if (!s) throw new SwitchError(`unknown switch '${n}' (known: ${[...own, ...SWITCHES].map((x) => x.name).join(', ')})`);
    if (!s.eras.includes(era)) throw new SwitchError(`switch '${n}' is not in ${era_label(era)}: it exists in ${s.eras.map(era_label).join(', ')}`);
  }
  for (const n of [...names, ...baseline]) mask |= by_name(n)!.bit;
  return { mask, names, baseline };
}

export function switch_by_name(name: string): SwitchInfo | undefined {
  return SWITCHES.find((s) => s.name === name);
}

/** is the buggy (pre-patch) variant of this switch on? */
export function buggy(bit: number): boolean {
  return (i32[BASES.globals + GLOBALS.bugs] & bit) !== 0;
}
