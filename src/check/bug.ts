// BUG_ON and friends. The first failure of a run writes the oops record in
// shared memory (first writer wins), raises the halt word so every CPU
// unwinds at its next preemption point, and unwinds this CPU. Details live
// in the buffer, not in the Error: errors crossing a worker lose them.
import { GLOBALS, OOPS, OOPS_TEXT_BYTES, PAGE, PERCPU } from '../shm/layout.js';
import { BASES, i32, page_base, u8 } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EV_BUG, trace_event } from '../cpu/events.js';
import { defineEnum } from '../shm/struct.js';
import type { Outcome } from './outcome.js';
import { third_party } from './stack.js';

/**
 * the oops kinds, their names, and the run outcome each one makes
 * (src/check/outcome.ts classify): defined here and nowhere else
 */
export const OOPS_KINDS = defineEnum('oops kind', [
  { key: 'OOPS_NONE', name: 'none', outcome: null },
  { key: 'OOPS_BUG', name: 'BUG', outcome: 'bug' }, // BUG / BUG_ON
  { key: 'OOPS_BAD_PAGE', name: 'Bad page state', outcome: 'bug' }, // "BUG: Bad page state"
  { key: 'OOPS_ERROR', name: 'error', outcome: 'violation' }, // an error-level printk that marks a bug
  { key: 'OOPS_INVARIANT', name: 'invariant', outcome: 'violation' }, // model checker: state the kernel can never be in
  { key: 'OOPS_SHADOW', name: 'user data', outcome: 'violation' }, // user data check: what a program read is wrong
  { key: 'OOPS_SOFTLOCKUP', name: 'soft lockup', outcome: 'liveness' }, // watchdog: no progress (deadlock / livelock)
  { key: 'OOPS_INTERNAL', name: 'internal', outcome: 'internal' }, // the simulator itself failed
  { key: 'OOPS_BOUNDS', name: 'mmrace bounds', outcome: 'bug' }, // model bounds checker (src/check/bounds.ts): an access past a kernel array
] as const satisfies readonly { key: string; name: string; outcome: Outcome | null }[]);

export const { OOPS_NONE, OOPS_BUG, OOPS_BAD_PAGE, OOPS_ERROR, OOPS_INVARIANT, OOPS_SHADOW, OOPS_SOFTLOCKUP, OOPS_INTERNAL, OOPS_BOUNDS } = OOPS_KINDS.codes;

export const OOPS_KIND_NAMES: readonly string[] = OOPS_KINDS.names;

export const HALT_NONE = 0, HALT_OOPS = 1, HALT_STOP = 2;

/** unwinds the CPU that hit the failure */
export class KernelBug extends Error {
  constructor(msg: string) { super(msg); this.name = 'KernelBug'; }
}

const encoder = new TextEncoder();

