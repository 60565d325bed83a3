// Every run ends with its reason (issue 15): a deadlock is reported with its
// wait-for cycle within a second of forming, and every internal or
// liveness outcome says why, in the text and in the JSON.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mmrace, tmp } from './cli_helpers.js';

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('a run ends with its reason', () => {
  it('a deadlock is reported with its wait-for cycle once it has stood 0.5 s, not left to the budget\'s end or the watchdog', () => {
    const j = join(tmp(), 'abba.json');
    const r = mmrace('run', 'test/fixtures/abba.mjs', '--json', j); // the defaults: 5 s run, 15 s watchdog
    expect(r.code, r.out + r.err).toBe(3);
    const cycle = 'CPU 0 (ab) waits for &mm->page_table_lock (mm#2), held by CPU 1 (ba); CPU 1 (ba) waits for &mm->page_table_lock (mm#1), held by CPU 0 (ab)';
    expect(r.out).toContain(`mmrace: wait-for cycle: ${cycle}`);
    // mmrace's detector (C-WAITFOR) found the cycle mid-run, long before the 5 s budget's end or the 15 s watchdog
    expect(r.out).toMatch(/mmrace: deadlock: CPU 0 \(ab\), CPU 1 \(ba\) made no progress for 0\.\d s, each waiting for a lock the next one holds: mmrace ends the run here/);
    expect(r.out).toMatch(/outcome: liveness failure after (\d+(\.\d+)? ms|[0-2]\.\d+ s): deadlock: /);
    expect(r.out).not.toContain('soft lockup');
    const rep = json(j);
    expect(rep.outcome).toBe('liveness');
    expect(rep.reason).toBe(`deadlock: ${cycle}`);
    expect(rep.failure).not.toBeNull();
    expect(rep.per_cpu.map((c: { status: string }) => c.status)).toEqual(['stuck', 'stuck']);
  });

  it('a module that fails to load inside the workers: internal, exit 4, the reason names the CPU and the error', () => {
    const j = join(tmp(), 'w.json');
    const r = mmrace('run', 'test/fixtures/worker_load_fails.mjs', '--duration', '1', '--json', j, '--expect', 'bug');
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/outcome: internal error after .*: CPU \d \(idle\) failed: scenario module .*worker_load_fails\.mjs failed to load: this module cannot load in a worker/);
    const rep = json(j);
    expect(rep.reason).toMatch(/^CPU \d \(idle\) failed: .*this module cannot load in a worker$/);
    expect(rep.failure.kind).toBe('internal');
  });

  it('a module whose top-level await never settles: one line naming it, exit 4 (not 0 with no output)', () => {
    const r = mmrace('run', 'test/fixtures/tla_never.mjs', '--expect', 'bug');
    expect(r.code).toBe(4);
    expect(r.err.trim().split('\n')).toEqual(['mmrace: internal error: scenario module test/fixtures/tla_never.mjs never finished loading (a top-level await that never settles)']);
  });

  it('a CPU that ignores should_stop: liveness, exit 3, the reason says which CPU and that it kept running', () => {
    const j = join(tmp(), 's.json');
    const r = mmrace('run', 'test/fixtures/ignores_stop.mjs', '--duration', '0.2', '--watchdog', '1', '--json', j);
    expect(r.code).toBe(3);
    const rep = json(j);
    expect(rep.reason).toMatch(/^CPU 0 \(deaf\) did not stop within 1\.0 s of being asked and kept running/);
    expect(rep.failure.message).toContain('CPU 0 (deaf) did not stop');
    expect(r.out).toContain(`outcome: liveness failure after`);
    expect(r.out).toContain(rep.reason);
  });

  it('a swapoff that cannot finish (a leaked swap count) gives up with -EINTR when the run ends, as 2.6.18 does on a signal: the sweep names the leak', () => {
    // before, try_to_unuse went round the leaked slot for ever: "CPU 0 (admin) did not stop ... a role loop must end"
    const j = join(tmp(), 'leak.json');
    const r = mmrace('run', 'test/fixtures/swapoff_leak.mjs', '--duration', '0.3', '--watchdog', '3', '--json', j);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toContain('mmrace: invariant I-SWAPCNT: swap_map[0][1] is 1 but 0 ptes and swap cache pages refer to it');
    const rep = json(j);
    expect(rep.outcome).toBe('violation');
    expect(rep.per_cpu.map((c: { status: string }) => c.status)).toEqual(['done', 'done']); // the admin's swapoff returned (the fixture checks it was -EINTR)
  });

  it('a CPU that never reaches a preemption point (controlled): reported with the time its lockup began', () => {
    const out = join(tmp(), 'np.json');
    const r = mmrace('explore', 'test/fixtures/no_preempt.mjs', '--watchdog', '0.3', '--iterations', '1', '--out', out);
    expect(r.code, `signal ${r.signal}\n${r.out.slice(-2000)}\n${r.err.slice(-2000)}`).toBe(3); // a CI run once saw this end by a signal (code null)
    expect(r.out).toMatch(/mmrace: CPU#0 made its last progress \d+\.\d\d s into the run/);
    expect(r.out).toContain('mmrace: CPU 0 holds the token and has reached no preemption point since decision 0');
    const j = join(tmp(), 'np.run.json');
    const rr = mmrace('replay', out, '--module', 'test/fixtures/no_preempt.mjs', '--watchdog', '0.3', '--json', j);
    expect(rr.code).toBe(3);
    expect(json(j).reason).toMatch(/^CPU 0 \(spin\) reached no preemption point for \d+\.\d s from \d+\.\d\d s into the run \(decision 0\)$/);
    expect(rr.out).toContain(`outcome: liveness failure at decision 0: ${json(j).reason}`);
  });

  it('a bench point that failed says why, in the text and the JSON', () => {
    const j = join(tmp(), 'b.json');
    const r = mmrace('bench', 'test/fixtures/abba.mjs', '--cpus', '2', '--duration', '0.2', '--warmup', '0', '--json', j);
    expect(r.code).toBe(3);
    const p = json(j).points[0];
    expect(p.outcome).toBe('liveness');
    expect(p.reason).toMatch(/^deadlock: CPU 0 \(ab\) waits for/);
    expect(r.out).toContain(`liveness: ${p.reason}`);
  });

  it('the crash report of a worker that died names the CPU that died', () => {
    const j = join(tmp(), 'd.json');
    const r = mmrace('run', 'test/fixtures/worker_dies.mjs', '--duration', '1', '--json', j);
    expect(r.code).toBe(4);
    const rep = json(j);
    expect(rep.failure.cpu).toBe(1);
    expect(rep.reason).toMatch(/CPU 1 \(dies\) worker died: worker exited with code: 7/);
  });

  for (const [how, msg] of [
    ['string', /roles\(2\) must return an array of 2 role names, got string/],
    ['throws', /roles\(2\) threw: no roles today/],
    ['short', /roles\(2\) must return 2 role names, one per CPU, got 1/],
    ['number', /roles\(2\)\[0\] must be a non-empty string, got number/],
  ] as const) {
    it(`a scenario whose roles() ${how === 'throws' ? 'throws' : `returns a bad value (${how})`}: one line, exit 2`, () => {
      const r = mmrace('run', 'test/fixtures/bad_roles.mjs', '--ops', '10', { env: { MMRACE_BAD_ROLES: how } });
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(msg);
      expect(r.out).toBe('');
    });
  }
});
