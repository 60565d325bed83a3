// Vitest matchers for scenarios (import 'mmrace/vitest' in a test file, or
// in vitest's setupFiles):
//   await expect(url).toReproduce({ within: { runs: 500 } })   the buggy protocol fails under the controlled executor
//   await expect(url).toHold({ protocol: 'fixed', ops: 1e5 })   a free-running run ends clean
//   await expect(url).toHoldExhaustively({ preemptions: 2 })     every schedule with <= 2 preemptions ends clean
// The value under test is what every API function takes: a built-in
// scenario's name, a module path, or the module's URL.
// A failure message carries the splat (with its interleaving) and the
// command that replays it; a failing schedule (.not.toReproduce, or a failure
// toHoldExhaustively found) is saved next to the test file. vitest is the
// caller's: an optional peer dependency.
import { expect } from 'vitest';
import { basename, dirname, join } from 'node:path';
import { explore, explore_exhaustive, run, type Counterexample, type Protocol, type ScenarioRef } from './api.js';

export interface ReproduceOptions {
  /** default 'buggy' */
  protocol?: Protocol;
  /** the budget: controlled runs (default 500, PCT) and operations per CPU in each (default 1) */
  within?: { runs?: number; ops?: number };
  cpus?: number;
  seed?: number;
  era?: number;
}

export interface HoldOptions {
  /** default 'fixed' */
  protocol?: Protocol;
  /** operations in all (default 10 000), or a duration when ops is 0 */
  ops?: number;
  duration_ms?: number;
  cpus?: number;
  seed?: number;
  era?: number;
}

export interface ExhaustiveHoldOptions {
  /** default 'fixed' */
  protocol?: Protocol;
  /** the preemption bound K (default 2) */
  preemptions?: number;
  /** operations per CPU in each run (default 1) */
  ops?: number;
  cpus?: number;
  era?: number;
  /** budgets: a search they stop is "not complete", and the assertion fails */
  max_schedules?: number;
  time_ms?: number;
}

declare module 'vitest' {
  interface Matchers<T = any> {
    /** the scenario fails (a BUG, a violation or a liveness failure) under the controlled executor within the budget */
    toReproduce(o?: ReproduceOptions): Promise<T>;
    /** a free-running run of the scenario ends clean */
    toHold(o?: HoldOptions): Promise<T>;
    /** every schedule with at most `preemptions` preemptions ends clean (the bounded exhaustive search completes with 0 failures) */
    toHoldExhaustively(o?: ExhaustiveHoldOptions): Promise<T>;
  }
}

const label = (ref: ScenarioRef): string => (ref instanceof URL ? basename(ref.pathname) : String(ref));

/** where a schedule goes: next to the running test file, named after the scenario */
function next_to_test(ref: ScenarioRef, test_path: string | undefined): string | undefined {
  if (!test_path) return undefined;
  return join(dirname(test_path), `${basename(test_path).replace(/(\.(test|spec))?\.[cm]?[jt]sx?$/, '')}.${label(ref).replace(/\.[cm]?[jt]s$/, '').replace(/[^\w.-]+/g, '_')}.schedule.json`);
}

/** a failure's message: the splat, the interleaving, where the schedule went and the commands that replay and shrink it */
function failure_text(ref: ScenarioRef, f: Counterexample): string {
  const m = f.schedule.module ? ` --module ${ref instanceof URL ? ref.pathname : String(ref)}` : '';
  return `\n\n${f.splat ?? ''}\n\n${f.ladder}\n` +
    (f.saved ? `\nschedule saved: ${f.saved}\n  mmrace replay ${f.saved}${m} --verify\n  mmrace shrink ${f.saved}${m}` : '');
}

expect.extend({
  async toReproduce(received: ScenarioRef, o: ReproduceOptions = {}) {
    const protocol = o.protocol ?? 'buggy', runs = o.within?.runs ?? 500;
    // the schedule is worth saving only when the failure is the assertion's failure (.not)
    const out = this.isNot ? next_to_test(received, this.testPath) : undefined;
    const e = await explore(received, { protocol, iterations: runs, ops: o.within?.ops ?? 1, cpus: o.cpus, seed: o.seed, era: o.era, out });
    const f = e.first;
    return {
      pass: f !== null,
      message: () => f === null
        ? `expected ${label(received)} (${protocol}) to fail within ${runs} controlled runs (PCT, seed ${o.seed ?? 1}); every run held`
        : `expected ${label(received)} (${protocol}) to hold, but run ${f.schedule.found_by.iteration} failed: ${f.report.reason}${failure_text(received, f)}`,
    };
  },

  async toHold(received: ScenarioRef, o: HoldOptions = {}) {
    const protocol = o.protocol ?? 'fixed';
    const r = await run(received, { protocol, ops: o.ops ?? (o.duration_ms ? 0 : 10_000), duration_ms: o.duration_ms, cpus: o.cpus, seed: o.seed, era: o.era });
    // as --expect clean: a clean run in which one of the scenario's race windows never opened proved nothing
    return {
      pass: r.outcome === 'clean' && r.vacuous === null,
      message: () => r.outcome === 'clean'
        ? r.vacuous === null ? `expected ${label(received)} (${protocol}) to fail, but it held: ${r.ops} ops, 0 violations`
          : `expected ${label(received)} (${protocol}) to hold: it ended clean, but vacuous: window ${r.vacuous} never opened in ${r.ops} ops (more ops, more CPUs?)`
        : `expected ${label(received)} (${protocol}) to hold, but it ended ${r.outcome}: ${r.reason}\n\n${r.failure?.splat ?? r.lockdep.report?.text ?? ''}\n\nreplay: ${r.replay}`,
    };
  },

  async toHoldExhaustively(received: ScenarioRef, o: ExhaustiveHoldOptions = {}) {
    const protocol = o.protocol ?? 'fixed', K = o.preemptions ?? 2;
    // the schedule is worth saving when a failure found is the assertion's failure (not .not)
    const out = this.isNot ? undefined : next_to_test(received, this.testPath);
    const e = await explore_exhaustive(received, { protocol, preemptions: K, ops: o.ops, cpus: o.cpus, era: o.era, max_schedules: o.max_schedules, time_ms: o.time_ms, out });
    const f = e.first;
    const what = `${label(received)} (${protocol})`;
    const vacuous = e.windows.find((w) => w.count === 0)?.name ?? null; // as --expect clean: a window never opened proves nothing
    return {
      pass: e.complete && f === null && vacuous === null,
      message: () => f !== null
        ? `expected ${what} to hold in every schedule with <= ${K} preemptions, but run ${f.schedule.found_by.iteration} of K=${f.schedule.found_by.k} failed: ${f.report.reason}${failure_text(received, f)}`
        : e.complete && vacuous === null
          ? `expected ${what} to fail within ${K} preemptions, but ${e.verdict}`
          : `expected ${what} to hold in every schedule with <= ${K} preemptions: ${e.verdict}`,
    };
  },
});
