// I-ANONVMA seen from the page: every pte that maps an anon page must be
// found by the rmap walk of that page (page->mapping's anon_vma list, then
// vma_address from page->index), because that walk is all try_to_unmap and
// remove_migration_ptes have. A pte the walk misses survives a migration or
// a reclaim of its page: the seed-000 orphan is exactly such a pte. The walk
// is done here as the kernel does it, not from the vma's own anon_vma field,
// so a page whose mapping or index disagrees with its ptes is caught.
// Swap ptes are not the rmap's business (swapoff finds them through
// init_mm.mmlist, checked under I-SWAPCNT).
import { ADDRESS_SPACE, ANON_VMA, PAGE, VMA } from '../shm/layout.js';
import { as_base, av_base, i32, nr_mappings, page_base, sizes, vma_base } from '../shm/machine.js';
import { FIRST_FILE } from '../mm/filemap.js';
import { I_MMAP_LIST } from '../mm/rmap.js';
import { list_ids } from '../shm/list.js';
import { ANON_VMA_LIST, PAGE_MAPPING_ANON, vma_address } from '../mm/mm_types.js';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/** why the rmap walk of pfn would not reach its pte at (mm, addr) in `vma`, or null if it would */
export function rmap_unreachable(pfn: number, mm: number, vma: number, addr: number): string | null {
  const mapping = i32[page_base(pfn) + PAGE.mapping];
  if ((mapping & PAGE_MAPPING_ANON) === 0) return file_unreachable(pfn, mm, vma, addr, mapping >>> 1);
  const av = mapping >>> 1;
  if (av <= 0 || av >= sizes.nr_anon_vma) return `page->mapping ${hex(mapping)} names no anon_vma`;
  const listed = list_ids(ANON_VMA_LIST, av_base(av) + ANON_VMA.head_first, sizes.nr_vma);
  if (!listed.includes(vma)) return `anon_vma#${av} does not list vma#${vma}`;
  const at = vma_address(pfn, vma);
  if (at !== addr) return `page->index ${hex(i32[page_base(pfn) + PAGE.index])} puts it at ${at < 0 ? 'no address' : hex(at)} in vma#${vma}`;
  if (i32[vma_base(vma) + VMA.vm_mm] !== mm) return `vma#${vma} belongs to mm#${i32[vma_base(vma) + VMA.vm_mm]}`;
  return null;
}

/** the same for a page-cache page: its file's i_mmap list must hold the vma, and page->index put it at addr */
function file_unreachable(pfn: number, mm: number, vma: number, addr: number, as: number): string | null {
  if (as < FIRST_FILE || as >= nr_mappings(sizes)) return `page->mapping ${hex(i32[page_base(pfn) + PAGE.mapping])} is neither an anon_vma nor a file`;
  const listed = list_ids(I_MMAP_LIST, as_base(as) + ADDRESS_SPACE.i_mmap_first, sizes.nr_vma);
  if (!listed.includes(vma)) return `address_space#${as}'s i_mmap does not list vma#${vma}`;
  const at = vma_address(pfn, vma);
  if (at !== addr) return `page->index ${hex(i32[page_base(pfn) + PAGE.index])} puts it at ${at < 0 ? 'no address' : hex(at)} in vma#${vma}`;
  if (i32[vma_base(vma) + VMA.vm_mm] !== mm) return `vma#${vma} belongs to mm#${i32[vma_base(vma) + VMA.vm_mm]}`;
  return null;
}
