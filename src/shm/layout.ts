// Every shared struct of the Machine, defined once. Offsets come from
// defineStruct; sizes of the tables come from MachineSizes. Which lock
// protects which field is said next to the field.
import { defineStruct } from './struct.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** words of content per simulated physical page (kernel-notes 1.1) */
export const WORDS_PER_PAGE = 8;
/**
 * words from one page's content to the next: a cache line, so two pages'
 * contents never share one (as 4 KB pages' never do); the rest is padding
 */
export const PHYS_STRIDE = 16;
/** ptes per page-table page: small so scenarios spread over several PTLs */
export const PTRS_PER_PTE = 16;
/** top-level slots per mm: 16 x 16 pages = 1 MiB of user address space */
export const PTRS_PER_PGD = 16;
export const USER_PAGES = PTRS_PER_PGD * PTRS_PER_PTE;
export const TASK_SIZE = USER_PAGES << PAGE_SHIFT;
/** locks one CPU may hold at once (lockdep's MAX_LOCK_DEPTH, scaled down) */
export const HELD_MAX = 8;
/** kernel events kept per CPU in its ftrace-like ring (a power of two) */
export const RING_SIZE = 16384;
/** trace-only events (spans, lock waits and holds) kept per CPU when tracing, in a ring of their own */
export const TRACE_RING_SIZE = 32768;
export const MAX_CPUS = 64;
/** bytes of the oops record's call trace text */
export const OOPS_TEXT_BYTES = 4096;

// struct page flag bits (names are the kernel's; numbering is ours)
export const PG_locked = 1 << 0;
export const PG_error = 1 << 1;
export const PG_referenced = 1 << 2;
export const PG_uptodate = 1 << 3;
export const PG_dirty = 1 << 4;
export const PG_lru = 1 << 5;
export const PG_active = 1 << 6;
export const PG_private = 1 << 7;
export const PG_writeback = 1 << 8;
export const PG_swapcache = 1 << 9;
export const PG_reserved = 1 << 10;
export const PG_checked = 1 << 11;
export const PG_mappedtodisk = 1 << 12;
export const PG_swapbacked = 1 << 15;
/** model: someone sleeps in wait_on_page_locked/lock_page (like PG_waiters) */
export const PG_waiters = 1 << 17;
/** model: this page holds a page table (its ptl field is live) */
export const PG_pgtable = 1 << 18;
/** free in the page allocator (2.6.18's PG_buddy) */
export const PG_buddy = 1 << 19;
// seed 002 (exchange pages, E4): 1 << 24..1 << 25
/** model: BH_Lock of the page's one buffer head (kernel-notes 8: one buffer id per page), taken by buffer_migrate_lock_buffers */
export const PG_bh_lock = 1 << 24;
// seed 003 (E0, 2.6.6-mm anonmm): page flags of that kernel only
/** E0: page->mapping is an anonmm (2.6.6's PageAnon); PG_maplock guards the change */
export const PG_anon = 1 << 20;
/** E0: page_map_lock / rmap_lock, the bit spinlock over mapcount, mapping, index and PG_anon */
export const PG_maplock = 1 << 21;

export const PAGE_FLAG_NAMES: readonly [number, string][] = [
  [PG_locked, 'locked'], [PG_error, 'error'], [PG_referenced, 'referenced'],
  [PG_uptodate, 'uptodate'], [PG_dirty, 'dirty'], [PG_lru, 'lru'], [PG_active, 'active'],
  [PG_private, 'private'], [PG_writeback, 'writeback'], [PG_swapcache, 'swapcache'],
  [PG_reserved, 'reserved'], [PG_checked, 'checked'], [PG_mappedtodisk, 'mappedtodisk'],
  [PG_swapbacked, 'swapbacked'], [PG_waiters, 'waiters'], [PG_pgtable, 'pgtable'], [PG_buddy, 'buddy'],
  [PG_bh_lock, 'bh_lock'],
  // seed 003 (E0)
  [PG_anon, 'anon'], [PG_maplock, 'maplock'],
];

/** spinlock_t: the lock word (0 free, owner cpu+1, top bit = sleepers) and the last owner, for bounces */
export const SPINLOCK = defineStruct('spinlock', { val: 1, last: 1 });

/**
 * rwlock_t (2.6's x86 spinning reader/writer lock): the lock word (bits 0-15
 * readers inside, bits 16-27 the writer's cpu+1, bit 30 sleepers) and the
 * last acquirer, for bounces (src/sync/rwlock.ts)
 */
export const RWLOCK = defineStruct('rwlock', { val: 1, last: 1 });

