// mm->cpu_vm_mask (issue 16, scaling): flush_tlb_page waits out the accesses
// in flight of the CPUs in the mm's mask only, so a flush never reads the
// announce word of a CPU that does not run the mm (disjoint work shares no
// cache line there). A CPU joins an mm's mask before it announces one of its
// slots (tlb_switch_mm, from the MMU) and leaves it when it moves to another
// mm; the bits stay with an mm id across its reuse, because a CPU's
// active_mm may still name the freed id.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BASE, boot, parent } from './helpers.js';
import { CPUSTAT, MM, PERCPU, PHYS_STRIDE, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { i32, mm_base, percpu_base, phys_base } from '../src/shm/machine.js';
import { current, set_current_cpu } from '../src/cpu/current.js';
import { flush_tlb_page } from '../src/cpu/tlb.js';
import { user_access } from '../src/cpu/mmu.js';
import { mm_alloc } from '../src/mm/mmap.js';
import { mmput } from '../src/mm/fork.js';

const mask = (mm: number) => i32[mm_base(mm) + MM.cpu_vm_mask];
const active = (cpu: number) => i32[percpu_base(cpu) + PERCPU.active_mm];
const waits = () => i32[current.stat + CPUSTAT.tlb_flush_waits];

/** another thread clears `cpu`'s announce after `ms`, as the end of its access would */
function end_access_later(sab: SharedArrayBuffer, cpu: number, ms: number): Promise<void> {
  const code = `const { workerData: { sab, at, ms } } = require('node:worker_threads');
    const i32 = new Int32Array(sab);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    Atomics.store(i32, at, 0); Atomics.notify(i32, at);`;
  const w = new Worker(code, { eval: true, workerData: { sab, at: percpu_base(cpu) + PERCPU.announce, ms } });
  return new Promise((resolve, reject) => { w.on('exit', () => resolve()); w.on('error', reject); });
}

describe('mm->cpu_vm_mask', () => {
  it('the MMU puts this CPU in the mask of the mm it walks, and takes it out of the previous one', () => {
    boot({ nr_cpus: 3 });
    const a = parent(2), b = parent(2);
    set_current_cpu(2, 1);
    user_access(a.mm, BASE, 0, false, 0);
    expect(mask(a.mm) & 4).toBe(4);
    expect(active(2)).toBe(a.mm);
    user_access(b.mm, BASE, 0, false, 0);
    expect(mask(a.mm) & 4).toBe(0);
    expect(mask(b.mm) & 4).toBe(4);
    expect(active(2)).toBe(b.mm);
  });

  it('a flush does not wait for a CPU outside the mm\'s mask, whatever its announce word says', () => {
    boot({ nr_cpus: 2 });
    const a = parent(1), b = parent(1);
    set_current_cpu(1, 1);
    user_access(b.mm, BASE, 0, false, 0); // CPU 1 runs b only
    i32[percpu_base(1) + PERCPU.announce] = a.slot(0); // a stale announce of a's slot
    set_current_cpu(0, 1);
    flush_tlb_page(a.mm, a.slot(0));
    expect(waits()).toBe(0);
  });

  it('a flush waits until a CPU in the mask ends its access through the slot', async () => {
    const sab = boot({ nr_cpus: 2 });
    const a = parent(1);
    set_current_cpu(1, 1);
    user_access(a.mm, BASE, 0, false, 0);
    i32[percpu_base(1) + PERCPU.announce] = a.slot(0); // CPU 1 is inside an access through the slot
    set_current_cpu(0, 1);
    const done = end_access_later(sab, 1, 30);
    flush_tlb_page(a.mm, a.slot(0));
    expect(waits()).toBe(1);
    expect(i32[percpu_base(1) + PERCPU.announce]).toBe(0); // returned only after the access ended
    await done;
  });

  it('the bits stay with an mm id across its reuse: a CPU whose active_mm names the id is still waited for', async () => {
    const sab = boot({ nr_cpus: 2 });
    const a = parent(1);
    set_current_cpu(1, 1);
    user_access(a.mm, BASE, 0, false, 0);
    set_current_cpu(0, 1);
    mmput(a.mm);
    const again = mm_alloc();
    expect(again).toBe(a.mm); // the id's free stack is LIFO
    expect(mask(again) & 2).toBe(2);
    expect(active(1)).toBe(again); // CPU 1 would walk the new mm without switching
    i32[percpu_base(1) + PERCPU.announce] = 12345;
    const done = end_access_later(sab, 1, 30);
    flush_tlb_page(again, 12345);
    expect(waits()).toBe(1);
    await done;
  });

  it('layout: mm_alloc zeroes only the fields before cpu_vm_mask, which is followed only by the task\'s alloc_lock and task; mms and page contents do not share cache lines', () => {
    boot({});
    expect(MM.fields.slice(MM.fields.indexOf('cpu_vm_mask'))).toEqual(['cpu_vm_mask', 'alloc_lock', 'task']);
    expect(MM.stride % 16).toBe(0);
    expect(PHYS_STRIDE % 16).toBe(0);
    expect(PHYS_STRIDE).toBeGreaterThanOrEqual(WORDS_PER_PAGE);
    expect((phys_base(2) - phys_base(1)) * 4).toBe(64);
  });
});
