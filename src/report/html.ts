// The report as one self-contained HTML file: tables in plain HTML, charts
// drawn in the page by uPlot (inlined from node_modules at render time, so the
// file opens offline). The report itself is embedded as JSON (id
// "mmrace-report"); the chart specs computed here from it go in a second block
// (id "mmrace-charts") that the page script (html_script.ts) draws.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RunReport } from './json.js';
import type { BenchReport, LatencySummary, LockdepSection, LockStatRow } from './report_types.js';
import { PAGE_SCRIPT } from './html_script.js';
import { spread } from './bench_text.js';
import { lock_stat_modes } from './lock_stat.js';

/** one line or bar series; `values[i]` belongs to `x[i]` of its chart (null: no value there) */
export interface ChartSeries {
  label: string; values: (number | null)[];
  bars?: boolean; dash?: boolean;
  /** 'y2': the right-hand axis */
  scale?: 'y' | 'y2';
}

/** what the page script draws with uPlot: one chart */
export interface ChartSpec {
  /** id of the container element: chart-throughput, chart-contention, chart-latency, chart-percpu */
  id: string; title: string;
  x: number[]; x_label: string; y_label: string; y2_label?: string;
  series: ChartSeries[];
  /** fixed ticks on the x axis (category names, percentiles) instead of uPlot's own */
  x_ticks?: { at: number; label: string }[];
  x_range?: [number, number];
  /** the legend names x by `x_names[Math.round(x)]` (categories) */
  x_names?: string[];
  /** x is -log10(1 - p/100): the legend shows it as a percentile */
  x_format?: 'percentile';
  y_log?: boolean;
  /** shade x >= shade_from, labelled shade_label (oversubscribed CPU counts) */
  shade_from?: number; shade_label?: string;
  /** a caption under the chart */
  note?: string;
  /** nothing to draw: the page shows this line instead of the chart */
  empty?: string;
}

const require = createRequire(import.meta.url);
let uplot: { js: string; css: string } | null = null;

/** uPlot's browser build and stylesheet, read once from node_modules */
function uplot_assets(): { js: string; css: string } {
  if (!uplot) {
    const read = (f: string) => readFileSync(require.resolve(`uplot/dist/${f}`), 'utf8');
    // an inlined script or style ends at the first '</script' or '</style', wherever it is
    uplot = { js: read('uPlot.iife.min.js').replace(/<\/(script)/gi, '<\\/$1'), css: read('uPlot.min.css').replace(/<\/(style)/gi, '<\\/$1') };
  }
  return uplot;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON for a <script type="application/json"> block: no '<' survives, so neither '</script>' nor '<!--' can end it */
const json_block = (id: string, v: unknown) => `<script type="application/json" id="${id}">${JSON.stringify(v).replace(/</g, '\\u003c')}</script>`;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const us = (n: number) => n.toFixed(2);
const ns = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} ms` : n >= 1e3 ? `${(n / 1e3).toFixed(2)} µs` : `${Math.round(n)} ns`);
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

function table(head: string[], rows: (string | number)[][], cls = ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table${cls ? ` class="${cls}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table></div>`;
}

/** /proc/lock_stat's columns, times in µs */
export const LOCK_STAT_COLUMNS = ['class name', 'con-bounces', 'contentions', 'waittime-min', 'waittime-max', 'waittime-total', 'waittime-avg',
  'acq-bounces', 'acquisitions', 'holdtime-min', 'holdtime-max', 'holdtime-total', 'holdtime-avg'];

function lock_stat_table(rows: LockStatRow[]): string {
  if (!rows.length) return '<p class="nodata">no lock was taken</p>';
  // an rwsem's or rwlock's reads and writes as the kernel's -W and -R rows
  return table(LOCK_STAT_COLUMNS, rows.flatMap(lock_stat_modes).map(([name, r]) => [name, int(r.con_bounces), int(r.contentions), us(r.waittime_min), us(r.waittime_max),
    us(r.waittime_total), us(r.waittime_avg), int(r.acq_bounces), int(r.acquisitions), us(r.holdtime_min), us(r.holdtime_max),
    us(r.holdtime_total), us(r.holdtime_avg)]), 'num first-text');
}