/** struct page, one per pfn (mem_map) */
export const PAGE = defineStruct('page', {
  flags: 1, // Atomics.or/and; PG_locked only via lock_page/unlock_page
  _count: 1, // atomic refcount
  _mapcount: 1, // atomic, -1 = unmapped; changed under the PTL of the pte
  mapping: 1, // (anon_vma id << 1) | 1 for anon; set at first map, cleared at free
  index: 1, // linear page index in the anon "object"
  private: 1, // swap entry when PG_swapcache
  lru_next: 1, // zone lru_lock; a ZONE_DEVICE page (E3) keeps its pgmap here instead (PAGE_pgmap)
  lru_prev: 1, // zone lru_lock
  ptl: SPINLOCK.stride, // split page-table lock, live only for PG_pgtable pages
  owner_cpu: 1, // model: cpu+1 that holds PG_locked (diagnostics, bounces)
  zone: 1, // 0 = normal RAM
  // seed 003 (E0)
  anonmm_residual: 1, // model (E0): 1 once do_swap_page's early COW reused the page at a clashing address (the seed's residual race); 0 from allocation
});

// seed 004 (E3): ZONE_DEVICE pages. The kernel overlays `struct dev_pagemap *pgmap`
// on page->lru's first word, so the model keeps the pgmap id in lru_next: a device
// page wrongly linked on an LRU really loses it (zone-device-lru, kernel-notes 1.2)
export const PAGE_pgmap = PAGE.lru_next;
/** page->zone values */
export const ZONE_NORMAL = 0, ZONE_DEVICE = 1;

/** mm_struct */
export const MM = defineStruct('mm', {
  mmap_sem: 1, // rwsem word (see sync/rwsem.ts)
  page_table_lock: SPINLOCK.stride, // populating pgd, vma->anon_vma assignment
  mmap_first: 1, // first vma by address; mmap_sem
  map_count: 1, // mmap_sem
  mm_users: 1, // atomic
  anon_rss: 1, // atomic (split PTLs)
  file_rss: 1, // atomic: present ptes of page-cache pages
  mmlist_next: 1, // mmlist_lock
  mmlist_prev: 1, // mmlist_lock
  parent_mm: 1, // model: forked from
  live: 1, // model: 1 while allocated
  pgd: PTRS_PER_PGD, // page-table pfn per slot, 0 = none; page_table_lock to populate
  // seed 003 (E0)
  anonmm: 1, // E0: this mm's anonmm (set at exec/fork, constant while the mm lives)
  // CPUs that may hold a translation of this mm (bit c of word c >> 5): set and cleared only by CPU c itself
  // (tlb_switch_mm); flush_tlb_page waits out only these. Kept across the id's reuse (mm_alloc): a bit
  // follows PERCPU.active_mm, which may still name a freed id
  cpu_vm_mask: MAX_CPUS >> 5,
  // model: the one task whose ->mm this is (get_task_mm/exit_mm in src/mm/fork.ts). Kept across the id's reuse
  // too: a lookup may hold alloc_lock of an id that is freed and allocated again under it
  alloc_lock: SPINLOCK.stride, // task_lock(p): protects task
  task: 1, // model: 1 from fork's copy_mm until exit_mm (p->mm names this mm); get_task_mm pins only then
}, { padTo: 16 }); // mm_cachep is SLAB_HWCACHE_ALIGN: no two mms share a cache line

/**
 * seed 003 (E0, 2.6.6-mm's struct anonmm): one per mm, all mms of a fork
 * family on the head's list. Ids are reused (anonmm_alloc), but only once
 * count reached 0: no page and no member refers to the record any more.
 */
export const ANONMM = defineStruct('anonmm', {
  lock: SPINLOCK.stride, // only the head's is used: the family list and every member's mm field
  count: 1, // atomic: the mm while it lives, one per anon page whose mapping names it, and (head) one per other member
  mm: 1, // the mm, 0 once it exited (head lock)
  head: 1, // the family head (constant)
  list_next: 1, list_prev: 1, // the family list, through the head's fam_first/fam_last (head lock)
  fam_first: 1, fam_last: 1, // head only: the family list, the head itself first
  live: 1, // model: 1 while allocated
});

/** seed 003 (E0): a pgd entry that maps a hugetlb run directly (no pte table): the tag bit, then the first pfn */
export const PGD_HUGE = 1 << 30;
/** pages in a hugetlb run: one pgd slot's worth */
export const HPAGE_PAGES = PTRS_PER_PTE;
/** hugetlb runs the pool can hold */
export const HUGETLB_RUNS = 4;
/** seed 003 (E0): the hugetlb pool of contiguous runs (hugetlb_lock) */
export const HUGETLB = defineStruct('hugetlb', {
  lock: SPINLOCK.stride, // hugetlb_lock: the pool
  nr_runs: 1, // runs reserved at boot (constant after)
  run: HUGETLB_RUNS, // first pfn of each run
  used: HUGETLB_RUNS, // mm holding the run, 0 = free in the pool
}, { padTo: 16 });

