// Built-in scenarios, and loading a user's scenario module by path.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Scenario } from './types.js';
import { window_codes } from '../cpu/windows.js'; // cov
import { orphanedMigrationEntry } from './orphaned_migration_entry.js';
import { cowMigrationEntry } from './cow_migration_entry.js';
import { mprotectMigrationEntry } from './mprotect_migration_entry.js';
import { swapFaultMigrationEntry } from './swap_fault_migration_entry.js';
import { swapCountMigrationEntry } from './swap_count_migration_entry.js';
import { swaponTypeRange } from './swapon_type_range.js';
import { swapStress } from './swap_stress.js';
import { swapinEntryReuse } from './swapin_entry_reuse.js';
import { fileStress } from './file_stress.js';
import { dioMigrationRefcount } from './dio_migration_refcount.js';
import { exchangeAbba, exchangeAsyncReadahead, exchangeFreezeUnwind, exchangeWriteback, exchangeWritebackBusy } from './exchange_pages.js';
import { ANONMM_SCENARIOS } from './anonmm.js';
import { hmmFaultLivelock } from './hmm_fault_livelock.js';
import { hmmDeviceLru } from './hmm_device_lru.js';
import { scale } from './scale.js'; // scale (issue 16 item 4)

export const SCENARIOS: readonly Scenario[] = [
  orphanedMigrationEntry, cowMigrationEntry, mprotectMigrationEntry, swapFaultMigrationEntry,
  swapCountMigrationEntry, swaponTypeRange, swapinEntryReuse, swapStress, dioMigrationRefcount, fileStress,
  // seed 002 (exchange pages, E4)
  exchangeAbba, exchangeAsyncReadahead, exchangeFreezeUnwind, exchangeWriteback, exchangeWritebackBusy,
  ...ANONMM_SCENARIOS, // seed 003 (E0)
  hmmFaultLivelock, hmmDeviceLru,
];

// scale (issue 16 item 4)
/** built-in workloads that reproduce no race (no switch, no race window): benchmarks, found by name as the scenarios are */
export const WORKLOADS: readonly Scenario[] = [scale];
/** a built-in scenario or workload by name, or undefined */
export const find_builtin = (name: string): Scenario | undefined => SCENARIOS.find((s) => s.name === name) ?? WORKLOADS.find((s) => s.name === name);

export class ScenarioError extends Error {}

let loading: string | null = null;
/** the scenario module being imported right now, if any: an import that never settles leaves it set */
export const loading_module = (): string | null => loading;

function looksLikePath(s: string): boolean {
  return s.includes('/') || /\.(m?js|ts)$/.test(s);
}

/** the module URL a worker must import for a user scenario, or null for a built-in one */
export function scenarioModuleUrl(nameOrPath: string): string | null {
  if (!looksLikePath(nameOrPath)) return null;
  return pathToFileURL(resolve(nameOrPath)).href;
}

function validate(s: unknown, where: string): Scenario {
  const o = s as Partial<Scenario> | undefined;
  if (!o || typeof o !== 'object') throw new ScenarioError(`${where}: no scenario exported (export default a Scenario object)`);
  for (const k of ['name', 'roles', 'setup', 'run'] as const) {
    if (o[k] === undefined) throw new ScenarioError(`${where}: scenario lacks '${k}'`);
  }
  if (typeof o.roles !== 'function' || typeof o.setup !== 'function' || typeof o.run !== 'function') {
    throw new ScenarioError(`${where}: roles, setup and run must be functions`);
  }
  const roles = o.roles.bind(o);
  const windows = window_codes(where, o.windows, o.own_windows); // cov; lib: and the scenario's own
  if (typeof windows === 'string') throw new ScenarioError(windows);
  // deprecated: `seed` was the patch id's old name (confusable with setup's RNG seed); a module
  // that still says `seed: '000_...'` keeps working, `patch` wins when both are given
  const patch = o.patch ?? (o as { seed?: unknown }).seed ?? '-';
  // methods bound: a scenario may be a class instance, whose methods a spread would lose
  return { title: o.name!, switches: [], description: '', expect_buggy: 'a failure', ...o, patch: String(patch), windows,
    roles: (n: number) => checked_roles(where, roles, n), setup: o.setup.bind(o), run: o.run.bind(o) } as Scenario;
}

/** a module's roles(n), checked: n role names, each a non-empty string; anything else is the module's mistake (exit 2) */
function checked_roles(where: string, roles: (n: number) => unknown, n: number): string[] {
  let r: unknown;
  try {
    r = roles(n);
  } catch (e) {
    throw new ScenarioError(`${where}: roles(${n}) threw: ${String((e as Error)?.message ?? e).split('\n')[0].slice(0, 200)}`);
  }
  if (!Array.isArray(r)) throw new ScenarioError(`${where}: roles(${n}) must return an array of ${n} role names, got ${r === null ? 'null' : typeof r}`);
  if (r.length !== n) throw new ScenarioError(`${where}: roles(${n}) must return ${n} role name${n === 1 ? '' : 's'}, one per CPU, got ${r.length}`);
  const bad = r.findIndex((x) => typeof x !== 'string' || x === '');
  if (bad >= 0) throw new ScenarioError(`${where}: roles(${n})[${bad}] must be a non-empty string, got ${typeof r[bad] === 'string' ? "''" : typeof r[bad]}`);
  return r as string[];
}

/** find a built-in scenario by name, or import a scenario module by path */
export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const builtin = find_builtin(nameOrPath); // scale: workloads too
  if (builtin) return builtin;
  const url = scenarioModuleUrl(nameOrPath);
  if (!url) throw new ScenarioError(`unknown scenario '${nameOrPath}' (see 'mmrace list')`);
  if (!existsSync(resolve(nameOrPath))) throw new ScenarioError(`scenario module not found: ${nameOrPath}`);
  return load_module(url, nameOrPath);
}

/**
 * import a scenario module by URL (what a CPU worker is handed: a file URL,
 * percent-encoded, perhaps with a query that asks for a fresh instance);
 * `where` names it in errors
 */
export async function load_module(url: string, where = scenario_label(url)): Promise<Scenario> {
  let mod: Record<string, unknown>;
  loading = where;
  try {
    mod = await import(url);
  } catch (e) {
    throw new ScenarioError(`scenario module ${where} failed to load: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
  } finally {
    loading = null;
  }
  return validate(mod.default ?? mod.scenario, where);
}

/** a module URL as the user wrote the path: decoded, without the query */
export function scenario_label(url: string): string {
  try { return fileURLToPath(url.replace(/[?#].*$/, '')); } catch { return url; }
}

let instances = 0;
/** the same module's URL, asking for an instance of its own (its module-level state starts afresh) */
export const fresh_instance_url = (url: string): string => `${url.replace(/[?#].*$/, '')}?instance=${process.pid}.${++instances}`;
