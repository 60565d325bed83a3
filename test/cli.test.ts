// The command line as a user meets it: bad input is one line and exit 2, a
// deadlock becomes a report and exit 3, a run prints a splat and exits 1.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mmrace } from './cli_helpers.js';

describe('mmrace CLI', () => {
  it('list names the scenario and its switch', () => {
    const r = mmrace('list');
    expect(r.code).toBe(0);
    expect(r.out).toContain('orphaned-migration-entry');
    expect(r.out).toContain('anon-vma-list-head');
  });

  const bad: [string, string[], RegExp][] = [
    ['unknown scenario', ['run', 'no-such-scenario'], /unknown scenario 'no-such-scenario'/],
    ['zero CPUs', ['run', 'orphaned-migration-entry', '--cpus', '0'], /--cpus must be between 1 and 64/],
    ['non-numeric CPUs', ['run', 'orphaned-migration-entry', '--cpus', 'two'], /--cpus must be an integer/],
    ['unknown option', ['run', 'orphaned-migration-entry', '--bogus'], /Unknown option '--bogus'/],
    ['bad protocol', ['run', 'orphaned-migration-entry', '--protocol', 'maybe'], /--protocol must be one of buggy\|fixed/],
    ['both budgets', ['run', 'orphaned-migration-entry', '--ops', '5', '--duration', '1'], /--duration or --ops, not both/],
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['module that throws', ['run', 'test/fixtures/throws.mjs'], /failed to load: this scenario is broken on purpose/],
    ['setup that throws', ['run', 'test/fixtures/setup-throws.mjs', '--ops', '10'], /scenario setup failed: no memory for my setup/],
    ['missing module', ['run', './nowhere.mjs'], /scenario module not found/],
    ['negative CPUs', ['run', 'orphaned-migration-entry', '--cpus', '-1'], /--cpus must be between 1 and 64, got -1\n/],
    ['negative seed', ['run', 'orphaned-migration-entry', '--seed', '-1'], /--seed must be between 0 and \d+, got -1\n/],
    ['negative explore CPUs', ['explore', 'orphaned-migration-entry', '--cpus', '-3'], /--cpus must be between 1 and 64, got -3\n/],
    ['empty --json', ['run', 'orphaned-migration-entry', '--json', ''], /--json needs a value, got ''/],
    ['empty --out=', ['explore', 'orphaned-migration-entry', '--out='], /--out needs a value, got ''/],
    ['hex duration', ['run', 'orphaned-migration-entry', '--duration', '0x10'], /--duration must be a decimal number, got '0x10'/],
    ['exponent watchdog', ['run', 'orphaned-migration-entry', '--watchdog', '1e3'], /--watchdog must be a decimal number, got '1e3'/],
    ['a 10 MB value is not echoed back', ['run', 'orphaned-migration-entry', '--cpus', 'x'.repeat(100_000)], /got 'x{60}\.\.\. \(100000 characters\)'\n/],
  ];
  for (const [what, args, msg] of bad) {
    it(`${what}: one-line error, exit 2`, () => {
      const r = mmrace(...args);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^mmrace: error: /);
      expect(r.err).toMatch(msg);
      expect(r.out).toBe('');
    });
  }

  it('mmrace <command> --help prints that command\'s usage, exit 0', () => {
    for (const cmd of ['run', 'explore', 'replay']) {
      const r = mmrace(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^usage:\n  mmrace ${cmd} `));
      expect(r.out).toContain('exit: 0 ok');
      expect(r.out).not.toMatch(/mmrace (list|bench|demo)\b/);
    }
  });

  it('capture: a free-running BUG becomes a saved schedule that replay runs to the same BUG; a capture that is not exact says where its replay left the free run', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'mmrace-capture-')), 'c.json');
    // a long free run with heavy jitter (thousands of steps) seldom replays exactly: then re-hunted, and the line that says where
    const r = mmrace('capture', 'orphaned-migration-entry', '--ops', '20000', '--jitter', 'heavy', '--seed', '10', '--repair', '2', '--rehunt', '20', '--out', out);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/^free run \(seed \d+\): BUG after .*: BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page$/m);
    expect(r.out).toMatch(/^(replayed: |re-hunted: .*\nnot replayed exactly: the replay that followed the free run furthest left it at CPU \d+ step \d+ of \d+ \(\d+ of \d+ steps in order\), from .*: free to .*, replay to .*$)/m);
    const rp = mmrace('replay', out, '--verify');
    expect(rp.code, rp.out + rp.err).toBe(1);
    expect(rp.out).toContain('replay: followed the schedule exactly');
    expect(rp.out).toContain('BUG_ON(!PageLocked(p)) in migration_entry_to_page');
  }, 60_000);

  it('list aligns its descriptions in one column, however long the names', () => {
    const lines = mmrace('list').out.split('\n');
    const from = lines.indexOf('scenarios:') + 1, to = lines.indexOf('eras:') - 1;
    const body = lines.slice(from, to).filter((l) => l && !l.endsWith(':'));
    const cols = new Set(body.map((l) => /^  \S*\s+/.exec(l)![0].length));
    expect(cols.size).toBe(1);
  });

  // a watchdog under mmrace's own deadlock detector's 0.5 s (BLOCKED_MS), so the kernel's detector speaks first
  it('a spinning deadlock becomes 2.6.18\'s soft-lockup report naming held and awaited locks, exit 3', () => {
    const r = mmrace('run', 'test/fixtures/abba.mjs', '--cpus', '3', '--duration', '30', '--watchdog', '0.2');
    expect(r.code).toBe(3);
    // softlockup.c's words until 2.6.23; how long the CPU was stuck is mmrace's line
    expect(r.out).toMatch(/\nBUG: soft lockup detected on CPU#([01])!\nmmrace: CPU#\1 \((ab|ba):[12]\) stuck for (\d+|0\.\d)s in /);
    expect(r.out).not.toMatch(/watchdog: BUG|blocked for more than/);
    expect(r.out).toMatch(/1 lock held: &mm->page_table_lock \(mm#1\)/);
    expect(r.out).toMatch(/waiting for: &mm->page_table_lock \(mm#2\)/);
  });

  it('a sleeping deadlock (page lock, mmap_sem) becomes a hung-task report, labelled as mmrace\'s in 2.6.18, exit 3', () => {
    const r = mmrace('run', 'test/fixtures/abba_sleep.mjs', '--cpus', '3', '--duration', '30', '--watchdog', '0.2');
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/\nmmrace: hung task \(2\.6\.18 had no hung-task detector; reported as 2\.6\.25 and later kernels report it\):\n/);
    expect(r.out).toMatch(/\nINFO: task (pager|semmer):([12]) blocked for more than 0\.2 seconds\.\n"echo 0 > \/proc\/sys\/kernel\/hung_task_timeout_secs" disables this message\.\n\1 +D CPU#\d pid \2 in .*\n1 lock held by \1\/\2:\n #0:  \(/);
    expect(r.out).toContain(' #0:  (PG_locked (page lock of pfn 1))  [mmrace: a page lock, which the kernel\'s lockdep does not track]');
    // one khungtaskd scan reports every task blocked since the previous one, in task-list (pid) order: both sides of the deadlock
    expect(r.out).toMatch(/INFO: task pager:1 blocked for more than 0\.2 seconds\.[^]*\nINFO: task semmer:2 blocked for more than 0\.2 seconds\./);
    expect(r.out).not.toMatch(/soft lockup/);
    expect(r.out).toMatch(/1 lock held: PG_locked \(page lock of pfn 1\)\n  waiting for: &mm->mmap_sem \(mm#1\)/);
    expect(r.out).toMatch(/1 lock held: &mm->mmap_sem \(mm#1\)\n  waiting for: PG_locked \(page lock of pfn 1\)/);
    // lockdep saw the cycle too, and says that the kernel's would not have
    expect(r.out).toContain('mmrace: PG_locked is no lockdep class in the kernel');
  });

  it('buggy run: splat with the interleaving, JSON record, exit 1; --expect bug turns it to 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmrace-'));
    const json = join(dir, 'run.json');
    const r = mmrace('run', 'orphaned-migration-entry', '--protocol', 'buggy', '--cpus', '2', '--ops', '500000', '--json', json, '--expect', 'bug');
    expect(r.code, r.out + r.err).toBe(0);
    // the orphaned entry is usually caught by migration_entry_to_page's BUG_ON; now and then the old page
    // was freed and reused first, and the model's get_page check in migration_entry_wait fires instead
    expect(r.out).toMatch(/kernel BUG at src\/mm\/(swapops|swap)\.ts:\d+!/);
    // the child's fault (migration_entry_wait) or the next migration's walk (remove_migration_pte) meets the orphan
    expect(r.out).toMatch(/ (migration_entry_wait|remove_migration_pte)\+src\/mm\/migrate\.ts:\d+/);
    expect(r.out).toMatch(/anon_vma_link: anon_vma#\d+ list_add \(HEAD\)/);
    expect(r.out).toMatch(/copy_one_pte: mm#\d+ 0x[0-9a-f]+ copied (read|write) migration entry/);
    expect(r.out).toContain('lock_stat version 0.4');
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    expect(rep.schema).toBe('mmrace.run/2');
    expect(rep.outcome).toBe('bug');
    expect(rep.lockdep.report).toBeNull(); // the orphan is a BUG, not a lock-order problem
    expect(rep.lockdep.edges.length).toBeGreaterThan(0);
    expect(Array.isArray(rep.latency)).toBe(true); // a BUG within a few ops may leave nothing sampled
    expect(rep.expectation_met).toBe(true);
    expect(rep.interleaving.some((e: { event: string }) => e.event === 'copy_one_pte')).toBe(true);
    const plain = mmrace('run', 'orphaned-migration-entry', '--protocol', 'buggy', '--cpus', '2', '--ops', '500000');
    expect(plain.code).toBe(1);
  });

  it('fixed run with --expect clean exits 0 (long enough for its race windows to open: else the clean is vacuous)', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'mmrace-')), 'fixed.json');
    // fork meets a migration entry a few times a second on 3 CPUs with light jitter (test/windows_open.test.ts)
    const r = mmrace('run', 'orphaned-migration-entry', '--protocol', 'fixed', '--cpus', '3', '--jitter', 'light', '--duration', '4', '--expect', 'clean', '--json', json);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/race windows: copy_one_pte copied a migration entry: [1-9]\d*; remove_migration_pte found the child's pte empty while its fork was in flight: [1-9]/);
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    const ops = rep.latency.map((l: { op: string }) => l.op);
    for (const op of ['op:migrate_pages', 'op:dup_mmap', 'do_page_fault']) expect(ops).toContain(op);
    expect(rep.lock_stat.find((x: { class: string }) => x.class === '&mm->mmap_sem').split.R.acquisitions).toBeGreaterThan(0);
    expect(r.out).toMatch(/outcome: clean: .* 0 violations/);
    expect(r.out).not.toContain('possible circular locking dependency');
    expect(r.out).toMatch(/latency \(merged over 3 CPUs; timed at random: operations 1 in 4, page faults 1 in 8\)/);
  });
});
