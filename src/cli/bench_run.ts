// `mmrace bench`: the same scenario at each CPU count, one free run per
// count, and what each run measured: throughput, lock_stat, latency. A run
// that fails is reported as such (its figures are of a broken run).
import { availableParallelism } from 'node:os';
import { RunOptions, run_free } from '../exec/free_run.js';
import { build_report } from '../report/json.js';
import type { BenchPoint, BenchReport, BenchRounds } from '../report/report_types.js';
import { FAULT_SAMPLE_EVERY, OP_SAMPLE_EVERY } from '../cpu/latency.js';
import { CPUSTAT } from '../shm/layout.js'; // scale
import { MachineView, cpustat_base } from '../shm/machine.js'; // scale
import { raw_point } from './bench_raw.js'; // scale
import { procs_point } from './bench_procs.js'; // scale

export interface BenchOptions extends Omit<RunOptions, 'cpus' | 'ops'> {
  cpus_list: number[];
  /** ms each point runs before it measures (fresh workers compile first) */
  warmup_ms: number;
  /** called after each point (progress), with its round (0-based) */
  on_point?: (p: BenchPoint, round: number) => void;
  /**
   * scale: before each point, run the raw harness (src/cli/bench_raw.ts) on as many workers, and the
   * scenario as that many separate 1-CPU processes (src/cli/bench_procs.ts): the same run's ceilings
   */
  ceilings?: boolean;
  /** run the sweep of cpus_list this many times in turn (default 1); the report gives the median round's points and every round's ratios */
  rounds?: number;
}

// scale (issue 16 item 4): throughput by kind of work
/** the kernel events a bench point reports per second */
const EVENT_RATES = ['faults', 'cow', 'forks', 'exits', 'migrate_ok'] as const;

function events_per_s(m: MachineView, cpus: number, secs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of EVENT_RATES) {
    let n = 0;
    for (let c = 0; c < cpus; c++) n += m.i32[cpustat_base(c, m.bases) + CPUSTAT[f]];
    if (n > 0) out[f] = n / secs;
  }
  return out;
}

/**
 * each point's ops/s by kind (its share of the sampled operation timings),
 * weighted by the first point's p50 of that kind: work done per second, in
 * seconds of the first point's work, so a change of mix does not pass for a
 * change of speed
 */
function weigh_work(points: BenchPoint[]): void {
  const first = points[0];
  if (!first) return;
  const one = points.find((p) => p.cpus === 1);
  for (const p of points) {
    const ops = p.latency.filter((l) => l.op.startsWith('op:') && l.samples > 0);
    const total = ops.reduce((a, l) => a + l.samples, 0);
    p.kinds = ops.map((l) => ({ op: l.op, ops_per_s: total ? p.ops_per_s * l.samples / total : 0, weight_ns: first.latency.find((x) => x.op === l.op)?.p50_ns ?? l.p50_ns }));
    p.work_per_s = p.kinds.reduce((a, k) => a + k.ops_per_s * k.weight_ns / 1e9, 0);
  }
  for (const p of points) p.work_speedup = one?.work_per_s ? p.work_per_s! / one.work_per_s : null;
}

/**
 * scale: the process's CPU time (every thread: the CPUs', and the main
 * thread's ticks) while a point measures: from warmup_ms after the CPUs
 * started to duration_ms later, read at the executor's ticks through the
 * hook it calls every tick (so within a tick, 10 ms, of each end; the CLI
 * reads no live Machine). What a point's operations cost in CPU, however
 * loaded the host.
 */
function cpu_meter(warmup_ms: number, duration_ms: number, inner?: () => string | null): { interrupt: () => string | null; seconds: () => number } {
  const TICK_MS = 10; // the executor's first tick comes about one tick after the CPUs start
  let start = -1, from: NodeJS.CpuUsage | null = null, used = 0;
  return {
    interrupt: () => {
      const t = performance.now();
      if (start < 0) start = t - TICK_MS;
      if (from === null && t - start >= warmup_ms) from = process.cpuUsage();
      else if (from && used === 0 && t - start >= warmup_ms + duration_ms) {
        const d = process.cpuUsage(from);
        used = (d.user + d.system) / 1e6;
      }
      return inner?.() ?? null;
    },
    seconds: () => used,
  };
}

