// mmrace explore, replay, shrink and capture: the controlled executor's commands.
import { parseArgs } from 'node:util';
import { check_output, write_new, write_output } from './outputs.js';
import { fresh_instance_url, loadScenario, load_module, scenarioModuleUrl, scenario_label } from '../scenarios/registry.js';
import { MAX_CPUS, PCT_MAX_DEPTH } from '../shm/layout.js';
import { JITTER_NAMES } from '../worker/jitter.js';
import { RunReport, build_report } from '../report/json.js';
import { outcome_line } from '../report/text.js';
import { fmt_count } from '../report/format.js';
import { ladder } from '../report/ladder.js';
import { collect_events } from '../cpu/events.js';
import { ControlledExecutor, ControlledOptions, ControlledRun, segments_of } from '../exec/controlled.js';
import { ExploreStrategy, StrategyReport, explore } from '../search/explore.js';
import { FoundBy, decisions_sha256, divergence_cause, failure_message, failure_signature, file_sha256, first_difference, load_schedule, schedule_json, schedule_of } from '../search/schedule.js';
import { code_sha256 } from '../search/fingerprint.js';
import { dirname, relative, resolve } from 'node:path';
import { ShrinkError, shrink } from '../search/shrink.js';
import { capture } from '../search/capture.js';
import { EXIT_INTERNAL, EXIT_LIVENESS, EXIT_OK, EXIT_VIOLATION, OUTCOME_EXIT, UsageError, era_arg, int, num, oneOf, progress, run_args } from './args.js';
import { scenario_era } from '../exec/boot.js';
import { VERSION } from './version.js';
import { interrupted } from './interrupt.js';
import { write_outputs } from './run.js';
import { cmd_explore_exhaustive } from './exhaustive.js';
import { WindowCount, add_window_counts, clean_label, never_opened, windows_line } from '../cpu/windows.js'; // cov

// ---- the controlled executor: explore, replay, shrink, capture ----

/** what a controlled run's report is made of, from the run's result (the Machine it keeps) */
export interface Reported { r: ControlledRun; report: RunReport; splat: string | null; events: ReturnType<typeof collect_events> }

export async function run_reported(ex: ControlledExecutor, o: ControlledOptions): Promise<Reported> {
  const r = await ex.run(o);
  const report = build_report(r.run, { ops: r.run.ops }, null, null, VERSION);
  return { r, report, splat: report.failure?.splat ?? report.lockdep.report?.text ?? null, events: collect_events(r.run.machine) };
}

export function controlled_header(cmd: string, o: ControlledOptions, roles: string[], switches: string[]): string {
  return `mmrace ${cmd} ${o.scenarioAsTyped ?? o.scenario.name}  protocol=${o.protocol}${switches.length ? ` [${switches.join(', ')}]` : ''}` +
    `  cpus=${o.cpus} (${roles.join(', ')})  ops/CPU=${o.ops || 'unbounded'}  max-steps=${o.max_steps}`;
}

function controlled_outcome({ r, report }: Reported): string {
  const ops = `${fmt_count(r.run.ops)} ops`;
  const what = r.run.outcome === 'clean' ? `${clean_label(r.run.windows)}: ${ops}, 0 violations`
    : r.run.outcome === 'bug' ? `BUG at decision ${r.steps} (${ops})`
    : r.run.outcome === 'violation' && !r.run.oops && r.run.lockdep_cycle ? `lockdep: possible circular locking dependency (${r.run.lockdep_cycle}) by decision ${r.steps} (${ops})`
    : r.run.outcome === 'violation' ? `violation at decision ${r.steps} (${ops})`
    : r.run.outcome === 'liveness' ? `liveness failure at decision ${r.steps}: ${report.reason}` : `internal error at decision ${r.steps}: ${report.reason}`;
  return `outcome: ${what}; ${r.steps} decisions, ${r.switches.length} hand-offs, ${r.preemptions} preemptions`;
}

