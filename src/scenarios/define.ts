// defineScenario: a typed way to write a scenario module, checked when the
// module is loaded (definition time), one clear message per misuse, instead
// of a run that fails later in a worker. What it returns is a plain Scenario
// (src/scenarios/types.ts): `export default defineScenario({...})`.
import type { CpuContext, Scenario, SetupState } from './types.js';
import { ERAS, parse_era } from '../shm/era.js';
import { SWITCHES, USER_SWITCH_MAX, USER_SWITCH_SHIFT, type SwitchInfo } from '../shm/switches.js';
import { MAX_CPUS, type MachineSizes } from '../shm/layout.js';
import { USER_WINDOW_BASE, USER_WINDOW_MAX, WINDOW_NAMES, window_codes } from '../cpu/windows.js';

/** an era: 0..4 or 'E0'..'E4' */
export type EraName = 0 | 1 | 2 | 3 | 4 | 'E0' | 'E1' | 'E2' | 'E3' | 'E4';

export interface ScenarioDefinition<R extends string = string> {
  /** how `mmrace` names it in reports and schedules: lower case, digits, '-', '_' or '.' */
  name: string;
  title?: string;
  description?: string;
  /** the kernel era it models, or several (the first is the default; --era picks); default E2 */
  era?: EraName | readonly EraName[];
  /**
   * each CPU's role: a list cycled over the CPUs (CPU c runs roles[c % length]),
   * or a function of the CPU count returning one role name per CPU
   */
  roles: readonly R[] | ((nr_cpus: number) => R[]);
  /** builds the initial state on the boot CPU; what it returns reaches every CPU as ctx.setup (default: {}) */
  setup?: (nr_cpus: number, seed: number) => SetupState;
  /** one CPU's workload (loop until ctx.should_stop()), or one per role name */
  run: ((ctx: CpuContext) => void) | { readonly [role in R]: (ctx: CpuContext) => void };
  /** the switches `--protocol buggy` turns on, by name: the model's (see `mmrace list`) and your own (own_switches); default none */
  switches?: readonly string[];
  /** your own switches, as defineSwitches returned them: read with buggy(SW_...) at the line each changes */
  own_switches?: OwnSwitches;
  /** your own race windows, as defineWindows returned them: marked with window_open(WIN_...) where each stands open */
  own_windows?: OwnWindows;
  /**
   * the race windows this scenario's race needs (a clean run where one never opened is vacuous): your own
   * (their codes or names) and the model's (WIN_* codes or their names as `mmrace list` prints them);
   * default: every window of own_windows
   */
  windows?: readonly (number | string)[];
  /** later fixes (the model's baseline switches, e.g. 'swapin-swapoff-race') the fixed run carries too, because its load meets their races */
  also_fixed?: readonly string[];
  /** what the buggy protocol is expected to show */
  expect_buggy?: string;
  /** the failure text that counts as the buggy protocol reproduced */
  signature?: RegExp;
  sizes?: Partial<MachineSizes>;
  bounds?: 'halt' | 'note';
}

/** a misuse of defineScenario (or defineSwitches, defineWindows): the message says which field and why */
export class ScenarioDefinitionError extends Error {}

const KNOWN = ['name', 'title', 'description', 'era', 'roles', 'setup', 'run', 'switches', 'own_switches', 'own_windows', 'windows', 'also_fixed',
  'expect_buggy', 'signature', 'sizes', 'bounds'];