/** vm_area_struct */
export const VMA = defineStruct('vma', {
  vm_mm: 1,
  vm_start: 1, // mmap_sem write
  vm_end: 1, // mmap_sem write
  vm_next: 1, // mmap_sem write
  vm_flags: 1, // mmap_sem write
  vm_page_prot: 1, // mmap_sem write; pte bits for new ptes
  vm_pgoff: 1, // mmap_sem write
  vm_file: 1, // 0 = anonymous
  anon_vma: 1, // set once under mm->page_table_lock
  anon_vma_next: 1, // anon_vma->lock
  anon_vma_prev: 1, // anon_vma->lock
  shared_next: 1, // vm_file's i_mmap list: mapping->i_mmap_lock
  shared_prev: 1, // mapping->i_mmap_lock
  live: 1,
});

/** struct anon_vma: the list of vmas that may map its pages */
export const ANON_VMA = defineStruct('anon_vma', {
  lock: SPINLOCK.stride,
  head_first: 1, // anon_vma->lock
  head_last: 1, // anon_vma->lock
  pin: 1, // model: migrations keeping it alive without an mmap_sem
  live: 1,
});

/** run-wide truth every CPU reads: switches, halt, stop */
export const GLOBALS = defineStruct('globals', {
  halt: 1, // non-zero: every CPU unwinds at its next preemption point
  halt_reason: 1, // HALT_* code
  bugs: 1, // bitmask of bug switches that are on (buggy protocol)
  era: 1, // kernel-notes 0.2: E0..E4 (src/shm/era.ts), written at boot, read once per thread
  jitter: 1, // 0 none, 1 light, 2 heavy
  seed: 1,
  stop: 1, // set by the executor when the budget is spent
  nr_cpus: 1,
  barrier: 1, // CPUs arrived at the start barrier
  go: 1, // released by the executor
  ops_budget: 1, // 0 = run by duration
  trace: 1, // 1: events carry timestamps, and spans, lock waits and holds are traced (--trace)
  lock_stat_off: 1, // 1: no lock_stat (--no-lock-stat, CONFIG_LOCK_STAT=n): no counts, no wait or hold timing; lockdep and the held-lock stack stay
  lockdep_off: 1, // 0: lockdep validates; else cpu+1 of the CPU that held more than HELD_MAX locks
  lockdep_off_path: 1, // that CPU's path then
  stat_epoch: 1, // bumped when a warm-up ends: each CPU zeroes its own counters (src/worker/warmup.ts)
  bounds_note: 1, // 1: the bounds checker records the first out-of-bounds access and lets the run go on
  // seed 003 (E0)
  zero_page: 1, // E0: pfn of ZERO_PAGE (PG_reserved), mapped read-only by read faults of anonymous memory
}, { padTo: 16 });

/** the event sequence counter, on its own cache line (src/cpu/events.ts). There is no global op
 *  counter: each CPU counts its operations in PERCPU.ops and the budget check sums them (src/worker/cpu_main.ts) */
export const SEQ_LINE = defineStruct('seq_line', { seq: 1 }, { padTo: 16 });

/** the page allocator's free stack (zone->lock) */
export const ZONE = defineStruct('zone', {
  lock: SPINLOCK.stride, // protects nr_free and the free stack
  nr_free: 1,
  lru_lock: SPINLOCK.stride, // protects the two LRU lists and PG_lru
  active_first: 1, active_last: 1,
  inactive_first: 1, inactive_last: 1,
  nr_active: 1, nr_inactive: 1,
}, { padTo: 16 });

/** slab-like id allocators for mm and vma records */
export const IDALLOC = defineStruct('idalloc', { lock: SPINLOCK.stride, top: 1, next_never_used: 1 }, { padTo: 16 });

/** ids an id allocator's per-CPU array cache holds (SLAB's array_cache: ac->limit) */
export const IDCACHE_LIMIT = 15;
/** ids a full array cache gives back to the shared stack at once, its coldest (cache_flusharray's batchcount) */
export const IDCACHE_BATCH = 8;
/**
 * one CPU's array cache of free ids of one allocator, on its own cache line:
 * the ids it freed last, handed out again first (their records are still in
 * this CPU's cache). The allocator's lock protects it (src/mm/mmap.ts)
 */
export const IDCACHE = defineStruct('idcache', { avail: 1, entry: IDCACHE_LIMIT }, { padTo: 16 });

/** init_mm.mmlist and its lock */
export const MMLIST = defineStruct('mmlist', { lock: SPINLOCK.stride, first: 1, last: 1 }, { padTo: 16 });

