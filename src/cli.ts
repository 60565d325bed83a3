#!/usr/bin/env node
// The mmrace command: list, run, demo. Usage errors are one line and exit 2.
// Exit codes: 0 ok (or expectation met), 1 correctness violation (or
// expectation missed), 2 usage, 3 liveness (deadlock/livelock), 4 internal.
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { SCENARIOS, ScenarioError, loadScenario, scenarioModuleUrl } from './scenarios/registry.js';
import { SWITCHES } from './shm/switches.js';
import { MAX_CPUS } from './shm/layout.js';
import { JITTER_NAMES } from './exec/jitter.js';
import { RunOptions, run_free } from './exec/free_run.js';
import { RunReport, build_report } from './report/json.js';
import { outcome_line, text_report } from './report/text.js';
import { fmt_count, fmt_ms } from './report/format.js';

export const EXIT_OK = 0, EXIT_VIOLATION = 1, EXIT_USAGE = 2, EXIT_LIVENESS = 3, EXIT_INTERNAL = 4;

class UsageError extends Error {}

const VERSION: string = (() => {
  try { return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version; } catch { /* running from src */ }
  try { return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version; } catch { return '0'; }
})();

const HELP = `mmrace ${VERSION}: Linux mm locking protocols on real threads

usage:
  mmrace list
  mmrace run <scenario|module.js> [--protocol buggy|fixed] [--cpus N]
             [--duration S | --ops N] [--seed S] [--jitter none|light|heavy]
             [--expect bug|clean] [--json FILE] [--watchdog S] [--no-lock-stat]
  mmrace demo [--cpus N] [--runs K] [--duration S]

exit: 0 ok/expectation met, 1 violation/expectation missed, 2 usage, 3 liveness, 4 internal`;

function int(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name} must be an integer, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function num(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || v.trim() === '') throw new UsageError(`--${name} must be a number, got '${v}'`);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(name: string, v: string | undefined, dflt: T, allowed: readonly T[]): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join('|')}, got '${v}'`);
  return v as T;
}

function progress(label: string, start: number): () => void {
  if (!process.stderr.isTTY || process.env.CI) return () => {};
  const t = setInterval(() => process.stderr.write(`\r${label} ${((performance.now() - start) / 1000).toFixed(1)} s`), 200);
  return () => { clearInterval(t); process.stderr.write('\r\x1b[K'); };
}

function exit_code(r: RunReport): number {
  if (r.outcome === 'liveness') return EXIT_LIVENESS;
  if (r.outcome === 'internal') return EXIT_INTERNAL;
  if (r.expect) return r.expectation_met ? EXIT_OK : EXIT_VIOLATION;
  return r.outcome === 'clean' ? EXIT_OK : EXIT_VIOLATION;
}

function cmd_list(): number {
  console.log('scenarios:');
  for (const s of SCENARIOS) {
    console.log(`  ${s.name.padEnd(28)} ${s.title}`);
    console.log(`  ${''.padEnd(28)} seed ${s.seed}; buggy switches: ${s.switches.join(', ')}; buggy shows: ${s.expect_buggy}`);
  }
  console.log('\nswitches (on = the pre-patch line runs):');
  for (const w of SWITCHES) console.log(`  ${w.name.padEnd(28)} ${w.what} (seed ${w.seed})`);
  return EXIT_OK;
}

async function run_once(o: RunOptions, budget: RunReport['budget'], expect: string | null): Promise<RunReport> {
  const stop = progress(`running ${o.scenario.name} (${o.protocol}, ${o.cpus} CPUs)...`, performance.now());
  try {
    const r = await run_free(o);
    const failed = r.outcome === 'bug' || r.outcome === 'violation';
    const met = expect === null ? null : expect === 'bug' ? failed : r.outcome === 'clean';
    return build_report(r, budget, expect, met, VERSION);
  } finally {
    stop();
  }
}

async function cmd_run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      protocol: { type: 'string' }, cpus: { type: 'string' }, duration: { type: 'string' }, ops: { type: 'string' },
      seed: { type: 'string' }, jitter: { type: 'string' }, json: { type: 'string' }, expect: { type: 'string' },
      watchdog: { type: 'string' }, 'no-lock-stat': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one scenario expected, got ${positionals.length}` : 'run needs a scenario (see mmrace list)');
  if (values.duration !== undefined && values.ops !== undefined) throw new UsageError('give --duration or --ops, not both');
  const protocol = oneOf('protocol', values.protocol, 'buggy', ['buggy', 'fixed'] as const);
  const cpus = int('cpus', values.cpus, 2, 1, MAX_CPUS);
  const ops = int('ops', values.ops, 0, 1, 2 ** 31 - 1);
  const duration_ms = num('duration', values.duration, 5, 0.01, 86400) * 1000;
  const seed = int('seed', values.seed, 1, 0, 2 ** 31 - 1);
  const jitter = JITTER_NAMES.indexOf(oneOf('jitter', values.jitter, 'none', JITTER_NAMES));
  const expect = values.expect === undefined ? null : oneOf('expect', values.expect, 'bug', ['bug', 'clean'] as const);
  const watchdog_ms = num('watchdog', values.watchdog, 15, 0.1, 3600) * 1000;
  let scenario;
  try { scenario = await loadScenario(positionals[0]); } catch (e) { throw new UsageError((e as Error).message); }
  const ref = scenarioModuleUrl(positionals[0]) ?? scenario.name;
  const report = await run_once({ scenario, scenarioRef: ref, scenarioArg: positionals[0], protocol, cpus, duration_ms, ops, seed, jitter, watchdog_ms },
    ops > 0 ? { ops } : { duration_ms }, expect);
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
  console.log(text_report(report, { lockStat: !values['no-lock-stat'] }));
  return exit_code(report);
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