function type_of(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/** one of your own switches: its name (as reports, schedules and the API's `switches` option say it) and what its buggy line does, in one line */
export interface OwnSwitch { name: string; what: string }
/** what defineSwitches returns: each key's switch bit, for buggy(SW_...) */
export type OwnSwitches<K extends string = string> = { readonly [k in K]: number };
/** what defineWindows returns: each key's window code, for window_open(WIN_...) */
export type OwnWindows<K extends string = string> = { readonly [k in K]: number };

// what each declaration returned stands for, for defineScenario (a WeakMap: the returned object stays plain numbers)
const SWITCH_DECLS = new WeakMap<object, readonly SwitchInfo[]>();
const WINDOW_DECLS = new WeakMap<object, readonly string[]>();
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ALL_ERAS = ERAS.map((e) => e.id);

/** the entries of a declaration object, checked: 1..max of them */
function entries_of(fn: string, decl: unknown, max: number, what: string): [string, unknown][] {
  const bad = (msg: string): never => { throw new ScenarioDefinitionError(`${fn}: ${msg}`); };
  if (decl === null || typeof decl !== 'object' || Array.isArray(decl)) bad(`expects an object { ${what} }, got ${type_of(decl)}`);
  const e = Object.entries(decl as object);
  if (!e.length) bad('declares nothing (one entry at least)');
  if (e.length > max) bad(`declares ${e.length}, a scenario has room for ${max}`);
  return e;
}

/** one line of text, or the message why not */
const one_line = (v: unknown): string | null => typeof v !== 'string' || !v.trim() ? `must be a non-empty string, got ${typeof v === 'string' ? "''" : type_of(v)}`
  : /[\r\n]/.test(v) ? 'must be one line' : v.length > 300 ? `is ${v.length} characters long, at most 300` : null;

/**
 * your own switches, buggy vs fixed variants of your protocol: each key gets a
 * bit (bits 24..30 of the run's switch word, in declaration order), read with
 * buggy(SW_...) at the line it changes, exactly as the model reads its own.
 * Hand the result to defineScenario as own_switches, and name in `switches`
 * the ones `--protocol buggy` turns on:
 *   const { SW_ARG_ORDER } = defineSwitches({ SW_ARG_ORDER: { name: 'arg-order', what: 'locks in argument order' } });
 */
export function defineSwitches<K extends string>(decl: { readonly [k in K]: OwnSwitch }): OwnSwitches<K> {
  const e = entries_of('defineSwitches', decl, USER_SWITCH_MAX, "SW_NAME: { name: 'my-switch', what: 'what its buggy line does' }, ...");
  const out: Record<string, number> = {}, infos: SwitchInfo[] = [];
  e.forEach(([k, v], i) => {
    const bad = (msg: string): never => { throw new ScenarioDefinitionError(`defineSwitches: ${k}: ${msg}`); };
    if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(`expects { name, what }, got ${type_of(v)}`);
    const { name, what, ...rest } = v as Record<string, unknown>;
    if (Object.keys(rest).length) bad(`unknown field '${Object.keys(rest)[0]}' (known: name, what)`);
    if (typeof name !== 'string' || !NAME.test(name)) bad(`name must be 1..64 lower-case letters, digits, '-', '_' or '.', got ${typeof name === 'string' ? `'${name}'` : type_of(name)}`);
    const n = name as string;
    if (SWITCHES.some((w) => w.name === n)) bad(`name '${n}' is one of the model's switches (mmrace list); give yours another`);
    if (infos.some((w) => w.name === n)) bad(`name '${n}' is declared twice`);
    const msg = one_line(what);
    if (msg) bad(`what ${msg}`);
    const bit = 1 << (USER_SWITCH_SHIFT + i);
    out[k] = bit;
    infos.push({ bit, name: n, patch: '(own)', what: what as string, eras: ALL_ERAS });
  });
  Object.freeze(out);
  SWITCH_DECLS.set(out, infos);
  return out as OwnSwitches<K>;
}

/**
 * your own race windows: the state your race needs before its bug can happen,
 * marked with window_open(WIN_...) at the line where it stands open (a
 * counter bump: no allocation). Each key gets a code; the value is the
 * window's name as reports print it. A clean run in which one never opened
 * proved nothing of that race ("vacuous"). Hand the result to defineScenario
 * as own_windows:
 *   const { WIN_SECOND_LOCKED } = defineWindows({ WIN_SECOND_LOCKED: 'lock_two_pages found its second page locked' });
 */
export function defineWindows<K extends string>(decl: { readonly [k in K]: string }): OwnWindows<K> {
  const e = entries_of('defineWindows', decl, USER_WINDOW_MAX, "WIN_NAME: 'what stands open', ...");
  const out: Record<string, number> = {}, names: string[] = [];
  e.forEach(([k, v], i) => {
    const bad = (msg: string): never => { throw new ScenarioDefinitionError(`defineWindows: ${k}: ${msg}`); };
    const msg = one_line(v);
    if (msg) bad(`the window's name ${msg}`);
    const n = v as string;
    if (WINDOW_NAMES.includes(n)) bad(`'${n}' is one of the model's windows: list it in windows instead`);
    if (names.includes(n)) bad(`'${n}' is declared twice`);
    out[k] = USER_WINDOW_BASE + i;
    names.push(n);
  });
  Object.freeze(out);
  WINDOW_DECLS.set(out, names);
  return out as OwnWindows<K>;
}

/** a scenario definition, checked: throws ScenarioDefinitionError naming the first misuse */
export function defineScenario<R extends string>(def: ScenarioDefinition<R>): Scenario {
  const where = `defineScenario(${typeof def?.name === 'string' && def.name ? `'${def.name}'` : ''})`;
  const bad = (msg: string): never => { throw new ScenarioDefinitionError(`${where}: ${msg}`); };
  if (def === null || typeof def !== 'object' || Array.isArray(def)) bad(`expects an object { name, roles, setup, run, ... }, got ${type_of(def)}`);
  const unknown = Object.keys(def).filter((k) => !KNOWN.includes(k));
  if (unknown.length) bad(`unknown field '${unknown[0]}' (known: ${KNOWN.join(', ')})`);

  if (typeof def.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(def.name)) {
    bad(`name must be a non-empty string of lower-case letters, digits, '-', '_' or '.', got ${typeof def.name === 'string' ? `'${def.name}'` : type_of(def.name)}`);
  }
  for (const k of ['title', 'description', 'expect_buggy'] as const) {
    if (def[k] !== undefined && typeof def[k] !== 'string') bad(`${k} must be a string, got ${type_of(def[k])}`);
  }

  // eras
  const given = def.era === undefined ? [] : Array.isArray(def.era) ? def.era as readonly unknown[] : [def.era];
  if (Array.isArray(def.era) && !given.length) bad('era: an empty list (leave era out for the default, E2)');
  const eras = given.map((e) => {
    const n = typeof e === 'number' ? (Number.isInteger(e) && e >= 0 && e < ERAS.length ? e : null) : typeof e === 'string' ? parse_era(e) : null;
    return n ?? bad(`era must be one of ${ERAS.map((x) => x.name).join(', ')} (or 0..${ERAS.length - 1}), got ${typeof e === 'string' ? `'${e}'` : String(e)}`);
  });
  if (new Set(eras).size !== eras.length) bad('era lists an era twice');

  // roles and run
  const role_list = Array.isArray(def.roles) ? def.roles as readonly unknown[] : null;
  if (role_list) {
    if (!role_list.length) bad('roles: an empty list (one role name at least)');
    const i = role_list.findIndex((r) => typeof r !== 'string' || r === '');
    if (i >= 0) bad(`roles[${i}] must be a non-empty string, got ${type_of(role_list[i])}`);
  } else if (typeof def.roles !== 'function') {
    bad(`roles must be a list of role names or a function (nr_cpus) => role names, got ${type_of(def.roles)}`);
  }
  if (def.setup !== undefined && typeof def.setup !== 'function') bad(`setup must be a function (nr_cpus, seed) => state, got ${type_of(def.setup)}`);
  const per_role = typeof def.run === 'object' && def.run !== null && !Array.isArray(def.run) ? def.run as Record<string, unknown> : null;
  if (!per_role && typeof def.run !== 'function') bad(`run must be a function (ctx) => void or an object of them by role name, got ${type_of(def.run)}`);
  if (per_role) {
    const k = Object.keys(per_role).find((r) => typeof per_role[r] !== 'function');
    if (k !== undefined) bad(`run.${k} must be a function (ctx) => void, got ${type_of(per_role[k])}`);
    if (role_list) {
      const missing = role_list.find((r) => !(String(r) in per_role));
      if (missing !== undefined) bad(`role '${String(missing)}' has no run.${String(missing)}`);
      const extra = Object.keys(per_role).find((r) => !role_list.includes(r));
      if (extra !== undefined) bad(`run.${extra} is not one of the roles (${role_list.join(', ')})`);
    }
  }

  // switches: the model's, each in every era the scenario runs in, and the scenario's own
  let own: readonly SwitchInfo[] = [];
  if (def.own_switches !== undefined) own = SWITCH_DECLS.get(def.own_switches as object) ?? bad('own_switches must be what defineSwitches returned');
  if (def.switches !== undefined && !Array.isArray(def.switches)) bad(`switches must be a list of switch names, got ${type_of(def.switches)}`);
  const switches = [...(def.switches ?? [])];
  const in_eras = (field: string, s: string): SwitchInfo => {
    const w = own.find((x) => x.name === s) ?? SWITCHES.find((x) => x.name === s);
    if (!w) bad(`${field}: unknown switch '${String(s)}' (mmrace list shows the model's; declare your own with defineSwitches and pass them as own_switches)`);
    const outside = (eras.length ? eras : [2]).find((e) => !w!.eras.includes(e));
    if (outside !== undefined) bad(`switch '${s}' is not in ${ERAS[outside].name}'s code (it is in ${w!.eras.map((e) => ERAS[e].name).join(', ')})`);
    return w!;
  };
  for (const s of switches) in_eras('switches', s);
  if (new Set(switches).size !== switches.length) bad('switches lists a switch twice');
  // also_fixed: later fixes, i.e. the model's switches on as its eras were released (baseline)
  if (def.also_fixed !== undefined && !Array.isArray(def.also_fixed)) bad(`also_fixed must be a list of switch names, got ${type_of(def.also_fixed)}`);
  const also_fixed = [...(def.also_fixed ?? [])];
  for (const s of also_fixed) {
    const w = in_eras('also_fixed', s);
    const era = (eras.length ? eras : [2]).find((e) => !w.baseline_in?.includes(e));
    if (era !== undefined) bad(`also_fixed: '${s}' is not a later fix: ${ERAS[era].name} as released does not carry its buggy line, so there is nothing to fix`);
    if (switches.includes(s)) bad(`also_fixed: '${s}' is already one of the switches (the fixed run turns those off anyway)`);
  }
  if (new Set(also_fixed).size !== also_fixed.length) bad('also_fixed lists a switch twice');
  // race windows: the scenario's own and the model's
  let own_windows: readonly string[] = [];
  if (def.own_windows !== undefined) own_windows = WINDOW_DECLS.get(def.own_windows as object) ?? bad('own_windows must be what defineWindows returned');
  const wl = def.windows ?? (def.own_windows ? Object.values(def.own_windows as Record<string, number>) : undefined);
  const codes = window_codes('windows', wl, own_windows);
  const windows = typeof codes !== 'string' ? codes
    : bad(`${codes.replace(/^windows: /, '')}${own_windows.length ? '' : '; declare your own with defineWindows and pass them as own_windows'}`);
  if (new Set(windows).size !== windows.length) bad('windows lists a window twice');
  if (def.signature !== undefined && !(def.signature instanceof RegExp)) bad(`signature must be a RegExp, got ${type_of(def.signature)}`);
  if (def.bounds !== undefined && def.bounds !== 'halt' && def.bounds !== 'note') bad(`bounds must be 'halt' or 'note', got ${String(def.bounds)}`);
  if (def.sizes !== undefined && (typeof def.sizes !== 'object' || def.sizes === null)) bad(`sizes must be an object of machine sizes, got ${type_of(def.sizes)}`);

  const roles = role_list
    ? (n: number) => Array.from({ length: n }, (_, c) => String(role_list[c % role_list.length]))
    : def.roles as (n: number) => string[];
  const run = per_role
    ? (ctx: CpuContext) => {
      const f = per_role[ctx.role] as ((c: CpuContext) => void) | undefined;
      if (!f) throw new ScenarioDefinitionError(`${where}: roles(${ctx.nr_cpus}) gave CPU ${ctx.cpu} the role '${ctx.role}', which has no run.${ctx.role}`);
      f(ctx);
    }
    : def.run as (ctx: CpuContext) => void;
  if (!role_list) {
    // a roles function is called here once, with 2 CPUs, so its mistakes show at definition time too
    let r: unknown;
    try { r = (def.roles as (n: number) => unknown)(Math.min(2, MAX_CPUS)); } catch (e) { bad(`roles(2) threw: ${String((e as Error)?.message ?? e)}`); }
    if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== 'string' || x === '')) bad('roles(2) must return 2 non-empty role names, one per CPU');
    if (per_role) {
      const missing = (r as string[]).find((x) => !(x in per_role));
      if (missing !== undefined) bad(`roles(2) gives a CPU the role '${missing}', which has no run.${missing}`);
    }
  }
  return {
    name: def.name, title: def.title ?? def.name, patch: '-', description: def.description ?? '', switches,
    expect_buggy: def.expect_buggy ?? 'a failure', ...(eras.length ? { eras } : {}),
    ...(own.length ? { own_switches: own } : {}), ...(own_windows.length ? { own_windows } : {}),
    ...(windows.length ? { windows } : {}), ...(also_fixed.length ? { also_fixed } : {}),
    ...(def.signature ? { signature: def.signature } : {}), ...(def.sizes ? { sizes: def.sizes } : {}), ...(def.bounds ? { bounds: def.bounds } : {}),
    roles, setup: def.setup ?? (() => ({})), run,
  };
}