// scale (session 23, issue 16 item 3): the per-CPU page lists' size (2.6.x setup_pageset: high = 6 * batch).
// The kernel's zone_batchsize gives 31 for a zone of 512 MB or more (1 for the model's few-MB zone, which would
// make the lists do nothing); the model scales the batch down with everything else.
/** pages moved between the buddy and a per-CPU list at once, under zone->lock */
export const PCP_BATCH = 8;
/** a per-CPU list that reaches this many pages gives PCP_BATCH back to the buddy */
export const PCP_HIGH = 6 * PCP_BATCH;
/** E0 (2.6.6): the list is refilled once it is down to this many (2.6.16 dropped pcp->low: refilled when empty) */
export const PCP_LOW = 2 * PCP_BATCH;
/**
 * a CPU's per_cpu_pages (zone->pageset[cpu]'s hot list, src/mm/page_alloc.ts), one per CPU in a region of
 * their own (kernel state: not PERCPU, which the executor zeroes after setup), each on its own cache lines.
 * Only its CPU reads or writes it while the CPUs run (the kernel's local_irq_save): no lock.
 */
export const PCP = defineStruct('per_cpu_pages', {
  count: 1, // pages on list: free (free_pages_check ran) but not PG_buddy, and not in zone->nr_free
  list: PCP_HIGH, // their pfns; list[count - 1] is the list's head, the hottest page
}, { padTo: 16 });

/** per-CPU state: on its own cache lines */
export const PERCPU = defineStruct('percpu', {
  announce: 1, // MMU: pte slot this CPU may be accessing through, 0 = none
  access_seq: 1, // MMU: bumped at the end of every access, so a flush need not wait for later ones
  flush_waiting: 1, // a TLB flush sleeps on our announce word
  progress: 1, // bumped at every completed kernel op: the watchdog's heartbeat, and (Atomics) what the ops budget sums
  ops: 1, // operations this CPU completed (zeroed at a warm-up's end); written by this CPU only
  path: 1, // event code of the kernel path being run (EV_*)
  state: 1, // CPU_* below
  nheld: 1, // locks recorded in held[] (at most HELD_MAX)
  held_over: 1, // locks held beyond HELD_MAX, counted but not recorded (lockdep is then off)
  held: HELD_MAX, // lock word index of each held lock
  held_cls: HELD_MAX, // its lock class, | HELD_READ for a read hold
  await_lock: 1, // lock word this CPU is waiting for, 0 = none
  await_cls: 1, // its lock class, | HELD_READ for a wait to read (which only a writer holds up)
  await_holder_path: 1, // path the holder of await_lock was in when this CPU began to wait (contending point)
  ring_head: 1, // next kernel event slot (an unsigned count: read it with >>> 0)
  tring_head: 1, // next trace-only event slot (tracing)
  user_mm: 1, // mm whose user program this CPU is running (0 = kernel thread)
  op_path: 1, // path of the operation under way (its first set_path), 0 = none yet
  // seed 004 (E3)
  wait_ref: 1, // model: pfn this CPU holds a migration_entry_wait reference on (0 = none), for the livelock report
  // h13 (session 22, seed 004)
  migrate_ref: 1, // model: pfn this CPU's migrate_vma holds a reference on (collect's, or a new page's until finalize drops it; 0 = none), for the livelock report
  // load (session 24, issue 16 item 5): the CPUs' overlap in a free run (src/worker/overlap.ts); written by this CPU only
  ov_samples: 1, // overlap samples taken: one per completed op
  ov_seen: 1, // of them, those in which another CPU progressed too
  ov_yields: 1, // times adaptive jitter gave up the core at a preemption point
  ov_park: 1, // always 0: what a yield waits on (never notified; the wait times out)
  active_mm: 1, // mm whose cpu_vm_mask has this CPU's bit (the MMU's last address space), 0 = none; this CPU only
}, { padTo: 16 });

export const CPU_IDLE = 0;
export const CPU_RUNNING = 1;
export const CPU_DONE = 2;
export const CPU_HALTED = 3;

/** a held-stack entry's class word: the class, with HELD_READ set for a read hold of an rwsem or rwlock */
export const HELD_READ = 0x100;
export const HELD_CLS_MASK = 0xff;
/** lock_stat rows per class: writes (and plain locks), then reads (as the kernel's -W and -R rows) */
export const LOCKSTAT_RW = 2;

/** lock_stat counters per CPU per class per mode (doubles; times in ns) */
export const LOCKSTAT = defineStruct('lockstat', {
  contentions: 1, con_bounces: 1,
  wait_min: 1, wait_max: 1, wait_total: 1,
  acquisitions: 1, acq_bounces: 1,
  hold_min: 1, hold_max: 1, hold_total: 1, hold_samples: 1,
}, { kind: 'f64', padTo: 8 });

/**
 * lock_stat contention points: per CPU, per class, contentions by the kernel
 * path the waiting CPU was in (PERCPU.path), and contending points: by the
 * path the holder was in. The model's stand-in for the kernel's call-site
 * addresses. NR_PATHS entries per class each; written by the waiting CPU.
 * Every path id fits (src/cpu/events.ts checks PATH_IDS against it at load).
 */
export const LOCKSTAT_NR_PATHS = 64;

