// Seed 004's first fix (hmm-wait-ref-livelock; kernel-notes 4.15, 6.15; E3).
// A page of the process lives in device memory. Two threads of the program
// (`user`, CPUs 0 and 1) touch it: a thread's device fault migrates it back
// to RAM (migrate_vma, one page), and the other thread, faulting on the same
// address meanwhile, meets the migration entry and waits in
// migration_entry_wait holding a reference on the device page across the
// wait (4.14's get_page_unless_zero); when it is woken it faults again at
// once and may become the migrator itself (the roles swap, 4.15 step 5).
// The driver (`device`, a third CPU) moves the page back to device memory
// after each completed access, so the race repeats; with two CPUs each
// thread does that itself after its access. A fourth CPU is the device's own
// fault on the address (`mirror`: hmm_vma_fault, which waits on migration
// entries as a CPU does, then replays after `replay_delay`).
//
// Buggy (the seed's v2): migrate_vma_check_page counts references on a
// device-private page too; the other thread's reference (a waiter's, still
// held while it is woken but not yet running, `wake_delay`; or a concurrent
// fault's collect reference) makes the page look pinned, the fault restores
// it and the access faults again at once: a livelock that C-LIVELOCK
// reports (R = 256 faults in a row at one address) with the reason counter
// hmm_check_rejects and the CPU whose reference blocks it. Fixed (v3):
// device-private pages are never "pinned"; the exact count test of
// migrate_vma_pages still sees a waiter that holds its reference at that
// moment (4.14's residual, kernel-notes 8 q.2: counted as hmm_move_eagain
// and hmm_residual_streaks, never a failure). With two threads re-faulting
// at once that residual is common: a waiter that re-faults into the copy
// window fails the round, as in 4.14.
//
// Knobs (DmirrorKnobs, kernel-notes 6.15): copy_delay_us is the DMA of one
// page, 200 µs by default (a slow device: it widens the window in which a
// waiter's reference is dropped before the count test); wake_delay_us a
// woken waiter's scheduling latency; replay_delay_us the mirror's. The
// buggy loop does not need the DMA (it fails at prepare, before the copy);
// hmm_fault_livelock_with() builds the scenario with other knobs
// (examples/hmm-fault-fast-dma.mjs: a DMA as fast as the CPU's word copy,
// the fixed soak's 1e5 round trips).
import { PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import { E3 } from '../shm/era.js';
import { prandom_below } from '../cpu/current.js';
import { EV_MIGRATE_VMA, EV_MIRROR_FAULT, EV_USER } from '../cpu/events.js';
import { switch_mm } from '../cpu/mmu.js';
import { cond_resched } from '../sync/preempt.js';
import { Shadow } from '../check/shadow.js';
import { DmirrorKnobs, MIRROR_WAITED, dmirror_idle, dmirror_migrate_to_device, dmirror_replay_delay, hmm_vma_fault } from '../drivers/dmirror.js';
import { BASE, cycle_roles, must, set_path } from './family.js';
import { hmm_setup, in_ram } from './hmm_device_lru.js';
import type { CpuContext, Scenario } from './types.js';
import { WIN_HMM_CHECK_WAITER_REF } from '../cpu/windows.js'; // cov

const NPAGES = 4;
/** the page the race is about */
const P = 0;

/** kernel-notes 6.15's knobs: a 200 µs DMA, a woken waiter runs 50 µs later, the mirror replays after 600 µs */
export const HMM_FAULT_KNOBS: DmirrorKnobs = { copy_delay_us: 200, replay_delay_us: 600, wake_delay_us: 50 };

const roles = cycle_roles(['user', 'user', 'device'], ['mirror']);

/** the CPUs that run the program's threads: thread k owns words k, k + n, ... of the page (one writer per word) */
const users = (nr_cpus: number) => roles(nr_cpus).flatMap((r, c) => (r === 'user' || r === 'solo' ? [c] : []));

function run(ctx: CpuContext): void {
  const mm = ctx.setup.mm as number;
  const addr = BASE + P * PAGE_SIZE;
  const sh = new Shadow(mm, BASE, NPAGES, ctx.cpu + 1, 'parent');
  const has_device = roles(ctx.nr_cpus).includes('device');
  const us = users(ctx.nr_cpus), n = us.length, k = us.indexOf(ctx.cpu);
  /** one of this thread's words of the page */
  const word = () => k + n * prandom_below(Math.ceil((WORDS_PER_PAGE - k) / n));
  while (!ctx.should_stop()) {
    switch (ctx.role) {
      case 'mirror': {
        set_path(EV_MIRROR_FAULT);
        if (hmm_vma_fault(mm, addr) === MIRROR_WAITED) dmirror_replay_delay();
        else cond_resched();
        break;
      }
      case 'device': {
        set_path(EV_MIGRATE_VMA);
        while (!in_ram(mm, addr) && !ctx.should_stop()) dmirror_idle();
        dmirror_migrate_to_device(mm, addr, 1);
        break;
      }
      default: { // user (and solo): a thread of the program; without a device CPU it also plays the driver
        set_path(EV_USER);
        switch_mm(mm);
        must(sh.store(P, word()), 'store to the page on the device');
        must(sh.check(P, word()), 'load of the page');
        switch_mm(0);
        if (!has_device) { set_path(EV_MIGRATE_VMA); dmirror_migrate_to_device(mm, addr, 1); }
      }
    }
    ctx.op_done();
  }
}

/** the scenario with other driver knobs (the same code and roles; `name` tells the variant apart in reports) */
export function hmm_fault_livelock_with(knobs: DmirrorKnobs, name = 'hmm-fault-livelock'): Scenario {
  return {
    name,
    title: 'a migration_entry_wait waiter\'s reference makes a device-private page look pinned: the device fault retries forever',
    patch: '004_8d57fd20e497ebda',
    switches: ['hmm-wait-ref-livelock'],
    windows: [WIN_HMM_CHECK_WAITER_REF], // cov: src/cpu/windows.ts
    eras: [E3],
    description: 'migrate_vma_check_page gives device-private pages the generic extra-reference test; the other faulting ' +
      'thread\'s migration_entry_wait reference (held across the wait in 4.14) fails it, the fault restores the page and faults again',
    expect_buggy: 'INFO: livelock: a user CPU retries the device fault R times (reason: migrate_vma_check_page rejected a device-private page)',
    liveness: true,
    signature: /^INFO: livelock: CPU#\d+ retried the fault at mm#\d+ 0x[0-9a-f]+ \d+ times without progress\nmmrace: reason: migrate_vma_check_page rejected a device-private page/,
    sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32, nr_dev_pages: 16 },
    roles,
    setup: () => hmm_setup(NPAGES, knobs, NPAGES),
    run,
  };
}

export const hmmFaultLivelock: Scenario = hmm_fault_livelock_with(HMM_FAULT_KNOBS);
