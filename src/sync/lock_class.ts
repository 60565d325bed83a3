// Lock classes, as lockdep and /proc/lock_stat name them. A lock instance is
// the index of its word in the Machine; its class is passed by the caller.
import { ERA, EraInfo } from '../shm/era.js';
import { defineEnum } from '../shm/struct.js';
import { HELD_CLS_MASK } from '../shm/layout.js';

/**
 * The classes, each with its name as 2.6.18's lockdep prints it; `era`: the
 * field of the run's era (src/shm/era.ts) that renames it (lock_class_name).
 */
const LOCK_CLASSES = defineEnum('lock class', [
  { key: 'LC_PTL', name: '&page->ptl', era: 'ptl_class_name' }, // split page-table lock in the page-table page
  { key: 'LC_ANON_VMA', name: '&anon_vma->lock', era: 'anon_vma_lock_name' }, // anon_vma->lock
  { key: 'LC_PAGE_TABLE_LOCK', name: '&mm->page_table_lock' }, // mm->page_table_lock
  { key: 'LC_PAGE_LOCK', name: 'PG_locked' }, // PG_locked (not a lockdep class in the kernel; we track it)
  { key: 'LC_MMAP_SEM', name: '&mm->mmap_sem' }, // mm->mmap_sem
  { key: 'LC_ZONE', name: '&zone->lock' }, // zone->lock (page allocator)
  { key: 'LC_LRU', name: '&zone->lru_lock' }, // zone->lru_lock
  { key: 'LC_MMLIST', name: 'mmlist_lock' }, // mmlist_lock
  { key: 'LC_IDALLOC', name: 'kmem_cache (model id allocator)' }, // model: slab-like id allocators
  { key: 'LC_SWAP', name: 'swap_lock' }, // swap_lock
  { key: 'LC_TREE', name: '&mapping->tree_lock', era: 'tree_lock_name' }, // mapping->tree_lock: an rwlock_t in E1/E2 (sync/rwlock.ts), a spinlock in E0/E3, the xarray's in E4
  { key: 'LC_I_MMAP', name: '&mapping->i_mmap_lock' }, // mapping->i_mmap_lock
  { key: 'LC_QUEUE', name: '&q->__queue_lock' }, // the request queue's queue_lock (in-flight I/O)
  { key: 'LC_I_MUTEX', name: '&inode->i_mutex' }, // inode->i_mutex: write(2) and truncate (sleeping; outermost)
  // seed 003 (E0, 2.6.6-mm)
  { key: 'LC_MAPLOCK', name: 'PG_maplock' }, // page_map_lock / rmap_lock: a bit spinlock in page->flags
  { key: 'LC_ANONMM', name: '&anonhd->lock' }, // the anonmm family head's lock
  { key: 'LC_HUGETLB', name: 'hugetlb_lock' }, // the hugetlb pool
  // seed 004 (E3)
  { key: 'LC_DEVMEM', name: '&dmirror->lock' }, // the device driver's free list of device pfns and its mirror (a leaf)
  // every era: the owning task's task_lock (get_task_mm, exit_mm; a leaf)
  { key: 'LC_ALLOC_LOCK', name: '&p->alloc_lock' },
] as const satisfies readonly { key: string; name: string; era?: 'ptl_class_name' | 'anon_vma_lock_name' | 'tree_lock_name' }[]);

export const {
  LC_PTL, LC_ANON_VMA, LC_PAGE_TABLE_LOCK, LC_PAGE_LOCK, LC_MMAP_SEM, LC_ZONE, LC_LRU, LC_MMLIST, LC_IDALLOC, LC_SWAP, LC_TREE, LC_I_MMAP, LC_QUEUE, LC_I_MUTEX,
  LC_MAPLOCK, LC_ANONMM, LC_HUGETLB,
  LC_DEVMEM,
  LC_ALLOC_LOCK,
} = LOCK_CLASSES.codes;
export const NR_LOCK_CLASSES = LOCK_CLASSES.table.length;
// a held-stack entry keeps the class in HELD_CLS_MASK's bits
if (NR_LOCK_CLASSES > HELD_CLS_MASK + 1) throw new Error(`lock classes: ${NR_LOCK_CLASSES} do not fit HELD_CLS_MASK (src/shm/layout.ts)`);

/** class names as 2.6.18's lockdep prints them; the classes whose name changed with the era are renamed by lock_class_name */
export const LOCK_CLASS_NAMES: readonly string[] = LOCK_CLASSES.names;

/**
 * A class's name in the run's era (src/shm/era.ts): the PTL, the anon rmap
 * lock and the page-cache lock were renamed as the kernel changed them. In
 * E0 the PTL is mm->page_table_lock itself (pagewalk.ts pte_lockptr).
 * A report passes its run's era (era_of the Machine its result keeps).
 */
export function lock_class_name(cls: number, era: EraInfo = ERA): string {
  const c: { name: string; era?: 'ptl_class_name' | 'anon_vma_lock_name' | 'tree_lock_name' } | undefined = LOCK_CLASSES.table[cls];
  if (!c) return `class ${cls}`;
  return c.era ? era[c.era] : c.name;
}
