// lockdep: dependencies are learnt from real acquisitions, a cycle is
// reported once with the kernel's layout, trylocks teach nothing, page-lock
// waits count; end to end, a user path that inverts page lock and mmap_sem
// against the fault path gets the report and exit 1.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boot } from './helpers.js';
import { BASES, av_base, i32, mm_base, page_base, live_machine } from '../src/shm/machine.js';
import { ANON_VMA, HELD_MAX, LD_LOCK, LD_WAIT, MM, PAGE } from '../src/shm/layout.js';
import { spin_lock, spin_trylock, spin_unlock } from '../src/sync/spinlock.js';
import { lock_page, unlock_page, wait_on_page_locked } from '../src/sync/page_lock.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { LC_ANON_VMA, LC_MMAP_SEM, LC_PAGE_LOCK, LC_PAGE_TABLE_LOCK, LC_PTL } from '../src/sync/lock_class.js';
import { dep_index, lockdep_booting, lockdep_found } from '../src/sync/lockdep.js';
import { held_count } from '../src/sync/lock_stat.js';
import { lockdep_cycle_report, lockdep_disabled, lockdep_edges } from '../src/report/lockdep.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { run } from '../src/api.js';

const dep = (from: number, to: number) => i32[BASES.lockdep_dep + dep_index(from, to)];

