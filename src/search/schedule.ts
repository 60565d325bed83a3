// The saved schedule: what a controlled run did, enough to do it again.
// Versioned JSON ("mmrace.schedule/1", documented in README.md): the run's
// configuration (scenario, protocol and switches, CPUs and roles, seed, ops
// per CPU, step bound), how the schedule was found, and the decision list:
// every hand-off of the token as [step, cpu, pp, spin, to, why]. A replay
// runs each CPU to the point where it handed the token on, in order
// (src/worker/strategies.ts), so the file alone reproduces the run.
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAX_CPUS, PCT_MAX_DEPTH } from '../shm/layout.js';
import { clip } from '../exec/clip.js';
import { OUTCOMES } from '../check/outcome.js';
import { SWITCHES } from '../shm/switches.js';
import { scenario_era } from '../exec/boot.js';
import { ScenarioError, loadScenario, load_module, scenarioModuleUrl } from '../scenarios/registry.js';
import type { Scenario } from '../scenarios/types.js';
import type { RunResult } from '../exec/free_run.js';
import { ControlledOptions, ControlledRun, Switch, segments_of } from '../exec/controlled.js';
import { WHY_NAMES } from '../worker/sched_state.js';

export const SCHEDULE_SCHEMA = 'mmrace.schedule/1';
/** the controlled executor's watchdog when nothing sets one */
export const DEFAULT_WATCHDOG_MS = 15_000;
export const DECISION_FIELDS = ['step', 'cpu', 'pp', 'spin', 'to', 'why'] as const;

/** how the schedule was found */
export interface FoundBy {
  name: 'random' | 'pct' | 'replay' | 'shrink' | 'capture' | 'exhaustive';
  seed?: number; depth?: number; k?: number; change_points?: number[]; iteration?: number; from?: string;
}

export interface ScheduleFile {
  schema: string;
  tool: string;
  scenario: string;
  /** E0..E4 as 0..4 (src/shm/era.ts); absent in files older than eras: the scenario's default */
  era?: number;
  protocol: 'buggy' | 'fixed';
  switches: string[];
  cpus: number;
  roles: string[];
  seed: number;
  ops_per_cpu: number;
  max_steps: number;
  /** the watchdog the run had, ms (absent in older files: 15 s); replay --watchdog overrides it */
  watchdog_ms?: number;
  found_by: FoundBy;
  first_cpu: number;
  decision_fields: readonly string[];
  decisions: [number, number, number, number, number, string][];
  steps: number;
  preemptions: number;
  /** what the run ended in: the replay is checked against it */
  expect: { outcome: string; message: string; splat: string } | null;
  /**
   * a scenario module's run: the module's path relative to this file and its
   * content's sha256. A schedule never imports it: replay and shrink run a
   * module only when given one with --module, and say if it changed
   */
  module?: { path: string; sha256: string };
  /** sha256 of the decisions as recorded: a replay that leaves them can tell an edited file from changed code */
  decisions_sha256?: string;
  /** sha256 of the model's code that recorded it (src/search/fingerprint.ts) */
  code_sha256?: string;
}

/** bad or mismatched schedule file: a one-line usage error */
export class ScheduleError extends Error {}

/** a failure's identity across schedules: the outcome and the first message line, numbers blurred */
export function failure_signature(r: RunResult): string {
  if (r.outcome === 'clean') return 'clean';
  if (!r.oops && !r.watchdog && r.lockdep_cycle) return `lockdep: ${r.lockdep_cycle}`;
  const line = failure_message(r);
  if (r.outcome === 'liveness') return `liveness: ${/deadlock/.test(line) ? 'deadlock' : /livelock/.test(line) ? 'livelock' : 'lockup'}`;
  return `${r.outcome}: ${line.replace(/\b(0x)?[0-9a-f]*\d[0-9a-f]*\b/g, '#')}`; // numbers and hex words (pfns, entries, addresses)
}

/** the first line that names a run's failure */
export function failure_message(r: RunResult): string {
  if (!r.oops && !r.watchdog && r.lockdep_cycle) return `possible circular locking dependency: ${r.lockdep_cycle}`;
  return (r.oops?.text ?? r.watchdog ?? '').split('\n')[0];
}

