// Model-based test of seed 003's E0 (2.6.6-mm): random sequences of stores,
// loads, fork, exit, mremap (moving, shrinking, growing, to a place of its
// own or of the reference's choosing), swap-out and swapoff/swapon, run on
// one CPU against a plain reference model of every mm's memory. After every
// step the invariant sweep (I-ANONMM included: every present anon pte is
// where its family's anonmm walk looks) must be clean.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { boot } from './helpers.js';
import { E0 } from '../src/shm/era.js';
import { ACCESS_OK, mmu, user_access } from '../src/cpu/mmu.js';
import { do_mmap_anon, mm_alloc } from '../src/mm/mmap.js';
import { copy_mm, mmput } from '../src/mm/fork.js';
import { MREMAP_FIXED, MREMAP_MAYMOVE, sys_mremap } from '../src/mm/mremap.js';
import { isolate_lru_page, put_page } from '../src/mm/swap.js';
import { lookup_swap_cache } from '../src/mm/swap_state.js';
import { pte_to_swp_entry } from '../src/mm/swapops.js';
import { blk_drain } from '../src/cpu/io.js';
import { PROT_READ, PROT_WRITE } from '../src/mm/mm_types.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present } from '../src/mm/pgtable.js';
import { cpustat_base, i32 } from '../src/shm/machine.js';
import { CPUSTAT, PAGE_SIZE, SWAP_SLOTS, TASK_SIZE, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { sys_swapoff, sys_swapon } from '../src/mm/swapfile.js';
import { shrink_page_list } from '../src/mm/vmscan.js';
import { check_invariants } from '../src/check/invariants.js';
import { nr_free_pages } from '../src/mm/page_alloc.js';

const RW = PROT_READ | PROT_WRITE;
/** pages a region starts with, and the slots (16 pages each: one pte table) a region may be moved to */
const NP = 6;
const SLOTS = [0x10000, 0x20000, 0x40000, 0x60000, 0x80000, 0xa0000];

/** one process: where its region is, how long, and what each word must read */
interface Proc { base: number; npages: number; words: Map<number, number> }
interface Model { procs: Proc[] }
interface Real { mms: number[]; swapType: number }

const key = (p: number, w: number) => p * WORDS_PER_PAGE + w;

function clean(step: string): void {
  const v = check_invariants();
  if (v.length) throw new Error(`after ${step}: ${v.join('; ')}`);
}

class Store implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number, readonly w: number, readonly v: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    const proc = m.procs[this.i];
    const p = this.p % proc.npages;
    user_access(r.mms[this.i], proc.base + p * PAGE_SIZE, this.w, true, this.v);
    expect(mmu.status).toBe(ACCESS_OK);
    proc.words.set(key(p, this.w), this.v);
    clean(this.toString());
  }
  toString = () => `store(mm${this.i}, p${this.p}, w${this.w}, ${this.v})`;
}

class Load implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number, readonly w: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    const proc = m.procs[this.i];
    const p = this.p % proc.npages;
    const v = user_access(r.mms[this.i], proc.base + p * PAGE_SIZE, this.w, false, 0);
    expect(mmu.status).toBe(ACCESS_OK);
    expect(v).toBe(proc.words.get(key(p, this.w)) ?? 0); // an untouched word reads 0 (ZERO_PAGE or a fresh page)
    clean(this.toString());
  }
  toString = () => `load(mm${this.i}, p${this.p}, w${this.w})`;
}

class Fork implements fc.Command<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Model) => this.i < m.procs.length && m.procs.length < 5;
  run(m: Model, r: Real): void {
    const child = copy_mm(r.mms[this.i]);
    expect(child).toBeGreaterThan(0);
    r.mms.push(child);
    const p = m.procs[this.i];
    m.procs.push({ base: p.base, npages: p.npages, words: new Map(p.words) });
    clean(this.toString());
  }
  toString = () => `fork(mm${this.i})`;
}

class Exit implements fc.Command<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Model) => this.i > 0 && this.i < m.procs.length;
  run(m: Model, r: Real): void {
    mmput(r.mms[this.i]);
    r.mms.splice(this.i, 1);
    m.procs.splice(this.i, 1);
    clean(this.toString());
  }
  toString = () => `exit(mm${this.i})`;
}

/** the model's search base for a moving mremap (2.6.6's TASK_UNMAPPED_BASE, as the code documents it) */
const SEARCH_BASE = 0x10000;

/**
 * where mremap (not MREMAP_FIXED) must put the region, which is its mm's
 * only vma: in place when it shrinks or when nothing above it stops the
 * growth, else the lowest gap of the new length from SEARCH_BASE
 */
function expected_mremap_addr(proc: Proc, npages: number): number {
  const len = npages * PAGE_SIZE, end = proc.base + proc.npages * PAGE_SIZE;
  if (npages <= proc.npages || proc.base + len <= TASK_SIZE) return proc.base;
  const a = SEARCH_BASE + len <= proc.base ? SEARCH_BASE : Math.max(SEARCH_BASE, end);
  return a + len <= TASK_SIZE ? a : -12; // -ENOMEM
}

