// lockdep's view of the run, read after it from its Machine as its result keeps it: the lock-order
// graph by class (every dependency, where it was first seen) and, if a new
// dependency closed a cycle, the kernel's "possible circular locking
// dependency detected" report, laid out as lockdep prints it.
import { GLOBALS, HELD_CLS_MASK, HELD_MAX, HELD_READ, LD_WAIT, LOCKDEP_EDGE, LOCKDEP_REPORT } from '../shm/layout.js';
import type { MachineView } from '../shm/machine.js';
import { era_of } from '../shm/era.js';
import { EVENTS } from '../cpu/events.js';
import { LC_PAGE_LOCK, lock_class_name, NR_LOCK_CLASSES } from '../sync/lock_class.js';
import { dep_index, edge_base, get_text } from '../sync/lockdep.js';
import { describe_lock } from '../check/lock_names.js';
import { symbolize } from '../check/stack.js';
import type { LockOrderEdge, LockdepSection } from './report_types.js';

/** the class names of the run's era */
const namer = (m: MachineView) => (c: number) => lock_class_name(c, era_of(m));
/** a recorded raw call trace, as the splats print frames */
const frames = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean).map(symbolize);
const pathName = (p: number) => (p ? EVENTS[p]?.name ?? String(p) : '-');

/** every dependency lockdep learnt, in class order (`m`: the run's Machine as its result keeps it, src/exec/free_run.ts RunResult.machine) */
export function lockdep_edges(roles: string[], m: MachineView): LockOrderEdge[] {
  const { i32, bases: BASES } = m;
  const cname = namer(m);
  const out: LockOrderEdge[] = [];
  for (let from = 0; from < NR_LOCK_CLASSES; from++) {
    for (let to = 0; to < NR_LOCK_CLASSES; to++) {
      const kind = i32[BASES.lockdep_dep + dep_index(from, to)];
      if (kind === 0) continue;
      const e = edge_base(from, to, BASES);
      const done = Atomics.load(i32, e + LOCKDEP_EDGE.state) === 2;
      const cpu = done ? i32[e + LOCKDEP_EDGE.cpu] : -1;
      out.push({
        from: cname(from), to: cname(to), kind: kind === LD_WAIT ? 'wait' : 'lock', cpu,
        role: !done ? '?' : cpu < 0 ? 'setup' : roles[cpu] ?? '?', path: done ? pathName(i32[e + LOCKDEP_EDGE.path]) : '-',
        stack: done ? frames(get_text(e + LOCKDEP_EDGE.text, i32[e + LOCKDEP_EDGE.text_len], m.u8)) : [],
      });
    }
  }
  return out;
}

/** "comm/cpu" as lockdep names a task; setup ran on the boot CPU before the run */
const task = (cpu: number, roles: string[]) => (cpu < 0 ? 'setup' : `${roles[cpu] ?? '?'}/${cpu}`);
const where = (cpu: number, roles: string[]) => (cpu < 0 ? 'in the scenario\'s setup' : `on CPU ${cpu} (${roles[cpu] ?? '?'})`);
const indent = (lines: string[]) => lines.map((l) => `       ${l}`).join('\n');

