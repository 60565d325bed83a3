// The watchdog's words. A CPU that stops making progress is reported as the
// run's kernel would have reported it: a CPU spinning (a spinlock, or a loop
// that never sleeps) by the soft-lockup detector, a task parked in a
// sleeping wait (page lock, rwsem) by the hung-task detector. Where the
// era's kernel had no such detector the report says so and speaks as
// mmrace, then shows what the later kernels printed. Every CPU's held and
// awaited locks follow: the kernel showed only the reported task's, the
// model shows all, since a deadlock is a relation between them.
import { HELD_CLS_MASK, HELD_MAX, HELD_READ, PERCPU } from '../shm/layout.js';
import { i32, percpu_base, sizes } from '../shm/machine.js';
import { E1, E3, ERA } from '../shm/era.js';
import { EVENTS } from '../cpu/events.js';
import { LC_MMAP_SEM, LC_PAGE_LOCK } from '../sync/lock_class.js';
import { describe_lock } from './lock_names.js';
import { OOPS_ERROR, fail } from './bug.js';
import { HELD_NONE, HELD_WRITE, held_mode } from '../sync/lock_stat.js';

/** khungtaskd's default timeout (2.6.25 on), what a controlled run, which has no clock, reports */
export const HUNG_TASK_TIMEOUT_SECS = 120;
/** how long a CPU spins before the soft-lockup detector speaks, as a controlled run reports it (2.6.18: 10 s; later 2 x watchdog_thresh) */
export const softlockup_thresh_secs = () => (ERA.id >= E3 ? 20 : 10);

/** the CPU is parked in a sleeping wait (a page lock or an rwsem), not spinning */
export function waits_sleeping(cpu: number): boolean {
  const pc = percpu_base(cpu);
  if (Atomics.load(i32, pc + PERCPU.await_lock) === 0) return false;
  const cls = i32[pc + PERCPU.await_cls] & HELD_CLS_MASK;
  return cls === LC_PAGE_LOCK || cls === LC_MMAP_SEM;
}

const path_of = (cpu: number) => {
  const p = i32[percpu_base(cpu) + PERCPU.path];
  return p ? EVENTS[p]?.name ?? '-' : '-';
};

/**
 * the wait-for relation of C-WAITFOR: the CPUs that CPU `cpu` waits for, as
 * their held stacks say. A wait to read (an rwlock's or rwsem's reader) waits
 * only for a writer; any other wait (a spinlock, a write, a page lock) for
 * every holder, readers too.
 */
export function holders_awaited(cpu: number): number[] {
  const pc = percpu_base(cpu);
  const aw = Atomics.load(i32, pc + PERCPU.await_lock);
  if (aw === 0) return [];
  const forRead = (i32[pc + PERCPU.await_cls] & HELD_READ) !== 0;
  const out: number[] = [];
  for (let c = 0; c < sizes.nr_cpus; c++) {
    const m = held_mode(c, aw);
    if (m === HELD_NONE || (forRead && m !== HELD_WRITE)) continue;
    out.push(c);
  }
  return out;
}

/** holders_awaited in words: "CPU n", "(itself)", "(read)" for a read hold */
export function waits_for(cpu: number): string[] {
  const aw = Atomics.load(i32, percpu_base(cpu) + PERCPU.await_lock);
  return holders_awaited(cpu).map((c) => `CPU ${c}${c === cpu ? ' (itself)' : ''}${held_mode(c, aw) === HELD_WRITE ? '' : ' (read)'}`);
}

/** what each CPU is doing and holding, and what it waits for */
export function cpu_states(roles: string[]): string {
  const lines: string[] = [];
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) {
    const pc = percpu_base(cpu);
    const held: string[] = [];
    for (let k = 0; k < Math.min(i32[pc + PERCPU.nheld], HELD_MAX); k++) {
      const hc = i32[pc + PERCPU.held_cls + k];
      held.push(`${describe_lock(i32[pc + PERCPU.held + k], hc & HELD_CLS_MASK)}${hc & HELD_READ ? ' (read)' : ''}`);
    }
    const aw = Atomics.load(i32, pc + PERCPU.await_lock);
    lines.push(`CPU: ${cpu} (${roles[cpu]}) in ${path_of(cpu)}, ops ${i32[pc + PERCPU.ops]}`);
    lines.push(`  ${held.length} lock${held.length === 1 ? '' : 's'} held: ${held.length ? held.join(', ') : '-'}`);
    if (aw !== 0) {
      const ac = i32[pc + PERCPU.await_cls];
      const by = waits_for(cpu);
      lines.push(`  waiting for: ${describe_lock(aw, ac & HELD_CLS_MASK)}${ac & HELD_READ ? ' (to read)' : ''}, held by ${by.length ? by.join(', ') : 'no CPU recorded'}`);
    }
  }
  return lines.join('\n');
}

