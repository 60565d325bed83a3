// What counts as a scenario reproduced in `npm run bench`: the failure text
// its buggy protocol must show, and whether that failure waits for an
// interleaving at all, as the scenario says (Scenario.signature and
// .deterministic), so that a run ending in some other failure is not
// counted as the race.
import type { RunResult } from '../src/exec/free_run.js';
import type { Scenario } from '../src/scenarios/types.js';

export interface Expected {
  /** null: no signature known, any failure counts */
  signature: RegExp | null;
  deterministic: string | null;
  /** the buggy failure is a livelock: a liveness outcome counts (with the signature) */
  liveness: boolean;
}

export function expected_of(s: Scenario): Expected {
  return { signature: s.signature ?? null, deterministic: s.deterministic ?? null, liveness: s.liveness ?? false };
}

/** the run failed, and (when a signature is known) with the scenario's own failure */
export function reproduced(e: Expected, r: RunResult): boolean {
  // a liveness failure counts only for a scenario whose signature names it (seed 002's exchange-abba: a deadlock)
  if (r.outcome === 'liveness') return !!e.signature && e.signature.test([r.oops?.text ?? '', r.watchdog ?? '', r.reason ?? ''].join('\n'));
  if (r.outcome !== 'bug' && r.outcome !== 'violation') return false;
  if (!e.signature) return true;
  return e.signature.test([r.oops?.text ?? '', ...r.invariants].join('\n'));
}
