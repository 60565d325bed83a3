// /proc/lock_stat (version 0.4) from the per-CPU counters, merged. Times are
// in microseconds as the kernel prints them; hold times are sampled (each of
// a class's first 64 acquisitions on a CPU, then 1 in 64), so holdtime-total
// is estimated (each CPU's timed holds' mean times its acquisitions), wait
// times are measured on every contended acquisition. An rwsem's or rwlock's reads and
// writes are counted apart and printed as -W and -R rows (mapping->tree_lock in E1/E2 is an rwlock_t, a spinlock
// elsewhere: one row).
import { LOCKSTAT, LOCKSTAT_NR_PATHS, LOCKSTAT_RW } from '../shm/layout.js';
import type { MachineView } from '../shm/machine.js';
import { era_of } from '../shm/era.js';
import { lock_class_name, NR_LOCK_CLASSES } from '../sync/lock_class.js';
import { EVENTS } from '../cpu/events.js';

/** a class's (or one mode's) counters, merged over CPUs; times in µs */
export interface LockStatCounts {
  con_bounces: number; contentions: number; waittime_min: number; waittime_max: number;
  waittime_total: number; waittime_avg: number; acq_bounces: number; acquisitions: number;
  holdtime_min: number; holdtime_max: number; holdtime_total: number; holdtime_avg: number; hold_samples: number;
}

export interface LockStatRow extends LockStatCounts {
  class: string;
  /** an rwsem or rwlock taken for read too: its write (W) and read (R) counters apart, as the kernel's -W and -R rows; else null */
  split: null | { W: LockStatCounts; R: LockStatCounts };
  /** contention points: contentions by the kernel path the waiter was in, most first */
  points: { path: string; contentions: number }[];
  /** contending points: contentions by the kernel path the holder was in ('-' if not known: rwsems), most first */
  contending: { path: string; contentions: number }[];
}

/** one class's counts by kernel path, merged over CPUs, most first */
function by_path(m: MachineView, region: number, cls: number): { path: string; contentions: number }[] {
  const out: { path: string; contentions: number }[] = [];
  for (let path = 0; path < LOCKSTAT_NR_PATHS; path++) {
    let n = 0;
    for (let cpu = 0; cpu < m.sizes.nr_cpus; cpu++) n += m.i32[region + (cpu * NR_LOCK_CLASSES + cls) * LOCKSTAT_NR_PATHS + path];
    if (n > 0) out.push({ path: path ? EVENTS[path]?.name ?? String(path) : '-', contentions: n });
  }
  return out.sort((a, b) => b.contentions - a.contentions);
}

/** counters of class `cls` in the given modes (0 writes and plain locks, 1 reads), merged over CPUs */
function counts(m: MachineView, cls: number, modes: readonly number[]): LockStatCounts {
  const f64 = m.f64;
  const r: LockStatCounts = { con_bounces: 0, contentions: 0, waittime_min: 0, waittime_max: 0, waittime_total: 0, waittime_avg: 0,
    acq_bounces: 0, acquisitions: 0, holdtime_min: 0, holdtime_max: 0, holdtime_total: 0, holdtime_avg: 0, hold_samples: 0 };
  let wmin = Infinity, hmin = Infinity;
  let timed_acq = 0; // acquisitions of the rows that have timed holds: holdtime-avg's divisor
  for (let cpu = 0; cpu < m.sizes.nr_cpus; cpu++) {
    for (const mode of modes) {
      const b = m.bases.lockstat_f64 + ((cpu * NR_LOCK_CLASSES + cls) * LOCKSTAT_RW + mode) * LOCKSTAT.stride;
      r.con_bounces += f64[b + LOCKSTAT.con_bounces];
      r.contentions += f64[b + LOCKSTAT.contentions];
      r.acq_bounces += f64[b + LOCKSTAT.acq_bounces];
      r.acquisitions += f64[b + LOCKSTAT.acquisitions];
      r.waittime_total += f64[b + LOCKSTAT.wait_total] / 1000;
      if (f64[b + LOCKSTAT.contentions] > 0) {
        r.waittime_max = Math.max(r.waittime_max, f64[b + LOCKSTAT.wait_max] / 1000);
        wmin = Math.min(wmin, f64[b + LOCKSTAT.wait_min] / 1000);
      }
      // the kernel's holdtime-total is the sum of every hold: the timed ones' mean times the row's acquisitions
      const timed = f64[b + LOCKSTAT.hold_samples];
      r.hold_samples += timed;
      if (timed > 0) {
        r.holdtime_total += (f64[b + LOCKSTAT.hold_total] / 1000) * (f64[b + LOCKSTAT.acquisitions] / timed);
        timed_acq += f64[b + LOCKSTAT.acquisitions];
        r.holdtime_max = Math.max(r.holdtime_max, f64[b + LOCKSTAT.hold_max] / 1000);
        hmin = Math.min(hmin, f64[b + LOCKSTAT.hold_min] / 1000);
      }
    }
  }
  r.waittime_min = Number.isFinite(wmin) ? wmin : 0;
  r.holdtime_min = Number.isFinite(hmin) ? hmin : 0;
  r.waittime_avg = r.contentions ? r.waittime_total / r.contentions : 0;
  r.holdtime_avg = timed_acq ? r.holdtime_total / timed_acq : 0;
  return r;
}

