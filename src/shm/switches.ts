// Bug switches. Each names one hunk of a seed patch; when its bit is set in
// the shared config the code at that hunk runs the pre-patch (buggy) line.
// Each switch is read at exactly the line the patch changed.
import { GLOBALS } from './layout.js';
import { B, i32 } from './machine.js';

export interface SwitchInfo { bit: number; name: string; seed: string; what: string }

export const SW_ANON_VMA_LIST_HEAD = 1 << 0;
export const SW_MIGRATION_READ_AS_BOOL = 1 << 1;
export const SW_MPROTECT_SKIPS_MIGRATION_ENTRY = 1 << 2;
export const SW_SWAP_FAULT_ON_MIGRATION_ENTRY = 1 << 3;
export const SW_SWAP_COUNT_ON_MIGRATION_ENTRY = 1 << 4;
export const SW_SWAPON_TYPE_RANGE = 1 << 5;

export const SWITCHES: readonly SwitchInfo[] = [
  { bit: SW_ANON_VMA_LIST_HEAD, name: 'anon-vma-list-head', seed: '000_f600569768ae13bb',
    what: 'anon_vma_prepare/__anon_vma_link/anon_vma_link use list_add (head) instead of list_add_tail' },
  { bit: SW_MIGRATION_READ_AS_BOOL, name: 'migration-read-as-bool', seed: '000_f600569768ae13bb',
    what: 'copy_one_pte passes SWP_MIGRATION_READ (30) as the boolean `write` of make_migration_entry' },
  { bit: SW_MPROTECT_SKIPS_MIGRATION_ENTRY, name: 'mprotect-skips-migration-entry', seed: '000_f600569768ae13bb',
    what: 'change_pte_range leaves write migration entries alone instead of making them read entries' },
  { bit: SW_SWAP_FAULT_ON_MIGRATION_ENTRY, name: 'swap-fault-on-migration-entry', seed: '000_f600569768ae13bb',
    what: 'do_swap_page treats a migration entry as a swap entry instead of calling migration_entry_wait' },
  { bit: SW_SWAP_COUNT_ON_MIGRATION_ENTRY, name: 'swap-count-on-migration-entry', seed: '000_f600569768ae13bb',
    what: 'swap_duplicate and free_swap_and_cache act on migration entries as if they were swap slots' },
  { bit: SW_SWAPON_TYPE_RANGE, name: 'swapon-type-range', seed: '000_f600569768ae13bb',
    what: 'sys_swapon checks the type against the largest pte-encodable type (31), not MAX_SWAPFILES (30)' },
];

/** the mask of switches a run turns on: the scenario's for the buggy protocol, plus any extra by name */
export function bugs_mask(protocol: 'buggy' | 'fixed', scenarioSwitches: readonly string[], extra: readonly string[] = []): { mask: number; names: string[] } {
  const names = protocol === 'buggy' ? [...scenarioSwitches] : [];
  for (const n of extra) if (!names.includes(n)) names.push(n);
  let mask = 0;
  for (const n of names) {
    const s = switch_by_name(n);
    if (!s) throw new Error(`unknown switch '${n}' (known: ${SWITCHES.map((x) => x.name).join(', ')})`);
    mask |= s.bit;
  }
  return { mask, names };
}

export function switch_by_name(name: string): SwitchInfo | undefined {
  return SWITCHES.find((s) => s.name === name);
}

/** is the buggy (pre-patch) variant of this switch on? */
export function buggy(bit: number): boolean {
  return (i32[B.globals + GLOBALS.bugs] & bit) !== 0;
}