/** the cycle report, or null if lockdep found none */
export function lockdep_cycle_report(roles: string[], header: string, m: MachineView): LockdepSection['report'] {
  const { i32, bases: BASES } = m;
  const cname = namer(m);
  const r = BASES.lockdep_report;
  if (Atomics.load(i32, r + LOCKDEP_REPORT.state) !== 2) return null;
  const cpu = i32[r + LOCKDEP_REPORT.cpu];
  const from = i32[r + LOCKDEP_REPORT.from];
  const to = i32[r + LOCKDEP_REPORT.to];
  const wait = i32[r + LOCKDEP_REPORT.kind] === LD_WAIT;
  const chain: number[] = [];
  for (let k = 0; k < i32[r + LOCKDEP_REPORT.chain_len]; k++) chain.push(i32[r + LOCKDEP_REPORT.chain + k]);
  const stack = frames(get_text(r + LOCKDEP_REPORT.text, i32[r + LOCKDEP_REPORT.text_len], m.u8));
  const held: string[] = [];
  let fromRead = false; // the held lock is an rwsem or rwlock held for read: lockdep prints rlock()
  for (let k = 0; k < i32[r + LOCKDEP_REPORT.nheld]; k++) {
    const hc = i32[r + LOCKDEP_REPORT.held_cls + k];
    held.push(` #${k}: ${describe_lock(i32[r + LOCKDEP_REPORT.held + k], hc & HELD_CLS_MASK, m)}${hc & HELD_READ ? ' (read)' : ''}`);
    if ((hc & HELD_CLS_MASK) === from && (hc & HELD_READ) !== 0) fromRead = true;
  }
  const toRead = i32[r + LOCKDEP_REPORT.to_read] !== 0;
  const verb = (c: number, isNew: boolean) => (isNew && wait ? `wait_on_page_locked(${cname(c)})` : isNew && toRead ? `rlock(${cname(c)})` : `lock(${cname(c)})`);
  const me = task(cpu, roles);
  const out: string[] = [
    '======================================================',
    'WARNING: possible circular locking dependency detected',
    header,
    '------------------------------------------------------',
    ...([...chain, to].includes(LC_PAGE_LOCK) ? [`mmrace: ${cname(LC_PAGE_LOCK)} is no lockdep class in the kernel: its lockdep never sees page locks or waits on them, so the kernel would not print this report; mmrace's lockdep does`] : []),
    // seed 002: two page locks, by instance (the class graph takes nesting within a class as annotated)
    ...(from === to && chain.length === 1 ? [`mmrace: a cycle of ${cname(to)} instances: the holder of the page lock this task waits for waits (through the CPUs' page-lock waits) for one this task holds`] : []),
    `${me} is trying to ${wait ? 'wait for' : 'acquire'} lock:`,
    ` (${describe_lock(i32[r + LOCKDEP_REPORT.to_lock], to, m)}), at: ${stack[0] ?? '?'}`,
    '',
    'but task is already holding lock:',
    ` (${cname(from)})`,
    '',
    'which lock already depends on the new lock.',
    '',
    '',
    'the existing dependency chain (in reverse order) is:',
  ];
  // chain runs to -> ... -> from along recorded dependencies; print it from `from` back to `to` (#0, the new lock)
  for (let k = chain.length - 1; k >= 1; k--) {
    const e = edge_base(chain[k - 1], chain[k], BASES);
    const ew = i32[BASES.lockdep_dep + dep_index(chain[k - 1], chain[k])] === LD_WAIT;
    const done = Atomics.load(i32, e + LOCKDEP_EDGE.state) === 2; // a CPU may still be writing it if the run ended uncleanly
    const at = done ? frames(get_text(e + LOCKDEP_EDGE.text, i32[e + LOCKDEP_EDGE.text_len], m.u8)) : ['(call trace not recorded)'];
    const first = done ? `       [first seen ${where(i32[e + LOCKDEP_EDGE.cpu], roles)} in ${pathName(i32[e + LOCKDEP_EDGE.path])}, while holding ${cname(chain[k - 1])}]` : '';
    out.push('', `-> #${k} (${cname(chain[k])}):${ew ? ' (waited for)' : ''}`, indent(at), ...(first ? [first] : []));
  }
  out.push('', `-> #0 (${cname(to)}):${wait ? ' (waited for)' : ''}`, indent(stack));
  out.push('', 'other info that might help us debug this:', '');
  // print_circular_lock_scenario: source is the lock being taken, target the one held, parent the
  // class through which the existing chain reaches the target
  const parent = chain.length >= 2 ? chain[chain.length - 2] : to;
  if (parent !== to) out.push('Chain exists of:', `  ${cname(to)} --> ${cname(parent)} --> ${cname(from)}`, '');
  const c0 = 'CPU0'.padEnd(24);
  out.push(' Possible unsafe locking scenario:', '', `       ${c0}CPU1`, `       ${'----'.padEnd(24)}----`,
    `  ${fromRead ? `rlock(${cname(from)})` : verb(from, false)};`,
    `  ${' '.repeat(29)}${verb(parent, false)};`,
    `  ${' '.repeat(29)}${verb(from, false)};`,
    `  ${verb(to, true)};`,
    '', ' *** DEADLOCK ***', '',
    `${held.length} lock${held.length === 1 ? '' : 's'} held by ${me}:`, ...held,
    '', 'stack backtrace:', `CPU: ${Math.max(cpu, 0)} Comm: ${cpu < 0 ? 'setup' : roles[cpu] ?? '?'} path: ${pathName(i32[r + LOCKDEP_REPORT.path])}`, 'Call Trace:', ...stack.map((l) => ` ${l}`));
  const cycle = [...chain.map(cname), cname(to)];
  return { cycle, cpu, text: out.join('\n') };
}

/** lockdep turned itself off (a CPU held more locks than the held stack records), or null */
export function lockdep_disabled(roles: string[], m: MachineView): string | null {
  const { i32, bases: BASES } = m;
  const off = i32[BASES.globals + GLOBALS.lockdep_off];
  if (off === 0) return null;
  return [`BUG: MAX_LOCK_DEPTH too low!`, `turning off the locking correctness validator.`,
    `depth: ${HELD_MAX}  max: ${HELD_MAX}!`, `${task(off - 1, roles)} in ${pathName(i32[BASES.globals + GLOBALS.lockdep_off_path])} held more than ${HELD_MAX} locks; ` +
    'dependencies from then on were not learnt'].join('\n');
}

export function lockdep_section(roles: string[], header: string, m: MachineView): LockdepSection {
  return { edges: lockdep_edges(roles, m), report: lockdep_cycle_report(roles, header, m), disabled: lockdep_disabled(roles, m) };
}

/** the lock-order graph as text: one dependency a line */
export function format_lock_order(edges: LockOrderEdge[]): string {
  if (edges.length === 0) return 'lock order: no nested acquisitions';
  const w = Math.max(...edges.map((e) => e.from.length));
  const lines = [`lock order (lockdep, by class): ${edges.length} dependenc${edges.length === 1 ? 'y' : 'ies'}`];
  for (const e of edges) {
    const at = e.stack[0] ? ` at ${e.stack[0].replace(/\+.*$/, '')}` : '';
    lines.push(`  ${e.from.padStart(w)} -> ${e.to}${e.kind === 'wait' ? ' (wait)' : ''}   [CPU ${e.cpu} ${e.role}, ${e.path}${at}]`);
  }
  return lines.join('\n');
}
