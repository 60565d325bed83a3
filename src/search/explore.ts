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
 * PCT's k when not given: how long an operation is, in decisions. A change
 * point only matters while at least two CPUs still run, and the preemption a
 * race needs falls inside one CPU's operation, with another CPU's steps
 * after it. Under PCT one CPU runs at a time, so the window is as long as
 * the operations themselves: the preemption points the first CPU to finish
 * passed (median of a few random-walk runs). xspeed: not the decisions of
 * every CPU up to that exit, as it was: a random walk interleaves the n CPUs,
 * so that count grows n-fold with the CPUs while an operation does not, and
 * on 4 CPUs it spread the change points four times too thin for the orphan
 * (found in 2 of 1,500 runs at k 450, in 6 at k 100). A CPU whose operation
 * returned at once (fewer than MIN_OP points) says nothing of the window:
 * the next CPU to finish is taken.
 */
export async function calibrate_k(ex: ControlledExecutor, o: ExploreOptions, runs = 9): Promise<number> {
  const ks: number[] = [];
  for (let i = 0; i < runs; i++) {
    const seed = mix_seed(o.seed ^ 0x6b63616c, i) & 0x7fffffff; // streams of their own: not the iterations'
    const r = await ex.run({ ...o.base, seed, strategy: { name: 'random', seed } });
    ex.release(r);
    const exit = r.switches.find((w) => w.why === WHY_EXIT && w.pp >= MIN_OP);
    ks.push(exit ? exit.pp : Math.ceil(r.steps / o.base.cpus));
  }
  ks.sort((a, b) => a - b);
  return Math.max(1, ks[runs >> 1]); // the median
}

/** xspeed: the fewest preemption points of an operation that says how long the window is */
const MIN_OP = 8;

export async function explore(ex: ControlledExecutor, o: ExploreOptions): Promise<StrategyReport[]> {
  const out: StrategyReport[] = [];
  for (const strategy of o.strategies) {
    const k = strategy === 'pct' ? o.k ?? await calibrate_k(ex, o) : null;
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
