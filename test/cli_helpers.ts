// Running the built CLI as a user does: a child process, its exit code and output.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const root = new URL('..', import.meta.url).pathname;
export const cli = join(root, 'dist/src/cli.js');

export interface CliResult { code: number | null; signal?: NodeJS.Signals | null; out: string; err: string }

function need_dist(): void {
  if (!existsSync(cli)) throw new Error('dist/ is missing: run npm run build (npm test does)');
}

/** mmrace with these arguments, to the end; `opts.cwd` defaults to the repository, `opts.env` adds variables */
export function mmrace(...args: (string | { cwd?: string; env?: Record<string, string> })[]): CliResult {
  need_dist();
  const opts = typeof args[args.length - 1] === 'object' ? args.pop() as { cwd?: string; env?: Record<string, string> } : {};
  const r = spawnSync(process.execPath, [cli, ...(args as string[])], {
    cwd: opts.cwd ?? root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: 'true', ...opts.env },
  });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/**
 * mmrace started in the background, driven by what it prints: each step's
 * `when` is tried on all of stdout and stderr so far until it holds, then its
 * `then` runs (send a signal), then the next step's; resolves when the
 * process ends
 */
export function mmrace_until(args: string[], steps: [when: (out: string) => boolean, then: (pid: number) => void][],
  opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  need_dist();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { cwd: opts.cwd ?? root, env: { ...process.env, CI: 'true', ...opts.env } });
    let out = '', err = '', next = 0;
    const look = () => { while (next < steps.length && steps[next][0](out + err)) steps[next++][1](p.pid!); };
    p.stdout.on('data', (d) => { out += d; look(); });
    p.stderr.on('data', (d) => { err += d; look(); });
    p.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

export const tmp = () => mkdtempSync(join(tmpdir(), 'mmrace-'));

/**
 * the source of a user scenario module with an ABBA on two page_table_locks
 * (CPUs alternate 'ab' and 'ba'), importing the built index by URL; `prelude`
 * goes before the export (e.g. a side effect the test looks for)
 */
export function abba_module_source(name: string, prelude = ''): string {
  const index = pathToFileURL(join(root, 'dist/src/index.js')).href;
  return `import { mm_alloc, mm_base, MM, spin_lock, spin_unlock, LC_PAGE_TABLE_LOCK } from ${JSON.stringify(index)};
${prelude}
export default {
  name: ${JSON.stringify(name)},
  roles: (n) => Array.from({ length: n }, (_, c) => (c % 2 === 0 ? 'ab' : 'ba')),
  setup: () => ({ a: mm_alloc(), b: mm_alloc() }),
  run(ctx) {
    const A = mm_base(ctx.setup.a) + MM.page_table_lock, B = mm_base(ctx.setup.b) + MM.page_table_lock;
    const [first, second] = ctx.role === 'ab' ? [A, B] : [B, A];
    while (!ctx.should_stop()) { spin_lock(first, LC_PAGE_TABLE_LOCK); spin_lock(second, LC_PAGE_TABLE_LOCK); spin_unlock(second); spin_unlock(first); ctx.op_done(); }
  },
};
`;
}
