// The checkers themselves: each must fire on the state it exists to catch.
import { describe, expect, it } from 'vitest';
import { BASE, boot, parent } from './helpers.js';
import { Shadow, TAG_CHILD } from '../src/check/shadow.js';
import { KernelBug, read_oops, OOPS_SHADOW, OOPS_INVARIANT, OOPS_BAD_PAGE } from '../src/check/bug.js';
import { check_invariants } from '../src/check/invariants.js';
import { copy_mm, mmput } from '../src/mm/fork.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { _PAGE_RW } from '../src/mm/pgtable.js';
import { make_migration_entry, swp_entry_to_pte } from '../src/mm/swapops.js';
import { lock_page, unlock_page } from '../src/sync/page_lock.js';
import { i32, page_base, phys_base } from '../src/shm/machine.js';
import { PAGE } from '../src/shm/layout.js';
import { lru_add_drain, put_page } from '../src/mm/swap.js';

describe('checkers', () => {
  it('the user-data shadow reports a lost write', () => {
    boot();
    const { sh, pfn } = parent();
    sh.store(1, 3);
    sh.store(1, 3);
    i32[phys_base(pfn(1)) + 3] -= 1; // the second store vanishes
    expect(() => sh.check(1, 3)).toThrow(KernelBug);
    const o = read_oops()!;
    expect(o.kind).toBe(OOPS_SHADOW);
    expect(o.text).toMatch(/lost write in parent mm#\d+ at 0x21000 word 3/);
  });

  it('the user-data shadow reports a COW leak from a child', () => {
    boot();
    const { mm, sh } = parent();
    const child = copy_mm(mm);
    const cs = new Shadow(child, BASE, 4, TAG_CHILD, 'child');
    // break COW by hand: make the child's pte writable without copying
    const s = pte_offset(pte_table(child, BASE), BASE);
    i32[s] |= _PAGE_RW;
    cs.store(0, 0);
    expect(() => sh.check(0, 0)).toThrow(KernelBug);
    expect(read_oops()!.text).toMatch(/COW leak: a child's store is visible in parent/);
  });

  it('the invariant sweep reports a wrong mapcount and a writable COW-shared pte', () => {
    boot();
    const { mm, pfn } = parent();
    const child = copy_mm(mm);
    expect(check_invariants()).toEqual([]);
    i32[page_base(pfn(2)) + PAGE._mapcount] += 1;
    i32[pte_offset(pte_table(child, BASE), BASE)] |= _PAGE_RW;
    const v = check_invariants();
    expect(v.some((s) => /pfn \d+: mapcount 3 but 2 ptes map it/.test(s))).toBe(true);
    expect(v.some((s) => /writable pte to COW-shared pfn/.test(s))).toBe(true);
  });

  it('a migration entry left behind is reported at exit and by the sweep', () => {
    boot();
    const { mm, slot, pfn } = parent();
    const child = copy_mm(mm);
    const old = pfn(0);
    lock_page(old);
    i32[pte_offset(pte_table(child, BASE), BASE)] = swp_entry_to_pte(make_migration_entry(old, 0));
    unlock_page(old); // the migration ended; the child's entry is now an orphan
    expect(check_invariants().some((s) => /migration entry outlives its migration: mm#\d+ 0x20000 -> pfn \d+ \(page not locked\)/.test(s))).toBe(true);
    expect(() => mmput(child)).toThrow(KernelBug);
    expect(read_oops()!.kind).toBe(OOPS_INVARIANT);
    expect(read_oops()!.text).toMatch(/^mmrace: invariant C-MIGENT: orphaned migration entry dropped at exit: mm#\d+ addr 0x20000 -> pfn \d+, which is not under migration\n/);
    void slot;
  });

  it('put_page on a mapped page with count 1 frees it: Bad page state', () => {
    boot();
    const { pfn } = parent();
    lru_add_drain(); // E2: the pagevec's reference dropped, so the pte's is the page's only one
    const p = pfn(1);
    expect(() => put_page(p)).toThrow(KernelBug);
    expect(read_oops()!.kind).toBe(OOPS_BAD_PAGE);
    // 2.6.18's bad_page lines; which check fired is the model's own line
    const [head, line, fixup, note] = read_oops()!.text.split('\n');
    expect(head).toBe("Bad page state in process 'swapper'");
    expect(line).toMatch(/^page:c1[0-9a-f]{6} flags:0x[0-9a-f]{8} mapping:[0-9a-f]{8} mapcount:1 count:0$/);
    expect(fixup).toBe('Trying to fix it up, but a reboot is needed');
    expect(note).toMatch(/^mmrace: free_pages_check: page still in use \(pfn \d+\)$/);
  });
});

describe('WARN_ON', () => {
  it('keeps the first warning with its call trace, counts every one, and does not fail the run', async () => {
    const { WARN_ON, read_warn } = await import('../src/check/warn.js');
    const { live_machine } = await import('../src/shm/machine.js');
    boot();
    expect(WARN_ON(false, 'page_referenced_anon', 'mm/rmap.c', 264)).toBe(false);
    expect(read_warn(live_machine())).toBeNull();
    expect(WARN_ON(true, 'page_referenced_anon', 'mm/rmap.c', 264)).toBe(true);
    expect(WARN_ON(true, 'page_referenced_anon', 'mm/rmap.c', 270)).toBe(true);
    const w = read_warn(live_machine())!;
    expect(w.count).toBe(2);
    expect(w.text).toMatch(/^Badness in page_referenced_anon at mm\/rmap\.c:264\nCall Trace:\n .*test\/checkers\.test\.ts:\d+/);
    expect(read_oops()).toBeNull(); // a warning is not an oops
  });
});
