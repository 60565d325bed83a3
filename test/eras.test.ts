// Eras (src/shm/era.ts, kernel-notes 0.2 and 7): the per-era constants, the
// lines that branch on the era, switches refused outside their era, and the
// E1/E2 rule that every caller of migrate_pages holds an mmap_sem.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { boot, parent } from './helpers.js';
import { E0, E1, E2, E3, E4, ERA, ERAS, MAX_SWAPFILES, SWP_MIGRATION_READ, SWP_MIGRATION_WRITE, parse_era } from '../src/shm/era.js';
import { SWITCHES, SwitchError, bugs_mask, switch_by_name } from '../src/shm/switches.js';
import { swap_guard_intact, swap_info_base } from '../src/mm/swapfile.js';
import { is_migration_entry, swp_entry } from '../src/mm/swapops.js';
import { pte_lockptr, pte_table } from '../src/mm/pagewalk.js';
import { mm_base, page_base, i32 } from '../src/shm/machine.js';
import { MM, PAGE, SWAP_GUARD_CANARY } from '../src/shm/layout.js';
import { lock_class_name, LC_PTL, LC_MMAP_SEM } from '../src/sync/lock_class.js';
import { migrate_pages } from '../src/mm/migrate.js';
import { isolate_lru_page, lru_add_drain } from '../src/mm/swap.js';
import { KernelBug, read_oops } from '../src/check/bug.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { mm_mmap_sem } from '../src/mm/mm_types.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { run_free } from '../src/exec/free_run.js';
import { cpustat_base } from '../src/shm/machine.js';
import { CPUSTAT } from '../src/shm/layout.js';

const bootEra = (era: number) => boot({}, 0, era);

describe('the era table', () => {
  it('MAX_SWAPFILES and the special swap types per era, as kernel-notes 1.8 gives them', () => {
    const want: [number, number, number, number][] = [[E0, 32, -1, -1], [1, 32, -1, -1], [E2, 30, 30, 31], [E3, 27, 28, 29], [4, 27, 28, 29]];
    for (const [era, max, r, w] of want) {
      bootEra(era);
      expect([ERA.id, MAX_SWAPFILES, SWP_MIGRATION_READ, SWP_MIGRATION_WRITE]).toEqual([era, max, r, w]);
      // the guard sits right after the era's swap_info[MAX_SWAPFILES]
      expect(swap_guard_intact()).toBe(true);
      i32[swap_info_base(max)] = 0;
      expect(swap_guard_intact()).toBe(false);
      expect(i32[swap_info_base(max - 1)]).not.toBe(SWAP_GUARD_CANARY);
    }
    bootEra(E0);
    expect(is_migration_entry(swp_entry(30, 1))).toBe(false); // 2.6.6 has no migration entries: type 30 is a device
    bootEra(E2);
    expect(is_migration_entry(swp_entry(30, 1))).toBe(true);
  });

  it('E0 keeps every pte under mm->page_table_lock; E1-E4 split the PTL into the table page', () => {
    for (const era of [E0, E2, E3]) {
      bootEra(era);
      const p = parent(2);
      const table = pte_table(p.mm, 0x20000);
      expect(pte_lockptr(table)).toBe(era === E0 ? mm_base(p.mm) + MM.page_table_lock : page_base(table) + PAGE.ptl);
      expect(lock_class_name(LC_PTL)).toBe(ERAS[era].ptl_class_name);
    }
  });

  it('--era values parse as 0..4 or E0..E4 and nothing else', () => {
    expect([parse_era('2'), parse_era('E3'), parse_era('e0'), parse_era('5'), parse_era('E'), parse_era('2.6.18')]).toEqual([2, 3, 0, null, null, null]);
  });
});