/** a scenario module's own instance (its module-level state afresh) and an executor with fresh workers to run it */
export async function own_instance(o: ControlledOptions): Promise<{ ex: ControlledExecutor; o: Pick<ControlledOptions, 'scenario' | 'scenarioImport'> }> {
  const scenarioImport = fresh_instance_url(o.scenarioImport);
  const scenario = await load_module(scenarioImport, o.scenarioAsTyped);
  return { ex: new ControlledExecutor(), o: { scenario, scenarioImport } };
}

/** replay options for exactly what a controlled run did */
export function replay_of(o: ControlledOptions, r: ControlledRun): ControlledOptions {
  return { ...o, strategy: { name: 'replay', segments: segments_of(r.switches), first: r.first_cpu } };
}

/**
 * save a schedule: over `out` if the user named it (atomically), else under
 * a free variant of the default name; says where, or that it could not
 */
export function save_schedule(out: { path: string; given: boolean }, o: ControlledOptions, rep: Reported, found: FoundBy): string | null {
  const f = schedule_of(o, rep.r, found, `mmrace ${VERSION}`, rep.splat);
  // what a replay needs to tell an edited file, changed code and a changed module apart
  f.decisions_sha256 = decisions_sha256(f.decisions);
  f.code_sha256 = code_sha256();
  if (o.scenarioImport.startsWith('file:')) {
    const mod = scenario_label(o.scenarioImport);
    f.module = { path: relative(dirname(resolve(out.path)), mod), sha256: file_sha256(mod) }; // relative to the schedule file
  }
  const text = schedule_json(f);
  const saved = out.given ? (write_output(out.path, () => text) ? out.path : null) : write_new(out.path, text);
  const m = f.module ? ` --module ${o.scenarioAsTyped ?? scenario_label(o.scenarioImport)}` : '';
  if (saved) console.log(`\nschedule saved: ${saved}\n  mmrace replay ${saved}${m} --verify\n  mmrace shrink ${saved}${m}`);
  return saved;
}

/** where a schedule goes: --out, else the default name; checked before the run */
export function schedule_out(given: string | undefined, dflt: string): { path: string; given: boolean } {
  check_output('out', given ?? dflt);
  return { path: given ?? dflt, given: given !== undefined };
}

export const default_out = (name: string, what: string) => `mmrace-${name}.${what}.json`;

/** mmrace explore's defaults; `npm run bench` explores with them too, so its figures are what a user gets */
export const EXPLORE_DEFAULTS = {
  strategies: ['pct'] as ExploreStrategy[], depth: 3, ops: 1, iterations: 500, seed: 1, max_steps: 100_000, watchdog_s: 15,
};

function strategies_arg(v: string | undefined): ExploreStrategy[] {
  const list = (v ?? EXPLORE_DEFAULTS.strategies.join(',')).split(',').map((x) => x.trim());
  for (const x of list) if (x !== 'random' && x !== 'pct') throw new UsageError(`--strategy must be random, pct, a comma list of them, or exhaustive (alone), got '${v}'`);
  return [...new Set(list)] as ExploreStrategy[];
}

function strategy_label(s: StrategyReport): string {
  return s.strategy === 'pct' ? `pct d=${s.depth} k=${s.k}` : 'random walk';
}