function latency_table(lat: LatencySummary[]): string {
  if (!lat.length) return '<p class="nodata">no latency was recorded</p>';
  return table(['op', 'samples', 'p50', 'p90', 'p99', 'p99.9', 'max', 'sample_every'],
    lat.map((l) => [l.op, int(l.samples), ns(l.p50_ns), ns(l.p90_ns), ns(l.p99_ns), ns(l.p999_ns), ns(l.max_ns), `1 in ${l.sample_every}`]), 'num first-text');
}

function lockdep_section(ld: LockdepSection): string {
  const out: string[] = [];
  if (ld.report) out.push(`<p>Cycle found ${ld.report.cpu < 0 ? 'in setup' : `on CPU ${ld.report.cpu}`}: ${esc(ld.report.cycle.join(' → '))}</p>`, `<pre class="splat">${esc(ld.report.text)}</pre>`);
  if (ld.disabled) out.push(`<pre class="splat">${esc(ld.disabled)}</pre>`);
  if (ld.edges.length) {
    out.push(table(['from → to', 'kind', 'first seen: CPU', 'role', 'path'],
      ld.edges.map((e) => [`${e.from} → ${e.to}`, e.kind, e.cpu < 0 ? 'setup' : e.cpu, e.role, e.path])));
  }
  return out.length ? `<h2>Lockdep</h2>\n${out.join('\n')}` : '';
}

/** a chart with nothing to draw: the page shows `title: why` instead */
const no_chart = (id: string, title: string, why: string): ChartSpec => ({ id, title, x: [], x_label: '', y_label: '', series: [], empty: why });

/** contentions per lock class: grouped bars, one group per class, one bar per series */
function contention_chart(classes: string[], series: ChartSeries[], y2_label?: string, note?: string): ChartSpec {
  const id = 'chart-contention', title = 'Contention per lock class';
  if (!classes.length) return no_chart(id, title, 'no lock was taken');
  // bar j of class i sits at x = i + offset[j]; a series has values only at its own offset
  const n = series.length, w = 0.8 / n;
  const x: number[] = [];
  const grouped = series.map((s) => ({ ...s, values: [] as (number | null)[] }));
  classes.forEach((_, i) => series.forEach((_s, j) => {
    x.push(i + (j - (n - 1) / 2) * w);
    grouped.forEach((g, k) => g.values.push(k === j ? series[j].values[i] : null));
  }));
  return {
    id, title, x, x_label: 'lock class', y_label: 'contentions', y2_label, series: grouped, note,
    x_ticks: classes.map((label, at) => ({ at, label })),
    x_range: [-0.5, classes.length - 0.5], x_names: classes,
  };
}

const PCTL_TICKS = [0, 50, 90, 99, 99.9, 99.99];
const PCTL_CAP = 99.99;
const pctl_x = (p: number) => -Math.log10(1 - Math.min(p, PCTL_CAP) / 100);

