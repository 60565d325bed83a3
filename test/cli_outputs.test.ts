// Outputs (issue 15, item 3): every path checked before the run, written
// through a temporary file and a rename, a failed write that keeps the
// run's exit code, and default schedule names that never overwrite.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mmrace, tmp } from './cli_helpers.js';
import { write_atomic, write_output } from '../src/cli/outputs.js';

describe('output paths', () => {
  const missing = '/nonexistent-mmrace-dir/x.json';
  const bad: [string, string[], RegExp][] = [
    ['--json in a missing directory', ['run', 'test/fixtures/abba.mjs', '--json', missing], /--json \/nonexistent-mmrace-dir\/x\.json: directory \/nonexistent-mmrace-dir does not exist/],
    ['--trace under a file', ['run', 'orphaned-migration-entry', '--trace', 'package.json/t.json'], /--trace package\.json\/t\.json: .*package\.json is not a directory/],
    ['--report that is a directory', ['bench', 'orphaned-migration-entry', '--report', 'test'], /--report test: is a directory/],
    ['explore --out in a missing directory', ['explore', 'orphaned-migration-entry', '--out', missing], /--out .*does not exist/],
    ['replay --json in a missing directory', ['replay', 'no-such.json', '--json', missing], /--json .*does not exist/],
  ];
  for (const [what, args, msg] of bad) {
    it(`${what}: one line, exit 2, before anything runs`, () => {
      const r = mmrace(...args);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(msg);
      expect(r.out).toBe(''); // not even the run's header: no CPU started
    });
  }

  it('a write that fails after the run names the file and keeps the run\'s exit code', () => {
    const dir = join(tmp(), 'out');
    mkdirSync(dir);
    const r = mmrace('run', 'test/fixtures/rm_outdir.mjs', '--ops', '100', '--json', join(dir, 'r.json'), { env: { MMRACE_RM_DIR: dir } });
    expect(r.code, r.err).toBe(0); // clean, as the run was (not 4: the write is no internal error)
    expect(r.out).toMatch(/outcome: clean/);
    expect(r.err.trim()).toMatch(new RegExp(`^mmrace: could not write ${join(dir, 'r.json')}: ENOENT`));
  });

  it('--no-lock-stat turns lock_stat off in the workers: no section and an empty JSON lock_stat', () => {
    const dir = tmp();
    const on = mmrace('run', 'orphaned-migration-entry', '--protocol', 'fixed', '--cpus', '2', '--ops', '2000', '--json', join(dir, 'on.json'));
    const off = mmrace('run', 'orphaned-migration-entry', '--protocol', 'fixed', '--cpus', '2', '--ops', '2000', '--no-lock-stat', '--json', join(dir, 'off.json'));
    expect(on.code, on.err).toBe(0);
    expect(off.code, off.err).toBe(0);
    expect(on.out).toMatch(/lock_stat version 0\.4/);
    expect(off.out).not.toMatch(/lock_stat version/);
    const j = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
    expect(j('on.json').lock_stat.length).toBeGreaterThan(0);
    expect(j('off.json').lock_stat).toEqual([]);
  });

  it('a scenario whose race needs more CPUs than the run has says so first, and a run with enough does not', () => {
    const few = mmrace('run', 'swap-stress', '--protocol', 'fixed', '--duration', '0.2');
    expect(few.code, few.err).toBe(0);
    expect(few.out.split('\n')[0]).toBe('mmrace: swap-stress\'s race needs 5 CPUs (roles reclaimer, toucher, forker, migrator, swapper); on 2 the roles are reclaimer, toucher: try --cpus 5');
    const enough = mmrace('run', 'swap-stress', '--protocol', 'fixed', '--cpus', '5', '--duration', '0.2');
    expect(enough.code, enough.err).toBe(0);
    expect(enough.out).not.toContain('race needs');
  });

  it('two runs saving the default schedule name keep both schedules', () => {
    const cwd = tmp();
    const a = mmrace('explore', 'orphaned-migration-entry', '--stop-at-first', { cwd });
    const b = mmrace('explore', 'orphaned-migration-entry', '--stop-at-first', { cwd });
    expect(a.code).toBe(1);
    expect(b.code).toBe(1);
    expect(a.out).toContain('schedule saved: mmrace-orphaned-migration-entry.schedule.json\n');
    expect(b.out).toContain('schedule saved: mmrace-orphaned-migration-entry.schedule-2.json\n');
    expect(readdirSync(cwd).sort()).toEqual(['mmrace-orphaned-migration-entry.schedule-2.json', 'mmrace-orphaned-migration-entry.schedule.json']);
    for (const f of readdirSync(cwd)) expect(JSON.parse(readFileSync(join(cwd, f), 'utf8')).schema).toBe('mmrace.schedule/1');
  });
});

describe('writing through a temporary file', () => {
  it('a write that fails keeps the previous file whole and leaves no temporary file', () => {
    const dir = tmp();
    const p = join(dir, 'r.json');
    writeFileSync(p, 'the previous report\n');
    expect(write_output(p, () => { throw new Error('the report could not be made'); })).toBe(false);
    expect(readFileSync(p, 'utf8')).toBe('the previous report\n');
    expect(() => write_atomic(join(dir, 'no', 'such', 'x.json'), 'data')).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['r.json']);
  });

  it('a write replaces the file by rename: no temporary file is left', () => {
    const dir = tmp();
    const p = join(dir, 'r.json');
    writeFileSync(p, 'old');
    write_atomic(p, 'new');
    expect(readFileSync(p, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['r.json']);
    expect(existsSync(`${p}.tmp`)).toBe(false);
  });
});
