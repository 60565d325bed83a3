// The small promises of issue 15: operation counts past 2^31, columns that
// fit their longest cell, and the soak script's argument checks.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Counter64 } from '../src/exec/counter64.js';
import { columns } from '../src/cli/run.js';
import { root } from './cli_helpers.js';

describe('64-bit operation counts', () => {
  it('a 32-bit shared counter that wraps keeps counting past 2^31 and 2^32', () => {
    const c = new Counter64();
    const word = new Int32Array(1);
    let expected = 0;
    for (const step of [1_000_000_000, 1_000_000_000, 1_000_000_000, 1_500_000_000, 2_000_000_000, 7]) {
      word[0] += step; // wraps as Atomics.add on the shared word does
      expected += step;
      c.sample(word[0]);
    }
    expect(expected).toBeGreaterThan(2 ** 32);
    expect(c.value).toBe(expected);
  });

  it('a counter its owner zeroes (the warm-up\'s end) restarts the count from the rebase', () => {
    const c = new Counter64();
    c.sample(5000);
    c.rebase();
    c.sample(0); // the CPU zeroed its counter
    c.sample(120);
    expect(c.value).toBe(120);
  });
});

describe('columns', () => {
  it('each column is as wide as its longest cell', () => {
    const rows = columns([['A0', 'B0', 'C0'], ['A1-a-long-first-cell', 'B1', 'C1'], ['', 'B2 a much longer middle cell', 'C2']]);
    const at = (l: string, cell: string) => l.indexOf(cell);
    expect(new Set([at(rows[0], 'B0'), at(rows[1], 'B1'), at(rows[2], 'B2')]).size).toBe(1);
    expect(new Set([at(rows[0], 'C0'), at(rows[1], 'C1'), at(rows[2], 'C2')]).size).toBe(1);
    expect(at(rows[0], 'C0')).toBeGreaterThan(at(rows[2], 'B2') + 'B2 a much longer middle cell'.length);
  });
});

describe('npm run soak checks its arguments', () => {
  for (const [what, args, msg] of [
    ['a fractional run count', ['swap-stress', '2.5'], /runs must be an integer, got '2\.5'/],
    ['a negative CPU count', ['swap-stress', '3', '-1'], /cpus must be between 1 and 64, got -1/],
    ['too many CPUs', ['swap-stress', '3', '65'], /cpus must be between 1 and 64/],
    ['hex ops', ['swap-stress', '3', '2', '0x10'], /ops must be an integer, got '0x10'/],
    ['an unknown jitter', ['swap-stress', '3', '2', '10', 'wild'], /jitter must be one of none\|light\|heavy/],
    ['an unknown scenario', ['nope'], /unknown scenario 'nope'/],
    ['an extra argument', ['swap-stress', '1', '2', '3', 'none', 'fixed', 'more'], /at most 6 arguments/],
  ] as const) {
    it(`${what}: exit 2 with the reason and the usage`, () => {
      const r = spawnSync(process.execPath, [join(root, 'dist/bench/soak.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).toContain('soak: usage:');
      expect(r.stdout).toBe('');
    });
  }
});
