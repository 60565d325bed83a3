// rwlock_t (src/sync/rwlock.ts): the 2.6 x86 spinning reader/writer lock
// that mapping->tree_lock is in E1/E2 (kernel-notes 1.6, 2.1, 7). Its word,
// reader nesting, writer exclusion, lock_stat's -W/-R rows, lockdep's read
// acquisitions, the watchdog's wait-for relation and the controlled
// executor's yield; then on real workers, and in whole runs of E2 and E3.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boot } from './helpers.js';
import { hammer_pool } from './workers/pool.js';
import { ADDRESS_SPACE, GLOBALS, HELD_READ, PERCPU, RWLOCK, SPINLOCK, SWAPG, SWAPPER_SPACE } from '../src/shm/layout.js';
import { BASES, as_base, i32, mm_base, live_machine } from '../src/shm/machine.js';
import { E0, E1, E2, E3, E4 } from '../src/shm/era.js';
import { current, set_current_cpu } from '../src/cpu/current.js';
import { set_preempt_hooks } from '../src/sync/preempt.js';
import {
  RW_WRITER_SHIFT, read_lock, read_trylock, read_unlock, rwlock_is_locked, rwlock_readers, rwlock_writer, write_lock, write_trylock, write_unlock,
} from '../src/sync/rwlock.js';
import { spin_is_locked, spin_lock, spin_unlock } from '../src/sync/spinlock.js';
import { LC_MMAP_SEM, LC_SWAP, LC_TREE } from '../src/sync/lock_class.js';
import { lock_wait_begin, lock_wait_end } from '../src/sync/lock_stat.js';
import { lockdep_cycle } from '../src/sync/lockdep.js';
import { lockdep_cycle_report } from '../src/report/lockdep.js';
import { format_lock_stat, lock_stat_modes, lock_stat_rows } from '../src/report/lock_stat.js';
import { cpu_states, waits_for } from '../src/check/lockup.js';
import { mapping_tree_lock, read_lock_tree, read_unlock_tree, write_lock_tree, write_unlock_tree } from '../src/mm/filemap.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { run_free } from '../src/exec/free_run.js';
import { render_html } from '../src/report/html.js';
import { run_report } from './fixtures/html_reports.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import type { HammerTask, RendezvousTask } from './workers/hammer.js';

const tree = () => mapping_tree_lock(SWAPPER_SPACE);
const as_cpu = (cpu: number) => set_current_cpu(cpu, 1);
const held = (cpu: number) => {
  const pc = BASES.percpu + cpu * PERCPU.stride;
  return Array.from({ length: i32[pc + PERCPU.nheld] }, (_, k) => [i32[pc + PERCPU.held + k], i32[pc + PERCPU.held_cls + k]]);
};

