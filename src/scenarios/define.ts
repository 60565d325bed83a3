// defineScenario: a typed way to write a scenario module, checked when the
// module is loaded (definition time), one clear message per misuse, instead
// of a run that fails later in a worker. What it returns is a plain Scenario
// (src/scenarios/types.ts): `export default defineScenario({...})`.
import type { CpuContext, Scenario, SetupState } from './types.js';
import { ERAS, parse_era } from '../shm/era.js';
import { SWITCHES } from '../shm/switches.js';
import { MAX_CPUS, type MachineSizes } from '../shm/layout.js';

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
  /** the model's switches `--protocol buggy` turns on (see `mmrace list`); default none */
  switches?: readonly string[];
  /** what the buggy protocol is expected to show */
  expect_buggy?: string;
  /** the failure text that counts as the buggy protocol reproduced */
  signature?: RegExp;
  sizes?: Partial<MachineSizes>;
  bounds?: 'halt' | 'note';
}

/** a misuse of defineScenario: the message says which field and why */
export class ScenarioDefinitionError extends Error {}

const KNOWN = ['name', 'title', 'description', 'era', 'roles', 'setup', 'run', 'switches', 'expect_buggy', 'signature', 'sizes', 'bounds'];

function type_of(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
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

  // switches: the model's own, each in every era the scenario runs in
  if (def.switches !== undefined && !Array.isArray(def.switches)) bad(`switches must be a list of switch names, got ${type_of(def.switches)}`);
  const switches = [...(def.switches ?? [])];
  for (const s of switches) {
    const w = SWITCHES.find((x) => x.name === s);
    if (!w) bad(`unknown switch '${String(s)}' (mmrace list shows them; switches of your own are not supported yet)`);
    const outside = (eras.length ? eras : [2]).find((e) => !w!.eras.includes(e));
    if (outside !== undefined) bad(`switch '${s}' is not in ${ERAS[outside].name}'s code (it is in ${w!.eras.map((e) => ERAS[e].name).join(', ')})`);
  }
  if (new Set(switches).size !== switches.length) bad('switches lists a switch twice');
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
    ...(def.signature ? { signature: def.signature } : {}), ...(def.sizes ? { sizes: def.sizes } : {}), ...(def.bounds ? { bounds: def.bounds } : {}),
    roles, setup: def.setup ?? (() => ({})), run,
  };
}
