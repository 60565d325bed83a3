// What the executor hands each CPU worker, and what the worker returns.
import type { SetupState } from '../scenarios/types.js';

export interface CpuTask {
  sab: SharedArrayBuffer;
  cpu: number;
  nr_cpus: number;
  seed: number;
  jitter: number;
  /** built-in scenario name, or module URL of a user scenario */
  scenario: string;
  role: string;
  setup: SetupState;
  /** ms a CPU waits at the start barrier before giving up */
  barrier_timeout_ms: number;
}

export interface CpuResult {
  cpu: number;
  /** 'done' (stopped when asked), 'bug' (this CPU hit the failure), 'halted' (unwound by another's), 'error' */
  status: 'done' | 'bug' | 'halted' | 'error';
  message?: string;
}
