// Scenario modules (issue 15, item 6): any path works, and module-level
// state left from one explore iteration cannot become a saved schedule.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { abba_module_source, mmrace, root, tmp } from './cli_helpers.js';

/** a module under a directory whose name has a space, a % and non-ASCII letters */
function odd_module(): string {
  const dir = join(tmp(), 'my scenarios 100% été');
  mkdirSync(dir);
  const p = join(dir, 'abba locks é%41.mjs');
  writeFileSync(p, abba_module_source('odd-path'));
  return p;
}

describe('scenario modules', () => {
  it('a module path with a space, % and non-ASCII letters runs, free and controlled', () => {
    const p = odd_module();
    const r = mmrace('run', p, '--ops', '200', '--protocol', 'fixed', '--cpus', '1');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/outcome: clean/);
    const out = join(tmp(), 's.json');
    const e = mmrace('explore', p, '--iterations', '200', '--ops', '3', '--stop-at-first', '--out', out);
    expect(e.out + e.err).not.toMatch(/failed to load|internal error/);
    expect([1, 3], e.out + e.err).toContain(e.code); // lockdep's ABBA cycle, or the deadlock itself
    expect(existsSync(out)).toBe(true);
  });

  it('explore does not save a failure that needs module state left by earlier iterations', () => {
    const cwd = tmp();
    const r = mmrace('explore', join(root, 'test/fixtures/stateful.mjs'), '--iterations', '5', '--stop-at-first', { cwd });
    expect(r.out).toMatch(/iteration \d+: violation: run # of this module instance/);
    expect(r.out).toContain('mmrace: the failure did not replay on its own: a fresh instance of');
    expect(r.out).toContain('No schedule saved.');
    expect(r.code).toBe(4);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
