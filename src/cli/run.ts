// mmrace list, run and demo: free-running runs and their reports.
import { parseArgs } from 'node:util';
import { check_output, write_output } from './outputs.js';
import { SCENARIOS, WORKLOADS, loadScenario, scenarioModuleUrl } from '../scenarios/registry.js';
import { SWITCHES } from '../shm/switches.js';
import { DEFAULT_ERA, ERAS, era_label } from '../shm/era.js';
import { scenario_era } from '../exec/boot.js';
import { MAX_CPUS } from '../shm/layout.js';
import { RunOptions, RunResult, run_free } from '../exec/free_run.js';
import { RunReport, build_report, vacuous_of } from '../report/json.js';
import { outcome_line, text_report } from '../report/text.js';
import { fmt_count, fmt_ms } from '../report/format.js';
import { chrome_trace } from '../report/trace.js';
import { render_html } from '../report/html.js';
import { EXIT_INTERNAL, EXIT_LIVENESS, EXIT_OK, EXIT_VIOLATION, OUTCOME_EXIT, UsageError, int, num, oneOf, progress, run_args } from './args.js';
import { VERSION } from './version.js';
import { interrupted } from './interrupt.js';
import { window_name } from '../cpu/windows.js'; // cov; lib: a scenario's own windows by name too
import type { Scenario } from '../scenarios/types.js';

/** a run's exit code: its outcome's (src/cli/exit.ts), or with --expect, whether the expectation held */
export function exit_code(r: RunReport): number {
  const code = OUTCOME_EXIT[r.outcome];
  if (code === EXIT_LIVENESS || code === EXIT_INTERNAL || !r.expect) return code;
  return r.expectation_met ? EXIT_OK : EXIT_VIOLATION;
}

/** rows of cells as left-aligned columns, each as wide as its widest cell (the last cell unpadded) */
export function columns(rows: readonly (readonly string[])[], gap = 2): string[] {
  const n = Math.max(0, ...rows.map((r) => r.length));
  const w = Array.from({ length: n }, (_, k) => Math.max(0, ...rows.map((r) => (r[k] ?? '').length)));
  return rows.map((r) => r.map((c, k) => (k === r.length - 1 ? c : c.padEnd(w[k] + gap))).join(''));
}

export async function cmd_list(argv: string[] = []): Promise<number> {
  // lib: `mmrace list <module.js>`: that scenario alone, with its own switches and race windows
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: {} });
  if (positionals.length > 1) throw new UsageError(`list takes one scenario at most, got ${positionals.length}`);
  let one: Scenario | null = null;
  if (positionals.length) { try { one = await loadScenario(positionals[0]); } catch (e) { throw new UsageError((e as Error).message); } }
  console.log(one ? 'scenario:' : 'scenarios:');
  const rows: string[][] = [];
  for (const s of one ? [one] : SCENARIOS) {
    const eras = s.eras ?? [DEFAULT_ERA];
    rows.push([`  ${s.name}`, s.title]);
    rows.push(['', `${eras.map(era_label).join(', ')}${eras.length > 1 ? ' (--era picks; the first is the default)' : ''}${s.patch === '-' ? '' : `; seed ${s.patch}`}`]);
    rows.push(['', `buggy switches: ${s.switches.join(', ') || '-'}; buggy shows: ${s.expect_buggy}`]);
    if (s.also_fixed?.length) rows.push(['', `the fixed run also carries: ${s.also_fixed.join(', ')} (a later fix its load needs)`]);
    if (s.windows?.length) rows.push(['', `race windows: ${s.windows.map((w) => window_name(w, s.own_windows)).join('; ')}`]); // cov
  }
  if (one) {
    const own = (one.own_switches ?? []).map((w) => [`  ${w.name}`, `${w.what} (its own, bit ${Math.log2(w.bit)})`]);
    const both = columns([...rows, ...own], 1);
    console.log(both.slice(0, rows.length).join('\n'));
    if (own.length) console.log(`\nits own switches (on = the buggy line runs):\n${both.slice(rows.length).join('\n')}`);
    return EXIT_OK;
  }
  for (const s of WORKLOADS) rows.push([`  ${s.name}`, `${s.title}; ${(s.eras ?? [DEFAULT_ERA]).map(era_label).join(', ')}; a workload, no race: mmrace bench ${s.name} --cpus 1,2`]); // scale
  const sw = SWITCHES.map((w) => {
    const base = w.baseline_in?.length ? `; on in every ${w.baseline_in.map((e) => ERAS[e].name).join('/')} run unless its scenario runs fixed` : '';
    return [`  ${w.name}`, `${w.what} (${w.eras.map(era_label).join(', ')}; seed ${w.patch}${base})`];
  });
  // one column for both tables, as wide as the longest scenario or switch name
  const both = columns([...rows, ...sw], 1);
  console.log(both.slice(0, rows.length).join('\n'));
  console.log('\nswitches (on = the pre-patch line runs):');
  console.log(both.slice(rows.length).join('\n'));
  console.log('\neras:');
  for (const e of ERAS) console.log(`  ${e.name}  ${e.kernel.padEnd(30)} (${e.year})${e.id === DEFAULT_ERA ? '  default' : ''}`);
  return EXIT_OK;
}

