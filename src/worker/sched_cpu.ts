// The controlled executor, CPU side: the hooks at every preemption point.
// The CPU holding the token counts the point, asks the strategy who runs
// next and, if that is another CPU, hands the token over and sleeps on its
// own run word until the token comes back. A CPU that finds its lock, page
// or TLB flush busy yields (cpu_relax -> on_wait) and counts as waiting
// until some lock is released. Decisions are counted, never timed: the
// schedule and the seed alone decide the run.
import { GLOBALS, SCHED } from '../shm/layout.js';
import { BASES, i32, sizes } from '../shm/machine.js';
import { HALTED, PP_EXIT, PP_WAIT, set_preempt_hooks } from '../sync/preempt.js';
import { OOPS_SOFTLOCKUP, record_oops } from '../check/bug.js';
import { HUNG_TASK_TIMEOUT_SECS, type HungTask, cpu_states, hung_tasks_report, lockup_report, softlockup_thresh_secs, waits_sleeping } from '../check/lockup.js';
import { Segments, enabled_mask, next_to_unwind, pick_next } from './strategies.js';
import { TASK_DONE, TASK_RUNNABLE, TASK_WAITING, WHY_BLOCK, WHY_EXIT, WHY_PREEMPT } from './sched_state.js';
import { sleep_cut, sleep_install } from './sleep_cut.js';

/** what the executor hands a CPU it runs under control */
export interface ControlledTask {
  /** every CPU's role (the liveness report names them) */
  roles: string[];
  /** replay segments, flat (cpu, pp, spin); empty for random and PCT */
  segments: number[];
  /** capture the call site of every hand-off (for the ladder; slow) */
  sites: boolean;
  /** exhaustive search: the choice at each decision of the prefix; every decision is then logged (trail) */
  choices?: number[];
  /** xspeed: exhaustive search: the CPUs asleep when the prefix ends (src/worker/footprint.ts flat_sleep) */
  sleep?: number[];
  /** capture: log every point's kind and object (compared with the free run's record) */
  points?: boolean;
}

/** one decision in a CPU's trail (exhaustive search): decision number, why, kind, object, enabled CPUs (mask), the CPU chosen */
export const TRAIL_FIELDS = 6;

/**
 * one hand-off in a CPU's log: decision number, pp, spin, to, why, event seq,
 * and what the step at that point touches: kind (PP_*) and object (src/sync/preempt.ts)
 */
export const LOG_FIELDS = 8;

let me = 0;
let n = 0;
let segs: Segments = new Int32Array(0);
let log: number[] = [];
let sites: string[] | null = null;
let roles: string[] = [];
let choices: Int32Array | undefined;
let trail: number[] | null = null;
/** capture: every point's kind and object, in order (null: not asked) */
let points: number[] | null = null;
/** this CPU's last preemption point: [kind, object] (preallocated: a wait names what its point named) */
const last_point = new Int32Array(2);

export function install_controlled(cpu: number, t: ControlledTask): void {
  me = cpu;
  n = sizes.nr_cpus;
  segs = Int32Array.from(t.segments);
  log = [];
  sites = t.sites ? [] : null;
  roles = t.roles;
  choices = t.choices ? Int32Array.from(t.choices) : undefined;
  trail = t.choices ? [] : null;
  sleep_install(t.sleep, t.choices?.length ?? 0, n); // xspeed
  points = t.points ? [] : null;
  set_preempt_hooks(on_point, on_wait, { release: on_release, controlled: true });
}

/** this CPU's hand-offs (returned with its result when the run is over) */
export function controlled_log(): { switches: number[]; sites?: string[]; trail?: number[]; points?: number[] } {
  const r: { switches: number[]; sites?: string[]; trail?: number[]; points?: number[] } = sites ? { switches: log, sites } : { switches: log };
  if (trail) r.trail = trail;
  if (points) r.points = points;
  return r;
}

const halted = () => i32[BASES.globals + GLOBALS.halt] !== 0;

/** sleep until this CPU holds the token (the executor's watchdog may abort the run) */
export function wait_token(): void {
  const w = BASES.sched + SCHED.run + me;
  while (Atomics.load(i32, w) === 0) {
    if (Atomics.wait(i32, w, 0, 500) === 'timed-out' && Atomics.load(i32, BASES.sched + SCHED.abort) !== 0) throw HALTED;
  }
}

function pass_token(next: number): void {
  const s = BASES.sched;
  i32[s + SCHED.token] = next;
  // clear our word first: the next CPU may hand the token straight back
  Atomics.store(i32, s + SCHED.run + me, 0);
  Atomics.store(i32, s + SCHED.run + next, 1);
  Atomics.notify(i32, s + SCHED.run + next, 1);
}

/** where this CPU is (function names of the kernel path), for the ladder */
function call_site(): string {
  const names: string[] = [];
  for (const l of (new Error().stack ?? '').split('\n').slice(1)) {
    const m = /at (?:\S+\.)?(\w+) \((.*)\)$/.exec(l.trim());
    if (!m || /src\/worker\/|sync\/preempt\.|node:/.test(m[2])) continue;
    names.push(m[1]);
    if (names.length === 3) break;
  }
  return names.join(' < ');
}

/**
 * no CPU can go on: a liveness failure. The scheduler is the detector (it
 * sees every CPU wait), so the first line is mmrace's; then the first CPU left as the
 * kernel's detector would report it once its threshold passed (a controlled
 * run has no clock), and what each CPU holds and waits for.
 */