export function schedule_of(o: ControlledOptions, r: ControlledRun, found_by: FoundBy, tool: string, splat: string | null): ScheduleFile {
  return {
    schema: SCHEDULE_SCHEMA, tool, scenario: o.scenarioAsTyped ?? o.scenario.name, era: scenario_era(o.scenario, o.era), protocol: o.protocol, switches: r.run.switches,
    cpus: o.cpus, roles: r.run.roles, seed: o.seed, ops_per_cpu: o.ops, max_steps: o.max_steps, watchdog_ms: Math.round(o.watchdog_ms ?? DEFAULT_WATCHDOG_MS), found_by, first_cpu: r.first_cpu,
    decision_fields: DECISION_FIELDS,
    decisions: r.switches.map((w) => [w.step, w.cpu, w.pp, w.spin, w.to, WHY_NAMES[w.why]]),
    steps: r.steps, preemptions: r.preemptions,
    expect: r.run.outcome === 'clean' ? null : { outcome: r.run.outcome, message: failure_message(r.run), splat: splat ?? '' },
  };
}

/** compact JSON: one decision per line */
export function schedule_json(f: ScheduleFile): string {
  const { decisions, ...head } = f;
  const body = JSON.stringify(head, null, 2).replace(/\n}$/, '');
  const rows = decisions.map((d) => `    ${JSON.stringify(d)}`).join(',\n');
  return `${body},\n  "decisions": [\n${rows}${rows ? '\n' : ''}  ]\n}\n`;
}

const isInt = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** check the shape of a schedule file; every problem is one line */
export function parse_schedule(text: string, where: string): ScheduleFile {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new ScheduleError(`${where}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new ScheduleError(`${where}: not a schedule (expected a JSON object)`);
  if (o.schema !== SCHEDULE_SCHEMA) throw new ScheduleError(`${where}: schema is ${clip(JSON.stringify(o.schema) ?? 'absent')}, expected "${SCHEDULE_SCHEMA}"`);
  const bad = (what: string) => new ScheduleError(`${where}: ${what}`);
  // every string has a length limit, and an error quotes at most the start of a value
  const str = (k: string, v: unknown, max: number, optional = false): void => {
    if (v === undefined && optional) return;
    if (typeof v !== 'string') throw bad(`"${k}" must be a string`);
    if (v.length > max) throw bad(`"${k}" is ${v.length} characters long, at most ${max}`);
  };
  str('tool', o.tool, 200, true);
  str('scenario', o.scenario, 4096);
  if (!o.scenario) throw bad('"scenario" must be a scenario name or module path');
  if (o.protocol !== 'buggy' && o.protocol !== 'fixed') throw bad('"protocol" must be "buggy" or "fixed"');
  if (!Array.isArray(o.switches) || !o.switches.every((s) => typeof s === 'string')) throw bad('"switches" must be a list of switch names');
  // lib: a name the model lacks may be one of a user scenario's own switches (checked once the scenario is loaded)
  for (const s of o.switches as string[]) if (!SWITCHES.some((w) => w.name === s) && !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(s)) throw bad(`unknown switch '${clip(s)}'`);
  if (o.era !== undefined && !isInt(o.era, 0, 4)) throw bad('"era" must be an integer 0..4 (E0..E4)');
  if (!isInt(o.cpus, 1, MAX_CPUS)) throw bad(`"cpus" must be an integer 1..${MAX_CPUS}`);
  const cpus = o.cpus as number;
  if (!Array.isArray(o.roles) || o.roles.length !== cpus || !o.roles.every((r) => typeof r === 'string' && r.length <= 200)) throw bad(`"roles" must name the role of each of the ${cpus} CPUs`);
  if (!isInt(o.seed, 0, 2 ** 31 - 1)) throw bad('"seed" must be an integer 0..2147483647');
  if (!isInt(o.ops_per_cpu, 0, 2 ** 31 - 1)) throw bad('"ops_per_cpu" must be a non-negative integer');
  if (!isInt(o.max_steps, 1, 2 ** 31 - 1)) throw bad('"max_steps" must be a positive integer');
  if (o.watchdog_ms !== undefined && !isInt(o.watchdog_ms, 100, 3_600_000)) throw bad('"watchdog_ms" must be an integer 100..3600000');
  if (!isInt(o.first_cpu, 0, cpus - 1)) throw bad(`"first_cpu" must be a CPU 0..${cpus - 1}`);
  if (!Array.isArray(o.decisions)) throw bad('"decisions" must be a list of [step, cpu, pp, spin, to, why]');
  if (o.decisions.length > 2 * (o.max_steps as number) + 10_000) throw bad(`${o.decisions.length} decisions, more than a run bounded by ${o.max_steps} steps can make`);
  const fb = o.found_by as Record<string, unknown> | undefined;
  if (fb !== undefined) {
    if (!fb || typeof fb !== 'object' || Array.isArray(fb)) throw bad('"found_by" must be an object');
    if (!['random', 'pct', 'replay', 'shrink', 'capture', 'exhaustive'].includes(fb.name as string)) throw bad('"found_by.name" must be random, pct, replay, shrink, capture or exhaustive');
    for (const k of ['seed', 'depth', 'k', 'iteration'] as const) if (fb[k] !== undefined && !isInt(fb[k], 0, 2 ** 31 - 1)) throw bad(`"found_by.${k}" must be a non-negative integer`);
    if (fb.change_points !== undefined && (!Array.isArray(fb.change_points) || fb.change_points.length > PCT_MAX_DEPTH || !fb.change_points.every((x) => isInt(x, 0, 2 ** 31 - 1)))) throw bad('"found_by.change_points" must be a short list of integers');
    str('found_by.from', fb.from, 4096, true);
  }
  const hex = (k: string, v: unknown) => { if (v !== undefined && (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v))) throw bad(`"${k}" must be a sha256 in hex`); };
  hex('decisions_sha256', o.decisions_sha256);
  hex('code_sha256', o.code_sha256);
  if (o.module !== undefined) {
    const m = o.module as Record<string, unknown>;
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw bad('"module" must be {path, sha256}');
    str('module.path', m.path, 4096);
    hex('module.sha256', m.sha256);
  }
  let holder = o.first_cpu as number, lastStep = 0;
  const lastAt = new Map<number, [number, number]>(); // each CPU's previous hand-off point: they ascend
  (o.decisions as unknown[]).forEach((d, i) => {
    const at = `decision ${i + 1}`;
    if (!Array.isArray(d) || d.length !== 6) throw bad(`${at}: expected [step, cpu, pp, spin, to, why]`);
    const [step, cpu, pp, spin, to, why] = d;
    if (!isInt(step, lastStep + 1, 2 ** 31 - 1)) throw bad(`${at}: step must be an integer above the previous decision's (${lastStep})`);
    if (!isInt(cpu, 0, cpus - 1) || !isInt(to, 0, cpus - 1)) throw bad(`${at}: cpu and to must be CPUs 0..${cpus - 1}`);
    if (cpu === to) throw bad(`${at}: hands the token from CPU ${cpu} to itself`);
    if (cpu !== holder) throw bad(`${at}: CPU ${cpu} hands the token on, but CPU ${holder} holds it`);
    if (!isInt(pp, 0, 2 ** 31 - 1) || !isInt(spin, 0, 2 ** 31 - 1)) throw bad(`${at}: pp and spin must be non-negative integers`);
    if (!WHY_NAMES.includes(why as never)) throw bad(`${at}: why must be one of ${WHY_NAMES.join('|')}`);
    const prev = lastAt.get(cpu as number);
    if (prev && ((pp as number) < prev[0] || ((pp as number) === prev[0] && (spin as number) <= prev[1]))) {
      throw bad(`${at}: CPU ${cpu} hands the token on at pp ${pp}.${spin}, not after its previous hand-off at ${prev[0]}.${prev[1]}`);
    }
    lastAt.set(cpu as number, [pp as number, spin as number]);
    holder = to as number;
    lastStep = step as number;
  });
  if (o.expect !== null && o.expect !== undefined) {
    const e = o.expect as Record<string, unknown>;
    if (typeof e !== 'object' || Array.isArray(e) || !(OUTCOMES as readonly unknown[]).includes(e.outcome)) throw bad(`"expect" must be null or {outcome, message, splat}, outcome one of ${OUTCOMES.join('|')}`);
    str('expect.message', e.message, 10_000);
    str('expect.splat', e.splat, 1_000_000);
  }
  const f = o as unknown as ScheduleFile;
  return { ...f, expect: f.expect ?? null, found_by: f.found_by ?? { name: 'replay' } };
}