export async function cmd_explore(argv: string[]): Promise<number> {
  if (parseArgs({ args: argv, strict: false, options: { strategy: { type: 'string' } } }).values.strategy === 'exhaustive') return cmd_explore_exhaustive(argv); // h14
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      protocol: { type: 'string' }, cpus: { type: 'string' }, ops: { type: 'string' }, strategy: { type: 'string' },
      depth: { type: 'string' }, k: { type: 'string' }, iterations: { type: 'string' }, seed: { type: 'string' },
      'max-steps': { type: 'string' }, out: { type: 'string' }, 'stop-at-first': { type: 'boolean' }, expect: { type: 'string' },
      watchdog: { type: 'string' }, era: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one scenario expected, got ${positionals.length}` : 'explore needs a scenario (see mmrace list)');
  const watchdog_ms = num('watchdog', values.watchdog, EXPLORE_DEFAULTS.watchdog_s, 0.1, 3600) * 1000;
  const protocol = oneOf('protocol', values.protocol, 'buggy', ['buggy', 'fixed'] as const);
  const cpus = int('cpus', values.cpus, 2, 1, MAX_CPUS);
  const ops = int('ops', values.ops, EXPLORE_DEFAULTS.ops, 0, 1_000_000);
  const strategies = strategies_arg(values.strategy);
  const depth = int('depth', values.depth, EXPLORE_DEFAULTS.depth, 1, PCT_MAX_DEPTH);
  const k = values.k === undefined ? null : int('k', values.k, 1, 1, 2 ** 30);
  const iterations = int('iterations', values.iterations, EXPLORE_DEFAULTS.iterations, 1, 10_000_000);
  const seed = int('seed', values.seed, EXPLORE_DEFAULTS.seed, 0, 2 ** 31 - 1);
  const max_steps = int('max-steps', values['max-steps'], EXPLORE_DEFAULTS.max_steps, 100, 2 ** 30);
  const expect = values.expect === undefined ? null : oneOf('expect', values.expect, 'bug', ['bug', 'clean'] as const);
  let scenario;
  try { scenario = await loadScenario(positionals[0]); } catch (e) { throw new UsageError((e as Error).message); }
  const out = schedule_out(values.out, default_out(scenario.name, 'schedule'));
  const era = era_arg(values.era);
  scenario_era(scenario, era);
  const base = { scenario, scenarioImport: scenarioModuleUrl(positionals[0]) ?? scenario.name, scenarioAsTyped: positionals[0], protocol, cpus, ops, max_steps, watchdog_ms, era };
  const switches = protocol === 'buggy' ? scenario.switches : [];
  console.log(controlled_header('explore', base as ControlledOptions, scenario.roles(cpus), switches) + `  seed=${seed}`);
  const ex = new ControlledExecutor();
  try {
    const stop = progress(`exploring ${scenario.name}...`, performance.now());
    let reps: StrategyReport[];
    try {
      reps = await explore(ex, { base, strategies, iterations, seed, depth, k, stop_at_first: values['stop-at-first'], stop: () => interrupted() !== null });
    } finally { stop(); }
    const col = (a: string, ...rest: string[]) => a.padEnd(16) + rest.map((x) => x.padStart(12)).join('');
    console.log('\n' + col('strategy', 'runs', 'failing', 'hit rate', 'first', 'decisions', 'hand-offs', 'decisions/s', 'hand-offs/s'));
    for (const s of reps) {
      const secs = s.wall_ms / 1000;
      console.log(col(strategy_label(s), String(s.iterations), String(s.failures), `${(100 * s.hit_rate).toFixed(1)}%`,
        s.first_failure_iteration === null ? '-' : `#${s.first_failure_iteration}`, fmt_count(s.decisions), fmt_count(s.hand_offs),
        fmt_count(s.decisions / secs), fmt_count(s.hand_offs / secs)));
    }
    for (const s of reps) for (const [sig, n] of Object.entries(s.kinds)) console.log(`  ${strategy_label(s)}: ${n} x ${sig}`);
    const windows = reps.reduce((a: WindowCount[], s) => add_window_counts(a, s.windows), []); // cov
    const wl = windows_line(windows, ` over ${reps.reduce((a, s) => a + s.iterations, 0)} runs`);
    if (wl) console.log(wl);
    const vacuous = never_opened(windows);
    if (interrupted()) console.log(`interrupted by ${interrupted()} after ${reps.reduce((a, s) => a + s.iterations, 0)} runs`);
    const found = reps.find((s) => s.first);
    const failed = reps.some((s) => s.failures > s.liveness);
    const live = reps.some((s) => s.liveness > 0);
    if (found?.first) {
      const f = found.first;
      // a module's failure is replayed on its own before it is saved: a fresh instance of the module in fresh
      // workers, so a failure that needs state left over from earlier iterations is not saved as a schedule
      const alone = scenarioModuleUrl(positionals[0]) ? await own_instance(f.options) : null;
      let rep: Reported;
      try {
        rep = await run_reported(alone?.ex ?? ex, alone ? { ...replay_of(f.options, f.run), ...alone.o } : replay_of(f.options, f.run));
      } finally { await alone?.ex.close(); }
      if (alone && failure_signature(rep.r.run) !== failure_signature(f.run.run)) {
        console.log(`\nfirst failure: ${strategy_label(found)}, iteration ${f.iteration}: ${failure_signature(f.run.run)}`);
        console.log(`mmrace: the failure did not replay on its own: a fresh instance of ${positionals[0]} in fresh workers ended ${failure_signature(rep.r.run)}. ` +
          'The module keeps state from one run to the next (module-level variables?); every run must start from what setup() returns. No schedule saved.');
        return EXIT_INTERNAL;
      }
      const same = first_difference(schedule_of(f.options, f.run, { name: found.strategy }, '', null), rep.r.switches) < 0;
      console.log(`\nfirst failure: ${strategy_label(found)}, iteration ${f.iteration} (seed ${f.options.seed}): ` +
        `${f.run.steps} decisions, ${f.run.preemptions} preemptions${same ? '' : '  [WARNING: its replay made different decisions]'}`);
      if (rep.splat) console.log(`\n${rep.splat}`);
      save_schedule(out, f.options, rep, {
        name: found.strategy, seed: f.options.seed, iteration: f.iteration,
        ...(found.strategy === 'pct' ? { depth, k: found.k ?? undefined, change_points: f.run.change_points } : {}),
      });
    } else {
      console.log(`\nno failure in ${reps.map((s) => `${s.iterations} ${strategy_label(s)} runs`).join(', ')}${!failed && !live && vacuous ? ` (vacuous: window ${vacuous} never opened)` : ''}`);
    }
    if (expect === 'clean' && !failed && !live && vacuous) console.log(`expected clean: MISSED: vacuous, window ${vacuous} never opened`);
    if (expect) return (expect === 'bug' ? failed : !failed && !live && !vacuous) ? EXIT_OK : EXIT_VIOLATION;
    return failed ? EXIT_VIOLATION : live ? EXIT_LIVENESS : EXIT_OK;
  } finally {
    await ex.close();
  }
}

