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

export function create_pool(nr_cpus: number): Piscina {
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
