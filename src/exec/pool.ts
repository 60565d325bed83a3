// The CPU worker pool. Every CPU must run at once (CPUs wait for each
// other), so min = max = N threads and no idle timeout.
//
// Which worker file: compiled JS whenever it is there and not older than
// the sources (npm test and npm run bench build first); otherwise, when we
// run from TypeScript (vitest, tsx), the TypeScript worker through tsx.
// tsx's loader hooks slow a worker down about tenfold, so compiled workers
// are what every measured figure uses.
import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const fromTs = import.meta.url.endsWith('.ts');
const root = join(here, '..', '..', ...(fromTs ? [] : ['..']));

function newest_source_mtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest_source_mtime(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

let choice: { file: string; compiled: boolean } | null = null;

export function worker_file(): { file: string; compiled: boolean } {
  if (choice) return choice;
  const js = join(root, 'dist', 'workers', 'cpu.js');
  if (!fromTs) return (choice = { file: js, compiled: true });
  const fresh = existsSync(js) && statSync(js).mtimeMs >= Math.max(newest_source_mtime(join(root, 'src')), newest_source_mtime(join(root, 'workers')));
  return (choice = fresh ? { file: js, compiled: true } : { file: join(root, 'workers', 'cpu.ts'), compiled: false });
}

/** compiled workers need no TypeScript loader */
function without_tsx(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '--import' || argv[i] === '--require' || argv[i] === '--loader') && /tsx/.test(argv[i + 1] ?? '')) { i++; continue; }
    if (/^--(import|require|loader)=.*tsx/.test(argv[i])) continue;
    out.push(argv[i]);
  }
  return out;
}

/** pools created in this process (free runs and controlled executors; tests read it) */
export let pools_created = 0;

export function create_pool(nr_cpus: number): Piscina {
  pools_created++;
  const w = worker_file();
  return new Piscina({
    filename: w.file,
    minThreads: nr_cpus,
    maxThreads: nr_cpus,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: 1,
    // source maps: a BUG's call trace names the .ts line, as the kernel names its .c line
    execArgv: w.compiled ? [...without_tsx(process.execArgv), '--enable-source-maps'] : [...process.execArgv, '--import', 'tsx'],
  });
}

/**
 * Idle pools kept between the free runs of this process, one per CPU count.
 * A worker loads the whole model (about 0.3 s of CPU), so a run in a new
 * pool of 3 CPUs started about half a second later than one in a kept pool:
 * most of a short run, and of `npm test`. A kept worker runs one run after
 * another, as the controlled executor's always have: each task attaches to
 * its run's Machine and resets its CPU's own state (src/worker/cpu_main.ts);
 * a scenario module's module-level state lives as long as the worker. Only a
 * pool whose every task settled is kept (a CPU the run gave up on may still
 * be looping), and idle workers do not keep the process alive (piscina
 * unrefs them).
 */
const idle = new Map<number, Piscina>();
/** at most this many idle workers in all: a bench sweep of 1, 2, 4 and 8 CPUs keeps 15 */
const MAX_IDLE_THREADS = 16;

/** a pool of nr_cpus workers for a free run: a kept one if there is one */
export function take_pool(nr_cpus: number): Piscina {
  const p = idle.get(nr_cpus);
  if (p === undefined) return create_pool(nr_cpus);
  idle.delete(nr_cpus);
  return p;
}

/** the free run is over: keep its pool for the next run of as many CPUs if every task settled (and there is room), else tear it down */
export async function give_back_pool(pool: Piscina, nr_cpus: number, settled: boolean): Promise<void> {
  let kept = 0;
  for (const n of idle.keys()) kept += n;
  if (!settled || idle.has(nr_cpus) || kept + nr_cpus > MAX_IDLE_THREADS) { await pool.destroy(); return; }
  // an 'error' with no listener would throw in the main thread: a worker that fails while idle belongs to no
  // run (piscina replaces it), and the next run's own listener is added when it takes the pool
  if (pool.listenerCount('error') === 0) pool.on('error', ignore_idle_error);
  idle.set(nr_cpus, pool);
}

const ignore_idle_error = (): void => {};

/** tear down every kept pool (a measurement of this process's memory must not count idle workers) */
export async function drain_pools(): Promise<void> {
  const ps = [...idle.values()];
  idle.clear();
  await Promise.all(ps.map((p) => p.destroy()));
}
