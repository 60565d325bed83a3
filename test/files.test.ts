// Files and the page cache on one CPU against a plain model of the file's
// contents (issue 10): read(2), write(2), stores and loads through a shared
// and a private mapping, truncate, msync, reclaim of a cached page and
// migration of the mapped ones, in random sequences. After every step the
// data must match the model, and at the end the invariant sweep is clean.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { boot } from './helpers.js';
import { FILE_PAGES, PAGE_SIZE, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { BUFFER_MIGRATE, FILE_EOF, FILE_OK, FIRST_FILE, MIGRATE_NONE, mapping_set_migratepage, file_read, file_rw, file_write, find_get_page, i_size_read } from '../src/mm/filemap.js';
import { do_truncate } from '../src/mm/truncate.js';
import { MS_SYNC, sys_msync } from '../src/mm/msync.js';
import { MAP_PRIVATE, MAP_SHARED, do_mmap_pgoff, mm_alloc } from '../src/mm/mmap.js';
import { PROT_READ, PROT_WRITE } from '../src/mm/mm_types.js';
import { ACCESS_OK, ACCESS_SIGBUS, mmu, user_access } from '../src/cpu/mmu.js';
import { blk_drain } from '../src/cpu/io.js';
import { isolate_lru_page, put_page } from '../src/mm/swap.js';
import { shrink_page_list } from '../src/mm/vmscan.js';
import { MPOL_MF_MOVE_ALL, do_migrate_pages } from '../src/mm/mempolicy.js';
import { check_invariants } from '../src/check/invariants.js';
import { KernelBug } from '../src/check/bug.js';
import { copy_mm, mmput } from '../src/mm/fork.js';
import { mmrace } from './cli_helpers.js';

const NP = 16; // pages of the file the test uses
const SH = 0x40000, PV = 0x80000; // shared and private mapping of the file, both NP pages from index 0

type Op =
  | { k: 'write'; i: number; w: number } | { k: 'read'; i: number; w: number }
  | { k: 'mstore'; i: number; w: number } | { k: 'mload'; i: number; w: number }
  | { k: 'pstore'; i: number; w: number } | { k: 'pload'; i: number; w: number }
  | { k: 'truncate'; n: number } | { k: 'msync' } | { k: 'reclaim'; i: number } | { k: 'migrate' } | { k: 'fork' };

// a few pages and words most of the time, so steps meet on the same data
const idx = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: NP - 1 }) });
const word = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 1 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: WORDS_PER_PAGE - 1 }) });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('write' as const), i: idx, w: word }),
  fc.record({ k: fc.constant('read' as const), i: idx, w: word }),
  fc.record({ k: fc.constant('mstore' as const), i: idx, w: word }),
  fc.record({ k: fc.constant('mload' as const), i: idx, w: word }),
  fc.record({ k: fc.constant('pstore' as const), i: idx, w: word }),
  fc.record({ k: fc.constant('pload' as const), i: idx, w: word }),
  fc.record({ k: fc.constant('truncate' as const), n: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: NP })) }),
  fc.record({ k: fc.constant('msync' as const) }),
  fc.record({ k: fc.constant('reclaim' as const), i: idx }),
  fc.record({ k: fc.constant('migrate' as const) }),
  fc.record({ k: fc.constant('fork' as const) }),
);

