// Invariant sweep at a quiescent point (no CPU running): the page tables,
// struct pages, rmap lists and LRU must agree with each other. Each message
// names a state the kernel can never be in, and the rule of kernel-notes 5.1
// it breaks; the kernel had no such checker, so it prints as mmrace's.
import { ANON_VMA, GLOBALS, MM, PAGE, PAGE_SIZE, PG_anon, PG_private, PG_reserved, PG_swapcache, PG_active, PG_buddy, PG_locked, PG_lru, PG_pgtable, VMA, ZONE } from '../shm/layout.js';
import { BASES, av_base, i32, mm_base, page_base, sizes, vma_base } from '../shm/machine.js';
import { list_ids } from '../shm/list.js';
import { ANON_VMA_LIST, PAGE_MAPPING_ANON, VM_HUGETLB, VM_SHARED, VM_WRITE } from '../mm/mm_types.js';
import { E0, ERA } from '../shm/era.js';
import { anonmm_unreachable } from '../mm/rmap_anonmm.js';
import { check_hugetlb } from '../mm/hugetlb.js';
import { radix_tree_lookup } from '../mm/filemap.js';
import { LRU, pagevec_pages } from '../mm/swap.js';
import { pgd_index, pte_offset } from '../mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present, pte_write } from '../mm/pgtable.js';
import { is_device_private_entry, is_migration_entry, pte_to_swp_entry, swp_offset } from '../mm/swapops.js';
import { DevRefs, check_device, count_device_pte } from './device_invariants.js';
import { check_page_cache } from './page_cache.js';
import { mm_on_mmlist } from '../mm/mmap.js';
import { rmap_unreachable } from './rmap_reach.js';
import { pcp_pages } from '../mm/page_alloc.js'; // scale
import { Complain, SwapRefs, check_swap, count_swap_pte, swap_cache_holds } from './swap_invariants.js';

