// mmrace explore --strategy exhaustive: every schedule with at most K
// preemptions (src/search/exhaustive.ts), bound by bound, with a resumable
// checkpoint, budgets, and the first failure saved as any explore saves it.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { check_output, write_atomic, write_output } from './outputs.js';
import { loadScenario, scenarioModuleUrl } from '../scenarios/registry.js';
import { MAX_CPUS } from '../shm/layout.js';
import { createHash } from 'node:crypto';
import { ControlledExecutor, ControlledOptions, ControlledRun } from '../exec/controlled.js';
import { ExhaustiveProgress, ExhaustiveResult, SearchState, checkpoint_json, exhaustive, parse_checkpoint } from '../search/exhaustive.js';
import { failure_signature } from '../search/schedule.js';
import { code_sha256 } from '../search/fingerprint.js';
import { EXIT_LIVENESS, EXIT_OK, EXIT_VIOLATION, UsageError, era_arg, int, num, oneOf } from './args.js';
import { scenario_era } from '../exec/boot.js';
import { fmt_count } from '../report/format.js';
import { VERSION } from './version.js';
import { interrupted } from './interrupt.js';
import { EXPLORE_DEFAULTS, controlled_header, default_out, replay_of, run_reported, save_schedule, schedule_out } from './controlled.js';
import { WindowCount, never_opened, windows_line } from '../cpu/windows.js'; // cov

export const EXHAUSTIVE_SCHEMA = 'mmrace.exhaustive/1';

/** cov: ' (vacuous: window ... never opened)' when a race window of the scenario never opened in the schedules explored, else '' */
const vacuous_note = (w: WindowCount[]) => { const n = never_opened(w); return n === null ? '' : ` (vacuous: window ${n} never opened)`; };

/** the verdict line: what a complete search proves, or why it is not complete */
export function verdict(r: ExhaustiveResult): string {
  if (r.first && r.complete) return `complete: all ${r.schedules} schedules with <= ${r.bound} preemptions explored, ${r.failures} failing (the first: run ${r.first.index} of K=${r.first.k})`;
  if (r.first) return `failure: run ${r.first.index} of K=${r.first.k} (${r.first.run.preemptions} preemptions): ${failure_signature(r.first.run.run)}`;
  if (r.complete) return `complete: all ${r.schedules} schedules with <= ${r.bound} preemptions explored, 0 failures${vacuous_note(r.windows)}`;
  return `not complete: stopped (${r.stopped}) in K=${r.k} after ${r.schedules} schedules, 0 failures so far; the result says nothing of the schedules left`;
}