/** per-CPU operation counters for the report (own lines) */
export const CPUSTAT = defineStruct('cpustat', {
  faults: 1, cow: 1, forks: 1, exits: 1, migrations: 1, migrate_ok: 1, migrate_fail: 1,
  migration_waits: 1, mprotects: 1, user_reads: 1, user_writes: 1, tlb_flushes: 1, tlb_flush_waits: 1,
  swapouts: 1, swapins: 1, swapons: 1, swapoffs: 1,
  io_submitted: 1, io_completed: 1, // I/O requests this CPU queued, and completed (its own or others')
  writeback_seen: 1, // a path met a page under writeback that another CPU submitted (the I/O window is real)
  writeback_waits: 1, // wait_on_page_writeback calls that found the page under writeback
  // seed 002 (exchange pages, E4)
  exchanges: 1, exchange_ok: 1, exchange_fail: 1, // pairs exchange_pages took on, exchanged, gave up on
  exchange_backoffs: 1, // unmap_and_exchange let go of the first page lock (trylock of the second failed)
  // seed 003 (E0)
  mremaps: 1, mremap_cows: 1, // sys_mremap calls that moved pages; early COWs they made (make_page_exclusive)
  early_cows: 1, // swap-in and swapoff early COWs of a clashing address (mremap_moved_anon_rmap)
  rmap_warns: 1, // page_referenced_anon's WARN_ON(!failed): a walk that found fewer ptes than mapcount
  // seed 004 (E3, HMM device-private memory; src/mm/migrate_vma.ts, src/drivers/dmirror.ts)
  dev_to_device: 1, // pages migrate_vma moved from RAM to device memory
  dev_to_ram: 1, // pages a device fault moved back to RAM (a round trip completed)
  dev_faults: 1, // device-private entry faults (do_swap_page -> pgmap->page_fault)
  dev_fault_retries: 1, // device faults that did not move the page (the access faults again)
  hmm_check_rejects: 1, // migrate_vma_check_page said a device-private page was pinned (hmm-wait-ref-livelock)
  hmm_isolate_fails: 1, // a device page failed isolate_lru_page in migrate_vma_prepare (zone-device-lru)
  hmm_move_eagain: 1, // migrate_vma_pages: migrate_page's exact count test failed (-EAGAIN): 4.14's residual, kernel-notes 8 q.2
  mirror_faults: 1, // the device's own faults on the range (hmm_vma_fault)
  anonmm_residuals: 1, // do_swap_page's early COW found the page exclusive and reused it at the clashing address (the seed's residual)
  hmm_residual_streaks: 1, // C-LIVELOCK streaks of R device faults that left the pte as it was, none rejected as pinned or unisolatable (4.14's residual, a statistic)
}, { padTo: 16 });

/**
 * Latency histograms: per CPU, per timed kind, log-linear buckets of ns
 * (HDR-style: LAT_SUB buckets per power of two, so a bucket is within
 * 1/LAT_SUB of its value). Written only by the owning CPU.
 */
export const LAT_SUB_BITS = 4;
export const LAT_SUB = 1 << LAT_SUB_BITS;
/** values up to 2^31 ns (2.1 s); longer ones land in the last bucket */
export const LAT_BUCKETS = LAT_SUB + (31 - LAT_SUB_BITS) * LAT_SUB;
/** kind 0: an operation of a role that never named its path; 1..LAT_KIND_FAULT-1: by path id (checked at load in src/cpu/events.ts); 63: do_page_fault */
export const NR_LAT_KINDS = 64;
export const LAT_KIND_FAULT = 63;

/** one ftrace-like event (its timestamp, when tracing, is in a parallel f64 ring) */
export const EVENT = defineStruct('event', { seq: 1, code: 1, a0: 1, a1: 1, a2: 1, a3: 1 }, { padTo: 8 });

/** the oops record: the first BUG/error of the run (first writer wins) */
export const OOPS = defineStruct('oops', {
  state: 1, // 0 none, 1 being written, 2 complete
  kind: 1, // OOPS_* in check/bug.ts
  cpu: 1,
  site: 1, // BUG site code
  seq: 1, // global event seq at the BUG
  pfn: 1, a0: 1, a1: 1, a2: 1,
  p_flags: 1, p_count: 1, p_mapcount: 1, p_mapping: 1, p_index: 1, p_private: 1, p_owner: 1,
  path: 1,
  text_len: 1,
  text: OOPS_TEXT_BYTES / 4, // utf-8: the message and call trace
}, { padTo: 16 });

/** the bounds checker's note: the first access past a kernel array (first writer wins; src/check/bounds.ts) */
export const BOUNDS_TEXT_BYTES = 512;
export const BOUNDS = defineStruct('bounds', {
  state: 1, // 0 none, 1 being written, 2 complete
  cpu: 1,
  seq: 1, // global event seq at the access
  text_len: 1,
  text: BOUNDS_TEXT_BYTES / 4, // utf-8: the message and call trace
}, { padTo: 16 });

