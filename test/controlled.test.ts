// The controlled executor: one CPU at a time on the same workers and kernel
// code, schedules chosen by seeded strategies. PCT must find the orphaned
// migration entry within a bounded number of runs, every time; a saved
// schedule must replay to the same decisions, splat and per-CPU event logs;
// shrinking must keep the failure with fewer preemptions; the fixed
// protocol must hold under exploration; every run must end (deadlock,
// a CPU that never yields, the step bound); bad schedule files are one-line
// errors; a free-running failure must become a schedule that replays.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlledExecutor, ControlledOptions, ControlledRun, segments_of } from '../src/exec/controlled.js';
import { explore } from '../src/search/explore.js';
import { shrink } from '../src/search/shrink.js';
import { capture } from '../src/search/capture.js';
import { JITTER_HEAVY } from '../src/worker/jitter.js';
import { failure_signature, first_difference, load_schedule, schedule_json, schedule_of } from '../src/search/schedule.js';
import { orphanedMigrationEntry } from '../src/scenarios/orphaned_migration_entry.js';
import { build_report } from '../src/report/json.js';
import { collect_events } from '../src/cpu/events.js';
import { ladder } from '../src/report/ladder.js';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'dist/src/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'mmrace-sched-'));
const S = orphanedMigrationEntry;
const ORPHAN = /BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page/;
const base = { scenario: S, scenarioImport: S.name, scenarioAsTyped: S.name, protocol: 'buggy' as const, cpus: 2, ops: 1, max_steps: 100_000 };

const ex = new ControlledExecutor();
afterAll(async () => { await ex.close(); });

/** a run plus its splat and its events, from the run's Machine as its result keeps it */
async function run_full(o: ControlledOptions): Promise<{ r: ControlledRun; splat: string | null; events: ReturnType<typeof collect_events> }> {
  const r = await ex.run(o);
  const rep = build_report(r.run, { ops: r.run.ops }, null, null, 'test');
  return { r, splat: rep.failure?.splat ?? null, events: collect_events(r.run.machine) };
}

const replay_of = (o: ControlledOptions, r: ControlledRun): ControlledOptions =>
  ({ ...o, strategy: { name: 'replay', segments: segments_of(r.switches), first: r.first_cpu } });