function deadlock(step: number): void {
  const s = BASES.sched;
  for (let c = 0; c < n; c++) {
    if (i32[s + SCHED.state + c] === TASK_DONE) continue;
    const head = `mmrace: controlled run deadlocked at decision ${step}: every CPU left waits and none can go on\n`;
    if (waits_sleeping(c)) {
      // khungtaskd's one scan names every task in a sleeping wait (this is called once; the run stops here)
      const hung: HungTask[] = [];
      for (let d = c; d < n; d++) if (i32[s + SCHED.state + d] !== TASK_DONE && waits_sleeping(d)) hung.push({ cpu: d, secs: HUNG_TASK_TIMEOUT_SECS });
      record_oops(OOPS_SOFTLOCKUP, `${head}${hung_tasks_report(hung, roles)}`, 0, 0, 0, 0, false);
    } else {
      record_oops(OOPS_SOFTLOCKUP, `${head}${lockup_report(c, softlockup_thresh_secs(), roles)}`, 0, 0, 0, 0, false);
    }
    return;
  }
}

/** the step bound: ask the CPUs to stop, and call it a livelock if they do not within the grace */
function over_bound(step: number): boolean {
  const s = BASES.sched;
  const max = i32[s + SCHED.max_steps];
  if (step === max) {
    Atomics.store(i32, BASES.globals + GLOBALS.stop, 1);
    return false;
  }
  if (step < max + i32[s + SCHED.grace_steps]) return false;
  record_oops(OOPS_SOFTLOCKUP, `mmrace: controlled run livelocked: ${step} decisions, the CPUs did not stop within ${i32[s + SCHED.grace_steps]} decisions of the step bound ${max}\n${cpu_states(roles)}`, 0, 0, 0, 0, false);
  return true;
}

/**
 * one decision of the token holder, at a point of `kind` on `object`;
 * returns once this CPU holds the token again (or has left)
 */
function decide(why: number, kind: number, object: number): void {
  const s = BASES.sched;
  const step = i32[s + SCHED.step] + 1;
  i32[s + SCHED.step] = step;
  if (step >= i32[s + SCHED.max_steps] && over_bound(step)) return;
  const next = pick_next(me, why !== WHY_PREEMPT, n, step, segs, choices);
  if (trail) trail.push(step, why, kind, object, enabled_mask(me, why !== WHY_PREEMPT, n), next);
  if (trail && sleep_cut(me, step, next, kind, object)) return; // xspeed: redundant from here: halted, this CPU unwinds
  if (next === me) return;
  if (next < 0) { deadlock(step); return; }
  log.push(step, i32[s + SCHED.pp + me], i32[s + SCHED.spin + me], next, why, Atomics.load(i32, BASES.seq), kind, object);
  if (sites) sites.push(why === WHY_EXIT ? 'exit' : call_site());
  if (why === WHY_PREEMPT) i32[s + SCHED.preemptions] += 1;
  pass_token(next);
  if (why !== WHY_EXIT) wait_token();
}

/** preempt_point(kind, object): a program point before a step of `kind` on `object` */
function on_point(kind: number, object: number): void {
  last_point[0] = kind; last_point[1] = object;
  if (points) points.push(kind, object);
  const s = BASES.sched;
  i32[s + SCHED.pp + me] += 1;
  i32[s + SCHED.spin + me] = 0;
  decide(WHY_PREEMPT, kind, object);
  if (halted()) throw HALTED;
}

/** preempt_point_release(lock): a program point after a release, which may end others' waits; never throws */
function on_release(kind: number, object: number): void {
  last_point[0] = kind; last_point[1] = object;
  if (points) points.push(kind, object);
  const s = BASES.sched;
  i32[s + SCHED.gen] += 1;
  i32[s + SCHED.pp + me] += 1;
  i32[s + SCHED.spin + me] = 0;
  decide(WHY_PREEMPT, kind, object);
}

/** cpu_relax() in a wait loop: this CPU cannot go on until something is released */
function on_wait(): void {
  if (halted()) throw HALTED;
  const s = BASES.sched;
  i32[s + SCHED.spin + me] += 1;
  i32[s + SCHED.state + me] = TASK_WAITING;
  i32[s + SCHED.wait_gen + me] = i32[s + SCHED.gen];
  decide(WHY_BLOCK, PP_WAIT, last_point[1]); // waits for what its last point named
  i32[s + SCHED.state + me] = TASK_RUNNABLE;
  if (halted()) throw HALTED;
}

/** the CPU's task is over (done, BUG or unwound): a last decision, then the token goes on for good */
export function controlled_exit(): void {
  const s = BASES.sched;
  if (Atomics.load(i32, s + SCHED.abort) !== 0) return; // the executor is tearing the run down
  i32[s + SCHED.pp + me] += 1;
  i32[s + SCHED.spin + me] = 0;
  i32[s + SCHED.state + me] = TASK_DONE;
  i32[s + SCHED.gen] += 1;
  if (!halted()) decide(WHY_EXIT, PP_EXIT, -1);
  // after a halt the CPUs unwind one by one, lowest number first
  if (halted() && i32[s + SCHED.token] === me) {
    const next = next_to_unwind(n);
    if (next >= 0) pass_token(next);
  }
}
