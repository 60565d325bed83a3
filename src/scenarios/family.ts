// The workload most scenarios share: a parent process with an anonymous
// region (and optionally long-lived forked siblings), and CPUs that run its
// program, fork and run children, migrate its pages, or reclaim them to swap.
// Each user program checks its own data (the user-data shadow).
import { MM, PAGE_SIZE, PERCPU, PG_lru, USER_PAGES, VMA, WORDS_PER_PAGE } from '../shm/layout.js';
import { i32, mm_base, sizes, vma_base } from '../shm/machine.js';
import { E3, ERA } from '../shm/era.js';
import { current, prandom_below } from '../cpu/current.js';
import {
  EV_DUP_MMAP, EV_MIGRATE, EV_SHRINK, EV_USER, SP_DUP_MMAP, SP_EXIT_MMAP, SP_MIGRATE, SP_SHRINK, path_id, span_begin, span_end, trace_path, tracing,
} from '../cpu/events.js';
import { ACCESS_OK, ACCESS_OOM, ACCESS_SEGV, mmu, switch_mm, user_access } from '../cpu/mmu.js';
import { cond_resched } from '../sync/preempt.js';
import { OOPS_INTERNAL, OOPS_SHADOW, fail } from '../check/bug.js';
import { Shadow, TAG_CHILD, TAG_SETUP, initial_value, tag_of } from '../check/shadow.js';
import { PROT_READ, PROT_WRITE, PageAnon, VM_WRITE, page_anon_vma, page_flags } from '../mm/mm_types.js';
import { MAP_SHARED, do_mmap_anon, do_mmap_pgoff, mm_alloc } from '../mm/mmap.js';
import { FIRST_FILE, file_write } from '../mm/filemap.js';
import { fault_oom } from '../mm/memory.js';
import { show_mem } from '../mm/show_mem.js';
import { copy_mm, exit_mm, get_task_mm, mmput } from '../mm/fork.js';
import { MPOL_MF_MOVE_ALL, do_migrate_pages } from '../mm/mempolicy.js';
import { do_move_pages, migrate_pages } from '../mm/migrate.js';
import { isolate_lru_page, lru_add_drain, putback_lru_page } from '../mm/swap.js';
import { anon_vma_pin, anon_vma_unpin } from '../mm/rmap.js';
import { shrink_page_list } from '../mm/vmscan.js';
import { pte_offset, pte_table } from '../mm/pagewalk.js';
import { pte_pfn, pte_present } from '../mm/pgtable.js';
import type { CpuContext, SetupState } from './types.js';

export const BASE = 0x20000;

