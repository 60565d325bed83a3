// Seed 000, sys_swapon: "unnecessary obfuscation from sys_swapon's range
// check on swap type, which blew up causing memory corruption once swapless
// migration made MAX_SWAPFILES no longer 2 ^ MAX_SWAPFILES_SHIFT". An admin
// switches on every swap type there is, then one more with a higher
// priority, lets the workload swap for a while, and switches them all off.
// Fixed: the extra swapon gets -EPERM. Buggy: it is given type 30 and
// initialises swap_info[30], which is the data after the array (the guard).
// mmrace's bounds checker notes that first out-of-bounds write and lets the
// run go on (bounds: 'note'), to show what 2.6.17 then did: reclaim puts the
// family's pages on "device 30", whose swap ptes are read as migration
// entries (type 30 is SWP_MIGRATION_READ), and the next fault on one hits
// BUG_ON(!PageLocked) in migration_entry_to_page on a "pfn" that is really
// the slot offset. If nothing faults on one in time, the end-of-run sweep
// finds them as migration entries that outlive any migration (I-MIGENT) and
// the guard overwritten (I-SWAPINFO).
import { prandom_below } from '../cpu/current.js';
import { EV_SWAPOFF, EV_SWAPON, trace_event } from '../cpu/events.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { EINTR, EPERM, sys_swapoff, sys_swapon } from '../mm/swapfile.js';
import { MAX_SWAPFILES } from '../mm/swapops.js';
import { cycle_roles, family_setup, run_family, set_path } from './family.js';
import type { CpuContext, Scenario } from './types.js';
import { WIN_SWAPON_TYPE_PAST_MAX } from '../cpu/windows.js'; // cov

const more = cycle_roles(['admin', 'reclaimer', 'toucher'], ['migrator', 'forker', 'reclaimer']);
/** on 2 CPUs the second runs the parent's program and reclaim in turn, so a fault can meet what reclaim did */
const roles = (n: number) => (n === 2 ? ['admin', 'reclaim-touch'] : more(n));
const DEVICE_SLOTS = 8;
/** admin operations (a look at /proc/swaps each) between switching the devices on and off */
const UP_OPS = 200;

/** the admin's devices while they are on, and how long they have been */
class Admin {
  private readonly types: number[] = [];
  private up = 0;

  /** one admin operation: switch everything on, wait, switch everything off */
  step(): void {
    if (this.types.length === 0) this.swapon_all();
    else if (++this.up >= UP_OPS) this.swapoff_all();
  }

  /** every type there is, then one more with a higher priority: -EPERM, or (buggy) type 30 */
  private swapon_all(): void {
    set_path(EV_SWAPON);
    for (let k = 0; k < MAX_SWAPFILES; k++) {
      const t = sys_swapon(DEVICE_SLOTS, prandom_below(4));
      trace_event(EV_SWAPON, t, t);
      if (t < 0) fail(OOPS_SHADOW, `admin: swapon #${k + 1} failed with ${t} while ${MAX_SWAPFILES} types exist`);
      this.types.push(t);
    }
    const extra = sys_swapon(DEVICE_SLOTS, 8);
    trace_event(EV_SWAPON, extra, extra);
    if (extra >= 0) this.types.push(extra); // the admin cannot tell: the kernel said yes
    else if (extra !== EPERM) fail(OOPS_SHADOW, `admin: swapon #${MAX_SWAPFILES + 1} returned ${extra}, expected -EPERM or a type`);
    this.up = 0;
  }

  private swapoff_all(): void {
    set_path(EV_SWAPOFF);
    // newest first; each device switched off leaves the list, so an interrupted pass leaves exactly those still on
    while (this.types.length) {
      const t = this.types[this.types.length - 1];
      let rc = sys_swapoff(t);
      for (let tries = 0; rc !== 0 && rc !== EINTR && tries < 10; tries++) rc = sys_swapoff(t); // -ENOMEM: memory is short for now
      trace_event(EV_SWAPOFF, t, rc);
      if (rc === EINTR) return; // the run is ending (the model's signal): the devices left stay on, for the sweep
      if (rc !== 0) fail(OOPS_SHADOW, `admin: swapoff of type ${t} failed with ${rc}`);
      this.types.pop();
    }
  }
}

function run(ctx: CpuContext): void {
  const admin = new Admin();
  run_family(ctx, ['toucher', 'reclaim-touch', 'solo'], roles, {
    admin: () => admin.step(),
    'reclaim-touch': (f) => { if (prandom_below(2) === 0) f.reclaim_one(); else f.touch(); },
    solo: (f) => { const r = prandom_below(8); if (r === 0) admin.step(); else if (r < 4) f.reclaim_one(); else f.touch(); },
  });
}

export const swaponTypeRange: Scenario = {
  name: 'swapon-type-range',
  title: 'swapon past MAX_SWAPFILES: -EPERM, or memory corruption with the old range check',
  patch: '000_f600569768ae13bb',
  switches: ['swapon-type-range'],
  windows: [WIN_SWAPON_TYPE_PAST_MAX], // cov: src/cpu/windows.ts
  description: 'sys_swapon compares the type with the largest pte-encodable type (31) instead of MAX_SWAPFILES (30)',
  expect_buggy: 'kernel BUG: BUG_ON(!PageLocked(p)) in migration_entry_to_page (a type-30 swap pte read as a migration entry), after mmrace notes the out-of-bounds write of swap_info[30]; else I-SWAPINFO at the end',
  // the consequence of the write left to land in the guard, or the guard itself at the end
  // a fault on a type-30 swap pte, or (nothing faulted on one) the sweep finding them as migration entries or the guard overwritten
  signature: /BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page|I-MIGENT|I-SWAPINFO/,
  deterministic: 'the 31st swapon takes type 30, whatever the interleaving',
  sizes: { nr_pages: 1024, nr_mm: 32, nr_vma: 128 },
  bounds: 'note',
  roles,
  setup: () => family_setup(32, 1),
  run,
};
