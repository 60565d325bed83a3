// Model-based test: random sequences of user accesses, fork, exit, mprotect
// and migration, run single-threaded against a plain reference model of what
// each process must see. After every step the invariant sweep must be clean.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { boot } from './helpers.js';
import { ACCESS_OK, ACCESS_SEGV, mmu, user_access } from '../src/cpu/mmu.js';
import { do_mmap_anon, mm_alloc } from '../src/mm/mmap.js';
import { copy_mm, mmput } from '../src/mm/fork.js';
import { sys_mprotect } from '../src/mm/mprotect.js';
import { migrate_pages } from '../src/mm/migrate.js';
import { isolate_lru_page, lru_add_drain, put_page } from '../src/mm/swap.js';
import { lookup_swap_cache } from '../src/mm/swap_state.js';
import { pte_to_swp_entry } from '../src/mm/swapops.js';
import { blk_drain } from '../src/cpu/io.js';
import { down_read, up_read } from '../src/sync/rwsem.js';
import { LC_MMAP_SEM } from '../src/sync/lock_class.js';
import { PROT_NONE, PROT_READ, PROT_WRITE, mm_mmap_sem, page_count } from '../src/mm/mm_types.js';
import { pte_offset, pte_table } from '../src/mm/pagewalk.js';
import { is_swap_pte, pte_pfn, pte_present } from '../src/mm/pgtable.js';
import { cpustat_base, i32 } from '../src/shm/machine.js';
import { CPUSTAT, SWAP_SLOTS, WORDS_PER_PAGE } from '../src/shm/layout.js';
import { sys_swapoff, sys_swapon } from '../src/mm/swapfile.js';
import { shrink_page_list } from '../src/mm/vmscan.js';
import { check_invariants } from '../src/check/invariants.js';
import { nr_free_pages } from '../src/mm/page_alloc.js';

const BASE = 0x20000;
const NP = 20;
const RW = PROT_READ | PROT_WRITE;

interface Proc { words: Int32Array; prot: number[] }
interface Model { procs: Proc[] }
interface Real { mms: number[]; swapType: number }

const addr = (p: number) => BASE + p * 4096;
const canRead = (prot: number) => (prot & PROT_READ) !== 0;
const canWrite = (prot: number) => (prot & PROT_WRITE) !== 0;

function clean(step: string): void {
  const v = check_invariants();
  if (v.length) throw new Error(`after ${step}: ${v.join('; ')}`);
}

class Store implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number, readonly w: number, readonly v: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    const proc = m.procs[this.i];
    user_access(r.mms[this.i], addr(this.p), this.w, true, this.v);
    if (canWrite(proc.prot[this.p])) {
      expect(mmu.status).toBe(ACCESS_OK);
      proc.words[this.p * WORDS_PER_PAGE + this.w] = this.v;
    } else expect(mmu.status).toBe(ACCESS_SEGV);
    clean(this.toString());
  }
  toString = () => `store(mm${this.i}, p${this.p}, w${this.w}, ${this.v})`;
}

class Load implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number, readonly w: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    const proc = m.procs[this.i];
    const v = user_access(r.mms[this.i], addr(this.p), this.w, false, 0);
    if (canRead(proc.prot[this.p])) {
      expect(mmu.status).toBe(ACCESS_OK);
      expect(v).toBe(proc.words[this.p * WORDS_PER_PAGE + this.w]);
    } else expect(mmu.status).toBe(ACCESS_SEGV);
    clean(this.toString());
  }
  toString = () => `load(mm${this.i}, p${this.p}, w${this.w})`;
}

class Fork implements fc.Command<Model, Real> {
  constructor(readonly i: number) {}
  check = (m: Model) => this.i < m.procs.length && m.procs.length < 6;
  run(m: Model, r: Real): void {
    const child = copy_mm(r.mms[this.i]);
    expect(child).toBeGreaterThan(0);
    r.mms.push(child);
    const p = m.procs[this.i];
    m.procs.push({ words: p.words.slice(), prot: p.prot.slice() });
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

class Mprotect implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number, readonly n: number, readonly prot: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    const n = Math.min(this.n, NP - this.p);
    expect(sys_mprotect(r.mms[this.i], addr(this.p), n * 4096, this.prot)).toBe(0);
    for (let k = 0; k < n; k++) m.procs[this.i].prot[this.p + k] = this.prot;
    clean(this.toString());
  }
  toString = () => `mprotect(mm${this.i}, p${this.p}, ${this.n}, ${this.prot})`;
}

class Migrate implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(_m: Model, r: Real): void {
    const table = pte_table(r.mms[this.i], addr(this.p));
    const pte = table ? Atomics.load(i32, pte_offset(table, addr(this.p))) : 0;
    if (pte_present(pte)) {
      const pfn = pte_pfn(pte);
      lru_add_drain(); // sys_move_pages' migrate_prep (E2: a new page waits in this CPU's pagevec)
      expect(isolate_lru_page(pfn)).toBe(0);
      down_read(mm_mmap_sem(r.mms[this.i]), LC_MMAP_SEM); // sys_move_pages holds it
      expect(migrate_pages(Int32Array.of(pfn), 1)).toBe(0); // single-threaded: nothing can make it fail
      up_read(mm_mmap_sem(r.mms[this.i]));
      lru_add_drain(); // E2: move_to_lru left the old page's last reference in the pagevec
      expect(page_count(pfn)).toBe(0); // the old page went back to the allocator
    }
    clean(this.toString());
  }
  toString = () => `migrate(mm${this.i}, p${this.p})`;
}