/**
 * scale: when the mix of roles changes from one CPU count to the next, say so
 * (a speedup then compares unlike workloads); when it never does, say that
 */
export function role_mix_notes(roles: (n: number) => string[], counts: number[]): string[] {
  const mix = (n: number) => {
    const m = new Map<string, number>();
    for (const r of roles(n)) m.set(r, (m.get(r) ?? 0) + 1 / n);
    return m;
  };
  const show = (n: number) => [...mix(n)].map(([r, f]) => `${r} ${Math.round(f * 100)}%`).join(', ');
  const same = (a: number, b: number) => {
    const x = mix(a), y = mix(b);
    return x.size === y.size && [...x].every(([r, f]) => Math.abs((y.get(r) ?? -1) - f) < 1e-9);
  };
  const changed = counts.slice(1).flatMap((n, i) => (same(counts[i], n) ? [] : [`${counts[i]} -> ${n} CPUs: ${show(counts[i])} -> ${show(n)}`]));
  if (counts.length < 2) return [];
  if (changed.length === 0) return [`the role mix is the same at every point (${show(counts[0])}): ops/s compare like workloads.`];
  return [`the role mix changes with the CPU count (${changed.join('; ')}): ops/s compare unlike workloads; see the work-weighted figures.`];
}

/**
 * one sweep of o.cpus_list (round `round`, 0-based): a point per CPU count,
 * each with its ceilings when asked. Odd rounds run the counts in reverse
 * (1, 2, then 2, 1, ...: ABBA), so that a host getting slower or faster
 * through a run does not favour the count that always runs first. The
 * ratios are worked out once the sweep is over; the points come back in
 * cpus_list order.
 */
async function sweep(o: BenchOptions, version: string, round: number): Promise<{ points: BenchPoint[]; switches: string[]; era: string }> {
  const cores = availableParallelism();
  const points: BenchPoint[] = [];
  let switches: string[] = [];
  let era = '';
  const order = round % 2 === 1 ? [...o.cpus_list].reverse() : o.cpus_list;
  for (const cpus of order) {
    if ((points.length || round > 0) && o.interrupt?.()) break;
    const rawp = o.ceilings ? await raw_point(cpus, Math.min(o.duration_ms, 1000), Math.min(o.warmup_ms, 300)) : null; // scale
    const procsp = o.ceilings ? await procs_point(cpus, { scenario: o.scenarioAsTyped ?? o.scenario.name, era: o.era, seed: o.seed, duration_ms: o.duration_ms }) : null; // scale
    const cpu = cpu_meter(o.warmup_ms, o.duration_ms, o.interrupt);
    const r = await run_free({ ...o, cpus, ops: 0, warmup_ms: o.warmup_ms, interrupt: cpu.interrupt });
    const rep = build_report(r, { duration_ms: o.duration_ms }, null, null, version);
    switches = rep.switches;
    era = rep.era;
    const p: BenchPoint = {
      cpus, oversubscription: cpus / cores, warmup_ms: r.warmup_ms, elapsed_ms: rep.elapsed_ms, ops: rep.ops, ops_per_s: rep.ops_per_s,
      ops_per_s_per_cpu: rep.ops_per_s / cpus, speedup: null,
      outcome: rep.outcome, reason: rep.reason,
      contentions: rep.lock_stat.reduce((a, x) => a + x.contentions, 0),
      acquisitions: rep.lock_stat.reduce((a, x) => a + x.acquisitions, 0),
      lock_stat: rep.lock_stat, latency: rep.latency,
      events_per_s: events_per_s(r.machine, cpus, rep.elapsed_ms / 1000), // scale
      cpu_s: cpu.seconds(), // scale
    };
    if (p.cpu_s) p.ops_per_cpu_s = rep.ops / p.cpu_s;
    if (rawp) { p.raw_ops_per_s = rawp.ops_per_s; p.raw_ops_per_cpu_s = rawp.ops_per_cpu_s; } // scale
    if (procsp !== null) p.procs_ops_per_s = procsp; // scale
    points.push(p);
    o.on_point?.(p, round);
  }
  points.sort((a, b) => o.cpus_list.indexOf(a.cpus) - o.cpus_list.indexOf(b.cpus));
  ratios(points);
  weigh_work(points); // scale
  return { points, switches, era };
}