export async function cmd_replay(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: {
    verify: { type: 'boolean' }, ladder: { type: 'boolean' }, trace: { type: 'string' }, json: { type: 'string' }, report: { type: 'string' }, watchdog: { type: 'string' }, module: { type: 'string' },
  } });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one schedule file expected, got ${positionals.length}` : 'replay needs a schedule file (from mmrace explore, shrink or capture)');
  const wd = values.watchdog === undefined ? undefined : num('watchdog', values.watchdog, 15, 0.1, 3600) * 1000;
  for (const k of ['json', 'trace', 'report'] as const) check_output(k, values[k]);
  const loaded = await load_schedule(positionals[0], values.module);
  const file = loaded.file, options = { ...loaded.options, ...(wd === undefined ? {} : { watchdog_ms: wd }) };
  const ex = new ControlledExecutor();
  try {
    const a = await run_reported(ex, { ...options, sites: values.ladder ?? false, trace: values.trace !== undefined });
    console.log(controlled_header('replay', options, a.r.run.roles, a.r.run.switches) + `  seed=${options.seed}`);
    console.log(`schedule: ${positionals[0]}: ${file.decisions.length} hand-offs, ${file.preemptions} preemptions (found by ${file.found_by.name}${file.found_by.iteration !== undefined ? `, iteration ${file.found_by.iteration}` : ''})`);
    if (loaded.module_changed) console.log(`scenario module: ${values.module} differs from the one the schedule recorded (sha256)`);
    console.log(controlled_outcome(a));
    const wl = windows_line(a.r.run.windows); // cov
    if (wl) console.log(wl);
    if (a.splat) console.log(`\n${a.splat}`);
    if (a.r.run.invariants.length && !a.splat?.includes(a.r.run.invariants[0])) console.log(`\ninvariants:\n${a.r.run.invariants.map((x) => `  ${x}`).join('\n')}`);
    if (values.ladder) console.log(`\n${ladder(a.r, a.events)}`);
    write_outputs(a.report, a.r.run, values);
    const diff = first_difference(file, a.r.switches);
    console.log('');
    // a deadlock's last decision finds no CPU of the schedule able to run: that is where the recorded run ended too
    const followed = diff < 0 && (a.r.diverged === 0 || (a.r.run.outcome === 'liveness' && a.r.diverged === a.r.steps));
    console.log(followed ? `replay: followed the schedule exactly (${a.r.steps} decisions)`
      : `replay: left the schedule at hand-off ${diff + 1} (decision ${a.r.diverged || '?'}): ${divergence_cause(loaded, code_sha256())}`);
    if (file.expect) {
      const same = a.r.run.outcome === file.expect.outcome && failure_message(a.r.run) === file.expect.message;
      console.log(same ? `replay: the recorded failure, ${a.splat === file.expect.splat ? 'with the recorded splat, word for word' : 'but the splat text differs from the recorded one (line numbers moved?)'}`
        : `replay: did NOT reproduce the recorded failure (${file.expect.outcome}: ${file.expect.message})`);
    }
    if (values.verify) {
      const b = await run_reported(ex, { ...options, trace: values.trace !== undefined }); // the same rings as the first replay
      const problems: string[] = [];
      if (a.splat !== b.splat) problems.push('the splats differ');
      if (first_difference(schedule_of(options, a.r, { name: 'replay' }, '', null), b.r.switches) >= 0) problems.push('the decisions differ');
      const lines: string[] = [];
      for (let c = 0; c < options.cpus; c++) {
        const same = a.r.event_log[c] === b.r.event_log[c];
        if (!same) problems.push(`CPU ${c}'s event log differs`);
        const n = a.r.event_log[c].split('\n').length - 1;
        lines.push(`  CPU ${c} (${a.r.run.roles[c]}): ${n} events in its ring, ${same ? 'identical' : 'DIFFERENT'}`);
      }
      console.log(`--verify: replayed twice: ${problems.length ? `NOT deterministic: ${problems.join(', ')}` : 'identical decisions, splat and per-CPU event logs'}`);
      console.log(lines.join('\n'));
      if (problems.length) return EXIT_INTERNAL;
    }
    return OUTCOME_EXIT[a.r.run.outcome];
  } finally {
    await ex.close();
  }
}

