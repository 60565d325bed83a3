// mm_structs and vmas (mm/mmap.c, kernel/fork.c allocation side): id
// allocation, the sorted vma list, anonymous mmap, split_vma for mprotect,
// and exit_mmap's teardown order (unmap, unlink from rmap, then free tables).
import { IDALLOC, IDCACHE, IDCACHE_BATCH, IDCACHE_LIMIT, MM, MMLIST, PTRS_PER_PGD, VMA } from '../shm/layout.js';
import { BASES, i32, mm_base, sizes, vma_base } from '../shm/machine.js';
import { ListDesc, list_add, list_add_after, list_del } from '../shm/list.js';
import { EV_EXIT_MMAP, trace_event } from '../cpu/events.js';
import { LC_ANON_VMA, LC_I_MMAP, LC_IDALLOC, LC_MMLIST, LC_MMAP_SEM } from '../sync/lock_class.js';
import { page_table_lock_class } from './pagewalk.js';
import { spin_lock, spin_unlock } from '../sync/spinlock.js';
import { down_write, up_write } from '../sync/rwsem.js';
import { PAGE_SHIFT, TASK_SIZE } from '../shm/layout.js';
import {
  VM_HUGETLB, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED, anon_vma_lock, calc_vm_prot_bits, mm_mmap_sem, vm_get_page_prot, vma_field,
} from './mm_types.js';
import { __anon_vma_link, __vma_link_file, anon_vma_unlink, vma_link_file, vma_unlink_file } from './rmap.js';
import { file_check, mapping_i_mmap_lock } from './filemap.js';
import { pte_free } from './page_alloc.js';
import { unmap_vmas, zap_page_range } from './memory.js';
import { lru_add_drain } from './swap.js';
import { E0, ERA } from '../shm/era.js';
import { PGD_HUGE } from '../shm/layout.js';
import { dup_rmap, exec_rmap, exit_rmap } from './rmap_anonmm.js';
import { REC_PEEK, record_step, recording } from '../sync/preempt.js';
import { current } from '../cpu/current.js';

export const MMLIST_DESC: ListDesc = { base: mm_base, next: MM.mmlist_next, prev: MM.mmlist_prev };

/** !list_empty(&mm->mmlist): a member is either the head or has a prev */
export const mm_on_mmlist = (mm: number) => i32[BASES.mmlist + MMLIST.first] === mm || i32[mm_base(mm) + MM.mmlist_prev] !== 0;

/**
 * put mm on init_mm.mmlist, where swapoff looks for swap entries (takes
 * mmlist_lock). Fork puts the child right after its parent: a swapoff walk
 * that has not yet fixed the parent will then fix the child after it, and one
 * that has fixed the parent left no swap entry for fork to copy (fork holds
 * the parent's mmap_sem, which unuse_mm takes).
 */
export function mmlist_add(mm: number, after = 0): void {
  if (mm_on_mmlist(mm)) return;
  spin_lock(BASES.mmlist + MMLIST.lock, LC_MMLIST);
  if (!mm_on_mmlist(mm)) {
    if (after !== 0 && mm_on_mmlist(after)) list_add_after(MMLIST_DESC, BASES.mmlist + MMLIST.first, after, mm);
    else list_add(MMLIST_DESC, BASES.mmlist + MMLIST.first, mm);
  }
  spin_unlock(BASES.mmlist + MMLIST.lock);
}

/** boot: every mm and vma id but 0 is free, on the shared stack; every CPU's array cache empty */
export function init_id_allocators(): void {
  for (const [alloc, stack, cap, cache] of [[BASES.mm_alloc, BASES.mm_free, sizes.nr_mm, BASES.mm_cache], [BASES.vma_alloc, BASES.vma_free, sizes.nr_vma, BASES.vma_cache]]) {
    let n = 0;
    for (let id = cap - 1; id >= 1; id--) i32[stack + n++] = id;
    i32[alloc + IDALLOC.top] = n;
    for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) i32[cache + cpu * IDCACHE.stride + IDCACHE.avail] = 0;
  }
}

/**
 * kmem_cache_alloc of an id (2.6.18's SLAB): the id this CPU freed last, from
 * its array cache, so the record's cache lines are still this CPU's; else
 * from the shared stack; else (ids are bounded, where the slab would grow)
 * from another CPU's array cache. Takes the allocator's lock, which 2.6.18's
 * fast path did not (it disabled interrupts): the model always took it.
 */
