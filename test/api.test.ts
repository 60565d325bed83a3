// The programmatic API (src/api.ts): explore finds and saves a failing
// schedule, shrink cuts it down, replay follows it, and the CLI replays the
// file the API saved; bench and the reports return what the commands print.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bench, explore, html_report, replay, run, shrink, text_report } from '../src/index.js';
import { mmrace, root } from './cli_helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mmrace-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the programmatic API', () => {
  it('explore -> shrink -> replay of a built-in scenario; the CLI replays the saved file', async () => {
    const out = join(tmp, 'orphan.json'), min = join(tmp, 'orphan.min.json');
    const e = await explore('orphaned-migration-entry', { out, k: 400 }); // the README's session's window
    expect(e.strategies[0].strategy).toBe('pct');
    expect(e.strategies[0].k).toBe(400);
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
    expect(r.lock_stat.length).toBeGreaterThan(0);
    const off = await run('orphaned-migration-entry', { protocol: 'fixed', ops: 500, lock_stat: false });
    expect(off.outcome).toBe('clean');
    expect(off.lock_stat).toEqual([]); // --no-lock-stat: nothing counted
    const b = await bench('orphaned-migration-entry', { protocol: 'fixed', cpus_list: [1, 2], duration_ms: 100, warmup_ms: 50 });
    expect(b.points.map((p) => [p.cpus, p.outcome])).toEqual([[1, 'clean'], [2, 'clean']]);
    expect(await html_report(b)).toMatch(/^<!DOCTYPE html>/);
    await expect(run('no-such-scenario')).rejects.toThrow("unknown scenario 'no-such-scenario' (see 'mmrace list')");
  }, 60_000);
});

// a user's scenario module imports the package, so these use the built API (dist/), the machine the module's own
describe('the API on a scenario module with switches of its own (examples/lock-two-pages.mjs)', () => {
  const example = join(root, 'examples', 'lock-two-pages.mjs');

  it('explore_exhaustive saves the deadlock with the switch named; the CLI replays it; mmrace list names the switch and the window', async () => {
    // @ts-ignore: the built API, typed by its .d.ts once built
    const dist = await import('../dist/src/index.js');
    const out = join(tmp, 'abba.json');
    const e = await dist.explore_exhaustive(pathToFileURL(example), { preemptions: 1, out });
    expect(e).toMatchObject({ complete: false, stopped: 'failure', bound: 1 });
    expect(e.first.report.outcome).toBe('liveness');
    expect(e.first.schedule.switches).toEqual(['lock-two-pages-arg-order']);
    const cli = mmrace('replay', out, '--module', example, '--verify');
    expect(cli.code, cli.out + cli.err).toBe(3);
    expect(cli.out).toContain('mmrace replay ');
    expect(cli.out).toMatch(/protocol=buggy \[lock-two-pages-arg-order\]/);
    expect(cli.out).toContain('replay: the recorded failure, with the recorded splat, word for word');
    const list = mmrace('list', example);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain('buggy switches: lock-two-pages-arg-order;');
    expect(list.out).toContain('race windows: lock_two_pages found a page of its pair locked');
    expect(list.out).toMatch(/its own switches \(on = the buggy line runs\):\n {2}lock-two-pages-arg-order +lock_two_pages takes its page locks in argument order, not lower pfn first \(its own, bit 24\)/);
    // the fixed run: the switch off, the window counted in the JSON report
    const j = join(tmp, 'fixed.json');
    const r = mmrace('run', example, '--protocol', 'fixed', '--ops', '20000', '--json', j);
    expect(r.code, r.out + r.err).toBe(0);
    expect(JSON.parse(readFileSync(j, 'utf8'))).toMatchObject({ switches: [], windows: [{ name: 'lock_two_pages found a page of its pair locked' }] });
  }, 60_000);

  it("explore, as the CLI does, replays a module's failure on a fresh instance first: a failure that needs state left from earlier runs is refused", async () => {
    // @ts-ignore: the built API
    const dist = await import('../dist/src/index.js');
    const mod = join(tmp, 'stateful.mjs');
    // fails only in a worker's third run of the module: module-level state, which a scenario must not keep
    writeFileSync(mod, `import { BUG_ON } from ${JSON.stringify(pathToFileURL(join(root, 'dist/src/index.js')).href)};
let runs = 0;
export default { name: 'stateful', roles: (n) => Array(n).fill('x'), setup: () => ({}), run(ctx) { runs++; ctx.op_done(); BUG_ON(runs > 2 && ctx.cpu === 0, 'left over'); } };
`);
    await expect(dist.explore(pathToFileURL(mod), { strategies: ['random'], iterations: 10 }))
      .rejects.toThrow(/the failure did not replay on its own: a fresh instance of .*stateful\.mjs in fresh workers ended clean, not bug: .*left over/);
    const cli = mmrace('explore', mod, '--strategy', 'random', '--iterations', '10', '--out', join(tmp, 'stateful.json'));
    expect(cli.out).toContain('mmrace: the failure did not replay on its own');
  }, 60_000);
});
