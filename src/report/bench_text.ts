// The human report of `mmrace bench`: throughput and contention per CPU
// count, contention and wait per lock class, and latency percentiles.
import type { BenchPoint, BenchReport } from './report_types.js';
import { fmt_count, fmt_ns } from './format.js';

const row = (cells: string[], widths: number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');

/** a table with a row per key and a column per CPU count (nothing if no keys) */
function matrix(r: BenchReport, title: string, keys: string[], minWidth: number, cell: (p: BenchPoint, key: string) => string): string[] {
  if (keys.length === 0) return [];
  const kw = Math.max(minWidth, ...keys.map((k) => k.length));
  const head = r.points.map((p) => `${p.cpus} CPUs${p.cpus > r.cores ? '*' : ''}`.padStart(22)).join('');
  return ['', title, `${''.padEnd(kw)}${head}`, ...keys.map((k) => `${k.padEnd(kw)}${r.points.map((p) => cell(p, k).padStart(22)).join('')}`)];
}

export function format_bench_point(p: BenchPoint, cores: number): string {
  const top = [...p.lock_stat].sort((a, b) => b.contentions - a.contentions)[0];
  return `${String(p.cpus).padStart(3)} CPUs${p.cpus > cores ? '*' : ' '}  ${fmt_count(p.ops_per_s).padStart(8)} ops/s  ` +
    `${fmt_count(p.contentions).padStart(8)} contentions${top && top.contentions ? ` (most: ${top.class})` : ''}  ${p.outcome}${p.outcome === 'clean' ? '' : `: ${p.reason}`}`;
}

const x = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v.toFixed(2)}x`);

/** the median of the non-null values, and their least and greatest (null if none) */
export function spread(vs: (number | null)[]): { median: number; min: number; max: number } | null {
  const v = vs.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return { median: v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2, min: v[0], max: v[v.length - 1] };
}

const xs = (vs: (number | null)[]) => {
  const s = spread(vs);
  return s ? `${s.median.toFixed(2)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})` : '-';
};

/** --rounds N: each CPU count's speedups in every round, their median and range, beside the ceilings' */
export function rounds_lines(r: BenchReport): string[] {
  const R = r.rounds;
  if (!R || R.n < 2) return [];
  const cpus = R.per_cpus.map((c) => c.cpus);
  const w = [5, 22, 22, 22];
  const out = ['', `rounds: the sweep of ${cpus.join(', ')} CPUs ran ${R.n} times in turn (every other one in reverse order); the other tables are round ${R.median_round + 1}'s, the median by the ${cpus[cpus.length - 1]}-CPU point's ${cpus.length > 1 ? 'speedup' : 'ops/s'}. Speedups, median (min-max) over the rounds, then each round's:`];
  out.push(row(['CPUs', 'model x', 'raw x', 'procs x'], w) + '  model x by round');
  for (const c of R.per_cpus) {
    if (c.speedup.every((v) => v === null)) continue;
    out.push(row([String(c.cpus), xs(c.speedup), xs(c.raw_speedup), xs(c.procs_speedup)], w) + '  ' + c.speedup.map((v) => (v === null ? '-' : v.toFixed(2))).join(' '));
  }
  return out;
}

