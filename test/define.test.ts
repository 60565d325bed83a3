// defineScenario: what a valid definition becomes, and one clear message per misuse, at definition time.
import { describe, expect, it } from 'vitest';
import { defineScenario, defineSwitches, defineWindows, ScenarioDefinitionError, type ScenarioDefinition } from '../src/scenarios/define.js';
import type { CpuContext } from '../src/scenarios/types.js';
import { bugs_mask, SW_SWAPIN_SWAPOFF_RACE, USER_SWITCH_SHIFT } from '../src/shm/switches.js';
import { USER_WINDOW_BASE, WIN_COPY_MIGRATION_ENTRY, window_name } from '../src/cpu/windows.js';
import { E2 } from '../src/shm/era.js';

const ok = { name: 'my-lock', roles: ['a', 'b'], setup: () => ({ x: 1 }), run: () => {} } as ScenarioDefinition;

/** the message defineScenario throws for `def` */
function misuse(def: unknown): string {
  try {
    defineScenario(def as ScenarioDefinition);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioDefinitionError);
    return (e as Error).message;
  }
  throw new Error('no error thrown');
}

const ctx = (role: string, log: string[]): CpuContext =>
  ({ cpu: 0, nr_cpus: 3, role, setup: {}, should_stop: () => true, op_done: () => { log.push(role); } });

