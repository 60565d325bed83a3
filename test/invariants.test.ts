// The quiescent sweep's rules (kernel-notes 5.1): a clean machine sweeps
// empty, and each corruption is reported under exactly the rule it breaks,
// in mmrace's own voice.
import { describe, expect, it } from 'vitest';
import { boot, parent } from './helpers.js';
import { check_invariants } from '../src/check/invariants.js';
import { copy_mm } from '../src/mm/fork.js';
import { swp_entry } from '../src/mm/swapops.js';
import { swap_cache_slot } from '../src/mm/swap_state.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { as_base, i32, page_base } from '../src/shm/machine.js';
import { ADDRESS_SPACE, PAGE, PG_buddy, PG_lru, SWAPPER_SPACE } from '../src/shm/layout.js';
import { headline } from '../src/report/splat.js';
import { OOPS_INVARIANT, OOPS_SHADOW, OopsRecord } from '../src/check/bug.js';

/** a parent with npages written, and a forked child sharing them */
function family(npages = 4) {
  const p = parent(npages);
  return { ...p, child: copy_mm(p.mm) };
}
const rules = (v: string[]) => [...new Set(v.map((s) => /^mmrace: invariant (I-[A-Z]+): /.exec(s)?.[1] ?? `unlabelled: ${s}`))];

describe('invariant sweep', () => {
  it('a clean family sweeps empty', () => {
    boot();
    family();
    expect(check_invariants()).toEqual([]);
  });

  it('every finding names its rule with the mmrace prefix', () => {
    boot();
    const { pfn } = family();
    i32[page_base(pfn(1)) + PAGE._mapcount] += 1;
    const v = check_invariants();
    expect(v.length).toBeGreaterThan(0);
    for (const s of v) expect(s).toMatch(/^mmrace: invariant I-[A-Z]+: /);
    expect(rules(v)).toEqual(['I-MAP']);
  });

  it('I-ANONVMA: a pte the rmap walk of its page would miss (page->index disagrees)', () => {
    boot();
    const { pfn } = family();
    i32[page_base(pfn(2)) + PAGE.index] += 1; // vma_address now points one page on
    const v = check_invariants();
    expect(rules(v)).toEqual(['I-ANONVMA']);
    expect(v[0]).toMatch(/the rmap walk of pfn \d+ misses its pte at mm#\d+ 0x22000: page->index 0x\w+ puts it at 0x23000 in vma#\d+/);
  });

  it('I-REF: a mapped page left frozen at count 0', () => {
    boot();
    const { pfn } = family();
    i32[page_base(pfn(3)) + PAGE._count] = 0; // page_ref_freeze without its unfreeze
    const v = check_invariants();
    expect(rules(v)).toEqual(['I-REF']);
    expect(v[0]).toMatch(/pfn \d+ left frozen: count 0 but not free \(2 ptes(?: \+ a pagevec)? refer to it\)/); // E2: the parent's pages may still wait in the setup CPU's pagevec
  });

  it('I-REF: an allocated, unmapped page at count 0 is left frozen, not free', () => {
    boot();
    family();
    const p = alloc_page();
    i32[page_base(p) + PAGE._count] = 0;
    expect(rules(check_invariants())).toEqual(['I-REF']);
  });

  it('I-CACHE: a swap-cache slot holding a page that does not say so', () => {
    boot();
    const { pfn } = family();
    i32[swap_cache_slot(swp_entry(0, 5))] = pfn(0);
    i32[as_base(SWAPPER_SPACE) + ADDRESS_SPACE.nrpages] += 1; // nrpages agrees: only the slot's page is wrong
    const v = check_invariants();
    expect(rules(v)).toEqual(['I-CACHE']);
    expect(v[0]).toMatch(/address_space#1 index 0x5 holds pfn \d+, whose mapping \w+ index \w+ private \w+ say otherwise/);
  });

  it('I-CACHE: swapper_space.nrpages that does not match the slots', () => {
    boot();
    family();
    i32[as_base(SWAPPER_SPACE) + ADDRESS_SPACE.nrpages] += 1;
    expect(rules(check_invariants())).toEqual(['I-CACHE']);
  });

  it('I-LRU: a free page on the LRU', () => {
    boot();
    family();
    let free = 1;
    while ((i32[page_base(free) + PAGE.flags] & PG_buddy) === 0) free++;
    i32[page_base(free) + PAGE.flags] |= PG_lru;
    expect(rules(check_invariants())).toEqual(['I-LRU']);
  });
});

describe('reports of detectors the kernel did not have', () => {
  const oops = (kind: number, text: string): OopsRecord => ({ kind, kindName: '', cpu: 0, seq: 0, pfn: 0, args: [0, 0, 0], page: null, path: 0, text });
  it('speak as mmrace', () => {
    expect(headline(oops(OOPS_INVARIANT, 'invariant violated at the end of the run:\nmmrace: invariant I-REF: x'))).toBe('mmrace: invariant violated at the end of the run:');
    expect(headline(oops(OOPS_INVARIANT, 'orphaned migration entry dropped at exit: mm#2'))).toBe('mmrace: invariant violated: orphaned migration entry dropped at exit: mm#2');
    // a continuous check names its rule and says whose it is once
    expect(headline(oops(OOPS_INVARIANT, 'mmrace: invariant C-MIGENT: orphaned migration entry dropped at exit: mm#2'))).toBe('mmrace: invariant C-MIGENT: orphaned migration entry dropped at exit: mm#2');
    expect(headline(oops(OOPS_INVARIANT, 'mmrace: migrate_pages called without an mmap_sem: x'))).toBe('mmrace: migrate_pages called without an mmap_sem: x');
    expect(headline(oops(OOPS_SHADOW, 'user data: COW leak: a child\'s store is visible in parent'))).toBe('mmrace: user-visible failure: COW leak: a child\'s store is visible in parent');
  });
});