/** each point's ratios to the same sweep's 1-CPU point (null without one): speedup, efficiency, and the ceilings' */
function ratios(points: BenchPoint[]): void {
  const one = points.find((p) => p.cpus === 1);
  const per = (v: number | undefined, base: number | undefined) => (v !== undefined && base ? v / base : null);
  for (const p of points) {
    // the 1-CPU point's own speedup and efficiency stay unset ('-' in the tables), its ceilings' ratios read 1
    p.speedup = one && p !== one && one.ops_per_s > 0 ? p.ops_per_s / one.ops_per_s : null;
    if (one?.ops_per_cpu_s && p !== one && p.ops_per_cpu_s) p.efficiency = p.ops_per_cpu_s / one.ops_per_cpu_s;
    if (p.raw_ops_per_s !== undefined) { // scale
      p.raw_speedup = per(p.raw_ops_per_s, one?.raw_ops_per_s);
      p.raw_efficiency = per(p.raw_ops_per_cpu_s, one?.raw_ops_per_cpu_s);
    }
    if (p.procs_ops_per_s !== undefined) p.procs_speedup = per(p.procs_ops_per_s, one?.procs_ops_per_s); // scale
  }
}

/** the figure a round is ranked by: its last point's speedup (or ops/s, with one point) */
const rank_of = (points: BenchPoint[]): number => {
  const last = points[points.length - 1];
  return last ? (last.speedup ?? last.ops_per_s) : 0;
};

/** every round's ratios per CPU count, and which round is the median (complete rounds only) */
function rounds_of(all: BenchPoint[][], cpus_list: number[]): BenchRounds {
  const whole = all.map((pts, i) => ({ pts, i })).filter((r) => r.pts.length === cpus_list.length);
  const byRank = [...(whole.length ? whole : all.map((pts, i) => ({ pts, i })))].sort((a, b) => rank_of(a.pts) - rank_of(b.pts));
  const median_round = byRank[(byRank.length - 1) >> 1]?.i ?? 0;
  const at = (pts: BenchPoint[], cpus: number) => pts.find((p) => p.cpus === cpus);
  return {
    n: all.length, median_round,
    per_cpus: cpus_list.map((cpus) => ({
      cpus,
      ops_per_s: all.map((pts) => at(pts, cpus)?.ops_per_s ?? 0),
      speedup: all.map((pts) => at(pts, cpus)?.speedup ?? null),
      raw_speedup: all.map((pts) => at(pts, cpus)?.raw_speedup ?? null),
      procs_speedup: all.map((pts) => at(pts, cpus)?.procs_speedup ?? null),
    })),
  };
}

