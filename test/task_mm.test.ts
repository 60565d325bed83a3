// Who may pin an mm, and who tears it down. An admin's lookup (get_task_mm)
// pins a process's mm only while the task still names it (task_lock), and
// fork's failure path drops its reference like any other holder (dup_mm's
// mmput). Both matter with 2.6.18's swapoff beside them: try_to_unuse raises
// an exiting mm's count from 0 to 1 for a moment, and pins a half-copied
// child that fork has already put on mmlist. Either way a second teardown of
// the same mm freed its vmas under a live child (swap-stress, 5 CPUs, heavy
// jitter: "unexpected SIGSEGV in child store").
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, boot, parent } from './helpers.js';
import { copy_mm, exit_mm, get_task_mm, mmput } from '../src/mm/fork.js';
import { find_vma } from '../src/mm/mmap.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { put_page } from '../src/mm/swap.js';
import { cpustat_base, i32, mm_base, sizes } from '../src/shm/machine.js';
import { CPUSTAT, MM, PAGE_SIZE } from '../src/shm/layout.js';
import { PP_LOCK_ACQUIRE, set_preempt_hooks } from '../src/sync/preempt.js';

const users = (mm: number) => Atomics.load(i32, mm_base(mm) + MM.mm_users);
const live = (mm: number) => Atomics.load(i32, mm_base(mm) + MM.live);
const exits = () => i32[cpustat_base(0) + CPUSTAT.exits];

describe('get_task_mm, exit_mm and the mm lifetime', () => {
  afterEach(() => set_preempt_hooks(null, null));

  it('a lookup pins a forked child while its task runs; the child exits, the last reference tears it down', () => {
    boot({ nr_pages: 256, nr_mm: 8, nr_vma: 32 });
    const p = parent(4);
    const child = copy_mm(p.mm);
    expect(child).toBeGreaterThan(0);
    expect(get_task_mm(child)).toBe(true);
    expect(users(child)).toBe(2);
    exit_mm(child); // the process is gone; the admin's reference keeps the mm
    expect(live(child)).toBe(1);
    expect(find_vma(child, BASE)).not.toBe(0);
    expect(get_task_mm(child), 'no pin once the task has let go').toBe(false);
    expect(users(child)).toBe(1);
    mmput(child);
    expect(live(child)).toBe(0);
    expect(exits()).toBe(1);
  });

  it('a child whose program ends with a plain mmput: its task lets go at the last put, and a lookup then finds nothing', () => {
    boot({ nr_pages: 256, nr_mm: 8, nr_vma: 32 });
    const p = parent(4);
    const child = copy_mm(p.mm);
    expect(Atomics.load(i32, mm_base(child) + MM.task)).toBe(1);
    mmput(child);
    expect(Atomics.load(i32, mm_base(child) + MM.task)).toBe(0);
    expect(get_task_mm(child)).toBe(false);
    expect(exits()).toBe(1);
  });

  it("swapoff's momentary count on an exiting mm does not let a lookup pin it", () => {
    boot({ nr_pages: 256, nr_mm: 8, nr_vma: 32 });
    const p = parent(4);
    const child = copy_mm(p.mm);
    let pinned: boolean | null = null;
    const hook = () => {
      // inside exit_mmap of the child: its count is 0, the teardown is under way
      if (pinned !== null || users(child) !== 0 || live(child) !== 1) return;
      set_preempt_hooks(null, null);
      Atomics.add(i32, mm_base(child) + MM.mm_users, 1); // try_to_unuse's atomic_inc_return: 1, so it backs off...
      pinned = get_task_mm(child); // ...but an admin's lookup lands in between
      Atomics.sub(i32, mm_base(child) + MM.mm_users, 1); // ...and swapoff's atomic_dec
      // (a pin taken here would be an mmput that tears the mm down a second time, later)
    };
    set_preempt_hooks((what) => { if (what === PP_LOCK_ACQUIRE) hook(); }, null);
    exit_mm(child);
    set_preempt_hooks(null, null);
    expect(pinned, 'the hook ran inside exit_mmap').not.toBeNull();
    expect(pinned).toBe(false);
    expect(exits(), 'the mm was torn down once').toBe(1);
    expect(live(child)).toBe(0);
    expect(users(child)).toBe(0);
  });

  it('a fork that fails with another reference on its mm leaves the teardown to the last put', () => {
    boot({ nr_pages: 256, nr_mm: 8, nr_vma: 32 });
    const p = parent(4);
    const hoard: number[] = [];
    let pinned = 0;
    const hook = () => {
      // copy_mm's new mm exists, its copy has not started: pin it as swapoff would once a copied swap
      // pte put it on mmlist, and take every free page, so that copy_pte_range's pte_alloc fails
      for (let mm = 1; mm < sizes.nr_mm && pinned === 0; mm++) {
        if (mm === p.mm || live(mm) !== 1 || i32[mm_base(mm) + MM.parent_mm] !== p.mm) continue;
        set_preempt_hooks(null, null);
        Atomics.add(i32, mm_base(mm) + MM.mm_users, 1);
        pinned = mm;
        for (let pfn = alloc_page(); pfn !== 0; pfn = alloc_page()) hoard.push(pfn);
      }
    };
    set_preempt_hooks((what) => { if (what === PP_LOCK_ACQUIRE) hook(); }, null);
    const rc = copy_mm(p.mm);
    set_preempt_hooks(null, null);
    expect(pinned, 'the hook found the half-copied mm').toBeGreaterThan(0);
    expect(hoard.length).toBeGreaterThan(0);
    expect(rc).toBe(-12);
    expect(live(pinned), 'fork put its reference; ours keeps the mm').toBe(1);
    expect(users(pinned)).toBe(1);
    expect(exits()).toBe(0);
    for (const pfn of hoard) put_page(pfn);
    mmput(pinned);
    expect(live(pinned)).toBe(0);
    expect(exits()).toBe(1);
    expect(find_vma(p.mm, BASE + 3 * PAGE_SIZE), "the parent's region is intact").not.toBe(0);
  });
});
