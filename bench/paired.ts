// Load-robust same-process ratios for issue 16 item 1 (and issue 18's bench
// clause, comparing builds on a busy machine): short batches of the
// raw baseline and of the measured path, interleaved, so that both see the
// same load; the figure is the median of the per-round ratios (and
// min(path)/min(raw), the least disturbed batch of each). tinybench's rows
// (bench/micro.ts) time each task for a stretch of its own, which on a shared
// 2-core machine can put the raw baseline and the path under different
// loads: npm run bench prints both, and these are the ones to read
// against the goals.
//   node dist/bench/paired.js [--json] [built worktree ...]   (default: this one)
// Each worktree must be built (its dist/); a build of another commit is
// loaded by path, so one copy of this file compares old and new builds.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const BATCH_FAULTS = 5000, BATCH_PAIRS = 20000, ROUNDS = 300;

/** median and min/min ratios of each measured path to its raw baseline */
export interface PairedRatios {
  rounds: number;
  write_fault: { median: number; min: number };
  lock_pair: { median: number; min: number };
  lock_pair_lock_stat_off: { median: number; min: number };
}

async function measure(wt: string): Promise<PairedRatios> {
  const d = (p: string): Promise<any> => import(pathToFileURL(resolve(wt, 'dist/src', p)).href);
  const M = await d('shm/machine.js');
  const { DEFAULT_SIZES, PAGE } = await d('shm/layout.js');
  const { set_current_cpu } = await d('cpu/current.js');
  const { mem_init } = await d('mm/init.js');
  const { do_mmap_anon, mm_alloc } = await d('mm/mmap.js');
  const { user_access } = await d('cpu/mmu.js');
  const { flush_tlb_page } = await d('cpu/tlb.js');
  const { PROT_READ, PROT_WRITE } = await d('mm/mm_types.js');
  const { pte_offset, pte_table } = await d('mm/pagewalk.js');
  const { _PAGE_RW } = await d('mm/pgtable.js');
  const { spin_lock, spin_unlock } = await d('sync/spinlock.js');
  const { LC_PTL } = await d('sync/lock_class.js');
  const { alloc_page } = await d('mm/page_alloc.js');
  const { lock_stat_attach } = await d('sync/lock_stat.js');
  const { GLOBALS } = await d('shm/layout.js');
  M.createMachineBuffer({ ...DEFAULT_SIZES, nr_pages: 4096, nr_cpus: 1 });
  mem_init({ bugs: 0, jitter: 0, seed: 1, ops_budget: 0 });
  set_current_cpu(0, 1);
  // the same workloads as bench/micro.ts's rows
  const BASE = 0x20000;
  const parent = mm_alloc();
  do_mmap_anon(parent, BASE, 32 * 4096, PROT_READ | PROT_WRITE);
  for (let p = 0; p < 32; p++) user_access(parent, BASE + p * 4096, 0, true, p);
  const slot = pte_offset(pte_table(parent, BASE), BASE);
  const ptl = M.page_base(alloc_page()) + PAGE.ptl;
  const raw = new Int32Array(new SharedArrayBuffer(64));
  const rawStep = () => {
    for (let k = 0; k < BATCH_FAULTS; k++) {
      while (Atomics.compareExchange(raw, 0, 0, 1) !== 0);
      const v = Atomics.load(raw, 4); Atomics.store(raw, 4, v ^ 2);
      Atomics.store(raw, 0, 0);
    }
  };
  const writeFault = () => {
    for (let k = 0; k < BATCH_FAULTS; k++) {
      Atomics.and(M.i32, slot, ~_PAGE_RW);
      flush_tlb_page(parent, slot);
      user_access(parent, BASE, 1, true, k);
    }
  };
  const rawPair = () => { for (let k = 0; k < BATCH_PAIRS; k++) { while (Atomics.compareExchange(raw, 0, 0, 1) !== 0); Atomics.store(raw, 0, 0); } };
  const lockPair = () => { for (let k = 0; k < BATCH_PAIRS; k++) { spin_lock(ptl, LC_PTL); spin_unlock(ptl); } };
  const time = (f: () => void) => { const t0 = performance.now(); f(); return performance.now() - t0; };
  const ratios = (base: () => void, path: () => void): [number, number] => {
    for (let i = 0; i < 20; i++) { base(); path(); }
    const b: number[] = [], p: number[] = [];
    for (let i = 0; i < ROUNDS; i++) { b.push(time(base)); p.push(time(path)); }
    const r = p.map((x, i) => x / b[i]).sort((x, y) => x - y);
    return [r[r.length >> 1], Math.min(...p) / Math.min(...b)];
  };
  const [wfMed, wfMin] = ratios(rawStep, writeFault);
  const [lpMed, lpMin] = ratios(rawPair, lockPair);
  // --no-lock-stat (CONFIG_LOCK_STAT=n): the pair with lockdep's check and the held stack only
  const off = M.BASES.globals + GLOBALS.lock_stat_off;
  M.i32[off] = 1; lock_stat_attach();
  const [loMed, loMin] = ratios(rawPair, lockPair);
  M.i32[off] = 0; lock_stat_attach();
  return { rounds: ROUNDS, write_fault: { median: wfMed, min: wfMin }, lock_pair: { median: lpMed, min: lpMin }, lock_pair_lock_stat_off: { median: loMed, min: loMin } };
}

/** one line of a build's ratios */
export function paired_line(r: PairedRatios): string {
  const x = (v: { median: number; min: number }) => `${v.median.toFixed(2)}x (min/min ${v.min.toFixed(2)}x)`;
  return `write fault ${x(r.write_fault)} the raw lock+PTE step; spin_lock/spin_unlock pair ${x(r.lock_pair)} a raw Atomics pair, ${x(r.lock_pair_lock_stat_off)} with lock_stat off`;
}

// run as a script (not when npm run bench imports paired_line)
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const trees = args.filter((a) => a !== '--json');
  // one build per process: each attaches a Machine of its own to its own module instances
  if (trees.length <= 1) {
    const r = await measure(trees[0] ?? process.cwd());
    console.log(json ? JSON.stringify(r) : `${trees[0] ?? process.cwd()}: ${paired_line(r)}`);
  } else {
    const { execFileSync } = await import('node:child_process');
    for (const t of trees) process.stdout.write(execFileSync(process.execPath, [process.argv[1], ...(json ? ['--json'] : []), t], { encoding: 'utf8' }));
  }
}