/** call trace of the caller, as "func+file:line" lines; frames of this file (and of files matching `skip`) left out */
export function call_trace(skip?: RegExp, max = 40): string {
  const lim = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = lim;
  const lines: string[] = [];
  for (const l of stack.split('\n').slice(1)) {
    // "at fn (file:line:col)" or, for an anonymous frame, "at file:line:col"
    const m = /^at (?:async )?(?:(\S+) \((.*?):(\d+):\d+\)|(.*?):(\d+):\d+)$/.exec(l.trim());
    if (!m) continue;
    const fn = m[1] ?? '<anonymous>';
    const file = (m[2] ?? m[4]).replace(/^file:\/\//, '');
    const line = m[3] ?? m[5];
    if (/check\/bug\.[tj]s$/.test(file) || third_party(file) || file.startsWith('node:') || skip?.test(file)) continue;
    const rel = /((?:src|workers|test|bench|examples)\/.*)$/.exec(file)?.[1] ?? file;
    lines.push(` ${fn}+${rel.replace(/\.js$/, '.ts')}:${line}`);
    if (lines.length >= max) break;
  }
  return lines.join('\n');
}

/**
 * Record the run's failure and halt every CPU. Returns (without throwing)
 * so that callers that are not kernel code (the watchdog) can use it too.
 */
export function record_oops(kind: number, msg: string, pfn = 0, a0 = 0, a1 = 0, a2 = 0, withTrace = true): boolean {
  const o = BASES.oops;
  const first = Atomics.compareExchange(i32, o + OOPS.state, 0, 1) === 0;
  if (first) {
    i32[o + OOPS.kind] = kind;
    i32[o + OOPS.cpu] = current.cpu;
    i32[o + OOPS.seq] = Atomics.load(i32, BASES.seq);
    i32[o + OOPS.pfn] = pfn;
    i32[o + OOPS.a0] = a0; i32[o + OOPS.a1] = a1; i32[o + OOPS.a2] = a2;
    i32[o + OOPS.path] = i32[current.pcpu + PERCPU.path];
    if (pfn > 0) {
      const p = page_base(pfn);
      i32[o + OOPS.p_flags] = Atomics.load(i32, p + PAGE.flags);
      i32[o + OOPS.p_count] = Atomics.load(i32, p + PAGE._count);
      i32[o + OOPS.p_mapcount] = Atomics.load(i32, p + PAGE._mapcount);
      i32[o + OOPS.p_mapping] = i32[p + PAGE.mapping];
      i32[o + OOPS.p_index] = i32[p + PAGE.index];
      i32[o + OOPS.p_private] = i32[p + PAGE.private];
      i32[o + OOPS.p_owner] = i32[p + PAGE.owner_cpu];
    }
    const text = withTrace ? `${msg}\nCall Trace:\n${call_trace()}` : msg;
    const bytes = encoder.encode(text).subarray(0, OOPS_TEXT_BYTES);
    u8.set(bytes, (o + OOPS.text) * 4);
    i32[o + OOPS.text_len] = bytes.length;
    Atomics.store(i32, o + OOPS.state, 2);
  }
  Atomics.store(i32, BASES.globals + GLOBALS.halt_reason, HALT_OOPS);
  Atomics.store(i32, BASES.globals + GLOBALS.halt, 1);
  Atomics.notify(i32, BASES.globals + GLOBALS.halt);
  return first;
}

/** the kernel's BUG(): record and unwind this CPU */
export function BUG(msg: string, pfn = 0, a0 = 0, a1 = 0): never {
  trace_event(EV_BUG, 0, pfn);
  record_oops(OOPS_BUG, msg, pfn, a0, a1);
  throw new KernelBug(msg);
}

/** BUG_ON(cond): `msg` names the condition as the kernel source spells it */
export function BUG_ON(cond: boolean, msg: string, pfn = 0): void {
  if (cond) BUG(msg, pfn);
}

/** a failure that is not a BUG_ON but must fail the run (Bad page state, invariant, user data) */
export function fail(kind: number, msg: string, pfn = 0, a0 = 0, a1 = 0): never {
  record_oops(kind, msg, pfn, a0, a1);
  throw new KernelBug(msg);
}

export interface OopsRecord {
  kind: number; kindName: string; cpu: number; seq: number; pfn: number; args: number[];
  page: { flags: number; count: number; mapcount: number; mapping: number; index: number; private: number; owner: number } | null;
  path: number; text: string;
}

export function read_oops(): OopsRecord | null {
  const o = BASES.oops;
  if (Atomics.load(i32, o + OOPS.state) !== 2) return null;
  const kind = i32[o + OOPS.kind];
  const pfn = i32[o + OOPS.pfn];
  const len = i32[o + OOPS.text_len];
  return {
    kind, kindName: OOPS_KIND_NAMES[kind] ?? String(kind), cpu: i32[o + OOPS.cpu], seq: i32[o + OOPS.seq], pfn,
    args: [i32[o + OOPS.a0], i32[o + OOPS.a1], i32[o + OOPS.a2]],
    page: pfn > 0 ? {
      flags: i32[o + OOPS.p_flags], count: i32[o + OOPS.p_count], mapcount: i32[o + OOPS.p_mapcount],
      mapping: i32[o + OOPS.p_mapping], index: i32[o + OOPS.p_index], private: i32[o + OOPS.p_private], owner: i32[o + OOPS.p_owner],
    } : null,
    path: i32[o + OOPS.path],
    text: new TextDecoder().decode(u8.slice((o + OOPS.text) * 4, (o + OOPS.text) * 4 + len)),
  };
}