describe('defineScenario', () => {
  it('a role list cycles over the CPUs; run by role dispatches; the defaults fill the rest', () => {
    const log: string[] = [];
    const s = defineScenario({
      name: 'two-roles', era: ['E1', 2], roles: ['writer', 'reader'], switches: ['migrate-no-refcount-recheck'],
      run: { writer: (c) => c.op_done(), reader: (c) => { c.op_done(); c.op_done(); } },
    });
    expect(s.roles(3)).toEqual(['writer', 'reader', 'writer']);
    expect(s.eras).toEqual([1, 2]);
    expect(s).toMatchObject({ name: 'two-roles', title: 'two-roles', patch: '-', switches: ['migrate-no-refcount-recheck'], expect_buggy: 'a failure' });
    expect(s.setup(2, 1)).toEqual({});
    s.run(ctx('reader', log));
    s.run(ctx('writer', log));
    expect(log).toEqual(['reader', 'reader', 'writer']);
    // no era given: the Scenario carries none (the loader's default, E2)
    expect(defineScenario(ok).eras).toBeUndefined();
  });

  it('a roles function is kept, and checked once at definition time', () => {
    expect(defineScenario({ ...ok, roles: (n: number) => Array.from({ length: n }, () => 'a') }).roles(4)).toEqual(['a', 'a', 'a', 'a']);
    expect(misuse({ ...ok, roles: () => ['a'] })).toBe("defineScenario('my-lock'): roles(2) must return 2 non-empty role names, one per CPU");
    expect(misuse({ ...ok, roles: () => { throw new Error('boom'); } })).toBe("defineScenario('my-lock'): roles(2) threw: boom");
    expect(misuse({ ...ok, roles: (n: number) => Array(n).fill('c'), run: { a: () => {} } })).toBe("defineScenario('my-lock'): roles(2) gives a CPU the role 'c', which has no run.c");
  });

  const cases: [string, unknown, string][] = [
    ['not an object', 42, 'defineScenario(): expects an object { name, roles, setup, run, ... }, got number'],
    ['an unknown field', { ...ok, rolse: [] }, "defineScenario('my-lock'): unknown field 'rolse' (known: name, title, description, era, roles, setup, run, switches, own_switches, own_windows, windows, also_fixed, expect_buggy, signature, sizes, bounds)"],
    ['no name', { ...ok, name: undefined }, "defineScenario(): name must be a non-empty string of lower-case letters, digits, '-', '_' or '.', got undefined"],
    ['a name with spaces', { ...ok, name: 'My Lock' }, "defineScenario('My Lock'): name must be a non-empty string of lower-case letters, digits, '-', '_' or '.', got 'My Lock'"],
    ['a title that is not text', { ...ok, title: 3 }, "defineScenario('my-lock'): title must be a string, got number"],
    ['an unknown era', { ...ok, era: 'E7' }, "defineScenario('my-lock'): era must be one of E0, E1, E2, E3, E4 (or 0..4), got 'E7'"],
    ['an empty era list', { ...ok, era: [] }, "defineScenario('my-lock'): era: an empty list (leave era out for the default, E2)"],
    ['an era twice', { ...ok, era: ['E2', 2] }, "defineScenario('my-lock'): era lists an era twice"],
    ['no roles', { ...ok, roles: undefined }, "defineScenario('my-lock'): roles must be a list of role names or a function (nr_cpus) => role names, got undefined"],
    ['an empty role list', { ...ok, roles: [] }, "defineScenario('my-lock'): roles: an empty list (one role name at least)"],
    ['a role that is not a name', { ...ok, roles: ['a', ''] }, "defineScenario('my-lock'): roles[1] must be a non-empty string, got string"],
    ['setup not a function', { ...ok, setup: { x: 1 } }, "defineScenario('my-lock'): setup must be a function (nr_cpus, seed) => state, got object"],
    ['no run', { ...ok, run: undefined }, "defineScenario('my-lock'): run must be a function (ctx) => void or an object of them by role name, got undefined"],
    ['a run entry not a function', { ...ok, run: { a: () => {}, b: 1 } }, "defineScenario('my-lock'): run.b must be a function (ctx) => void, got number"],
    ['a role without its run', { ...ok, run: { a: () => {} } }, "defineScenario('my-lock'): role 'b' has no run.b"],
    ['a run for no role', { ...ok, run: { a: () => {}, b: () => {}, c: () => {} } }, "defineScenario('my-lock'): run.c is not one of the roles (a, b)"],
    ['switches not a list', { ...ok, switches: 'anon-vma-list-head' }, "defineScenario('my-lock'): switches must be a list of switch names, got string"],
    ['an unknown switch', { ...ok, switches: ['my-own'] }, "defineScenario('my-lock'): switches: unknown switch 'my-own' (mmrace list shows the model's; declare your own with defineSwitches and pass them as own_switches)"],
    ['own_switches not declared', { ...ok, own_switches: { SW_X: 1 << 24 } }, "defineScenario('my-lock'): own_switches must be what defineSwitches returned"],
    ['own_windows not declared', { ...ok, own_windows: { WIN_X: 40 } }, "defineScenario('my-lock'): own_windows must be what defineWindows returned"],
    ['an unknown window', { ...ok, windows: ['the moon is full'] }, "defineScenario('my-lock'): windows lists 'the moon is full', not a race window (src/cpu/windows.ts; mmrace list names them); declare your own with defineWindows and pass them as own_windows"],
    ['a window code of nobody', { ...ok, windows: [USER_WINDOW_BASE] }, `defineScenario('my-lock'): windows lists ${USER_WINDOW_BASE}, not a race window (src/cpu/windows.ts; mmrace list names them); declare your own with defineWindows and pass them as own_windows`],
    ['a window twice', { ...ok, windows: [WIN_COPY_MIGRATION_ENTRY, 'copy_one_pte copied a migration entry'] }, "defineScenario('my-lock'): windows lists a window twice"],
    ['windows not a list', { ...ok, windows: 3 }, "defineScenario('my-lock'): windows must be an array of race windows (src/cpu/windows.ts), got number; declare your own with defineWindows and pass them as own_windows"],
    ['also_fixed not a list', { ...ok, also_fixed: 'swapin-swapoff-race' }, "defineScenario('my-lock'): also_fixed must be a list of switch names, got string"],
    ['also_fixed unknown', { ...ok, also_fixed: ['nope'] }, "defineScenario('my-lock'): also_fixed: unknown switch 'nope' (mmrace list shows the model's; declare your own with defineSwitches and pass them as own_switches)"],
    ['also_fixed of no later fix', { ...ok, also_fixed: ['anon-vma-list-head'] }, "defineScenario('my-lock'): also_fixed: 'anon-vma-list-head' is not a later fix: E2 as released does not carry its buggy line, so there is nothing to fix"],
    ['also_fixed of a switch of its own', { ...ok, switches: ['swapin-no-entry-recheck'], also_fixed: ['swapin-no-entry-recheck'] }, "defineScenario('my-lock'): also_fixed: 'swapin-no-entry-recheck' is already one of the switches (the fixed run turns those off anyway)"],
    ['also_fixed twice', { ...ok, also_fixed: ['swapin-swapoff-race', 'swapin-swapoff-race'] }, "defineScenario('my-lock'): also_fixed lists a switch twice"],
    ['a switch twice', { ...ok, switches: ['anon-vma-list-head', 'anon-vma-list-head'] }, "defineScenario('my-lock'): switches lists a switch twice"],
    ['a signature that is not a RegExp', { ...ok, signature: 'BUG' }, "defineScenario('my-lock'): signature must be a RegExp, got string"],
    ['bounds of another kind', { ...ok, bounds: 'warn' }, "defineScenario('my-lock'): bounds must be 'halt' or 'note', got warn"],
  ];
  it.each(cases)('%s: one clear message', (_what, def, message) => {
    expect(misuse(def)).toBe(message);
  });

  it("a switch outside the scenario's era names the eras that have it", () => {
    expect(misuse({ ...ok, era: ['E2', 'E0'], switches: ['migrate-no-refcount-recheck'] }))
      .toBe("defineScenario('my-lock'): switch 'migrate-no-refcount-recheck' is not in E0's code (it is in E1, E2)");
  });
});

