// Race-window coverage (issue 14 item 2): the table, the scenarios' lists,
// and the vacuous rule: a clean run whose window never opened is printed as
// vacuous and does not pass --expect clean (run, explore, exhaustive).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { NR_WINDOWS, WINDOW_NAMES, add_window_counts, clean_label, never_opened, window_codes } from '../src/cpu/windows.js';
import { WINDOW_SLOTS } from '../src/shm/layout.js';
import { mmrace } from './cli_helpers.js';

const NEVER = 'test/fixtures/window_never.mjs';
const WINDOW = 'copy_one_pte copied a migration entry';

describe('race windows: the table and the scenarios that need them', () => {
  it('every built-in scenario declares at least one window, each a code of the table', () => {
    expect(NR_WINDOWS).toBeLessThanOrEqual(WINDOW_SLOTS);
    for (const s of SCENARIOS) {
      expect(s.windows?.length ?? 0, `${s.name} declares no race window`).toBeGreaterThan(0);
      for (const w of s.windows!) expect(WINDOW_NAMES[w], `${s.name}: ${w}`).toBeDefined();
      expect(new Set(s.windows).size, `${s.name} lists a window twice`).toBe(s.windows!.length);
    }
  });

  it('every window of the table is needed by some scenario (no mark counts for nobody)', () => {
    const used = new Set(SCENARIOS.flatMap((s) => s.windows ?? []));
    expect(WINDOW_NAMES.filter((_, w) => !used.has(w))).toEqual([]);
  });

  it('a module names windows by code or as the table prints them; anything else is its mistake', () => {
    expect(window_codes('m', undefined)).toEqual([]);
    expect(window_codes('m', [WINDOW, 0])).toEqual([WINDOW_NAMES.indexOf(WINDOW), 0]);
    expect(window_codes('m', ['no such window'])).toMatch(/^m: windows lists 'no such window', not a race window/);
    expect(window_codes('m', [NR_WINDOWS])).toMatch(/not a race window/);
    expect(window_codes('m', [1.5])).toMatch(/not a race window/);
    expect(window_codes('m', 'copy')).toMatch(/must be an array/);
  });

  it('the vacuous rule: the first window at zero names it; counts add up window by window', () => {
    const a = [{ name: 'a', count: 0 }, { name: 'b', count: 2 }];
    expect(never_opened(a)).toBe('a');
    expect(clean_label(a)).toBe('clean (vacuous: window a never opened)');
    const sum = add_window_counts(add_window_counts([], a), [{ name: 'a', count: 1 }, { name: 'b', count: 0 }]);
    expect(sum).toEqual([{ name: 'a', count: 1 }, { name: 'b', count: 2 }]);
    expect(a[0].count).toBe(0); // the first list is copied, not taken over
    expect(never_opened(sum)).toBeNull();
    expect(clean_label(sum)).toBe('clean');
    expect(clean_label([])).toBe('clean'); // a scenario that declares none is never vacuous
  });
});

describe('a vacuous clean verdict (the CLI, as a user runs it)', () => {
  it('run: printed as vacuous, in the text and the JSON; exit 0 without --expect, 1 with --expect clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmrace-win-'));
    const plain = mmrace('run', NEVER, '--protocol', 'fixed', '--cpus', '1', '--ops', '200', '--no-lock-stat', '--no-latency');
    expect(plain.code).toBe(0); // the outcome is still clean: only the expectation asks more
    expect(plain.out).toContain(`outcome: clean (vacuous: window ${WINDOW} never opened): 200 ops`);
    expect(plain.out).toContain(`race windows: ${WINDOW}: 0 (never opened)`);
    const json = join(dir, 'r.json');
    const r = mmrace('run', NEVER, '--protocol', 'fixed', '--cpus', '1', '--ops', '200', '--expect', 'clean', '--json', json);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toContain(`[expected clean: MISSED: vacuous, window ${WINDOW} never opened]`);
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    expect(rep.outcome).toBe('clean');
    expect(rep.windows).toEqual([{ name: WINDOW, count: 0 }]);
    expect(rep.vacuous).toBe(WINDOW);
    expect(rep.expectation_met).toBe(false);
    expect(rep.reason).toMatch(new RegExp(`^vacuous: window ${WINDOW} never opened`));
  });

  it('explore and exhaustive explore: every run clean but the window never opened: vacuous, --expect clean fails', () => {
    const e = mmrace('explore', NEVER, '--protocol', 'fixed', '--cpus', '2', '--iterations', '4', '--expect', 'clean');
    expect(e.code, e.out + e.err).toBe(1);
    expect(e.out).toContain(`race windows over 4 runs: ${WINDOW}: 0 (never opened)`);
    expect(e.out).toContain(`expected clean: MISSED: vacuous, window ${WINDOW} never opened`);
    const x = mmrace('explore', NEVER, '--strategy', 'exhaustive', '--protocol', 'fixed', '--cpus', '2', '--preemptions', '1', '--expect', 'clean');
    expect(x.code, x.out + x.err).toBe(1);
    expect(x.out).toMatch(new RegExp(`complete: all \\d+ schedules with <= 1 preemptions explored, 0 failures \\(vacuous: window ${WINDOW} never opened\\)`));
  });

  it('a window that opened makes the same expectation pass (swapon-type-range: the 31st swapon, every run)', () => {
    const r = mmrace('run', 'swapon-type-range', '--protocol', 'fixed', '--cpus', '2', '--ops', '2000', '--expect', 'clean', '--no-lock-stat', '--no-latency');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/outcome: clean: [\d.k]+ ops, 0 violations .*\[expected clean: met\]/);
    expect(r.out).toMatch(/race windows: sys_swapon found every type below MAX_SWAPFILES in use: [1-9]/);
  });
});
