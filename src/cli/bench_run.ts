// `mmrace bench`: the same scenario at each CPU count, one free run per
// count, and what each run measured: throughput, lock_stat, latency. A run
// that fails is reported as such (its figures are of a broken run).
import { availableParallelism } from 'node:os';
import { RunOptions, run_free } from '../exec/free_run.js';
import { build_report } from '../report/json.js';
import type { BenchPoint, BenchReport } from '../report/report_types.js';
import { FAULT_SAMPLE_EVERY, OP_SAMPLE_EVERY } from '../cpu/latency.js';

export interface BenchOptions extends Omit<RunOptions, 'cpus' | 'ops'> {
  cpus_list: number[];
  /** ms each point runs before it measures (fresh workers compile first) */
  warmup_ms: number;
  /** called after each point (progress) */
  on_point?: (p: BenchPoint) => void;
}

export async function run_bench(o: BenchOptions, version: string): Promise<BenchReport> {
  const cores = availableParallelism();
  const points: BenchPoint[] = [];
  let switches: string[] = [];
  let era = '';
  for (const cpus of o.cpus_list) {
    if (points.length && o.interrupt?.()) break;
    const r = await run_free({ ...o, cpus, ops: 0, warmup_ms: o.warmup_ms });
    const rep = build_report(r, { duration_ms: o.duration_ms }, null, null, version);
    switches = rep.switches;
    era = rep.era;
    const one = points.find((p) => p.cpus === 1);
    const p: BenchPoint = {
      cpus, oversubscription: cpus / cores, warmup_ms: r.warmup_ms, elapsed_ms: rep.elapsed_ms, ops: rep.ops, ops_per_s: rep.ops_per_s,
      ops_per_s_per_cpu: rep.ops_per_s / cpus, speedup: one && one.ops_per_s > 0 ? rep.ops_per_s / one.ops_per_s : null,
      outcome: rep.outcome, reason: rep.reason,
      contentions: rep.lock_stat.reduce((a, x) => a + x.contentions, 0),
      acquisitions: rep.lock_stat.reduce((a, x) => a + x.acquisitions, 0),
      lock_stat: rep.lock_stat, latency: rep.latency,
    };
    points.push(p);
    o.on_point?.(p);
  }
  const notes: string[] = [];
  const over = points.filter((p) => p.cpus > cores).map((p) => p.cpus);
  if (over.length) {
    notes.push(`${over.join(', ')} CPUs on ${cores} host cores: the simulated CPUs are threads that time-share the cores, so past ${cores} ` +
      'throughput measures lock hand-offs, parking and the OS scheduler, not parallel hardware. Contention then depends on which threads ' +
      'the OS runs together: a descheduled CPU cannot contend, and a descheduled holder makes its waiters wait longer, so waits grow while counts may fall.');
  }
  if (points.some((p) => p.cpus === 1) && points.some((p) => p.cpus > 1) && o.scenario.roles(1)[0] !== o.scenario.roles(2)[0]) {
    notes.push(`1 CPU runs role '${o.scenario.roles(1)[0]}' (every operation on one CPU); from 2 CPUs each CPU has a role, so the mix of operations differs from the 1-CPU point and speedup compares unlike workloads.`);
  }
  if (o.warmup_ms > 0) {
    const w = points.map((p) => p.warmup_ms);
    notes.push(`each point warmed up for ${(Math.min(...w) / 1000).toFixed(2)}-${(Math.max(...w) / 1000).toFixed(2)} s, then measured for about ${o.duration_ms / 1000} s; ` +
      'every CPU zeroed its counters when the warm-up ended, so nothing of the warm-up (minima and maxima included) is in the figures.');
  }
  notes.push(`hold times are sampled (1 acquisition in 16, at random); wait times are measured on every contended acquisition; operations are timed 1 in ${OP_SAMPLE_EVERY} and page faults 1 in ${FAULT_SAMPLE_EVERY}, at random.`);
  const sig = o.interrupt?.();
  if (sig) notes.push(`interrupted by ${sig}: ${points.length} of ${o.cpus_list.length} points ran (the last may be cut short)`);
  const failed = points.filter((p) => p.outcome !== 'clean');
  if (failed.length) notes.push(`not clean: ${failed.map((p) => `${p.cpus} CPUs ${p.outcome}: ${p.reason}`).join('; ')} (figures of a run that stopped at its failure)`);
  const jitter = ['none', 'light', 'heavy'][o.jitter] ?? String(o.jitter);
  return {
    schema: 'mmrace.bench/1', tool: `mmrace ${version}`, scenario: o.scenario.name, era, protocol: o.protocol, switches, cores,
    duration_ms: o.duration_ms, warmup_ms: o.warmup_ms, seed: o.seed, jitter, points, notes,
    replay: `mmrace bench ${o.scenarioAsTyped ?? o.scenario.name}${o.era === undefined ? '' : ` --era ${o.era}`} --protocol ${o.protocol} --cpus ${o.cpus_list.join(',')} --duration ${o.duration_ms / 1000} --warmup ${o.warmup_ms / 1000} --seed ${o.seed} --jitter ${jitter}`,
  };
}