/** latency percentile curves: x = -log10(1 - p/100), so 90, 99, 99.9 are evenly spaced; y = ns, log scale */
function latency_chart(lat: LatencySummary[], title: string): ChartSpec {
  const id = 'chart-latency';
  const curves = lat.map((l) => {
    const m = new Map<number, number>();
    for (const c of l.curve) if (c.ns > 0 && c.p >= 0) m.set(pctl_x(c.p), c.ns); // a later (higher) p at the cap wins
    return { op: l.op, m };
  }).filter((c) => c.m.size > 0);
  if (!curves.length) return no_chart(id, title, 'no latency was recorded');
  const x = [...new Set(curves.flatMap((c) => [...c.m.keys()]))].sort((a, b) => a - b);
  const top = x[x.length - 1];
  const ticks = PCTL_TICKS.map((p) => ({ at: pctl_x(p), label: String(p) })).filter((t) => t.at <= top + 1e-9);
  const capped = lat.some((l) => l.curve.some((c) => c.p > PCTL_CAP));
  return {
    id, title, x, x_label: 'percentile', y_label: 'latency (ns)', y_log: true, x_format: 'percentile', x_ticks: ticks,
    x_range: [0, Math.max(top, 1)],
    series: curves.map((c) => ({ label: c.op, values: x.map((v) => c.m.get(v) ?? null) })),
    note: `timing is sampled (1 in ${[...new Set(lat.map((l) => l.sample_every))].join(' or ')})${capped ? `; percentiles above ${PCTL_CAP} (the max) are drawn at ${PCTL_CAP}` : ''}`,
  };
}

function bench_charts(b: BenchReport): ChartSpec[] {
  const pts = [...b.points].sort((p, q) => p.cpus - q.cpus);
  const one = pts.find((p) => p.cpus === 1);
  const over = pts.filter((p) => p.oversubscription > 1);
  const shade_from = over.length ? b.cores : undefined; // the region where CPUs > cores
  const last_cpus = pts.length ? pts[pts.length - 1].cpus : 1;
  const throughput: ChartSpec = pts.length ? {
    id: 'chart-throughput', title: `Throughput vs CPUs${over.length ? ` (CPUs > ${b.cores} cores: threads time-share)` : ''}`,
    x: pts.map((p) => p.cpus), x_label: 'CPUs', y_label: 'ops/s',
    x_ticks: pts.map((p) => ({ at: p.cpus, label: String(p.cpus) })), x_range: [0, last_cpus * 1.05 + 0.25],
    series: [{ label: 'ops/s', values: pts.map((p) => p.ops_per_s) },
      ...(one && pts.length > 1 ? [{ label: 'ideal (linear from 1 CPU)', values: pts.map((p) => one.ops_per_s * p.cpus), dash: true }] : [])],
    shade_from, shade_label: shade_from === undefined ? undefined : 'CPUs > cores: threads time-share',
    note: one ? undefined : 'no 1-CPU point: no ideal-scaling line',
  } : no_chart('chart-throughput', 'Throughput vs CPUs', 'no bench points');

  // classes by total contentions over all points, busiest first
  const total = new Map<string, number>();
  for (const p of pts) for (const r of p.lock_stat) total.set(r.class, (total.get(r.class) ?? 0) + r.contentions);
  const classes = [...total].filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1]).map(([c]) => c);
  const contention = total.size && !classes.length
    ? no_chart('chart-contention', 'Contention per lock class', 'no contention at any CPU count')
    : contention_chart(classes, pts.map((p) => ({
      label: `${plural(p.cpus, 'CPU')}${p.oversubscription > 1 ? ' (time-shared)' : ''}`, bars: true,
      values: classes.map((c) => p.lock_stat.find((r) => r.class === c)?.contentions ?? 0),
    })), undefined, total.size > classes.length ? `${total.size - classes.length} classes without contention not shown` : undefined);

  const last = pts[pts.length - 1];
  const latency = latency_chart(last?.latency ?? [], `Latency percentiles at ${last ? plural(last.cpus, 'CPU') : '-'}`);
  return [throughput, contention, latency];
}