import { invariant_message } from './rules.js';
export { invariant_message, type Rule } from './rules.js';

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export function check_invariants(limit = 20): string[] {
  const out: string[] = [];
  const bad: Complain = (rule, s) => { if (out.length < limit) out.push(invariant_message(rule, s)); };
  const n = sizes.nr_pages;
  const maps = new Int32Array(n);
  const swapRefs: SwapRefs = new Map();
  const devRefs: DevRefs = new Map();
  const cow_writable: number[] = []; // (pfn, mm) of writable ptes in private mappings
  const pcp = check_pcp(bad, n); // scale: pages on per-CPU lists are free, though not PG_buddy
  const pvec = check_pagevecs(bad, n); // scale2: a page in a pagevec holds its reference and is not yet on the LRU

  for (let mm = 1; mm < sizes.nr_mm; mm++) {
    const m = mm_base(mm);
    if (i32[m + MM.live] === 0) continue;
    let rss = 0, frss = 0;
    let swapped = false;
    for (let vma = i32[m + MM.mmap_first]; vma !== 0; vma = i32[vma_base(vma) + VMA.vm_next]) {
      const v = vma_base(vma);
      const av = i32[v + VMA.anon_vma];
      const file = i32[v + VMA.vm_file];
      if (ERA.id === E0 && (i32[v + VMA.vm_flags] & VM_HUGETLB) !== 0) continue; // no pte tables: I-HUGE below
      if (av !== 0 && !list_ids(ANON_VMA_LIST, av_base(av) + ANON_VMA.head_first).includes(vma)) {
        bad('I-ANONVMA', `vma#${vma} of mm#${mm} is not on its anon_vma#${av} list`);
      }
      for (let addr = i32[v + VMA.vm_start]; addr < i32[v + VMA.vm_end]; addr += PAGE_SIZE) {
        const table = i32[m + MM.pgd + pgd_index(addr)];
        if (table === 0) continue;
        const pte = i32[pte_offset(table, addr)];
        if (pte === 0) continue;
        if (pte_present(pte)) {
          const pfn = pte_pfn(pte);
          if (pfn <= 0 || pfn >= n) { rss++; bad('I-PTE', `mm#${mm} ${hex(addr)} maps pfn ${pfn}, which is not RAM`); continue; }
          if (ERA.id === E0) { // 2.6.6: ZERO_PAGE ptes hold nothing; an anon page must be where its family's walk looks
            const pf = i32[page_base(pfn) + PAGE.flags];
            if (pfn === i32[BASES.globals + GLOBALS.zero_page]) { if (pte_write(pte)) bad('I-PTE', `writable pte to ZERO_PAGE at mm#${mm} ${hex(addr)}`); continue; }
            if ((pf & PG_reserved) !== 0) { bad('I-PTE', `mm#${mm} ${hex(addr)} maps reserved pfn ${pfn} (a hugetlb run's page?) through a pte`); continue; }
            if ((pf & PG_anon) !== 0) rss++; else bad('I-PTE', `pfn ${pfn} mapped at mm#${mm} ${hex(addr)} is not PageAnon (mapping ${hex(i32[page_base(pfn) + PAGE.mapping])})`);
            maps[pfn]++;
            if ((pf & (PG_buddy | PG_pgtable)) !== 0 || pcp[pfn] !== 0) bad('I-PTE', `mm#${mm} ${hex(addr)} maps pfn ${pfn}, which is free or a page table`);
            if (pte_write(pte) && (i32[v + VMA.vm_flags] & VM_WRITE) === 0) bad('I-RO', `writable pte in a read-only vma: mm#${mm} ${hex(addr)}`);
            if (pte_write(pte)) cow_writable.push(pfn, mm);
            const why = (pf & PG_anon) !== 0 && i32[page_base(pfn) + PAGE.anonmm_residual] === 0 ? anonmm_unreachable(pfn, mm, addr) : null; // a residual page: counted, not a failure
            if (why) bad('I-ANONMM', `the anonmm walk of pfn ${pfn} misses its pte at mm#${mm} ${hex(addr)}: ${why} (reclaim can never unmap it)`);
            continue;
          }
          if ((i32[page_base(pfn) + PAGE.mapping] & PAGE_MAPPING_ANON) !== 0) rss++; else frss++;
          maps[pfn]++;
          if ((i32[page_base(pfn) + PAGE.flags] & (PG_buddy | PG_pgtable)) !== 0 || pcp[pfn] !== 0) bad('I-PTE', `mm#${mm} ${hex(addr)} maps pfn ${pfn}, which is free or a page table`);
          if (pte_write(pte) && (i32[v + VMA.vm_flags] & VM_WRITE) === 0) bad('I-RO', `writable pte in a read-only vma: mm#${mm} ${hex(addr)}`);
          if (pte_write(pte) && (i32[v + VMA.vm_flags] & VM_SHARED) === 0) cow_writable.push(pfn, mm);
          const mapping = i32[page_base(pfn) + PAGE.mapping];
          if (mapping !== ((av << 1) | 1) && (file === 0 || mapping !== file << 1)) {
            bad('I-PTE', `pfn ${pfn} mapped at mm#${mm} ${hex(addr)}: page->mapping ${hex(mapping)} is not the vma's anon_vma#${av}${file !== 0 ? ` or its file address_space#${file}` : ''}`);
          }
          const why = rmap_unreachable(pfn, mm, vma, addr);
          if (why) bad('I-ANONVMA', `the rmap walk of pfn ${pfn} misses its pte at mm#${mm} ${hex(addr)}: ${why}`);
        } else if (is_swap_pte(pte)) {
          const e = pte_to_swp_entry(pte);
          if (is_migration_entry(e)) {
            const pfn = swp_offset(e);
            const locked = pfn > 0 && pfn < n && (i32[page_base(pfn) + PAGE.flags] & PG_locked) !== 0;
            const why = pfn > 0 && pfn < n ? rmap_unreachable(pfn, mm, vma, addr) : 'no such pfn';
            bad('I-MIGENT', `migration entry outlives its migration: mm#${mm} ${hex(addr)} -> pfn ${pfn}${locked ? '' : ' (page not locked)'}${why ? `; remove_migration_ptes cannot reach it: ${why}` : ''}`);
          } else if (is_device_private_entry(e)) {
            rss++; // seed 004 (E3): a device-private entry is a counted mapping of its device page
            count_device_pte(swp_offset(e), mm, addr, devRefs);
          } else if (!count_swap_pte(e, swapRefs)) {
            bad('I-SWAPCNT', `swap pte ${hex(pte)} at mm#${mm} ${hex(addr)} names no slot of a switched-on device`);
          } else swapped = true;
        }
      }
    }
    if (swapped && !mm_on_mmlist(mm)) bad('I-SWAPCNT', `mm#${mm} holds swap entries but is not on init_mm.mmlist (swapoff would miss them)`);
    if (i32[m + MM.anon_rss] !== rss) bad('I-RSS', `mm#${mm} anon_rss ${i32[m + MM.anon_rss]} but ${rss} present ptes of anonymous pages${devRefs.size ? ' and device-private entries' : ''}`);
    if (i32[m + MM.file_rss] !== frss) bad('I-RSS', `mm#${mm} file_rss ${i32[m + MM.file_rss]} but ${frss} present ptes of page-cache pages`);
  }

  // writable ptes of private (COW) mappings on pages mapped more than once would leak writes;
  // a shared mapping writes to its page-cache page by design
  for (let k = 0; k < cow_writable.length; k += 2) {
    const pfn = cow_writable[k];
    if (maps[pfn] > 1) bad('I-COW', `writable pte to COW-shared pfn ${pfn} (${maps[pfn]} mappings) in mm#${cow_writable[k + 1]}`);
  }

  const lru = check_lru(bad, n);
  let free = 0;
  for (let pfn = 1; pfn < n; pfn++) {
    const p = page_base(pfn);
    const f = i32[p + PAGE.flags];
    const count = i32[p + PAGE._count];
    const mapcount = i32[p + PAGE._mapcount] + 1;
    if ((f & PG_buddy) !== 0 || pcp[pfn] !== 0) {
      if (pcp[pfn] === 0) free++; // zone->nr_free counts the buddy's pages only
      else if (f !== 0) bad('I-ZONE', `pfn ${pfn} on CPU ${pcp[pfn] - 1}'s per-CPU list has flags ${hex(f)} (a free page not in the buddy has none)`);
      if (count !== 0 || mapcount !== 0) bad('I-REF', `free pfn ${pfn} has count ${count} mapcount ${mapcount}`);
      if ((f & PG_lru) !== 0 || lru.has(pfn)) bad('I-LRU', `free pfn ${pfn} is on the LRU`);
      if (pvec[pfn] !== 0) bad('I-LRU', `free pfn ${pfn} is in CPU ${pvec[pfn] - 1}'s pagevec`);
      continue;
    }
    if (ERA.id === E0 && (f & PG_reserved) !== 0) continue; // E0's ZERO_PAGE and hugetlb runs (I-HUGE); no other era has reserved pages
    if ((f & PG_locked) !== 0) bad('I-LOCKED', `pfn ${pfn} is still locked at a quiescent point`);
    if ((f & PG_pgtable) !== 0) {
      if (count !== 1) bad('I-REF', `page-table pfn ${pfn} has count ${count}`);
      if ((f & PG_lru) !== 0 || lru.has(pfn)) bad('I-LRU', `page-table pfn ${pfn} is on the LRU`);
      continue;
    }
    if (mapcount !== maps[pfn]) bad('I-MAP', `pfn ${pfn}: mapcount ${mapcount} but ${maps[pfn]} ptes map it`);
    const cached = (f & PG_swapcache) !== 0 ? 1 : 0;
    const m = i32[p + PAGE.mapping];
    const file = ERA.id !== E0 && !cached && m !== 0 && (m & PAGE_MAPPING_ANON) === 0 && radix_tree_lookup(m >>> 1, i32[p + PAGE.index]) === pfn ? 1 : 0;
    const buffers = !cached && (f & PG_private) !== 0 ? 1 : 0;
    const inpv = pvec[pfn] !== 0 ? 1 : 0;
    const held = maps[pfn] + cached + file + buffers + inpv;
    const refs = `${maps[pfn]} ptes${cached ? ' + the swap cache' : ''}${file ? ' + the page cache' : ''}${buffers ? ' + its buffers' : ''}${inpv ? ' + a pagevec' : ''}`;
    if (count === 0) bad('I-REF', `pfn ${pfn} left frozen: count 0 but not free (${refs} refer to it)`);
    else if (count !== held) bad('I-REF', `pfn ${pfn}: count ${count} but ${refs} refer to it${held === 0 ? ': leaked' : ''}`);
    if (cached && !swap_cache_holds(pfn, swapRefs)) bad('I-CACHE', `pfn ${pfn} has PG_swapcache for entry ${hex(i32[p + PAGE.private])} but the swap cache does not hold it there`);
    if (maps[pfn] + cached + file > 0 && (f & PG_lru) === 0 && !inpv) bad('I-LRU', `in-use ${file ? 'page-cache' : 'anon'} pfn ${pfn} is not on the LRU (nor in a pagevec)`);
    if (inpv && ((f & PG_lru) !== 0 || lru.has(pfn))) bad('I-LRU', `pfn ${pfn} is in CPU ${pvec[pfn] - 1}'s pagevec and on the LRU`);
    if ((f & PG_lru) !== 0 && !lru.has(pfn)) bad('I-LRU', `pfn ${pfn} has PG_lru but is on no LRU list`);
  }
  if (free !== i32[BASES.zone + ZONE.nr_free]) bad('I-ZONE', `zone nr_free ${i32[BASES.zone + ZONE.nr_free]} but ${free} pages are free`);
  check_swap(bad, swapRefs);
  check_page_cache(bad);
  if (ERA.id === E0) check_hugetlb((s) => bad('I-HUGE', s));
  check_device(bad, devRefs, lru);
  return out;
}

/**
 * scale: every CPU's per-CPU page list: within its size, no pfn on two lists
 * or twice; returns cpu + 1 for each pfn on a list, 0 elsewhere
 */
function check_pcp(bad: Complain, n: number): Uint8Array {
  const on = new Uint8Array(n);
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) {
    for (const pfn of pcp_pages(cpu)) {
      if (pfn <= 0 || pfn >= n) { bad('I-ZONE', `CPU ${cpu}'s per-CPU list holds pfn ${pfn}, which is not RAM`); continue; }
      if (on[pfn] !== 0) bad('I-ZONE', `pfn ${pfn} is on CPU ${on[pfn] - 1}'s per-CPU list and on CPU ${cpu}'s`);
      on[pfn] = cpu + 1;
    }
  }
  return on;
}

