// Mutual exclusion of each lock with more workers than cores.
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { hammer_pool } from './workers/pool.js';
import { BASES, page_base, mm_base } from '../src/shm/machine.js';
import { GLOBALS, MM, PAGE, PG_locked } from '../src/shm/layout.js';
import { i32 } from '../src/shm/machine.js';
import { alloc_page } from '../src/mm/page_alloc.js';
import type { HammerTask } from './workers/hammer.js';

const N = 4;
const ITERS = 20_000;
const pool = hammer_pool(N);

async function hammer(kind: HammerTask['kind']) {
  const sab = boot({ nr_cpus: N });
  const pfn = alloc_page();
  const lock = kind === 'spin' ? page_base(pfn) + PAGE.ptl : kind === 'rwsem' ? mm_base(1) + MM.mmap_sem : page_base(pfn) + PAGE.flags;
  // scratch words: the globals line's padding
  const counter = BASES.globals + GLOBALS.stride - 1, owner = counter - 1, start = counter - 2;
  const rs = await Promise.all(Array.from({ length: N }, (_, cpu) =>
    pool.run({ sab, cpu, kind, iters: ITERS, lock, pfn, counter, owner, start, n: N } satisfies HammerTask) as Promise<{ breaks: number; reads: number }>));
  return { breaks: rs.reduce((a, r) => a + r.breaks, 0), reads: rs.reduce((a, r) => a + r.reads, 0), counter: i32[counter], pfn };
}

describe(`locks under ${N} workers`, () => {
  it('spinlock (spin then park): no lost update, no two holders', async () => {
    const r = await hammer('spin');
    expect(r.breaks).toBe(0);
    expect(r.counter).toBe(N * ITERS);
  });

  it('page lock (PG_locked): no lost update, unlocked at the end', async () => {
    const r = await hammer('page');
    expect(r.breaks).toBe(0);
    expect(r.counter).toBe(N * ITERS);
    expect(i32[page_base(r.pfn) + PAGE.flags] & PG_locked).toBe(0);
  });

  it('rwsem: writers exclusive, readers never see a writer', async () => {
    const r = await hammer('rwsem');
    expect(r.breaks).toBe(0);
    expect(r.counter + r.reads).toBe(N * ITERS);
    expect(r.reads).toBeGreaterThan(0);
    expect(i32[mm_base(1) + MM.mmap_sem]).toBe(0);
  });
});
