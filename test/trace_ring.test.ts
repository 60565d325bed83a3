// A Machine built without a trace ring (no --trace) cannot trace: turning
// GLOBALS.trace on there used to send the timestamped hold events past the
// empty trace region into the ones after it (the bench's micro part did, and
// corrupted the per-CPU page lists: "Bad page state" then a hang).
import { describe, expect, it } from 'vitest';
import { BASES, createMachineBuffer, i32, page_base } from '../src/shm/machine.js';
import { DEFAULT_SIZES, GLOBALS, PAGE, TRACE_RING_SIZE } from '../src/shm/layout.js';
import { mem_init } from '../src/mm/init.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { events_attach } from '../src/cpu/events.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { spin_lock, spin_unlock } from '../src/sync/spinlock.js';
import { LC_PTL } from '../src/sync/lock_class.js';

function traced_locks(trace_ring: number): { after: number[]; before: number[] } {
  createMachineBuffer({ ...DEFAULT_SIZES, nr_pages: 256, nr_cpus: 1, trace_ring });
  mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0 });
  set_current_cpu(0, 1);
  const ptl = page_base(alloc_page()) + PAGE.ptl;
  // the words right after the trace region (its timestamps, then the latency histograms)
  const end = BASES.tevents + 4 * (trace_ring + 1) * 16;
  const before = Array.from(i32.subarray(BASES.tevents, end));
  i32[BASES.globals + GLOBALS.trace] = 1;
  events_attach();
  for (let k = 0; k < 20_000; k++) { spin_lock(ptl, LC_PTL); spin_unlock(ptl); }
  i32[BASES.globals + GLOBALS.trace] = 0;
  events_attach();
  return { before, after: Array.from(i32.subarray(BASES.tevents, end)) };
}

describe('tracing needs a trace ring', () => {
  it('without one, tracing stays off and nothing past the (empty) trace region is written', () => {
    const { before, after } = traced_locks(0);
    expect(after).toEqual(before);
  });
  it('with one, the hold events land in it', () => {
    const { before, after } = traced_locks(TRACE_RING_SIZE);
    expect(after).not.toEqual(before);
  });
});