/**
 * scale2: every CPU's LRU pagevecs (E1/E2): no pfn in two or twice (the
 * kernel's __pagevec_lru_add would BUG); returns cpu + 1 for each pfn in one, 0 elsewhere
 */
function check_pagevecs(bad: Complain, n: number): Uint8Array {
  const on = new Uint8Array(n);
  for (let cpu = 0; cpu < sizes.nr_cpus; cpu++) {
    for (const pfn of pagevec_pages(cpu)) {
      if (pfn <= 0 || pfn >= n) { bad('I-LRU', `CPU ${cpu}'s pagevec holds pfn ${pfn}, which is not RAM`); continue; }
      if (on[pfn] !== 0) bad('I-LRU', `pfn ${pfn} is in CPU ${on[pfn] - 1}'s pagevec and in CPU ${cpu}'s`);
      on[pfn] = cpu + 1;
    }
  }
  return on;
}

/** the two LRU lists against their counts and each page's PG_lru/PG_active; returns the pfns on them */
function check_lru(bad: Complain, n: number): Set<number> {
  const lru = new Set<number>();
  for (const [head, active] of [[ZONE.active_first, true], [ZONE.inactive_first, false]] as const) {
    const ids = list_ids(LRU, BASES.zone + head, n + 1);
    const want = i32[BASES.zone + (active ? ZONE.nr_active : ZONE.nr_inactive)];
    if (ids.length !== want) bad('I-LRU', `${active ? 'active' : 'inactive'} LRU holds ${ids.length} pages but nr says ${want}`);
    for (const pfn of ids) {
      if (lru.has(pfn)) bad('I-LRU', `pfn ${pfn} is on the LRU twice`);
      lru.add(pfn);
      const f = i32[page_base(pfn) + PAGE.flags];
      if ((f & PG_lru) === 0 || ((f & PG_active) !== 0) !== active) bad('I-LRU', `pfn ${pfn} on the ${active ? 'active' : 'inactive'} LRU with flags ${hex(f)}`);
    }
  }
  return lru;
}