export async function cmd_shrink(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' }, 'max-runs': { type: 'string' }, module: { type: 'string' }, watchdog: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one schedule file expected, got ${positionals.length}` : 'shrink needs a schedule file');
  const maxRuns = int('max-runs', values['max-runs'], 2000, 1, 1_000_000);
  const path = positionals[0];
  const out = values.out ?? (path.endsWith('.json') ? path.replace(/(\.schedule)?\.json$/, '.min.json') : `${path}.min.json`);
  check_output('out', out);
  const wd = values.watchdog === undefined ? undefined : num('watchdog', values.watchdog, 15, 0.1, 3600) * 1000;
  const loaded = await load_schedule(path, values.module);
  const options = { ...loaded.options, ...(wd === undefined ? {} : { watchdog_ms: wd }) };
  if (loaded.module_changed) console.log(`scenario module: ${values.module} differs from the one the schedule recorded (sha256)`);
  const ex = new ControlledExecutor();
  try {
    const stop = progress(`shrinking ${path}...`, performance.now());
    let res;
    try {
      res = await shrink(ex, options, maxRuns, undefined, () => interrupted() !== null);
    } catch (e) {
      if (e instanceof ShrinkError) { console.error(`mmrace: error: ${path}: ${e.message}`); return EXIT_VIOLATION; }
      throw e;
    } finally { stop(); }
    const fin = await run_reported(ex, { ...res.options, sites: true });
    const o = res.original, m = res.shrunk;
    console.log(controlled_header('shrink', options, m.run.roles, m.run.switches) + `  seed=${options.seed}`);
    console.log(`shrunk ${path}: ${o.preemptions} -> ${m.preemptions} preemptions, ${o.switches.length} -> ${m.switches.length} hand-offs, ` +
      `${o.steps} -> ${m.steps} decisions in ${res.runs} runs${interrupted() ? ` (interrupted by ${interrupted()}: may shrink further)` : res.budget_hit ? ' (run budget spent: may shrink further)' : ' (no single turn can go)'}`);
    console.log(`still fails: ${res.signature}${failure_signature(fin.r.run) === res.signature ? '' : '  [WARNING: the final replay differs]'}\n`);
    console.log(ladder(fin.r, fin.events));
    if (fin.splat) console.log(`\n${fin.splat}`);
    save_schedule({ path: out, given: true }, res.options, fin, { name: 'shrink', from: path });
    return EXIT_OK;
  } finally {
    await ex.close();
  }
}

