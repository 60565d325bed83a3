// The body of a CPU worker: attach to the Machine, wait at the start
// barrier, run the scenario's role until told to stop, unwind on a halt.
import { CPU_DONE, CPU_HALTED, CPU_RUNNING, GLOBALS, PERCPU } from '../shm/layout.js';
import { B, attachMachine, i32 } from '../shm/machine.js';
import { current, set_current_cpu } from '../cpu/current.js';
import { KernelBug, OOPS_INTERNAL, record_oops } from '../check/bug.js';
import { Halted } from '../sync/preempt.js';
import { install_jitter } from './jitter.js';
import { SCENARIOS, loadScenario } from '../scenarios/registry.js';
import type { CpuContext, Scenario } from '../scenarios/types.js';
import type { CpuResult, CpuTask } from './task.js';

function make_ctx(task: CpuTask): CpuContext {
  const gb = B.globals;
  const budget = i32[gb + GLOBALS.ops_budget];
  return {
    cpu: task.cpu, nr_cpus: task.nr_cpus, role: task.role, setup: task.setup,
    should_stop: () => Atomics.load(i32, gb + GLOBALS.stop) !== 0 || Atomics.load(i32, gb + GLOBALS.halt) !== 0,
    op_done: () => {
      const pc = current.pcpu;
      i32[pc + PERCPU.ops] += 1;
      Atomics.add(i32, pc + PERCPU.progress, 1);
      const total = Atomics.add(i32, B.ops, 1) + 1;
      if (budget > 0 && total >= budget) Atomics.store(i32, gb + GLOBALS.stop, 1);
    },
  };
}

export async function cpu_main(task: CpuTask): Promise<CpuResult> {
  attachMachine(task.sab);
  set_current_cpu(task.cpu, task.seed);
  install_jitter(task.jitter);
  const pc = current.pcpu;
  let scenario: Scenario;
  try {
    scenario = SCENARIOS.find((s) => s.name === task.scenario) ?? (await loadScenario(new URL(task.scenario).pathname));
  } catch (e) {
    return { cpu: task.cpu, status: 'error', message: (e as Error).message };
  }
  // start barrier: every CPU runs from the same instant (a queued CPU would deadlock the others)
  Atomics.add(i32, B.globals + GLOBALS.barrier, 1);
  Atomics.notify(i32, B.globals + GLOBALS.barrier);
  if (Atomics.wait(i32, B.globals + GLOBALS.go, 0, task.barrier_timeout_ms) === 'timed-out') {
    return { cpu: task.cpu, status: 'error', message: 'start barrier timed out' };
  }
  Atomics.store(i32, pc + PERCPU.state, CPU_RUNNING);
  try {
    scenario.run(make_ctx(task));
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
