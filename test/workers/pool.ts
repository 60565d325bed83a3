// The piscina pool the lock tests hammer with: n threads running
// test/workers/hammer.ts through tsx, torn down after the file.
import { afterAll } from 'vitest';
import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';

export function hammer_pool(n: number): Piscina {
  const pool = new Piscina({
    filename: fileURLToPath(new URL('./hammer.ts', import.meta.url)),
    minThreads: n, maxThreads: n, idleTimeout: Infinity,
    execArgv: [...process.execArgv, '--import', 'tsx'],
  });
  pool.on('error', (e) => { throw e; });
  afterAll(async () => { await pool.destroy(); });
  return pool;
}
