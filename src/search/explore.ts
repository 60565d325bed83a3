// Exploration: many controlled runs of one scenario, each under a fresh
// seeded schedule, per strategy; counts how often each strategy makes the
// run fail and keeps the first failing run (to be saved as a schedule).
// Iteration i of a strategy uses the seed mix(S, i) for both the CPUs'
// choices and the strategy, so any iteration can be rerun on its own.
import { ControlledExecutor, ControlledOptions, ControlledRun, StrategySpec } from '../exec/controlled.js';
import { failure_signature } from './schedule.js';
import { WHY_EXIT, mix_seed } from '../worker/sched_state.js';
import { WindowCount, add_window_counts } from '../cpu/windows.js';

export type ExploreStrategy = 'random' | 'pct';

export interface ExploreOptions {
  /** everything but the seed and the strategy, which each iteration draws */
  base: Omit<ControlledOptions, 'seed' | 'strategy'>;
  strategies: ExploreStrategy[];
  iterations: number;
  seed: number;
  /** PCT bug depth d (d - 1 change points) */
  depth: number;
  /** PCT: decisions to spread the change points over; null: calibrate (calibrate_k) */
  k: number | null;
  stop_at_first?: boolean;
  /** asked after each iteration: true ends the exploration there (a caller's time budget) */
  stop?: () => boolean;
  progress?: (strategy: string, done: number, failures: number) => void;
}

export interface StrategyReport {
  strategy: ExploreStrategy;
  depth: number | null;
  k: number | null;
  iterations: number;
  failures: number;
  liveness: number;
  hit_rate: number;
  first_failure_iteration: number | null;
  /** failure signature -> runs that ended in it */
  kinds: Record<string, number>;
  decisions: number;
  hand_offs: number;
  wall_ms: number;
  first: { options: ControlledOptions; run: ControlledRun; iteration: number } | null;
  /** cov: how often each of the scenario's race windows opened, over all its runs */
  windows: WindowCount[];
}

/** the seed of iteration i (CPU choices and strategy alike) */
export const iteration_seed = (seed: number, i: number): number => mix_seed(seed, i) & 0x7fffffff;

export function spec_for(strategy: ExploreStrategy, seed: number, depth: number, k: number): StrategySpec {
  return strategy === 'random' ? { name: 'random', seed } : { name: 'pct', seed, depth, k };
}

/**
 * PCT's k when not given: how long the CPUs overlap. A change point only
 * matters while at least two CPUs still run, so the d-1 points are spread
 * over the decisions a random walk (CPUs advancing at the same pace) makes
 * before the first CPU has finished its operations (median of a few runs).
 * xspeed: divided by n - 1 on more than 2 CPUs (2 CPUs: as it was). A random
 * walk interleaves all n CPUs, so that count grows with every CPU added,
 * while a race between two of them does not; under PCT one CPU runs at a
 * time. Measured on the orphan, 4 CPUs: the first exit came at ~450
 * decisions, and PCT hit in 0.13% of runs at k 450, 0.53% at 150, 0 at 1200;
 * found within 500 runs in each of seeds 1-5 at k 150, not in seed 4 at 225.
 * On 2 CPUs a smaller k lost mremap-mapcount-race (6 of 300 runs at k 638, 0
 * at 253), so 2 CPUs keep theirs. A CPU whose operation returned at once
 * (fewer than MIN_OP points of its own) is not the exit counted on more
 * than 2 CPUs (issue 16 saw the window come out as 4-6 decisions on 4).
 */
export async function calibrate_k(ex: ControlledExecutor, o: ExploreOptions, runs = 9): Promise<number> {
  const ks: number[] = [];
  const n = o.base.cpus;
  for (let i = 0; i < runs; i++) {
    const seed = mix_seed(o.seed ^ 0x6b63616c, i) & 0x7fffffff; // streams of their own: not the iterations'
    const r = await ex.run({ ...o.base, seed, strategy: { name: 'random', seed } });
    ex.release(r);
    const exit = r.switches.find((w) => w.why === WHY_EXIT && (n <= 2 || w.pp >= MIN_OP));
    ks.push(Math.round((exit ? exit.step : r.steps) / Math.max(1, n - 1)));
  }
  ks.sort((a, b) => a - b);
  return Math.max(1, ks[runs >> 1]); // the median: an operation that returns at once says little
}

/** xspeed: the fewest preemption points of an operation that says how long the window is (more than 2 CPUs) */
const MIN_OP = 8;

export async function explore(ex: ControlledExecutor, o: ExploreOptions): Promise<StrategyReport[]> {
  const out: StrategyReport[] = [];
  for (const strategy of o.strategies) {
    // the scenario's own window on 2 CPUs (Scenario.pct_k), else the measured one
    const hint = o.base.cpus <= 2 ? o.base.scenario.pct_k : undefined;
    const k = strategy === 'pct' ? o.k ?? hint ?? await calibrate_k(ex, o) : null;
    const rep: StrategyReport = {
      strategy, depth: strategy === 'pct' ? o.depth : null, k, iterations: 0, failures: 0, liveness: 0, hit_rate: 0,
      first_failure_iteration: null, kinds: {}, decisions: 0, hand_offs: 0, wall_ms: 0, first: null, windows: [],
    };
    for (let i = 0; i < o.iterations && !o.stop?.(); i++) {
      const seed = iteration_seed(o.seed, i);
      const options: ControlledOptions = { ...o.base, seed, strategy: spec_for(strategy, seed, o.depth, k ?? 1) };
      const r = await ex.run(options);
      if (r.run.outcome === 'internal') {
        throw new Error(`internal error in ${strategy} iteration ${i}: ${(r.run.oops?.text ?? r.run.watchdog ?? 'a CPU did not finish').split('\n')[0]}`);
      }
      rep.iterations++;
      rep.decisions += r.steps;
      rep.hand_offs += r.switches.length;
      rep.wall_ms += r.wall_ms;
      rep.windows = add_window_counts(rep.windows, r.run.windows);
      if (r.run.outcome !== 'clean') {
        rep.failures++;
        if (r.run.outcome === 'liveness') rep.liveness++;
        const sig = failure_signature(r.run);
        rep.kinds[sig] = (rep.kinds[sig] ?? 0) + 1;
        if (!rep.first) { rep.first = { options, run: r, iteration: i }; rep.first_failure_iteration = i; }
      }
      if (rep.first?.run !== r) ex.release(r); // xspeed: only the first failure's Machine is kept (constant memory)
      o.progress?.(strategy, i + 1, rep.failures);
      if ((o.stop_at_first && rep.first) || o.stop?.()) break;
    }
    rep.hit_rate = rep.iterations ? rep.failures / rep.iterations : 0;
    out.push(rep);
    if (o.stop?.()) break; // the other strategies too
  }
  return out;
}
