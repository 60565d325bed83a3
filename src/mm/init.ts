// Boot: mem_init for the page allocator and the slab-like id allocators,
// and the run-wide configuration every CPU reads.
import { CPUSTAT, EVENT, GLOBALS, LAT_BUCKETS, LOCKSTAT, LOCKSTAT_NR_PATHS, LOCKSTAT_RW, NR_LAT_KINDS, PERCPU } from '../shm/layout.js';
import { BASES, f64, i32, sizes } from '../shm/machine.js';
import { NR_LOCK_CLASSES } from '../sync/lock_class.js';
import { lock_stat_attach } from '../sync/lock_stat.js';
import { init_zone } from './page_alloc.js';
import { init_id_allocators } from './mmap.js';
import { swap_init } from './swapfile.js';
import { DEFAULT_ERA, era_boot } from '../shm/era.js';
import { mapping_init } from './filemap.js';
import { E0 } from '../shm/era.js';
import { nr_anonmm } from '../shm/machine.js';
import { init_anonmm } from './rmap_anonmm.js';
import { zero_page_init } from './memory.js';
import { WINSTAT } from '../shm/layout.js'; // cov

export interface BootConfig {
  bugs: number; jitter: number; seed: number; ops_budget: number; trace?: boolean;
  /** false: lock_stat off (--no-lock-stat: CONFIG_LOCK_STAT=n) */
  lock_stat?: boolean;
  /** E0..E4 (src/shm/era.ts); default E2 */
  era?: number;
  /** the bounds checker only notes the first out-of-bounds access (src/check/bounds.ts) */
  bounds_note?: boolean;
}

export function mem_init(cfg: BootConfig): void {
  era_boot(cfg.era ?? DEFAULT_ERA); // first: swap_init places the guard after the era's swap_info[]
  init_zone();
  init_id_allocators();
  swap_init();
  mapping_init();
  init_anonmm(nr_anonmm(sizes)); // seed 003: the anonmm ids (used in E0 only)
  if ((cfg.era ?? DEFAULT_ERA) === E0) zero_page_init();
  const gb = BASES.globals;
  i32[gb + GLOBALS.bugs] = cfg.bugs;
  i32[gb + GLOBALS.jitter] = cfg.jitter;
  i32[gb + GLOBALS.seed] = cfg.seed;
  i32[gb + GLOBALS.nr_cpus] = sizes.nr_cpus;
  i32[gb + GLOBALS.ops_budget] = cfg.ops_budget;
  i32[gb + GLOBALS.bounds_note] = cfg.bounds_note ? 1 : 0;
  i32[gb + GLOBALS.trace] = cfg.trace ? 1 : 0;
  i32[gb + GLOBALS.lock_stat_off] = cfg.lock_stat === false ? 1 : 0;
  lock_stat_attach(); // the boot CPU (this thread) runs setup with the run's lock_stat
}

/** forget what scenario setup did on the boot CPU: counters, rings, held locks */
export function reset_cpu_accounting(): void {
  const n = sizes.nr_cpus;
  i32.fill(0, BASES.percpu, BASES.percpu + n * PERCPU.stride);
  i32.fill(0, BASES.cpustat, BASES.cpustat + n * CPUSTAT.stride);
  i32.fill(0, BASES.events, BASES.events + n * BASES.ring * EVENT.stride);
  f64.fill(0, BASES.events_ts_f64, BASES.events_ts_f64 + n * BASES.ring);
  i32.fill(0, BASES.tevents, BASES.tevents + n * BASES.tring * EVENT.stride);
  i32.fill(0, BASES.lat, BASES.lat + n * NR_LAT_KINDS * LAT_BUCKETS);
  i32.fill(0, BASES.lockstat_points, BASES.lockstat_points + n * NR_LOCK_CLASSES * LOCKSTAT_NR_PATHS);
  i32.fill(0, BASES.lockstat_contending, BASES.lockstat_contending + n * NR_LOCK_CLASSES * LOCKSTAT_NR_PATHS);
  // lockdep keeps what setup taught it (as the kernel keeps boot-time dependencies)
  f64.fill(0, BASES.lockstat_f64, BASES.lockstat_f64 + n * NR_LOCK_CLASSES * LOCKSTAT_RW * LOCKSTAT.stride);
  i32.fill(0, BASES.winstat, BASES.winstat + n * WINSTAT.stride); // cov: setup's paths opened no window of the run
  Atomics.store(i32, BASES.seq, 0);
}
