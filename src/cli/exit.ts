// Exit codes, defined once: the code of each run outcome, of several runs,
// and of each kind of error (src/cli.ts). The README documents them:
// 0 ok, 1 violation, 2 usage, 3 liveness, 4 internal.
import type { Outcome } from '../check/outcome.js';

export const EXIT_OK = 0, EXIT_VIOLATION = 1, EXIT_USAGE = 2, EXIT_LIVENESS = 3, EXIT_INTERNAL = 4;

/** the exit code of a run that ended with each outcome (no --expect) */
export const OUTCOME_EXIT: { readonly [O in Outcome]: number } = {
  clean: EXIT_OK, bug: EXIT_VIOLATION, violation: EXIT_VIOLATION, liveness: EXIT_LIVENESS, internal: EXIT_INTERNAL,
};

/** several runs (bench's points): a liveness failure first, then an internal error, then a violation */
export function outcomes_exit(outcomes: readonly Outcome[]): number {
  const codes = outcomes.map((o) => OUTCOME_EXIT[o]);
  return [EXIT_LIVENESS, EXIT_INTERNAL, EXIT_VIOLATION].find((c) => codes.includes(c)) ?? EXIT_OK;
}

/** a bad command line or value: one line on stderr and exit 2 */
export class UsageError extends Error {}

export { clip } from '../exec/clip.js';