export interface LoadedSchedule {
  file: ScheduleFile;
  scenario: Scenario;
  options: ControlledOptions;
  /** the module given with --module differs from the one the schedule recorded */
  module_changed: boolean;
}

/** sha256 of a file's content, hex */
export const file_sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** sha256 of a schedule's decisions, as its file records them */
export const decisions_sha256 = (d: ScheduleFile['decisions']): string => createHash('sha256').update(JSON.stringify(d)).digest('hex');

/**
 * the module a schedule recorded, resolved against the schedule file's
 * directory (not the current one), or null for a built-in scenario
 */
export function recorded_module(f: ScheduleFile, schedule_path: string): string | null {
  if (f.module) return resolve(dirname(schedule_path), f.module.path);
  return scenarioModuleUrl(f.scenario) ? resolve(dirname(schedule_path), f.scenario) : null;
}

/**
 * read, check and resolve a schedule file into the options that replay it.
 * A schedule is data: a built-in scenario is found by name; a scenario module
 * is imported only when the user names it (`module`, from --module)
 */
export async function load_schedule(path: string, module?: string): Promise<LoadedSchedule> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScheduleError(`cannot read schedule ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const f = parse_schedule(text, path);
  const recorded = recorded_module(f, path);
  if (recorded && module === undefined) {
    throw new ScheduleError(`${path} was recorded with the scenario module ${relative(process.cwd(), recorded) || recorded}; ` +
      `a schedule never imports code: pass --module ${relative(process.cwd(), recorded) || recorded} to run it`);
  }
  if (!recorded && module !== undefined) throw new ScheduleError(`${path} is a schedule of the built-in scenario '${clip(f.scenario)}': --module is for schedules recorded with a module`);
  let scenario: Scenario;
  let module_changed = false;
  try {
    if (module !== undefined) {
      if (!existsSync(module)) throw new ScenarioError(`scenario module not found: ${module}`);
      module_changed = f.module !== undefined && file_sha256(module) !== f.module.sha256;
      scenario = await load_module(pathToFileURL(resolve(module)).href, module);
    } else {
      scenario = await loadScenario(f.scenario);
    }
  } catch (e) {
    throw new ScheduleError(`${path}: ${(e as Error).message}`);
  }
  const roles = scenario.roles(f.cpus);
  if (roles.join(',') !== f.roles.join(',')) {
    throw new ScheduleError(`${path}: recorded roles ${clip(f.roles.join(','))} do not match ${scenario.name} on ${f.cpus} CPUs (${roles.join(',')})${module_changed ? ' (the module changed since it was recorded)' : ''}`);
  }
  const unknown = f.switches.find((s) => !SWITCHES.some((w) => w.name === s) && !scenario.own_switches?.some((w) => w.name === s)); // lib
  if (unknown !== undefined) throw new ScheduleError(`${path}: unknown switch '${clip(unknown)}' (neither the model's nor one of ${scenario.name}'s own)`);
  const proto = f.protocol === 'buggy' ? scenario.switches : [];
  const missing = proto.filter((s) => !f.switches.includes(s));
  if (missing.length) throw new ScheduleError(`${path}: protocol ${f.protocol} of ${scenario.name} turns on ${missing.join(', ')}, which the schedule's switches lack`);
  const options = replay_options(f, scenario);
  if (module !== undefined) { options.scenarioImport = pathToFileURL(resolve(module)).href; options.scenarioAsTyped = module; }
  return { file: f, scenario, options, module_changed };
}

