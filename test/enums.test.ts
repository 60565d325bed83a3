// One table per enum: every event code, span, lock class and oops kind has
// exactly one name; no path id folds into another slot of a path-indexed
// array; each outcome maps to the exit code the README documents.
import { describe, expect, it } from 'vitest';
import * as events from '../src/cpu/events.js';
import { EVENTS, NR_PATH_IDS, PATH_IDS, SPAN_NAMES, is_path_id } from '../src/cpu/events.js';
import * as lock_class from '../src/sync/lock_class.js';
import { LOCK_CLASS_NAMES, NR_LOCK_CLASSES } from '../src/sync/lock_class.js';
import * as bug from '../src/check/bug.js';
import { OOPS_KINDS } from '../src/check/bug.js';
import { OUTCOMES, classify } from '../src/check/outcome.js';
import { EXIT_INTERNAL, EXIT_LIVENESS, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, OUTCOME_EXIT, outcomes_exit } from '../src/cli/exit.js';
import { HELD_CLS_MASK, LAT_KIND_FAULT, LOCKSTAT_NR_PATHS, NR_LAT_KINDS } from '../src/shm/layout.js';
import { defineEnum } from '../src/shm/struct.js';

/** the module's exported constants with `prefix`: name -> value */
const constants = (mod: Record<string, unknown>, prefix: RegExp) =>
  Object.entries(mod).filter(([k, v]) => prefix.test(k) && typeof v === 'number') as [string, number][];

/** every code 0..n-1 is the value of exactly one constant, and no constant is outside */
function one_constant_per_code(consts: [string, number][], n: number, skip: number[] = []) {
  const byCode = new Map<number, string[]>();
  for (const [k, v] of consts) byCode.set(v, [...(byCode.get(v) ?? []), k]);
  for (const [code, keys] of byCode) {
    expect(keys, `code ${code}`).toHaveLength(1);
    expect(code >= 0 && code < n, `${keys[0]} = ${code} is outside 0..${n - 1}`).toBe(true);
  }
  for (let code = 0; code < n; code++) if (!skip.includes(code)) expect(byCode.has(code), `code ${code} has no constant`).toBe(true);
}

describe('one table per enum', () => {
  it('every event code has exactly one constant and one name', () => {
    one_constant_per_code(constants(events, /^EV_/), EVENTS.length, [0]);
    for (const [k, v] of constants(events, /^EV_/)) expect(EVENTS[v].key).toBe(k);
    expect(new Set(EVENTS.map((e) => e.name)).size).toBe(EVENTS.length);
    expect(EVENTS.every((e) => e.name.length > 0)).toBe(true);
  });

  it('every span has exactly one constant and one name', () => {
    one_constant_per_code(constants(events, /^SP_/), SPAN_NAMES.length);
    expect(new Set(SPAN_NAMES).size).toBe(SPAN_NAMES.length);
  });

  it('every lock class has exactly one constant and one name, and fits a held-stack entry', () => {
    one_constant_per_code(constants(lock_class, /^LC_/), NR_LOCK_CLASSES);
    expect(LOCK_CLASS_NAMES).toHaveLength(NR_LOCK_CLASSES);
    expect(new Set(LOCK_CLASS_NAMES).size).toBe(NR_LOCK_CLASSES);
    expect(NR_LOCK_CLASSES).toBeLessThanOrEqual(HELD_CLS_MASK + 1);
  });

  it('every oops kind has exactly one constant, one name and one outcome', () => {
    one_constant_per_code(constants(bug, /^OOPS_(?!TEXT)/).filter(([k]) => k !== 'OOPS_KINDS'), OOPS_KINDS.table.length);
    expect(new Set(OOPS_KINDS.names).size).toBe(OOPS_KINDS.table.length);
    for (const k of OOPS_KINDS.table.slice(1)) expect(OUTCOMES).toContain(k.outcome);
  });

  it('a repeated key or name is an error at load', () => {
    expect(() => defineEnum('t', [{ key: 'A', name: 'a' }, { key: 'A', name: 'b' }])).toThrow(/A is defined twice/);
    expect(() => defineEnum('t', [{ key: 'A', name: 'a' }, { key: 'B', name: 'a' }])).toThrow(/the name 'a' is given to codes 0 and 1/);
  });
});

describe('path ids', () => {
  it('every path-indexed array has a slot for every path id: nothing folds', () => {
    expect(PATH_IDS.length).toBeGreaterThan(0);
    expect(NR_PATH_IDS).toBe(Math.max(...PATH_IDS) + 1);
    expect(NR_PATH_IDS).toBeLessThanOrEqual(LOCKSTAT_NR_PATHS);
    // latency kinds: 0 unnamed, the path ids, and the fault kind of its own
    expect(NR_PATH_IDS).toBeLessThanOrEqual(LAT_KIND_FAULT);
    expect(LAT_KIND_FAULT).toBeLessThan(NR_LAT_KINDS);
  });

  it('only path ids are path ids', () => {
    for (let code = -1; code < EVENTS.length + 40; code++) expect(is_path_id(code)).toBe(EVENTS[code]?.path === true);
    expect(is_path_id(events.EV_MIGRATE)).toBe(true);
    expect(is_path_id(events.EV_SPAN_END)).toBe(false); // 31: the latency fault kind's slot
  });
});

describe('outcomes and exit codes', () => {
  it('each outcome maps to the exit code the README documents', () => {
    expect([EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_LIVENESS, EXIT_INTERNAL]).toEqual([0, 1, 2, 3, 4]);
    expect(OUTCOME_EXIT).toEqual({ clean: 0, bug: 1, violation: 1, liveness: 3, internal: 4 });
    expect(Object.keys(OUTCOME_EXIT).sort()).toEqual([...OUTCOMES].sort());
  });

  it('several runs: liveness, then internal, then violation', () => {
    expect(outcomes_exit([])).toBe(0);
    expect(outcomes_exit(['clean', 'clean'])).toBe(0);
    expect(outcomes_exit(['clean', 'bug'])).toBe(1);
    expect(outcomes_exit(['violation', 'internal'])).toBe(4);
    expect(outcomes_exit(['internal', 'liveness', 'bug'])).toBe(3);
  });

  it('the outcome of each oops kind, and of a run without one', () => {
    const no = () => false, yes = () => true;
    const of = (kind: number) => classify({ kind }, false, true, no);
    expect([bug.OOPS_BUG, bug.OOPS_BAD_PAGE, bug.OOPS_BOUNDS].map(of)).toEqual(['bug', 'bug', 'bug']);
    expect([bug.OOPS_ERROR, bug.OOPS_INVARIANT, bug.OOPS_SHADOW].map(of)).toEqual(['violation', 'violation', 'violation']);
    expect(of(bug.OOPS_SOFTLOCKUP)).toBe('liveness');
    expect(of(bug.OOPS_INTERNAL)).toBe('internal');
    expect(of(99)).toBe('violation'); // a scenario module's own kind, as before
    expect(classify(null, true, false, yes)).toBe('liveness');
    expect(classify(null, false, false, yes)).toBe('internal');
    expect(classify(null, false, true, yes)).toBe('violation');
    expect(classify(null, false, true, no)).toBe('clean');
  });
});