function id_alloc(alloc: number, stack: number, cache: number): number {
  spin_lock(alloc + IDALLOC.lock, LC_IDALLOC);
  let id = id_cache_pop(cache + current.cpu * IDCACHE.stride);
  if (id === 0) {
    const n = i32[alloc + IDALLOC.top];
    if (n !== 0) { id = i32[stack + n - 1]; i32[alloc + IDALLOC.top] = n - 1; }
  }
  for (let cpu = 0; id === 0 && cpu < sizes.nr_cpus; cpu++) id = id_cache_pop(cache + cpu * IDCACHE.stride);
  spin_unlock(alloc + IDALLOC.lock);
  return id;
}

/** the array cache's hottest id, or 0 (caller holds the allocator's lock) */
function id_cache_pop(ac: number): number {
  const avail = i32[ac + IDCACHE.avail];
  if (avail === 0) return 0;
  i32[ac + IDCACHE.avail] = avail - 1;
  return i32[ac + IDCACHE.entry + avail - 1];
}

/**
 * kmem_cache_free of an id: onto this CPU's array cache; a full one first
 * gives its IDCACHE_BATCH coldest ids back to the shared stack, oldest first
 * (cache_flusharray), so one CPU's ids come back in the order they were freed
 */
function id_free(alloc: number, stack: number, cache: number, id: number): void {
  spin_lock(alloc + IDALLOC.lock, LC_IDALLOC);
  const ac = cache + current.cpu * IDCACHE.stride;
  let avail = i32[ac + IDCACHE.avail];
  if (avail === IDCACHE_LIMIT) {
    const n = i32[alloc + IDALLOC.top];
    for (let k = 0; k < IDCACHE_BATCH; k++) i32[stack + n + k] = i32[ac + IDCACHE.entry + k];
    i32[alloc + IDALLOC.top] = n + IDCACHE_BATCH;
    i32.copyWithin(ac + IDCACHE.entry, ac + IDCACHE.entry + IDCACHE_BATCH, ac + IDCACHE.entry + avail);
    avail -= IDCACHE_BATCH;
  }
  i32[ac + IDCACHE.entry + avail] = id;
  i32[ac + IDCACHE.avail] = avail + 1;
  spin_unlock(alloc + IDALLOC.lock);
}

/** mm_alloc: a fresh mm with no vmas and no page tables; 0 when out of ids */
export function mm_alloc(parent = 0): number {
  const mm = id_alloc(BASES.mm_alloc, BASES.mm_free, BASES.mm_cache);
  if (mm === 0) return 0;
  const m = mm_base(mm);
  i32.fill(0, m, m + MM.cpu_vm_mask); // every field before cpu_vm_mask: it, alloc_lock and task stay with the id (src/shm/layout.ts)
  i32[m + MM.mm_users] = 1;
  i32[m + MM.parent_mm] = parent;
  // E0 (2.6.6-mm): a new mm starts an anonmm family (exec_rmap), a forked one joins its parent's (dup_rmap)
  if (ERA.id === E0 && (parent === 0 ? exec_rmap(mm) : dup_rmap(mm, parent)) !== 0) { id_free(BASES.mm_alloc, BASES.mm_free, BASES.mm_cache, mm); return 0; }
  if (recording) record_step(REC_PEEK); // capture: mm->live, read without a lock by whoever looks for a process
  Atomics.store(i32, m + MM.live, 1);
  return mm;
}

export function vma_alloc(): number {
  const vma = id_alloc(BASES.vma_alloc, BASES.vma_free, BASES.vma_cache);
  if (vma === 0) return 0;
  const v = vma_base(vma);
  for (let k = 0; k < VMA.stride; k++) i32[v + k] = 0;
  Atomics.store(i32, v + VMA.live, 1);
  return vma;
}

function vma_free(vma: number): void {
  Atomics.store(i32, vma_base(vma) + VMA.live, 0);
  id_free(BASES.vma_alloc, BASES.vma_free, BASES.vma_cache, vma);
}