describe('rwlock_t on one word', () => {
  it('fits address_space.tree_lock, which a spinlock uses in the other eras', () => {
    expect(ADDRESS_SPACE.tree_lock).toBe(0);
    expect(ADDRESS_SPACE.nrpages).toBeGreaterThanOrEqual(Math.max(RWLOCK.stride, SPINLOCK.stride));
  });

  it('encoding: readers count in the low bits, the writer is its cpu+1 above them', () => {
    boot({ nr_cpus: 4 });
    const l = tree();
    as_cpu(1); read_lock(l, LC_TREE);
    as_cpu(3); read_lock(l, LC_TREE);
    expect(i32[l + RWLOCK.val]).toBe(2);
    expect([rwlock_readers(l), rwlock_writer(l), rwlock_is_locked(l)]).toEqual([2, -1, true]);
    read_unlock(l); as_cpu(1); read_unlock(l);
    expect(i32[l + RWLOCK.val]).toBe(0);
    as_cpu(2); write_lock(l, LC_TREE);
    expect(i32[l + RWLOCK.val]).toBe(3 << RW_WRITER_SHIFT);
    expect([rwlock_readers(l), rwlock_writer(l)]).toEqual([0, 2]);
    expect(i32[l + RWLOCK.last]).toBe(3);
    write_unlock(l);
    expect([i32[l + RWLOCK.val], rwlock_is_locked(l)]).toEqual([0, false]);
  });

  it('a reader may take it again (recursion) and other readers still get in; a writer does not', () => {
    boot({ nr_cpus: 2 });
    const l = tree();
    as_cpu(0);
    read_lock(l, LC_TREE);
    read_lock(l, LC_TREE);
    expect(rwlock_readers(l)).toBe(2);
    expect(held(0)).toEqual([[l, LC_TREE | HELD_READ], [l, LC_TREE | HELD_READ]]);
    as_cpu(1);
    expect(read_trylock(l, LC_TREE)).toBe(true);
    expect(write_trylock(l, LC_TREE)).toBe(false);
    read_unlock(l);
    as_cpu(0);
    read_unlock(l);
    expect(held(0)).toEqual([[l, LC_TREE | HELD_READ]]);
    expect(write_trylock(l, LC_TREE)).toBe(false); // its own read hold keeps even itself out
    read_unlock(l);
    expect(held(0)).toEqual([]);
    expect(write_trylock(l, LC_TREE)).toBe(true);
  });

  it('a writer excludes readers and writers until it lets go', () => {
    boot({ nr_cpus: 2 });
    const l = tree();
    as_cpu(0);
    write_lock(l, LC_TREE);
    expect(held(0)).toEqual([[l, LC_TREE]]);
    as_cpu(1);
    expect(read_trylock(l, LC_TREE)).toBe(false);
    expect(write_trylock(l, LC_TREE)).toBe(false);
    as_cpu(0);
    write_unlock(l);
    as_cpu(1);
    expect(read_trylock(l, LC_TREE)).toBe(true);
    read_unlock(l);
  });

  it('under the controlled executor a waiter yields (cpu_relax) until the holder lets go, and the wait is a contention of its mode', () => {
    boot({ nr_cpus: 2 });
    const l = tree();
    as_cpu(0); read_lock(l, LC_TREE);
    let yields = 0;
    // the "other CPU" the executor would run: CPU 0 finishes its read on the third yield
    const relax = () => {
      if (++yields !== 3) return;
      const me = current.cpu;
      as_cpu(0); read_unlock(l); as_cpu(me);
    };
    set_preempt_hooks(null, relax, { controlled: true });
    as_cpu(1);
    write_lock(l, LC_TREE);
    set_preempt_hooks(null, null);
    expect(yields).toBe(3);
    expect(rwlock_writer(l)).toBe(1);
    write_unlock(l);
    const row = lock_stat_rows(live_machine()).find((r) => r.class === '&mapping->tree_lock')!;
    expect(row.split!.W).toMatchObject({ acquisitions: 1, contentions: 1 });
    expect(row.split!.R).toMatchObject({ acquisitions: 1, contentions: 0 });
  });
});

