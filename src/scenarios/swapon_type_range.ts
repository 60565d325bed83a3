// Seed 000, sys_swapon: "unnecessary obfuscation from sys_swapon's range
// check on swap type, which blew up causing memory corruption once swapless
// migration made MAX_SWAPFILES no longer 2 ^ MAX_SWAPFILES_SHIFT". An admin
// switches on every swap type there is, then one more, while the family
// workload swaps and migrates. Fixed: the extra swapon gets -EPERM. Buggy:
// it is given type 30 and initialises swap_info[30], past the array: the
// model's bounds checker reports the write (as KASAN would) before the
// guard data after swap_info[] is overwritten.
import { prandom_below } from '../cpu/current.js';
import { EV_SWAPOFF, EV_SWAPON, trace_event } from '../cpu/events.js';
import { OOPS_SHADOW, fail } from '../check/bug.js';
import { EPERM, sys_swapoff, sys_swapon } from '../mm/swapfile.js';
import { MAX_SWAPFILES } from '../mm/swapops.js';
import { cycle_roles, family_setup, run_family, set_path } from './family.js';
import type { CpuContext, Scenario } from './types.js';

const roles = cycle_roles(['admin', 'reclaimer', 'toucher'], ['migrator', 'forker', 'reclaimer']);
const DEVICE_SLOTS = 8;

/** swapon every type, then one more (it must fail with -EPERM), then swapoff them all */
function admin_cycle(): void {
  set_path(EV_SWAPON);
  const types: number[] = [];
  for (let k = 0; k < MAX_SWAPFILES; k++) {
    const t = sys_swapon(DEVICE_SLOTS, prandom_below(4));
    trace_event(EV_SWAPON, t, t);
    if (t < 0) fail(OOPS_SHADOW, `admin: swapon #${k + 1} failed with ${t} while ${MAX_SWAPFILES} types exist`);
    types.push(t);
  }
  const extra = sys_swapon(DEVICE_SLOTS, 0);
  trace_event(EV_SWAPON, extra, extra);
  if (extra !== EPERM) fail(OOPS_SHADOW, `admin: swapon #${MAX_SWAPFILES + 1} returned ${extra}, expected -EPERM (all ${MAX_SWAPFILES} swap types in use)`);
  set_path(EV_SWAPOFF);
  for (const t of types.reverse()) {
    let rc = sys_swapoff(t);
    for (let tries = 0; rc !== 0 && tries < 10; tries++) rc = sys_swapoff(t); // -ENOMEM: memory is short for now
    trace_event(EV_SWAPOFF, t, rc);
    if (rc !== 0) fail(OOPS_SHADOW, `admin: swapoff of type ${t} failed with ${rc}`);
  }
}

function run(ctx: CpuContext): void {
  run_family(ctx, ['toucher', 'solo'], roles, {
    admin: () => admin_cycle(),
    solo: (f) => { const r = prandom_below(8); if (r === 0) admin_cycle(); else if (r < 4) f.reclaim_one(); else f.touch(); },
  });
}

export const swaponTypeRange: Scenario = {
  name: 'swapon-type-range',
  title: 'swapon past MAX_SWAPFILES: -EPERM, or memory corruption with the old range check',
  seed: '000_f600569768ae13bb',
  switches: ['swapon-type-range'],
  description: 'sys_swapon compares the type with the largest pte-encodable type (31) instead of MAX_SWAPFILES (30)',
  expect_buggy: 'BUG: KASAN: global-out-of-bounds in sys_swapon (swap_info[30])',
  sizes: { nr_pages: 1024, nr_mm: 32, nr_vma: 128 },
  roles,
  setup: () => family_setup(32, 1),
  run,
};
