import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_RW, is_swap_pte, mk_pte, pte_dirty, pte_file, pte_mkclean,
  pte_mkdirty, pte_mkold, pte_mkwrite, pte_mkyoung, pte_modify, pte_none, pte_pfn, pte_present, pte_write, pte_wrprotect, pte_young,
} from '../src/mm/pgtable.js';
import {
  MAX_SWAPFILES, SWP_MIGRATION_READ, SWP_MIGRATION_WRITE, is_migration_entry, is_write_migration_entry, make_migration_entry,
  make_migration_entry_read, migration_entry_to_page, pte_to_swp_entry, swp_entry, swp_entry_to_pte, swp_offset, swp_type,
} from '../src/mm/swapops.js';
import { ListDesc, list_add, list_add_tail, list_del, list_ids } from '../src/shm/list.js';
import { BASES, i32, vma_base } from '../src/shm/machine.js';
import { VMA } from '../src/shm/layout.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import { lock_page, unlock_page } from '../src/sync/page_lock.js';
import { KernelBug, read_oops } from '../src/check/bug.js';
import { boot } from './helpers.js';

fc.configureGlobal({ seed: 20261123, numRuns: 500 });

const pfnArb = fc.integer({ min: 1, max: (1 << 20) - 1 });
const protArb = fc.constantFrom(_PAGE_PRESENT, _PAGE_PRESENT | _PAGE_RW, _PAGE_PROTNONE);

describe('pte encoding', () => {
  it('mk_pte keeps the pfn and the protection; A and D start clear', () => {
    fc.assert(fc.property(pfnArb, protArb, (pfn, prot) => {
      const pte = mk_pte(pfn, prot);
      expect(pte_pfn(pte)).toBe(pfn);
      expect(pte_present(pte)).toBe(true);
      expect(pte_none(pte)).toBe(false);
      expect(is_swap_pte(pte)).toBe(false);
      expect(pte_write(pte)).toBe((prot & _PAGE_RW) !== 0);
      expect(pte_young(pte) || pte_dirty(pte)).toBe(false);
    }));
  });

  it('bit helpers touch only their bit', () => {
    fc.assert(fc.property(pfnArb, protArb, (pfn, prot) => {
      const pte = mk_pte(pfn, prot);
      for (const [f, check] of [[pte_mkwrite, pte_write], [pte_mkdirty, pte_dirty], [pte_mkyoung, pte_young]] as const) {
        const on = f(pte);
        expect(check(on)).toBe(true);
        expect(pte_pfn(on)).toBe(pfn);
      }
      expect(pte_write(pte_wrprotect(pte_mkwrite(pte)))).toBe(false);
      expect(pte_dirty(pte_mkclean(pte_mkdirty(pte)))).toBe(false);
      expect(pte_young(pte_mkold(pte_mkyoung(pte)))).toBe(false);
    }));
  });

  it('pte_modify keeps pfn, accessed and dirty, takes the new protection', () => {
    fc.assert(fc.property(pfnArb, protArb, protArb, fc.boolean(), fc.boolean(), (pfn, p1, p2, a, d) => {
      const pte = mk_pte(pfn, p1) | (a ? _PAGE_ACCESSED : 0) | (d ? _PAGE_DIRTY : 0);
      const m = pte_modify(pte, p2);
      expect(pte_pfn(m)).toBe(pfn);
      expect(pte_young(m)).toBe(a);
      expect(pte_dirty(m)).toBe(d);
      expect(pte_write(m)).toBe((p2 & _PAGE_RW) !== 0);
      expect(pte_present(m)).toBe(true);
    }));
  });
});

describe('swap entries', () => {
  const typeArb = fc.integer({ min: 0, max: 31 });
  const offArb = fc.integer({ min: 1, max: (1 << 21) - 1 });

  it('swp_entry round-trips through a swap pte, which is never none, present or file', () => {
    fc.assert(fc.property(typeArb, offArb, (type, off) => {
      const e = swp_entry(type, off);
      expect(swp_type(e)).toBe(type);
      expect(swp_offset(e)).toBe(off);
      const pte = swp_entry_to_pte(e);
      expect(pte_none(pte)).toBe(false);
      expect(pte_present(pte)).toBe(false);
      expect(pte_file(pte)).toBe(false);
      expect(is_swap_pte(pte)).toBe(true);
      expect(pte_to_swp_entry(pte)).toBe(e);
    }));
  });

  it('the migration types are the top two of 32, as in the seed', () => {
    expect(MAX_SWAPFILES).toBe(30);
    expect([SWP_MIGRATION_READ, SWP_MIGRATION_WRITE]).toEqual([30, 31]);
    fc.assert(fc.property(typeArb, offArb, (type, off) => {
      const e = swp_entry(type, off);
      expect(is_migration_entry(e)).toBe(type >= 30);
      expect(is_write_migration_entry(e)).toBe(type === 31);
      expect(swp_type(make_migration_entry_read(e))).toBe(SWP_MIGRATION_READ);
      expect(swp_offset(make_migration_entry_read(e))).toBe(off);
    }));
  });

  it("sys_swapon's old range check finds type 31 (so it let 30 and 31 through)", () => {
    expect(swp_type(pte_to_swp_entry(swp_entry_to_pte(swp_entry(~0, 0))))).toBe(31);
  });

  it('make_migration_entry takes `write` as a C boolean: SWP_MIGRATION_READ (30) means write', () => {
    boot();
    const pfn = alloc_page();
    lock_page(pfn);
    expect(is_write_migration_entry(make_migration_entry(pfn, SWP_MIGRATION_READ))).toBe(true);
    expect(is_write_migration_entry(make_migration_entry(pfn, 0))).toBe(false);
    expect(migration_entry_to_page(make_migration_entry(pfn, 1))).toBe(pfn);
    unlock_page(pfn);
  });

  it('migration_entry_to_page BUGs on an unlocked page and records the oops', () => {
    boot();
    const pfn = alloc_page();
    expect(() => migration_entry_to_page(swp_entry(SWP_MIGRATION_READ, pfn))).toThrow(KernelBug);
    const o = read_oops();
    expect(o?.text).toMatch(/^BUG_ON\(!PageLocked\(p\)\) in migration_entry_to_page\nCall Trace:\n migration_entry_to_page\+src\/mm\/swapops\.ts:\d+/);
    expect(o?.pfn).toBe(pfn);
  });
});

describe('id lists (list.h)', () => {
  it('list_add, list_add_tail and list_del match an array model', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('add', 'tail', 'del'), fc.integer({ min: 1, max: 12 })), { maxLength: 60 }), (opsList) => {
      boot({ nr_vma: 16 });
      const d: ListDesc = { base: vma_base, next: VMA.anon_vma_next, prev: VMA.anon_vma_prev };
      const head = BASES.globals + 12; // two free words of the globals line
      i32[head] = 0; i32[head + 1] = 0;
      const model: number[] = [];
      for (const [op, id] of opsList) {
        const on = model.includes(id);
        if (op === 'del') { if (on) { list_del(d, head, id); model.splice(model.indexOf(id), 1); } continue; }
        if (on) continue;
        if (op === 'add') { list_add(d, head, id); model.unshift(id); } else { list_add_tail(d, head, id); model.push(id); }
      }
      expect(list_ids(d, head)).toEqual(model);
      expect(i32[head + 1]).toBe(model.length ? model[model.length - 1] : 0);
    }), { numRuns: 200 });
  });
});
