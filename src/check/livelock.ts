// C-LIVELOCK (kernel-notes 5.2; seed 004, E3): a CPU whose user access
// faults at the same (mm, addr) R times in a row without the access ever
// completing is in a livelock: every fault "succeeds" (returns to retry)
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
import { HMM_REASONS, HMM_REASON_STAT, hmm_reason } from '../mm/migrate_vma.js';
import { CPUSTAT } from '../shm/layout.js';

/** consecutive faults at a device-private entry before the report (R), and at anything else */
export const LIVELOCK_R_DEVICE = 256, LIVELOCK_R_OTHER = 10000;

let streak_mm = 0, streak_addr = 0, streak = 0;

/** the access completed: the streak is over */
export function livelock_progress(): void {
  streak = 0;
}

/** the MMU is about to fault at (mm, addr) on `pte`: one more in the streak, and the report at R */
export function livelock_fault(mm: number, addr: number, pte: number): void {
  if (streak !== 0 && mm === streak_mm && addr === streak_addr) streak++;
  else { streak_mm = mm; streak_addr = addr; streak = 1; }
  if (streak < LIVELOCK_R_DEVICE) return;
  const entry = is_swap_pte(pte) ? pte_to_swp_entry(pte) : 0;
  const device = entry !== 0 && is_device_private_entry(entry);
  if (streak >= (device ? LIVELOCK_R_DEVICE : LIVELOCK_R_OTHER)) livelock_report(mm, addr, entry);
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
    const waiters: string[] = [];
    for (let c = 0; c < sizes.nr_cpus; c++) {
      if (c !== current.cpu && i32[percpu_base(c) + PERCPU.wait_ref] === pfn) waiters.push(`CPU ${c} (in ${path_name(c)})`);
    }
    lines.push(`mmrace: pfn ${pfn}: count ${Atomics.load(i32, p + PAGE._count)} mapcount ${Atomics.load(i32, p + PAGE._mapcount) + 1}; ` +
      (waiters.length ? `the reference that blocks it: migration_entry_wait's get_page_unless_zero, held by ${waiters.join(', ')}` : 'no CPU holds a migration_entry_wait reference on it now'));
    cpus.push(...waiters);
  }
  lines.push(`mmrace: CPUs in the loop: ${cpus.join(', ')}`);
  fail(OOPS_SOFTLOCKUP, lines.join('\n'), pfn, mm, addr);
}
