// C-LIVELOCK (kernel-notes 5.2; seed 004, E3): a CPU whose user access
// faults at the same (mm, addr) R times in a row, each device fault leaving
// the address on the same device page (its entry, or another CPU's
// migration entry of it), without the access ever completing is in a
// livelock when a fault of the streak failed for a reason that repeats by
// itself: every fault "succeeds" (returns to retry) and nothing moves. Any
// other non-present pte left as it was R = 10000 times in a row is a
// livelock whatever the reason. The kernel has no such detector (its
// soft-lockup watchdog never fires: each fault returns to user mode); the
// model's stops the run there with the reason counter the paths bumped last
// and the references that keep the page from moving, and reports it as
// liveness. The streaks are per CPU: module state of the worker, no shared word.
import { PAGE, PERCPU } from '../shm/layout.js';
import { i32, page_base, percpu_base, sizes } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EVENTS } from '../cpu/events.js';
import { OOPS_SOFTLOCKUP, fail } from './bug.js';
import { is_swap_pte, pte_hw_present } from '../mm/pgtable.js';
import { is_device_private_entry, is_migration_entry, pte_to_swp_entry, swp_offset, swp_type } from '../mm/swapops.js';
import { HMM_REASONS, HMM_REASON_CHECK, HMM_REASON_ISOLATE, HMM_REASON_NONE, HMM_REASON_UNMAP, HMM_REASON_STAT, hmm_reason } from '../mm/migrate_vma.js';
import { CPUSTAT } from '../shm/layout.js';

/** device faults in a row that left the pte as it was before the report or the statistic (R, kernel-notes 5.2) */
export const LIVELOCK_R_DEVICE = 256;

/** faults in a row at one (mm, addr) on any other non-present pte (a swap or migration entry) that left it as it was:
 *  a livelock whatever the reason (kernel-notes 5.2; h13) */
export const LIVELOCK_R = 10_000;

/** the reasons that repeat by themselves: a streak holding one of them is a livelock (an unmap that cannot find a
 *  device-private entry, 4.14's map_pte, fails the same way every time too) */
const LIVELOCK_REASONS = (1 << HMM_REASON_CHECK) | (1 << HMM_REASON_ISOLATE) | (1 << HMM_REASON_UNMAP);

/** the streak: (mm, addr, the non-present pte it keeps finding), its length, the reasons its faults noted */
let streak_mm = 0, streak_addr = 0, streak_pte = 0, streak = 0, streak_reasons = 0;
/** the last reason of the streak that repeats by itself (what the report names: the streak's last fault may have
 *  found another CPU's migration entry and noted none) */
let streak_lr = HMM_REASON_NONE;
/** the same for faults on other non-present ptes (R = LIVELOCK_R); kept apart, so a fault on a migration entry
 *  between two device faults (the roles of two faulters swapping, kernel-notes 4.15) does not end the device streak */
let other_mm = 0, other_addr = 0, other_pte = 0, other = 0;

/** a CPU starts a run (a pooled worker runs one after another): no streak, no reason */
export function livelock_attach(): void {
  streak = 0; streak_mm = 0; streak_addr = 0; streak_pte = 0; streak_reasons = 0; streak_lr = HMM_REASON_NONE;
  other = 0; other_mm = 0; other_addr = 0; other_pte = 0;
  hmm_reason.last = HMM_REASON_NONE; hmm_reason.pfn = 0; hmm_reason.count = 0; hmm_reason.blockers = 0; hmm_reason.collectors = 0;
}

/** the access completed: the streak is over */
export function livelock_progress(): void {
  streak = 0;
  other = 0;
}

/** the MMU is about to fault at (mm, addr): forget the reason of any earlier fault */
export function livelock_fault_begin(): void {
  hmm_reason.last = HMM_REASON_NONE;
}

/**
 * the fault at (mm, addr) on the non-present pte `pte` (read from `slot`)
 * returned and the access is retried. A device fault (pte a device-private
 * entry) that left the address on the same device page counts in the
 * streak, whatever its reason; a pte that changed otherwise ends it. At R faults in a row the
 * streak is a livelock (the run stops with the report) if one of its faults
 * was rejected for a reason that repeats by itself (a pin seen by
 * migrate_vma_check_page, a failed isolation, a second mapping try_to_unmap cannot find); otherwise (a lost exact
 * count test, a page lock another CPU held, our own entry left by a collect whose trylock lost: 4.14's residual,
 * kernel-notes 8 q.2)
 * it is counted in hmm_residual_streaks and starts afresh: a statistic,
 * never a failure. Any other non-present pte (a swap or migration entry)
 * left as it was LIVELOCK_R times in a row is a livelock, whatever the reason.
 */
export function livelock_fault_end(mm: number, addr: number, pte: number, slot: number): void {
  if (pte_hw_present(pte) || pte === 0) return; // a protection fault or a fault that fills a hole: never left as it was
  if (!is_swap_pte(pte) || !is_device_private_entry(pte_to_swp_entry(pte))) { other_fault_end(mm, addr, pte, slot); return; }
  other = 0;
  if (slot === 0 || !still_on_device(Atomics.load(i32, slot), pte)) { streak = 0; return; } // the fault moved something
  if (streak !== 0 && mm === streak_mm && addr === streak_addr && pte === streak_pte) streak++;
  else { streak_mm = mm; streak_addr = addr; streak_pte = pte; streak = 1; streak_reasons = 0; streak_lr = HMM_REASON_NONE; }
  streak_reasons |= 1 << hmm_reason.last;
  if ((LIVELOCK_REASONS & (1 << hmm_reason.last)) !== 0) streak_lr = hmm_reason.last;
  if (streak < LIVELOCK_R_DEVICE) return;
  if ((streak_reasons & LIVELOCK_REASONS) !== 0) livelock_report(mm, addr, pte_to_swp_entry(pte));
  i32[current.stat + CPUSTAT.hmm_residual_streaks] += 1;
  streak = 0;
}

