// Seed 001 (Direct Migration V9, E1) and its reference re-check under
// tree_lock (migrate-no-refcount-recheck, E1 and E2): the buggy line loses a
// direct I/O's store on real workers in both eras, the fixed one holds;
// 2.6.16's migrate_pages on one CPU moves anon pages through the swap cache
// and file pages through their page cache; a pin placed exactly where each
// era's window is shows the switch's line deciding.
import { afterAll, describe, expect, it } from 'vitest';
import { ControlledExecutor, segments_of } from '../src/exec/controlled.js';
import { explore } from '../src/search/explore.js';
import { run_free, RunResult } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { build_report } from '../src/report/json.js';
import { cpustat_base, i32, page_base, phys_base } from '../src/shm/machine.js';
import { CPUSTAT, PAGE, PG_dirty, PG_private, PG_writeback, USER_PAGES, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { E1, E2 } from '../src/shm/era.js';
import { SW_MIGRATE_NO_REFCOUNT_RECHECK } from '../src/shm/switches.js';
import { KernelBug, OOPS_SHADOW, read_oops } from '../src/check/bug.js';
import { check_invariants } from '../src/check/invariants.js';
import { Shadow } from '../src/check/shadow.js';
import { set_preempt_hooks } from '../src/sync/preempt.js';
import { held_count } from '../src/sync/lock_stat.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { LC_MMAP_SEM } from '../src/sync/lock_class.js';
import { PageLocked, trylock_page, unlock_page } from '../src/sync/page_lock.js';
import { PageSwapCacheP, SetPageFlag, mm_mmap_sem, page_count, page_flags } from '../src/mm/mm_types.js';
import { get_user_pages, set_page_dirty_lock } from '../src/mm/memory.js';
import { MPOL_MF_MOVE, do_migrate_pages } from '../src/mm/mempolicy.js';
import { migrate_pages } from '../src/mm/migrate.js';
import { nr_swap_pages, sys_swapon, total_swap_pages } from '../src/mm/swapfile.js';
import { BUFFER_MIGRATE, FIRST_FILE, MIGRATE_NONE, add_to_page_cache, i_size_read, i_size_write, file_backing, mapping_set_migratepage, radix_tree_lookup } from '../src/mm/filemap.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { isolate_lru_page, lru_add_drain, lru_cache_add_active, put_page } from '../src/mm/swap.js';
import { BASE, boot, parent } from './helpers.js';

const scenario = SCENARIOS.find((s) => s.name === 'dio-migration-refcount')!;
const total = (cpus: number, field: number) => { let s = 0; for (let c = 0; c < cpus; c++) s += i32[cpustat_base(c) + field]; return s; };

/** the fixed protocol must hold over this many operations (issue 10) */
const FIXED_OPS = 1_000_000;

/**
 * the first of `seeds` free runs (buggy, 2 CPUs, `cap_ms` each) that loses a write and whose interleaving
 * tells the race (each CPU keeps its last 16384 events: a busy migrator, or a reader descheduled for long,
 * can leave the switch out of the rings; the next seed is tried then)
 */
async function lost_write(era: number, seeds: number, cap_ms: number) {
  const attempts: string[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const r: RunResult = await run_free({ scenario, scenarioImport: scenario.name, protocol: 'buggy', cpus: 2, ops: 0, duration_ms: cap_ms, seed, jitter: 0, era, watchdog_ms: 30_000 });
    attempts.push(`${r.outcome}@${r.elapsed_ms.toFixed(0)}ms: ${r.oops?.text.split('\n')[0] ?? ''}`);
    if (r.outcome !== 'violation' || !scenario.signature!.test(r.oops?.text ?? '')) continue;
    const splat = build_report(r, { duration_ms: cap_ms }, null, null, 'test').failure!.splat;
    const story = splat.slice(splat.indexOf('\nInterleaving')).split('\n');
    const why = untold(story);
    if (why === null) return { r, story };
    attempts[attempts.length - 1] += ` (story: ${why})`;
  }
  throw new Error(`no lost write told in ${seeds} runs: ${attempts.join('; ')}`);
}

/**
 * what the interleaving misses of the race, or null: the pin, the unmap of the pinned page, its slot given
 * to a new page, and the store after, in that order (the pin before the unmap in E2, after the unlocked test in E1)
 */
function untold(story: string[]): string | null {
  /** the newest line before `before` that matches, -1 if none */
  const last = (re: RegExp, before = story.length) => { for (let i = before - 1; i >= 0; i--) if (re.test(story[i])) return i; return -1; };
  const store = last(/dio_read_into_user: mm#\d+ 0x\w+ I\/O done: stored 0x\w+ into pinned pfn (\d+)/);
  if (store < 0) return 'no late store';
  const pfn = /pinned pfn (\d+)/.exec(story[store])![1];
  const pin = last(new RegExp(`get_user_pages: mm#\\d+ 0x\\w+ pinned pfn ${pfn} `), store);
  const sw = last(new RegExp(`tree_lock recheck: pfn ${pfn} count \\d+ \\(expected \\d+, not checked\\): cache slot -> pfn \\d+`), store);
  const unmap = last(new RegExp(`try_to_unmap_one: mm#\\d+ 0x\\w+ pfn ${pfn} -> swap entry`), sw);
  if (pin < 0 || unmap < 0 || sw < 0) return `pin ${pin}, unmap ${unmap}, switch ${sw}`;
  return sw > pin ? null : `out of order: pin ${pin}, unmap ${unmap}, switch ${sw}, store ${store}`;
}

describe('dio-migration-refcount on real workers', () => {
  it('E2 (default): the buggy line loses the direct I/O\'s store within a few runs on 2 CPUs, and the story shows the race', async () => {
    const { r, story } = await lost_write(E2, 5, 10_000);
    expect(r.switches).toEqual(['migrate-no-refcount-recheck']);
    expect(r.era).toMatch(/^E2/);
    expect(untold(story), story.join('\n')).toBeNull();
  });

  it('E1 (--era 1): the buggy line loses the store too (the pin must land between the unlocked test and the unmap)', async () => {
    const { r, story } = await lost_write(E1, 4, 8_000);
    expect(r.era).toMatch(/^E1/);
    expect(untold(story), story.join('\n')).toBeNull();
  });

  it(`E2 fixed holds ${FIXED_OPS} ops on 3 CPUs, migrations backing out while pinned`, async () => {
    const f = await run_free({ scenario, scenarioImport: scenario.name, protocol: 'fixed', cpus: 3, ops: FIXED_OPS, duration_ms: 0, seed: 42, jitter: 0, watchdog_ms: 30_000 });
    expect(f.outcome, f.oops?.text ?? f.invariants.join('\n')).toBe('clean');
    expect(f.ops).toBeGreaterThanOrEqual(FIXED_OPS);
    expect(total(3, CPUSTAT.migrate_ok)).toBeGreaterThan(100);
    expect(total(3, CPUSTAT.migrate_fail)).toBeGreaterThan(0);
  });

  it(`E1 fixed holds ${FIXED_OPS} ops on 3 CPUs`, async () => {
    const f = await run_free({ scenario, scenarioImport: scenario.name, protocol: 'fixed', cpus: 3, ops: FIXED_OPS, duration_ms: 0, seed: 43, jitter: 0, era: E1, watchdog_ms: 30_000 });
    expect(f.outcome, f.oops?.text ?? f.invariants.join('\n')).toBe('clean');
    expect(f.ops).toBeGreaterThanOrEqual(FIXED_OPS);
    expect(total(3, CPUSTAT.migrate_ok)).toBeGreaterThan(100);
    expect(total(3, CPUSTAT.migrate_fail)).toBeGreaterThan(0);
  });
});

describe('dio-migration-refcount under the controlled executor', () => {
  const ex = new ControlledExecutor();
  afterAll(async () => { await ex.close(); });

  it('PCT finds a schedule that loses the write, at the same run every time, and the schedule replays to the same failure', async () => {
    const base = { scenario, scenarioImport: scenario.name, scenarioAsTyped: scenario.name, protocol: 'buggy' as const, cpus: 2, ops: 1, max_steps: 100_000 };
    const o = { base, strategies: ['pct' as const], iterations: 300, seed: 1, depth: 3, k: null, stop_at_first: true };
    const [a] = await explore(ex, o);
    expect(a.first, `no failure in ${a.iterations} PCT runs`).not.toBeNull();
    const text = a.first!.run.run.oops?.text ?? '';
    expect(text).toMatch(scenario.signature!);
    const [b] = await explore(ex, o);
    expect(b.first_failure_iteration).toBe(a.first_failure_iteration);
    const r = await ex.run({ ...a.first!.options, strategy: { name: 'replay', segments: segments_of(a.first!.run.switches), first: a.first!.run.first_cpu } });
    expect(r.diverged).toBe(0);
    expect(r.run.oops?.text).toBe(text);
  });

  it('E1: a random walk finds the pin between the unlocked test and the unmap (2 ops per CPU), at the same run every time', async () => {
    const base = { scenario, scenarioImport: scenario.name, scenarioAsTyped: scenario.name, protocol: 'buggy' as const, cpus: 2, ops: 2, max_steps: 100_000, era: E1 };
    const o = { base, strategies: ['random' as const], iterations: 600, seed: 1, depth: 3, k: null, stop_at_first: true };
    const [a] = await explore(ex, o);
    expect(a.first, `no failure in ${a.iterations} random-walk runs`).not.toBeNull();
    expect(a.first!.run.run.oops?.text).toMatch(scenario.signature!);
    expect(a.first!.run.run.era).toMatch(/^E1/);
    const [b] = await explore(ex, o);
    expect(b.first_failure_iteration).toBe(a.first_failure_iteration);
  });
});

/** sys_migrate_pages of mm on this CPU; returns the pages not migrated */
/** sys_migrate_pages, then this CPU's pagevecs drained: the pages put back (the new ones, an old one's last reference) hold no pagevec reference when the test counts */
const migrate_mm = (mm: number) => { const left = do_migrate_pages(mm, MPOL_MF_MOVE, new Int32Array(USER_PAGES)); lru_add_drain(); return left; };

/** get_user_pages of the page at addr for writing, as the dio does (mmap_sem for read around it) */
function pin(mm: number, addr: number): number {
  const pages = new Int32Array(1);
  down_read(mm_mmap_sem(mm), LC_MMAP_SEM);
  try {
    expect(get_user_pages(mm, addr, 1, true, pages)).toBe(1);
  } finally {
    up_read(mm_mmap_sem(mm));
  }
  return pages[0];
}

/** the dio's late store through its pin: the data, dirty, unpin; the program expects to read it back */
function store_through(page: number, sh: Shadow, p: number, w: number): void {
  const v = sh.next_value();
  Atomics.store(i32, phys_base(page) + w, v);
  set_page_dirty_lock(page);
  put_page(page);
  sh.expect(p, w, v);
}

describe('2.6.16 migrate_pages on one CPU (E1)', () => {
  it('moves anon pages through the swap cache: new pfns, data kept, every swap slot freed again, invariants clean', () => {
    boot({}, 0, E1);
    sys_swapon(64, 0);
    const { mm, sh, pfn } = parent(4);
    const old = [0, 1, 2, 3].map(pfn);
    const free = nr_swap_pages();
    expect(migrate_mm(mm)).toBe(0);
    for (let p = 0; p < 4; p++) {
      expect(pfn(p)).not.toBe(old[p]);
      expect(PageSwapCacheP(pfn(p))).toBe(false);
      expect(page_count(pfn(p))).toBe(1); // its pte's
      expect(sh.check(p, 0)).toBe(true);
    }
    expect(nr_swap_pages()).toBe(free);
    expect(nr_swap_pages()).toBe(total_swap_pages());
    expect(i32[cpustat_base(0) + CPUSTAT.migrate_ok]).toBe(4);
    expect(check_invariants()).toEqual([]);
  });

  for (const bug of [false, true]) {
    it(`a pin between the unlocked test and the unmap: ${bug ? 'buggy: the slot moves and the store is lost' : 'fixed: the re-check under tree_lock backs out'}`, () => {
      boot({}, bug ? SW_MIGRATE_NO_REFCOUNT_RECHECK : 0, E1);
      sys_swapon(64, 0);
      const { mm, sh, pfn } = parent(1);
      const x = pfn(0);
      // the dio pins at the first preemption point where the migrator holds x (in the swap cache now)
      // and the new page: try_to_unmap's anon_vma->lock, right after the unlocked test passed
      let armed = true, pinned = 0;
      set_preempt_hooks(() => {
        if (!armed || !PageSwapCacheP(x) || !PageLocked(x) || held_count() !== 3) return;
        armed = false;
        pinned = pin(mm, BASE);
      }, null);
      const left = migrate_mm(mm);
      set_preempt_hooks(null, null);
      expect(pinned).toBe(x);
      expect(left).toBe(bug ? 0 : 1);
      if (bug) expect(pfn(0)).not.toBe(x); // the new page is mapped (fixed: a swap pte of x's slot is left)
      store_through(x, sh, 0, 0);
      if (!bug) {
        expect(sh.check(0, 0)).toBe(true); // the swap pte faults x back, with the I/O's data
        expect(check_invariants()).toEqual([]);
      } else {
        expect(() => sh.check(0, 0)).toThrow(KernelBug);
        expect(read_oops()!.kind).toBe(OOPS_SHADOW);
        expect(read_oops()!.text).toMatch(/^user data: lost write in parent mm#\d+ at 0x20000 word 0/);
      }
    });
  }

  it('a file page in the page cache: the radix slot moves to the new page with the data (migratepage = migrate_page)', () => {
    const { mm } = file_boot();
    const { old, data } = file_page(0, 0);
    expect(migrate_list(mm, old)).toBe(0);
    const newpage = radix_tree_lookup(FIRST_FILE, 0);
    expect(newpage).not.toBe(old);
    expect(words(newpage)).toEqual(data);
    expect(page_count(newpage)).toBe(1); // the cache's
    expect(page_count(old)).toBe(0); // freed
  });

  it('a dirty file page of a mapping without migratepage is written out first, then migrated clean on a later pass', () => {
    const { mm } = file_boot();
    mapping_set_migratepage(FIRST_FILE, MIGRATE_NONE);
    const { old, data } = file_page(1, PG_dirty);
    expect(migrate_list(mm, old)).toBe(0);
    const newpage = radix_tree_lookup(FIRST_FILE, 1);
    expect(newpage).not.toBe(old);
    expect(words(newpage)).toEqual(data);
    expect(page_flags(newpage) & (PG_dirty | PG_writeback)).toBe(0);
    const d = file_backing(FIRST_FILE, 1);
    expect(Array.from(i32.subarray(d, d + WORDS_PER_PAGE))).toEqual(data); // pageout wrote it to the file
  });

  it('buffers: released by try_to_release_page (no migratepage), or moved with the page (buffer_migrate_page)', () => {
    const { mm } = file_boot();
    mapping_set_migratepage(FIRST_FILE, MIGRATE_NONE);
    const a = file_page(2, PG_private);
    expect(migrate_list(mm, a.old)).toBe(0);
    const na = radix_tree_lookup(FIRST_FILE, 2);
    expect(page_flags(na) & PG_private).toBe(0);
    expect(page_count(na)).toBe(1);

    mapping_set_migratepage(FIRST_FILE, BUFFER_MIGRATE);
    const b = file_page(3, PG_private);
    expect(migrate_list(mm, b.old)).toBe(0);
    const nb = radix_tree_lookup(FIRST_FILE, 3);
    expect(nb).not.toBe(b.old);
    expect(page_flags(nb) & PG_private).toBe(PG_private);
    expect(i32[page_base(nb) + PAGE.private]).toBe(77);
    expect(page_count(nb)).toBe(2); // the cache's and the buffers'
    expect(words(nb)).toEqual(b.data);
  });
});

describe('the reference re-check in 2.6.18 (E2): a pinned swap-cache page', () => {
  for (const bug of [false, true]) {
    it(bug ? 'buggy: migrate_page_move_mapping switches the slot anyway and the store is lost' : 'fixed: migrate_page_move_mapping sees the pin and backs out', () => {
      boot({ nr_pages: 256 }, bug ? SW_MIGRATE_NO_REFCOUNT_RECHECK : 0, E2);
      const mm = scenario.setup(1, 1).parent as number; // 8 pages, swapped out and back in: in the swap cache
      const sh = new Shadow(mm, BASE, 8, 1, 'parent');
      const x = pin(mm, BASE);
      expect(PageSwapCacheP(x)).toBe(true);
      const left = migrate_mm(mm);
      expect(left).toBe(bug ? 0 : 1);
      store_through(x, sh, 0, 2);
      if (!bug) {
        expect(sh.check(0, 2)).toBe(true);
        expect(check_invariants()).toEqual([]);
      } else {
        expect(() => sh.check(0, 2)).toThrow(KernelBug);
        expect(read_oops()!.text).toMatch(/^user data: lost write in parent mm#\d+ at 0x20000 word 2/);
      }
    });
  }
});

const words = (pfn: number) => Array.from(i32.subarray(phys_base(pfn), phys_base(pfn) + WORDS_PER_PAGE));

/** E1, a process whose mmap_sem the migrator holds (every 2.6.16 caller does) */
function file_boot() {
  boot({}, 0, E1);
  return parent(1);
}

/** a page of file FIRST_FILE at index, in its page cache and on the LRU, with known data and `flags` */
function file_page(index: number, flags: number) {
  if (i_size_read(FIRST_FILE) <= index) i_size_write(FIRST_FILE, index + 1); // the file reaches the page (writepage skips pages past i_size)
  const old = alloc_page();
  expect(trylock_page(old)).toBe(true);
  expect(add_to_page_cache(old, FIRST_FILE, index)).toBe(0);
  const data = Array.from({ length: WORDS_PER_PAGE }, (_, w) => 0x5000 + index * 16 + w);
  for (let w = 0; w < WORDS_PER_PAGE; w++) i32[phys_base(old) + w] = data[w];
  if (flags & PG_private) { SetPageFlag(old, PG_private); i32[page_base(old) + PAGE.private] = 77; } // buffers: their reference is the allocation's
  else put_page(old); // the reader's reference: only the cache keeps it
  if (flags & PG_dirty) SetPageFlag(old, PG_dirty);
  unlock_page(old);
  lru_cache_add_active(old);
  return { old, data };
}

/** isolate one page and run migrate_pages on it, holding mm's mmap_sem as the callers do */
function migrate_list(mm: number, page: number): number {
  expect(isolate_lru_page(page)).toBe(0);
  const list = new Int32Array(USER_PAGES);
  list[0] = page;
  down_read(mm_mmap_sem(mm), LC_MMAP_SEM);
  try {
    return migrate_pages(list, 1);
  } finally {
    up_read(mm_mmap_sem(mm));
    lru_add_drain(); // as migrate_mm
  }
}
