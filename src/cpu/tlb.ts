// TLB shootdown. A user access announces the pte slot it is about to use,
// then reads the pte; a kernel path that changed a pte calls
// flush_tlb_page(slot), which returns only when no other CPU is still inside
// an access begun through the old pte. This is what keeps migration and COW
// from losing writes the real kernel never loses.
import { CPUSTAT, PERCPU } from '../shm/layout.js';
import { i32, percpu_base, sizes } from '../shm/machine.js';
import { current } from './current.js';
import { check_halt, controlled, cpu_relax } from '../sync/preempt.js';
import { EV_SPAN_BEGIN, EV_SPAN_END, SP_FLUSH_WAIT, trace_only, tracing } from './events.js';

const FLUSH_SPIN = 100;

export function flush_tlb_page(slot: number): void {
  const me = current.cpu;
  const n = sizes.nr_cpus;
  i32[current.stat + CPUSTAT.tlb_flushes] += 1;
  for (let cpu = 0; cpu < n; cpu++) {
    if (cpu === me) continue;
    const pc = percpu_base(cpu);
    if (Atomics.load(i32, pc + PERCPU.announce) !== slot) continue;
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
