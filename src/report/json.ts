// The machine-readable record of a run. Versioned: a consumer checks
// `schema` first. Documented in README.md ("JSON output").
import { CPUSTAT, PERCPU } from '../shm/layout.js';
import { MachineView, cpustat_base, percpu_base } from '../shm/machine.js';
import { era_of } from '../shm/era.js';
import { collect_events } from '../cpu/events.js';
import type { RunResult } from '../exec/free_run.js';
import type { Outcome } from '../check/outcome.js';
import { lock_stat_rows } from './lock_stat.js';
import { focus_of, story } from './interleaving.js';
import { headline, splat } from './splat.js';
import type { LatencySummary, LockdepSection } from './report_types.js';
import { latency_summaries } from './latency.js';
import { lockdep_section } from './lockdep.js';
import { WindowCount, never_opened } from '../cpu/windows.js';
import type { Overlap } from '../worker/overlap.js';
import { read_warn } from '../check/warn.js';

export const RUN_SCHEMA = 'mmrace.run/2';

/** every CPUSTAT counter of `cpu` in a run's Machine (as its result keeps it); `ops`: the executor's 64-bit count, where it kept one (the shared counter is 32-bit) */
export function cpu_counters(m: MachineView, cpu: number, ops?: number): Record<string, number> {
  const b = cpustat_base(cpu, m.bases);
  const out: Record<string, number> = { ops: ops ?? m.i32[percpu_base(cpu, m.bases) + PERCPU.ops] };
  for (const f of CPUSTAT.fields) out[f] = m.i32[b + CPUSTAT[f]];
  return out;
}

export interface RunReport {
  schema: string; tool: string; scenario: string;
  /** the kernel modelled: era and version, 'E2 (2.6.18)' */
  era: string;
  protocol: string; switches: string[];
  /** the era's own pre-patch lines that were on too (kernel-notes 7) */
  era_baseline: string[];
  /** mmrace's bounds checker: the first out-of-bounds access of a run that went on past it (message and call trace), or null */
  bounds_note: string | null;
  cpus: number; roles: string[];
  seed: number; jitter: string; budget: { ops: number } | { duration_ms: number }; outcome: Outcome;
  /** why the run ended with its outcome, in one line (README "Outcomes and exit codes") */
  reason: string;
  /** the signal that ended the run early (SIGINT, SIGTERM), or null */
  interrupted: string | null;
  expect: string | null; expectation_met: boolean | null; elapsed_ms: number; ops: number; ops_per_s: number;
  first_failure_ms: number | null; failure: null | { kind: string; cpu: number; pfn: number; message: string; splat: string };
  interleaving: { seq: number; cpu: number; event: string; text: string }[]; invariants: string[];
  lock_stat: ReturnType<typeof lock_stat_rows>; latency: LatencySummary[]; lockdep: LockdepSection; per_cpu: (Record<string, number | string>)[]; replay: string;
  /** the run's first WARN_ON (2.6's "Badness in ... at ...:N" and its call trace), the CPU that hit it and how many fired in all; null if none (a warning never fails a run) */
  warning: { cpu: number; count: number; text: string } | null;
  /** cov: how often each race window the scenario declares opened in this run (README "Race-window coverage") */
  windows: WindowCount[];
  /** cov: a clean run in which this window (the first such) never opened: the verdict is vacuous; null otherwise */
  vacuous: string | null;
  /** load: how much the CPUs ran at the same time (the fraction of samples in which another CPU progressed too) and adaptive jitter's yields; null for a controlled run (src/worker/overlap.ts) */
  overlap: Overlap | null;
}

/**
 * the one line that says why a run ended as it did: the executor's own words
 * where it has them (a deadlock's cycle, CPUs that did not stop, a CPU that
 * failed), else the failure's first line, lockdep's cycle, or what the CPUs
 * reported
 */
