// The shapes of what a run or a bench reports, shared by the JSON, text and
// HTML reports. Versioned by the `schema` field of the enclosing report
// (mmrace.run/2, mmrace.bench/1); README.md "JSON output" documents them.
import type { LockStatRow } from './lock_stat.js';
import type { Outcome } from '../check/outcome.js';

export type { LockStatRow };

/** one operation kind's latency, merged over all CPUs (hdr-histogram-js) */
export interface LatencySummary {
  /** what was timed: a CPU's whole operation ("op:migrate_pages") or a kernel path ("do_page_fault") */
  op: string;
  /** values recorded (timing is sampled: 1 in `sample_every`) */
  samples: number;
  sample_every: number;
  min_ns: number; mean_ns: number; p50_ns: number; p90_ns: number; p99_ns: number; p999_ns: number; max_ns: number;
  /** the percentile curve for charts: percentile (0..100) and value in ns */
  curve: { p: number; ns: number }[];
}

/** one lock-order dependency lockdep recorded: `to` taken (or waited for) while `from` was held */
export interface LockOrderEdge {
  from: string; to: string;
  /** 'lock' for an acquisition, 'wait' for a wait without acquiring (wait_on_page_locked) */
  kind: 'lock' | 'wait';
  /** where it was first seen */
  cpu: number; role: string; path: string; stack: string[];
}

export interface LockdepSection {
  /** the lock-order graph by class */
  edges: LockOrderEdge[];
  /** a cycle, reported as the kernel's "possible circular locking dependency" */
  report: null | { cycle: string[]; cpu: number; text: string };
  /** set if lockdep turned itself off during the run ("BUG: MAX_LOCK_DEPTH too low!"), else null */
  disabled: string | null;
}

/** one CPU count of `mmrace bench` */
export interface BenchPoint {
  cpus: number;
  /** simulated CPUs per host core (> 1: threads time-share cores) */
  oversubscription: number;
  /** ms the point ran before it measured (0: no warm-up) */
  warmup_ms: number;
  elapsed_ms: number; ops: number; ops_per_s: number; ops_per_s_per_cpu: number;
  /** speedup over the 1-CPU point, null if there is none */
  speedup: number | null;
  outcome: Outcome;
  /** why the point ended with its outcome (a run report's `reason`) */
  reason: string;
  contentions: number; acquisitions: number;
  lock_stat: LockStatRow[];
  latency: LatencySummary[];
  // scale (issue 16 item 4): throughput by kind of work, and the raw harness's ceiling
  /** kernel events per second, summed over the CPUs (CPUSTAT: faults, cow, forks, exits, migrate_ok), the non-zero ones */
  events_per_s?: Record<string, number>;
  /** ops/s by kind of operation (its first kernel path), from the sampled operation timings */
  kinds?: BenchKind[];
  /** work-weighted throughput: each kind's ops/s times its weight (ns), summed, in seconds of work per second */
  work_per_s?: number;
  /** work_per_s over the 1-CPU point's, null if there is none */
  work_speedup?: number | null;
  /** the raw harness (src/cli/bench_raw.ts) on as many workers, measured just before this point */
  raw_ops_per_s?: number;
  /** raw_ops_per_s over the raw harness's on 1 worker in the same run, null if there is none */
  raw_speedup?: number | null;
  /** the scenario as this many separate 1-CPU processes run together (src/cli/bench_procs.ts), measured just before this point: their ops/s summed */
  procs_ops_per_s?: number;
  /** procs_ops_per_s over one such process alone in the same run, null if there is none */
  procs_speedup?: number | null;
  /** CPU seconds the whole process used while the point measured (0: not measured, e.g. no warm-up) */
  cpu_s?: number;
  /** operations per CPU second: what the work costs, however loaded the host */
  ops_per_cpu_s?: number;
  /** ops_per_cpu_s over the 1-CPU point's: 1 = no cost of running beside other CPUs; cpus x efficiency is the speedup idle cores would give */
  efficiency?: number;
  raw_ops_per_cpu_s?: number;
  /** the raw harness's ops per CPU second over its 1-worker figure */
  raw_efficiency?: number | null;
}

/** one kind of operation in a bench point (scale: issue 16 item 4) */
export interface BenchKind {
  /** 'op:dup_mmap' */
  op: string;
  ops_per_s: number;
  /** ns of work one operation of this kind counts for: its p50 at the bench's first point */
  weight_ns: number;
}

/**
 * `--rounds N` (scale, issue 16 item 4): the sweep of CPU counts run N times
 * in turn, so that each round's ratios are of points measured minutes apart
 * at most, and a noisy host shows as a spread, not as one lucky figure
 */
export interface BenchRounds {
  /** rounds run (fewer than asked if interrupted) */
  n: number;
  /** the round whose points the report gives (0-based): the median by the last point's speedup */
  median_round: number;
  /** per CPU count, each round's figures in round order (null where a round had none) */
  per_cpus: {
    cpus: number;
    ops_per_s: number[];
    speedup: (number | null)[];
    raw_speedup: (number | null)[];
    procs_speedup: (number | null)[];
  }[];
}

export interface BenchReport {
  schema: 'mmrace.bench/1';
  tool: string; scenario: string;
  /** the kernel modelled: 'E2 (2.6.18)' */
  era: string;
  protocol: string; switches: string[];
  /** host cores (os.availableParallelism()) */
  cores: number;
  /** each point: warmup_ms unmeasured, then duration_ms measured */
  duration_ms: number; warmup_ms: number; seed: number; jitter: string;
  points: BenchPoint[];
  /** present with --rounds N > 1: every round's ratios; `points` are the median round's */
  rounds?: BenchRounds;
  /** caveats printed with the table (oversubscription, sampling) */
  notes: string[];
  replay: string;
}
