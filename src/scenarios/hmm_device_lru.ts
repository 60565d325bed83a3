// Seed 004's second fix (zone-device-lru; kernel-notes 4.16, 6.16; E3).
// ZONE_DEVICE pages are never on an LRU: their LRU words hold page->pgmap.
// The driver (`device`) moves random pages of the process to device memory;
// the program (`user`) touches random pages, and its faults bring them back;
// `reclaimer` scans the LRU (isolates a random page and puts it back), the
// load migrate_vma's own isolation meets.
//
// Buggy (before the seed): migrate_vma_finalize puts the new device page
// "back" on the LRU: C-DEVLRU catches it at once (the pgmap is
// overwritten); with the driver's devlru_note knob the run goes on to the
// oops the lost pgmap causes. The other direction (a device page failing
// isolation in migrate_vma_prepare, so it never moves back: a livelock of
// the device fault) is behind the same switch; the scenario stops at C-DEVLRU
// first, so only test/devmem.test.ts shows it (scripted). Fixed: every page's data
// survives any number of round trips (the user-data shadow), I-DEV and
// I-LRU hold at the end, and the device's pool is complete when idle.
import { PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import { E3 } from '../shm/era.js';
import { cond_resched, controlled } from '../sync/preempt.js';
import { prandom_below } from '../cpu/current.js';
import { EV_MIGRATE_VMA, EV_SHRINK, EV_USER } from '../cpu/events.js';
import { ACCESS_OK, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { i32, sizes } from '../shm/machine.js';
import { pte_offset, pte_table } from '../mm/pagewalk.js';
import { pte_present } from '../mm/pgtable.js';
import { PG_lru } from '../shm/layout.js';
import { Shadow, initial_value } from '../check/shadow.js';
import { PROT_READ, PROT_WRITE, page_flags } from '../mm/mm_types.js';
import { do_mmap_anon, mm_alloc } from '../mm/mmap.js';
import { isolate_lru_page, putback_lru_page } from '../mm/swap.js';
import { DmirrorKnobs, dmirror_idle, dmirror_init, dmirror_migrate_to_device } from '../drivers/dmirror.js';
import { BASE, cycle_roles, must, set_path } from './family.js';
import type { CpuContext, Scenario, SetupState } from './types.js';
import { WIN_HMM_DEVICE_PAGE_FINALIZED } from '../cpu/windows.js'; // cov

const NPAGES = 8;

const nap_word = new Int32Array(new SharedArrayBuffer(4));
/** kswapd naps between scans (~20 µs free-running; a turn given under the controlled executor) */
function nap(): void {
  if (controlled) cond_resched();
  else Atomics.wait(nap_word, 0, 0, 0.02);
}

/** is the page at addr in RAM (a present pte)? an unlocked peek, as the driver's own bookkeeping would know */
export const in_ram = (mm: number, addr: number) => {
  const table = pte_table(mm, addr);
  return table !== 0 && pte_present(Atomics.load(i32, pte_offset(table, addr)));
};

/** one mm with npages written with known values, the driver registered, the first `to_device` pages moved there */
export function hmm_setup(npages: number, knobs: DmirrorKnobs, to_device = 0): SetupState {
  const mm = mm_alloc();
  if (do_mmap_anon(mm, BASE, npages * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0) throw new Error('setup: mmap failed');
  for (let p = 0; p < npages; p++) {
    for (let w = 0; w < WORDS_PER_PAGE; w++) {
      user_access(mm, BASE + p * PAGE_SIZE, w, true, initial_value(p, w));
      if (mmu.status !== ACCESS_OK) throw new Error('setup: initial store failed');
    }
  }
  dmirror_init(knobs);
  for (let p = 0; p < to_device; p++) if (dmirror_migrate_to_device(mm, BASE + p * PAGE_SIZE, 1) !== 1) throw new Error('setup: a page did not move to the device');
  return { mm, npages };
}

const roles = cycle_roles(['device', 'user', 'reclaimer'], ['user']);

/** the CPUs that run the program, each owning every n-th page (one writer per page) */
function my_pages(ctx: CpuContext): number[] {
  const users = roles(ctx.nr_cpus).flatMap((r, c) => (r === 'user' || r === 'solo' ? [c] : []));
  const out: number[] = [];
  for (let p = 0; p < NPAGES; p++) if (users[p % users.length] === ctx.cpu) out.push(p);
  return out;
}

function run(ctx: CpuContext): void {
  const mm = ctx.setup.mm as number;
  const sh = new Shadow(mm, BASE, NPAGES, ctx.cpu + 1, 'parent');
  const mine = my_pages(ctx);
  const op = (r: string) => {
    switch (r) {
      case 'device':
        set_path(EV_MIGRATE_VMA);
        const addr = BASE + prandom_below(NPAGES) * PAGE_SIZE;
        if (in_ram(mm, addr)) dmirror_migrate_to_device(mm, addr, 1); // the driver moves pages that are in system memory
        else dmirror_idle();
        break;
      case 'reclaimer': {
        set_path(EV_SHRINK);
        const pfn = 1 + prandom_below(sizes.nr_pages - 1);
        if ((page_flags(pfn) & PG_lru) !== 0 && isolate_lru_page(pfn) === 0) putback_lru_page(pfn);
        nap();
        break;
      }
      default: {
        set_path(EV_USER);
        switch_mm(mm);
        const p = mine[prandom_below(mine.length)];
        must(sh.store(p, prandom_below(WORDS_PER_PAGE)), 'store');
        must(sh.check(mine[prandom_below(mine.length)], prandom_below(WORDS_PER_PAGE)), 'load');
        switch_mm(0);
      }
    }
  };
  while (!ctx.should_stop()) {
    op(ctx.role === 'solo' ? ['device', 'user'][prandom_below(2)] : ctx.role);
    ctx.op_done();
  }
}

export const hmmDeviceLru: Scenario = {
  name: 'hmm-device-lru',
  title: 'migrate_vma puts a ZONE_DEVICE page on the LRU: its pgmap is overwritten',
  patch: '004_8d57fd20e497ebda',
  switches: ['zone-device-lru'],
  windows: [WIN_HMM_DEVICE_PAGE_FINALIZED], // cov: src/cpu/windows.ts
  eras: [E3],
  description: 'migrate_vma_prepare/unmap/finalize isolate and put back device pages as if they were on the LRU; ' +
    'the LRU links overlay page->pgmap',
  expect_buggy: 'mmrace: invariant C-DEVLRU: a device page added to the LRU (pgmap overwritten), at the first migration to the device',
  signature: /invariant C-DEVLRU: device page pfn \d+ added to the LRU: pgmap overwritten/,
  deterministic: 'the first migration to the device',
  sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32, nr_dev_pages: 16 },
  roles,
  setup: () => hmm_setup(NPAGES, {}),
  run,
};
