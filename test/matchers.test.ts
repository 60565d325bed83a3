// The vitest matchers (src/vitest.ts, the package's 'mmrace/vitest'): each
// passes where it should, and each failure message carries the splat, the
// replay command and, for a failing schedule, where it was saved.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import '../src/vitest.js';
import { root } from './cli_helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'mmrace-matchers-'));
const saved = join(root, 'test', 'matchers.orphaned-migration-entry.schedule.json');
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); rmSync(saved, { force: true }); });

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
