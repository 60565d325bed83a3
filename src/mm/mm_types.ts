// Accessors for struct page, mm_struct, vm_area_struct and anon_vma
// (mm_types.h, page-flags.h, mm.h). Field offsets come from shm/layout.ts.
import { _PAGE_RW } from './pgtable.js';
import { ANON_VMA, MM, PAGE, PAGE_SHIFT, PG_anon, PG_reserved, PG_swapcache, SWAPPER_SPACE, VMA } from '../shm/layout.js';
import { E0, ERA } from '../shm/era.js';
import { av_base, i32, mm_base, page_base, vma_base } from '../shm/machine.js';
import { ListDesc } from '../shm/list.js';
import { REC_PEEK, record_step, recording } from '../sync/preempt.js';
import { PAGE_NONE, PAGE_READONLY, PAGE_SHARED } from './pgtable.js';

export const VM_READ = 0x1, VM_WRITE = 0x2, VM_EXEC = 0x4, VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10, VM_MAYWRITE = 0x20, VM_MAYEXEC = 0x40, VM_MAYSHARE = 0x80;
export const VM_LOCKED = 0x2000, VM_DONTCOPY = 0x20000, VM_ACCOUNT = 0x100000, VM_HUGETLB = 0x400000;
export const PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
export const PAGE_MAPPING_ANON = 1;

// struct page
export const page_flags = (pfn: number) => { if (recording) record_step(REC_PEEK); return Atomics.load(i32, page_base(pfn) + PAGE.flags); }; // capture: a peek (src/worker/sched_record.ts)
export const SetPageFlag = (pfn: number, f: number) => { if (recording) record_step(REC_PEEK); Atomics.or(i32, page_base(pfn) + PAGE.flags, f); };
export const ClearPageFlag = (pfn: number, f: number) => { if (recording) record_step(REC_PEEK); Atomics.and(i32, page_base(pfn) + PAGE.flags, ~f); };
export const TestClearPageFlag = (pfn: number, f: number) => (Atomics.and(i32, page_base(pfn) + PAGE.flags, ~f) & f) !== 0;
export const page_count = (pfn: number) => { if (recording) record_step(REC_PEEK); return Atomics.load(i32, page_base(pfn) + PAGE._count); };
export const page_mapcount = (pfn: number) => { if (recording) record_step(REC_PEEK); return Atomics.load(i32, page_base(pfn) + PAGE._mapcount) + 1; };
export const page_mapped = (pfn: number) => { if (recording) record_step(REC_PEEK); return Atomics.load(i32, page_base(pfn) + PAGE._mapcount) >= 0; };
export const page_mapping_raw = (pfn: number) => i32[page_base(pfn) + PAGE.mapping];
/** E0's PG_anon test, apart so that PageAnon stays small enough for the JIT to inline (perf: ~150 instructions a write fault) */
const PageAnon_flag = (pfn: number) => (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_anon) !== 0;
/** PageAnon: E1-E4 the mapping's low bit (an anon_vma); E0 (2.6.6-mm) the PG_anon flag (the mapping is an anonmm) */
export const PageAnon = (pfn: number) => (ERA.id === E0 ? PageAnon_flag(pfn) : (i32[page_base(pfn) + PAGE.mapping] & PAGE_MAPPING_ANON) !== 0);
/** PageReserved: E0's ZERO_PAGE and hugetlb runs (no other era has reserved pages) */
export const PageReserved = (pfn: number) => (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_reserved) !== 0;
export const page_anon_vma = (pfn: number) => i32[page_base(pfn) + PAGE.mapping] >>> 1;
export const page_index = (pfn: number) => i32[page_base(pfn) + PAGE.index];
export const page_private = (pfn: number) => i32[page_base(pfn) + PAGE.private];
export const PageSwapCacheP = (pfn: number) => (Atomics.load(i32, page_base(pfn) + PAGE.flags) & PG_swapcache) !== 0;
/**
 * page_mapping: the address_space id whose page_tree holds the page:
 * swapper_space for a swap-cache page, none for other anon pages, else the
 * file's (page->mapping is as_id << 1 for a file page, av_id << 1 | 1 for anon)
 */
export function page_mapping(pfn: number): number {
  if (PageSwapCacheP(pfn)) return SWAPPER_SPACE;
  if (ERA.id === E0) return 0; // E0 models no files: a mapping is an anonmm
  const m = i32[page_base(pfn) + PAGE.mapping];
  return (m & PAGE_MAPPING_ANON) !== 0 ? 0 : m >>> 1;
}
/** page_index: the page's index in page_mapping(page): the swap entry for a swap-cache page */
export const page_cache_index = (pfn: number) => (PageSwapCacheP(pfn) ? i32[page_base(pfn) + PAGE.private] : i32[page_base(pfn) + PAGE.index]);

// mm_struct
export const mm_field = (mm: number, off: number) => i32[mm_base(mm) + off];
export const mm_mmap_sem = (mm: number) => mm_base(mm) + MM.mmap_sem;
export const mm_page_table_lock = (mm: number) => mm_base(mm) + MM.page_table_lock;
export const mm_pgd_slot = (mm: number, i: number) => mm_base(mm) + MM.pgd + i;

// vm_area_struct
export const vma_field = (vma: number, off: number) => i32[vma_base(vma) + off];
export const set_vma_field = (vma: number, off: number, v: number) => { i32[vma_base(vma) + off] = v; };

// anon_vma
export const anon_vma_lock = (av: number) => av_base(av) + ANON_VMA.lock;
export const anon_vma_head = (av: number) => av_base(av) + ANON_VMA.head_first;

/** anon_vma->head: list of vmas through vma->anon_vma_node */
export const ANON_VMA_LIST: ListDesc = { base: vma_base, next: VMA.anon_vma_next, prev: VMA.anon_vma_prev };

/** protection_map[]: the pte protection a vma's new ptes get */
export function vm_get_page_prot(flags: number): number {
  if ((flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0) return PAGE_NONE;
  if ((flags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE)) return PAGE_SHARED;
  return PAGE_READONLY;
}

/** may be written but is not shared: pages must be COW-protected at fork */
export const is_cow_mapping = (flags: number) => (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;

export const linear_page_index = (vma: number, addr: number) =>
  ((addr - vma_field(vma, VMA.vm_start)) >>> PAGE_SHIFT) + vma_field(vma, VMA.vm_pgoff);

/** vma_address: where the page sits in this vma, or -1 (the kernel's -EFAULT) */
export function vma_address(pfn: number, vma: number): number {
  const b = vma_base(vma);
  const addr = i32[b + VMA.vm_start] + ((page_index(pfn) - i32[b + VMA.vm_pgoff]) << PAGE_SHIFT);
  if (addr < i32[b + VMA.vm_start] || addr >= i32[b + VMA.vm_end]) return -1;
  return addr;
}

export const calc_vm_prot_bits = (prot: number) =>
  (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);

/** maybe_mkwrite (linux/mm.h): write permission only if the vma allows writing */
export const maybe_mkwrite = (pte: number, vma: number) => ((vma_field(vma, VMA.vm_flags) & VM_WRITE) !== 0 ? pte | _PAGE_RW : pte);
