// Booting a Machine for a run, the same for every executor: size it for the
// scenario, switch on the protocol's bug switches, run the scenario's setup
// on the boot CPU (this thread, as CPU 0) and forget that setup's traces.
import { DEFAULT_SIZES, MachineSizes, TRACE_RING_SIZE } from '../shm/layout.js';
import { createMachineBuffer, resetMachineBuffer, validateSizes } from '../shm/machine.js';
import { SwitchError, bugs_mask } from '../shm/switches.js';
import { DEFAULT_ERA, era_label } from '../shm/era.js';
import { enter_boot_context } from '../cpu/current.js';
import { KernelBug } from '../check/bug.js';
import { mem_init, reset_cpu_accounting } from '../mm/init.js';
import { lockdep_booting } from '../sync/lockdep.js';
import type { Scenario, SetupState } from '../scenarios/types.js';

export interface BootOptions {
  scenario: Scenario; protocol: 'buggy' | 'fixed'; cpus: number; seed: number;
  jitter: number; ops: number; extra_switches?: string[];
  /** --trace: timestamps, and a ring per CPU for spans, lock waits and holds */
  trace?: boolean;
  /** false: --no-lock-stat, lock_stat off (CONFIG_LOCK_STAT=n): no counts and no clock reads; lockdep stays */
  lock_stat?: boolean;
  /** --era: only for a scenario that runs in more than one era (default: its first) */
  era?: number;
  /** xspeed: an earlier run's Machine buffer to boot in again (zeroed: a fresh one bit for bit) if its sizes fit */
  reuse?: SharedArrayBuffer | null;
}

export interface Booted {
  sab: SharedArrayBuffer; roles: string[]; setup: SetupState; switches: string[];
  /** the era's pre-patch lines on in this run besides `switches` (src/shm/switches.ts bugs_mask) */
  baseline: string[];
  era: number;
}

/** the era a run of this scenario uses: --era if the scenario allows it, else its first */
export function scenario_era(scenario: Scenario, era?: number): number {
  const eras = scenario.eras ?? [DEFAULT_ERA];
  if (era === undefined) return eras[0];
  if (!eras.includes(era)) {
    throw new SwitchError(eras.length > 1
      ? `scenario '${scenario.name}' runs in ${eras.map(era_label).join(', ')}, not ${era_label(era)}`
      : `scenario '${scenario.name}' models ${era_label(eras[0])} only: --era is for scenarios whose switch spans eras`);
  }
  return era;
}

export function boot_machine(o: BootOptions): Booted {
  const s: MachineSizes = { ...DEFAULT_SIZES, ...o.scenario.sizes, nr_cpus: o.cpus, ...(o.trace ? { trace_ring: TRACE_RING_SIZE } : {}) };
  const err = validateSizes(s);
  if (err) throw new RangeError(err);
  const era = scenario_era(o.scenario, o.era);
  const { mask, names, baseline } = bugs_mask(o.protocol, o.scenario.switches, o.extra_switches, era, o.scenario.also_fixed, o.scenario.own_switches);
  const sab = o.reuse && resetMachineBuffer(o.reuse, s) ? o.reuse : createMachineBuffer(s);
  mem_init({ bugs: mask, jitter: o.jitter, seed: o.seed, ops_budget: o.ops, trace: o.trace, lock_stat: o.lock_stat, era, bounds_note: o.scenario.bounds === 'note' });
  const roles = o.scenario.roles(o.cpus);
  enter_boot_context(o.seed);
  let setup: SetupState;
  lockdep_booting(true);
  try {
    setup = o.scenario.setup(o.cpus, o.seed);
  } catch (e) {
    if (e instanceof KernelBug) throw new Error(`scenario setup hit a kernel failure: ${e.message}`);
    throw new Error(`scenario setup failed: ${(e as Error).message}`);
  } finally {
    lockdep_booting(false);
  }
  reset_cpu_accounting();
  return { sab, roles, setup, switches: names, baseline, era };
}