/**
 * the blocked task as khungtaskd shows it: its state line (sched_show_task)
 * and its held locks as lockdep lists them. A page lock is listed too, but
 * the kernel's lockdep never tracked PG_locked: the line says so.
 */
function task_state(cpu: number, comm: string): string[] {
  return [`${comm.padEnd(13)} D CPU#${cpu} pid ${cpu + 1} in ${path_of(cpu)}`, ...held_locks(cpu, comm)];
}

/** lockdep_print_held_locks: the CPU's held stack, "N locks held by comm/pid:" and a line per lock */
function held_locks(cpu: number, comm: string): string[] {
  const pc = percpu_base(cpu);
  const n = Math.min(i32[pc + PERCPU.nheld], HELD_MAX);
  const out = [`${n === 0 ? 'no locks' : `${n} lock${n === 1 ? '' : 's'}`} held by ${comm}/${cpu + 1}:`];
  for (let k = 0; k < n; k++) {
    const cls = i32[pc + PERCPU.held_cls + k] & HELD_CLS_MASK;
    out.push(` #${k}:  (${describe_lock(i32[pc + PERCPU.held + k], cls)})${cls === LC_PAGE_LOCK ? '  [mmrace: a page lock, which the kernel\'s lockdep does not track]' : ''}`);
  }
  return out;
}

/**
 * lockdep_sys_exit: this CPU's operation ended (its return to user space)
 * with a lock still held, a lock leaked by the path it ran: nobody will ever
 * release it, and the next task to want it sleeps for good. Reported there,
 * in lockdep's words (2.6.24 on; the header as 4.13 on print it, as the
 * cycle report does), at once instead of at a hung task's timeout; the
 * caller checks the held stack first (a read per operation).
 */
export function lockdep_sys_exit(cpu: number, comm: string): never {
  const pc = percpu_base(cpu);
  const n = Math.min(i32[pc + PERCPU.nheld], HELD_MAX) + i32[pc + PERCPU.held_over];
  let page_locks = false;
  for (let k = 0; k < Math.min(i32[pc + PERCPU.nheld], HELD_MAX); k++) page_locks ||= (i32[pc + PERCPU.held_cls + k] & HELD_CLS_MASK) === LC_PAGE_LOCK;
  // the first line is the run's reason; it says whose check this is when the era's kernel would not have printed it
  const whose = ERA.id < E3 ? `${ERA.kernel}'s lockdep had no such check (lockdep_sys_exit came in 2.6.24): reported as later kernels report it`
    : page_locks ? 'PG_locked is no lockdep class in the kernel, whose lockdep_sys_exit never sees a page lock: mmrace\'s check reports it' : '';
  const out = [`mmrace: lock held when returning to user space: ${comm}/${cpu + 1} ended an operation holding ${n} lock${n === 1 ? '' : 's'}${whose ? ` (${whose})` : ''}`,
    '================================================', 'WARNING: lock held when returning to user space!',
    '------------------------------------------------', `${comm}/${cpu + 1} is leaving the kernel with locks still held!`, ...held_locks(cpu, comm)];
  const over = i32[pc + PERCPU.held_over];
  if (over > 0) out.push(`mmrace: and ${over} more past the held-lock stack's ${HELD_MAX}`);
  fail(OOPS_ERROR, out.join('\n'));
}

/** khungtaskd's lines for one blocked task: the INFO line, the hint, the task's state and locks */
function hung_task_lines(cpu: number, secs: number, roles: string[]): string[] {
  const comm = roles[cpu] ?? '?';
  return [`INFO: task ${comm}:${cpu + 1} blocked for more than ${secs} seconds.`,
    '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.', ...task_state(cpu, comm)];
}

/** khungtaskd came with 2.6.25; E3/E4's kernels have it, the earlier eras' reports say so */
const hung_task_era_note = () => (ERA.id < E3 ? [`mmrace: hung task (${ERA.kernel} had no hung-task detector; reported as 2.6.25 and later kernels report it):`] : []);