describe('lock_stat, lockdep and the watchdog see it as the kernel did', () => {
  it('lock_stat: reads and writes apart as -W and -R rows; only reads: the -R row alone', () => {
    boot({ nr_cpus: 1 });
    const l = tree();
    for (let k = 0; k < 5; k++) { read_lock(l, LC_TREE); read_unlock(l); }
    let rows = lock_stat_rows(live_machine());
    expect(lock_stat_modes(rows.find((r) => r.class === '&mapping->tree_lock')!).map(([n]) => n)).toEqual(['&mapping->tree_lock-R']);
    for (let k = 0; k < 2; k++) { write_lock(l, LC_TREE); write_unlock(l); }
    rows = lock_stat_rows(live_machine());
    const t = rows.find((r) => r.class === '&mapping->tree_lock')!;
    expect([t.acquisitions, t.split!.R.acquisitions, t.split!.W.acquisitions]).toEqual([7, 5, 2]);
    const text = format_lock_stat(rows);
    // the kernel's "%38s-W:" / "%38s-R:": the name and its suffix right-aligned in 40 columns
    expect(text).toMatch(/\n {19}&mapping->tree_lock-W: +0 +0 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +\d +2 /);
    expect(text).toMatch(/\n {19}&mapping->tree_lock-R: +0 +0 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +\d +5 /);
    expect(text).not.toMatch(/&mapping->tree_lock:/);
    // the HTML report's table has the same two rows, not a merged one
    const html = render_html(run_report({ lock_stat: rows }));
    expect(html).toMatch(/<td>&#38;mapping-&#62;tree_lock-W<\/td><td>0<\/td><td>0<\/td>/);
    expect(html).toMatch(/<td>&#38;mapping-&#62;tree_lock-R<\/td>/);
    expect(html).not.toMatch(/<td>&#38;mapping-&#62;tree_lock<\/td>/);
  });

  it('lockdep: a recursive read is legal; a read under a lock that is taken inside the tree lock is a cycle, printed as rlock()', () => {
    boot({ nr_cpus: 1 });
    const l = tree(), swap = BASES.swapg + SWAPG.swap_lock;
    read_lock(l, LC_TREE); read_lock(l, LC_TREE); read_unlock(l); read_unlock(l);
    expect(lockdep_cycle()).toBeNull();
    write_lock(l, LC_TREE); spin_lock(swap, LC_SWAP); spin_unlock(swap); write_unlock(l); // tree_lock -> swap_lock
    expect(lockdep_cycle()).toBeNull();
    spin_lock(swap, LC_SWAP); read_lock(l, LC_TREE); read_unlock(l); spin_unlock(swap); // swap_lock -> tree_lock (read)
    expect(lockdep_cycle()).toBe('&mapping->tree_lock -> swap_lock -> &mapping->tree_lock');
    const rep = lockdep_cycle_report(['cpu0'], '2.6.18', live_machine())!;
    expect(rep.text).toContain('is trying to acquire lock:\n (&mapping->tree_lock (swapper_space)), at:');
    expect(rep.text).toMatch(/\n {2}rlock\(&mapping->tree_lock\);\n/);
  });

  it('wait-for: a writer waits for every reader, a reader only for the writer; the watchdog names them', () => {
    boot({ nr_cpus: 4 });
    const l = tree();
    as_cpu(0); read_lock(l, LC_TREE);
    as_cpu(1); read_lock(l, LC_TREE);
    as_cpu(2); lock_wait_begin(l, LC_TREE, 1); // a writer spinning
    as_cpu(3); lock_wait_begin(l, LC_TREE, 0, true); // a reader behind it would not wait at all: nobody holds it for write
    expect(waits_for(2)).toEqual(['CPU 0 (read)', 'CPU 1 (read)']);
    expect(waits_for(3)).toEqual([]);
    expect(cpu_states(['a', 'b', 'w', 'r'])).toContain('1 lock held: &mapping->tree_lock (swapper_space) (read)');
    expect(cpu_states(['a', 'b', 'w', 'r'])).toContain('waiting for: &mapping->tree_lock (swapper_space), held by CPU 0 (read), CPU 1 (read)');
    as_cpu(2); lock_wait_end(0); // the writer gives up
    as_cpu(1); read_unlock(l);
    as_cpu(0); read_unlock(l); write_lock(l, LC_TREE);
    expect(waits_for(3)).toEqual(['CPU 0']);
    expect(waits_for(2)).toEqual([]);
    expect(cpu_states(['a', 'b', 'w', 'r'])).toMatch(/waiting for: &mapping->tree_lock \(swapper_space\) \(to read\), held by CPU 0$/m);
    as_cpu(3); lock_wait_end(0);
    as_cpu(0); write_unlock(l);
  });

  it('an rwsem reader\'s wait is still a sleeping one for the watchdog (its class is read through the mask)', async () => {
    boot({ nr_cpus: 2 });
    const sem = mm_base(1);
    const { waits_sleeping } = await import('../src/check/lockup.js');
    as_cpu(1); lock_wait_begin(sem, LC_MMAP_SEM, 0, true);
    expect(waits_sleeping(1)).toBe(true);
    lock_wait_end(0);
    down_read(sem, LC_MMAP_SEM); up_read(sem);
  });
});

describe('mapping->tree_lock by era', () => {
  it('E1 and E2 take it as an rwlock (readers together), E0, E3 and E4 as a spinlock', () => {
    for (const era of [E0, E1, E2, E3, E4]) {
      boot({ nr_cpus: 2 }, 0, era);
      const l = mapping_tree_lock(SWAPPER_SPACE);
      expect(l).toBe(as_base(SWAPPER_SPACE) + ADDRESS_SPACE.tree_lock);
      as_cpu(0);
      read_lock_tree(SWAPPER_SPACE);
      const rw = era === E1 || era === E2;
      expect(i32[l]).toBe(1); // the same word: one reader (rwlock), or CPU 0's tag cpu+1 (spinlock)
      expect(held(0)).toEqual([[l, rw ? LC_TREE | HELD_READ : LC_TREE]]);
      if (rw) {
        as_cpu(1); read_lock_tree(SWAPPER_SPACE); // a second reader gets in at once
        expect(rwlock_readers(l)).toBe(2);
        read_unlock_tree(SWAPPER_SPACE); as_cpu(0);
      } else {
        expect(spin_is_locked(l)).toBe(true);
      }
      read_unlock_tree(SWAPPER_SPACE);
      write_lock_tree(SWAPPER_SPACE);
      expect(i32[l]).toBe(rw ? 1 << RW_WRITER_SHIFT : 1);
      write_unlock_tree(SWAPPER_SPACE);
      expect(i32[l]).toBe(0);
      const row = lock_stat_rows(live_machine()).find((r) => r.class.includes('tree_lock') || r.class.includes('xa_lock'))!;
      expect(row.split === null).toBe(!rw);
    }
  });
});

describe('a whole run: the swap cache\'s tree_lock in lock_stat', () => {
  // swap-stress's only switch is 2.6.18's own line; with none it runs in E3 too (workers find it by name)
  const stress = { ...SCENARIOS.find((x) => x.name === 'swap-stress')!, switches: [], eras: [E2, E3] };
  const run = (era: number) => run_free({ scenario: stress, scenarioImport: 'swap-stress', protocol: 'fixed', cpus: 3, ops: 20_000,
    duration_ms: 0, seed: 5, jitter: 0, watchdog_ms: 30_000, era });
  const tree_rows = () => format_lock_stat(lock_stat_rows(live_machine())).split('\n').filter((l) => /tree_lock/.test(l) && /: +\d/.test(l)).map((l) => l.trim().split(':')[0]);

  it('E2 (2.6.18): an rwlock, printed as -W and -R rows', async () => {
    const r = await run(E2);
    expect(r.outcome, r.oops?.text ?? r.invariants.join('\n')).toBe('clean');
    expect(tree_rows()).toEqual(['&mapping->tree_lock-W', '&mapping->tree_lock-R']);
    const t = lock_stat_rows(live_machine()).find((x) => x.class === '&mapping->tree_lock')!;
    expect(t.split!.R.acquisitions).toBeGreaterThan(0);
    expect(t.split!.W.acquisitions).toBeGreaterThan(0);
  });

  it('E3 (4.14): a spinlock, one row under its 4.14 name', async () => {
    const r = await run(E3);
    expect(r.outcome, r.oops?.text ?? r.invariants.join('\n')).toBe('clean');
    expect(tree_rows()).toEqual(['&(&mapping->tree_lock)->rlock']);
    expect(lock_stat_rows(live_machine()).find((x) => x.class === '&(&mapping->tree_lock)->rlock')!.split).toBeNull();
  });
});

describe('under the controlled executor (user scenarios, through the command line: they import dist/)', () => {
  const root = new URL('..', import.meta.url).pathname;
  const mmrace = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(root, 'dist/src/cli.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('a reader spinning for a lock whose holder wants the rwlock for write: a deadlock, the writer waiting for the reader', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mmrace-rw-'));
    const r = mmrace('explore', join(root, 'test/fixtures/rw_abba.mjs'), '--strategy', 'random', '--iterations', '20', '--ops', '5',
      '--stop-at-first', '--out', join(tmp, 'rw.json'));
    expect(r.code, r.err).toBe(3);
    expect(r.out).toMatch(/mmrace: controlled run deadlocked at decision \d+: every CPU left waits/);
    expect(r.out).toContain('1 lock held: &mapping->tree_lock (swapper_space) (read)\n  waiting for: &mm->page_table_lock (mm#1), held by CPU 1');
    expect(r.out).toContain('1 lock held: &mm->page_table_lock (mm#1)\n  waiting for: &mapping->tree_lock (swapper_space), held by CPU 0 (read)');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('nested reads against a spinning writer never deadlock: a waiting writer does not hold up readers', () => {
    for (const strategy of ['random', 'pct']) {
      const r = mmrace('explore', join(root, 'test/fixtures/rw_nested.mjs'), '--cpus', '3', '--strategy', strategy, '--iterations', '30', '--ops', '20');
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.out).toMatch(/no failure in 30 /);
    }
  });
});

const N = 4;
const pool = hammer_pool(N);

describe(`rwlock under ${N} workers`, () => {
  it('writers exclude each other and every reader; readers (some nested) never see a writer', async () => {
    const sab = boot({ nr_cpus: N });
    const lock = tree();
    const c = scratch();
    const rs = await Promise.all(Array.from({ length: N }, (_, cpu) =>
      pool.run({ sab, cpu, kind: 'rwlock', iters: 20_000, lock, pfn: 0, counter: c.counter, owner: c.owner, start: c.start, n: N } satisfies HammerTask) as Promise<{ breaks: number; reads: number }>));
    const breaks = rs.reduce((a, r) => a + r.breaks, 0), reads = rs.reduce((a, r) => a + r.reads, 0);
    expect(breaks).toBe(0);
    expect(i32[c.counter] + reads).toBe(N * 20_000);
    expect(reads).toBeGreaterThan(0);
    expect(i32[c.counter]).toBeGreaterThan(0);
    expect(i32[lock + RWLOCK.val]).toBe(0);
  });

  it(`readers hold it together: all ${N} are inside at once`, async () => {
    const sab = boot({ nr_cpus: N });
    const c = scratch();
    const most = await Promise.all(Array.from({ length: N }, (_, cpu) =>
      pool.run({ sab, cpu, lock: tree(), inside: c.counter, n: N, give_up_ms: 20_000 } satisfies RendezvousTask, { name: 'rendezvous' }) as Promise<number>));
    expect(Math.max(...most)).toBe(N);
    expect(i32[tree() + RWLOCK.val]).toBe(0);
  });
});

/** scratch words: the globals line's padding (as test/locks.test.ts uses them) */
function scratch() {
  const counter = BASES.globals + GLOBALS.stride - 1;
  return { counter, owner: counter - 1, start: counter - 2 };
}