/** scale (issue 16 item 4): speedup of work and of the raw harness beside ops/s; ops/s by kind; kernel events/s */
export function scaling_lines(r: BenchReport): string[] {
  const out: string[] = [...rounds_lines(r)];
  if (r.points.some((p) => p.work_per_s !== undefined || p.raw_ops_per_s !== undefined)) {
    const w = [5, 9, 8, 9, 8, 10, 8, 11, 9, 10, 8, 11, 8];
    out.push('', 'scaling, model, raw harness (same shape of work in plain JS) and separate 1-CPU processes of the model, in the same run; per CPU s: operations per second of CPU time the process used:');
    out.push(row(['CPUs', 'ops/s', 'speedup', 'work/s', 'work x', 'per CPU s', 'effic.', 'raw ops/s', 'raw x', 'raw/CPU s', 'raw eff.', 'procs ops/s', 'procs x'], w));
    for (const p of r.points) {
      const n = (v: number | undefined, d = 0) => (v === undefined || !(v > 0) ? '-' : d ? v.toFixed(d) : fmt_count(v));
      out.push(row([String(p.cpus), fmt_count(p.ops_per_s), x(p.speedup), n(p.work_per_s, 3), x(p.work_speedup), n(p.ops_per_cpu_s), x(p.efficiency),
        n(p.raw_ops_per_s), x(p.raw_speedup), n(p.raw_ops_per_cpu_s), x(p.raw_efficiency), n(p.procs_ops_per_s), x(p.procs_speedup)], w));
    }
  }
  const kinds = [...new Set(r.points.flatMap((p) => (p.kinds ?? []).map((k) => k.op)))];
  out.push(...matrix(r, 'ops/s by kind (weight: p50 at the first point):', kinds, 24, (p, k) => {
    const y = p.kinds?.find((z) => z.op === k);
    return y ? `${fmt_count(y.ops_per_s)} (${fmt_ns(y.weight_ns)})` : '-';
  }));
  const ev = [...new Set(r.points.flatMap((p) => Object.keys(p.events_per_s ?? {})))];
  out.push(...matrix(r, 'kernel events per second:', ev, 24, (p, e) => fmt_count(p.events_per_s?.[e] ?? 0)));
  return out;
}

export function format_bench(r: BenchReport): string {
  const out: string[] = [];
  out.push(`mmrace bench ${r.scenario}  era=${r.era}  protocol=${r.protocol}${r.switches.length ? ` [${r.switches.join(', ')}]` : ''}  ` +
    `${r.warmup_ms / 1000} s warm-up + ${r.duration_ms / 1000} s per point  seed=${r.seed}  jitter=${r.jitter}  host: ${r.cores} cores`);
  out.push('');
  const w = [5, 10, 10, 8, 12, 14, 12, 9];
  out.push(row(['CPUs', 'ops/s', 'per CPU', 'speedup', 'contentions', 'per 1k acq', 'wait total', 'outcome'], w));
  for (const p of r.points) {
    const wait = p.lock_stat.reduce((a, x) => a + x.waittime_total, 0); // µs
    out.push(row([`${p.cpus}${p.cpus > r.cores ? '*' : ''}`, fmt_count(p.ops_per_s), fmt_count(p.ops_per_s_per_cpu),
      p.speedup === null ? '-' : `${p.speedup.toFixed(2)}x`, fmt_count(p.contentions),
      p.acquisitions ? (1000 * p.contentions / p.acquisitions).toFixed(2) : '-', fmt_ns(wait * 1000), p.outcome], w));
  }
  out.push(...scaling_lines(r)); // scale
  // contention per lock class, and latency per operation, across the points
  const classes = [...new Set(r.points.flatMap((p) => p.lock_stat.filter((x) => x.contentions > 0).map((x) => x.class)))];
  out.push(...matrix(r, 'contentions (waittime-avg) per lock class:', classes, 24, (p, c) => {
    const x = p.lock_stat.find((y) => y.class === c);
    return x ? `${fmt_count(x.contentions)} (${fmt_ns(x.waittime_avg * 1000)})` : '0';
  }));
  const ops = [...new Set(r.points.flatMap((p) => p.latency.map((l) => l.op)))];
  out.push(...matrix(r, 'latency p50 / p99 per operation:', ops, 20, (p, o) => {
    const l = p.latency.find((y) => y.op === o);
    return l ? `${fmt_ns(l.p50_ns)} / ${fmt_ns(l.p99_ns)}` : '-';
  }));
  if (r.points.some((p) => p.cpus > r.cores)) out.push('', `* more simulated CPUs than the ${r.cores} host cores`);
  if (r.notes.length) out.push('', 'notes:', ...r.notes.map((n) => `  - ${n}`));
  out.push('', `replay: ${r.replay}`);
  return out.join('\n');
}