/** what follows every lockup report: the wait-for cycle if there is one, then every CPU's locks */
function lockup_tail(roles: string[]): string[] {
  const out: string[] = [];
  const cycle = wait_cycle(wait_for_graph());
  if (cycle) out.push(`mmrace: wait-for cycle: ${format_cycle(cycle, roles)}`);
  out.push('', 'mmrace: every CPU\'s locks, held and awaited:', cpu_states(roles));
  return out;
}

/**
 * how long a CPU was stuck, in the seconds its report prints: whole seconds,
 * as the kernel's detectors print them (their thresholds are whole seconds),
 * and tenths below one second, which only mmrace's --watchdog can ask for
 * (a 0.3 s watchdog must not print "stuck for 0s")
 */
export function lockup_secs(ms: number): number {
  return ms >= 1000 ? Math.round(ms / 1000) : Math.round(ms / 100) / 10;
}

/**
 * The report of CPU `cpu`, stuck for `secs` seconds (or, for a run with no
 * clock, the detector's own threshold), in the run's era.
 */
export function lockup_report(cpu: number, secs: number, roles: string[], began_s?: number): string {
  const comm = roles[cpu] ?? '?';
  const pid = cpu + 1;
  const out: string[] = [];
  if (waits_sleeping(cpu)) {
    out.push(...hung_task_era_note(), ...hung_task_lines(cpu, secs, roles));
  } else if (ERA.id >= E3) {
    out.push(`watchdog: BUG: soft lockup - CPU#${cpu} stuck for ${secs}s! [${comm}:${pid}]`);
  } else if (ERA.id >= E1) {
    // softlockup.c (2.6.14 to 2.6.23): the CPU and nothing else, then the stack
    out.push(`BUG: soft lockup detected on CPU#${cpu}!`, `mmrace: CPU#${cpu} (${comm}:${pid}) stuck for ${secs}s in ${path_of(cpu)}`);
  } else {
    out.push(`mmrace: soft lockup: CPU#${cpu} (${comm}:${pid}) stuck for ${secs}s in ${path_of(cpu)} (${ERA.kernel} had no soft-lockup detector)`);
  }
  if (began_s !== undefined) out.push(`mmrace: CPU#${cpu} made its last progress ${began_s.toFixed(2)} s into the run`);
  out.push(...lockup_tail(roles));
  return out.join('\n');
}

/** a task a hung-task scan found: its CPU, the timeout it was blocked past (what the INFO line prints), when it last progressed */
export interface HungTask { cpu: number; secs: number; began_s?: number }

/**
 * One scan of khungtaskd (check_hung_uninterruptible_tasks): every task in
 * a sleeping wait that has not run since the previous scan, in task-list
 * order (pid order here), each with its INFO line and locks, as one scan
 * prints them; then the cycle and every CPU's locks, as lockup_report.
 */
export function hung_tasks_report(hung: readonly HungTask[], roles: string[]): string {
  const out = hung_task_era_note();
  for (const h of [...hung].sort((a, b) => a.cpu - b.cpu)) {
    out.push(...hung_task_lines(h.cpu, h.secs, roles));
    if (h.began_s !== undefined) out.push(`mmrace: CPU#${h.cpu} made its last progress ${h.began_s.toFixed(2)} s into the run`);
  }
  out.push(...lockup_tail(roles));
  return out.join('\n');
}

/** the watchdog's report in one line: who stopped, for how long, and what it waits for */
export function lockup_reason(cpu: number, secs: number, roles: string[]): string {
  const g = wait_for_graph();
  const cycle = wait_cycle(g);
  if (cycle) return `deadlock: ${format_cycle(cycle, roles)} (CPU ${cpu} made no progress for ${secs} s)`;
  const w = g.find((x) => x.cpu === cpu);
  return `${who(cpu, roles)} made no progress for ${secs} s` +
    (w ? `, waiting for ${describe_lock(w.lock, w.cls)}${w.holders.length ? `, held by ${w.holders.map((h) => who(h, roles)).join(' and ')}` : ''}` : ' and waits for no lock');
}

/**
 * The wait-for graph: each blocked CPU, the lock it waits for, and the CPUs
 * that hold that lock (any number: a lock held shared has several holders).
 * Generic over "the lock a CPU waits for": whatever kind of lock it is, the
 * waiter names its word in await_lock and every holder lists it in held[].
 */
export interface WaitFor { cpu: number; lock: number; cls: number; holders: number[] }