describe('your own switches and race windows', () => {
  const sw = defineSwitches({
    SW_ARG_ORDER: { name: 'arg-order', what: 'lock_two_pages locks in argument order' },
    SW_NO_RETRY: { name: 'no-retry', what: 'the reader does not retry' },
  });
  const win = defineWindows({ WIN_PAIR: 'lock_two_pages found a page of its pair locked', WIN_TORN: 'the reader met a writer' });

  it('each switch a bit from 24 in declaration order, each window a slot from USER_WINDOW_BASE; the scenario carries both', () => {
    expect(sw).toEqual({ SW_ARG_ORDER: 1 << USER_SWITCH_SHIFT, SW_NO_RETRY: 1 << (USER_SWITCH_SHIFT + 1) });
    expect(Object.isFrozen(sw)).toBe(true);
    expect(win).toEqual({ WIN_PAIR: USER_WINDOW_BASE, WIN_TORN: USER_WINDOW_BASE + 1 });
    // a second declaration starts again at bit 24: a run has one scenario
    expect(defineSwitches({ SW_Y: { name: 'y', what: 'y' } }).SW_Y).toBe(1 << USER_SWITCH_SHIFT);
    const s = defineScenario({ ...ok, own_switches: sw, own_windows: win, switches: ['arg-order', 'anon-vma-list-head'], also_fixed: ['swapin-swapoff-race'] });
    expect(s.switches).toEqual(['arg-order', 'anon-vma-list-head']);
    expect(s.own_switches!.map((w) => [w.name, w.bit, w.what])).toEqual([
      ['arg-order', 1 << 24, 'lock_two_pages locks in argument order'], ['no-retry', 1 << 25, 'the reader does not retry']]);
    expect(s.own_windows).toEqual(['lock_two_pages found a page of its pair locked', 'the reader met a writer']);
    expect(s.windows).toEqual([USER_WINDOW_BASE, USER_WINDOW_BASE + 1]); // default: every window of its own
    expect(s.also_fixed).toEqual(['swapin-swapoff-race']);
    expect(s.windows!.map((w) => window_name(w, s.own_windows))).toEqual(s.own_windows);
    // or a chosen list, by code or name, the model's too
    expect(defineScenario({ ...ok, own_windows: win, windows: ['the reader met a writer', WIN_COPY_MIGRATION_ENTRY] }).windows).toEqual([USER_WINDOW_BASE + 1, WIN_COPY_MIGRATION_ENTRY]);
  });

  it('--protocol buggy turns its own switches on in the switch word, out of the model\'s bits; fixed leaves them off; --switch names them', () => {
    const s = defineScenario({ ...ok, own_switches: sw, switches: ['arg-order'], also_fixed: ['swapin-swapoff-race'] });
    const buggy = bugs_mask('buggy', s.switches, [], E2, s.also_fixed, s.own_switches);
    expect(buggy.names).toEqual(['arg-order']);
    expect(buggy.mask & sw.SW_ARG_ORDER).toBe(sw.SW_ARG_ORDER);
    expect(buggy.mask & sw.SW_NO_RETRY).toBe(0);
    expect(buggy.mask & SW_SWAPIN_SWAPOFF_RACE).toBe(SW_SWAPIN_SWAPOFF_RACE); // the buggy run keeps the era's baseline
    const fixed = bugs_mask('fixed', s.switches, [], E2, s.also_fixed, s.own_switches);
    expect(fixed.mask & (0x7f << USER_SWITCH_SHIFT)).toBe(0);
    expect(fixed.mask & SW_SWAPIN_SWAPOFF_RACE).toBe(0); // also_fixed: the later fix in the fixed run
    expect(bugs_mask('fixed', s.switches, ['no-retry'], E2, [], s.own_switches).mask & (0x7f << USER_SWITCH_SHIFT)).toBe(sw.SW_NO_RETRY);
    expect(() => bugs_mask('buggy', ['arg-order'], [], E2)).toThrow(/unknown switch 'arg-order'/); // another scenario's
  });

  const cases: [string, () => unknown, string][] = [
    ['not an object', () => defineSwitches('arg-order' as never), "defineSwitches: expects an object { SW_NAME: { name: 'my-switch', what: 'what its buggy line does' }, ... }, got string"],
    ['nothing', () => defineSwitches({}), 'defineSwitches: declares nothing (one entry at least)'],
    ['too many', () => defineSwitches(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`SW_${i}`, { name: `s${i}`, what: 'x' }]))), 'defineSwitches: declares 8, a scenario has room for 7'],
    ['an entry not an object', () => defineSwitches({ SW_A: 'a' as never }), 'defineSwitches: SW_A: expects { name, what }, got string'],
    ['an unknown field', () => defineSwitches({ SW_A: { name: 'a', what: 'x', bit: 3 } as never }), "defineSwitches: SW_A: unknown field 'bit' (known: name, what)"],
    ['a bad name', () => defineSwitches({ SW_A: { name: 'Arg Order', what: 'x' } }), "defineSwitches: SW_A: name must be 1..64 lower-case letters, digits, '-', '_' or '.', got 'Arg Order'"],
    ["a model's name", () => defineSwitches({ SW_A: { name: 'anon-vma-list-head', what: 'x' } }), "defineSwitches: SW_A: name 'anon-vma-list-head' is one of the model's switches (mmrace list); give yours another"],
    ['a name twice', () => defineSwitches({ SW_A: { name: 'a', what: 'x' }, SW_B: { name: 'a', what: 'y' } }), "defineSwitches: SW_B: name 'a' is declared twice"],
    ['no description', () => defineSwitches({ SW_A: { name: 'a' } as never }), 'defineSwitches: SW_A: what must be a non-empty string, got undefined'],
    ['a description of two lines', () => defineSwitches({ SW_A: { name: 'a', what: 'x\ny' } }), 'defineSwitches: SW_A: what must be one line'],
    ['windows: not an object', () => defineWindows(['a'] as never), "defineWindows: expects an object { WIN_NAME: 'what stands open', ... }, got an array"],
    ['windows: too many', () => defineWindows(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`W${i}`, `w${i}`]))), 'defineWindows: declares 9, a scenario has room for 8'],
    ['windows: an empty name', () => defineWindows({ WIN_A: '' }), "defineWindows: WIN_A: the window's name must be a non-empty string, got ''"],
    ["windows: a model's window", () => defineWindows({ WIN_A: 'copy_one_pte copied a migration entry' }), "defineWindows: WIN_A: 'copy_one_pte copied a migration entry' is one of the model's windows: list it in windows instead"],
    ['windows: a name twice', () => defineWindows({ WIN_A: 'w', WIN_B: 'w' }), "defineWindows: WIN_B: 'w' is declared twice"],
  ];
  it.each(cases)('%s: one clear message', (_what, f, message) => {
    expect(f).toThrow(ScenarioDefinitionError);
    expect(f).toThrow(message);
  });
});