class SwapOut implements fc.Command<Model, Real> {
  constructor(readonly i: number, readonly p: number) {}
  check = (m: Model) => this.i < m.procs.length;
  run(m: Model, r: Real): void {
    // a few passes: a pass that finds young ptes only clears them (second chance); one that starts the
    // write keeps the page in the swap cache until the I/O completes (this single-CPU test completes it
    // between passes, as another CPU would), and the next pass frees it
    for (let k = 0; k < 4; k++) {
      const table = pte_table(r.mms[this.i], addr(this.p));
      const pte = table ? Atomics.load(i32, pte_offset(table, addr(this.p))) : 0;
      let pfn = pte_present(pte) ? pte_pfn(pte) : 0;
      if (pfn === 0 && is_swap_pte(pte)) {
        pfn = lookup_swap_cache(pte_to_swp_entry(pte));
        if (pfn !== 0) put_page(pfn); // the swap cache still holds it
      }
      lru_add_drain(); // each pass is a shrink_inactive_list's, whose first step this is (E2)
      if (pfn === 0 || isolate_lru_page(pfn) !== 0) break;
      shrink_page_list(pfn);
      blk_drain();
    }
    clean(this.toString());
    new Load(this.i, this.p, this.p % WORDS_PER_PAGE).run(m, r); // and read it back (a swap-in if it went out)
  }
  toString = () => `swapout+load(mm${this.i}, p${this.p})`;
}

class SwapoffSwapon implements fc.Command<Model, Real> {
  check = () => true;
  run(_m: Model, r: Real): void {
    expect(sys_swapoff(r.swapType)).toBe(0); // brings every swapped page back in
    r.swapType = sys_swapon(SWAP_SLOTS, 0);
    expect(r.swapType).toBeGreaterThanOrEqual(0);
    clean(this.toString());
  }
  toString = () => 'swapoff+swapon';
}

const proc = fc.nat(5);
const page = fc.nat(NP - 1);
const word = fc.nat(WORDS_PER_PAGE - 1);
const commands = [
  fc.tuple(proc, page, word, fc.integer()).map(([i, p, w, v]) => new Store(i, p, w, v)),
  fc.tuple(proc, page, word).map(([i, p, w]) => new Load(i, p, w)),
  fc.tuple(proc, page, word).map(([i, p, w]) => new Load(i, p, w)),
  proc.map((i) => new Fork(i)),
  proc.map((i) => new Exit(i)),
  fc.tuple(proc, page, fc.integer({ min: 1, max: 6 }), fc.constantFrom(PROT_NONE, PROT_READ, RW)).map(([i, p, n, pr]) => new Mprotect(i, p, n, pr)),
  fc.tuple(proc, page).map(([i, p]) => new Migrate(i, p)),
  fc.tuple(proc, page).map(([i, p]) => new SwapOut(i, p)),
  fc.tuple(proc, page).map(([i, p]) => new SwapOut(i, p)), // twice as likely: swap is what most paths meet
  fc.constant(new SwapoffSwapon()),
];


let swapped = 0, swappedIn = 0;
describe("kernel paths against a reference model (single CPU, with swap)", () => {
  it('user-visible data, permissions and invariants agree after every step, swap included', () => {
    fc.assert(fc.property(fc.commands(commands, { maxCommands: 150, size: 'max' }), (cmds) => {
      boot({ nr_pages: 1024, nr_mm: 16, nr_vma: 256 });
      const free0 = nr_free_pages();
      const swapType = sys_swapon(SWAP_SLOTS, 0);
      expect(swapType).toBe(0);
      const root = mm_alloc();
      expect(do_mmap_anon(root, BASE, NP * 4096, RW)).toBeGreaterThan(0);
      const real: Real = { mms: [root], swapType };
      const model: Model = { procs: [{ words: new Int32Array(NP * WORDS_PER_PAGE), prot: new Array(NP).fill(RW) }] };
      fc.modelRun(() => ({ model, real }), cmds);

      for (const mm of real.mms) mmput(mm);
      swapped += i32[cpustat_base(0) + CPUSTAT.swapouts];
      swappedIn += i32[cpustat_base(0) + CPUSTAT.swapins];
      expect(sys_swapoff(real.swapType)).toBe(0);
      expect(nr_free_pages()).toBe(free0); // every page and table came back
      clean('teardown');
    }), { seed: 4242, numRuns: 150 });
    // the runs really went through swap-out and swap-in
    expect(swapped).toBeGreaterThan(100);
    expect(swappedIn).toBeGreaterThan(50);
  });
});