function run_charts(r: RunReport): ChartSpec[] {
  const rows = r.lock_stat;
  const contention = contention_chart(rows.map((x) => x.class), [
    { label: 'contentions', bars: true, values: rows.map((x) => x.contentions) },
    { label: 'acquisitions (right axis)', bars: true, scale: 'y2', values: rows.map((x) => x.acquisitions) },
  ], 'acquisitions');
  const latency = latency_chart(r.latency, 'Latency percentiles');
  const cpus = r.per_cpu.map((c, i) => `cpu${c.cpu ?? i}${c.role ? ` ${c.role}` : ''}`);
  const percpu: ChartSpec = r.per_cpu.length ? {
    id: 'chart-percpu', title: 'Operations per CPU', x: cpus.map((_, i) => i), x_label: 'CPU', y_label: 'ops',
    x_ticks: cpus.map((label, at) => ({ at, label })),
    x_range: [-0.5, cpus.length - 0.5], x_names: cpus,
    series: [{ label: 'ops', bars: true, values: r.per_cpu.map((c) => Number(c.ops ?? 0)) }],
  } : no_chart('chart-percpu', 'Operations per CPU', 'no CPU ran');
  return [contention, latency, percpu];
}

function header(rows: [string, string][]): string {
  return `<dl class="meta">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

const outcome_tag = (o: string) => `<span class="outcome ${o === 'clean' ? 'ok' : 'bad'}">${esc(o)}</span>`;
const charts_html = (charts: ChartSpec[]) => charts.map((c) => `<div class="chart" id="${c.id}"></div>`).join('\n');

/** --rounds N: each CPU count's speedups, median (min-max) over the rounds and round by round */
function rounds_section(b: BenchReport): string {
  const R = b.rounds;
  if (!R || R.n < 2) return '';
  const sx = (vs: (number | null)[]) => { const s = spread(vs); return s ? `${s.median.toFixed(2)}× (${s.min.toFixed(2)}-${s.max.toFixed(2)})` : '-'; };
  const rows = R.per_cpus.filter((c) => c.speedup.some((v) => v !== null)).map((c) => [c.cpus, sx(c.speedup), sx(c.raw_speedup), sx(c.procs_speedup),
    c.speedup.map((v) => (v === null ? '-' : v.toFixed(2))).join(' ')]);
  return `<h2>Rounds</h2>\n<p>${R.n} sweeps in turn; the points above are round ${R.median_round + 1}'s, the median.</p>\n` +
    table(['cpus', 'model speedup', 'raw speedup', 'procs speedup', 'model, round by round'], rows, 'num');
}

