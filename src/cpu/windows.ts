// Race-window coverage (issue 14 item 2). A race window is the state a
// scenario's race needs before its bug can happen: fork copying a migration
// entry, a page pinned across try_to_unmap. Kernel paths mark the exact line
// where a window stands open with window_open(WIN_...), a bump of this CPU's
// own counter (WINSTAT, on its own cache lines: no Atomics, no allocation, no
// message), under either protocol: a window is the race's precondition, not
// its bug. Each scenario lists the windows its race needs (Scenario.windows),
// every run reports how often each opened, and a clean run in which one of
// them never opened proved nothing about that race: it is "vacuous".
import { WINDOW_SLOTS, WINSTAT } from '../shm/layout.js';
import { BASES, MachineView, i32 } from '../shm/machine.js';
import { defineEnum } from '../shm/struct.js';
import { current } from './current.js';

/** the race windows, defined here and nowhere else; a window's code is its index (its counter's slot) */
const WINDOWS = defineEnum('race window', [
  // seed 000 (E2): fork, migration entries, swap
  { key: 'WIN_COPY_MIGRATION_ENTRY', name: 'copy_one_pte copied a migration entry' }, // fork racing migration: the orphan's step 4, swap_duplicate's (swap-count-on-migration-entry's fork form)
  { key: 'WIN_REMOVE_PTE_CHILD_EMPTY', name: 'remove_migration_pte found the child\'s pte empty while its fork was in flight' }, // the orphan's step 3
  { key: 'WIN_COPY_MIGRATION_COW', name: 'copy_one_pte met a migration entry of a COW mapping' }, // migration-read-as-bool: the entry the buggy line rewrites
  { key: 'WIN_MPROTECT_WRITE_MIGRATION', name: 'change_pte_range met a write migration entry' }, // mprotect-skips-migration-entry
  { key: 'WIN_SWAP_FAULT_MIGRATION', name: 'do_swap_page met a migration entry' }, // swap-fault-on-migration-entry
  { key: 'WIN_SWAPON_TYPE_PAST_MAX', name: 'sys_swapon found every type below MAX_SWAPFILES in use' }, // swapon-type-range: the 31st swapon
  { key: 'WIN_SWAPIN_PAGE_GONE', name: 'do_swap_page found the swap-cache page gone after lock_page' }, // swapin-no-entry-recheck
  // seed 001 (E1, E2)
  { key: 'WIN_PINNED_ACROSS_UNMAP', name: 'a page was pinned across try_to_unmap' }, // migrate-no-refcount-recheck: an unexpected reference at the tree_lock test
  // seed 002 (E4, exchange pages)
  { key: 'WIN_EXCHANGE_SECOND_LOCKED', name: 'unmap_and_exchange found the second page locked while it held the first' }, // exchange-lock-order, exchange-async-mode-mask
  { key: 'WIN_EXCHANGE_FREEZE_FROM_FAILED', name: 'exchange_page_move_mapping froze to_page, then failed to freeze from_page' }, // exchange-freeze-no-unwind
  { key: 'WIN_EXCHANGE_TO_WRITEBACK', name: 'unmap_and_exchange met to_page under writeback' }, // exchange-writeback-bug-on, exchange-busy-unlock
  // seed 003 (E0, anonmm)
  { key: 'WIN_MREMAP_SHARED_ANON', name: 'move_one_page met an anon page another pte maps too' }, // mremap-anonmm-no-cow
  { key: 'WIN_SWAPIN_CLASH', name: 'do_swap_page met an address clash' }, // swapin-no-early-cow (the fault's form)
  { key: 'WIN_UNUSE_CLASH', name: 'unuse_process met an address clash' }, // swapin-no-early-cow (swapoff's form)
  { key: 'WIN_ANONMM_MAPCOUNT_CHANGED', name: 'mremap_move_anon_rmap found the page mapped again after its unlocked mapcount test' }, // anonmm-mapcount-single-check
  { key: 'WIN_UNUSE_HUGETLB_VMA', name: 'unuse_process met a hugetlb vma' }, // unuse-process-hugetlb
  // seed 004 (E3, HMM)
  { key: 'WIN_HMM_CHECK_WAITER_REF', name: 'migrate_vma_check_page met a waiter\'s reference' }, // hmm-wait-ref-livelock: a reference beyond the device's and collect's
  { key: 'WIN_HMM_DEVICE_PAGE_FINALIZED', name: 'migrate_vma_finalize released a new device page' }, // zone-device-lru: the page putback_lru_page must not take
] as const);
export const {
  WIN_COPY_MIGRATION_ENTRY, WIN_REMOVE_PTE_CHILD_EMPTY, WIN_COPY_MIGRATION_COW, WIN_MPROTECT_WRITE_MIGRATION,
  WIN_SWAP_FAULT_MIGRATION, WIN_SWAPON_TYPE_PAST_MAX, WIN_SWAPIN_PAGE_GONE, WIN_PINNED_ACROSS_UNMAP,
  WIN_EXCHANGE_SECOND_LOCKED, WIN_EXCHANGE_FREEZE_FROM_FAILED, WIN_EXCHANGE_TO_WRITEBACK,
  WIN_MREMAP_SHARED_ANON, WIN_SWAPIN_CLASH, WIN_UNUSE_CLASH, WIN_ANONMM_MAPCOUNT_CHANGED, WIN_UNUSE_HUGETLB_VMA,
  WIN_HMM_CHECK_WAITER_REF, WIN_HMM_DEVICE_PAGE_FINALIZED,
} = WINDOWS.codes;
export const WINDOW_NAMES: readonly string[] = WINDOWS.names;
export const NR_WINDOWS = WINDOWS.table.length;
/** lib: slots USER_WINDOW_BASE.. are a user scenario's own windows (defineWindows, src/scenarios/define.ts), in the order it declares them */
export const USER_WINDOW_BASE = 40;
export const USER_WINDOW_MAX = WINDOW_SLOTS - USER_WINDOW_BASE;
if (NR_WINDOWS > USER_WINDOW_BASE) throw new Error(`race windows: ${NR_WINDOWS} defined, WINSTAT has room for ${USER_WINDOW_BASE} before a scenario's own (src/shm/layout.ts)`);

