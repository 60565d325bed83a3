// Shared test setup: a Machine on this thread, booted, as CPU 0.
import { DEFAULT_SIZES, MachineSizes } from '../src/shm/layout.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { mem_init } from '../src/mm/init.js';
import { set_preempt_hooks } from '../src/sync/preempt.js';
import { Shadow } from '../src/check/shadow.js';
import { do_mmap_anon, mm_alloc } from '../src/mm/mmap.js';
import { PROT_READ, PROT_WRITE } from '../src/mm/mm_types.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { pte_pfn } from '../src/mm/pgtable.js';
import { createMachineBuffer, i32 } from '../src/shm/machine.js';

export function boot(sizes: Partial<MachineSizes> = {}, bugs = 0, era?: number): SharedArrayBuffer {
  const sab = createMachineBuffer({ ...DEFAULT_SIZES, nr_cpus: 1, ...sizes });
  mem_init({ bugs, jitter: 0, seed: 1, ops_budget: 0, era });
  set_current_cpu(0, 1);
  set_preempt_hooks(null, null);
  return sab;
}

export const BASE = 0x20000;

/** a process with an anonymous region of npages, each page written once through its shadow */
export function parent(npages = 4) {
  const mm = mm_alloc();
  do_mmap_anon(mm, BASE, npages * 4096, PROT_READ | PROT_WRITE);
  const sh = new Shadow(mm, BASE, npages, 1, 'parent');
  for (let p = 0; p < npages; p++) sh.store(p, 0);
  const slot = (p: number) => pte_offset(pte_table(mm, BASE + p * 4096), BASE + p * 4096);
  return { mm, sh, slot, pfn: (p: number) => pte_pfn(i32[slot(p)]) };
}
