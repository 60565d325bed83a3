// The whole seed-000 machine under load, to show the fixed kernel holds.
// Its one switch is 2.6.18's own: without 2.6.32's recheck in do_swap_page
// (swapin-no-entry-recheck, on in every 2.6.18 run) the swapoff/swapon
// cycles here can hand a stale page to a faulter; the fixed protocol has the
// recheck, the buggy one is 2.6.18 as released (scenario swapin-entry-reuse
// aims at that race). Reclaim swaps the family's pages out while the parent's
// program, forked children, migration and swapoff/swapon cycles run on the
// other CPUs; every program checks its data, and the end-of-run sweep checks
// swap_map counts, the swap cache, mapcounts and refcounts.
import { prandom_below } from '../cpu/current.js';
import { EV_SWAPOFF, trace_event } from '../cpu/events.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { SWAP_SLOTS } from '../shm/layout.js';
import { EINTR, nr_swap_pages, sys_swapoff, sys_swapon, total_swap_pages } from '../mm/swapfile.js';
import { cond_resched } from '../sync/preempt.js';
import { lru_add_drain } from '../mm/swap.js';
import { cycle_roles, family_setup, run_family, set_path } from './family.js';
import type { CpuContext, Scenario, SetupState } from './types.js';
import { WIN_SWAPIN_PAGE_GONE } from '../cpu/windows.js'; // cov

const roles = cycle_roles(['reclaimer', 'toucher', 'forker', 'migrator', 'swapper'], ['reclaimer', 'toucher', 'migrator']);
const DEVICE_SLOTS = SWAP_SLOTS / 4;

/** the family, and one swap device of `slots` slots */
export function swap_family_setup(npages: number, siblings: number, slots: number, written = npages): SetupState {
  const s = family_setup(npages, siblings, written);
  // the program wrote its pages long before the run: a real CPU's pagevecs would have turned over since, so
  // they start on the LRU, where reclaim can find them (E1/E2; setup's CPU would otherwise hold them until
  // that CPU drained, and only the parent's COWs would ever bring its pages to the LRU)
  lru_add_drain();
  if (sys_swapon(slots, 0) !== 0) throw new Error('setup: swapon failed');
  return { ...s, device_slots: slots };
}

/** the admin's swapoff/swapon cycle: every swapped page must come back, and the device is type 0 again */
export function swap_cycle(slots: number, ctx?: CpuContext): void {
  // the admin swaps off when something is in swap (a swapoff of an empty device proves nothing)
  while (ctx && nr_swap_pages() >= total_swap_pages() && !ctx.should_stop()) cond_resched();
  set_path(EV_SWAPOFF);
  let rc = sys_swapoff(0);
  for (let tries = 0; rc !== 0 && rc !== EINTR && tries < 10; tries++) rc = sys_swapoff(0); // -ENOMEM: memory is short for now
  trace_event(EV_SWAPOFF, 0, rc);
  if (rc === EINTR) return; // the run is ending (the model's signal): the device stays on, as the kernel leaves it, for the sweep
  if (rc !== 0) fail(OOPS_SHADOW, `admin: swapoff failed with ${rc}`);
  const t = sys_swapon(slots, 0);
  if (t !== 0) fail(OOPS_SHADOW, `admin: swapon returned ${t}, expected type 0 again`);
}

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'solo'], roles, {
    swapper: (f) => swap_cycle(DEVICE_SLOTS, f.ctx),
    solo: (f) => { const r = prandom_below(16); if (r === 0) swap_cycle(DEVICE_SLOTS); else if (r < 6) f.reclaim_one(); else if (r < 9) f.migrate_one(); else if (r < 11) f.fork_one(); else f.touch(); },
  });
}

export const swapStress: Scenario = {
  name: 'swap-stress',
  title: 'reclaim, swap-in, fork, migration and swapoff together (no switch: the fixed kernel must hold)',
  patch: '000_f600569768ae13bb',
  switches: ['swapin-no-entry-recheck'],
  windows: [WIN_SWAPIN_PAGE_GONE], // cov: src/cpu/windows.ts
  also_fixed: ['swapin-swapoff-race'], // the admin's swapoff/swapon cycling meets it under a fault
  description: 'the swap side of seed 000 under load, with every checker armed',
  expect_buggy: '(rarely) user data: a stale page mapped after swapoff/swapon reused its entry; run it with --protocol fixed --expect clean',
  signature: /^user data: (lost write|wrong data)/,
  sizes: { nr_pages: 1024, nr_mm: 64, nr_vma: 256 },
  roles,
  cpus: 5, // the swapper (swapoff/swapon, whose entry reuse is the switch's race) is the fifth role
  setup: () => swap_family_setup(32, 1, DEVICE_SLOTS),
  run,
};
