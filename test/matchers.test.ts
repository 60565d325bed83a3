// The vitest matchers (src/vitest.ts, the package's 'mmrace/vitest'): each
// passes where it should, and each failure message carries the splat, the
// interleaving, the replay command and, for a failing schedule, where it was
// saved. They are the built ones (dist/), as a user imports them: a scenario
// module imports the package, whose machine must be the one the matchers run
// (test/cli_helpers.ts's root; npm test builds first).
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import '../dist/src/vitest.js';
// @ts-ignore: the built API, typed by its .d.ts once built
import { replay } from '../dist/src/index.js';
import { root } from './cli_helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mmrace-matchers-'));
const saved = join(root, 'test', 'matchers.orphaned-migration-entry.schedule.json');
const example = pathToFileURL(join(root, 'examples', 'lock-two-pages.mjs'));
const saved_example = join(root, 'test', 'matchers.lock-two-pages.schedule.json');
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); rmSync(saved, { force: true }); rmSync(saved_example, { force: true }); });

/** the message of a matcher that must fail */
async function message_of(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return (e as Error).message; }
  throw new Error('the matcher passed');
}

describe('toReproduce and toHold', () => {
  it('the orphaned migration entry: reproduced buggy under PCT, held fixed when free-running', async () => {
    await expect('orphaned-migration-entry').toReproduce({ within: { runs: 500 } });
    await expect('orphaned-migration-entry').toHold({ protocol: 'fixed', ops: 2000 });
  }, 60_000);

  it('.not.toReproduce: the splat, the schedule saved next to the test, the replay command', async () => {
    const m = await message_of(expect('orphaned-migration-entry').not.toReproduce());
    expect(m).toMatch(/^expected orphaned-migration-entry \(buggy\) to hold, but run \d+ failed: /);
    expect(m).toContain('kernel BUG at src/mm/swapops.ts:');
    expect(m).toContain(`schedule saved: ${saved}\n  mmrace replay ${saved} --verify`);
    expect(JSON.parse(readFileSync(saved, 'utf8')).scenario).toBe('orphaned-migration-entry');
  }, 60_000);

  it('toReproduce of the fixed protocol: every run held', async () => {
    const m = await message_of(expect('orphaned-migration-entry').toReproduce({ protocol: 'fixed', within: { runs: 20 } }));
    expect(m).toBe('expected orphaned-migration-entry (fixed) to fail within 20 controlled runs (PCT, seed 1); every run held');
  }, 60_000);

  it("toHold of a module that BUGs: the splat and the replay line name the module's path", async () => {
    const mod = join(tmp, 'always_bug.mjs');
    writeFileSync(mod, `import { BUG_ON } from ${JSON.stringify(pathToFileURL(join(root, 'dist/src/index.js')).href)};
export default { name: 'always-bug', roles: (n) => Array(n).fill('x'), setup: () => ({}), run(ctx) { ctx.op_done(); BUG_ON(ctx.cpu === 0); while (!ctx.should_stop()) ctx.op_done(); } };
`);
    const m = await message_of(expect(pathToFileURL(mod)).toHold({ ops: 100 }));
    expect(m).toMatch(/^expected always_bug\.mjs \(fixed\) to hold, but it ended bug: /);
    expect(m).toMatch(/kernel BUG at /);
    expect(m).toContain(`replay: mmrace run ${mod} --protocol fixed`);
    expect(existsSync(join(tmp, 'always_bug.schedule.json'))).toBe(false);
  }, 60_000);
});

describe('toHoldExhaustively, on the worked example (examples/lock-two-pages.mjs: its own switch, its own window)', () => {
  it('fixed: every schedule with <= 2 preemptions holds; buggy reproduces; fixed holds free-running', async () => {
    await expect(example).toHoldExhaustively({ preemptions: 2 });
    await expect(example).toReproduce({ within: { runs: 200 } });
    await expect(example).toHold({ ops: 50_000 });
  }, 120_000);

  it('buggy: the deadlock, its interleaving, the schedule saved next to the test naming the switch, and the replay that reproduces it', async () => {
    const m = await message_of(expect(example).toHoldExhaustively({ protocol: 'buggy', preemptions: 2 }));
    expect(m).toMatch(/^expected lock-two-pages\.mjs \(buggy\) to hold in every schedule with <= 2 preemptions, but run \d+ of K=1 failed: /);
    expect(m).toContain('mmrace: wait-for cycle: CPU 0 (exchanger) waits for PG_locked');
    expect(m).toMatch(/ladder: 1 preemption, \d+ hand-offs/);
    expect(m).toContain('in lock_page < lock_two_pages < exchange_file_words');
    expect(m).toContain(`schedule saved: ${saved_example}\n  mmrace replay ${saved_example} --module ${example.pathname} --verify`);
    const f = JSON.parse(readFileSync(saved_example, 'utf8'));
    expect(f).toMatchObject({ protocol: 'buggy', switches: ['lock-two-pages-arg-order'], found_by: { name: 'exhaustive', k: 1 } });
    const r = await replay(saved_example, { module: example.pathname });
    expect(r).toMatchObject({ followed: true, reproduced: true });
    expect(r.report.switches).toEqual(['lock-two-pages-arg-order']);
  }, 60_000);

  it('a search a budget stops is "not complete", and the assertion fails', async () => {
    const m = await message_of(expect(example).toHoldExhaustively({ preemptions: 2, max_schedules: 5 }));
    expect(m).toMatch(/^expected lock-two-pages\.mjs \(fixed\) to hold in every schedule with <= 2 preemptions: not complete: stopped \(max_schedules 5\) in K=\d after \d+ schedules, 0 failures so far/);
  }, 60_000);
});