/** merged rows (times in µs), busiest class first, of a run's Machine (as its result keeps it: src/exec/free_run.ts RunResult.machine) */
export function lock_stat_rows(m: MachineView): LockStatRow[] {
  const rows: LockStatRow[] = [];
  for (let cls = 0; cls < NR_LOCK_CLASSES; cls++) {
    const all = counts(m, cls, [0, 1]);
    if (all.acquisitions === 0) continue;
    const R = counts(m, cls, [1]);
    rows.push({
      class: lock_class_name(cls, era_of(m)), ...all,
      split: R.acquisitions > 0 ? { W: counts(m, cls, [0]), R } : null,
      points: by_path(m, m.bases.lockstat_points, cls), contending: by_path(m, m.bases.lockstat_contending, cls),
    });
  }
  return rows.sort((a, b) => b.contentions - a.contentions || b.acquisitions - a.acquisitions);
}

/**
 * a row as the kernel prints it: one line under the class's name, or, for a
 * class taken for read too (an rwsem, an rwlock), a `-W` line if it was ever
 * taken for write and a `-R` line (lockdep_proc.c prints each mode that has
 * holds)
 */
export function lock_stat_modes(r: LockStatRow): [string, LockStatCounts][] {
  if (!r.split) return [[r.class, r]];
  return [...(r.split.W.acquisitions > 0 ? [[`${r.class}-W`, r.split.W] as [string, LockStatCounts]] : []), [`${r.class}-R`, r.split.R]];
}

const COLS = ['con-bounces', 'contentions', 'waittime-min', 'waittime-max', 'waittime-total', 'waittime-avg',
  'acq-bounces', 'acquisitions', 'holdtime-min', 'holdtime-max', 'holdtime-total', 'holdtime-avg'];

export function format_lock_stat(rows: LockStatRow[]): string {
  const w = 40;
  const rule = '-'.repeat(w + 1 + COLS.length * 15);
  const head = `${'class name'.padStart(w)}:${COLS.map((c) => c.padStart(15)).join('')}`;
  const f = (n: number) => n.toFixed(2).padStart(15);
  const i = (n: number) => String(Math.round(n)).padStart(15);
  const lines = ['lock_stat version 0.4', rule, head, rule];
  const line = (name: string, r: LockStatCounts) =>
    `${name.padStart(w)}:${i(r.con_bounces)}${i(r.contentions)}${f(r.waittime_min)}${f(r.waittime_max)}${f(r.waittime_total)}${f(r.waittime_avg)}${i(r.acq_bounces)}${i(r.acquisitions)}${f(r.holdtime_min)}${f(r.holdtime_max)}${f(r.holdtime_total)}${f(r.holdtime_avg)}`;
  for (const r of rows) {
    for (const [name, c] of lock_stat_modes(r)) lines.push(line(name, c));
    if (r.points.length === 0) continue;
    // as the kernel prints them: a dash line as long as the name, up to four contention points (where
    // the waiter was), a dash line, up to four contending points (where the holder was), then a dotted
    // line. The kernel lists call sites; the model names the kernel path.
    const dash = `${' '.repeat(Math.max(0, w - r.class.length))}${'-'.repeat(r.class.length)}`;
    const point = (p: { path: string; contentions: number }) => `${r.class.padStart(w)} ${String(p.contentions).padStart(14)} ${`[${p.path}]`.padStart(29)}`;
    lines.push(dash, ...r.points.slice(0, 4).map(point));
    if (r.contending.length) lines.push(dash, ...r.contending.slice(0, 4).map(point));
    lines.push('', '.'.repeat(w + 1 + 12 * 15), '');
  }
  lines.push(rule);
  return lines.join('\n');
}
