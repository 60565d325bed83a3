// The CPU worker pool. Every CPU must run at once (CPUs wait for each
// other), so min = max = N threads and no idle timeout. Compiled JS runs
// from dist/; under tsx or vitest the TypeScript worker is loaded through tsx.
import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const fromTs = import.meta.url.endsWith('.ts');

export function worker_file(): string {
  return fromTs ? join(here, '..', '..', 'workers', 'cpu.ts') : join(here, '..', '..', 'workers', 'cpu.js');
}

export function create_pool(nr_cpus: number): Piscina {
  const execArgv = fromTs ? [...process.execArgv.filter((a) => !a.startsWith('--max-old')), '--import', 'tsx'] : [...process.execArgv];
  const pool = new Piscina({
    filename: worker_file(),
    minThreads: nr_cpus,
    maxThreads: nr_cpus,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: 1,
    execArgv,
  });
  return pool;
}