export async function run_bench(o: BenchOptions, version: string): Promise<BenchReport> {
  const cores = availableParallelism();
  const nrounds = Math.max(1, o.rounds ?? 1);
  const all: BenchPoint[][] = [];
  let switches: string[] = [];
  let era = '';
  for (let k = 0; k < nrounds; k++) {
    if (k > 0 && o.interrupt?.()) break;
    const r = await sweep(o, version, k);
    if (r.points.length === 0) break;
    all.push(r.points);
    switches = r.switches;
    era = r.era;
  }
  const rounds = nrounds > 1 ? rounds_of(all, o.cpus_list) : undefined;
  const points = all[rounds?.median_round ?? 0] ?? [];
  const notes: string[] = [];
  const over = points.filter((p) => p.cpus > cores).map((p) => p.cpus);
  if (over.length) {
    notes.push(`${over.join(', ')} CPUs on ${cores} host cores: the simulated CPUs are threads that time-share the cores, so past ${cores} ` +
      'throughput measures lock hand-offs, parking and the OS scheduler, not parallel hardware. Contention then depends on which threads ' +
      'the OS runs together: a descheduled CPU cannot contend, and a descheduled holder makes its waiters wait longer, so waits grow while counts may fall.');
  }
  notes.push(...role_mix_notes(o.scenario.roles.bind(o.scenario), points.map((p) => p.cpus))); // scale: every change of mix, not only 1 -> 2 CPUs
  if (points.some((p) => p.kinds?.length)) {
    notes.push(`work-weighted throughput: each kind of operation (named by its first kernel path) counts for its p50 at the ${points[0].cpus}-CPU point; ` +
      `its ops/s are the point's ops/s shared out as its sampled timings (1 in ${OP_SAMPLE_EVERY}) are; a speedup of work is one at an unchanged mix of work.`);
  }
  if (o.ceilings && points.some((p) => p.cpus === 1 && (p.raw_ops_per_s ?? 0) > 0)) {
    notes.push('raw: the raw harness (plain JavaScript doing the same shape of work on as many worker threads, no model: src/cli/bench_raw.ts) run just before each point; ' +
      'its ratio is what this machine gives disjoint work at all, the ceiling for the model\'s.');
    notes.push('procs: the same scenario as that many separate processes of 1 CPU each, run together just before each point (src/cli/bench_procs.ts); they share no Machine, ' +
      'so their ratio is what this machine gives the model\'s own code and working set, and the model\'s speedup against it is what sharing one Machine costs.');
  }
  if (o.warmup_ms > 0) {
    const w = points.map((p) => p.warmup_ms);
    notes.push(`each point warmed up for ${(Math.min(...w) / 1000).toFixed(2)}-${(Math.max(...w) / 1000).toFixed(2)} s, then measured for about ${o.duration_ms / 1000} s; ` +
      'every CPU zeroed its counters when the warm-up ended, so nothing of the warm-up (minima and maxima included) is in the figures.');
  }
  notes.push(`hold times are sampled (each of a lock class's first 64 acquisitions on a CPU, then 1 in 64, at random); wait times are measured on every contended acquisition; operations are timed 1 in ${OP_SAMPLE_EVERY} and page faults 1 in ${FAULT_SAMPLE_EVERY}, at random.`);
  const sig = o.interrupt?.();
  if (sig) notes.push(nrounds > 1 ? `interrupted by ${sig}: ${all.length} of ${nrounds} rounds ran (the last may be cut short)` : `interrupted by ${sig}: ${points.length} of ${o.cpus_list.length} points ran (the last may be cut short)`);
  if (rounds) notes.push(`rounds: the sweep of ${o.cpus_list.join(', ')} CPUs ran ${rounds.n === 1 ? 'once (of ' + nrounds + ' asked)' : `${rounds.n} times in turn, every other one in reverse order (ABBA)`}; the tables are round ${rounds.median_round + 1}'s, the median by the ${o.cpus_list[o.cpus_list.length - 1]}-CPU point's ${o.cpus_list.length > 1 ? 'speedup' : 'ops/s'}; every round's ratios are under "rounds".`);
  const failed = points.filter((p) => p.outcome !== 'clean');
  if (failed.length) notes.push(`not clean: ${failed.map((p) => `${p.cpus} CPUs ${p.outcome}: ${p.reason}`).join('; ')} (figures of a run that stopped at its failure)`);
  const jitter = ['none', 'light', 'heavy', 'adaptive'][o.jitter] ?? String(o.jitter);
  return {
    schema: 'mmrace.bench/1', tool: `mmrace ${version}`, scenario: o.scenario.name, era, protocol: o.protocol, switches, cores,
    duration_ms: o.duration_ms, warmup_ms: o.warmup_ms, seed: o.seed, jitter, points, ...(rounds ? { rounds } : {}), notes,
    replay: `mmrace bench ${o.scenarioAsTyped ?? o.scenario.name}${o.era === undefined ? '' : ` --era ${o.era}`} --protocol ${o.protocol} --cpus ${o.cpus_list.join(',')} --duration ${o.duration_ms / 1000} --warmup ${o.warmup_ms / 1000} --seed ${o.seed} --jitter ${jitter}${nrounds > 1 ? ` --rounds ${nrounds}` : ''}`,
  };
}