export async function cmd_explore_exhaustive(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      protocol: { type: 'string' }, cpus: { type: 'string' }, ops: { type: 'string' }, strategy: { type: 'string' }, seed: { type: 'string' },
      'max-steps': { type: 'string' }, out: { type: 'string' }, expect: { type: 'string' }, watchdog: { type: 'string' }, era: { type: 'string' },
      preemptions: { type: 'string' }, checkpoint: { type: 'string' }, 'max-schedules': { type: 'string' }, time: { type: 'string' },
      json: { type: 'string' }, 'no-reduction': { type: 'boolean' }, 'keep-going': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one scenario expected, got ${positionals.length}` : 'explore needs a scenario (see mmrace list)');
  const watchdog_ms = num('watchdog', values.watchdog, EXPLORE_DEFAULTS.watchdog_s, 0.1, 3600) * 1000;
  const protocol = oneOf('protocol', values.protocol, 'buggy', ['buggy', 'fixed'] as const);
  const cpus = int('cpus', values.cpus, 2, 1, Math.min(MAX_CPUS, 30));
  const ops = int('ops', values.ops, EXPLORE_DEFAULTS.ops, 1, 1_000_000);
  const seed = int('seed', values.seed, EXPLORE_DEFAULTS.seed, 0, 2 ** 31 - 1);
  const max_steps = int('max-steps', values['max-steps'], EXPLORE_DEFAULTS.max_steps, 100, 2 ** 30);
  const K = int('preemptions', values.preemptions, 2, 0, 64);
  const max_runs = values['max-schedules'] === undefined ? Infinity : int('max-schedules', values['max-schedules'], 1, 1, 2 ** 40);
  const time_ms = values.time === undefined ? Infinity : num('time', values.time, 1, 0.001, 7 * 86400) * 1000;
  const expect = values.expect === undefined ? null : oneOf('expect', values.expect, 'bug', ['bug', 'clean'] as const);
  const reduction = !values['no-reduction'];
  check_output('json', values.json);
  if (values.checkpoint !== undefined) check_output('checkpoint', values.checkpoint);
  let scenario;
  try { scenario = await loadScenario(positionals[0]); } catch (e) { throw new UsageError((e as Error).message); }
  const out = schedule_out(values.out, default_out(scenario.name, 'schedule'));
  const era = era_arg(values.era);
  scenario_era(scenario, era);
  const base = { scenario, scenarioImport: scenarioModuleUrl(positionals[0]) ?? scenario.name, scenarioAsTyped: positionals[0], protocol, cpus, ops, seed, max_steps, watchdog_ms, era };
  // a checkpoint resumes only the same search of the same code
  // --keep-going: every failure kind, and the distinct final states (outcome and each CPU's events without
  // their global sequence numbers, which an order of commuting steps changes): what checks the reduction
  const keep = values['keep-going'] ?? false;
  let kinds: Record<string, number> = {};
  let states = new Set<string>();
  const config = { scenario: positionals[0], protocol, cpus, ops, seed, era: era ?? null, max_steps, reduction, keep_going: keep, code_sha256: code_sha256() };
  let resume: SearchState | undefined;
  if (values.checkpoint !== undefined && existsSync(values.checkpoint)) {
    try {
      const c = parse_checkpoint(readFileSync(values.checkpoint, 'utf8'), values.checkpoint, config);
      resume = c.state;
      const x = c.extra as { kinds?: Record<string, number>; states?: string[] } | null;
      if (x?.kinds) kinds = x.kinds;
      if (x?.states) states = new Set(x.states);
    } catch (e) { throw new UsageError((e as Error).message); }
    if (resume.k > K) throw new UsageError(`--checkpoint ${values.checkpoint}: the search there is at K=${resume.k}, above --preemptions ${K}`);
  }
  const save = (st: SearchState) => {
    if (values.checkpoint !== undefined) write_atomic(values.checkpoint, checkpoint_json(config, st, keep ? { kinds, states: [...states] } : null));
  };
  const switches = protocol === 'buggy' ? scenario.switches : [];
  console.log(controlled_header('explore', base as ControlledOptions, scenario.roles(cpus), switches) + `  seed=${seed}`);
  console.log(`strategy: exhaustive, every schedule with <= ${K} preemptions (K = 0, 1, ... in turn), ` +
    `${reduction ? 'partial-order reduction: sleep sets over the objects of the steps' : 'no reduction'}`);
  if (resume) {
    const n = resume.rounds.reduce((a, r) => a + r.schedules, 0);
    console.log(`resumed from ${values.checkpoint}: K=${resume.k}${resume.done ? ' (complete)' : ''}, ${n} schedules explored before`);
  }
  const tty = process.stderr.isTTY && !process.env.CI;
  let lastDraw = 0, lastSave = performance.now();
  const draw = (p: ExhaustiveProgress, st: SearchState) => {
    const t = performance.now();
    if (values.checkpoint !== undefined && t - lastSave > 30_000) { save(st); lastSave = t; } // a kill -9 loses at most this much
    if (!tty || t - lastDraw < 200) return;
    lastDraw = t;
    process.stderr.write(`\rexhaustive K=${p.k}: ${fmt_count(p.schedules)} schedules, ${fmt_count(p.redundant + p.pruned)} pruned, ` +
      `${fmt_count(p.runs / Math.max(p.wall_ms / 1000, 1e-3))} schedules/s \x1b[K`);
  };
  const on_run = (r: ControlledRun, counted: boolean) => {
    if (!counted) return;
    const sig = failure_signature(r.run);
    if (sig !== 'clean') kinds[sig] = (kinds[sig] ?? 0) + 1;
    states.add(createHash('sha256').update(sig).update(r.event_log.map((l) => l.split('\n').slice(1).map((x) => x.slice(x.indexOf(' ') + 1)).join(';')).join('|')).digest('hex'));
  };
  const runs0 = resume ? resume.rounds.reduce((a, r) => a + r.runs, 0) : 0;
  const t_start = performance.now();
  const ex = new ControlledExecutor();
  try {
    let res: ExhaustiveResult;
    try {
      res = await exhaustive(ex, {
        base, preemptions: K, reduction, resume, keep_going: keep, ...(keep ? { on_run } : {}),
        progress: draw,
        // the budgets count this invocation's runs and time, not a resumed search's earlier ones
        stop: (p) => interrupted() ? `interrupted by ${interrupted()}` : p.runs - runs0 >= max_runs ? `--max-schedules ${max_runs}`
          : performance.now() - t_start >= time_ms ? `--time ${values.time}` : null,
      });
    } finally { if (tty) process.stderr.write('\r\x1b[K'); }
    save(res.state);
    const col = (...xs: string[]) => xs.map((x, i) => (i === 0 ? x.padStart(3) : x.padStart(11))).join('');
    console.log('\n' + col('K', 'schedules', 'redundant', 'pruned', 'runs', 'seconds', 'runs/s'));
    for (const r of res.rounds) {
      console.log(col(String(r.k), String(r.schedules), String(r.redundant), String(r.pruned), String(r.runs), (r.wall_ms / 1000).toFixed(1), fmt_count(r.runs / Math.max(r.wall_ms / 1000, 1e-3))));
    }
    console.log(`(redundant: runs the reduction found equivalent to a schedule explored before, stopped at the decision they became so, not counted; pruned: branches it never ran; ` +
      `runs: every run, with the replays of schedules a lower bound counted)`);
    let saved: string | null = null;
    if (res.first) {
      const f = res.first;
      const rep = await run_reported(ex, replay_of(f.options, f.run));
      console.log(`\nfirst failure: K=${f.k}, run ${f.index} of that bound${f.redundant ? ' (one the reduction counted redundant)' : ''}: ${f.run.steps} decisions, ${f.run.preemptions} preemptions` +
        `${failure_signature(rep.r.run) === failure_signature(f.run.run) ? '' : '  [WARNING: its replay ended differently]'}`);
      if (rep.splat) console.log(`\n${rep.splat}`);
      saved = save_schedule(out, f.options, rep, { name: 'exhaustive', k: f.k, iteration: f.index });
    }
    const wl = windows_line(res.windows, ` over ${res.schedules} schedules`); // cov
    if (wl) console.log(`\n${wl}`);
    const line = verdict(res);
    console.log(`\n${line}`);
    const states_sha256 = createHash('sha256').update([...states].sort().join('\n')).digest('hex');
    if (keep) {
      console.log(`--keep-going: ${res.failures} failing schedules; ${states.size} distinct final states (sha256 ${states_sha256.slice(0, 16)})`);
      for (const [sig, n] of Object.entries(kinds)) console.log(`  ${n} x ${sig}`);
    }
    if (!res.complete && !res.first && values.checkpoint !== undefined) console.log(`resume: the same command (the search is saved in ${values.checkpoint})`);
    if (values.json) {
      write_output(values.json, () => JSON.stringify({
        schema: EXHAUSTIVE_SCHEMA, tool: `mmrace ${VERSION}`, scenario: positionals[0], protocol, cpus, ops_per_cpu: ops, seed, max_steps, era: era ?? null,
        preemptions: K, reduction, complete: res.complete, stopped: res.stopped, verdict: line,
        schedules: res.schedules, redundant: res.redundant, pruned: res.pruned, runs: res.runs, failures: res.failures,
        wall_ms: Math.round(res.wall_ms), runs_per_s: res.runs / Math.max(res.wall_ms / 1000, 1e-3),
        rounds: res.rounds.map((r) => ({ ...r, wall_ms: Math.round(r.wall_ms) })),
        first_failure: res.first ? {
          k: res.first.k, schedule: res.first.index, redundant: res.first.redundant, preemptions: res.first.run.preemptions, decisions: res.first.run.steps,
          outcome: res.first.run.run.outcome, signature: failure_signature(res.first.run.run), saved,
        } : null,
        checkpoint: values.checkpoint ?? null,
        windows: res.windows, vacuous: res.complete && !res.first ? never_opened(res.windows) : null, // cov
        ...(keep ? { failure_kinds: kinds, final_states: states.size, final_states_sha256: states_sha256 } : {}),
      }, null, 2) + '\n');
    }
    const failed = !!res.first && res.first.run.run.outcome !== 'liveness';
    const live = !!res.first && !failed;
    if (expect) return (expect === 'bug' ? !!res.first : res.complete && !res.first && never_opened(res.windows) === null) ? EXIT_OK : EXIT_VIOLATION;
    return failed ? EXIT_VIOLATION : live ? EXIT_LIVENESS : EXIT_OK;
  } finally {
    await ex.close();
  }
}