/**
 * the first WARN_ON of a run (2.6's "Badness in <function> at <file>:<line>"
 * and its stack; first writer wins; src/check/warn.ts). A warning does not
 * stop the run: `count` counts every one.
 */
export const WARN_TEXT_BYTES = 1024;
export const WARN = defineStruct('warn', {
  state: 1, // 0 none, 1 being written, 2 complete
  count: 1, // every WARN of the run (Atomics.add: a warning is rare)
  cpu: 1,
  seq: 1, // global event seq at the warning
  text_len: 1,
  text: WARN_TEXT_BYTES / 4, // utf-8: the Badness line and call trace
}, { padTo: 16 });

/**
 * lockdep: the lock-order graph by class. dep[from * NR + to] is 0, or
 * LD_LOCK / LD_WAIT once `to` was taken (waited for) while `from` was held;
 * the first CPU to see a dependency claims its slot with compareExchange and
 * fills LOCKDEP_EDGE. The first cycle found fills the report (first wins).
 */
export const LD_LOCK = 1, LD_WAIT = 2;
export const LOCKDEP_STACK_BYTES = 512;
export const LOCKDEP_EDGE = defineStruct('lockdep_edge', {
  state: 1, // 0 none, 1 being written, 2 complete
  cpu: 1,
  path: 1, // EV_* path of the CPU when first seen
  seq: 1,
  text_len: 1,
  text: LOCKDEP_STACK_BYTES / 4, // utf-8 call trace, one frame per line
}, { padTo: 8 });
export const LOCKDEP_REPORT = defineStruct('lockdep_report', {
  state: 1, // 0 none, 1 being written, 2 complete
  cpu: 1,
  path: 1,
  seq: 1,
  kind: 1, // LD_LOCK or LD_WAIT: how the new lock was reached
  from: 1, // class held
  to: 1, // class being acquired
  to_lock: 1, // its lock word
  to_read: 1, // 1: a read acquisition of an rwsem
  nheld: 1,
  held: HELD_MAX, held_cls: HELD_MAX,
  chain_len: 1,
  chain: 32, // classes from `to` along existing dependencies back to `from`
  text_len: 1,
  text: LOCKDEP_STACK_BYTES / 4,
}, { padTo: 16 });

/** swap slots per swap device (slot 0 is the header, marked bad) */
export const SWAP_SLOTS = 256;
/** swap type values (MAX_SWAPFILES_SHIFT = 5 in every era); swap_info[] is laid out for all of them,
 *  the most any era has as devices (E0/E1), and per-type arrays cover every type a pte can hold */
export const SWAP_TYPES = 32;
/** records of "other kernel data" right after swap_info[MAX_SWAPFILES] (kernel-notes 1.9; the era
 *  decides where the array ends, src/shm/era.ts): a buggy swapon that initialises swap_info[30] or
 *  [31] in E2 really overwrites them, and the guard checker sees it */
export const SWAP_INFO_GUARD = 2;
export const SWAP_GUARD_CANARY = 0x5a5a5a5a;

/** struct swap_info_struct (swap_lock) */
export const SWAP_INFO = defineStruct('swap_info', {
  flags: 1, // SWP_USED, SWP_WRITEOK
  prio: 1,
  max: 1, // slots on the device
  pages: 1, // usable slots
  inuse_pages: 1,
  lowest_bit: 1,
  highest_bit: 1,
  cluster_next: 1,
  next: 1, // next type on swap_list, -1 = end
  // 5.14's si->users (a percpu_ref there, one word here): faults holding the device (get_swap_device);
  // SWAP_USERS_DEAD once swapoff has killed it, 0 again at swapon. Atomics only, no lock
  users: 1,
}, { padTo: 16 });

/** swap globals: swap_lock and the device list; swapper_space (the swap cache) */
export const SWAPG = defineStruct('swap_globals', {
  swap_lock: SPINLOCK.stride, // swap_info[], swap_map[], swap_list, nr_swap_pages
  nr_swapfiles: 1,
  nr_swap_pages: 1,
  total_swap_pages: 1,
  swap_list_head: 1, // highest-priority type, -1 = none
  swap_list_next: 1,
}, { padTo: 16 });

/** pages of each file's address_space (its page_tree and backing store are sized to it) */
export const FILE_PAGES = 64;
/** address_space ids: 0 none, 1 swapper_space (the swap cache), 2.. files */
export const SWAPPER_SPACE = 1;

/**
 * struct address_space (kernel-notes 1.6): a file's page cache, or the swap
 * cache. page->mapping names one as (as_id << 1) for a file page; a
 * swap-cache page keeps its anon mapping and is found through PG_swapcache.
 */
