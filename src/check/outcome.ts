// A run's outcome, classified once for both executors (src/exec/free_run.ts,
// controlled.ts): from the oops kind's row in OOPS_KINDS (src/check/bug.ts),
// else from how the run ended. The exit code of each is src/cli/exit.ts.
import { OOPS_KINDS } from './bug.js';

export const OUTCOMES = ['clean', 'bug', 'violation', 'liveness', 'internal'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * the outcome of a run that ended with `oops` (or none), a watchdog report
 * or not, every CPU done or not; `lockdep_found` is asked only of a run that
 * ended well: a lock-order cycle is a bug even when it did not deadlock this time
 */
export function classify(oops: { kind: number } | null, watchdog: boolean, allDone: boolean, lockdep_found: () => boolean): Outcome {
  if (oops) {
    // a kind outside the table (a scenario module's own fail(kind)) is a violation, as it always was
    return OOPS_KINDS.table[oops.kind]?.outcome ?? 'violation';
  }
  if (watchdog) return 'liveness';
  if (!allDone) return 'internal';
  return lockdep_found() ? 'violation' : 'clean';
}
