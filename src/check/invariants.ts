// Invariant sweep at a quiescent point (no CPU running): the page tables,
// struct pages, rmap lists and LRU must agree with each other. Each message
// names a state the kernel can never be in.
import { ANON_VMA, MM, NR_SWAP_INFO, PAGE, PAGE_SIZE, PG_swapcache, SWAP_INFO, PG_active, PG_buddy, PG_locked, PG_lru, PG_pgtable, PTRS_PER_PGD, PTRS_PER_PTE, VMA, ZONE } from '../shm/layout.js';
import { B, av_base, i32, mm_base, page_base, ptes_base, sizes, vma_base } from '../shm/machine.js';
import { list_ids } from '../shm/list.js';
import { ANON_VMA_LIST, VM_WRITE } from '../mm/mm_types.js';
import { LRU } from '../mm/swap.js';
import { pgd_index, pte_offset } from '../mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present, pte_write } from '../mm/pgtable.js';
import { is_migration_entry, pte_to_swp_entry, swp_entry, swp_offset, swp_type } from '../mm/swapops.js';
import { SWAP_MAP_MAX, SWP_USED, SWP_WRITEOK, nr_swap_pages, nr_swapfiles, swap_guard_intact, swap_info_base, swap_map_slot } from '../mm/swapfile.js';
import { swap_cache_slot } from '../mm/swap_state.js';
import { check_page_cache } from './page_cache.js';
import { mm_on_mmlist } from '../mm/mmap.js';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export function check_invariants(limit = 20): string[] {
  const out: string[] = [];
  const bad = (s: string) => { if (out.length < limit) out.push(s); };
  const n = sizes.nr_pages;
  const maps = new Int32Array(n);
  const swapRefs = new Map<number, number>();
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
          } else {
            const t = swp_type(e), off = swp_offset(e);
            if (t >= nr_swapfiles() || (i32[swap_info_base(t) + SWAP_INFO.flags] & SWP_USED) === 0 || off === 0 || off >= i32[swap_info_base(t) + SWAP_INFO.max]) {
              bad(`swap pte ${hex(pte)} at mm#${mm} ${hex(addr)} names no slot of a switched-on device`);
            } else {
              swapRefs.set(e, (swapRefs.get(e) ?? 0) + 1);
              if (!mm_on_mmlist(mm)) bad(`mm#${mm} holds swap entries but is not on init_mm.mmlist (swapoff would miss them)`);
            }
          }
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
    const cached = (f & PG_swapcache) !== 0 ? 1 : 0;
    if (count !== maps[pfn] + cached) bad(`pfn ${pfn}: count ${count} but ${maps[pfn]} ptes${cached ? ' + the swap cache' : ''} refer to it${maps[pfn] + cached === 0 ? ': leaked' : ''}`);
    if (cached) {
      const e = i32[p + PAGE.private];
      const slot = swap_cache_slot(e);
      if (slot < 0 || i32[slot] !== pfn) bad(`pfn ${pfn} has PG_swapcache for entry ${hex(e)} but the swap cache does not hold it there`);
      else swapRefs.set(e, (swapRefs.get(e) ?? 0) + 1);
    }
    if (maps[pfn] + cached > 0 && (f & PG_lru) === 0) bad(`in-use anon pfn ${pfn} is not on the LRU`);
    if ((f & PG_lru) !== 0 && !lru.has(pfn)) bad(`pfn ${pfn} has PG_lru but is on no LRU list`);
  }
  if (free !== i32[B.zone + ZONE.nr_free]) bad(`zone nr_free ${i32[B.zone + ZONE.nr_free]} but ${free} pages are free`);

  // swap: every used slot is counted exactly by the ptes and the swap cache that refer to it
  let freeSlots = 0;
  for (let t = 0; t < Math.min(nr_swapfiles(), NR_SWAP_INFO); t++) {
    const si = swap_info_base(t);
    if ((i32[si + SWAP_INFO.flags] & SWP_USED) === 0) continue;
    for (let off = 1; off < i32[si + SWAP_INFO.max]; off++) {
      const c = i32[swap_map_slot(t, off)];
      const want = swapRefs.get(swp_entry(t, off)) ?? 0;
      if (c === 0 && (i32[si + SWAP_INFO.flags] & SWP_WRITEOK) !== 0) freeSlots++;
      if (c !== SWAP_MAP_MAX && c !== want) bad(`swap_map[${t}][${off}] is ${c} but ${want} ptes and swap cache pages refer to it`);
    }
  }
  if (freeSlots !== nr_swap_pages()) bad(`nr_swap_pages ${nr_swap_pages()} but ${freeSlots} slots are free`);
  if (!swap_guard_intact()) bad('memory corruption: the data after swap_info[] lost its canary');
  check_page_cache(bad);
  return out;
}