describe('lockdep (one CPU)', () => {
  it('learns from -> to from a nested acquisition, and nothing from a lone one', () => {
    boot();
    const av = av_base(1) + ANON_VMA.lock, ptl = page_base(alloc_page()) + PAGE.ptl;
    spin_lock(ptl, LC_PTL); spin_unlock(ptl);
    expect(dep(LC_PTL, LC_ANON_VMA) + dep(LC_ANON_VMA, LC_PTL)).toBe(0);
    spin_lock(av, LC_ANON_VMA); spin_lock(ptl, LC_PTL); spin_unlock(ptl); spin_unlock(av);
    expect(dep(LC_ANON_VMA, LC_PTL)).toBe(LD_LOCK);
    expect(dep(LC_PTL, LC_ANON_VMA)).toBe(0);
    expect(lockdep_found()).toBe(false);
    const e = lockdep_edges(['solo'], live_machine());
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ from: '&anon_vma->lock', to: '&page->ptl', kind: 'lock', cpu: 0 });
    expect(e[0].stack[0]).toMatch(/lockdep\.test\.ts/); // where it was first seen, lock primitives left out
  });

  it('the reverse order closes a cycle: reported once, in the kernel layout, even though nothing deadlocked', () => {
    boot();
    const av = av_base(1) + ANON_VMA.lock, ptl = page_base(alloc_page()) + PAGE.ptl;
    spin_lock(av, LC_ANON_VMA); spin_lock(ptl, LC_PTL); spin_unlock(ptl); spin_unlock(av);
    spin_lock(ptl, LC_PTL); spin_lock(av, LC_ANON_VMA); spin_unlock(av); spin_unlock(ptl);
    expect(lockdep_found()).toBe(true);
    const r = lockdep_cycle_report(['solo'], 'test', live_machine())!;
    expect(r.cycle).toEqual(['&anon_vma->lock', '&page->ptl', '&anon_vma->lock']);
    for (const line of ['WARNING: possible circular locking dependency detected', 'solo/0 is trying to acquire lock:',
      'but task is already holding lock:', 'the existing dependency chain (in reverse order) is:', '-> #1 (&page->ptl):',
      '-> #0 (&anon_vma->lock):', ' Possible unsafe locking scenario:', ' *** DEADLOCK ***', '1 lock held by solo/0:']) {
      expect(r.text).toContain(line);
    }
    expect(r.text).not.toContain('mmrace:'); // a cycle of real lockdep classes is the kernel's own report
  });

  it('a longer cycle is found through the graph (A -> B, B -> C, then C -> A)', () => {
    boot();
    const a = mm_base(1) + MM.page_table_lock, b = av_base(1) + ANON_VMA.lock, c = page_base(alloc_page()) + PAGE.ptl;
    const nest = (x: number, cx: number, y: number, cy: number) => { spin_lock(x, cx); spin_lock(y, cy); spin_unlock(y); spin_unlock(x); };
    nest(a, LC_PAGE_TABLE_LOCK, b, LC_ANON_VMA);
    nest(b, LC_ANON_VMA, c, LC_PTL);
    expect(lockdep_found()).toBe(false);
    nest(c, LC_PTL, a, LC_PAGE_TABLE_LOCK);
    expect(lockdep_found()).toBe(true);
    const r = lockdep_cycle_report(['solo'], 'test', live_machine())!;
    expect(r.cycle).toEqual(['&mm->page_table_lock', '&anon_vma->lock', '&page->ptl', '&mm->page_table_lock']);
    // print_circular_lock_scenario: source (being taken) --> parent (the chain's last step) --> target (held)
    expect(r.text).toContain('Chain exists of:\n  &mm->page_table_lock --> &anon_vma->lock --> &page->ptl\n');
    expect(r.text).toMatch(/ {2}lock\(&page->ptl\);\n {31}lock\(&anon_vma->lock\);\n {31}lock\(&page->ptl\);\n {2}lock\(&mm->page_table_lock\);/);
  });

  it('more locks than the held stack records: lockdep turns itself off and the count still comes back to zero', () => {
    boot();
    const locks = Array.from({ length: HELD_MAX + 2 }, () => page_base(alloc_page()) + PAGE.ptl);
    locks.forEach((l) => spin_lock(l, LC_PTL));
    expect(held_count()).toBe(HELD_MAX + 2);
    // release a recorded one first, then the rest in an odd order: nothing is left behind
    spin_unlock(locks[2]);
    for (const l of [locks[HELD_MAX + 1], locks[0], locks[HELD_MAX], ...locks.slice(3, HELD_MAX), locks[1]]) spin_unlock(l);
    expect(held_count()).toBe(0);
    const off = lockdep_disabled(['solo'], live_machine());
    expect(off).toContain('BUG: MAX_LOCK_DEPTH too low!');
    expect(off).toContain('turning off the locking correctness validator.');
    // and it learns nothing more
    const av = av_base(1) + ANON_VMA.lock, ptl = locks[0];
    spin_lock(av, LC_ANON_VMA); spin_lock(ptl, LC_PTL); spin_unlock(ptl); spin_unlock(av);
    expect(dep(LC_ANON_VMA, LC_PTL)).toBe(0);
  });

  it('what setup teaches is credited to setup, not to CPU 0', () => {
    boot();
    const av = av_base(1) + ANON_VMA.lock, ptl = page_base(alloc_page()) + PAGE.ptl;
    lockdep_booting(true);
    spin_lock(av, LC_ANON_VMA); spin_lock(ptl, LC_PTL); spin_unlock(ptl); spin_unlock(av);
    lockdep_booting(false);
    expect(lockdep_edges(['migrator'], live_machine())[0]).toMatchObject({ cpu: -1, role: 'setup' });
  });

  it('a trylock adds no dependency (it cannot wait), but what it took orders later acquisitions', () => {
    boot();
    const av = av_base(1) + ANON_VMA.lock, ptl = page_base(alloc_page()) + PAGE.ptl, pt = mm_base(1) + MM.page_table_lock;
    spin_lock(av, LC_ANON_VMA);
    expect(spin_trylock(ptl, LC_PTL)).toBe(true);
    spin_lock(pt, LC_PAGE_TABLE_LOCK);
    spin_unlock(pt); spin_unlock(ptl); spin_unlock(av);
    expect(dep(LC_ANON_VMA, LC_PTL)).toBe(0);
    expect(dep(LC_PTL, LC_PAGE_TABLE_LOCK)).toBe(LD_LOCK);
    expect(dep(LC_ANON_VMA, LC_PAGE_TABLE_LOCK)).toBe(LD_LOCK);
  });

  it('waiting for a page lock under mmap_sem is a dependency, then lock_page before mmap_sem closes the cycle', () => {
    boot();
    const sem = mm_base(1) + MM.mmap_sem, pfn = alloc_page();
    down_read(sem, LC_MMAP_SEM);
    wait_on_page_locked(pfn); // the page is not even locked: a wait that might sleep still orders the locks
    up_read(sem);
    expect(dep(LC_MMAP_SEM, LC_PAGE_LOCK)).toBe(LD_WAIT);
    lock_page(pfn); down_read(sem, LC_MMAP_SEM); up_read(sem); unlock_page(pfn);
    expect(lockdep_found()).toBe(true);
    const text = lockdep_cycle_report(['solo'], 'test', live_machine())!.text;
    expect(text).toContain('-> #1 (PG_locked): (waited for)');
    // the kernel's lockdep never saw page locks: the report says whose it is
    expect(text).toMatch(/^-{54}\nmmrace: PG_locked is no lockdep class in the kernel: .* the kernel would not print this report/m);
  });

  it('nesting within one class (two PTLs, as copy_pte_range) is not a cycle', () => {
    boot();
    const p1 = page_base(alloc_page()) + PAGE.ptl, p2 = page_base(alloc_page()) + PAGE.ptl;
    spin_lock(p1, LC_PTL); spin_lock(p2, LC_PTL); spin_unlock(p2); spin_unlock(p1);
    spin_lock(p2, LC_PTL); spin_lock(p1, LC_PTL); spin_unlock(p1); spin_unlock(p2);
    expect(lockdep_found()).toBe(false);
    expect(dep(LC_PTL, LC_PTL)).toBe(0);
  });
});

