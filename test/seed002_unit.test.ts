// Seed 002 (exchange pages, E4), the protocol's pieces: on one CPU, each
// switch's line with the interleaving placed by a preemption hook exactly
// where its window is (buggy and fixed), the exchange's effect on data,
// mapping and cache; and on several threads, the refcount freeze against
// E4's lockless find_get_page.
import { afterAll, describe, expect, it } from 'vitest';
import { i32, page_base } from '../src/shm/machine.js';
import { DEFAULT_SIZES, PAGE, PAGE_SIZE, PG_dirty, PG_swapbacked, PG_writeback, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { E2, E4 } from '../src/shm/era.js';
import { SW_EXCHANGE_ASYNC_MODE_MASK, SW_EXCHANGE_BUSY_UNLOCK, SW_EXCHANGE_FREEZE_NO_UNWIND, SW_EXCHANGE_WRITEBACK_BUG_ON } from '../src/shm/switches.js';
import { KernelBug, OOPS_BUG, OOPS_INVARIANT, read_oops } from '../src/check/bug.js';
import { check_invariants } from '../src/check/invariants.js';
import { ACCESS_OK, ACCESS_SIGBUS, mmu, user_access } from '../src/cpu/mmu.js';
import { PF_MEMALLOC, current } from '../src/cpu/current.js';
import { PP_LOCK_ACQUIRE, PP_RESCHED, set_preempt_hooks } from '../src/sync/preempt.js';
import { blk_drain } from '../src/cpu/io.js';
import { PageLocked, lock_page, trylock_page, unlock_page } from '../src/sync/page_lock.js';
import { createMachineBuffer } from '../src/shm/machine.js';
import { mem_init } from '../src/mm/init.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { PROT_READ, PROT_WRITE, TestClearPageFlag, page_count, page_flags, page_mapping } from '../src/mm/mm_types.js';
import { writepage } from '../src/mm/page_io.js';
import { MAP_SHARED, do_mmap_pgoff } from '../src/mm/mmap.js';
import { FIRST_FILE, MIGRATE_PAGE, add_to_page_cache, mapping_set_migratepage, file_read, file_write, find_get_page, radix_tree_lookup, radix_tree_slot } from '../src/mm/filemap.js';
import { get_page, get_page_unless_zero, isolate_lru_page, put_page } from '../src/mm/swap.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { exchange_pages } from '../src/mm/exchange.js';
import { do_truncate } from '../src/mm/truncate.js';
import { MIGRATE_ASYNC, MIGRATE_MT, MIGRATE_SYNC, MIGRATE_SYNC_LIGHT } from '../src/mm/migrate_mode.js';
import { page_ref_count, page_ref_freeze, page_ref_unfreeze } from '../src/mm/page_ref.js';
import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import type { FreezeTask } from './workers/freeze.js';
import { boot, parent } from './helpers.js';

const FILE_MAP = 0x80000;

/** an E4 machine: a parent with n anon pages, a file of n pages written (cached, dirty, with buffers) and mapped MAP_SHARED by the same mm */
function world(n: number, bugs = 0) {
  boot({ nr_files: 2 }, bugs, E4);
  const par = parent(n);
  for (let p = 0; p < n; p++) for (let w = 0; w < WORDS_PER_PAGE; w++) file_write(FIRST_FILE, p, w, 0x1000 * (p + 1) + w);
  expect(do_mmap_pgoff(par.mm, FILE_MAP, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FIRST_FILE, 0)).toBeGreaterThan(0);
  for (let p = 0; p < n; p++) { user_access(par.mm, FILE_MAP + p * PAGE_SIZE, 0, false, 0); expect(mmu.status).toBe(ACCESS_OK); }
  const a = par.pfn(0), f = radix_tree_lookup(FIRST_FILE, 1);
  expect(isolate_lru_page(a)).toBe(0);
  expect(isolate_lru_page(f)).toBe(0);
  return { ...par, a, f, pairs: new Int32Array([a, f]) };
}

/** the failure the call ends in (the oops it records), or null */
function oops_of(fn: () => unknown): { kind: number; text: string } | null {
  try { fn(); } catch (e) { if (!(e instanceof KernelBug)) throw e; const o = read_oops()!; return { kind: o.kind, text: o.text }; }
  return null;
}

describe('exchange_pages (E4, one CPU)', () => {
  it('anon <-> file: data, mapping, index, PG_swapbacked, buffers and the cache slot swap; every user sees its own data; invariants hold', () => {
    const { mm, sh, pfn, a, f, pairs } = world(2);
    expect(page_flags(a) & PG_swapbacked).not.toBe(0);
    expect(exchange_pages(pairs, 1, MIGRATE_SYNC | MIGRATE_MT)).toBe(0);
    expect(radix_tree_lookup(FIRST_FILE, 1)).toBe(a);
    expect(page_mapping(a)).toBe(FIRST_FILE);
    expect(pfn(0)).toBe(f);
    expect(page_flags(a) & PG_swapbacked).toBe(0);
    expect(page_flags(f) & PG_swapbacked).not.toBe(0);
    expect(sh.check(0, 0)).toBe(true);
    expect(file_read(FIRST_FILE, 1, 3)).toBe(0x2003);
    expect(user_access(mm, FILE_MAP + PAGE_SIZE, 5, false, 0)).toBe(0x2005);
    expect(find_get_page(FIRST_FILE, 1)).toBe(a); // the lockless lookup finds the new page
    put_page(a);
    expect(check_invariants()).toEqual([]);
  });

  for (const bug of [false, true]) {
    it(`a reference on from between the unlocked test and the freezes: ${bug ? 'buggy: to stays frozen, C-FREEZE at xa_unlock' : 'fixed: to unfrozen, -EAGAIN, the pair put back'}`, () => {
      const { a, f, pairs } = world(2, bug ? SW_EXCHANGE_FREEZE_NO_UNWIND : 0);
      // the migration-entry waiter's reference (get_page_unless_zero) at exchange_page_move_mapping's [PP], once
      let armed = true;
      set_preempt_hooks((kind) => { if (armed && kind === PP_RESCHED && page_count(a) === 1 && page_count(f) === 3 && radix_tree_lookup(FIRST_FILE, 1) === f) { armed = false; get_page(a); } }, null);
      let failed = -1;
      const o = oops_of(() => { failed = exchange_pages(pairs, 1, MIGRATE_SYNC); });
      set_preempt_hooks(null, null);
      expect(armed).toBe(false);
      if (bug) {
        expect(o?.kind).toBe(OOPS_INVARIANT);
        expect(o?.text).toMatch(new RegExp(`C-FREEZE: pfn ${f} left frozen \\(refcount 0\\)`));
        expect(page_ref_count(f)).toBe(0);
      } else {
        expect(o).toBeNull();
        expect(failed).toBe(1); // 4 tries, each fails at the from freeze while the reference is held
        expect(page_count(f)).toBe(3); // unfrozen and put back: the cache's, the buffers' and its pte's references
        put_page(a);
        expect(radix_tree_lookup(FIRST_FILE, 1)).toBe(f);
        expect(check_invariants()).toEqual([]);
      }
    });
  }

  it('to in a mapping whose migratepage is migrate_page (shmem, swapper_space): the patch has no branch for it, -EBUSY, nothing exchanged', () => {
    const { a, f, pairs } = world(2);
    mapping_set_migratepage(FIRST_FILE, MIGRATE_PAGE);
    expect(exchange_pages(pairs, 1, MIGRATE_SYNC | MIGRATE_MT)).toBe(1);
    expect(radix_tree_lookup(FIRST_FILE, 1)).toBe(f);
    expect(page_mapping(a)).not.toBe(FIRST_FILE);
    expect(file_read(FIRST_FILE, 1, 3)).toBe(0x2003);
    expect(check_invariants()).toEqual([]);
  });

  it('buggy writeback-bug-on: to under writeback (fsync started it) is a BUG once both pages are locked', () => {
    const { pairs } = world(2, SW_EXCHANGE_WRITEBACK_BUG_ON);
    do_fsync_start();
    expect(page_flags(pairs[1]) & PG_writeback).not.toBe(0);
    const o = oops_of(() => exchange_pages(pairs, 1, MIGRATE_SYNC | MIGRATE_MT));
    expect(o?.kind).toBe(OOPS_BUG);
    expect(o?.text).toMatch(/BUG_ON\(PageWriteback\(to_page\)\) in unmap_and_exchange/);
  });

  it('fixed: MIGRATE_SYNC waits for the writeback (this CPU completes it) and exchanges; MIGRATE_SYNC_LIGHT gives up with -EBUSY', () => {
    const { a, f, pairs } = world(2);
    do_fsync_start();
    expect(exchange_pages(pairs, 1, MIGRATE_SYNC_LIGHT | MIGRATE_MT)).toBe(1);
    expect(radix_tree_lookup(FIRST_FILE, 1)).toBe(f);
    expect(isolate_lru_page(a)).toBe(0);
    expect(isolate_lru_page(f)).toBe(0);
    expect(exchange_pages(pairs, 1, MIGRATE_SYNC | MIGRATE_MT)).toBe(0);
    expect(page_flags(f) & PG_writeback).toBe(0);
    expect(radix_tree_lookup(FIRST_FILE, 1)).toBe(a);
    expect(file_read(FIRST_FILE, 1, 2)).toBe(0x2002);
    blk_drain(); // page 0's write, which nobody waited for
    expect(check_invariants()).toEqual([]);
  });

  for (const bug of [false, true]) {
    it(`MIGRATE_SYNC_LIGHT meets to under writeback: -EBUSY, ${bug ? 'buggy exchange-busy-unlock (the RFC\'s goto out_unlock): to stays locked, I-LOCKED' : 'fixed: both pages unlocked'}`, () => {
      const { a, f, pairs } = world(2, bug ? SW_EXCHANGE_BUSY_UNLOCK : 0);
      do_fsync_start();
      expect(exchange_pages(pairs, 1, MIGRATE_SYNC_LIGHT | MIGRATE_MT)).toBe(1);
      expect(PageLocked(a)).toBe(false);
      expect(PageLocked(f)).toBe(bug);
      blk_drain();
      const bad = check_invariants();
      if (bug) expect(bad.join('\n')).toMatch(new RegExp(`I-LOCKED.*pfn ${f} is still locked`));
      else expect(bad).toEqual([]);
    });
  }

  it('C-ASYNC is about parking: a PF_MEMALLOC lock_page of a free page takes it without a report; E4 get_page/put_page name VM_BUG_ON_PAGE', () => {
    const { f } = world(2);
    current.flags |= PF_MEMALLOC;
    const o = oops_of(() => { lock_page(f); unlock_page(f); });
    current.flags = 0;
    expect(o).toBeNull();
    const z = alloc_page();
    put_page(z); // freed: count 0
    expect(oops_of(() => put_page(z))?.text).toMatch(/VM_BUG_ON_PAGE\(page_ref_count\(page\) == 0\)/);
  });

  for (const bug of [false, true]) {
    it(`an async compaction (PF_MEMALLOC, MIGRATE_ASYNC | MIGRATE_MT) meets a page this task holds locked: ${bug ? 'buggy: C-ASYNC names the lock' : 'fixed: back off, nothing sleeps'}`, () => {
      const { f, pairs } = world(2, bug ? SW_EXCHANGE_ASYNC_MODE_MASK : 0);
      expect(trylock_page(f)).toBe(true); // the readahead batch's page
      current.flags |= PF_MEMALLOC;
      let failed = -1;
      const o = oops_of(() => { failed = exchange_pages(pairs, 1, MIGRATE_ASYNC | MIGRATE_MT); });
      current.flags = 0;
      if (bug) {
        expect(o?.kind).toBe(OOPS_INVARIANT);
        expect(o?.text).toMatch(new RegExp(`C-ASYNC: async migration might sleep: (lock_page|wait_on_page_locked)\\(PG_locked \\(page lock of pfn ${f}\\), held by CPU 0 \\(itself\\)\\)`));
      } else {
        expect(o).toBeNull();
        expect(failed).toBe(1);
        unlock_page(f);
        expect(check_invariants()).toEqual([]);
      }
    });
  }
});

describe('E4 file fault (5.1 filemap_fault): the page lock from lookup to pte', () => {
  for (const era of [E4, E2]) {
    it(`${era === E4 ? 'E4: the fault locks the page; a truncation just before it is found by the mapping re-check: retry, SIGBUS past the new i_size' : 'E2 (unchanged): the fault takes no page lock'}`, () => {
      boot({ nr_files: 2 }, 0, era);
      const par = parent(1);
      for (let p = 0; p < 2; p++) file_write(FIRST_FILE, p, 0, 0x77 + p);
      expect(do_mmap_pgoff(par.mm, FILE_MAP, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FIRST_FILE, 0)).toBeGreaterThan(0);
      const f = radix_tree_lookup(FIRST_FILE, 1);
      let locks = 0;
      // the fault's lock_page of f (its PP_LOCK_ACQUIRE on f's flags word): E4, the file is truncated to 1 page right then
      set_preempt_hooks((kind, object) => { if (kind === PP_LOCK_ACQUIRE && object === page_base(f) + PAGE.flags && locks++ === 0 && era === E4) do_truncate(FIRST_FILE, 1); }, null);
      const got = user_access(par.mm, FILE_MAP + PAGE_SIZE, 0, false, 0);
      set_preempt_hooks(null, null);
      if (era === E4) {
        expect(locks).toBeGreaterThan(0); // the fault took f's page lock
        expect(mmu.status).toBe(ACCESS_SIGBUS);
        expect(page_mapping(f)).toBe(0); // truncated, and never mapped
      } else {
        expect(locks).toBe(0);
        expect(mmu.status).toBe(ACCESS_OK);
        expect(got).toBe(0x78);
      }
      expect(user_access(par.mm, FILE_MAP, 0, false, 0)).toBe(0x77);
      expect(check_invariants()).toEqual([]);
    });
  }
});

/** the first half of do_fsync (filemap_fdatawrite): each dirty page locked and its write started; no CPU here completes the bios yet */
function do_fsync_start(): void {
  for (let index = 0; index < 2; index++) {
    const pfn = radix_tree_lookup(FIRST_FILE, index);
    if (pfn === 0 || !trylock_page(pfn)) continue;
    if (TestClearPageFlag(pfn, PG_dirty)) writepage(FIRST_FILE, pfn); // clear_page_dirty_for_io; the write unlocks
    else unlock_page(pfn);
  }
}

const N = 4;
const pool = new Piscina({
  filename: fileURLToPath(new URL('./workers/freeze.ts', import.meta.url)),
  minThreads: N, maxThreads: N, idleTimeout: Infinity, execArgv: [...process.execArgv, '--import', 'tsx'],
});
afterAll(async () => { await pool.destroy(); });

describe('the refcount freeze against E4\'s lockless find_get_page, on real threads', () => {
  it(`page_ref_freeze: ${N / 2} movers switch a cache slot between two pages, ${N / 2} lookers hold what they found: the slot never moves under a held reference`, async () => {
    const sab = createMachineBuffer({ ...DEFAULT_SIZES, nr_cpus: N, nr_files: 2 });
    mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0, era: E4 });
    set_current_cpu(0, 1);
    const x = alloc_page(), y = alloc_page();
    trylock_page(x);
    expect(add_to_page_cache(x, FIRST_FILE, 3)).toBe(0); // x: ours + the cache's
    unlock_page(x);
    const startWord = page_base(y) + PAGE.private; // the start barrier: y's private word, which nothing here reads
    i32[startWord] = 0;
    const rs = await Promise.all(Array.from({ length: N }, (_, cpu) => pool.run({
      sab, cpu, role: cpu % 2 === 0 ? 'mover' : 'looker', protocol: 'freeze', as: FIRST_FILE, index: 3, pages: [x, y], iters: 20_000, start: startWord, n: N,
    } satisfies FreezeTask) as Promise<{ moves: number; lookups: number; broken: number }>));
    expect(rs.reduce((s, r) => s + r.moves, 0)).toBeGreaterThan(0);
    expect(rs.reduce((s, r) => s + r.lookups, 0)).toBeGreaterThan(0);
    expect(rs.reduce((s, r) => s + r.broken, 0)).toBe(0);
    // every count is back: ours on each page and the cache's on the one in the slot
    const inslot = radix_tree_lookup(FIRST_FILE, 3);
    expect(page_ref_count(inslot)).toBe(2);
    expect(page_ref_count(inslot === x ? y : x)).toBe(1);
  });

  // the control, placed by hand on one CPU (on threads it needs busy cores to happen): the lookup's
  // get_page_unless_zero lands between the mover's count proof and its slot store
  for (const protocol of ['check', 'freeze'] as const) {
    it(`one CPU, the lookup placed between the count proof and the move: ${protocol === 'check' ? 'a count read (no freeze) lets the lookup in and the slot moves under its reference' : 'page_ref_freeze makes the lookup fail until the unfreeze'}`, () => {
      boot({ nr_files: 2 }, 0, E4);
      const x = alloc_page(), y = alloc_page();
      trylock_page(x);
      expect(add_to_page_cache(x, FIRST_FILE, 3)).toBe(0);
      unlock_page(x);
      const slot = radix_tree_slot(FIRST_FILE, 3);
      const proved = protocol === 'freeze' ? page_ref_freeze(x, 2) : page_ref_count(x) === 2; // the mover
      expect(proved).toBe(true);
      const got = get_page_unless_zero(x); // the looker, which found x in the slot
      Atomics.store(i32, slot, y); // the mover's move
      if (protocol === 'freeze') {
        expect(got).toBe(false);
        page_ref_unfreeze(x, 1);
        expect(page_ref_count(x)).toBe(1);
      } else {
        expect(got).toBe(true); // the looker holds x ...
        expect(Atomics.load(i32, slot)).not.toBe(x); // ... and x has left the slot under it
      }
    });
  }
});