/** run one sequence; returns the first mismatch as text, or null */
function play(ops: Op[], migratepage: number): string | null {
  boot({ nr_pages: 512, nr_files: 1 });
  const as = FIRST_FILE;
  mapping_set_migratepage(as, migratepage);
  const mm = mm_alloc();
  expect(do_mmap_pgoff(mm, SH, NP * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, as, 0)).toBeGreaterThan(0);
  expect(do_mmap_pgoff(mm, PV, NP * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, as, 0)).toBeGreaterThan(0);
  // the model: the file's words and size; the private mapping's own copies (COW) by index
  const file = new Int32Array(FILE_PAGES * WORDS_PER_PAGE);
  let size = 0;
  const priv = new Map<number, Int32Array>();
  let v = 1;
  const list = new Int32Array(64);
  for (const [n, o] of ops.entries()) {
    const at = `step ${n} ${JSON.stringify(o)}`;
    switch (o.k) {
      case 'write': file_write(as, o.i, o.w, v); file[o.i * WORDS_PER_PAGE + o.w] = v++; size = Math.max(size, o.i + 1); break;
      case 'read': {
        const got = file_read(as, o.i, o.w);
        if (o.i >= size) { if (file_rw.status !== FILE_EOF) return `${at}: read past i_size ${size} did not end the file`; }
        else if (file_rw.status !== FILE_OK || got !== file[o.i * WORDS_PER_PAGE + o.w]) return `${at}: read ${got}, model ${file[o.i * WORDS_PER_PAGE + o.w]}`;
        break;
      }
      case 'mstore': case 'mload': {
        const st = o.k === 'mstore';
        const got = user_access(mm, SH + o.i * PAGE_SIZE, o.w, st, v);
        if (o.i >= size) { if (mmu.status !== ACCESS_SIGBUS) return `${at}: access past i_size ${size} got status ${mmu.status}, not SIGBUS`; break; }
        if (mmu.status !== ACCESS_OK) return `${at}: status ${mmu.status}`;
        if (st) file[o.i * WORDS_PER_PAGE + o.w] = v++;
        else if (got !== file[o.i * WORDS_PER_PAGE + o.w]) return `${at}: shared load ${got}, model ${file[o.i * WORDS_PER_PAGE + o.w]}`;
        break;
      }
      case 'pstore': case 'pload': {
        const st = o.k === 'pstore';
        const got = user_access(mm, PV + o.i * PAGE_SIZE, o.w, st, v);
        const own = priv.get(o.i);
        if (!own && o.i >= size) { if (mmu.status !== ACCESS_SIGBUS) return `${at}: private access past i_size ${size} got status ${mmu.status}`; break; }
        if (mmu.status !== ACCESS_OK) return `${at}: status ${mmu.status}`;
        if (st) {
          const copy = own ?? file.slice(o.i * WORDS_PER_PAGE, (o.i + 1) * WORDS_PER_PAGE);
          copy[o.w] = v++;
          priv.set(o.i, copy);
        } else {
          const want = own ? own[o.w] : file[o.i * WORDS_PER_PAGE + o.w];
          if (got !== want) return `${at}: private load ${got}, model ${want}`;
        }
        break;
      }
      case 'truncate':
        do_truncate(as, o.n);
        if (o.n < size) file.fill(0, o.n * WORDS_PER_PAGE);
        size = o.n;
        for (const i of [...priv.keys()]) if (i >= o.n) priv.delete(i); // vmtruncate zaps private COW copies too
        break;
      case 'msync': expect(sys_msync(mm, SH, NP * PAGE_SIZE, MS_SYNC)).toBe(0); break;
      case 'reclaim': {
        const pfn = find_get_page(as, o.i);
        if (pfn === 0) break;
        const iso = isolate_lru_page(pfn);
        put_page(pfn);
        if (iso === 0) shrink_page_list(pfn);
        break;
      }
      case 'migrate': do_migrate_pages(mm, MPOL_MF_MOVE_ALL, list); break;
      case 'fork': { const child = copy_mm(mm); expect(child).toBeGreaterThan(0); mmput(child); break; }
    }
    if (i_size_read(as) !== size) return `${at}: i_size ${i_size_read(as)}, model ${size}`;
  }
  blk_drain();
  const inv = check_invariants();
  return inv.length ? `invariants after ${ops.length} steps:\n${inv.join('\n')}` : null;
}

describe('files and the page cache (one CPU, model-based)', () => {
  it('random read/write/mmap-store/truncate/msync/reclaim/migrate/fork sequences match a plain model of the file', () => {
    // buffer_migrate_page (ext2/ext3) or none (fallback_migrate_page: write out dirty pages, drop buffers, then move)
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), fc.constantFrom(BUFFER_MIGRATE, MIGRATE_NONE), (ops, kind) => {
      expect(play(ops, kind)).toBeNull();
    }), { numRuns: 300, seed: 10 });
  });

  it('a write extends the file, a store past i_size is SIGBUS, truncate throws the data away for good', () => {
    boot({ nr_pages: 256, nr_files: 1 });
    const as = FIRST_FILE;
    const mm = mm_alloc();
    do_mmap_pgoff(mm, SH, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, as, 0);
    user_access(mm, SH, 0, true, 5);
    expect(mmu.status).toBe(ACCESS_SIGBUS);
    file_write(as, 2, 3, 0x77);
    expect(i_size_read(as)).toBe(3);
    expect(user_access(mm, SH + 2 * PAGE_SIZE, 3, false, 0)).toBe(0x77);
    expect(user_access(mm, SH, 0, false, 0)).toBe(0); // a hole reads zero
    user_access(mm, SH + PAGE_SIZE, 1, true, 0x99);
    expect(file_read(as, 1, 1)).toBe(0x99);
    do_truncate(as, 1);
    user_access(mm, SH + 2 * PAGE_SIZE, 3, false, 0);
    expect(mmu.status).toBe(ACCESS_SIGBUS);
    do_truncate(as, 3);
    expect(file_read(as, 2, 3)).toBe(0);
    expect(file_read(as, 1, 1)).toBe(0);
    blk_drain();
    expect(check_invariants()).toEqual([]);
  });

  it('misuse of the page-cache API is a BUG that names it, not a corrupted tree', () => {
    boot({ nr_pages: 64, nr_files: 1 });
    expect(() => file_read(FIRST_FILE, FILE_PAGES, 0)).toThrow(KernelBug);
    expect(() => file_write(FIRST_FILE + 1, 0, 0, 1)).toThrow(/mmrace: generic_file_buffered_write: address_space#3 is not a file/);
    expect(() => do_truncate(FIRST_FILE, FILE_PAGES + 1)).toThrow(/index 64 is past address_space#2's page tree/);
  });

  it('a scenario module that misuses the page-cache API ends in a BUG report naming the call, exit 1, never a hang', () => {
    const r = mmrace('run', 'test/fixtures/page_cache_misuse.mjs', '--cpus', '2', '--duration', '5');
    expect(r.code, r.err).toBe(1);
    expect(r.out).toMatch(/^outcome: BUG after /m);
    expect(r.out).toMatch(/mmrace: (do_generic_mapping_read: index 67 is past address_space#2's page tree \(64 pages\)|do_truncate: address_space#1 is not a file of this machine)/);
  });
});
