// Load-robust same-process ratios for issue 16 item 1 and issue 18's bench
// clause, for comparing builds on a busy machine: short batches of the raw
// baseline and of the measured path, interleaved, so that both see the same
// load; prints the median of the per-round ratios and min(path)/min(raw)
// (the least disturbed batch of each). tinybench's rows (npm run bench) time
// each task for a stretch of its own, which on a shared 2-core machine can
// put the raw baseline and the path under different loads.
//   node dist/bench/paired.js [built worktree ...]   (default: this one)
// Each worktree must be built (its dist/); a build of another commit is
// loaded by path, so one copy of this file compares old and new builds.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const BATCH_FAULTS = 5000, BATCH_PAIRS = 20000, ROUNDS = 300;

async function measure(wt: string): Promise<string> {
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
  return `${wt}: write fault ${wfMed.toFixed(2)}x the raw lock+PTE step (min/min ${wfMin.toFixed(2)}x); spin_lock/spin_unlock pair ${lpMed.toFixed(2)}x a raw Atomics pair (min/min ${lpMin.toFixed(2)}x)`;
}

const trees = process.argv.slice(2);
// one build per process: each attaches a Machine of its own to its own module instances
if (trees.length <= 1) console.log(await measure(trees[0] ?? process.cwd()));
else {
  const { execFileSync } = await import('node:child_process');
  for (const t of trees) process.stdout.write(execFileSync(process.execPath, [process.argv[1], t], { encoding: 'utf8' }));
}
