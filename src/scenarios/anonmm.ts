// Seed 003's scenarios (era E0, 2.6.6-mm): the anonmm rmap finds an anon
// page only at page->index, in every mm of its fork family, so mremap moving
// a page that another mm still maps (or will map again from swap) makes it
// unreachable: reclaim can never unmap it. Four switches, each with its
// scenario, and a family workload with none for the soak.
import { HPAGE_PAGES, MM, PAGE, PAGE_SIZE, PG_lru, PG_reserved, VMA, WORDS_PER_PAGE } from '../shm/layout.js';
import { i32, mm_base, page_base, phys_base, sizes, vma_base } from '../shm/machine.js';
import { E0 } from '../shm/era.js';
import { current, prandom_below } from '../cpu/current.js';
import { EV_DUP_MMAP, EV_MREMAP, EV_SHRINK, EV_USER } from '../cpu/events.js';
import { ACCESS_OK, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { controlled, cpu_relax } from '../sync/preempt.js';
import { lock_page, unlock_page } from '../sync/page_lock.js';
import { spin_trylock, spin_unlock } from '../sync/spinlock.js';
import { LC_PTL } from '../sync/lock_class.js';
import { OOPS_INVARIANT, OOPS_SHADOW, fail } from '../check/bug.js';
import { invariant_message } from '../check/rules.js';
import { Shadow, TAG_CHILD, TAG_SETUP, initial_value, tag_of } from '../check/shadow.js';
import { PROT_READ, PROT_WRITE, PageAnon, PageSwapCacheP, page_flags } from '../mm/mm_types.js';
import { do_mmap_anon, mm_alloc } from '../mm/mmap.js';
import { copy_mm, exit_mm, mmput } from '../mm/fork.js';
import { MREMAP_FIXED, MREMAP_MAYMOVE, sys_mremap } from '../mm/mremap.js';
import { alloc_page } from '../mm/page_alloc.js';
import { isolate_lru_page } from '../mm/swap.js';
import { add_to_swap } from '../mm/swap_state.js';
import { shrink_page_list } from '../mm/vmscan.js';
import { nr_swap_pages, sys_swapon, total_swap_pages } from '../mm/swapfile.js';
import { pte_offset, pte_table } from '../mm/pagewalk.js';
import { pte_pfn, pte_present } from '../mm/pgtable.js';
import { anonmm_unreachable, rmap_lock, rmap_unlock, try_to_unmap_one_anonmm } from '../mm/rmap_anonmm.js';
import { do_mmap_hugetlb, hugetlb_init } from '../mm/hugetlb.js';
import { cycle_roles, must, set_path } from './family.js';
import { swap_cycle } from './swap_stress.js';
import type { CpuContext, Scenario, SetupState } from './types.js';
import { WIN_ANONMM_MAPCOUNT_CHANGED, WIN_MREMAP_SHARED_ANON, WIN_SWAPIN_CLASH, WIN_UNUSE_CLASH, WIN_UNUSE_HUGETLB_VMA } from '../cpu/windows.js'; // cov

const PATCH = '003_f0940409cbfd1b0d';
/** the two places the parent's region alternates between */
const A = 0x20000, B = 0x60000;
const hex = (n: number) => '0x' + (n >>> 0).toString(16);
const SIZES = { nr_pages: 1024, nr_mm: 64, nr_vma: 256 };

// ---------------------------------------------------------------------------
// setup and the round protocol between CPUs

/**
 * the parent P: npages at A, every word written; a swap device; a page of
 * scratch words (PG_reserved: never mapped, never freed, skipped by the
 * sweep) through which the round-based scenarios hand each other the round
 */
function anonmm_setup(npages: number, slots: number, extra: SetupState = {}): SetupState {
  const scratch = alloc_page();
  i32[page_base(scratch) + PAGE.flags] |= PG_reserved;
  const parent = mm_alloc();
  if (do_mmap_anon(parent, A, npages * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0) throw new Error('setup: mmap failed');
  for (let p = 0; p < npages; p++) {
    for (let w = 0; w < WORDS_PER_PAGE; w++) {
      user_access(parent, A + p * PAGE_SIZE, w, true, initial_value(p, w));
      if (mmu.status !== ACCESS_OK) throw new Error('setup: initial store failed');
    }
  }
  if (sys_swapon(slots, 0) !== 0) throw new Error('setup: swapon failed');
  return { parent, npages, scratch, device_slots: slots, ...extra };
}

/** scratch words: the round the driver opened, the child mm of the round, the round its partner took and finished */
const W_GO = 0, W_CHILD = 1, W_DONE = 2, W_CLAIM = 3;
const word = (ctx: CpuContext, w: number) => phys_base(ctx.setup.scratch as number) + w;

/** wait until scratch word w reaches v; false if the run is stopping (the partner may be gone) */
function wait_word(ctx: CpuContext, w: number, v: number): boolean {
  const at = word(ctx, w);
  for (let i = 0; ; i++) {
    const cur = Atomics.load(i32, at);
    if (cur >= v) return true;
    if (ctx.should_stop()) return false;
    // spin a good while: a partner that parks wakes too late to meet the driver's next steps
    if (controlled || i < SPIN_WAIT) cpu_relax();
    else Atomics.wait(i32, at, cur, 1);
  }
}
const SPIN_WAIT = 200_000;

function post_word(ctx: CpuContext, w: number, v: number): void {
  Atomics.store(i32, word(ctx, w), v);
  Atomics.notify(i32, word(ctx, w));
}

/** the partner's side: wait for round to open and take it; false if the run stops first (the driver withdrew it) */
function take_round(ctx: CpuContext, round: number): boolean {
  if (!wait_word(ctx, W_GO, round)) return false;
  return Atomics.compareExchange(i32, word(ctx, W_CLAIM), round - 1, round) === round - 1;
}

/**
 * the driver's side: wait for the partner to finish round. When the run is
 * stopping, a round nobody took is withdrawn (false); one the partner took
 * is waited for to the end, so the driver never reaps a child in use
 */
function finish_round(ctx: CpuContext, round: number): boolean {
  const done = word(ctx, W_DONE);
  for (let i = 0; Atomics.load(i32, done) < round; i++) {
    if (ctx.should_stop() && Atomics.compareExchange(i32, word(ctx, W_CLAIM), round - 1, -1) === round - 1) return false;
    if (controlled || i < 200) cpu_relax();
    else Atomics.wait(i32, done, Atomics.load(i32, done), 1);
  }
  return true;
}

/** the start of mm's first vma (where its region is now) */
const region_of = (mm: number) => i32[vma_base(i32[mm_base(mm) + MM.mmap_first]) + VMA.vm_start];

/** the pfn mapped present at addr in mm, or 0 */
function present_pfn(mm: number, addr: number): number {
  const table = pte_table(mm, addr);
  if (table === 0) return 0;
  const pte = Atomics.load(i32, pte_offset(table, addr));
  return pte_present(pte) ? pte_pfn(pte) : 0;
}

/** reclaim one page (kswapd-like): a page of mm at addr, or one time in four any anon page on the LRU */
function reclaim_one(mm: number, base: number, npages: number): void {
  set_path(EV_SHRINK);
  const pfn = prandom_below(4) !== 0 ? present_pfn(mm, base + prandom_below(npages) * PAGE_SIZE) : 1 + prandom_below(sizes.nr_pages - 1);
  if (pfn === 0 || (page_flags(pfn) & PG_lru) === 0 || !PageAnon(pfn)) return;
  if (isolate_lru_page(pfn) !== 0) return;
  shrink_page_list(pfn);
}

/** swap out every present page of [base, base + npages) in mm, each as reclaim would (a few passes: the first ones clear the young bits) */
function swap_out_range(mm: number, base: number, npages: number): void {
  for (let pass = 0; pass < 3; pass++) {
    for (let p = 0; p < npages; p++) {
      const pfn = present_pfn(mm, base + p * PAGE_SIZE);
      if (pfn === 0 || !PageAnon(pfn) || isolate_lru_page(pfn) !== 0) continue;
      shrink_page_list(pfn);
    }
  }
}

/**
 * I-ANONMM for one mm, checked by the program that owns the round while no
 * other CPU touches the family: every present anon pte must be where the
 * anonmm walk looks
 */
function check_family_mm(mm: number, base: number, npages: number): void {
  for (let p = 0; p < npages; p++) {
    const addr = base + p * PAGE_SIZE;
    const pfn = present_pfn(mm, addr);
    if (pfn === 0 || !PageAnon(pfn)) continue;
    const why = anonmm_unreachable(pfn, mm, addr);
    if (why) fail(OOPS_INVARIANT, invariant_message('I-ANONMM', `the anonmm walk of pfn ${pfn} misses its pte at mm#${mm} ${hex(addr)}: ${why} (reclaim can never unmap it)`), pfn, mm, addr);
  }
}

/** a child reads what its parent had: the setup's values or the parent program's (tag = its cpu + 1) */
function check_inherited(ctx: CpuContext, mm: number, addr: number, w: number, v: number): void {
  const t = tag_of(v);
  if (t === TAG_SETUP || (t >= 1 && t <= ctx.nr_cpus)) return;
  fail(OOPS_SHADOW, `user data: ${t === TAG_CHILD ? 'COW leak: another child\'s store is visible in' : 'wrong data in'} child mm#${mm} at ${hex(addr)} word ${w}: read ${hex(v)}`, 0, mm, addr);
}

// ---------------------------------------------------------------------------
// the parent's program: mremap its region A <-> B and check its words there

class Mover {
  readonly shadow: Shadow;
  constructor(readonly ctx: CpuContext, readonly mm: number, readonly npages: number) {
    this.shadow = new Shadow(mm, A, npages, ctx.cpu + 1, 'parent');
  }

  /** mremap the whole region to the other place (MREMAP_FIXED), then (stores > 0) store and check there */
  move(stores = 4): void {
    set_path(EV_MREMAP);
    const from = this.shadow.base, to = from === A ? B : A;
    const r = sys_mremap(this.mm, from, this.npages * PAGE_SIZE, this.npages * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    if (r !== to) fail(OOPS_SHADOW, `user program: mremap ${hex(from)} -> ${hex(to)} returned ${r}`);
    this.shadow.rebase(to);
    if (stores > 0) this.touch(stores);
  }

  touch(rounds: number): void {
    set_path(EV_USER);
    switch_mm(this.mm);
    for (let k = 0; k < rounds; k++) {
      must(this.shadow.store(prandom_below(this.npages), prandom_below(WORDS_PER_PAGE)), 'parent store');
      must(this.shadow.check(prandom_below(this.npages), prandom_below(WORDS_PER_PAGE)), 'parent load');
    }
    switch_mm(0);
  }
}

/**
 * a forked child of the parent: reads every page (what the parent had),
 * stores to some of its own, mremaps its region once when asked, and checks
 * that what it read never changes under it; then exits
 */
const seen = new Int32Array(64 * WORDS_PER_PAGE);
function child_life(ctx: CpuContext, parent: number, npages: number, move: boolean): void {
  set_path(EV_DUP_MMAP);
  const mm = copy_mm(parent);
  if (mm < 0) return;
  switch_mm(mm);
  let base = region_of(mm);
  for (let p = 0; p < npages; p++) {
    const w = p % WORDS_PER_PAGE;
    const v = user_access(mm, base + p * PAGE_SIZE, w, false, 0);
    must(mmu.status === ACCESS_OK, 'child read');
    check_inherited(ctx, mm, base + p * PAGE_SIZE, w, v);
    seen[p] = v;
  }
  if (move) {
    const to = base === A ? B : A;
    if (sys_mremap(mm, base, npages * PAGE_SIZE, npages * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to) !== to) fail(OOPS_SHADOW, 'user program: child mremap failed');
    base = to;
  }
  for (let p = 0; p < npages; p += 3) {
    const w = (p + 1) % WORDS_PER_PAGE;
    const v = (TAG_CHILD << 24) | ((current.cpu & 0xff) << 16) | p;
    user_access(mm, base + p * PAGE_SIZE, w, true, v);
    must(mmu.status === ACCESS_OK, 'child store');
    if (user_access(mm, base + p * PAGE_SIZE, w, false, 0) !== v) fail(OOPS_SHADOW, `user data: lost write in child mm#${mm} at ${hex(base + p * PAGE_SIZE)}`, 0, mm, base);
  }
  for (let p = 0; p < npages; p++) {
    const w = p % WORDS_PER_PAGE;
    if (p % 3 === 0 && w === (p + 1) % WORDS_PER_PAGE) continue;
    const v = user_access(mm, base + p * PAGE_SIZE, w, false, 0);
    must(mmu.status === ACCESS_OK, 'child read');
    if (v !== seen[p]) fail(OOPS_SHADOW, `user data: COW leak: the parent's store is visible in child mm#${mm} at ${hex(base + p * PAGE_SIZE)} word ${w}: read ${hex(seen[p])}, then ${hex(v)}`, 0, mm, base + p * PAGE_SIZE);
  }
  switch_mm(0);
  exit_mm(mm);
}

// ---------------------------------------------------------------------------
// 4.11 mremap-shared-anon (mremap-anonmm-no-cow)

const sharedRoles = cycle_roles(['mremapper', 'child', 'reclaimer'], ['reclaimer', 'child']);

export const mremapSharedAnon: Scenario = {
  name: 'mremap-shared-anon',
  title: 'mremap moves a page a forked child still maps: page->index keeps the old address and rmap cannot find the moved pte',
  patch: PATCH,
  switches: ['mremap-anonmm-no-cow'],
  windows: [WIN_MREMAP_SHARED_ANON], // cov: src/cpu/windows.ts
  eras: [E0],
  description: 'the parent mremaps its region A <-> B while children forked from it read their copies and reclaim swaps the family out; the fixed move copies a shared page first (make_page_exclusive, "mremap moved N cows"). Secondary symptom of the buggy move: reclaim\'s walk misses the moved pte, and page_referenced_anon warns (Badness ... mm/rmap.c:264, counted in rmap_warns; not a failure)',
  expect_buggy: 'mmrace: invariant C-ANONMM: the moved pte is unreachable by rmap (page->index still names the old address); secondary, if reclaim walks the page first: "Badness in page_referenced_anon at mm/rmap.c:264" (a warning: EV_RMAP_WARN, CPUSTAT rmap_warns)',
  signature: /invariant (C|I)-ANONMM: .*unreachable|misses its pte/,
  deterministic: 'the first move of a shared page',
  sizes: SIZES,
  roles: sharedRoles,
  setup: () => {
    const s = anonmm_setup(16, 64);
    const child = copy_mm(s.parent as number); // a long-lived child: the first move meets shared pages
    return { ...s, child };
  },
  run: (ctx) => {
    const npages = ctx.setup.npages as number, parent = ctx.setup.parent as number;
    const mover = ctx.role === 'mremapper' || ctx.role === 'solo' ? new Mover(ctx, parent, npages) : null;
    while (!ctx.should_stop()) {
      if (ctx.role === 'solo') { const r = prandom_below(4); if (r === 0) mover!.move(); else if (r === 1) child_life(ctx, parent, npages, false); else reclaim_one(parent, region_of(parent), npages); }
      else if (mover) mover.move();
      else if (ctx.role === 'child') child_life(ctx, parent, npages, false);
      else reclaim_one(parent, region_of(parent), npages);
      ctx.op_done();
    }
  },
};

// ---------------------------------------------------------------------------
// 4.12 mremap-swapin-clash (swapin-no-early-cow)

const clashRoles = cycle_roles(['parent', 'child', 'reclaimer', 'admin'], ['reclaimer']);

/**
 * the parent's side of a round: fork C, swap the whole shared range out,
 * let C go (it mremaps its range A -> B and touches every page there) while
 * the parent touches every page at A; whoever maps a page second finds the
 * address clash. Then C exits.
 */
function clash_round(ctx: CpuContext, mover: Mover, round: number): void {
  const parent = mover.mm, npages = mover.npages;
  set_path(EV_DUP_MMAP);
  const child = copy_mm(parent);
  if (child < 0) return;
  swap_out_range(parent, A, npages);
  post_word(ctx, W_CHILD, child);
  post_word(ctx, W_GO, round);
  mover.touch(npages);
  finish_round(ctx, round);
  exit_mm(child);
}

/** the child's side: mremap its range to B, read every page there (each a swap-in that may clash) */
function clash_child(ctx: CpuContext, round: number, npages: number): boolean {
  if (!take_round(ctx, round)) return false;
  const child = Atomics.load(i32, word(ctx, W_CHILD));
  set_path(EV_MREMAP);
  switch_mm(child);
  if (sys_mremap(child, A, npages * PAGE_SIZE, npages * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, B) !== B) fail(OOPS_SHADOW, 'user program: child mremap failed');
  set_path(EV_USER);
  for (let p = 0; p < npages; p++) {
    const w = p % WORDS_PER_PAGE;
    const v = user_access(child, B + p * PAGE_SIZE, w, false, 0);
    must(mmu.status === ACCESS_OK, 'child read');
    check_inherited(ctx, child, B + p * PAGE_SIZE, w, v);
  }
  switch_mm(0);
  post_word(ctx, W_DONE, round);
  return true;
}

export const mremapSwapinClash: Scenario = {
  name: 'mremap-swapin-clash',
  title: 'a child mremaps a swapped-out shared range; swap-in maps the page at an address that clashes with page->index',
  patch: PATCH,
  switches: ['swapin-no-early-cow'],
  windows: [WIN_SWAPIN_CLASH], // cov: src/cpu/windows.ts
  also_fixed: ['swapin-swapoff-race'], // the admin's swapoff/swapon cycling meets it under a fault
  eras: [E0],
  description: 'each round the parent forks a child and swaps the shared range out; the child mremaps it A -> B and touches it at B while the parent touches it at A (an admin CPU cycles swapoff/swapon, whose unuse_process meets the same clash); the fixed swap-in copies a clashing page at once (do_swap_page / unuse_process early COW)',
  expect_buggy: 'mmrace: invariant C-ANONMM: a swapped-in pte is unreachable by rmap (page->index is the other mm\'s address)',
  signature: /invariant (C|I)-ANONMM: .*unreachable|misses its pte/,
  deterministic: 'the first swap-in of a page the other mm mapped first',
  sizes: SIZES,
  roles: clashRoles,
  setup: () => anonmm_setup(8, 64),
  run: (ctx) => {
    const npages = ctx.setup.npages as number, parent = ctx.setup.parent as number;
    const mover = ctx.role === 'parent' || ctx.role === 'solo' ? new Mover(ctx, parent, npages) : null;
    const solo = ctx.nr_cpus === 1;
    for (let round = 1; !ctx.should_stop(); round++) {
      if (solo) { // one CPU: the child's side runs after the parent's (no race, the clash all the same)
        const child = copy_mm(parent);
        if (child < 0) break;
        swap_out_range(parent, A, npages);
        post_word(ctx, W_CHILD, child); post_word(ctx, W_GO, round);
        clash_child(ctx, round, npages);
        mover!.touch(npages);
        exit_mm(child);
      } else if (mover) clash_round(ctx, mover, round);
      else if (ctx.role === 'child') { if (!clash_child(ctx, round, npages)) break; }
      else if (ctx.role === 'admin') swap_cycle(ctx.setup.device_slots as number, ctx);
      else reclaim_one(parent, A, npages);
      ctx.op_done();
    }
  },
};

// ---------------------------------------------------------------------------
// 4.13 mremap-mapcount-race (anonmm-mapcount-single-check)

/**
 * the state of kernel-notes 4.13, built directly each round (the reclaim
 * path that leaves it, a failed trylock of P's page_table_lock while C's pte
 * is unmapped, is too rare to wait for): every page of P's region in the swap
 * cache, present in P, and a swap pte for it in the child. Uses the kernel's
 * own steps: add_to_swap under the page lock, then try_to_unmap_one for the
 * child's pte alone, under PG_maplock and the child's page_table_lock.
 */
function build_state(parent: number, child: number, npages: number): void {
  for (let p = 0; p < npages; p++) {
    const addr = A + p * PAGE_SIZE;
    const pfn = present_pfn(parent, addr);
    if (pfn === 0 || !PageAnon(pfn) || present_pfn(child, addr) !== pfn) continue;
    lock_page(pfn);
    if (PageSwapCacheP(pfn) || add_to_swap(pfn)) {
      rmap_lock(pfn);
      const ptl = mm_base(child) + MM.page_table_lock;
      if (spin_trylock(ptl, LC_PTL)) { // reclaim's order: PG_maplock, then only a trylock of page_table_lock
        try_to_unmap_one_anonmm(pfn, child, addr);
        spin_unlock(ptl);
      }
      rmap_unlock(pfn);
    }
    unlock_page(pfn);
  }
}

export const mremapMapcountRace: Scenario = {
  name: 'mremap-mapcount-race',
  title: 'mremap trusts an unlocked mapcount == 1 while the child swaps the page back in at the old address',
  patch: PATCH,
  switches: ['anonmm-mapcount-single-check'],
  windows: [WIN_ANONMM_MAPCOUNT_CHANGED], // cov: src/cpu/windows.ts
  eras: [E0],
  description: 'each round: the parent forks a child, its pages go to the swap cache and the child keeps swap ptes for them; then the parent mremaps A -> B while the child touches A. The buggy mremap_move_anon_rmap writes page->index after one unlocked mapcount test; the fixed one re-tests under rmap_lock and copies the page instead',
  expect_buggy: 'mmrace: invariant I-ANONMM: the child\'s pte at A is unreachable (page->index was moved to B under it)',
  signature: /invariant (C|I)-ANONMM: .*(unreachable|misses its pte)/,
  sizes: SIZES,
  roles: cycle_roles(['mremapper', 'child'], ['noise']),
  setup: () => anonmm_setup(8, 64),
  run: (ctx) => {
    const npages = ctx.setup.npages as number, parent = ctx.setup.parent as number;
    const mover = ctx.role === 'mremapper' || ctx.role === 'solo' ? new Mover(ctx, parent, npages) : null;
    if (ctx.role === 'noise') { noise(ctx); return; }
    for (let round = 1; !ctx.should_stop(); round++) {
      if (mover) {
        set_path(EV_DUP_MMAP);
        const child = copy_mm(parent);
        if (child < 0) break;
        build_state(parent, child, npages);
        post_word(ctx, W_CHILD, child);
        post_word(ctx, W_GO, round);
        if (ctx.role === 'solo') mapcount_child(ctx, round, npages);
        // A -> B, no store: recipe 6.13's mremapper only moves (a store would COW the page away from the
        // child while its swap-in's early COW is under way: the residual race of the README's seed 003 section)
        mover.move(0);
        const done = finish_round(ctx, round);
        if (done) { // the family is quiet: both programs are done with the round
          check_family_mm(child, A, npages);
          check_family_mm(parent, B, npages);
        }
        exit_mm(child);
        if (done) mover.move(0); // B -> A, for the next round
        else break;
      } else if (!mapcount_child(ctx, round, npages)) break;
      ctx.op_done();
    }
  },
};

/** the child's side: touch every page at A as soon as the round opens (each a swap-in from the swap cache) */
function mapcount_child(ctx: CpuContext, round: number, npages: number): boolean {
  if (!take_round(ctx, round)) return false;
  const child = Atomics.load(i32, word(ctx, W_CHILD));
  set_path(EV_USER);
  switch_mm(child);
  // last page first: the parent moves the first page first, so the two meet at some page in the middle
  for (let p = npages - 1; p >= 0; p--) {
    const v = user_access(child, A + p * PAGE_SIZE, p % WORDS_PER_PAGE, false, 0);
    must(mmu.status === ACCESS_OK, 'child read');
    check_inherited(ctx, child, A + p * PAGE_SIZE, p % WORDS_PER_PAGE, v);
  }
  switch_mm(0);
  post_word(ctx, W_DONE, round);
  return true;
}

/** extra CPUs: a program of its own, faulting and storing (load on the allocator, the LRU and the CPUs) */
function noise(ctx: CpuContext): void {
  const mm = mm_alloc();
  if (mm === 0 || do_mmap_anon(mm, A, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE) < 0) return;
  const sh = new Shadow(mm, A, 4, ctx.cpu + 1, 'noise');
  for (let p = 0; p < 4; p++) for (let w = 0; w < WORDS_PER_PAGE; w++) user_access(mm, A + p * PAGE_SIZE, w, true, initial_value(p, w));
  while (!ctx.should_stop()) {
    set_path(EV_USER);
    must(sh.store(prandom_below(4), prandom_below(WORDS_PER_PAGE)), 'store');
    must(sh.check(prandom_below(4), prandom_below(WORDS_PER_PAGE)), 'load');
    ctx.op_done();
  }
  mmput(mm);
}

// ---------------------------------------------------------------------------
// 4.14 swapoff-hugetlb (unuse-process-hugetlb)

/** the hugetlb vma sits below the anon region, so unuse_process's walk meets it first */
const HUGE_BASE = 0;

export const swapoffHugetlb: Scenario = {
  name: 'swapoff-hugetlb',
  title: 'swapoff walks a hugetlb vma as if it had pte tables: "bad pmd", and the huge mapping is cleared',
  patch: PATCH,
  switches: ['unuse-process-hugetlb'],
  windows: [WIN_UNUSE_HUGETLB_VMA], // cov: src/cpu/windows.ts
  also_fixed: ['swapin-swapoff-race'], // the admin's swapoff/swapon cycling meets it under a fault
  eras: [E0],
  description: 'a process with a hugetlb vma and swapped-out anon pages; an admin cycles swapoff/swapon. The buggy unuse_process takes the huge pgd entry for a page table (pmd_bad: "bad pmd", pmd_clear); the fixed one skips is_vm_hugetlb_page vmas',
  expect_buggy: 'mm/swapfile.c:480: bad pmd xxxxx0e7. (pfn << 12 | _PAGE_PSE | 0x67; an error printk, which ends the run; the cleared entry would leave the hugetlb user a SIGBUS and its run leaked, I-HUGE)',
  signature: /bad pmd/,
  deterministic: 'the first swapoff that visits the process',
  sizes: SIZES,
  roles: cycle_roles(['hugetlb-user', 'admin'], ['reclaimer']),
  setup: () => {
    hugetlb_init(1); // first: the pool's run must be contiguous
    const s = anonmm_setup(16, 32);
    const h = s.parent as number;
    if (do_mmap_hugetlb(h, HUGE_BASE) < 0) throw new Error('setup: hugetlb mmap failed');
    for (let p = 0; p < HPAGE_PAGES; p++) for (let w = 0; w < WORDS_PER_PAGE; w++) user_access(h, HUGE_BASE + p * PAGE_SIZE, w, true, initial_value(p, w));
    return s;
  },
  run: (ctx) => {
    const npages = ctx.setup.npages as number, h = ctx.setup.parent as number;
    const huge = ctx.role === 'hugetlb-user' || ctx.role === 'solo' ? new Shadow(h, HUGE_BASE, HPAGE_PAGES, ctx.cpu + 1, 'hugetlb') : null;
    const anon = huge ? new Shadow(h, A, npages, ctx.cpu + 1, 'parent') : null;
    while (!ctx.should_stop()) {
      if (huge && (ctx.role === 'hugetlb-user' || prandom_below(2) === 0)) {
        set_path(EV_USER);
        switch_mm(h);
        for (let k = 0; k < 4; k++) {
          must(huge.store(prandom_below(HPAGE_PAGES), prandom_below(WORDS_PER_PAGE)), 'hugetlb store');
          must(huge.check(prandom_below(HPAGE_PAGES), prandom_below(WORDS_PER_PAGE)), 'hugetlb load');
          must(anon!.check(prandom_below(npages), prandom_below(WORDS_PER_PAGE)), 'parent load');
        }
        switch_mm(0);
      } else if (ctx.role === 'reclaimer') reclaim_one(h, A, npages);
      else { // the admin: page half of the anon region out, then, once something is in swap, swapoff and swapon
        for (let k = 0; k < npages / 2; k++) reclaim_one(h, A, npages);
        if (nr_swap_pages() < total_swap_pages()) swap_cycle(ctx.setup.device_slots as number);
      }
      ctx.op_done();
    }
  },
};

// ---------------------------------------------------------------------------
// the whole of E0 under load, no switch: the fixed protocol must hold

const stressRoles = cycle_roles(['mremapper', 'forker', 'reclaimer', 'swapper'], ['reclaimer', 'forker']);

export const e0FamilyStress: Scenario = {
  name: 'e0-family-stress',
  title: 'E0 under load: fork, mremap of shared and swapped pages, reclaim, swap-in and swapoff together (no switch: the fixed kernel must hold)',
  patch: PATCH,
  switches: [],
  windows: [WIN_MREMAP_SHARED_ANON, WIN_SWAPIN_CLASH, WIN_UNUSE_CLASH], // cov: src/cpu/windows.ts
  also_fixed: ['swapin-swapoff-race'], // the admin's swapoff/swapon cycling meets it under a fault
  eras: [E0],
  description: 'the parent mremaps its region A <-> B and checks its data; children fork, read, mremap their own copy, store and check; reclaim swaps the family out and an admin cycles swapoff/swapon; every early COW path of seed 003 runs',
  expect_buggy: '(no switch) run it with --protocol fixed --expect clean',
  sizes: SIZES,
  roles: stressRoles,
  setup: () => anonmm_setup(16, 64),
  run: (ctx) => {
    const npages = ctx.setup.npages as number, parent = ctx.setup.parent as number;
    const mover = ctx.role === 'mremapper' || ctx.role === 'solo' ? new Mover(ctx, parent, npages) : null;
    while (!ctx.should_stop()) {
      const r = ctx.role === 'solo' ? prandom_below(16) : -1;
      if (ctx.role === 'mremapper' || (r >= 0 && r < 4)) { mover!.move(); mover!.touch(4); }
      else if (ctx.role === 'forker' || (r >= 4 && r < 7)) child_life(ctx, parent, npages, prandom_below(2) === 0);
      else if (ctx.role === 'swapper' || r === 7) swap_cycle(ctx.setup.device_slots as number, ctx.role === 'solo' ? undefined : ctx);
      else reclaim_one(parent, region_of(parent), npages);
      ctx.op_done();
    }
  },
};

/** seed 003's scenarios, in the order of kernel-notes 4.11-4.14, then the soak workload */
export const ANONMM_SCENARIOS: readonly Scenario[] = [mremapSharedAnon, mremapSwapinClash, mremapMapcountRace, swapoffHugetlb, e0FamilyStress];
