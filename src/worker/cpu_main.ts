// The body of a CPU worker: attach to the Machine, wait at the start
// barrier, run the scenario's role until told to stop, unwind on a halt.
// Under the controlled executor the CPU runs only while it holds the token
// (src/worker/sched_cpu.ts) and hands it on when its role is over.
import { CPU_DONE, CPU_HALTED, CPU_RUNNING, GLOBALS, PERCPU, SCHED } from '../shm/layout.js';
import { BASES, attachMachine, i32 } from '../shm/machine.js';
import { era_attach } from '../shm/era.js';
import { current, set_current_cpu } from '../cpu/current.js';
import { livelock_attach } from '../check/livelock.js';
import { set_compact_low_mark } from '../mm/compaction.js';
import { lockdep_sys_exit } from '../check/lockup.js';
import { lock_stat_attach } from '../sync/lock_stat.js';
import { events_attach, trace_op_end, tracing } from '../cpu/events.js';
import { lat_op_done, lat_op_start } from '../cpu/latency.js';
import { blk_drain, blk_run_queue } from '../cpu/io.js';
import { ops_budget_spent, stat_epoch_attach, stat_epoch_check } from './warmup.js';
import { KernelBug, OOPS_INTERNAL, record_oops } from '../check/bug.js';
import { Halted } from '../sync/preempt.js';
import { JITTER_ADAPTIVE_ALWAYS, JITTER_RECORD, install_jitter } from './jitter.js';
import { controlled_exit, controlled_log, install_controlled, wait_token } from './sched_cpu.js';
import { recorded_steps } from './sched_record.js';
import { overlap_attach, overlap_sample } from './overlap.js';
import { find_builtin, load_module } from '../scenarios/registry.js';
import type { CpuContext, Scenario } from '../scenarios/types.js';
import type { CpuResult, CpuTask } from './task.js';

function make_ctx(task: CpuTask): CpuContext {
  const gb = BASES.globals;
  // a free run's ops budget (GLOBALS.ops_budget) is checked by ops_budget_spent, every few ops (src/worker/warmup.ts)
  // a controlled run gives every CPU the same number of operations, so that
  // a strategy that favours one CPU does not let it spend the others' budget
  const quota = task.controlled ? i32[BASES.sched + SCHED.ops_quota] : 0;
  const pcpu = current.pcpu;
  return {
    cpu: task.cpu, nr_cpus: task.nr_cpus, role: task.role, setup: task.setup,
    should_stop: quota > 0
      ? () => Atomics.load(i32, gb + GLOBALS.stop) !== 0 || Atomics.load(i32, gb + GLOBALS.halt) !== 0 || i32[pcpu + PERCPU.ops] >= quota
      : () => Atomics.load(i32, gb + GLOBALS.stop) !== 0 || Atomics.load(i32, gb + GLOBALS.halt) !== 0,
    op_done: () => {
      const pc = current.pcpu;
      // the return to user space: a lock still held was leaked by the operation's path
      if ((i32[pc + PERCPU.nheld] | i32[pc + PERCPU.held_over]) !== 0) lockdep_sys_exit(current.cpu, current.comm);
      lat_op_done();
      if (tracing) trace_op_end();
      blk_run_queue(); // no lock held: complete other CPUs' I/O (nothing to do, and no preemption point, if none is queued)
      stat_epoch_check();
      i32[pc + PERCPU.ops] += 1;
      Atomics.add(i32, pc + PERCPU.progress, 1);
      overlap_sample(); // load: did another CPU progress since this CPU's last op (free runs only)
      // no global op counter that every CPU bumps: every few ops this CPU sums the CPUs' counts
      if (ops_budget_spent()) Atomics.store(i32, gb + GLOBALS.stop, 1);
    },
  };
}

export async function cpu_main(task: CpuTask): Promise<CpuResult> {
  attachMachine(task.sab);
  era_attach();
  set_current_cpu(task.cpu, task.seed);
  current.comm = task.role;
  events_attach();
  lock_stat_attach(); // --no-lock-stat
  livelock_attach(); // seed 004: a pooled worker's C-LIVELOCK streak starts afresh in each run
  set_compact_low_mark(0); // seed 002: a pooled worker's compaction mark is its last scenario's until this one's run sets its own
  stat_epoch_attach();
  if (task.controlled) install_controlled(task.cpu, task.controlled);
  else install_jitter(task.jitter);
  overlap_attach(!task.controlled, task.nr_cpus, task.seed, (task.jitter & JITTER_ADAPTIVE_ALWAYS) !== 0); // load
  let scenario: Scenario;
  try {
    // a module's URL as given: percent-encoded (spaces, %, non-ASCII), perhaps asking for a fresh instance
    scenario = find_builtin(task.scenarioImport) ?? (await load_module(task.scenarioImport));
  } catch (e) {
    return { cpu: task.cpu, status: 'error', message: (e as Error).message };
  }
  // start barrier: every CPU runs from the same instant (a queued CPU would deadlock the others)
  Atomics.add(i32, BASES.globals + GLOBALS.barrier, 1);
  Atomics.notify(i32, BASES.globals + GLOBALS.barrier);
  if (Atomics.wait(i32, BASES.globals + GLOBALS.go, 0, task.barrier_timeout_ms) === 'timed-out') {
    return { cpu: task.cpu, status: 'error', message: 'start barrier timed out' };
  }
  const r = run_role(task, scenario);
  if (task.controlled) {
    controlled_exit(); // the token goes on to the next CPU
    return { ...r, ...controlled_log() };
  }
  if ((task.jitter & JITTER_RECORD) !== 0) r.record = recorded_steps();
  return r;
}

function run_role(task: CpuTask, scenario: Scenario): CpuResult {
  const pc = current.pcpu;
  Atomics.store(i32, pc + PERCPU.state, CPU_RUNNING);
  try {
    if (task.controlled) wait_token(); // one CPU at a time: the first turn is the scheduler's
    const ctx = make_ctx(task);
    lat_op_start();
    scenario.run(ctx);
    blk_drain(); // leave nothing in flight: the end-of-run sweep is a quiescent point
    Atomics.store(i32, pc + PERCPU.state, CPU_DONE);
    return { cpu: task.cpu, status: 'done' };
  } catch (e) {
    Atomics.store(i32, pc + PERCPU.state, CPU_HALTED);
    if (e instanceof Halted) return { cpu: task.cpu, status: 'halted' };
    if (e instanceof KernelBug) return { cpu: task.cpu, status: 'bug', message: e.message };
    const err = e as Error;
    record_oops(OOPS_INTERNAL, `internal error on CPU ${task.cpu}: ${err?.message ?? String(e)}\n${err?.stack ?? ''}`, 0, 0, 0, 0, false);
    return { cpu: task.cpu, status: 'error', message: err?.message ?? String(e) };
  }
}
