// C-LIVELOCK (kernel-notes 5.2; seed 004, E3): a CPU whose user access
// faults at the same (mm, addr) R times in a row, each device fault leaving
// the same non-present pte, without the access ever completing is in a
// livelock when a fault of the streak failed for a reason that repeats by
// itself: every fault "succeeds" (returns to retry) and nothing moves. The kernel has no such detector (its soft-lockup
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
import { is_device_private_entry, pte_to_swp_entry, swp_offset } from '../mm/swapops.js';
import { HMM_REASONS, HMM_REASON_CHECK, HMM_REASON_ISOLATE, HMM_REASON_NONE, HMM_REASON_UNMAP, HMM_REASON_STAT, hmm_reason } from '../mm/migrate_vma.js';
import { CPUSTAT } from '../shm/layout.js';

/** device faults in a row that left the pte as it was before the report or the statistic (R, kernel-notes 5.2) */
export const LIVELOCK_R_DEVICE = 256;

/** the reasons that repeat by themselves: a streak holding one of them is a livelock (an unmap that cannot find a
 *  device-private entry, 4.14's map_pte, fails the same way every time too) */
const LIVELOCK_REASONS = (1 << HMM_REASON_CHECK) | (1 << HMM_REASON_ISOLATE) | (1 << HMM_REASON_UNMAP);

/** the streak: (mm, addr, the non-present pte it keeps finding), its length, the reasons its faults noted */
let streak_mm = 0, streak_addr = 0, streak_pte = 0, streak = 0, streak_reasons = 0;

/** a CPU starts a run (a pooled worker runs one after another): no streak, no reason */
export function livelock_attach(): void {
  streak = 0; streak_mm = 0; streak_addr = 0; streak_pte = 0; streak_reasons = 0;
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
 * the fault at (mm, addr) on the non-present pte `pte` (read from `slot`)
 * returned and the access is retried. A device fault (pte a device-private
 * entry) that left the pte exactly as it found it counts in the streak,
 * whatever its reason; a pte that changed ends it. At R faults in a row the
 * streak is a livelock (the run stops with the report) if one of its faults
 * was rejected for a reason that repeats by itself (a pin seen by
 * migrate_vma_check_page, a failed isolation, a mapping try_to_unmap cannot find); otherwise (a lost exact count
 * test, a page lock another CPU held: 4.14's residual, kernel-notes 8 q.2)
 * it is counted in hmm_residual_streaks and starts afresh: a statistic,
 * never a failure.
 */
export function livelock_fault_end(mm: number, addr: number, pte: number, slot: number): void {
  if (!is_swap_pte(pte) || !is_device_private_entry(pte_to_swp_entry(pte))) return; // not a device fault
  if (slot === 0 || Atomics.load(i32, slot) !== pte) { streak = 0; return; } // the fault moved something
  if (streak !== 0 && mm === streak_mm && addr === streak_addr && pte === streak_pte) streak++;
  else { streak_mm = mm; streak_addr = addr; streak_pte = pte; streak = 1; streak_reasons = 0; }
  streak_reasons |= 1 << hmm_reason.last;
  if (streak < LIVELOCK_R_DEVICE) return;
  if ((streak_reasons & LIVELOCK_REASONS) !== 0) livelock_report(mm, addr, pte_to_swp_entry(pte));
  i32[current.stat + CPUSTAT.hmm_residual_streaks] += 1;
  streak = 0;
}

const path_name = (cpu: number) => EVENTS[i32[percpu_base(cpu) + PERCPU.path]]?.name ?? '-';

function livelock_report(mm: number, addr: number, entry: number): never {
  const pfn = swp_offset(entry);
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
