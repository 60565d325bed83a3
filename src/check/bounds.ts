// mmrace's bounds checker: an index past the end of a kernel array. No
// kernel of the modelled eras had one (KASAN came in 4.0), so what it prints
// starts with `mmrace:`. The access itself is done unchecked and lands in
// whatever follows the array, as it did in the kernel (swap_info[] is
// followed by guard data, src/mm/swapfile.ts); this only reports it. By
// default the first such access fails the run; a scenario that studies what
// the corruption does next (swapon-type-range) sets GLOBALS.bounds_note, and
// then the first access is noted and the run goes on to its consequence.
import { BOUNDS, BOUNDS_TEXT_BYTES, GLOBALS } from '../shm/layout.js';
import { BASES, i32, u8 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { OOPS_BOUNDS, call_trace, fail } from './bug.js';

const encoder = new TextEncoder();

/** an access `fn` made to array[index] of an array of `size` records; `why` says what the index was */
export function out_of_bounds(array: string, index: number, size: number, fn: string, write: boolean, why: string): void {
  const msg = `mmrace: out-of-bounds ${write ? 'write' : 'read'} of ${array}[${index}] in ${fn}: ${array}[] has ${size} records (${why})`;
  if (i32[BASES.globals + GLOBALS.bounds_note] === 0) fail(OOPS_BOUNDS, msg);
  const b = BASES.bounds;
  if (Atomics.compareExchange(i32, b + BOUNDS.state, 0, 1) !== 0) return; // only the first is noted
  i32[b + BOUNDS.cpu] = current.cpu;
  i32[b + BOUNDS.seq] = Atomics.load(i32, BASES.seq);
  const bytes = encoder.encode(`${msg}\nCall Trace:\n${call_trace()}`).subarray(0, BOUNDS_TEXT_BYTES);
  u8.set(bytes, (b + BOUNDS.text) * 4);
  i32[b + BOUNDS.text_len] = bytes.length;
  Atomics.store(i32, b + BOUNDS.state, 2);
}

/** the noted first out-of-bounds access of a run that went on (bounds_note), or null */
export function read_bounds_note(): { cpu: number; seq: number; text: string } | null {
  const b = BASES.bounds;
  if (Atomics.load(i32, b + BOUNDS.state) !== 2) return null;
  const at = (b + BOUNDS.text) * 4;
  return { cpu: i32[b + BOUNDS.cpu], seq: i32[b + BOUNDS.seq], text: new TextDecoder().decode(u8.slice(at, at + i32[b + BOUNDS.text_len])) };
}
