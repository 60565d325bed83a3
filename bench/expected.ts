// What counts as a scenario reproduced in `npm run bench`: the failure text
// its buggy protocol must show, and whether that failure waits for an
// interleaving at all. A scenario says so itself (Scenario.signature and
// .deterministic); the built-ins that do not yet are described here, so
// that a run ending in some other failure is not counted as the race.
import type { RunResult } from '../src/exec/free_run.js';
import type { Scenario } from '../src/scenarios/types.js';

const BUILTIN: Record<string, { signature: RegExp; deterministic?: string }> = {
  // the kernel's BUG where it catches the orphan, or the exit-time invariant when no fault reaches it first
  'orphaned-migration-entry': { signature: /BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page|orphaned migration entry/ },
  'cow-migration-entry': { signature: /COW leak|writable pte to COW-shared pfn/ },
  'mprotect-migration-entry': { signature: /succeeded after mprotect\(PROT_READ\)|writable pte in a read-only vma/ },
  // 2.6.18 indexes swap_info[30/31] past the array; the model's bounds checker reports that first access
  'swap-fault-on-migration-entry': { signature: /out-of-bounds read of swap_info\[3[01]\]/ },
  'swap-count-on-migration-entry': { signature: /swap_(dup|free): Bad swap file entry [0-9a-f]{8}/ },
  // the write past swap_info[] itself, or (with the write left to land in the guard) its consequence
  'swapon-type-range': {
    signature: /out-of-bounds write of swap_info\[30\] in sys_swapon|BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page/,
    deterministic: 'the 31st swapon takes type 30, whatever the interleaving',
  },
};

export interface Expected {
  /** null: no signature known, any failure counts */
  signature: RegExp | null;
  deterministic: string | null;
}

export function expected_of(s: Scenario): Expected {
  const b = BUILTIN[s.name];
  return { signature: s.signature ?? b?.signature ?? null, deterministic: s.deterministic ?? b?.deterministic ?? null };
}

/** the run failed, and (when a signature is known) with the scenario's own failure */
export function reproduced(e: Expected, r: RunResult): boolean {
  if (r.outcome !== 'bug' && r.outcome !== 'violation') return false;
  if (!e.signature) return true;
  return e.signature.test([r.oops?.text ?? '', ...r.invariants].join('\n'));
}