/**
 * after a device fault on `pte`, does the address still stand where it did:
 * the same entry, or a migration entry of the same device page (another
 * CPU's fault on it is under way: when two threads fault on the page their
 * faults alternate between the device entry and the other's migration
 * entry, and neither moves it, kernel-notes 4.15 step 5)?
 */
function still_on_device(now: number, pte: number): boolean {
  if (now === pte) return true;
  if (!is_swap_pte(now)) return false;
  const e = pte_to_swp_entry(now);
  return is_migration_entry(e) && swp_offset(e) === swp_offset(pte_to_swp_entry(pte));
}

/** a fault on a non-present pte that is no device-private entry returned (R = LIVELOCK_R, no reason needed) */
function other_fault_end(mm: number, addr: number, pte: number, slot: number): void {
  if (slot === 0 || Atomics.load(i32, slot) !== pte) { other = 0; return; }
  if (other !== 0 && mm === other_mm && addr === other_addr && pte === other_pte) other++;
  else { other_mm = mm; other_addr = addr; other_pte = pte; other = 1; }
  if (other < LIVELOCK_R) return;
  const entry = is_swap_pte(pte) ? pte_to_swp_entry(pte) : 0;
  const what = entry !== 0 && is_migration_entry(entry) ? `a migration entry of pfn ${swp_offset(entry)}`
    : entry !== 0 ? `a swap entry (type ${swp_type(entry)}, offset ${swp_offset(entry)})` : 'a non-present pte';
  const reason = hmm_reason.last;
  fail(OOPS_SOFTLOCKUP, [`INFO: livelock: CPU#${current.cpu} retried the fault at mm#${mm} 0x${(addr >>> 0).toString(16)} ${other} times without progress`,
    `mmrace: reason: ${reason !== HMM_REASON_NONE ? HMM_REASONS[reason] : 'none recorded'}; every fault left the pte 0x${(pte >>> 0).toString(16)} (${what}) as it found it`,
    `mmrace: CPUs in the loop: CPU ${current.cpu} (${current.comm}, faulting)`].join('\n'), entry !== 0 && is_migration_entry(entry) ? swp_offset(entry) : 0, mm, addr);
}

const path_name = (cpu: number) => EVENTS[i32[percpu_base(cpu) + PERCPU.path]]?.name ?? '-';

function livelock_report(mm: number, addr: number, entry: number): never {
  const pfn = swp_offset(entry);
  const reason = streak_lr;
  const stat = HMM_REASON_STAT[reason];
  const last = hmm_reason.last !== reason ? `; the last fault's: ${HMM_REASONS[hmm_reason.last]}` : '';
  const lines = [`INFO: livelock: CPU#${current.cpu} retried the fault at mm#${mm} 0x${(addr >>> 0).toString(16)} ${streak} times without progress`,
    `mmrace: reason: ${HMM_REASONS[reason]}${stat >= 0 ? ` (${CPUSTAT.fields.find((f) => CPUSTAT[f] === stat)} ${i32[current.stat + stat]} on this CPU)` : ''}${last}`];
  const cpus = [`CPU ${current.cpu} (${current.comm}, faulting)`];
  if (pfn > 0) {
    const p = page_base(pfn);
    lines.push(`mmrace: pfn ${pfn} now: count ${Atomics.load(i32, p + PAGE._count)} mapcount ${Atomics.load(i32, p + PAGE._mapcount) + 1}`);
  }
  if (reason === HMM_REASON_CHECK && hmm_reason.pfn > 0) {
    // who held a reference when the page was last rejected (noted then: a waiter drops its reference soon after)
    const held: string[] = [], collecting: string[] = [];
    for (let c = 0; c < sizes.nr_cpus; c++) {
      if ((hmm_reason.blockers & (1 << c)) !== 0) held.push(`CPU ${c} (in ${path_name(c)})`);
      if ((hmm_reason.collectors & (1 << c)) !== 0) collecting.push(`CPU ${c} (in ${path_name(c)})`);
    }
    const refs: string[] = [];
    if (held.length) refs.push(`migration_entry_wait's get_page_unless_zero, held by ${held.join(', ')}`);
    if (collecting.length) refs.push(`a concurrent migrate_vma's own reference (collect's, or a new page's until its finalize drops it), held by ${collecting.join(', ')}`);
    lines.push(`mmrace: at the last rejection, pfn ${hmm_reason.pfn} had count ${hmm_reason.count}; ` +
      (refs.length ? `the reference that blocks it: ${refs.join('; ')}` : 'no other CPU was noted holding a reference on it'));
    for (const h of [...held, ...collecting]) if (!cpus.includes(h)) cpus.push(h);
  }
  lines.push(`mmrace: CPUs in the loop: ${cpus.join(', ')}`);
  fail(OOPS_SOFTLOCKUP, lines.join('\n'), pfn, mm, addr);
}
