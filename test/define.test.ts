// defineScenario: what a valid definition becomes, and one clear message per misuse, at definition time.
import { describe, expect, it } from 'vitest';
import { defineScenario, ScenarioDefinitionError, type ScenarioDefinition } from '../src/scenarios/define.js';
import type { CpuContext } from '../src/scenarios/types.js';

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
    ['an unknown field', { ...ok, rolse: [] }, "defineScenario('my-lock'): unknown field 'rolse' (known: name, title, description, era, roles, setup, run, switches, expect_buggy, signature, sizes, bounds)"],
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
    ['an unknown switch', { ...ok, switches: ['my-own'] }, "defineScenario('my-lock'): unknown switch 'my-own' (mmrace list shows them; switches of your own are not supported yet)"],
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