/** find_vma: the first vma with vm_end > addr (caller holds mmap_sem) */
export function find_vma(mm: number, addr: number): number {
  for (let vma = i32[mm_base(mm) + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
    if (i32[vma_base(vma) + VMA.vm_end] > addr) return vma;
  }
  return 0;
}

/** link a vma into the mm's sorted list (mmap_sem held for write) */
export function insert_vm_struct(mm: number, vma: number): void {
  const start = vma_field(vma, VMA.vm_start);
  let prev = 0;
  let cur = i32[mm_base(mm) + MM.mmap_first];
  while (cur !== 0 && vma_field(cur, VMA.vm_start) < start) { prev = cur; cur = vma_field(cur, VMA.vm_next); }
  i32[vma_base(vma) + VMA.vm_next] = cur;
  if (prev === 0) i32[mm_base(mm) + MM.mmap_first] = vma;
  else i32[vma_base(prev) + VMA.vm_next] = vma;
  i32[mm_base(mm) + MM.map_count] += 1;
}

export const EINVAL = -22, ENOMEM = -12, EACCES = -13;

/** mmap(2) flags: one of the two */
export const MAP_SHARED = 0x01, MAP_PRIVATE = 0x02;

/**
 * do_mmap_pgoff at a fixed address: an anonymous private range (file 0) or
 * a file's pages from pgoff on, shared or private. The file is open for
 * reading and writing, so a shared mapping may be made writable by
 * mprotect later. A file vma joins the file's i_mmap list under
 * i_mmap_lock. Takes mmap_sem for write; returns the vma id or -errno.
 */
export function do_mmap_pgoff(mm: number, addr: number, len: number, prot: number, flags: number, file: number, pgoff: number): number {
  if ((addr & ((1 << PAGE_SHIFT) - 1)) !== 0 || len <= 0 || addr + len > TASK_SIZE || addr < 0) return EINVAL;
  if ((flags & (MAP_SHARED | MAP_PRIVATE)) === 0 || (flags & (MAP_SHARED | MAP_PRIVATE)) === (MAP_SHARED | MAP_PRIVATE)) return EINVAL;
  if (file !== 0) file_check(file, pgoff, 'do_mmap_pgoff');
  else if ((flags & MAP_SHARED) !== 0) return EINVAL; // shared anonymous memory (shmem) is not modelled
  const sem = mm_mmap_sem(mm);
  down_write(sem, LC_MMAP_SEM);
  try {
    const end = addr + ((len + (1 << PAGE_SHIFT) - 1) & ~((1 << PAGE_SHIFT) - 1));
    const next = find_vma(mm, addr);
    if (next !== 0 && vma_field(next, VMA.vm_start) < end) return EINVAL; // MAP_FIXED over a mapping: not modelled
    const vma = vma_alloc();
    if (vma === 0) return ENOMEM;
    let vm_flags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    if ((flags & MAP_SHARED) !== 0) vm_flags |= VM_SHARED | VM_MAYSHARE;
    const v = vma_base(vma);
    i32[v + VMA.vm_mm] = mm; i32[v + VMA.vm_start] = addr; i32[v + VMA.vm_end] = end;
    i32[v + VMA.vm_flags] = vm_flags; i32[v + VMA.vm_page_prot] = vm_get_page_prot(vm_flags);
    i32[v + VMA.vm_pgoff] = file !== 0 ? pgoff : addr >>> PAGE_SHIFT;
    i32[v + VMA.vm_file] = file;
    insert_vm_struct(mm, vma);
    vma_link_file(vma, 0);
    return vma;
  } finally {
    up_write(sem);
  }
}

/** do_mmap of a private anonymous range at a fixed address (takes mmap_sem for write) */
export function do_mmap_anon(mm: number, addr: number, len: number, prot: number): number {
  return do_mmap_pgoff(mm, addr, len, prot, MAP_PRIVATE, 0, 0);
}

/**
 * split_vma: cut vma at addr; the new vma takes [addr, end) (new_below
 * false) and joins the same anon_vma through __anon_vma_link under
 * anon_vma->lock. Caller holds mmap_sem for write.
 */
export function split_vma(mm: number, vma: number, addr: number): number {
  const nv = vma_alloc();
  if (nv === 0) return ENOMEM;
  const v = vma_base(vma);
  const n = vma_base(nv);
  for (const f of VMA.fields) i32[n + VMA[f]] = i32[v + VMA[f]];
  i32[n + VMA.anon_vma_next] = 0; i32[n + VMA.anon_vma_prev] = 0;
  i32[n + VMA.vm_start] = addr;
  i32[n + VMA.vm_pgoff] = i32[v + VMA.vm_pgoff] + ((addr - i32[v + VMA.vm_start]) >>> PAGE_SHIFT);
  i32[n + VMA.shared_next] = 0; i32[n + VMA.shared_prev] = 0;
  const av = i32[v + VMA.anon_vma];
  const file = i32[v + VMA.vm_file];
  // vma_adjust: shrink the old one and link the new one under i_mmap_lock, then anon_vma->lock,
  // so an rmap walk sees either the old vma whole or both halves
  if (file !== 0) spin_lock(mapping_i_mmap_lock(file), LC_I_MMAP);
  if (av !== 0) spin_lock(anon_vma_lock(av), LC_ANON_VMA);
  i32[v + VMA.vm_end] = addr;
  __anon_vma_link(nv);
  if (file !== 0) __vma_link_file(nv, vma);
  if (av !== 0) spin_unlock(anon_vma_lock(av));
  if (file !== 0) spin_unlock(mapping_i_mmap_lock(file));
  insert_vm_struct(mm, nv);
  return 0;
}

/**
 * do_munmap (seed 003: mremap unmaps the old range): split the vmas at the
 * range's ends, unlink those inside from the mm and the rmap lists, zap
 * their ptes and free them; the page tables stay (freed at exit). Caller
 * holds mmap_sem for write. Returns 0 or -errno.
 */
export function do_munmap(mm: number, start: number, len: number): number {
  const end = start + len;
  if ((start & ((1 << PAGE_SHIFT) - 1)) !== 0 || len <= 0 || end > TASK_SIZE) return EINVAL;
  let vma = find_vma(mm, start);
  if (vma === 0 || vma_field(vma, VMA.vm_start) >= end) return 0;
  for (let v = vma; v !== 0 && vma_field(v, VMA.vm_start) < end; v = vma_field(v, VMA.vm_next)) {
    if ((vma_field(v, VMA.vm_flags) & VM_HUGETLB) !== 0) return EINVAL; // unmap of a hugetlb range: not modelled
  }
  if (vma_field(vma, VMA.vm_start) < start) {
    if (split_vma(mm, vma, start) !== 0) return ENOMEM;
    vma = vma_field(vma, VMA.vm_next);
  }
  let prev = 0;
  for (let v = i32[mm_base(mm) + MM.mmap_first]; v !== 0 && v !== vma; v = vma_field(v, VMA.vm_next)) prev = v;
  while (vma !== 0 && vma_field(vma, VMA.vm_start) < end) {
    if (vma_field(vma, VMA.vm_end) > end && split_vma(mm, vma, end) !== 0) return ENOMEM;
    const next = vma_field(vma, VMA.vm_next);
    // detach_vmas_to_be_unmapped, then unmap_region: the vma leaves the list and the rmap before its ptes go
    if (prev === 0) i32[mm_base(mm) + MM.mmap_first] = next;
    else i32[vma_base(prev) + VMA.vm_next] = next;
    i32[mm_base(mm) + MM.map_count] -= 1;
    zap_page_range(vma, vma_field(vma, VMA.vm_start), vma_field(vma, VMA.vm_end));
    anon_vma_unlink(vma);
    vma_unlink_file(vma);
    vma_free(vma);
    vma = next;
  }
  return 0;
}

/** free_pgtables: after every vma left the rmap lists, no walker can reach the tables */
function free_pgtables(mm: number): void {
  const m = mm_base(mm);
  const ptl = m + MM.page_table_lock;
  for (let i = 0; i < PTRS_PER_PGD; i++) {
    spin_lock(ptl, page_table_lock_class());
    const table = i32[m + MM.pgd + i];
    Atomics.store(i32, m + MM.pgd + i, 0);
    spin_unlock(ptl);
    if (table !== 0 && (table & PGD_HUGE) === 0) pte_free(table); // E0: a hugetlb entry is no table (unmap_hugepage_range dropped it)
  }
}

/** exit_mmap + mmput: tear down an mm whose last user is gone */
export function exit_mmap(mm: number): void {
  trace_event(EV_EXIT_MMAP, mm);
  const m = mm_base(mm);
  // no mmap_sem: mm_users is zero, nobody else can reach this mm's vmas
  lru_add_drain(); // E1/E2: this CPU's pagevecs first, as 2.6.18's exit_mmap did
  unmap_vmas(mm);
  for (let vma = i32[m + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
    anon_vma_unlink(vma);
    vma_unlink_file(vma); // unlink_file_vma, in free_pgtables
  }
  free_pgtables(mm);
  if (ERA.id === E0) exit_rmap(mm); // no pte of the mm is left; walkers may still trylock its page_table_lock until it is freed
  for (let vma = i32[m + MM.mmap_first]; vma !== 0;) {
    const next = i32[vma_base(vma) + VMA.vm_next];
    vma_free(vma);
    vma = next;
  }
  i32[m + MM.mmap_first] = 0;
  i32[m + MM.map_count] = 0;
  if (mm_on_mmlist(mm)) {
    spin_lock(BASES.mmlist + MMLIST.lock, LC_MMLIST);
    list_del(MMLIST_DESC, BASES.mmlist + MMLIST.first, mm);
    spin_unlock(BASES.mmlist + MMLIST.lock);
  }
  if (recording) record_step(REC_PEEK); // capture: mm->live, read without a lock
  Atomics.store(i32, m + MM.live, 0);
  id_free(BASES.mm_alloc, BASES.mm_free, BASES.mm_cache, mm);
}
