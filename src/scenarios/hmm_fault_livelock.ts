// Seed 004's first fix (hmm-wait-ref-livelock; kernel-notes 4.15, 6.15; E3).
// A page of the process lives in device memory. The program's thread
// (`user`) touches it: the device fault migrates it back to RAM
// (migrate_vma, one page). The device (`mirror`) faults on the same address
// through hmm_vma_fault and, meeting the migration entry, waits in
// migration_entry_wait holding a reference on the device page across the
// wait (4.14's get_page_unless_zero), then replays after `replay_delay`.
// The driver (`device`) moves the page back to device memory after each
// completed access, so the race repeats.
//
// Buggy (the seed's v2): migrate_vma_check_page counts references on a
// device-private page too; a waiter's reference, still held while it is
// woken but not yet running (`wake_delay`), makes the page look pinned, the
// fault restores it and the access faults again at once: a livelock that
// C-LIVELOCK reports (R = 256 faults in a row at one address) with the
// reason counter hmm_check_rejects. Fixed (v3): device-private pages are
// never "pinned"; the exact count test of migrate_vma_pages still sees a
// waiter that holds its reference at that moment (4.14's residual,
// kernel-notes 8 q.2: counted as hmm_move_eagain, not a failure); the
// knobs keep the waiter's reference gone before that test (wake_delay <
// copy_delay, replay_delay longer than a round).
//
// Free-running, a woken waiter is scheduled within a few failed rounds, so
// the buggy loop rarely reaches R; the controlled executor's schedules (PCT,
// which keeps the woken waiter off the CPU) make it deterministic.
import { PAGE_SIZE, WORDS_PER_PAGE } from '../shm/layout.js';
import { E3 } from '../shm/era.js';
import { prandom_below } from '../cpu/current.js';
import { EV_MIGRATE_VMA, EV_MIRROR_FAULT, EV_USER } from '../cpu/events.js';
import { switch_mm } from '../cpu/mmu.js';
import { cond_resched } from '../sync/preempt.js';
import { Shadow } from '../check/shadow.js';
import { MIRROR_WAITED, dmirror_idle, dmirror_migrate_to_device, dmirror_replay_delay, hmm_vma_fault } from '../drivers/dmirror.js';
import { BASE, cycle_roles, must, set_path } from './family.js';
import { hmm_setup, in_ram } from './hmm_device_lru.js';
import type { CpuContext, Scenario } from './types.js';

const NPAGES = 4;
/** the page the race is about */
const P = 0;

const roles = cycle_roles(['user', 'mirror', 'device'], ['mirror']);

function run(ctx: CpuContext): void {
  const mm = ctx.setup.mm as number;
  const addr = BASE + P * PAGE_SIZE;
  const sh = new Shadow(mm, BASE, NPAGES, ctx.cpu + 1, 'parent');
  const has_device = roles(ctx.nr_cpus).includes('device');
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
      default: { // user (and solo, which also plays the device)
        set_path(EV_USER);
        switch_mm(mm);
        const w = prandom_below(WORDS_PER_PAGE);
        must(sh.store(P, w), 'store to the page on the device');
        must(sh.check(P, prandom_below(WORDS_PER_PAGE)), 'load of the page');
        switch_mm(0);
        if (!has_device) dmirror_migrate_to_device(mm, addr, 1);
      }
    }
    ctx.op_done();
  }
}

export const hmmFaultLivelock: Scenario = {
  name: 'hmm-fault-livelock',
  title: 'a migration_entry_wait waiter\'s reference makes a device-private page look pinned: the device fault retries forever',
  patch: '004_8d57fd20e497ebda',
  switches: ['hmm-wait-ref-livelock'],
  eras: [E3],
  description: 'migrate_vma_check_page gives device-private pages the generic extra-reference test; the mirror\'s ' +
    'migration_entry_wait reference (held across the wait in 4.14) fails it, the fault restores the page and faults again',
  expect_buggy: 'INFO: livelock: the user CPU retries the device fault R times (reason: migrate_vma_check_page rejected a device-private page)',
  liveness: true,
  signature: /^INFO: livelock: CPU#\d+ retried the fault at mm#\d+ 0x[0-9a-f]+ \d+ times without progress\nmmrace: reason: migrate_vma_check_page rejected a device-private page/,
  sizes: { nr_pages: 256, nr_mm: 8, nr_vma: 32, nr_dev_pages: 16 },
  roles,
  setup: () => hmm_setup(NPAGES, { copy_delay_us: 200, replay_delay_us: 600, wake_delay_us: 50 }, NPAGES),
  run,
};
