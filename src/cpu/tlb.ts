// TLB shootdown. A user access announces the pte slot it is about to use,
// then reads the pte; a kernel path that changed a pte calls
// flush_tlb_page(mm, slot), which returns only when no other CPU of
// mm->cpu_vm_mask is still inside an access begun through the old pte. This
// is what keeps migration and COW from losing writes the real kernel never
// loses. The mask keeps a flush from reading the announce words of CPUs that
// never run mm (disjoint work then shares no cache line here).
import { CPUSTAT, MM, PERCPU } from '../shm/layout.js';
import { i32, mm_base, percpu_base, sizes } from '../shm/machine.js';
import { current } from './current.js';
import { check_halt, controlled, cpu_relax } from '../sync/preempt.js';
import { EV_SPAN_BEGIN, EV_SPAN_END, SP_FLUSH_WAIT, trace_only, tracing } from './events.js';

const FLUSH_SPIN = 100;

/**
 * flush_tlb_page(vma, addr), given vma->vm_mm: wait out every access in flight
 * through pte `slot` on the CPUs in mm->cpu_vm_mask. A CPU outside the mask
 * joins it (tlb_switch_mm) before it announces a slot of mm, and the caller
 * changed the pte before reading the mask: such a CPU reads the new pte.
 */
export function flush_tlb_page(mm: number, slot: number): void {
  const me = current.cpu;
  const mask = mm_base(mm) + MM.cpu_vm_mask;
  i32[current.stat + CPUSTAT.tlb_flushes] += 1;
  for (let word = 0; word << 5 < sizes.nr_cpus; word++) {
    let bits = Atomics.load(i32, mask + word);
    while (bits !== 0) {
      const bit = 31 - Math.clz32(bits);
      bits &= ~(1 << bit);
      const cpu = (word << 5) + bit;
      if (cpu !== me) wait_out(cpu, slot);
    }
  }
}

/** spin, then sleep, until `cpu` is no longer inside an access it began through `slot` */
function wait_out(cpu: number, slot: number): void {
  const pc = percpu_base(cpu);
  if (Atomics.load(i32, pc + PERCPU.announce) !== slot) return;
  // only the access in flight now matters: one that starts later reads the new pte
  const seq = Atomics.load(i32, pc + PERCPU.access_seq);
  i32[current.stat + CPUSTAT.tlb_flush_waits] += 1;
  if (tracing) trace_only(EV_SPAN_BEGIN, SP_FLUSH_WAIT, cpu);
  for (let i = 0; Atomics.load(i32, pc + PERCPU.announce) === slot && Atomics.load(i32, pc + PERCPU.access_seq) === seq; i++) {
    if (i < FLUSH_SPIN || controlled) { cpu_relax(); continue; } // controlled: yield to the accessing CPU
    check_halt();
    Atomics.store(i32, pc + PERCPU.flush_waiting, 1);
    Atomics.wait(i32, pc + PERCPU.announce, slot, 1);
  }
  if (tracing) trace_only(EV_SPAN_END, SP_FLUSH_WAIT);
}

/**
 * switch_mm's cpu_vm_mask half (i386 2.6.18 switch_mm: cpu_clear from prev,
 * cpu_set in next, then load_cr3): the MMU is about to walk mm's tables. Called
 * between accesses, so no access through prev is in flight.
 */
export function tlb_switch_mm(mm: number): void {
  const pc = current.pcpu;
  const me = current.cpu;
  const word = me >> 5, bit = 1 << (me & 31);
  const prev = i32[pc + PERCPU.active_mm];
  if (prev !== 0) Atomics.and(i32, mm_base(prev) + MM.cpu_vm_mask + word, ~bit);
  Atomics.or(i32, mm_base(mm) + MM.cpu_vm_mask + word, bit); // before the announce: a flusher that missed it sees no access of ours
  i32[pc + PERCPU.active_mm] = mm;
}

/** the access begun by announcing `slot` is over (clears the announce, wakes a flusher) */
export function tlb_access_done(): void {
  const pc = current.pcpu;
  i32[pc + PERCPU.access_seq] = (i32[pc + PERCPU.access_seq] + 1) | 0; // published by the store below
  Atomics.store(i32, pc + PERCPU.announce, 0);
  if (Atomics.load(i32, pc + PERCPU.flush_waiting) !== 0) {
    Atomics.store(i32, pc + PERCPU.flush_waiting, 0);
    Atomics.notify(i32, pc + PERCPU.announce);
  }
}