/** a free run: its result (what the reports are built from) and its report */
export async function run_once(o: RunOptions, budget: RunReport['budget'], expect: string | null): Promise<{ result: RunResult; report: RunReport }> {
  const stop = progress(`running ${o.scenario.name} (${o.protocol}, ${o.cpus} CPUs)...`, performance.now());
  try {
    const r = await run_free(o);
    const failed = r.outcome === 'bug' || r.outcome === 'violation';
    const met = expect === null ? null : expect === 'bug' ? failed : r.outcome === 'clean' && vacuous_of(r) === null; // cov: a vacuous clean is no pass
    return { result: r, report: build_report(r, budget, expect, met, VERSION) };
  } finally {
    stop();
  }
}

export async function cmd_run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      protocol: { type: 'string' }, cpus: { type: 'string' }, duration: { type: 'string' }, ops: { type: 'string' },
      seed: { type: 'string' }, jitter: { type: 'string' }, json: { type: 'string' }, expect: { type: 'string' },
      watchdog: { type: 'string' }, 'no-lock-stat': { type: 'boolean' }, 'no-latency': { type: 'boolean' }, 'lock-order': { type: 'boolean' },
      trace: { type: 'string' }, report: { type: 'string' }, era: { type: 'string' },
    },
  });
  const { protocol, cpus, ops, duration_ms, seed, jitter, era } = run_args('run', values, positionals);
  const expect = values.expect === undefined ? null : oneOf('expect', values.expect, 'bug', ['bug', 'clean'] as const);
  const watchdog_ms = num('watchdog', values.watchdog, 15, 0.1, 3600) * 1000;
  check_outputs(values);
  let scenario;
  try { scenario = await loadScenario(positionals[0]); } catch (e) { throw new UsageError((e as Error).message); }
  const ref = scenarioModuleUrl(positionals[0]) ?? scenario.name;
  scenario_era(scenario, era); // a usage error before anything boots
  if (scenario.cpus !== undefined && cpus < scenario.cpus) {
    // cycle_roles deals the race's roles out only from this many CPUs: on fewer, the run cannot meet it
    console.log(`mmrace: ${scenario.name}'s race needs ${scenario.cpus} CPUs (roles ${scenario.roles(scenario.cpus).join(', ')}); ` +
      `on ${cpus} the roles are ${scenario.roles(cpus).join(', ')}: try --cpus ${scenario.cpus}`);
  }
  const { result, report } = await run_once({ scenario, scenarioImport: ref, scenarioAsTyped: positionals[0], protocol, cpus, duration_ms, ops, seed, jitter, watchdog_ms, trace: values.trace !== undefined, lock_stat: !values['no-lock-stat'], era, interrupt: interrupted },
    ops > 0 ? { ops } : { duration_ms }, expect);
  console.log(text_report(report, { lockStat: !values['no-lock-stat'], latency: !values['no-latency'], lockOrder: values['lock-order'] }));
  write_outputs(report, result, values);
  return exit_code(report);
}

