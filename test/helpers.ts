// Shared test setup: a Machine on this thread, booted, as CPU 0.
import { createMachineBuffer } from '../src/shm/machine.js';
import { DEFAULT_SIZES, MachineSizes } from '../src/shm/layout.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { mem_init } from '../src/mm/init.js';
import { set_preempt_hooks } from '../src/sync/preempt.js';

export function boot(sizes: Partial<MachineSizes> = {}, bugs = 0): SharedArrayBuffer {
  const sab = createMachineBuffer({ ...DEFAULT_SIZES, nr_cpus: 1, ...sizes });
  mem_init({ bugs, jitter: 0, seed: 1, ops_budget: 0 });
  set_current_cpu(0, 1);
  set_preempt_hooks(null, null);
  return sab;
}
