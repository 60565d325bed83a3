// C-LIVELOCK (kernel-notes 5.2; seed 004, E3): a CPU whose user access
// faults at the same (mm, addr) R times in a row, each device fault failing
// for a named reason, without the access ever completing is in a livelock: every fault "succeeds" (returns to retry)
// and nothing moves. The kernel has no such detector (its soft-lockup
// watchdog never fires: each fault returns to user mode); the model's
// stops the run there with the reason counter the paths bumped last and the
// references that keep the page from moving, and reports it as liveness.
// The streak is per CPU: module state of the worker, no shared word.
import { PAGE, PERCPU } from '../shm/layout.js';
import { i32, page_base, percpu_base, sizes } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EVENTS } from '../cpu/events.js';
import { OOPS_SOFTLOCKUP, fail } from './bug.js';
import { is_swap_pte } from '../mm/pgtable.js';
import { is_device_private_entry, is_migration_entry, pte_to_swp_entry, swp_offset } from '../mm/swapops.js';
import { HMM_REASONS, HMM_REASON_CHECK, HMM_REASON_ISOLATE, HMM_REASON_NONE, HMM_REASON_STAT, hmm_reason } from '../mm/migrate_vma.js';
import { CPUSTAT } from '../shm/layout.js';

/** device faults in a row that failed for one of the reasons below before the report (R, kernel-notes 5.2) */
export const LIVELOCK_R_DEVICE = 256;

let streak_mm = 0, streak_addr = 0, streak = 0;

/** a CPU starts a run (a pooled worker runs one after another): no streak, no reason */
export function livelock_attach(): void {
  streak = 0; streak_mm = 0; streak_addr = 0;
  hmm_reason.last = HMM_REASON_NONE; hmm_reason.pfn = 0; hmm_reason.count = 0; hmm_reason.blockers = 0;
}

/** the access completed: the streak is over */
export function livelock_progress(): void {
  streak = 0;
}

/** the MMU is about to fault at (mm, addr): forget the reason of any earlier fault */
export function livelock_fault_begin(): void {
  hmm_reason.last = HMM_REASON_NONE;
}

/**
 * the fault at (mm, addr) returned and the access is retried. It counts in
 * the streak when a device fault left the page where it was for a reason
 * that repeats by itself (a pin seen by migrate_vma_check_page, a failed
 * isolation); a fault that waited, backed off a page lock another CPU holds
 * (that CPU makes progress), or lost the exact count test of
 * migrate_vma_pages to a waiter's reference (4.14's residual, kernel-notes 8
 * q.2: a statistic, hmm_move_eagain, never a failure) neither counts nor
 * ends the streak. At R the run stops with the report.
 */
export function livelock_fault_end(mm: number, addr: number, pte: number): void {
  const r = hmm_reason.last;
  if (r !== HMM_REASON_CHECK && r !== HMM_REASON_ISOLATE) return;
  if (streak !== 0 && mm === streak_mm && addr === streak_addr) streak++;
  else { streak_mm = mm; streak_addr = addr; streak = 1; }
  if (streak >= LIVELOCK_R_DEVICE) livelock_report(mm, addr, is_swap_pte(pte) ? pte_to_swp_entry(pte) : 0);
}

const path_name = (cpu: number) => EVENTS[i32[percpu_base(cpu) + PERCPU.path]]?.name ?? '-';

function livelock_report(mm: number, addr: number, entry: number): never {
  const pfn = entry !== 0 && (is_device_private_entry(entry) || is_migration_entry(entry)) ? swp_offset(entry) : 0;
  const reason = hmm_reason.last;
  const stat = HMM_REASON_STAT[reason];
  const lines = [`INFO: livelock: CPU#${current.cpu} retried the fault at mm#${mm} 0x${(addr >>> 0).toString(16)} ${streak} times without progress`,
    `mmrace: reason: ${HMM_REASONS[reason]}${stat >= 0 ? ` (${CPUSTAT.fields.find((f) => CPUSTAT[f] === stat)} ${i32[current.stat + stat]} on this CPU)` : ''}`];
  const cpus = [`CPU ${current.cpu} (${current.comm}, faulting)`];
  if (pfn > 0) {
    const p = page_base(pfn);
    lines.push(`mmrace: pfn ${pfn} now: count ${Atomics.load(i32, p + PAGE._count)} mapcount ${Atomics.load(i32, p + PAGE._mapcount) + 1}`);
  }
  if (reason === HMM_REASON_CHECK && hmm_reason.pfn > 0) {
    // who held a reference when the page was last rejected (noted then: a waiter drops its reference soon after)
    const held: string[] = [];
    for (let c = 0; c < sizes.nr_cpus; c++) if ((hmm_reason.blockers & (1 << c)) !== 0) held.push(`CPU ${c} (in ${path_name(c)})`);
    lines.push(`mmrace: at the last rejection, pfn ${hmm_reason.pfn} had count ${hmm_reason.count}; ` +
      (held.length ? `the reference that blocks it: migration_entry_wait's get_page_unless_zero, held by ${held.join(', ')}` : 'no CPU held a migration_entry_wait reference on it'));
    for (const h of held) if (!cpus.includes(h)) cpus.push(h);
  }
  lines.push(`mmrace: CPUs in the loop: ${cpus.join(', ')}`);
  fail(OOPS_SOFTLOCKUP, lines.join('\n'), pfn, mm, addr);
}