/** the CPU now runs kernel path `code`: for reports, latency (an operation is named by its first path) and the trace */
export function set_path(code: number): void {
  const pc = current.pcpu, path = path_id(code); // throws for a code that is no path id: nothing folds
  if (tracing) trace_path(path);
  i32[pc + PERCPU.path] = path;
  if (i32[pc + PERCPU.op_path] === 0) i32[pc + PERCPU.op_path] = path;
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/**
 * a system call the user program made failed with `ret` (a negative errno):
 * its program had no way to go on, so the run stops with what it returned
 */
export function must_syscall(ret: number, want: number, what: string): void {
  if (ret === want) return;
  // -ENOMEM: the kernel's memory summary, and where the fault gave up, so the report tells real exhaustion from a fault that backed out
  const mem = ret === ENOMEM ? `\n${show_mem(fault_oom.at)}` : '';
  fail(OOPS_SHADOW, `user program: ${what} returned ${errno_name(ret)} (wanted ${want})${mem}`);
}

const ENOMEM = -12;

const ERRNO_NAMES: Record<number, string> = { [-11]: '-EAGAIN', [-12]: '-ENOMEM', [-14]: '-EFAULT', [-16]: '-EBUSY' };
function errno_name(ret: number): string {
  return ERRNO_NAMES[ret] ?? String(ret);
}

/** a user access that must work: anything else is a user-visible failure */
export function must(ok: boolean, what: string): void {
  if (ok) return;
  const oom = mmu.status === ACCESS_OOM; // the fault returned VM_FAULT_OOM: show_mem, as the OOM killer printed it
  fail(OOPS_SHADOW, `user program: unexpected ${mmu.status === ACCESS_SEGV ? 'SIGSEGV' : oom ? 'OOM kill' : 'SIGBUS'} in ${what}${oom ? `\n${show_mem(fault_oom.at)}` : ''}`);
}

/**
 * the parent, its region written with known values, and `siblings` forked
 * copies kept alive. The parent's program stores only to the first
 * `written` pages (default all): the rest it only reads, so they stay
 * COW-shared with every sibling and child, as a program's data that it
 * no longer changes. `batch` is the migrator's call (Family.migrate_one);
 * a forked child stores to every `child_stride`-th page.
 */
export function family_setup(npages: number, siblings: number, written = npages, batch = 8, child_stride = 4, shared_file = false): SetupState {
  const parent = mm_alloc();
  let vma: number;
  if (shared_file) {
    // a file of npages mapped MAP_SHARED: the family shares its page-cache pages, every pte writable
    file_write(FIRST_FILE, npages - 1, 0, 0); // write(2) sets i_size; the stores below fill it
    vma = do_mmap_pgoff(parent, BASE, npages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FIRST_FILE, 0);
  } else vma = do_mmap_anon(parent, BASE, npages * PAGE_SIZE, PROT_READ | PROT_WRITE);
  if (vma < 0) throw new Error(`setup: mmap failed (${vma})`);
  for (let p = 0; p < npages; p++) {
    for (let w = 0; w < WORDS_PER_PAGE; w++) {
      user_access(parent, BASE + p * PAGE_SIZE, w, true, initial_value(p, w));
      if (mmu.status !== ACCESS_OK) throw new Error('setup: initial store failed');
    }
  }
  const sibs: number[] = [];
  for (let s = 0; s < siblings; s++) {
    const child = copy_mm(parent);
    if (child < 0) throw new Error('setup: fork failed');
    // a shared mapping's ptes are not copied at fork (a fault fills them): the sibling reads its pages in
    for (let p = 0; shared_file && p < npages; p++) user_access(child, BASE + p * PAGE_SIZE, 0, false, 0);
    sibs.push(child);
  }
  return { parent, npages, siblings: sibs, written, batch, child_stride, shared_file: shared_file ? 1 : 0 };
}

/** the CPUs that run the parent's own program, and so own (write) its pages */
export function owners(roles: string[], writers: string[]): number[] {
  for (const w of writers) {
    const t = roles.flatMap((r, c) => (r === w ? [c] : []));
    if (t.length > 0) return t;
  }
  return [];
}

/** one CPU's view of the family workload */
export class Family {
  readonly parent: number;
  readonly npages: number;
  readonly shadow: Shadow | null;
  /** the parent's pages this CPU's program stores to (and checks) */
  readonly mine: number[] = [];
  /** the parent's pages this CPU's program only reads and checks */
  readonly reads: number[] = [];
  private readonly child: Shadow;
  private readonly seen: Int32Array;
  /** the migrator's private page list (check_range fills it, migrate_pages empties it) */
  private readonly pagelist = new Int32Array(USER_PAGES);
  /** pages per migration: sys_move_pages of that many addresses, or 0 for sys_migrate_pages of the whole mm */
  private readonly batch: number;
  private readonly addrs = new Int32Array(USER_PAGES);
  /** the forked child stores to every child_stride-th page */
  private readonly child_stride: number;
  /** the region is a MAP_SHARED file mapping: a child sees the parent's stores, as it must */
  private readonly shared: boolean;

  constructor(readonly ctx: CpuContext, ownerCpus: number[]) {
    this.parent = ctx.setup.parent as number;
    this.npages = ctx.setup.npages as number;
    this.shadow = ownerCpus.includes(ctx.cpu) ? new Shadow(this.parent, BASE, this.npages, ctx.cpu + 1, 'parent') : null;
    const written = (ctx.setup.written as number | undefined) ?? this.npages;
    this.child_stride = (ctx.setup.child_stride as number | undefined) ?? 4;
    this.batch = Math.min((ctx.setup.batch as number | undefined) ?? 8, USER_PAGES);
    for (let p = 0; p < this.npages; p++) if (ownerCpus[p % ownerCpus.length] === ctx.cpu) (p < written ? this.mine : this.reads).push(p);
    this.child = new Shadow(0, BASE, this.npages, TAG_CHILD, 'child');
    this.seen = new Int32Array(this.npages);
    this.shared = ctx.setup.shared_file === 1;
  }

  /** a pfn mapped by the parent (or, one time in four, any anon page on the LRU), 0 if none */
  pick_page(): number {
    if (prandom_below(4) !== 0) {
      const addr = BASE + prandom_below(this.npages) * PAGE_SIZE;
      const table = pte_table(this.parent, addr);
      if (table === 0) return 0;
      const pte = Atomics.load(i32, pte_offset(table, addr));
      return pte_present(pte) ? pte_pfn(pte) : 0;
    }
    return 1 + prandom_below(sizes.nr_pages - 1);
  }

  /**
   * A live process forked from the parent (a long-lived sibling, or the
   * forker's child of the moment), pinned by get_task_mm; 0 if none.
   * An admin names it by pid; the model walks the mm table from a random
   * place, as a pid picked from `ps` would land on any of them (the unlocked
   * peeks are find_task_by_pid's: get_task_mm decides under task_lock).
   */
  private pick_relative(): number {
    const n = sizes.nr_mm - 1;
    const start = prandom_below(n);
    for (let k = 0; k < n; k++) {
      const mm = 1 + ((start + k) % n);
      if (mm === this.parent || Atomics.load(i32, mm_base(mm) + MM.task) === 0 || i32[mm_base(mm) + MM.parent_mm] !== this.parent) continue;
      if (get_task_mm(mm)) return mm;
    }
    return 0;
  }

  /**
   * Root migrating a relative of the parent, as migratepages(8) or
   * move_pages(2) do: holding that mm's mmap_sem for read, it isolates the
   * pages (MPOL_MF_MOVE_ALL: shared ones too, most of them still COW-shared
   * with the parent) and moves them one by one, while the parent may fork,
   * mprotect or fault: its own mmap_sem is not held. setup.batch picks the
   * call: N > 0 is sys_move_pages of N random pages of the region, 0 is
   * sys_migrate_pages of everything the relative maps.
   */
  migrate_one(): void {
    set_path(EV_MIGRATE);
    // the admin waits for a process to migrate (an operation is one migration, not a failed lookup)
    let mm = this.pick_relative();
    while (mm === 0 && !this.ctx.should_stop()) { cond_resched(); mm = this.pick_relative(); }
    if (mm === 0) return;
    span_begin(SP_MIGRATE);
    if (this.batch === 0) do_migrate_pages(mm, MPOL_MF_MOVE_ALL, this.pagelist);
    else {
      for (let k = 0; k < this.batch; k++) this.addrs[k] = BASE + prandom_below(this.npages) * PAGE_SIZE;
      do_move_pages(mm, this.addrs, this.batch, true, this.pagelist);
    }
    span_end(SP_MIGRATE);
    mmput(mm);
  }

  /**
   * Compaction-style migration (E3/E4 only, the `compactor` role): a kernel
   * thread that takes a page off the LRU with no mmap_sem, pinning its
   * anon_vma instead, as later kernels' compaction does. 2.6.18 had no such
   * caller (kernel-notes 8): the E1/E2 default is migrate_one above.
   */
  compact_one(): void {
    if (ERA.id < E3) fail(OOPS_INTERNAL, `mmrace: the compactor role migrates without an mmap_sem, which no ${ERA.kernel} caller does; it needs E3 or later`);
    set_path(EV_MIGRATE);
    const pfn = this.pick_page();
    if (pfn === 0 || (page_flags(pfn) & PG_lru) === 0 || !PageAnon(pfn)) return;
    if (isolate_lru_page(pfn) !== 0) return;
    if (!PageAnon(pfn)) { putback_lru_page(pfn); return; }
    const av = page_anon_vma(pfn);
    anon_vma_pin(av);
    try {
      span_begin(SP_MIGRATE);
      this.pagelist[0] = pfn;
      migrate_pages(this.pagelist, 1);
      span_end(SP_MIGRATE);
    } finally {
      anon_vma_unpin(av);
    }
  }

  /** reclaim one page to swap (kswapd-like) */
  reclaim_one(): void {
    set_path(EV_SHRINK);
    lru_add_drain(); // shrink_inactive_list's first step (E1/E2: this CPU's pagevecs)
    const pfn = this.pick_page();
    if (pfn === 0 || (page_flags(pfn) & PG_lru) === 0 || !PageAnon(pfn)) return;
    if (isolate_lru_page(pfn) !== 0) return;
    span_begin(SP_SHRINK);
    shrink_page_list(pfn);
    span_end(SP_SHRINK);
  }

  /**
   * fork the parent and run the child's program: it reads every page (the
   * data must be the family's), stores to every fourth page, checks that
   * the pages it did not store to did not change under it (a COW leak from
   * the parent), then exits.
   */
  fork_one(): void {
    set_path(EV_DUP_MMAP);
    span_begin(SP_DUP_MMAP);
    const child = copy_mm(this.parent);
    span_end(SP_DUP_MMAP);
    if (child < 0) return;
    switch_mm(child);
    const nr = this.ctx.nr_cpus;
    for (let p = 0; p < this.npages; p++) {
      const w = p % WORDS_PER_PAGE;
      const v = user_access(child, BASE + p * PAGE_SIZE, w, false, 0);
      must(mmu.status === ACCESS_OK, 'child read');
      const t = tag_of(v);
      if (!(t === TAG_SETUP || (t >= 1 && t <= nr))) {
        fail(OOPS_SHADOW, `user data: ${t === TAG_CHILD ? 'COW leak: an earlier child\'s store is visible in' : 'wrong data in'} child mm#${child} at ${hex(BASE + p * PAGE_SIZE)} word ${w}: read ${hex(v)}`, 0, child, BASE + p * PAGE_SIZE);
      }
      this.seen[p] = v;
    }
    if (this.shared) {
      // a shared mapping has no COW to check: the child reads the family's pages (faulting them into its
      // own page tables, where a migrator that holds only the child's mmap_sem finds them) and exits
      switch_mm(0);
      span_begin(SP_EXIT_MMAP);
      exit_mm(child);
      span_end(SP_EXIT_MMAP);
      return;
    }
    this.child.reset(child);
    // the child inherits the parent's protections: a parent that was mprotect()ed read-only when it
    // forked (mprotect-migration-entry) has a child that only reads, as a program that knows its maps would
    const vma = i32[mm_base(child) + MM.mmap_first];
    const writable = vma !== 0 && (i32[vma_base(vma) + VMA.vm_flags] & VM_WRITE) !== 0;
    for (let p = 0; writable && p < this.npages; p += this.child_stride) {
      must(this.child.store(p, 1), 'child store');
      must(this.child.check(p, 1), 'child load');
    }
    for (let p = 1; p < this.npages; p += 2) {
      const w = p % WORDS_PER_PAGE;
      if (writable && w === 1 && p % this.child_stride === 0) continue; // the child's own store
      const v = user_access(child, BASE + p * PAGE_SIZE, w, false, 0);
      must(mmu.status === ACCESS_OK, 'child read');
      if (v !== this.seen[p]) {
        fail(OOPS_SHADOW, `user data: COW leak: the parent's store is visible in child mm#${child} at ${hex(BASE + p * PAGE_SIZE)} word ${w}: read ${hex(this.seen[p])}, then ${hex(v)}`, 0, child, BASE + p * PAGE_SIZE);
      }
    }
    switch_mm(0);
    span_begin(SP_EXIT_MMAP);
    exit_mm(child);
    span_end(SP_EXIT_MMAP);
  }

  /** the parent's own program: stores to its pages and checks them (`rounds` of each) */
  touch(rounds = 8): void {
    const sh = this.shadow;
    if (!sh || this.mine.length === 0) return;
    set_path(EV_USER);
    switch_mm(this.parent);
    for (let k = 0; k < rounds; k++) {
      must(sh.store(this.mine[prandom_below(this.mine.length)], prandom_below(WORDS_PER_PAGE)), 'parent store');
      must(sh.check(this.mine[prandom_below(this.mine.length)], prandom_below(WORDS_PER_PAGE)), 'parent load');
      if (this.reads.length) must(sh.check(this.reads[prandom_below(this.reads.length)], prandom_below(WORDS_PER_PAGE)), 'parent load');
    }
    switch_mm(0);
  }
}

/** roles for n CPUs: `base` first, then `extra` over and over; one CPU runs `solo` */
export function cycle_roles(base: string[], extra: string[]): (n: number) => string[] {
  return (n) => (n === 1 ? ['solo'] : Array.from({ length: n }, (_, c) => (c < base.length ? base[c] : extra[(c - base.length) % extra.length])));
}

/**
 * The shared CPU loop: each role runs its operation until the executor says
 * stop; `special` adds a scenario's own roles. A single CPU ("solo") mixes
 * the family operations, where no race is possible.
 */
export function run_family(ctx: CpuContext, writers: string[], roles: (n: number) => string[], special: Record<string, (f: Family) => void> = {}): void {
  const f = new Family(ctx, owners(roles(ctx.nr_cpus), writers));
  const op = special[ctx.role];
  while (!ctx.should_stop()) {
    if (op) op(f);
    else {
      switch (ctx.role) {
        case 'migrator': f.migrate_one(); break;
        case 'compactor': f.compact_one(); break;
        case 'forker': f.fork_one(); f.touch(); break; // touch() does nothing unless this CPU owns parent pages
        case 'toucher': f.touch(); break;
        case 'reclaimer': f.reclaim_one(); break;
        default: { const r = prandom_below(3); if (r === 0) f.migrate_one(); else if (r === 1) f.fork_one(); else f.touch(); }
      }
    }
    ctx.op_done();
  }
}
