// scale (issue 16 item 3): the per-CPU page lists in front of zone->lock.
// An allocation refills this CPU's list from the buddy PCP_BATCH pages at a
// time, a free puts the page on this CPU's list and gives PCP_BATCH back once
// it reaches PCP_HIGH; a page on a list is free (not PG_buddy, not in
// zone->nr_free), every checker counts it so, and prep_new_page still
// catches a page that was touched after its free.
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { PAGE, PCP, PCP_BATCH, PCP_HIGH, PCP_LOW, PG_buddy, PG_waiters, ZONE } from '../src/shm/layout.js';
import { BASES, i32, page_base, pcp_base } from '../src/shm/machine.js';
import { alloc_page, nr_free_pages, pcp_pages } from '../src/mm/page_alloc.js';
import { put_page } from '../src/mm/swap.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { check_invariants } from '../src/check/invariants.js';
import { E0, E2 } from '../src/shm/era.js';

const buddy = () => i32[BASES.zone + ZONE.nr_free];
const count = (cpu: number) => i32[pcp_base(cpu) + PCP.count];

describe('per-CPU page lists', () => {
  it('an allocation refills the list from the buddy by PCP_BATCH; a free stays on this CPU\'s list', () => {
    boot({ nr_cpus: 2 }, 0, E2);
    const b0 = buddy(), all = nr_free_pages();
    const p = alloc_page();
    expect(buddy()).toBe(b0 - PCP_BATCH);
    expect(count(0)).toBe(PCP_BATCH - 1);
    expect(nr_free_pages()).toBe(all - 1);
    expect(i32[page_base(p) + PAGE.flags]).toBe(0);
    // the rest of the batch is free but not in the buddy
    for (const q of pcp_pages(0)) expect(i32[page_base(q) + PAGE.flags] & PG_buddy).toBe(0);
    put_page(p);
    expect(count(0)).toBe(PCP_BATCH);
    expect(pcp_pages(0)[PCP_BATCH - 1]).toBe(p); // the head: the next allocation takes it back, hot
    expect(nr_free_pages()).toBe(all);
    expect(check_invariants()).toEqual([]);
    // another CPU frees onto its own list; CPU 0 does not take from it
    set_current_cpu(1, 1);
    const q = alloc_page();
    put_page(q);
    expect(pcp_pages(1)).toContain(q);
    set_current_cpu(0, 1);
    expect(pcp_pages(0)).not.toContain(q);
    expect(check_invariants()).toEqual([]);
  });

  it('a list that reaches PCP_HIGH gives its PCP_BATCH coldest pages back to the buddy', () => {
    boot({}, 0, E2);
    const pages = Array.from({ length: PCP_HIGH }, () => alloc_page());
    const b = buddy();
    for (const p of pages) put_page(p);
    expect(count(0)).toBe(PCP_HIGH - PCP_BATCH); // the allocations emptied the list; the frees filled it to high
    expect(buddy()).toBe(b + PCP_BATCH);
    const freed = pages.filter((p) => (i32[page_base(p) + PAGE.flags] & PG_buddy) !== 0);
    expect(freed).toEqual(pages.slice(0, PCP_BATCH)); // the first freed are the coldest
    expect(check_invariants()).toEqual([]);
  });

  it('E0 (2.6.6) refills while the list is down to pcp->low; later eras only when it is empty', () => {
    boot({}, 0, E0);
    alloc_page();
    alloc_page();
    expect(count(0)).toBe(2 * PCP_BATCH - 2); // the second allocation found PCP_BATCH - 1 <= PCP_LOW and refilled
    expect(PCP_LOW).toBeGreaterThanOrEqual(PCP_BATCH);
    boot({}, 0, E2);
    alloc_page();
    alloc_page();
    expect(count(0)).toBe(PCP_BATCH - 2);
  });

  it('prep_new_page: a page touched on the list after its free is a Bad page state; the sweep says so before', () => {
    boot({}, 0, E2);
    const p = alloc_page();
    put_page(p);
    i32[page_base(p) + PAGE.flags] |= PG_waiters; // a stale bit set after the free
    expect(check_invariants().join('\n')).toMatch(/I-ZONE: pfn \d+ on CPU 0's per-CPU list has flags/);
    expect(() => alloc_page()).toThrow(/Bad page state[\s\S]*prep_new_page found a page in use/);
  });

  it('the sweep: a page on two lists, or mapped from a list, is a violation', () => {
    boot({ nr_cpus: 2 }, 0, E2);
    put_page(alloc_page());
    const p = pcp_pages(0)[0];
    const b1 = pcp_base(1);
    i32[b1 + PCP.list] = p;
    i32[b1 + PCP.count] = 1;
    expect(check_invariants().join('\n')).toMatch(/pfn \d+ is on CPU 0's per-CPU list and on CPU 1's/);
  });
});