export const ADDRESS_SPACE = defineStruct('address_space', {
  // E1/E2 an rwlock_t, E0/E3/E4 a spinlock_t (filemap.ts read_lock_tree and friends), in the same words
  tree_lock: Math.max(SPINLOCK.stride, RWLOCK.stride), // page_tree slots and nrpages; with the page lock, a page's mapping/index (PG_swapcache/private)
  nrpages: 1, // tree_lock
  tree_base: 1, // model: word index of this mapping's page_tree slot array (set at boot, constant)
  nr_slots: 1, // model: indices the slot array holds (constant)
  i_mmap_lock: SPINLOCK.stride, // the i_mmap list
  i_mmap_first: 1, // i_mmap_lock: vmas mapping the file, insertion order, linked by vma->shared_next/prev
  i_mmap_last: 1,
  a_migratepage: 1, // a_ops->migratepage kind: MIGRATE_PAGE, BUFFER_MIGRATE or MIGRATE_NONE (constant)
  a_writepage: 1, // a_ops->writepage kind: WRITEPAGE_SWAP or WRITEPAGE_FILE (constant)
  backing_base: 1, // model: word index of backing[index][w], the file on disk (0 for swapper: its backing is the swap slots)
  i_mutex: 1, // inode->i_mutex (a sleeping lock: the rwsem word, writers only): write(2) and truncate
  i_size: 1, // inode->i_size in pages: i_mutex to change; read without it (i_size_read) by read(2) and faults
  truncate_count: 1, // i_mmap_lock to bump (unmap_mapping_range); do_no_page samples it to see a truncate race its fault
}, { padTo: 16 });

/**
 * struct bio, one per pfn: a page has at most one I/O in flight (PG_writeback
 * for a write, PG_locked and !PG_uptodate for a read). Queued requests are
 * linked on the request queue (next/prev) under its queue_lock.
 */
export const BIO = defineStruct('bio', {
  state: 1, // BIO_IDLE, BIO_QUEUED (on the queue), BIO_RUNNING (a CPU is completing it); queue_lock, then the completer
  rw: 1, // READ or WRITE
  dev: 1, // word index of the backing store words of the page (swap slot or file block)
  cpu: 1, // submitter cpu + 1
  next: 1, prev: 1, // queue_lock
});

/** the request queue of in-flight I/O (one "disk" for swap and files alike) */
export const REQUEST_QUEUE = defineStruct('request_queue', {
  queue_lock: SPINLOCK.stride, // the list of queued bios
  first: 1, last: 1, // queue_lock
  nr_queued: 1, // queue_lock to change; read without it to skip an empty queue
}, { padTo: 16 });

/** table capacities; everything is fixed for the life of a Machine */
export interface MachineSizes {
  nr_pages: number; // RAM pfns 1..nr_pages-1 (pfn 0 is never used)
  nr_mm: number;
  nr_vma: number;
  nr_anon_vma: number;
  nr_cpus: number;
  /** file address_spaces (FILE_PAGES each), besides swapper_space; 0 if absent */
  nr_files?: number;
  /** trace-only events per CPU (a power of two), 0 or absent unless tracing */
  trace_ring?: number;
  /** seed 004 (E3): ZONE_DEVICE pfns nr_pages .. nr_pages + nr_dev_pages - 1 (kernel-notes 1.1); 0 or absent: none */
  nr_dev_pages?: number;
}

export const DEFAULT_SIZES: MachineSizes = { nr_pages: 2048, nr_mm: 64, nr_vma: 256, nr_anon_vma: 1024, nr_cpus: 4, nr_files: 4 };

/** PCT change points a controlled run may carry (bug depth up to PCT_MAX_DEPTH) */
export const PCT_MAX_DEPTH = 16;

/**
 * The controlled executor's scheduler (src/worker/sched_*.ts, strategies.ts).
 * Exactly one CPU holds the token and runs; every field is written only by
 * the token holder (or by the executor before the CPUs start), and the
 * hand-off's Atomics store/load on run[] orders those writes for the next
 * holder. Records of different CPUs may share lines: only one CPU runs at a
 * time. rec_next alone is used by free-running CPUs (capture), atomically.
 */
export const SCHED = defineStruct('sched', {
  strategy: 1, // STRAT_*: random walk, PCT, replay of a schedule
  token: 1, // the CPU holding the token
  step: 1, // scheduling decisions so far (every preemption point, spin yield and exit of the holder)
  max_steps: 1, // the step bound: then stop is asked for
  grace_steps: 1, // decisions allowed after the stop before the run is a livelock
  preemptions: 1, // hand-offs away from a CPU that could have gone on
  gen: 1, // release generation: bumped by every lock release and CPU exit
  rng: 1, // xorshift32 state of the strategy (random walk, PCT set-up, replay fallback)
  depth: 1, // PCT bug depth d
  nchange: 1, // PCT change points (d - 1)
  next_change: 1, // index of the next change point
  change: PCT_MAX_DEPTH, // PCT change point steps, ascending
  diverged: 1, // replay: decision at which the run left its schedule, 0 = followed it
  fallback: 1, // replay: FALLBACK_* once the schedule is used up or cannot be followed
  ops_quota: 1, // operations each CPU runs before it stops (0 = until told)
  abort: 1, // set by the executor's watchdog: waiting CPUs unwind
  rec_next: 1, // capture (free-running): the next preemption-point number, Atomics.add
  run: MAX_CPUS, // futex word per CPU: 1 while it holds the token
  state: MAX_CPUS, // TASK_* in src/worker/sched_state.ts
  wait_gen: MAX_CPUS, // gen when the CPU last found its wait unfinished
  pp: MAX_CPUS, // the CPU's preemption points (program points and its exit)
  spin: MAX_CPUS, // spin yields since its last preemption point
  prio: MAX_CPUS, // PCT priority (higher runs)
  // xspeed: the exhaustive search's sleep-set cut (src/worker/sleep_cut.ts)
  sleep: 1, // the CPUs asleep: bit per CPU
  cut: 1, // the decision at which the run became redundant and was stopped (0: not cut)
}, { padTo: 16 });