function bench_body(b: BenchReport, charts: ChartSpec[]): string {
  const pts = [...b.points].sort((p, q) => p.cpus - q.cpus);
  const last = pts[pts.length - 1];
  return [
    `<h1>mmrace bench: ${esc(b.scenario)}</h1>`,
    header([['scenario', esc(b.scenario)], ['kernel', esc(b.era)], ['protocol', esc(b.protocol)], ['switches', esc(b.switches.join(', ') || '-')],
      ['CPUs', esc(pts.map((p) => p.cpus).join(', ') || '-')], ['host cores', String(b.cores)],
      ['outcome', [...new Set(pts.map((p) => p.outcome))].map(outcome_tag).join(' ') || '-'],
      ['per point', `${b.warmup_ms} ms warm-up + ${b.duration_ms} ms measured, seed ${b.seed}, jitter ${esc(b.jitter)}`], ['tool', esc(b.tool)],
      ['replay', `<code>${esc(b.replay)}</code>`]]),
    charts_html(charts),
    '<h2>Points</h2>',
    pts.length ? table(['cpus', 'oversubscription', 'ops/s', 'per CPU', 'speedup', 'contentions', 'outcome'], pts.map((p) => [p.cpus,
      `${p.oversubscription.toFixed(2)}×`, int(p.ops_per_s), int(p.ops_per_s_per_cpu), p.speedup === null ? '-' : `${p.speedup.toFixed(2)}×`,
      int(p.contentions), p.outcome]), 'num') : '<p class="nodata">no bench points</p>',
    rounds_section(b),
    b.notes.length ? `<ul class="notes">${b.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '',
    `<h2>lock_stat at ${last ? plural(last.cpus, 'CPU') : '-'}</h2>`, '<p class="unit">times in µs</p>', lock_stat_table(last?.lock_stat ?? []),
    `<h2>Latency at ${last ? plural(last.cpus, 'CPU') : '-'}</h2>`, latency_table(last?.latency ?? []),
  ].join('\n');
}

function run_body(r: RunReport, charts: ChartSpec[]): string {
  const budget = 'ops' in r.budget ? `${int(r.budget.ops)} ops` : `${r.budget.duration_ms} ms`;
  const expect = r.expect === null ? '' : ` (expected ${esc(r.expect)}: ${r.expectation_met ? 'met' : 'not met'})`;
  return [
    `<h1>mmrace run: ${esc(r.scenario)}</h1>`,
    header([['scenario', esc(r.scenario)], ['kernel', esc(r.era)], ['protocol', esc(r.protocol)], ['switches', esc(r.switches.join(', ') || '-')],
      ['CPUs', `${r.cpus} (${esc(r.roles.join(', '))})`], ['outcome', outcome_tag(r.outcome) + expect],
      ['ran', `${(r.elapsed_ms / 1000).toFixed(2)} s, ${int(r.ops)} ops, ${int(r.ops_per_s)} ops/s (budget ${budget})`],
      ['first failure', r.first_failure_ms === null ? '-' : `${r.first_failure_ms.toFixed(1)} ms`],
      ['seed', `${r.seed}, jitter ${esc(r.jitter)}`], ['tool', esc(r.tool)], ['replay', `<code>${esc(r.replay)}</code>`]]),
    r.failure ? `<h2>Failure: ${esc(r.failure.kind)} on CPU ${r.failure.cpu}</h2>\n<pre class="splat">${esc(r.failure.splat)}</pre>` : '',
    r.invariants.length ? `<h2>Invariants violated</h2><ul>${r.invariants.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '',
    charts_html(charts),
    '<h2>lock_stat</h2>', '<p class="unit">times in µs</p>', lock_stat_table(r.lock_stat),
    '<h2>Latency</h2>', latency_table(r.latency),
    lockdep_section(r.lockdep),
  ].join('\n');
}

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto; max-width: 1280px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 12px; } h2 { font-size: 17px; margin: 28px 0 8px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0 0 16px; }
dl.meta dt { color: #666; } dl.meta dd { margin: 0; }
code, pre { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
pre.splat { background: #fbf7f2; border: 1px solid #e8dccb; padding: 10px; overflow-x: auto; white-space: pre; }
div.scroll { overflow-x: auto; margin: 4px 0 12px; } table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 6px; text-align: left; white-space: nowrap; }
th { font-weight: 600; background: #f6f6f6; white-space: normal; vertical-align: bottom; }
table.num td { text-align: right; font-size: 12.5px; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-variant-numeric: tabular-nums; }
table.num.first-text td:first-child { text-align: left; font-family: inherit; }
.outcome { font-weight: 600; padding: 0 6px; border-radius: 3px; } .outcome.ok { background: #e3f4e3; color: #1d6b1d; } .outcome.bad { background: #fbe3e3; color: #a11; }
.chart { margin: 22px 0 8px; } .note, .unit, .notes { color: #666; font-size: 13px; margin: 2px 0; } .nodata { color: #888; font-style: italic; }
.u-title { font-size: 15px; font-weight: 600; } .u-legend { font-size: 13px; }
`;

/** the whole page for a run (`mmrace run --report`) or a bench (`mmrace bench --report`) */
export function render_html(report: RunReport | BenchReport): string {
  const bench = report.schema === 'mmrace.bench/1';
  const charts = bench ? bench_charts(report as BenchReport) : run_charts(report as RunReport);
  const body = bench ? bench_body(report as BenchReport, charts) : run_body(report as RunReport, charts);
  const { js, css } = uplot_assets();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mmrace ${bench ? 'bench' : 'run'}: ${esc(report.scenario)}</title>
<style>${css}</style>
<style>${CSS}</style>
</head>
<body>
${body}
${json_block('mmrace-report', report)}
${json_block('mmrace-charts', charts)}
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
