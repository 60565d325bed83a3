// What a scenario is: a setup run once on the boot CPU, a role per CPU run
// inside each worker, the switches it is about, and what it expects.
import type { MachineSizes } from '../shm/layout.js';
import type { SwitchInfo } from '../shm/switches.js';

/** plain data handed from setup to every CPU (structured-clone safe) */
export type SetupState = Record<string, number | number[] | string>;

export interface CpuContext {
  cpu: number;
  nr_cpus: number;
  role: string;
  setup: SetupState;
  /** true once the executor wants CPUs to stop (duration or op budget spent, or halted) */
  should_stop(): boolean;
  /** count one completed operation (feeds --ops, ops/s and the watchdog) */
  op_done(): void;
}

export interface Scenario {
  name: string;
  title: string;
  /** the seed patch this scenario reproduces (its id under shared/seeds, e.g. '000_f600569768ae13bb'); not an RNG seed */
  patch: string;
  /** bug switches turned on by --protocol buggy */
  switches: string[];
  /**
   * optional: baseline switches (a later kernel's fix, off in the era as
   * released) that this scenario's fixed run turns off too, because its load
   * meets their races as well (e.g. swapoff cycling meets swapin-swapoff-race);
   * the buggy run leaves them at the era's baseline. Printed by `mmrace list`
   */
  also_fixed?: string[];
  /** the eras (src/shm/era.ts, E0..E4 as 0..4) this scenario runs in, the default first; absent: [E2].
   *  --era may pick another only where the scenario lists more than one */
  eras?: number[];
  /**
   * the model's bounds checker (src/check/bounds.ts): 'halt' (default) fails
   * the run at the first access past a kernel array; 'note' records the first
   * and lets the run go on, to show what the corruption does next
   */
  bounds?: 'halt' | 'note';
  description: string;
  sizes?: Partial<MachineSizes>;
  /** what the buggy protocol is expected to show, and that the fixed one must not */
  expect_buggy: string;
  /**
   * optional: the failure text (splat or violation) the buggy protocol must
   * show for a run to count as this scenario reproduced, e.g.
   * /BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page/. `npm run bench`
   * counts only matching failures; absent, any failure counts (and says so)
   */
  signature?: RegExp;
  /**
   * optional: set when the buggy failure does not wait for an interleaving
   * (why, in a few words, e.g. 'the 31st swapon'); `npm run bench` then
   * prints its time as a note, not as a race against the 1 s goal
   */
  deterministic?: string;
  /** optional (seed 004): the buggy failure is a livelock (outcome liveness), which then counts as reproduced with the signature */
  liveness?: boolean;
  /**
   * optional: the CPUs the scenario's recipe runs on, when a role its race
   * needs is dealt out only from that many (cycle_roles gives the first ones
   * to 2 CPUs): `npm run bench` measures its time to first failure there
   * rather than on its usual 2, and names the count. `mmrace run` keeps
   * the user's --cpus.
   */
  cpus?: number;
  /**
   * optional: PCT's window (k) for this race on 2 CPUs, used by explore and
   * toReproduce when the caller gives no k. The measured default (the whole
   * run on 2 CPUs, src/search/explore.ts calibrate_k) can be far from the
   * best window (orphaned_migration_entry.ts says by how much for its race).
   */
  pct_k?: number;
  /**
   * cov: the race windows (WIN_* of src/cpu/windows.ts) this scenario's race
   * needs. Every run reports how often each opened; a clean run in which one
   * never opened is vacuous and does not pass --expect clean. Absent: none declared.
   * A scenario module may name them as `mmrace list` prints them instead
   */
  windows?: readonly number[];
  /** lib: the scenario's own switches (defineSwitches): bits 24..30, named in reports and schedules like the model's */
  own_switches?: readonly SwitchInfo[];
  /** lib: the names of the scenario's own race windows (defineWindows): slot USER_WINDOW_BASE + i of src/cpu/windows.ts */
  own_windows?: readonly string[];
  /** role of each CPU for a run on nr_cpus CPUs */
  roles(nr_cpus: number): string[];
  /** build the initial state (runs on the boot CPU before the workers start) */
  setup(nr_cpus: number, seed: number): SetupState;
  /** the workload of one CPU: loop until ctx.should_stop() */
  run(ctx: CpuContext): void;
}