export function reason_of(r: RunResult): string {
  if (r.reason) return r.reason;
  if (r.oops) {
    // a deadlock's report carries its wait-for cycle: that is the reason (the controlled scheduler's, the watchdog's)
    const cycle = r.outcome === 'liveness' ? /^mmrace: wait-for cycle: (.*)$/m.exec(r.oops.text) : null;
    return cycle ? `deadlock: ${cycle[1]} (${headline(r.oops).replace(/^mmrace: /, '')})` : headline(r.oops); // an end-of-run sweep's says so: 'invariant violated at the end of the run'
  }
  if (r.outcome === 'violation' && r.lockdep_cycle) return `lockdep: possible circular locking dependency (${r.lockdep_cycle})`;
  if (r.outcome === 'clean') return 'every CPU stopped when asked and no check failed';
  const bad = r.cpu_results.filter((c) => c.status !== 'done');
  if (bad.length) return bad.map((c) => `CPU ${c.cpu} (${r.roles[c.cpu] ?? '?'}) ${c.status}${c.message ? `: ${c.message.split('\n')[0]}` : ''}`).join('; ');
  return r.watchdog?.split('\n')[0] ?? `${r.outcome} (no further reason recorded)`;
}

function warning_of(m: MachineView): RunReport['warning'] {
  const w = read_warn(m);
  return w ? { cpu: w.cpu, count: w.count, text: w.text } : null;
}

/** cov: the window that never opened in a clean run (its verdict is then vacuous), or null */
export function vacuous_of(r: Pick<RunResult, 'outcome' | 'windows'>): string | null {
  return r.outcome === 'clean' ? never_opened(r.windows) : null;
}

/** the report of a run, from its result alone (the Machine it keeps, never the live one: the next run may be booting) */
export function build_report(r: RunResult, budget: RunReport['budget'], expect: string | null, met: boolean | null, version: string): RunReport {
  const m = r.machine;
  const events = collect_events(m);
  const o = r.oops;
  const b = 'ops' in budget ? `--ops ${budget.ops}` : `--duration ${budget.duration_ms / 1000}`;
  const vacuous = vacuous_of(r);
  return {
    schema: RUN_SCHEMA, tool: `mmrace ${version}`, scenario: r.scenario, era: r.era, protocol: r.protocol, switches: r.switches, era_baseline: r.baseline, bounds_note: r.bounds,
    cpus: r.cpus, roles: r.roles, seed: r.seed, jitter: r.jitter, budget, outcome: r.outcome, reason: vacuous ? `vacuous: window ${vacuous} never opened (${reason_of(r)})` : reason_of(r), interrupted: r.interrupted ?? null, expect, expectation_met: met,
    elapsed_ms: r.elapsed_ms, ops: r.ops, ops_per_s: r.elapsed_ms > 0 ? r.ops / (r.elapsed_ms / 1000) : 0,
    first_failure_ms: r.first_failure_ms,
    failure: o ? { kind: o.kindName, cpu: o.cpu, pfn: o.pfn, message: headline(o), splat: splat(o, events, r.roles, r.protocol, r.switches, r.era, era_of(m).id) } : null,
    interleaving: (o ? story(events, focus_of(o)) : []).map((e) => ({ seq: e.seq, cpu: e.cpu, event: e.name, text: e.text })),
    invariants: r.invariants,
    lock_stat: lock_stat_rows(m),
    latency: latency_summaries(m),
    lockdep: lockdep_section(r.roles, `mmrace ${version} ${r.era} ${r.protocol}${r.switches.length ? ` [${r.switches.join(', ')}]` : ''}`, m),
    per_cpu: r.roles.map((role, cpu) => ({ cpu, role, status: r.cpu_results[cpu]?.status ?? '?', ...cpu_counters(m, cpu, r.cpu_ops?.[cpu]) })),
    replay: `mmrace run ${r.scenario_arg}${r.era_arg} --protocol ${r.protocol} --cpus ${r.cpus} --seed ${r.seed} --jitter ${r.jitter} ${b}`,
    windows: r.windows, vacuous,
    warning: warning_of(m),
    overlap: r.overlap ?? null,
  };
}