/**
 * why a replay left its schedule: the file edited (its decisions no longer
 * match their recorded hash), the model's code or the module changed since
 * it was recorded, or, if none of them, a run that is not deterministic
 */
export function divergence_cause(l: LoadedSchedule, code_sha256: string): string {
  const f = l.file;
  const causes: string[] = [];
  if (f.decisions_sha256 && decisions_sha256(f.decisions) !== f.decisions_sha256) causes.push('the file was edited: its decisions do not match the hash recorded with them');
  if (f.code_sha256 && f.code_sha256 !== code_sha256) causes.push(`the model's code changed since it was recorded (by ${clip(f.tool ?? '?')})`);
  if (l.module_changed) causes.push('the scenario module changed since it was recorded');
  if (causes.length) return causes.join('; ');
  if (!f.decisions_sha256 || !f.code_sha256) return 'the kernel code or the scenario changed since it was recorded (the file predates the hashes that would tell which)';
  return 'neither the file nor the code changed: the run is not deterministic (try mmrace replay --verify)';
}

/** the controlled-run options that replay a schedule */
export function replay_options(f: ScheduleFile, scenario: Scenario): ControlledOptions {
  const proto = f.protocol === 'buggy' ? scenario.switches : [];
  const segments = segments_of(f.decisions.map(([, cpu, pp, spin, to]) => ({ cpu, pp, spin, to })));
  return {
    scenario, scenarioImport: scenarioModuleUrl(f.scenario) ?? scenario.name, scenarioAsTyped: f.scenario, protocol: f.protocol,
    cpus: f.cpus, seed: f.seed, ops: f.ops_per_cpu, max_steps: f.max_steps, era: f.era, watchdog_ms: f.watchdog_ms ?? DEFAULT_WATCHDOG_MS,
    strategy: { name: 'replay', segments, first: f.first_cpu },
    extra_switches: f.switches.filter((s) => !proto.includes(s)),
  };
}

/** index of the first decision a run made differently from the file's (-1: the same list) */
export function first_difference(f: ScheduleFile, ws: readonly Switch[]): number {
  const n = Math.max(f.decisions.length, ws.length);
  for (let i = 0; i < n; i++) {
    const d = f.decisions[i], w = ws[i];
    if (!d || !w || d[0] !== w.step || d[1] !== w.cpu || d[2] !== w.pp || d[3] !== w.spin || d[4] !== w.to || d[5] !== WHY_NAMES[w.why]) return i;
  }
  return -1;
}