describe('switches and eras', () => {
  it('every switch names its eras, and a switch outside the run\'s era is refused', () => {
    for (const s of SWITCHES) expect(s.eras.length).toBeGreaterThan(0);
    expect(() => bugs_mask('buggy', ['anon-vma-list-head'], [], E3)).toThrow(SwitchError);
    expect(() => bugs_mask('buggy', ['anon-vma-list-head'], [], E3)).toThrow(/not in E3 \(4\.14\)/);
    expect(() => bugs_mask('buggy', ['no-such-switch'], [], E2)).toThrow(/unknown switch/);
  });

  it("2.6.18's own pre-patch line (no swap-entry recheck) is on in every E2 run but its scenario's fixed one", () => {
    const on = (p: 'buggy' | 'fixed', sw: string[]) => bugs_mask(p, sw, [], E2);
    expect(on('fixed', ['anon-vma-list-head'])).toMatchObject({ names: [], baseline: ['swapin-no-entry-recheck', 'swapin-swapoff-race'] });
    expect(on('buggy', ['anon-vma-list-head'])).toMatchObject({ names: ['anon-vma-list-head'], baseline: ['swapin-no-entry-recheck', 'swapin-swapoff-race'] });
    expect(on('fixed', ['swapin-no-entry-recheck'])).toMatchObject({ names: [], baseline: ['swapin-swapoff-race'] });
  });

  it("5.14's swap device reference is off in every era as released; a scenario's also_fixed turns it on in its fixed run only", () => {
    const race = switch_by_name('swapin-swapoff-race')!;
    for (const e of [E0, E1, E2, E3, E4]) expect(bugs_mask('fixed', [], [], e).baseline).toContain('swapin-swapoff-race');
    const fixed = bugs_mask('fixed', ['swapin-no-entry-recheck'], [], E2, ['swapin-swapoff-race']);
    expect(fixed).toMatchObject({ names: [], baseline: [], mask: 0 });
    const buggy = bugs_mask('buggy', ['swapin-no-entry-recheck'], [], E2, ['swapin-swapoff-race']);
    expect(buggy.mask & race.bit).toBe(race.bit); // the buggy run keeps the era's line
    expect(() => bugs_mask('fixed', [], [], E2, ['no-such-switch'])).toThrow(/unknown switch/);
  });

  it('every built-in scenario declares eras its switches exist in', () => {
    for (const s of SCENARIOS) {
      const eras = s.eras ?? [E2];
      for (const e of eras) expect(() => bugs_mask('buggy', s.switches, [], e, s.also_fixed), s.name).not.toThrow();
    }
  });

  it('the CLI: --era on a scenario of one era, or an unknown era, is one line and exit 2', () => {
    for (const args of [['--era', '3'], ['--era', 'E9']]) {
      const r = spawnSync(process.execPath, ['dist/src/cli.js', 'run', 'orphaned-migration-entry', ...args, '--ops', '10'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^mmrace: error: (scenario 'orphaned-migration-entry' models E2 \(2\.6\.18\) only|--era must be one of)/);
    }
  });
});

describe('the migrator takes the locks its era\'s callers took', () => {
  it('E2: migrate_pages without an mmap_sem is refused (every 2.6.18 caller holds one)', () => {
    bootEra(E2);
    const p = parent(2);
    lru_add_drain(); // E2: the new pages wait in this CPU's pagevec until a drain (migrate_prep's, for a real caller)
    const pfn = p.pfn(0);
    expect(isolate_lru_page(pfn)).toBe(0);
    expect(() => migrate_pages(Int32Array.of(pfn), 1)).toThrow(KernelBug);
    expect(read_oops()!.text).toMatch(/^mmrace: migrate_pages called without an mmap_sem/);
    bootEra(E2);
    const q = parent(2);
    lru_add_drain();
    expect(isolate_lru_page(q.pfn(0))).toBe(0);
    down_read(mm_mmap_sem(q.mm), LC_MMAP_SEM);
    expect(migrate_pages(Int32Array.of(q.pfn(0)), 1)).toBe(0);
    up_read(mm_mmap_sem(q.mm));
  });

  // a run that migrates without the mmap_sem fails with the message above, so a clean run with migrations proves it
  for (const s of SCENARIOS.filter((x) => x.roles(5).includes('migrator'))) {
    it(`${s.name}: every migration holds the mmap_sem of the mm it migrates (5 CPUs, fixed)`, async () => {
      const r = await run_free({ scenario: s, scenarioImport: s.name, protocol: 'fixed', cpus: 5, ops: 20_000, duration_ms: 0, seed: 3, jitter: 0, watchdog_ms: 30_000 });
      expect(r.outcome, r.oops?.text ?? r.invariants.join('\n')).toBe('clean');
      let moved = 0;
      for (let c = 0; c < 5; c++) moved += i32[cpustat_base(c) + CPUSTAT.migrate_ok];
      expect(moved).toBeGreaterThan(0);
    });
  }
});
