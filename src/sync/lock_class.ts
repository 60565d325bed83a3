// Lock classes, as lockdep and /proc/lock_stat name them. A lock instance is
// the index of its word in the Machine; its class is passed by the caller.
import { ERA } from '../shm/era.js';
export const LC_PTL = 0; // split page-table lock in the page-table page
export const LC_ANON_VMA = 1; // anon_vma->lock
export const LC_PAGE_TABLE_LOCK = 2; // mm->page_table_lock
export const LC_PAGE_LOCK = 3; // PG_locked (not a lockdep class in the kernel; we track it)
export const LC_MMAP_SEM = 4; // mm->mmap_sem
export const LC_ZONE = 5; // zone->lock (page allocator)
export const LC_LRU = 6; // zone->lru_lock
export const LC_MMLIST = 7; // mmlist_lock
export const LC_IDALLOC = 8; // model: slab-like id allocators
export const LC_SWAP = 9; // swap_lock
export const LC_TREE = 10; // mapping->tree_lock (an rwlock in 2.6.18, a spinlock here)
export const LC_I_MMAP = 11; // mapping->i_mmap_lock
export const LC_QUEUE = 12; // the request queue's queue_lock (in-flight I/O)
export const NR_LOCK_CLASSES = 13;

/** class names as 2.6.18's lockdep prints them; the classes whose name changed with the era are renamed by lock_class_name */
export const LOCK_CLASS_NAMES: readonly string[] = [
  '&page->ptl',
  '&anon_vma->lock',
  '&mm->page_table_lock',
  'PG_locked',
  '&mm->mmap_sem',
  '&zone->lock',
  '&zone->lru_lock',
  'mmlist_lock',
  'kmem_cache (model id allocator)',
  'swap_lock',
  '&mapping->tree_lock',
  '&mapping->i_mmap_lock',
  '&q->__queue_lock',
];

/**
 * A class's name in the run's era (src/shm/era.ts): the PTL, the anon rmap
 * lock and the page-cache lock were renamed as the kernel changed them. In
 * E0 the PTL is mm->page_table_lock itself (pagewalk.ts pte_lockptr).
 */
export function lock_class_name(cls: number): string {
  if (cls === LC_PTL) return ERA.ptl_class_name;
  if (cls === LC_ANON_VMA) return ERA.anon_vma_lock_name;
  if (cls === LC_TREE) return ERA.tree_lock_name;
  return LOCK_CLASS_NAMES[cls] ?? `class ${cls}`;
}
