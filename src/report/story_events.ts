// What each kernel event says about pages and ptes, for the interleaving:
// which argument names a pfn, which events touch the pte of (mm, addr), and
// which of those install a pte or change what it may do. The arguments are
// the ones the paths pass to trace_event (src/cpu/events.ts).
import {
  EV_ANON_PAGE, EV_BUG, EV_CHANGE_PTE_RANGE, EV_COPY_MIGRATION_ENTRY, EV_COPY_PTE_RANGE, EV_FAULT, EV_MIGRATE, EV_MIGRATE_DONE,
  EV_MIGRATE_FAIL, EV_MIGRATION_WAIT, EV_MOVE_TO_NEW, EV_MPROTECT, EV_REMOVE_PTE, EV_SWAPIN_MAP, EV_SWAP_PAGE, EV_UNMAP_ONE, EV_UNUSE_PTE,
  EV_USER, EV_WP_PAGE, EV_ZAP, EV_DIO, EV_GUP, EV_SLOT_SWITCH, EV_SWAPIN_RETRY, RMP_RESTORED, TracedEvent,
} from '../cpu/events.js';
import { pgd_index } from '../mm/pagewalk.js';

const PFN_ARG: Record<number, number[]> = {
  [EV_MIGRATE]: [0], [EV_MOVE_TO_NEW]: [0, 1], [EV_MIGRATE_FAIL]: [0], [EV_MIGRATE_DONE]: [0, 1],
  [EV_UNMAP_ONE]: [2], [EV_COPY_MIGRATION_ENTRY]: [2], [EV_MIGRATION_WAIT]: [2], [EV_ZAP]: [2], [EV_BUG]: [1],
  [EV_GUP]: [2], [EV_DIO]: [2], [EV_SLOT_SWITCH]: [0, 1], [EV_SWAPIN_RETRY]: [2],
};

export const names_pfn = (e: TracedEvent, pfn: number) => (PFN_ARG[e.code] ?? []).some((i) => e.args[i] === pfn);

/** events whose a0, a1 are the (mm, page address) of one pte */
const PTE_EVENTS = new Set([
  EV_FAULT, EV_ANON_PAGE, EV_WP_PAGE, EV_MIGRATION_WAIT, EV_COPY_MIGRATION_ENTRY, EV_UNMAP_ONE, EV_REMOVE_PTE, EV_ZAP,
  EV_SWAP_PAGE, EV_UNUSE_PTE, EV_SWAPIN_MAP, EV_USER, EV_GUP, EV_DIO, EV_SWAPIN_RETRY,
]);

/** the event touched the pte of (mm, addr): itself, a range of ptes holding it, or (fork) the table holding it */
export function touches_pte(e: TracedEvent, mm: number, addr: number): boolean {
  if (e.args[0] !== mm) return false;
  if (PTE_EVENTS.has(e.code)) return e.args[1] === addr;
  if (e.code === EV_CHANGE_PTE_RANGE || e.code === EV_MPROTECT) return e.args[1] <= addr && addr < e.args[2];
  // copy_pte_range names where its copy in one table starts
  return e.code === EV_COPY_PTE_RANGE && e.args[1] <= addr && pgd_index(e.args[1]) === pgd_index(addr);
}

/**
 * the page an event installed in the pte it touched: a present pte (new
 * anon page, COW copy or reuse, a migration restored, a swap-in, swapoff),
 * or the page of a migration entry fork copied; 0 for a change that names
 * no page (mprotect, fork's table copy); -1 if the event installs nothing
 */
export function installed_pfn(e: TracedEvent): number {
  const a = e.args;
  switch (e.code) {
    case EV_ANON_PAGE: case EV_SWAPIN_MAP: case EV_UNUSE_PTE: case EV_COPY_MIGRATION_ENTRY: return a[2];
    case EV_WP_PAGE: return a[3] || a[2];
    case EV_REMOVE_PTE: return a[2] === RMP_RESTORED ? a[3] : -1;
    case EV_CHANGE_PTE_RANGE: case EV_COPY_PTE_RANGE: return 0;
    default: return -1;
  }
}

/**
 * the event that left the pte installed at events[j] writable, or -1: the
 * install itself (a write migration entry copied by fork, a COW reuse, a
 * swap-in mapped writable), or for a restore the try_to_unmap_one or
 * copy_one_pte, at or after `from`, that made the write entry it replaced
 */
export function write_source(events: TracedEvent[], j: number, from: number): number {
  const e = events[j];
  switch (e.code) {
    case EV_COPY_MIGRATION_ENTRY: case EV_SWAPIN_MAP: return e.args[3] !== 0 ? j : -1;
    case EV_WP_PAGE: return e.args[3] === 0 ? j : -1;
    case EV_REMOVE_PTE:
      for (let i = j - 1; i >= from; i--) {
        const f = events[i];
        if ((f.code === EV_UNMAP_ONE || f.code === EV_COPY_MIGRATION_ENTRY) && touches_pte(f, e.args[0], e.args[1])) return f.args[3] === 1 ? i : -1;
      }
      return -1;
    default: return -1;
  }
}
