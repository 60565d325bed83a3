// kernel/fork.c: dup_mm/dup_mmap. The parent's mmap_sem is held for write
// for the whole copy, so the parent's faults wait; rmap walkers (migration)
// do not take mmap_sem and race with the copy through the anon_vma list and
// the PTLs.
import { CPUSTAT, MM, VMA } from '../shm/layout.js';
import { i32, mm_base, vma_base } from '../shm/machine.js';
import { current } from '../cpu/current.js';
import { EV_DUP_MMAP, EV_DUP_MMAP_DONE, trace_event } from '../cpu/events.js';
import { LC_ALLOC_LOCK, LC_MMAP_SEM } from '../sync/lock_class.js';
import { down_write, up_write } from '../sync/rwsem.js';
import { VM_DONTCOPY, mm_mmap_sem } from './mm_types.js';
import { exit_mmap, insert_vm_struct, mm_alloc, vma_alloc } from './mmap.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { anon_vma_link, vma_link_file } from './rmap.js';
import { copy_page_range } from './memory.js';
import { REC_PEEK, record_step, recording } from '../sync/preempt.js';

/** dup_mmap: copy every vma and its ptes into mm (both mmap_sems held for write) */
function dup_mmap(mm: number, oldmm: number): number {
  for (let mpnt = i32[mm_base(oldmm) + MM.mmap_first]; mpnt !== 0; mpnt = i32[vma_base(mpnt) + VMA.vm_next]) {
    const o = vma_base(mpnt);
    if ((i32[o + VMA.vm_flags] & VM_DONTCOPY) !== 0) continue;
    const tmp = vma_alloc();
    if (tmp === 0) return -12;
    const t = vma_base(tmp);
    for (const f of VMA.fields) i32[t + VMA[f]] = i32[o + VMA[f]];
    i32[t + VMA.vm_mm] = mm;
    i32[t + VMA.vm_next] = 0;
    i32[t + VMA.anon_vma_next] = 0; i32[t + VMA.anon_vma_prev] = 0;
    i32[t + VMA.shared_next] = 0; i32[t + VMA.shared_prev] = 0;
    anon_vma_link(tmp);
    vma_link_file(tmp, mpnt); // a file vma: right after its parent's on i_mmap (vma_prio_tree_add)
    insert_vm_struct(mm, tmp);
    if (copy_page_range(mm, oldmm, mpnt) !== 0) return -12;
  }
  return 0;
}

/** copy_mm for fork without CLONE_VM: returns the child's mm, or a negative errno */
export function copy_mm(oldmm: number): number {
  const mm = mm_alloc(oldmm);
  if (mm === 0) return -12;
  trace_event(EV_DUP_MMAP, oldmm, mm);
  const oldsem = mm_mmap_sem(oldmm);
  down_write(oldsem, LC_MMAP_SEM);
  down_write(mm_mmap_sem(mm), LC_MMAP_SEM); // down_write_nested: the child is new, nobody else can hold it
  const rc = dup_mmap(mm, oldmm);
  up_write(mm_mmap_sem(mm));
  up_write(oldsem);
  i32[current.stat + CPUSTAT.forks] += 1;
  // dup_mm's free_pt: a put, not a teardown: the copy may have put the mm on mmlist, where swapoff may pin it
  if (rc !== 0) { mmput(mm); return rc; }
  Atomics.store(i32, mm_base(mm) + MM.task, 1); // tsk->mm = mm: the new task names it (get_task_mm may pin it now)
  trace_event(EV_DUP_MMAP_DONE, oldmm, mm);
  return mm;
}

/**
 * get_task_mm: pin the mm of a task found by pid (an admin's migratepages or
 * move_pages); false once the task has let go of it. The model's task is its
 * mm (one task per mm): task_lock is the mm's alloc_lock, p->mm its `task`.
 * Under task_lock a named mm still holds the task's own reference, so the
 * count is above zero. Not a pin by mm_users alone: 2.6.18's try_to_unuse
 * raises an exiting mm's count from 0 to 1 for a moment before it drops it
 * again, and a pin taken then would tear the mm down a second time.
 */
export function get_task_mm(mm: number): boolean {
  const m = mm_base(mm);
  spin_lock(m + MM.alloc_lock, LC_ALLOC_LOCK);
  let ok = i32[m + MM.task] !== 0;
  if (ok) {
    if (recording) record_step(REC_PEEK); // capture: mm_users, changed without a lock
    // not zero all the same: a program that ended with a plain mmput (not exit_mm) clears `task` only at its last put
    for (;;) {
      const v = Atomics.load(i32, m + MM.mm_users);
      if (v <= 0) { ok = false; break; }
      if (Atomics.compareExchange(i32, m + MM.mm_users, v, v + 1) === v) break;
    }
  }
  spin_unlock(m + MM.alloc_lock);
  return ok;
}

/** exit_mm (kernel/exit.c): the task lets go of its mm under task_lock, then drops its reference */
export function exit_mm(mm: number): void {
  task_lets_go(mm);
  mmput(mm);
}

function task_lets_go(mm: number): void {
  const m = mm_base(mm);
  spin_lock(m + MM.alloc_lock, LC_ALLOC_LOCK);
  Atomics.store(i32, m + MM.task, 0);
  spin_unlock(m + MM.alloc_lock);
}

/** mmput: drop a user; the last one tears the mm down */
export function mmput(mm: number): void {
  if (recording) record_step(REC_PEEK); // capture: mm_users, changed without a lock
  if (Atomics.sub(i32, mm_base(mm) + MM.mm_users, 1) === 1) {
    // a child whose program ended with mmput, not exit_mm: its task lets go here. get_task_mm's count check
    // covers the moment between the put and this, unless swapoff's 0 -> 1 falls in it: looked-up children exit_mm
    if (Atomics.load(i32, mm_base(mm) + MM.task) !== 0) task_lets_go(mm);
    exit_mmap(mm);
    i32[current.stat + CPUSTAT.exits] += 1;
  }
}
