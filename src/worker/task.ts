// What the executor hands each CPU worker, and what the worker returns.
import type { SetupState } from '../scenarios/types.js';
import type { ControlledTask } from './sched_cpu.js';

export interface CpuTask {
  sab: SharedArrayBuffer;
  cpu: number;
  nr_cpus: number;
  seed: number;
  jitter: number;
  /** built-in scenario name, or module URL of a user scenario */
  scenarioImport: string;
  role: string;
  setup: SetupState;
  /** ms a CPU waits at the start barrier before giving up */
  barrier_timeout_ms: number;
  /** set when the controlled executor runs this CPU (one CPU at a time, src/exec/controlled.ts) */
  controlled?: ControlledTask;
}

export interface CpuResult {
  cpu: number;
  /** 'done' (stopped when asked), 'bug' (this CPU hit the failure), 'halted' (unwound by another's), 'error',
   *  'stuck' (never came back: blocked or looping when the executor gave up on it) */
  status: 'done' | 'bug' | 'halted' | 'error' | 'stuck';
  message?: string;
  /** controlled: this CPU's hand-offs (LOG_FIELDS numbers each, src/worker/sched_cpu.ts) */
  switches?: number[];
  /** controlled with call sites: where each hand-off happened */
  sites?: string[];
  /** controlled under the exhaustive search: every decision (TRAIL_FIELDS numbers each, src/worker/sched_cpu.ts) */
  trail?: number[];
  /** controlled with points (capture): every point's kind and object, in order */
  points?: number[];
  /** free-running with JITTER_RECORD: each step's first and last numbers, by the point it starts at (src/worker/sched_record.ts) */
  record?: Int32Array;
}
