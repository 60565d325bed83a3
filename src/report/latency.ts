// Per-operation latency: each CPU's log-linear buckets (src/cpu/latency.ts)
// merged into one hdr-histogram-js histogram per kind, and its percentiles.
// A bucket is recorded at its midpoint, so a value is exact to within
// 1/LAT_SUB (6%) of itself, the buckets' resolution.
import * as hdr from 'hdr-histogram-js';
import { LAT_BUCKETS, LAT_KIND_FAULT, NR_LAT_KINDS } from '../shm/layout.js';
import { MachineView, lat_base } from '../shm/machine.js';
import { EVENTS } from '../cpu/events.js';
import { FAULT_SAMPLE_EVERY, OP_SAMPLE_EVERY, lat_bucket_low, lat_bucket_width } from '../cpu/latency.js';
import type { LatencySummary } from './report_types.js';
import { fmt_count, fmt_ns } from './format.js';

/** percentiles the curve (and the HTML chart) carries */
export const CURVE_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

export function lat_kind_name(kind: number): string {
  if (kind === LAT_KIND_FAULT) return 'do_page_fault';
  if (kind === 0) return 'op';
  return `op:${EVENTS[kind]?.name ?? kind}`;
}

/** one kind's histogram merged over every CPU of a run's Machine (as its result keeps it: src/exec/free_run.ts RunResult.machine), or null if empty */
export function merged_histogram(kind: number, m: MachineView): hdr.Histogram | null {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 2 ** 33, numberOfSignificantValueDigits: 3 });
  for (let cpu = 0; cpu < m.sizes.nr_cpus; cpu++) {
    const b = lat_base(cpu, kind, m.bases);
    for (let k = 0; k < LAT_BUCKETS; k++) {
      const n = m.i32[b + k];
      if (n > 0) h.recordValueWithCount(Math.max(1, Math.round(lat_bucket_low(k) + (lat_bucket_width(k) - 1) / 2)), n);
    }
  }
  if (h.totalCount === 0) { h.destroy(); return null; }
  return h;
}

/** every timed kind of the run, most samples first */
export function latency_summaries(m: MachineView): LatencySummary[] {
  const out: LatencySummary[] = [];
  for (let kind = 0; kind < NR_LAT_KINDS; kind++) {
    const h = merged_histogram(kind, m);
    if (!h) continue;
    out.push({
      op: lat_kind_name(kind), samples: h.totalCount, sample_every: kind === LAT_KIND_FAULT ? FAULT_SAMPLE_EVERY : OP_SAMPLE_EVERY,
      min_ns: h.minNonZeroValue, mean_ns: h.mean, p50_ns: h.getValueAtPercentile(50), p90_ns: h.getValueAtPercentile(90),
      p99_ns: h.getValueAtPercentile(99), p999_ns: h.getValueAtPercentile(99.9), max_ns: h.maxValue,
      curve: CURVE_PERCENTILES.map((p) => ({ p, ns: p === 0 ? h.minNonZeroValue : h.getValueAtPercentile(p) })),
    });
    h.destroy();
  }
  return out.sort((a, b) => b.samples - a.samples);
}

const COLS = ['samples', 'min', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean'];

export function format_latency(rows: LatencySummary[], cpus: number): string {
  if (rows.length === 0) return 'latency: nothing timed';
  const w = Math.max(20, ...rows.map((r) => r.op.length + 1));
  const every = (ops: boolean) => rows.find((r) => (r.op === 'do_page_fault') !== ops)?.sample_every;
  const timed = [every(true) && `operations 1 in ${every(true)}`, every(false) && `page faults 1 in ${every(false)}`].filter(Boolean);
  const lines = [`latency (merged over ${cpus} CPU${cpus === 1 ? '' : 's'}; timed at random: ${timed.join(', ')})`,
    `${'operation'.padEnd(w)}${COLS.map((c) => c.padStart(10)).join('')}`];
  for (const r of rows) {
    const v = [r.min_ns, r.p50_ns, r.p90_ns, r.p99_ns, r.p999_ns, r.max_ns, r.mean_ns].map((x) => fmt_ns(x).padStart(10));
    lines.push(`${r.op.padEnd(w)}${fmt_count(r.samples).padStart(10)}${v.join('')}`);
  }
  return lines.join('\n');
}
