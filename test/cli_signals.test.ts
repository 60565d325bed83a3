// Interrupts (issue 15, item 4): SIGINT or SIGTERM stops the work, keeps what
// it found (partial report, JSON, a schedule already found), and exits
// 130/143; a second signal exits at once.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mmrace_until, root, tmp } from './cli_helpers.js';

const fixture = join(root, 'test/fixtures/marked.mjs');
const under_way = (s: string) => s.includes('mmrace-test: under way');

describe('interrupts', () => {
  it('SIGINT during run: the partial report, the JSON, exit 130', async () => {
    const j = join(tmp(), 'r.json');
    const r = await mmrace_until(['run', fixture, '--duration', '600', '--json', j], [[under_way, (pid) => process.kill(pid, 'SIGINT')]]);
    expect(r.code, r.err).toBe(130);
    expect(r.out).toMatch(/outcome: clean: .* \[interrupted by SIGINT\]/);
    const rep = JSON.parse(readFileSync(j, 'utf8'));
    expect(rep.interrupted).toBe('SIGINT');
    expect(rep.reason).toMatch(/^interrupted by SIGINT/);
  });

  it('SIGTERM during explore: the table, the failing schedule already found is saved, exit 143', async () => {
    const cwd = tmp();
    const r = await mmrace_until(['explore', fixture, '--iterations', '1000000'], [[under_way, (pid) => process.kill(pid, 'SIGTERM')]],
      { cwd, env: { MMRACE_ALWAYS_FAIL: '1', MMRACE_MARK_AT: '20' } });
    expect(r.code, r.err).toBe(143);
    expect(r.out).toMatch(/interrupted by SIGTERM after \d+ runs/);
    expect(r.out).toContain('schedule saved: mmrace-marked.schedule.json');
    expect(readdirSync(cwd)).toEqual(['mmrace-marked.schedule.json']);
  });

  it('a second signal exits at once', async () => {
    // the first CPU never stops: after the first SIGINT the run would wait out its grace; the second ends it now
    const r = await mmrace_until(['run', fixture, '--duration', '600', '--watchdog', '600'], [
      [under_way, (pid) => process.kill(pid, 'SIGINT')],
      [(s) => s.includes('mmrace: SIGINT: stopping'), (pid) => process.kill(pid, 'SIGTERM')],
    ], { env: { MMRACE_DEAF: '1' } });
    expect(r.code, r.err).toBe(143);
    expect(r.out).not.toContain('outcome:');
  });
});