function mmrace(...args: string[]) {
  if (!existsSync(cli)) throw new Error('dist/ is missing: run npx tsc -p . (npm test does)');
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: 'true' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('controlled executor: the orphaned migration entry', () => {
  let found: { options: ControlledOptions; run: ControlledRun } | null = null;

  it('PCT (d=3) finds it within 400 runs, at the same run every time', async () => {
    const o = { base, strategies: ['pct' as const], iterations: 400, seed: 11, depth: 3, k: 400, stop_at_first: true };
    const [a] = await explore(ex, o);
    expect(a.first, `no failure in ${a.iterations} PCT runs`).not.toBeNull();
    expect(a.first!.run.run.oops?.text).toMatch(ORPHAN);
    const [b] = await explore(ex, o);
    expect(b.first_failure_iteration).toBe(a.first_failure_iteration);
    expect(b.first!.run.event_log).toEqual(a.first!.run.event_log);
    found = { options: a.first!.options, run: a.first!.run };
  });

  it('replays exactly: same decisions, same splat, same per-CPU event logs', async () => {
    expect(found).not.toBeNull();
    const o = replay_of(found!.options, found!.run);
    const x = await run_full(o);
    const y = await run_full(o);
    for (const z of [x, y]) {
      expect(z.r.diverged).toBe(0);
      expect(z.r.steps).toBe(found!.run.steps);
      expect(first_difference(schedule_of(o, found!.run, { name: 'pct' }, '', null), z.r.switches)).toBe(-1);
      expect(z.r.event_log).toEqual(found!.run.event_log);
      expect(z.r.run.oops?.text).toBe(found!.run.run.oops?.text);
    }
    expect(x.splat).toMatch(ORPHAN);
    expect(x.splat).toMatch(/page:pfn \d+ count:/);
    expect(x.splat).toBe(y.splat);
  });

  it('a saved schedule file reloads and replays to the recorded splat', async () => {
    const o = replay_of(found!.options, found!.run);
    const first = await run_full(o);
    const file = join(tmp, 'pct.schedule.json');
    writeFileSync(file, schedule_json(schedule_of(o, first.r, { name: 'pct', seed: o.seed }, 'mmrace test', first.splat)));
    const loaded = await load_schedule(file);
    expect(loaded.file.schema).toBe('mmrace.schedule/1');
    const again = await run_full(loaded.options);
    expect(first_difference(loaded.file, again.r.switches)).toBe(-1);
    expect(again.splat).toBe(loaded.file.expect!.splat);
  });

  it('shrinking keeps the failure with fewer preemptions and draws the ladder', async () => {
    // the migrator now moves a batch of pages under the sibling's mmap_sem: a random walk seldom lines the
    // race up within a few hundred runs, so shrink what PCT found (it preempts more than the race needs)
    expect(found).not.toBeNull();
    const start = found!.run;
    expect(start.preemptions).toBeGreaterThan(3);
    const res = await shrink(ex, replay_of(found!.options, start));
    expect(res.signature).toMatch(ORPHAN);
    expect(res.shrunk.preemptions).toBeLessThan(start.preemptions);
    expect(res.shrunk.preemptions).toBeLessThanOrEqual(3);
    expect(res.budget_hit).toBe(false);
    const fin = await run_full({ ...res.options, sites: true });
    expect(failure_signature(fin.r.run)).toBe(res.signature);
    expect(fin.r.preemptions).toBe(res.shrunk.preemptions);
    const text = ladder(fin.r, fin.events);
    expect(text).toMatch(/PREEMPTED at pp \d+/);
    expect(text).toMatch(/copy_one_pte: .* copied read migration/);
    expect(text).toMatch(/in \w+ < \w+/); // the kernel path where the token left
  });
});

describe('controlled executor: the fixed protocol and liveness', () => {
  it('the fixed protocol holds under random-walk and PCT exploration', async () => {
    const reps = await explore(ex, { base: { ...base, protocol: 'fixed', ops: 2 }, strategies: ['random', 'pct'], iterations: 150, seed: 3, depth: 3, k: null });
    for (const r of reps) {
      expect(r.failures, JSON.stringify(r.kinds)).toBe(0);
      expect(r.iterations).toBe(150);
      expect(r.hand_offs).toBeGreaterThan(r.iterations); // the CPUs really were interleaved
    }
  });

  // user scenarios import the kernel from dist/, so they run through the command line (all dist/)
  it('a deadlock under a schedule is a liveness report naming held and awaited locks, exit 3', () => {
    const r = mmrace('explore', join(root, 'test/fixtures/abba_locks.mjs'), '--strategy', 'random', '--iterations', '20', '--ops', '5',
      '--stop-at-first', '--out', join(tmp, 'abba.json'));
    expect(r.code, r.err).toBe(3);
    expect(r.out).toMatch(/random walk: \d+ x liveness: deadlock/);
    expect(r.out).toMatch(/mmrace: controlled run deadlocked at decision \d+: every CPU left waits/);
    // then the CPU as 2.6.18's detector would put it: spinning on a page_table_lock
    expect(r.out).toMatch(/every CPU left waits and none can go on\nBUG: soft lockup detected on CPU#(\d)!\nmmrace: CPU#\1 \((ab|ba):\d\) stuck for 10s in /);
    expect(r.out).toMatch(/1 lock held: &mm->page_table_lock \(mm#1\)/);
    expect(r.out).toMatch(/waiting for: &mm->page_table_lock \(mm#2\)/);
    const again = mmrace('replay', join(tmp, 'abba.json'), '--module', join(root, 'test/fixtures/abba_locks.mjs'), '--verify');
    expect(again.code, again.err).toBe(3);
    expect(again.out).toMatch(/identical decisions, splat and per-CPU event logs/);
  });

  it('a CPU that never reaches a preemption point is stopped by the watchdog, exit 3', () => {
    // abba.mjs busy-waits on a flag with no lock and no cond_resched: only the wall-clock watchdog can end it
    const r = mmrace('explore', join(root, 'test/fixtures/abba.mjs'), '--strategy', 'random', '--iterations', '1', '--watchdog', '1');
    expect(r.code, r.err).toBe(3);
    expect(r.out).toMatch(/BUG: soft lockup detected on CPU#(\d)!\nmmrace: CPU#\1 \((ab|ba|idle):\d\) stuck for 1s in /);
    expect(r.out).toMatch(/has reached no preemption point since decision \d+/);
  });

  it('the step bound ends an unbounded run: the CPUs are asked to stop', async () => {
    const r = await ex.run({ ...base, protocol: 'fixed', ops: 0, max_steps: 3000, seed: 2, strategy: { name: 'pct', seed: 2, depth: 3, k: 3000 } });
    expect(r.run.outcome).toBe('clean');
    expect(r.steps).toBeGreaterThanOrEqual(3000);
    expect(r.steps).toBeLessThan(3000 + 10_000);
  });
});

describe('controlled executor: the command line', () => {
  it('explore saves the first failing schedule; replay --verify and shrink use it', () => {
    const file = join(tmp, 'cli.schedule.json');
    const e = mmrace('explore', 'orphaned-migration-entry', '--strategy', 'random,pct', '--iterations', '200', '--k', '400', '--seed', '2', '--out', file);
    expect(e.code, e.err).toBe(1);
    expect(e.out).toMatch(/random walk +200 +\d+ +\d+\.\d%/);
    expect(e.out).toMatch(/pct d=3 k=400 +200/);
    expect(e.out).toMatch(ORPHAN);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.schema).toBe('mmrace.schedule/1');
    expect(saved.decisions.length).toBeGreaterThan(0);
    const r = mmrace('replay', file, '--verify');
    expect(r.code, r.err).toBe(1);
    expect(r.out).toMatch(/followed the schedule exactly/);
    expect(r.out).toMatch(/the recorded failure, with the recorded splat, word for word/);
    expect(r.out).toMatch(/--verify: replayed twice: identical decisions, splat and per-CPU event logs/);
    const s = mmrace('shrink', file, '--out', join(tmp, 'cli.min.json'));
    expect(s.code, s.err).toBe(0);
    expect(s.out).toMatch(/shrunk .*: \d+ -> \d+ preemptions/);
    expect(s.out).toMatch(/CPU 0 migrator +│ CPU 1 forker/);
    expect(mmrace('replay', join(tmp, 'cli.min.json')).code).toBe(1);
    // traced, the replay is the same run: the same splat word for word, and deterministic twice over
    const trace = join(tmp, 'replay.trace.json');
    const t = mmrace('replay', file, '--verify', '--trace', trace);
    expect(t.code, t.err).toBe(1);
    expect(t.out).toMatch(/the recorded failure, with the recorded splat, word for word/);
    expect(t.out).toMatch(/--verify: replayed twice: identical decisions, splat and per-CPU event logs/);
    const ev = JSON.parse(readFileSync(trace, 'utf8')).traceEvents as { ph: string; cat?: string; name: string }[];
    expect(ev.filter((x) => x.cat === 'bug')).toHaveLength(1);
    expect(ev.some((x) => x.cat === 'race' && x.name === 'copy_one_pte')).toBe(true);
  });

  const good = () => JSON.parse(readFileSync(join(tmp, 'cli.schedule.json'), 'utf8'));
  const bad: [string, (o: Record<string, unknown>) => unknown, RegExp][] = [
    ['not JSON', () => '{"schema": ', /not JSON/],
    ['wrong schema', (o) => ({ ...o, schema: 'mmrace.run/1' }), /schema is "mmrace.run\/1", expected "mmrace.schedule\/1"/],
    ['unknown scenario', (o) => ({ ...o, scenario: 'no-such-scenario' }), /unknown scenario 'no-such-scenario'/],
    ['roles of another CPU count', (o) => ({ ...o, cpus: 3 }), /"roles" must name the role of each of the 3 CPUs/],
    ['mismatched roles', (o) => ({ ...o, roles: ['forker', 'migrator'] }), /recorded roles forker,migrator do not match/],
    ['protocol switches missing', (o) => ({ ...o, switches: [] }), /turns on anon-vma-list-head, which the schedule's switches lack/],
    ['decision from a CPU without the token', (o) => ({ ...o, decisions: [[1, 1 - (o.first_cpu as number), 1, 0, o.first_cpu, 'preempt']] }), /holds it/],
    ['decision out of range', (o) => ({ ...o, decisions: [[1, o.first_cpu, 1, 0, 7, 'preempt']] }), /cpu and to must be CPUs 0\.\.1/],
    ['unknown why', (o) => ({ ...o, decisions: [[1, o.first_cpu, 1, 0, 1 - (o.first_cpu as number), 'bored']] }), /why must be one of preempt\|block\|exit/],
  ];
  for (const [what, mutate, msg] of bad) {
    it(`malformed schedule (${what}): one-line error, exit 2`, () => {
      const file = join(tmp, 'bad.json');
      const v = mutate(good());
      writeFileSync(file, typeof v === 'string' ? v : JSON.stringify(v));
      const r = mmrace('replay', file);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^mmrace: error: /);
      expect(r.err).toMatch(msg);
      expect(r.out).toBe('');
    });
  }

  it('missing schedule file and bad explore options are one-line errors, exit 2', () => {
    for (const args of [['replay', join(tmp, 'nowhere.json')], ['shrink'], ['explore', 'orphaned-migration-entry', '--strategy', 'dfs'],
      ['explore', 'orphaned-migration-entry', '--depth', '0']]) {
      const r = mmrace(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('controlled executor: from a free-running failure', () => {
  it('capture turns a free-running BUG into a schedule that replays in controlled mode', async () => {
    // free-running is up to the hardware: up to 10 runs of 20k ops with heavy jitter (most fail within 2)
    let freeSplat = '';
    const res = await capture(ex, {
      free: { scenario: S, scenarioImport: S.name, protocol: 'buggy', cpus: 2, duration_ms: 0, ops: 20_000, seed: 1, jitter: JITTER_HEAVY },
      runs: 10, rehunt: 100, max_steps: 100_000,
      on_free_failure: (r) => { freeSplat = build_report(r, { ops: 20_000 }, null, null, 'test').failure?.splat ?? ''; },
    });
    expect(freeSplat, 'no free-running failure in 10 runs of 20k ops').toMatch(ORPHAN);
    expect('method' in res && res.method, 'note' in res ? res.note : '').toBeTruthy();
    if (!('controlled' in res) || !res.controlled || !res.options) throw new Error('no controlled run');
    expect(failure_signature(res.controlled.run)).toBe(failure_signature(res.free));
    const again = await ex.run(replay_of(res.options, res.controlled));
    expect(again.diverged).toBe(0);
    expect(again.event_log).toEqual(res.controlled.event_log);
    expect(again.run.oops?.text).toBe(res.controlled.run.oops?.text);
  });
});
