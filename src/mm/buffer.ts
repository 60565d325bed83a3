// The page side of fs/buffer.c. A file page written through write(2) gets
// buffer heads: PG_private, a buffer id in page->private and one reference
// the buffers hold (kernel-notes 8: no buffer locks, one id per page). They
// are dropped when clean (try_to_release_page), at truncate
// (do_invalidatepage), or carried to the new page by buffer_migrate_page.
// Caller holds the page lock in every case.
import { PAGE, PG_dirty, PG_private } from '../shm/layout.js';
import { i32, page_base } from '../shm/machine.js';
import { get_page } from './swap.js';

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