/** a window's name: a built-in's, or one of the scenario's own (`own`, by slot from USER_WINDOW_BASE) */
export const window_name = (w: number, own: readonly string[] = []): string => (w >= USER_WINDOW_BASE ? own[w - USER_WINDOW_BASE] : WINDOW_NAMES[w]) ?? `window #${w}`;

/** the race window `code` (WIN_*) is open on this CPU at this line: count it (allocation-free) */
export function window_open(code: number): void {
  i32[BASES.winstat + current.cpu * WINSTAT.stride + code] += 1;
}

/** how often one of a run's windows opened, summed over its CPUs */
export interface WindowCount { name: string; count: number }

/** the counts of `windows` (codes) in a run's Machine (its kept view: the next run may be booting); `own`: the scenario's own windows' names */
export function window_counts(m: MachineView, windows: readonly number[] | undefined, own?: readonly string[]): WindowCount[] {
  return (windows ?? []).map((w) => {
    let count = 0;
    for (let c = 0; c < m.sizes.nr_cpus; c++) count += m.i32[m.bases.winstat + c * WINSTAT.stride + WINSTAT.count + w];
    return { name: window_name(w, own), count };
  });
}

/** several runs' counts added up, window by window (the lists of one scenario: same windows, same order) */
export function add_window_counts(into: WindowCount[], more: readonly WindowCount[]): WindowCount[] {
  if (into.length === 0) return more.map((w) => ({ ...w }));
  more.forEach((w, k) => { into[k].count += w.count; });
  return into;
}

/** the first window that never opened, or null: a clean verdict over these counts is vacuous when there is one */
export function never_opened(windows: readonly WindowCount[]): string | null {
  return windows.find((w) => w.count === 0)?.name ?? null;
}

/** how a clean verdict reads given its windows: 'clean', or 'clean (vacuous: window <name> never opened)' */
export function clean_label(windows: readonly WindowCount[]): string {
  const w = never_opened(windows);
  return w === null ? 'clean' : `clean (vacuous: window ${w} never opened)`;
}

/** one line of counts: 'race windows: <name> 12, <name> 0 (never opened)', or null when the scenario declares none */
export function windows_line(windows: readonly WindowCount[], over = ''): string | null {
  if (windows.length === 0) return null;
  return `race windows${over}: ${windows.map((w) => `${w.name}: ${w.count}${w.count === 0 ? ' (never opened)' : ''}`).join('; ')}`;
}

/**
 * a scenario module's window list as codes: each entry a WIN_* code or a
 * window's name as the table prints it; anything else is the module's
 * mistake, returned as a message (the list itself when it is fine)
 */
export function window_codes(where: string, windows: unknown, own: readonly string[] = []): number[] | string {
  if (windows === undefined) return [];
  if (!Array.isArray(windows)) return `${where}: windows must be an array of race windows (src/cpu/windows.ts), got ${windows === null ? 'null' : typeof windows}`;
  const out: number[] = [];
  const mine = (w: number) => w >= USER_WINDOW_BASE && w < USER_WINDOW_BASE + own.length; // lib: the scenario's own
  for (const w of windows) {
    const code = typeof w === 'string' ? (own.includes(w) ? USER_WINDOW_BASE + own.indexOf(w) : WINDOW_NAMES.indexOf(w))
      : Number.isInteger(w) && ((w >= 0 && w < NR_WINDOWS) || mine(w)) ? w : -1;
    if (code < 0) return `${where}: windows lists ${typeof w === 'string' ? `'${w}'` : String(w)}, not a race window (src/cpu/windows.ts; mmrace list names them)`;
    out.push(code);
  }
  return out;
}