export async function cmd_capture(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      protocol: { type: 'string' }, cpus: { type: 'string' }, duration: { type: 'string' }, ops: { type: 'string' }, seed: { type: 'string' },
      jitter: { type: 'string' }, runs: { type: 'string' }, rehunt: { type: 'string' }, out: { type: 'string' }, 'max-steps': { type: 'string' }, era: { type: 'string' },
      repair: { type: 'string' },
    },
  });
  const { protocol, cpus, ops, duration_ms, seed, jitter, era } = run_args('capture', values, positionals, 2 ** 31 - 1000);
  const runs = int('runs', values.runs, 5, 1, 1000);
  const rehunt = int('rehunt', values.rehunt, 200, 0, 1_000_000);
  const repair = int('repair', values.repair, 16, 0, 10_000);
  const max_steps = int('max-steps', values['max-steps'], 100_000, 100, 2 ** 30);
  let scenario;
  try { scenario = await loadScenario(positionals[0]); } catch (e) { throw new UsageError((e as Error).message); }
  const ref = scenarioModuleUrl(positionals[0]) ?? scenario.name;
  scenario_era(scenario, era);
  const out = schedule_out(values.out, default_out(scenario.name, 'captured'));
  const ex = new ControlledExecutor();
  let freeReport: RunReport | null = null;
  try {
    const stop = progress(`capturing ${scenario.name}...`, performance.now());
    let res;
    try {
      res = await capture(ex, {
        free: { scenario, scenarioImport: ref, scenarioAsTyped: positionals[0], protocol, cpus, duration_ms, ops, seed, jitter, era, interrupt: interrupted },
        runs, rehunt, repair, max_steps,
        on_free_failure: (r) => { freeReport = build_report({ ...r, jitter: JITTER_NAMES[jitter] }, ops > 0 ? { ops } : { duration_ms }, null, null, VERSION); },
      });
    } finally { stop(); }
    const fr = freeReport as RunReport | null;
    console.log(`mmrace capture ${positionals[0]}  protocol=${protocol}  cpus=${cpus} (${scenario.roles(cpus).join(', ')})  jitter=${JITTER_NAMES[jitter]}`);
    if (!fr) {
      console.log(`no failure in ${res.free_runs} free-running run${res.free_runs === 1 ? '' : 's'} (seeds ${seed}..${seed + res.free_runs - 1}): nothing to capture`);
      return EXIT_VIOLATION;
    }
    console.log(`free run (seed ${fr.seed}): ${outcome_line(fr).replace('outcome: ', '')}: ${fr.failure?.message ?? ''}`);
    if (!('attempts' in res)) {
      if (fr.failure) console.log(`\n${fr.failure.splat}`);
      return EXIT_INTERNAL; // the free run itself failed: nothing to turn into a schedule
    }
    console.log(`recorded: ${fmt_count(res.points)} steps, merged in the order they met other CPUs: ${fmt_count(res.captured_segments)} turns`);
    const left = res.diverged ? `not replayed exactly: the replay that followed the free run furthest left it at ${res.diverged}` : null;
    if (!res.method || !res.options || !res.controlled) {
      console.log(`${res.note}: no schedule`);
      if (left) console.log(left);
      if (fr.failure) console.log(`\nthe free-running failure:\n\n${fr.failure.splat}`);
      return EXIT_VIOLATION;
    }
    const rep = await run_reported(ex, replay_of(res.options, res.controlled));
    console.log(`${res.method}: ${res.note}`);
    if (left) console.log(left);
    console.log(controlled_outcome(rep));
    if (rep.splat) console.log(`\n${rep.splat}`);
    save_schedule(out, res.options, rep, { name: 'capture', seed: fr.seed, from: res.method });
    return EXIT_OK;
  } finally {
    await ex.close();
  }
}

