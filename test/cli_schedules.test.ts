// Schedule files are data (issue 15, item 5): a schedule never imports the
// module it names, the module runs only with --module and a changed one is
// reported, paths resolve against the schedule file, every field is checked,
// and a divergence says whether the file or the code changed.
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { abba_module_source, mmrace, tmp } from './cli_helpers.js';

/** an ABBA module whose import leaves a marker file (MMRACE_IMPORTED names it) */
function write_module(path: string, note = ''): void {
  writeFileSync(path, abba_module_source('abba-mod', `import { writeFileSync } from 'node:fs';
if (process.env.MMRACE_IMPORTED) writeFileSync(process.env.MMRACE_IMPORTED, 'imported');
// ${note}`));
}

let dir = '', mod = '', sched = '';
beforeAll(() => {
  dir = tmp();
  mkdirSync(join(dir, 'mods'));
  mkdirSync(join(dir, 'schedules'));
  mod = join(dir, 'mods', 'abba.mjs');
  write_module(mod);
  sched = join(dir, 'schedules', 'abba.json');
  const e = mmrace('explore', mod, '--strategy', 'random', '--iterations', '50', '--ops', '5', '--stop-at-first', '--out', sched, '--watchdog', '2');
  if (!existsSync(sched)) throw new Error(`explore saved no schedule:\n${e.out}${e.err}`);
});

describe('schedule files are data', () => {
  it('records the module relative to the schedule file, its hash, the decisions\' hash, the code\'s and the watchdog', () => {
    const f = JSON.parse(readFileSync(sched, 'utf8'));
    expect(f.module.path).toBe('../mods/abba.mjs');
    expect(f.module.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(f.decisions_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(f.code_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(f.watchdog_ms).toBe(2000);
  });

  it('replay without --module does not import the module it names: one line, exit 2, naming the path from the schedule\'s directory', () => {
    const marker = join(tmp(), 'imported');
    const r = mmrace('replay', sched, { cwd: tmp(), env: { MMRACE_IMPORTED: marker } }); // another directory: the path must resolve against the file's
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/was recorded with the scenario module .*mods\/abba\.mjs; a schedule never imports code: pass --module .*mods\/abba\.mjs/);
    expect(existsSync(marker)).toBe(false);
    const s = mmrace('shrink', sched, { cwd: tmp(), env: { MMRACE_IMPORTED: marker } });
    expect(s.code).toBe(2);
    expect(existsSync(marker)).toBe(false);
  });

  it('replay --module runs it; a changed module is reported as such', () => {
    const r = mmrace('replay', sched, '--module', mod);
    expect([1, 3]).toContain(r.code);
    expect(r.out).toMatch(/followed the schedule exactly/);
    expect(r.out).not.toContain('differs from the one the schedule recorded');
    const changed = join(dir, 'mods', 'abba2.mjs');
    write_module(changed, 'a comment that changes the content');
    const c = mmrace('replay', sched, '--module', changed);
    expect(c.out).toContain(`scenario module: ${changed} differs from the one the schedule recorded (sha256)`);
  });

  it('a divergence says the file was edited when its decisions no longer match their hash', () => {
    const f = JSON.parse(readFileSync(sched, 'utf8'));
    const d = f.decisions;
    // drop the last hand-off: still a well-formed list, but not what the run did
    const edited = join(dir, 'schedules', 'edited.json');
    writeFileSync(edited, JSON.stringify({ ...f, decisions: d.slice(0, -1) }));
    const r = mmrace('replay', edited, '--module', mod);
    expect(r.out).toMatch(/replay: left the schedule at hand-off \d+ .*: the file was edited: its decisions do not match the hash recorded with them/);
  });

  const long = 'x'.repeat(10_000_000);
  const bad: [string, (o: Record<string, unknown>) => unknown, RegExp][] = [
    ['a 10 MB tool string', (o) => ({ ...o, tool: long }), /"tool" is 10000000 characters long, at most 200/],
    ['a 10 MB scenario', (o) => ({ ...o, scenario: long }), /"scenario" is 10000000 characters long/],
    ['a 10 MB unknown switch', (o) => ({ ...o, switches: [long] }), /unknown switch 'x{60}\.\.\. \(10000000 characters\)'/],
    ['a 10 MB schema', (o) => ({ ...o, schema: long }), /schema is "x{59}\.\.\. \(10000002 characters\), expected/],
    ['a bad module hash', (o) => ({ ...o, module: { path: 'x.mjs', sha256: 'nope' } }), /"module.sha256" must be a sha256 in hex/],
    ['a bad found_by', (o) => ({ ...o, found_by: { name: 'luck' } }), /"found_by.name" must be/],
    ['an unknown expected outcome', (o) => ({ ...o, expect: { outcome: 'meh', message: '', splat: '' } }), /"expect" must be null or/],
    ['a fractional watchdog', (o) => ({ ...o, watchdog_ms: 1.5 }), /"watchdog_ms" must be an integer/],
  ];
  for (const [what, mutate, msg] of bad) {
    it(`${what}: one short line, exit 2`, () => {
      const file = join(dir, 'schedules', 'bad.json');
      writeFileSync(file, JSON.stringify(mutate(JSON.parse(readFileSync(sched, 'utf8')))));
      const r = mmrace('replay', file, '--module', mod);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err.length).toBeLessThan(400);
      expect(r.err).toMatch(msg);
    });
  }

  it('replay --watchdog overrides the one the schedule stored', () => {
    const r = mmrace('replay', sched, '--module', mod, '--watchdog', 'x');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--watchdog must be a decimal number/);
  });
});
