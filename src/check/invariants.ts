// Invariant sweep at a quiescent point (no CPU running): the page tables,
// struct pages, rmap lists and LRU must agree with each other. Each message
// names a state the kernel can never be in.
import { ANON_VMA, MM, PAGE, PAGE_SIZE, PG_active, PG_buddy, PG_locked, PG_lru, PG_pgtable, PTRS_PER_PGD, PTRS_PER_PTE, VMA, ZONE } from '../shm/layout.js';
import { B, av_base, i32, mm_base, page_base, ptes_base, sizes, vma_base } from '../shm/machine.js';
import { list_ids } from '../shm/list.js';
import { ANON_VMA_LIST, VM_WRITE } from '../mm/mm_types.js';
import { LRU } from '../mm/swap.js';
import { pgd_index, pte_offset } from '../mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present, pte_write } from '../mm/pgtable.js';
import { is_migration_entry, pte_to_swp_entry, swp_offset } from '../mm/swapops.js';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export function check_invariants(limit = 20): string[] {
  const out: string[] = [];
  const bad = (s: string) => { if (out.length < limit) out.push(s); };
  const n = sizes.nr_pages;
  const maps = new Int32Array(n);
  const anonVmaOf = new Int32Array(n).fill(-1);

  for (let mm = 1; mm < sizes.nr_mm; mm++) {
    const m = mm_base(mm);
    if (i32[m + MM.live] === 0) continue;
    let rss = 0;
    for (let vma = i32[m + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
      const v = vma_base(vma);
      const av = i32[v + VMA.anon_vma];
      if (av !== 0 && !list_ids(ANON_VMA_LIST, av_base(av) + ANON_VMA.head_first).includes(vma)) {
        bad(`vma#${vma} of mm#${mm} is not on its anon_vma#${av} list`);
      }
      for (let addr = i32[v + VMA.vm_start]; addr < i32[v + VMA.vm_end]; addr += PAGE_SIZE) {
        const table = i32[m + MM.pgd + pgd_index(addr)];
        if (table === 0) continue;
        const pte = i32[pte_offset(table, addr)];
        if (pte === 0) continue;
        if (pte_present(pte)) {
          const pfn = pte_pfn(pte);
          rss++;
          maps[pfn]++;
          if ((i32[page_base(pfn) + PAGE.flags] & (PG_buddy | PG_pgtable)) !== 0) bad(`mm#${mm} ${hex(addr)} maps pfn ${pfn}, which is free or a page table`);
          if (pte_write(pte) && (i32[v + VMA.vm_flags] & VM_WRITE) === 0) bad(`writable pte in a read-only vma: mm#${mm} ${hex(addr)}`);
          const mapping = i32[page_base(pfn) + PAGE.mapping];
          if (mapping !== ((av << 1) | 1)) bad(`pfn ${pfn} mapped at mm#${mm} ${hex(addr)}: page->mapping ${hex(mapping)} is not the vma's anon_vma#${av}`);
          anonVmaOf[pfn] = av;
        } else if (is_swap_pte(pte)) {
          const e = pte_to_swp_entry(pte);
          if (is_migration_entry(e)) {
            const pfn = swp_offset(e);
            bad(`migration entry outlives its migration: mm#${mm} ${hex(addr)} -> pfn ${pfn}${(i32[page_base(pfn) + PAGE.flags] & PG_locked) ? '' : ' (page not locked)'}`);
          } else bad(`swap pte ${hex(pte)} at mm#${mm} ${hex(addr)} with no swap device`);
        }
      }
    }
    if (i32[m + MM.anon_rss] !== rss) bad(`mm#${mm} anon_rss ${i32[m + MM.anon_rss]} but ${rss} present ptes`);
  }

  // writable ptes on pages mapped more than once (COW-shared) would leak writes
  for (let mm = 1; mm < sizes.nr_mm; mm++) {
    const m = mm_base(mm);
    if (i32[m + MM.live] === 0) continue;
    for (let s = 0; s < PTRS_PER_PGD; s++) {
      const table = i32[m + MM.pgd + s];
      if (table === 0) continue;
      for (let j = 0; j < PTRS_PER_PTE; j++) {
        const pte = i32[ptes_base(table) + j];
        if (pte_present(pte) && pte_write(pte) && maps[pte_pfn(pte)] > 1) bad(`writable pte to COW-shared pfn ${pte_pfn(pte)} (${maps[pte_pfn(pte)]} mappings) in mm#${mm}`);
      }
    }
  }

  let free = 0;
  const lru = new Set<number>();
  for (const [head, active] of [[ZONE.active_first, true], [ZONE.inactive_first, false]] as const) {
    const ids = list_ids(LRU, B.zone + head, n + 1);
    const want = i32[B.zone + (active ? ZONE.nr_active : ZONE.nr_inactive)];
    if (ids.length !== want) bad(`${active ? 'active' : 'inactive'} LRU holds ${ids.length} pages but nr says ${want}`);
    for (const pfn of ids) {
      if (lru.has(pfn)) bad(`pfn ${pfn} is on the LRU twice`);
      lru.add(pfn);
      const f = i32[page_base(pfn) + PAGE.flags];
      if ((f & PG_lru) === 0 || ((f & PG_active) !== 0) !== active) bad(`pfn ${pfn} on the ${active ? 'active' : 'inactive'} LRU with flags ${hex(f)}`);
    }
  }
  for (let pfn = 1; pfn < n; pfn++) {
    const p = page_base(pfn);
    const f = i32[p + PAGE.flags];
    const count = i32[p + PAGE._count];
    const mapcount = i32[p + PAGE._mapcount] + 1;
    if ((f & PG_buddy) !== 0) {
      free++;
      if (count !== 0 || mapcount !== 0) bad(`free pfn ${pfn} has count ${count} mapcount ${mapcount}`);
      continue;
    }
    if ((f & PG_locked) !== 0) bad(`pfn ${pfn} is still locked at a quiescent point`);
    if ((f & PG_pgtable) !== 0) { if (count !== 1) bad(`page-table pfn ${pfn} has count ${count}`); continue; }
    if (mapcount !== maps[pfn]) bad(`pfn ${pfn}: mapcount ${mapcount} but ${maps[pfn]} ptes map it`);
    if (count !== maps[pfn]) bad(`pfn ${pfn}: count ${count} but ${maps[pfn]} references (ptes) exist${maps[pfn] === 0 ? ': leaked' : ''}`);
    if (maps[pfn] > 0 && (f & PG_lru) === 0) bad(`mapped anon pfn ${pfn} is not on the LRU`);
    if ((f & PG_lru) !== 0 && !lru.has(pfn)) bad(`pfn ${pfn} has PG_lru but is on no LRU list`);
  }
  if (free !== i32[B.zone + ZONE.nr_free]) bad(`zone nr_free ${i32[B.zone + ZONE.nr_free]} but ${free} pages are free`);
  return out;
}