export function wait_for_graph(): WaitFor[] {
  const out: WaitFor[] = [];
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) {
    const lock = Atomics.load(i32, percpu_base(cpu) + PERCPU.await_lock);
    if (lock === 0) continue;
    out.push({ cpu, lock, cls: i32[percpu_base(cpu) + PERCPU.await_cls] & HELD_CLS_MASK, holders: holders_awaited(cpu) });
  }
  return out;
}

/** a cycle of CPUs each waiting for a lock the next one holds, or null */
export function wait_cycle(g: readonly WaitFor[]): WaitFor[] | null {
  const by = new Map(g.map((w) => [w.cpu, w]));
  for (const start of g) {
    // depth-first along holders; a path that comes back to a CPU on it is a cycle
    const path: WaitFor[] = [];
    const on = new Set<number>();
    const visit = (w: WaitFor): WaitFor[] | null => {
      if (on.has(w.cpu)) return path.slice(path.findIndex((p) => p.cpu === w.cpu));
      on.add(w.cpu); path.push(w);
      for (const h of w.holders) {
        const next = by.get(h);
        if (next) { const c = visit(next); if (c) return c; }
      }
      path.pop(); on.delete(w.cpu);
      return null;
    };
    const c = visit(start);
    if (c) return c;
  }
  return null;
}

const who = (cpu: number, roles: string[]) => `CPU ${cpu} (${roles[cpu] ?? '?'})`;

/** "CPU 0 (ab) waits for X, held by CPU 1 (ba)", one clause per CPU on the cycle */
export function format_cycle(c: readonly WaitFor[], roles: string[]): string {
  return c.map((w, k) => `${who(w.cpu, roles)} waits for ${describe_lock(w.lock, w.cls)}, held by ${who(c[(k + 1) % c.length].cpu, roles)}`).join('; ');
}

/**
 * the cycle of the wait-for graph as a key that changes whenever it does:
 * each CPU on it, the lock it waits for and its progress count; '' if there
 * is no cycle (a cheap look at the awaited locks first: no CPU waits, no graph)
 */
export function wait_cycle_key(): string {
  let any = false;
  for (let cpu = 0; cpu < sizes.nr_cpus && !any; cpu++) any = Atomics.load(i32, percpu_base(cpu) + PERCPU.await_lock) !== 0;
  if (!any) return '';
  const c = wait_cycle(wait_for_graph());
  return c ? c.map((w) => `${w.cpu}:${w.lock}:${Atomics.load(i32, percpu_base(w.cpu) + PERCPU.progress)}`).join(' ') : '';
}

/**
 * These CPUs (`blocked`) never came back: the run's budget ended (`running`
 * false), or mid-run they formed a wait-for cycle that stayed as it was for
 * `stuck_ms` (`running` true: mmrace's detector ends the run there). What
 * each waits for and who holds it, the cycle if there is one, then every
 * CPU's locks. The kernel would have said nothing yet (its detectors wait
 * far longer), so this speaks as mmrace.
 */
export function deadlock_report(blocked: readonly number[], stuck_ms: number, roles: string[], running = false): { text: string; reason: string } {
  const g = wait_for_graph();
  const cycle = wait_cycle(g);
  const secs = (stuck_ms / 1000).toFixed(1);
  const list = blocked.map((c) => who(c, roles)).join(', ');
  const reason = cycle
    ? `deadlock: ${format_cycle(cycle, roles)}`
    : g.length
      ? `blocked at the end of the run: ${g.map((w) => `${who(w.cpu, roles)} waits for ${describe_lock(w.lock, w.cls)}, held by ${w.holders.length ? w.holders.map((h) => who(h, roles)).join(' and ') : 'no CPU'}`).join('; ')}`
      : `${list} did not stop`;
  const out = [running
    ? `mmrace: deadlock: ${list} made no progress for ${secs} s, each waiting for a lock the next one holds: mmrace ends the run here (the kernel's hung-task and soft-lockup detectors would speak only after their timeouts)`
    : `mmrace: ${cycle ? 'deadlock' : 'liveness failure'}: the run's budget ended and ${list} made no progress for ${secs} s after being asked to stop`];
  if (cycle) out.push(`mmrace: wait-for cycle: ${format_cycle(cycle, roles)}`);
  else if (g.length) out.push(`mmrace: no wait-for cycle: ${reason.replace(/^blocked at the end of the run: /, '')}`);
  out.push('', 'mmrace: every CPU\'s locks, held and awaited:', cpu_states(roles));
  return { text: out.join('\n'), reason };
}
