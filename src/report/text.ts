// The human report of one run: outcome line, splat, lock_stat, per-CPU work.
import type { RunReport } from './json.js';
import { format_lock_stat } from './lock_stat.js';
import { fmt_count, fmt_ms } from './format.js';
import { format_latency } from './latency.js';
import { format_lock_order } from './lockdep.js';
import { clean_label, windows_line } from '../cpu/windows.js';

const PER_CPU_COLS = ['ops', 'faults', 'cow', 'forks', 'migrations', 'migrate_ok', 'migration_waits', 'swapouts', 'swapins', 'user_reads', 'user_writes', 'tlb_flushes'];

export function outcome_line(r: RunReport): string {
  const what = r.outcome === 'clean' ? `${clean_label(r.windows)}: ${fmt_count(r.ops)} ops, 0 violations in ${fmt_ms(r.elapsed_ms)}`
    : r.outcome === 'bug' ? `BUG after ${fmt_ms(r.first_failure_ms)} (${fmt_count(r.ops)} ops)`
    : r.outcome === 'violation' && !r.failure && r.lockdep.report ? `lockdep: possible circular locking dependency (${r.lockdep.report.cycle.join(' -> ')}); ${fmt_count(r.ops)} ops`
    : r.outcome === 'violation' && r.first_failure_ms === null ? `violation found by the end-of-run sweep after ${fmt_ms(r.elapsed_ms)} (${fmt_count(r.ops)} ops)`
    : r.outcome === 'violation' ? `violation after ${fmt_ms(r.first_failure_ms)} (${fmt_count(r.ops)} ops)`
    : r.outcome === 'liveness' ? `liveness failure after ${fmt_ms(r.elapsed_ms)}: ${r.reason}`
    : `internal error after ${fmt_ms(r.elapsed_ms)}: ${r.reason}`;
  const sig = r.interrupted ? `  [interrupted by ${r.interrupted}]` : '';
  const exp = r.expect ? `  [expected ${r.expect}: ${r.expectation_met ? 'met' : r.vacuous ? `MISSED: vacuous, window ${r.vacuous} never opened` : 'MISSED'}]` : '';
  return `outcome: ${what}${sig}${exp}`;
}

export function text_report(r: RunReport, opts: { lockStat?: boolean; latency?: boolean; lockOrder?: boolean } = {}): string {
  const out: string[] = [];
  out.push(`mmrace run ${r.scenario}  era=${r.era}  protocol=${r.protocol}${r.switches.length ? ` [${r.switches.join(', ')}]` : ''}  cpus=${r.cpus} (${r.roles.join(', ')})  seed=${r.seed}  jitter=${r.jitter}`);
  out.push(outcome_line(r));
  const win = windows_line(r.windows);
  if (win) out.push(win);
  if (r.bounds_note) out.push('', `${r.bounds_note.split('\n')[0]} (noted; the run went on to show what it does next)`);
  if (r.warning) out.push('', `CPU ${r.warning.cpu}: ${r.warning.text}`, `(a warning: the run went on${r.warning.count > 1 ? `; ${r.warning.count} warnings in all, the first shown` : ''})`);
  if (r.failure) out.push('', r.failure.splat);
  if (r.invariants.length && !r.failure?.splat.includes(r.invariants[0])) out.push('', 'invariants:', ...r.invariants.map((s) => `  ${s}`));
  if (r.lockdep.report) out.push('', r.lockdep.report.text);
  if (r.lockdep.disabled) out.push('', r.lockdep.disabled);
  if (opts.lockStat !== false && r.lock_stat.length) out.push('', format_lock_stat(r.lock_stat));
  if (opts.latency !== false && r.latency.length) out.push('', format_latency(r.latency, r.cpus));
  if (opts.lockOrder) out.push('', format_lock_order(r.lockdep.edges));
  out.push('', `${'CPU'.padStart(3)} ${'role'.padEnd(9)} ${'status'.padEnd(7)}${PER_CPU_COLS.map((c) => c.padStart(Math.max(9, c.length + 1))).join('')}`);
  for (const c of r.per_cpu) {
    out.push(`${String(c.cpu).padStart(3)} ${String(c.role).padEnd(9)} ${String(c.status).padEnd(7)}${PER_CPU_COLS.map((k) => String(c[k] ?? 0).padStart(Math.max(9, k.length + 1))).join('')}`);
  }
  const dev = device_line(r);
  if (dev) out.push('', dev);
  out.push('', `throughput: ${fmt_count(r.ops_per_s)} ops/s (${fmt_count(r.ops_per_s / r.cpus)} per CPU)`);
  const ov = overlap_line(r);
  if (ov) out.push(ov);
  out.push(`replay: ${r.replay}`);
  return out.join('\n');
}

/** load: how much the CPUs of a free run ran at the same time (src/worker/overlap.ts); null for a controlled run or one CPU */
export function overlap_line(r: Pick<RunReport, 'overlap' | 'cpus'>): string | null {
  const o = r.overlap;
  if (!o || r.cpus < 2) return null;
  return `overlap: another CPU progressed in ${(100 * o.fraction).toFixed(0)} % of ${fmt_count(o.samples)} samples (one per op)` +
    (o.yields ? `; adaptive jitter gave up the core ${fmt_count(o.yields)} times` : '');
}

/**
 * seed 004 (E3): device memory's statistics, when a run used it: round
 * trips, device faults, and the reason counters; 4.14's residual
 * (hmm_move_eagain, kernel-notes 8 q.2) is a statistic, never a failure
 */
function device_line(r: RunReport): string | null {
  const sum = (k: string) => r.per_cpu.reduce((a, c) => a + (Number(c[k]) || 0), 0);
  const to_dev = sum('dev_to_device'), faults = sum('dev_faults');
  if (to_dev === 0 && faults === 0) return null;
  return `device memory: ${fmt_count(to_dev)} pages moved to the device, ${fmt_count(sum('dev_to_ram'))} back (round trips); ` +
    `${fmt_count(faults)} device faults, ${fmt_count(sum('dev_fault_retries'))} retried; check-page rejections ${sum('hmm_check_rejects')}, ` +
    `isolation failures ${sum('hmm_isolate_fails')}; 4.14's residual (migrate_page -EAGAIN on a device page, a statistic) ${sum('hmm_move_eagain')}, ` +
    `residual streaks of R faults ${sum('hmm_residual_streaks')}; ` +
    `device's own faults ${fmt_count(sum('mirror_faults'))}`;
}
