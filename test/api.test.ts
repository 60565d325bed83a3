// The programmatic API (src/api.ts): explore finds and saves a failing
// schedule, shrink cuts it down, replay follows it, and the CLI replays the
// file the API saved; bench and the reports return what the commands print.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, explore, html_report, replay, run, shrink, text_report } from '../src/index.js';
import { mmrace } from './cli_helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mmrace-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the programmatic API', () => {
  it('explore -> shrink -> replay of a built-in scenario; the CLI replays the saved file', async () => {
    const out = join(tmp, 'orphan.json'), min = join(tmp, 'orphan.min.json');
    const e = await explore('orphaned-migration-entry', { out });
    expect(e.strategies[0].strategy).toBe('pct');
    expect(e.first, 'PCT finds the orphaned migration entry within 500 runs').not.toBeNull();
    expect(e.first!.saved).toBe(out);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(e.first!.schedule);
    expect(e.first!.splat).toContain('BUG_ON(!PageLocked(p)) in migration_entry_to_page');

    const s = await shrink(out, { out: min });
    expect(s.preemptions.to).toBeLessThanOrEqual(s.preemptions.from);
    expect(s.schedule.found_by).toEqual({ name: 'shrink', from: out });
    expect(s.schedule.expect!.message).toBe(e.first!.schedule.expect!.message);

    const r = await replay(min);
    expect(r).toMatchObject({ followed: true, reproduced: true });
    expect(r.report.outcome).toBe('bug');

    const cli = mmrace('replay', min, '--verify');
    expect(cli.code, cli.out + cli.err).toBe(1);
    expect(cli.out).toContain('replay: followed the schedule exactly');
    expect(cli.out).toContain('--verify: replayed twice: identical decisions, splat and per-CPU event logs');
  }, 60_000);

  it('run and bench return their reports; text_report and html_report render them', async () => {
    const r = await run('orphaned-migration-entry', { protocol: 'fixed', ops: 500, expect: 'clean' });
    expect(r).toMatchObject({ outcome: 'clean', expectation_met: true, protocol: 'fixed' });
    expect(await text_report(r)).toMatch(/outcome: clean/);
    const b = await bench('orphaned-migration-entry', { protocol: 'fixed', cpus_list: [1, 2], duration_ms: 100, warmup_ms: 50 });
    expect(b.points.map((p) => [p.cpus, p.outcome])).toEqual([[1, 'clean'], [2, 'clean']]);
    expect(await html_report(b)).toMatch(/^<!DOCTYPE html>/);
    await expect(run('no-such-scenario')).rejects.toThrow("unknown scenario 'no-such-scenario' (see 'mmrace list')");
  }, 60_000);
});