async function cmd_demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { cpus: { type: 'string' }, runs: { type: 'string' }, duration: { type: 'string' } } });
  const cpus = int('cpus', values.cpus, 2, 2, MAX_CPUS);
  const runs = int('runs', values.runs, 5, 1, 100);
  const duration_ms = num('duration', values.duration, 5, 0.1, 3600) * 1000;
  const scenario = SCENARIOS[0];
  console.log(`mmrace demo: ${scenario.title} (seed ${scenario.seed})`);
  console.log(`${cpus} CPUs as worker threads (${scenario.roles(cpus).join(', ')}); buggy = ${scenario.switches.join(', ')} on\n`);
  const firsts: number[] = [];
  let buggyOps = 0;
  let shown: RunReport | null = null;
  for (let k = 0; k < runs; k++) {
    const r = await run_once({ scenario, scenarioRef: scenario.name, protocol: 'buggy', cpus, duration_ms: 10_000, ops: 0, seed: k + 1, jitter: 0 }, { duration_ms: 10_000 }, 'bug');
    console.log(`buggy run ${k + 1}/${runs} (seed ${k + 1}): ${outcome_line(r).replace('outcome: ', '')}`);
    if (r.outcome === 'liveness' || r.outcome === 'internal') { console.log(text_report(r)); return exit_code(r); }
    if (r.first_failure_ms !== null) firsts.push(r.first_failure_ms);
    buggyOps += r.ops;
    shown ??= r.failure ? r : null;
  }
  if (shown) console.log(`\nthe first BUG, as the kernel would print it:\n\n${shown.failure!.splat}\n`);
  const fixed = await run_once({ scenario, scenarioRef: scenario.name, protocol: 'fixed', cpus, duration_ms, ops: 0, seed: 1, jitter: 0 }, { duration_ms }, 'clean');
  console.log(`fixed: ${outcome_line(fixed).replace('outcome: ', '')}`);
  if (fixed.failure) console.log(`\n${fixed.failure.splat}\n`);
  const migrations = fixed.per_cpu.reduce((a, c) => a + Number(c.migrations ?? 0), 0);
  const forks = fixed.per_cpu.reduce((a, c) => a + Number(c.forks ?? 0), 0);
  const col = (a: string, b: string, c: string) => `${a.padEnd(28)}${b.padEnd(30)}${c}`;
  console.log('\n' + col('', 'buggy (list_add)', 'fixed (list_add_tail)'));
  console.log(col('runs', String(runs), '1'));
  console.log(col('time to first BUG (median)', firsts.length ? `${fmt_ms(median(firsts))} (${firsts.length}/${runs} runs)` : `none in ${runs} runs`, fixed.failure ? fmt_ms(fixed.first_failure_ms) : `none in ${fmt_ms(fixed.elapsed_ms)}`));
  console.log(col('ops with zero violations', buggyOps ? `${fmt_count(buggyOps)} ops, all ended in a BUG` : '-', fixed.outcome === 'clean' ? `${fmt_count(fixed.ops)} ops (${fmt_count(migrations)} migrations, ${fmt_count(forks)} forks)` : `FAILED: ${fixed.outcome}`));
  const ok = firsts.length > 0 && fixed.outcome === 'clean';
  console.log(`\n${ok ? 'reproduced with the buggy protocol, held with the fixed one' : 'demo expectation NOT met'}`);
  return ok ? EXIT_OK : EXIT_VIOLATION;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'list': return cmd_list();
      case 'run': return await cmd_run(rest);
      case 'demo': return await cmd_demo(rest);
      case undefined: case '-h': case '--help': case 'help': console.log(HELP); return cmd === undefined ? EXIT_USAGE : EXIT_OK;
      case '--version': console.log(VERSION); return EXIT_OK;
      default: throw new UsageError(`unknown command '${cmd}' (try mmrace --help)`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ScenarioError || e instanceof RangeError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`mmrace: error: ${(e as Error).message}`);
      return EXIT_USAGE;
    }
    const msg = (e as Error).message ?? String(e);
    if (/^(scenario setup|unknown switch)/.test(msg)) { console.error(`mmrace: error: ${msg}`); return EXIT_USAGE; }
    console.error(`mmrace: internal error: ${msg}`);
    return EXIT_INTERNAL;
  }
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain || process.argv[1]?.endsWith('/mmrace')) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