// seed 004 (E3): device memory (kernel/memremap.c, src/mm/memremap.ts) and its driver (src/drivers/dmirror.ts)

/** pgmap ids: PGMAP_ID_BASE + k for the k-th dev_pagemap; never a pfn nor an LRU head, so a
 *  page->lru link written over page->pgmap cannot pass for one */
export const PGMAP_ID_BASE = 0x10000000;
export const NR_PGMAPS = 2;
export const MEMORY_DEVICE_PRIVATE = 1;

/** struct dev_pagemap: type and the driver's callbacks (ids of functions, src/mm/memremap.ts) */
export const DEV_PAGEMAP = defineStruct('dev_pagemap', {
  live: 1, // registered (devm_memremap_pages)
  type: 1, // MEMORY_DEVICE_PRIVATE
  page_fault: 1, // callback id: the driver's migrate-back-to-RAM routine
  page_free: 1, // callback id: the page returns to the driver's free pool
  data: 1, // the driver's device id
  first_pfn: 1, nr: 1, // the pfn range it covers (constant)
}, { padTo: 8 });

/**
 * the device driver's state (a dmirror-like device; LC_DEVMEM guards the
 * free stack and the mirror). devmem[dev][w] holds what the device stores;
 * the CPU cannot address it (C-DEVMEM)
 */
export const DMIRROR = defineStruct('dmirror', {
  lock: SPINLOCK.stride, // LC_DEVMEM: nr_free, the free stack, mirror[]
  nr_free: 1,
  copy_delay_us: 1, // knob: alloc_and_copy's DMA time
  replay_delay_us: 1, // knob: the mirror's fault replay delay
  wake_delay_us: 1, // knob: a migration_entry_wait waiter's scheduling latency once woken, before it drops its reference (E3)
  devlru_note: 1, // knob: C-DEVLRU only traces (EV_DEV_LRU) and the run goes on, to show what the lost pgmap does next
}, { padTo: 16 });
/** mirror[dev] words: the mm and address a device page backs (0 = idle) */
export const DEV_MIRROR = defineStruct('dev_mirror', { mm: 1, addr: 1 });

// cov (session 22, issue 14 item 2): race-window coverage
/** race-window counters a CPU has room for; src/cpu/windows.ts checks its table against it at load */
export const WINDOW_SLOTS = 48;
/**
 * per-CPU race-window counters (src/cpu/windows.ts): count[w] is how often
 * this CPU stood in window w. Written only by the owning CPU, without
 * Atomics; on their own cache lines, away from CPUSTAT's
 */
export const WINSTAT = defineStruct('winstat', { count: WINDOW_SLOTS }, { padTo: 16 });

// scale2 (session 24, issue 16 item 3): the per-CPU LRU pagevecs (2.6.16-2.6.18 mm/swap.c)
/** pages a pagevec holds (include/linux/pagevec.h) */
export const PAGEVEC_SIZE = 14;
/**
 * a CPU's lru_add_pvecs and lru_add_active_pvecs (src/mm/swap.ts), in a region of their own (kernel state,
 * not PERCPU), each CPU's on its own cache lines. A page in one holds the pagevec's reference and is not
 * yet PG_lru. Its CPU uses them inside get_cpu_var (preemption off in the kernel; here `busy` holds its tag);
 * lru_add_drain_all drains them for it, claiming `busy` the same way (what schedule_on_each_cpu's work on
 * that CPU did between two of its preempt-off sections).
 */
export const PAGEVEC = defineStruct('lru_add_pvecs', {
  busy: 1, // 0, or the tag (cpu + 1) of the CPU inside get_cpu_var on them (their owner, or a drainer for it), with SLEEPERS when a claimant parks
  nr: 1, // lru_add_pvecs: pages bound for the inactive list
  pages: PAGEVEC_SIZE,
  nr_active: 1, // lru_add_active_pvecs: pages bound for the active list
  active: PAGEVEC_SIZE,
}, { padTo: 16 });
