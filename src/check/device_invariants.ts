// I-DEV (kernel-notes 5.1; seed 004, E3): the device half of the quiescent
// sweep. A ZONE_DEVICE page is never on an LRU and keeps its pgmap; its
// count is the device's base reference plus one per device-private entry
// naming it, and so is its mapcount; an idle page (count 1) is on the
// driver's free stack with no mapping, a page in use is not, and the
// driver's mirror names the entry that maps it.
import { DEV_MIRROR, DMIRROR, PAGE, PAGE_pgmap, PG_locked, PG_lru, ZONE_DEVICE } from '../shm/layout.js';
import { BASES, i32, page_base, sizes } from '../shm/machine.js';
import type { Complain } from './swap_invariants.js';
import { pgmap_live } from '../mm/memremap.js';

/** device-private entries found by the sweep: pfn -> the (mm, addr) of each */
export type DevRefs = Map<number, [number, number][]>;

export function count_device_pte(pfn: number, mm: number, addr: number, refs: DevRefs): void {
  const l = refs.get(pfn);
  if (l) l.push([mm, addr]); else refs.set(pfn, [[mm, addr]]);
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

export function check_device(bad: Complain, refs: DevRefs, lru: Set<number>): void {
  const first = sizes.nr_pages, nd = sizes.nr_dev_pages ?? 0;
  for (const pfn of refs.keys()) if (pfn < first || pfn >= first + nd) bad('I-DEV', `a device-private entry names pfn ${pfn}, which is no device page`);
  if (nd === 0) return;
  const nfree = i32[BASES.dmirror + DMIRROR.nr_free];
  const free = new Set<number>();
  for (let k = 0; k < nfree; k++) {
    const pfn = i32[BASES.dev_free + k];
    if (free.has(pfn)) bad('I-DEV', `device pfn ${pfn} is on the driver's free list twice`);
    free.add(pfn);
  }
  for (let pfn = first; pfn < first + nd; pfn++) {
    const p = page_base(pfn);
    if (i32[p + PAGE.zone] !== ZONE_DEVICE) continue; // not registered by a driver in this run
    const f = i32[p + PAGE.flags];
    const pgmap = i32[p + PAGE_pgmap];
    const maps = refs.get(pfn) ?? [];
    const count = i32[p + PAGE._count], mapcount = i32[p + PAGE._mapcount] + 1;
    if ((f & PG_lru) !== 0 || lru.has(pfn)) bad('I-DEV', `device pfn ${pfn} is on the LRU`);
    if (!pgmap_live(pgmap)) {
      bad('I-DEV', `device pfn ${pfn}: page->pgmap ${hex(pgmap)} is no registered dev_pagemap`);
    }
    if ((f & PG_locked) !== 0) bad('I-DEV', `device pfn ${pfn} is still locked at a quiescent point`);
    if (count !== 1 + maps.length) bad('I-DEV', `device pfn ${pfn}: count ${count} but the device's reference + ${maps.length} device-private entries refer to it`);
    if (mapcount !== maps.length) bad('I-DEV', `device pfn ${pfn}: mapcount ${mapcount} but ${maps.length} device-private entries map it`);
    if (count === 1) {
      if (!free.has(pfn)) bad('I-DEV', `idle device pfn ${pfn} is not on the driver's free list`);
      if (i32[p + PAGE.mapping] !== 0) bad('I-DEV', `idle device pfn ${pfn} keeps mapping ${hex(i32[p + PAGE.mapping])}`);
    } else if (free.has(pfn)) bad('I-DEV', `device pfn ${pfn} is in use (count ${count}) but on the driver's free list`);
    const m = BASES.dev_mirror + (pfn - first) * DEV_MIRROR.stride;
    const mm = i32[m + DEV_MIRROR.mm], addr = i32[m + DEV_MIRROR.addr];
    if (maps.length > 0 && !maps.some(([x, a]) => x === mm && a === addr)) {
      bad('I-DEV', `the driver's mirror says device pfn ${pfn} backs mm#${mm} ${hex(addr)}, but its entries are at ${maps.map(([x, a]) => `mm#${x} ${hex(a)}`).join(', ')}`);
    }
  }
}
