// The page side of fs/buffer.c. A file page written through write(2) gets
// buffer heads: PG_private, a buffer id in page->private and one reference
// the buffers hold (kernel-notes 8: no buffer locks, one id per page). They
// are dropped when clean (try_to_release_page), at truncate
// (do_invalidatepage), or carried to the new page by buffer_migrate_page.
// Caller holds the page lock in every case.
import { PAGE, PG_bh_lock, PG_dirty, PG_private } from '../shm/layout.js';
import { i32, page_base } from '../shm/machine.js';
import { check_halt, cpu_relax, preempt_point, preempt_point_release, PP_LOCK_ACQUIRE } from '../sync/preempt.js';
import { get_page } from './swap.js';
import { MIGRATE_ASYNC, MIGRATE_MODE_MASK } from './migrate_mode.js';

/** create_empty_buffers: attach buffers to a locked page that has none */
export function create_empty_buffers(pfn: number): void {
  get_page(pfn); // attach_page_buffers: the buffers' reference
  i32[page_base(pfn) + PAGE.private] = pfn; // the model's buffer id: one buffer head per page, named by its page
  Atomics.or(i32, page_base(pfn) + PAGE.flags, PG_private);
}

/**
 * try_to_free_buffers: drop the buffers of a locked page if none is dirty.
 * Their reference is never the page's last (the caller holds one).
 */
export function try_to_free_buffers(pfn: number): boolean {
  const p = page_base(pfn);
  if ((Atomics.load(i32, p + PAGE.flags) & PG_private) === 0) return true;
  if ((Atomics.load(i32, p + PAGE.flags) & PG_dirty) !== 0) return false; // buffer_dirty: the data is not on disk yet
  Atomics.and(i32, p + PAGE.flags, ~PG_private);
  i32[p + PAGE.private] = 0;
  Atomics.sub(i32, p + PAGE._count, 1);
  return true;
}

/** do_invalidatepage at truncate: the buffers go whatever their state (the data is being thrown away) */
export function do_invalidatepage(pfn: number): void {
  const p = page_base(pfn);
  if ((Atomics.load(i32, p + PAGE.flags) & PG_private) === 0) return;
  Atomics.and(i32, p + PAGE.flags, ~PG_private);
  i32[p + PAGE.private] = 0;
  Atomics.sub(i32, p + PAGE._count, 1);
}

// seed 002 (E4): buffer locks. The page's one buffer head (kernel-notes 8)
// has a lock bit, BH_Lock, kept in the page's flags as PG_bh_lock. Taken by
// migration and exchange around the move of a buffered page (5.1's
// buffer_migrate_lock_buffers); no other path of the model takes it yet
// (the kernel's writeback and buffer reads do), so it is never contended.

/** trylock_buffer: true if this CPU now holds the buffer lock of page pfn's buffers */
export function trylock_buffer(pfn: number): boolean {
  const f = page_base(pfn) + PAGE.flags;
  preempt_point(PP_LOCK_ACQUIRE, f);
  return (Atomics.or(i32, f, PG_bh_lock) & PG_bh_lock) === 0;
}

/** lock_buffer: may sleep until the buffer lock is ours (caller holds no spinlock) */
export function lock_buffer(pfn: number): void {
  while (!trylock_buffer(pfn)) { cpu_relax(); check_halt(); }
}

export function unlock_buffer(pfn: number): void { // (page lock held)
  const f = page_base(pfn) + PAGE.flags;
  Atomics.and(i32, f, ~PG_bh_lock); // the kernel's unlock_buffer checks nothing either
  preempt_point_release(f);
}

/**
 * buffer_migrate_lock_buffers: lock every buffer of the page (the model's
 * one); MIGRATE_ASYNC only tries and fails with false. Caller holds the page lock.
 */
export function buffer_migrate_lock_buffers(pfn: number, mode: number): boolean {
  if ((mode & MIGRATE_MODE_MASK) !== MIGRATE_ASYNC) { lock_buffer(pfn); return true; }
  return trylock_buffer(pfn);
}
