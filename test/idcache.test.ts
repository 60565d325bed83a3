// The mm and vma id allocators' per-CPU array caches (2.6.18's SLAB
// array_cache): a freed id goes on its CPU's cache and is that CPU's next
// allocation, so a record is reused where its cache lines already are; a full
// cache gives its coldest ids back to the shared stack; and an id is never
// out of reach: with the shared stack empty, an allocation takes one from
// another CPU's cache (ids are bounded, where the slab would grow).
import { describe, expect, it } from 'vitest';
import { boot } from './helpers.js';
import { IDCACHE, IDCACHE_LIMIT } from '../src/shm/layout.js';
import { BASES, i32 } from '../src/shm/machine.js';
import { set_current_cpu } from '../src/cpu/current.js';
import { mm_alloc } from '../src/mm/mmap.js';
import { mmput } from '../src/mm/fork.js';

const cached = (cpu: number) => i32[BASES.mm_cache + cpu * IDCACHE.stride + IDCACHE.avail];

describe('id allocators: per-CPU array caches', () => {
  it('one CPU gets its ids back in the reverse order it freed them, past a full cache\'s give-back', () => {
    boot({ nr_cpus: 2, nr_mm: 64 });
    const n = IDCACHE_LIMIT + 10;
    const ids = Array.from({ length: n }, () => mm_alloc());
    expect(ids.every((id) => id > 0)).toBe(true);
    for (const id of ids) mmput(id);
    expect(cached(0)).toBeLessThanOrEqual(IDCACHE_LIMIT);
    const again = Array.from({ length: n }, () => mm_alloc());
    expect(again).toEqual([...ids].reverse());
  });

  it('an id freed on CPU 1 is CPU 1\'s next one; CPU 0 takes from the shared stack meanwhile', () => {
    boot({ nr_cpus: 2, nr_mm: 64 });
    set_current_cpu(1, 1);
    const a = mm_alloc();
    mmput(a);
    expect(cached(1)).toBe(1);
    set_current_cpu(0, 1);
    const b = mm_alloc();
    expect(b).not.toBe(a);
    set_current_cpu(1, 1);
    expect(mm_alloc()).toBe(a);
    expect(cached(1)).toBe(0);
  });

  it('no id is stranded: with the shared stack empty, an allocation takes another CPU\'s cached id', () => {
    boot({ nr_cpus: 2, nr_mm: 16 });
    const all: number[] = [];
    for (let id = mm_alloc(); id !== 0; id = mm_alloc()) all.push(id);
    expect(all.length).toBe(15); // every id but 0
    set_current_cpu(1, 1);
    mmput(all[3]);
    set_current_cpu(0, 1);
    expect(mm_alloc()).toBe(all[3]);
    expect(mm_alloc()).toBe(0);
  });
});