describe('lockdep end to end', () => {
  const root = new URL('..', import.meta.url).pathname;
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/src/cli.js'), ...args],
    { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: 'true' } });

  it('examples/page-lock-inversion.mjs: the report on stdout, the graph in JSON, exit 1', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'mmrace-lockdep-')), 'run.json');
    // the fault path's side of the cycle needs a fault on a migration entry: almost always within the
    // budget; a loaded CI machine gets three tries
    let r = cli('run', 'examples/page-lock-inversion.mjs', '--cpus', '3', '--ops', '100000', '--json', json);
    for (let k = 2; k <= 3 && r.status === 0; k++) r = cli('run', 'examples/page-lock-inversion.mjs', '--cpus', '3', '--ops', '100000', '--seed', String(k), '--json', json);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('outcome: lockdep: possible circular locking dependency');
    expect(r.stdout).toContain('WARNING: possible circular locking dependency detected');
    expect(r.stdout).toMatch(/lock\(PG_locked\);[\s\S]*lock\(&mm->mmap_sem\);/);
    expect(r.stdout).toContain('  rlock(&mm->mmap_sem);'); // the fault path holds it for read
    expect(r.stdout).toContain('unuse_mm_inverted+examples/page-lock-inversion.mjs');
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    expect(rep.schema).toBe('mmrace.run/2');
    expect(rep.outcome).toBe('violation');
    expect(rep.lockdep.report.cycle).toContain('PG_locked');
    expect(rep.lockdep.disabled).toBeNull();
    expect(rep.lockdep.edges.some((e: { from: string; to: string; kind: string }) => e.from === '&mm->mmap_sem' && e.to === 'PG_locked')).toBe(true);
  });

  it('under the controlled executor a cycle is a failure like any other: found, replayed word for word, shrunk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmrace-lockdep-'));
    const file = join(dir, 'ld.json');
    const e = cli('explore', 'examples/page-lock-inversion.mjs', '--cpus', '3', '--iterations', '200', '--ops', '20', '--stop-at-first', '--out', file);
    expect(e.status, e.stderr).toBe(1);
    // which order is learnt first decides where the cycle is read from: the fault's or the migrator's
    // mmap_sem -> PG_locked, or the inverter's PG_locked -> mmap_sem
    const cycle = /1 x lockdep: (&mm->mmap_sem -> PG_locked -> &mm->mmap_sem|PG_locked -> &mm->mmap_sem -> PG_locked)/.exec(e.stdout)?.[1];
    expect(cycle, e.stdout).toBeDefined();
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.expect.message).toBe(`possible circular locking dependency: ${cycle}`);
    expect(saved.expect.splat).toContain('WARNING: possible circular locking dependency detected');
    const r = cli('replay', file, '--module', 'examples/page-lock-inversion.mjs', '--verify');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`outcome: lockdep: possible circular locking dependency (${cycle})`);
    expect(r.stdout).toContain('the recorded failure, with the recorded splat, word for word');
    expect(r.stdout).toContain('identical decisions, splat and per-CPU event logs');
    const s = cli('shrink', file, '--module', 'examples/page-lock-inversion.mjs', '--out', join(dir, 'ld.min.json'));
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain(`still fails: lockdep: ${cycle}`);
  });

  // through the API, in this process: the same runs and the same JSON report as `mmrace run --json`, without
  // a process start per run (most of each run's time on a slow host); the CLI's own path is tested above
  it('no built-in scenario closes a lock-order cycle, in either protocol (but exchange-abba\'s buggy deadlock)', async () => {
    const list = SCENARIOS.map((s) => s.name);
    expect(list.length).toBeGreaterThanOrEqual(7);
    for (const s of list) {
      for (const protocol of ['fixed', 'buggy'] as const) {
        let rep = await run(s, { protocol, cpus: 3, ops: 20000 });
        // a free-running race: the ABBA may miss one run's 20000 operations on a loaded host (seen once in CI); up to 3 runs
        for (let k = 1; k < 3 && s === 'exchange-abba' && protocol === 'buggy' && !rep.lockdep.report; k++) rep = await run(s, { protocol, cpus: 3, ops: 20000, seed: 1 + k });
        // seed 002: exchange-abba's buggy protocol is a deadlock of two page locks, reported at the wait that closes it
        if (s === 'exchange-abba' && protocol === 'buggy') expect(rep.lockdep.report?.cycle, `${s} ${protocol}`).toEqual(['PG_locked', 'PG_locked']);
        // exchange-writeback-busy's buggy exchanger keeps the page lock it leaked and goes on to take mmap_sem: a real inversion
        else if (s === 'exchange-writeback-busy' && protocol === 'buggy') { if (rep.lockdep.report) expect(rep.lockdep.report.cycle, `${s} ${protocol}`).toContain('PG_locked'); }
        else expect(rep.lockdep.report, `${s} ${protocol}`).toBeNull();
        expect(rep.lockdep.disabled, `${s} ${protocol}`).toBeNull();
        expect(rep.lockdep.edges.length, `${s} ${protocol}`).toBeGreaterThan(3);
      }
    }
  });
});