/** mremap the whole region: to a slot (MREMAP_FIXED), or to a new size that may move it (MREMAP_MAYMOVE) */
class Mremap implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly slot: number, readonly npages: number, readonly fixed: boolean) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    const proc = m.procs[this.i];
    const to = SLOTS[this.slot];
    const fixed = this.fixed && to !== proc.base && !(to < proc.base + proc.npages * PAGE_SIZE && proc.base < to + this.npages * PAGE_SIZE);
    const want = fixed ? to : expected_mremap_addr(proc, this.npages);
    const got = sys_mremap(r.mms[this.i], proc.base, proc.npages * PAGE_SIZE, this.npages * PAGE_SIZE, MREMAP_MAYMOVE | (fixed ? MREMAP_FIXED : 0), fixed ? to : 0);
    expect(got, this.toString()).toBe(want);
    expect(got + this.npages * PAGE_SIZE).toBeLessThanOrEqual(TASK_SIZE);
    // the words of the pages kept move with them; pages past the new end are gone, new ones read 0
    for (const k of [...proc.words.keys()]) if (k >= this.npages * WORDS_PER_PAGE) proc.words.delete(k);
    proc.base = got;
    proc.npages = this.npages;
    clean(this.toString());
  }
  toString = () => `mremap(mm${this.i}, -> ${this.fixed ? `fixed ${SLOTS[this.slot].toString(16)}` : 'anywhere'}, ${this.npages} pages)`;
}

class SwapOut implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    const proc = m.procs[this.i];
    const a = proc.base + (this.p % proc.npages) * PAGE_SIZE;
    for (let k = 0; k < 4; k++) {
      const table = pte_table(r.mms[this.i], a);
      const pte = table ? Atomics.load(i32, pte_offset(table, a)) : 0;
      let pfn = pte_present(pte) ? pte_pfn(pte) : 0;
      if (pfn === 0 && is_swap_pte(pte)) {
        pfn = lookup_swap_cache(pte_to_swp_entry(pte));
        if (pfn !== 0) put_page(pfn);
      }
      if (pfn === 0 || isolate_lru_page(pfn) !== 0) break;
      shrink_page_list(pfn);
      blk_drain();
    }
    clean(this.toString());
  }
  toString = () => `swapout(mm${this.i}, p${this.p})`;
}

class SwapoffSwapon implements fc.Command<Model, Real> {
  check = () => true;
  run(_m: Model, r: Real): void {
    expect(sys_swapoff(r.swapType)).toBe(0);
    r.swapType = sys_swapon(SWAP_SLOTS, 0);
    expect(r.swapType).toBeGreaterThanOrEqual(0);
    clean(this.toString());
  }
  toString = () => 'swapoff+swapon';
}

const proc = fc.nat(4);
const page = fc.nat(15);
const word = fc.nat(WORDS_PER_PAGE - 1);
const commands = [
  fc.tuple(proc, page, word, fc.integer({ min: 1 })).map(([i, p, w, v]) => new Store(i, p, w, v)),
  fc.tuple(proc, page, word).map(([i, p, w]) => new Load(i, p, w)),
  fc.tuple(proc, page, word).map(([i, p, w]) => new Load(i, p, w)),
  proc.map((i) => new Fork(i)),
  proc.map((i) => new Exit(i)),
  fc.tuple(proc, fc.nat(SLOTS.length - 1), fc.integer({ min: 1, max: 12 }), fc.boolean()).map(([i, s, n, f]) => new Mremap(i, s, n, f)),
  fc.tuple(proc, fc.nat(SLOTS.length - 1), fc.integer({ min: 1, max: 12 }), fc.boolean()).map(([i, s, n, f]) => new Mremap(i, s, n, f)),
  fc.tuple(proc, page).map(([i, p]) => new SwapOut(i, p)),
  fc.tuple(proc, page).map(([i, p]) => new SwapOut(i, p)), // twice: reclaim often enough that swap-in clashes and swapoff's early COW come up
  fc.constant(new SwapoffSwapon()),
];

let cows = 0, early = 0, swapouts = 0;
describe('E0 mremap against a reference model (single CPU, fork and swap)', () => {
  it('every mm reads what it stored wherever mremap put it, and the sweep (I-ANONMM included) is clean after every step', () => {
    fc.assert(fc.property(fc.commands(commands, { maxCommands: 120, size: 'max' }), (cmds) => {
      boot({ nr_pages: 1024, nr_mm: 16, nr_vma: 256 }, 0, E0);
      const free0 = nr_free_pages();
      const swapType = sys_swapon(SWAP_SLOTS, 0);
      const root = mm_alloc();
      expect(do_mmap_anon(root, SLOTS[1], NP * PAGE_SIZE, RW)).toBeGreaterThan(0);
      const real: Real = { mms: [root], swapType };
      const model: Model = { procs: [{ base: SLOTS[1], npages: NP, words: new Map() }] };
      fc.modelRun(() => ({ model, real }), cmds);
      for (let i = 0; i < real.mms.length; i++) { // every word, one last time
        const pr = model.procs[i];
        for (let p = 0; p < pr.npages; p++) for (let w = 0; w < WORDS_PER_PAGE; w++) {
          expect(user_access(real.mms[i], pr.base + p * PAGE_SIZE, w, false, 0)).toBe(pr.words.get(key(p, w)) ?? 0);
        }
      }
      for (const mm of real.mms) mmput(mm);
      cows += i32[cpustat_base(0) + CPUSTAT.mremap_cows];
      early += i32[cpustat_base(0) + CPUSTAT.early_cows];
      swapouts += i32[cpustat_base(0) + CPUSTAT.swapouts];
      expect(sys_swapoff(real.swapType)).toBe(0);
      expect(nr_free_pages()).toBe(free0); // every page and table came back (the ZERO_PAGE was set aside at boot)
      clean('teardown');
    }), { seed: 1, numRuns: 150 });
    // the runs really took the early-COW paths of seed 003
    const seen = `mremap cows ${cows}, early cows ${early}, swap-outs ${swapouts}`;
    expect(cows, seen).toBeGreaterThan(20);
    expect(early, seen).toBeGreaterThan(0);
    expect(swapouts, seen).toBeGreaterThan(50);
  });
});
