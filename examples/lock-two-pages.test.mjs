// The worked example's tests, as a user of the package writes them
// (npm install mmrace vitest; npx vitest run lock-two-pages.test.mjs):
// the buggy helper deadlocks, the fixed one holds, free-running and in
// every schedule with at most two preemptions. A failing schedule is saved
// next to this file, with the commands that replay and shrink it.
import { describe, expect, it } from 'vitest';
import 'mmrace/vitest';

const scenario = new URL('./lock-two-pages.mjs', import.meta.url);

describe('lock_two_pages', () => {
  it('buggy (argument order): two exchangers deadlock, ABBA', async () => {
    await expect(scenario).toReproduce({ within: { runs: 200 } });
    // found already with one preemption, so the bounded search does not hold either
    await expect(scenario).not.toHoldExhaustively({ protocol: 'buggy', preemptions: 1 });
  }, 60_000);

  it('fixed (lower pfn first): holds free-running, the race window open', async () => {
    await expect(scenario).toHold({ ops: 50_000 });
  }, 60_000);

  it('fixed: holds in every schedule with at most 2 preemptions', async () => {
    await expect(scenario).toHoldExhaustively({ preemptions: 2 });
  }, 120_000);
});
