// WARN_ON as 2.6 had it: "Badness in <function> at <file>:<line>" and a
// stack dump, and the kernel goes on. The first warning of a run is kept
// with its call trace (first writer wins) for the report; every one is
// counted. Not a failure: a run that only warned ends clean, and says so.
import { WARN, WARN_TEXT_BYTES } from '../shm/layout.js';
import { BASES, MachineView, i32, u8 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { call_trace } from './bug.js';

const encoder = new TextEncoder();

/** WARN_ON(cond) in `fn` at `file:line` (the kernel's own source position); returns cond. Slow path only: allocates when it fires */
export function WARN_ON(cond: boolean, fn: string, file: string, line: number): boolean {
  if (!cond) return false;
  const w = BASES.warn;
  Atomics.add(i32, w + WARN.count, 1);
  if (Atomics.compareExchange(i32, w + WARN.state, 0, 1) !== 0) return true; // only the first is kept
  i32[w + WARN.cpu] = current.cpu;
  i32[w + WARN.seq] = Atomics.load(i32, BASES.seq);
  const bytes = encoder.encode(`Badness in ${fn} at ${file}:${line}\nCall Trace:\n${call_trace(/check\/warn\.[tj]s$/)}`).subarray(0, WARN_TEXT_BYTES);
  u8.set(bytes, (w + WARN.text) * 4);
  i32[w + WARN.text_len] = bytes.length;
  Atomics.store(i32, w + WARN.state, 2);
  return true;
}

export interface WarnNote { cpu: number; seq: number; count: number; text: string }

/** the run's first warning and how many there were, or null when none fired (read from a run's kept Machine) */
export function read_warn(m: MachineView): WarnNote | null {
  const w = m.bases.warn;
  if (Atomics.load(m.i32, w + WARN.state) !== 2) return null;
  const at = (w + WARN.text) * 4;
  return { cpu: m.i32[w + WARN.cpu], seq: m.i32[w + WARN.seq], count: Atomics.load(m.i32, w + WARN.count), text: new TextDecoder().decode(m.u8.slice(at, at + m.i32[w + WARN.text_len])) };
}