/** --json, --trace and --report of a run, from its result (the Machine it keeps: the next run may have booted) */
export function write_outputs(report: RunReport, result: RunResult, values: { json?: string; trace?: string; report?: string }): void {
  if (values.json) write_output(values.json, () => JSON.stringify(report, null, 2) + '\n');
  if (values.trace) {
    const t = chrome_trace(result.machine, report);
    if (write_output(values.trace, () => JSON.stringify(t) + '\n')) {
      console.log(`trace: ${values.trace} (${t.metadata.events} events: each CPU's last ${result.machine.bases.ring} kernel events and last ${result.machine.bases.tring} spans, ` +
        'lock waits and holds; open it in https://ui.perfetto.dev or chrome://tracing)');
    }
  }
  if (values.report && write_output(values.report, () => render_html(report))) console.log(`report: ${values.report}`);
}

/** --json, --trace and --report can be written: checked before the run */
export function check_outputs(values: { json?: string; trace?: string; report?: string }): void {
  for (const k of ['json', 'trace', 'report'] as const) check_output(k, values[k]);
}

export const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

export async function cmd_demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { cpus: { type: 'string' }, runs: { type: 'string' }, duration: { type: 'string' } } });
  const cpus = int('cpus', values.cpus, 2, 2, MAX_CPUS);
  const runs = int('runs', values.runs, 5, 1, 100);
  const duration_ms = num('duration', values.duration, 5, 0.1, 3600) * 1000;
  const scenario = SCENARIOS[0];
  console.log(`mmrace demo: ${scenario.title} (seed ${scenario.patch})`);
  console.log(`${cpus} CPUs as worker threads (${scenario.roles(cpus).join(', ')}); buggy = ${scenario.switches.join(', ')} on\n`);
  const firsts: number[] = [];
  let buggyOps = 0;
  let shown: RunReport | null = null;
  for (let k = 0; k < runs && !interrupted(); k++) {
    const r = (await run_once({ scenario, scenarioImport: scenario.name, protocol: 'buggy', cpus, duration_ms: 10_000, ops: 0, seed: k + 1, jitter: 0, interrupt: interrupted }, { duration_ms: 10_000 }, 'bug')).report;
    console.log(`buggy run ${k + 1}/${runs} (seed ${k + 1}): ${outcome_line(r).replace('outcome: ', '')}`);
    if (r.outcome === 'liveness' || r.outcome === 'internal') { console.log(text_report(r)); return exit_code(r); }
    if (r.first_failure_ms !== null) firsts.push(r.first_failure_ms);
    buggyOps += r.ops;
    shown ??= r.failure ? r : null;
  }
  if (shown) console.log(`\nthe first BUG, as the kernel would print it:\n\n${shown.failure!.splat}\n`);
  const fixed = (await run_once({ scenario, scenarioImport: scenario.name, protocol: 'fixed', cpus, duration_ms, ops: 0, seed: 1, jitter: 0, interrupt: interrupted }, { duration_ms }, 'clean')).report;
  console.log(`fixed: ${outcome_line(fixed).replace('outcome: ', '')}`);
  if (fixed.failure) console.log(`\n${fixed.failure.splat}\n`);
  const migrations = fixed.per_cpu.reduce((a, c) => a + Number(c.migrations ?? 0), 0);
  const forks = fixed.per_cpu.reduce((a, c) => a + Number(c.forks ?? 0), 0);
  const table = columns([
    ['', 'buggy (list_add)', 'fixed (list_add_tail)'],
    ['runs', String(runs), '1'],
    ['time to first BUG (median)', firsts.length ? `${fmt_ms(median(firsts))} (${firsts.length}/${runs} runs)` : `none in ${runs} runs`, fixed.failure ? fmt_ms(fixed.first_failure_ms) : `none in ${fmt_ms(fixed.elapsed_ms)}`],
    ['ops with zero violations', buggyOps ? `${fmt_count(buggyOps)} ops, all ended in a BUG` : '-', fixed.outcome === 'clean' ? `${fmt_count(fixed.ops)} ops (${fmt_count(migrations)} migrations, ${fmt_count(forks)} forks)` : `FAILED: ${fixed.outcome}`],
  ]);
  console.log('\n' + table.join('\n'));
  const ok = firsts.length > 0 && fixed.outcome === 'clean';
  console.log(`\n${ok ? 'reproduced with the buggy protocol, held with the fixed one' : 'demo expectation NOT met'}`);
  return ok ? EXIT_OK : EXIT_VIOLATION;
}

