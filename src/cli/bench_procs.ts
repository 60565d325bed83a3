// The separate-processes ceiling of `mmrace bench scale` (issue 16 item 4):
// the same model, as n processes of one CPU each running at once. They share
// nothing, no Machine, lock or counter, so their summed ops/s over one such
// process alone is what this machine gives the model's own code and working
// set on n cores. The raw harness (bench_raw.ts) measures a far smaller loop,
// which gets nearer 2x than anything of the model's size can; the model's
// n-CPU speedup over this ratio is what sharing one Machine costs.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProcsOptions {
  /** what the children run: a registered scenario's name or a module path, as typed */
  scenario: string;
  era?: number;
  seed: number;
  duration_ms: number;
}

/** one child's `mmrace run ... --cpus 1 --json`: its ops/s, or an Error naming its exit and first line of output */
function run_child(args: string[], json: string): Promise<number> {
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args, '--json', json], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && (err as { code?: unknown }).code !== 0) {
        const first = `${stderr}${stdout}`.split('\n').find((l) => l.trim() !== '') ?? '';
        reject(new Error(`bench: a separate process (mmrace ${args.join(' ')}) ended with exit ${String((err as { code?: unknown }).code)}: ${first}`));
        return;
      }
      try { resolve((JSON.parse(readFileSync(json, 'utf8')) as { ops_per_s: number }).ops_per_s); } catch (e) { reject(e as Error); }
    });
  });
}

/** n processes of one CPU each, started together: their ops/s summed */
export async function procs_point(n: number, o: ProcsOptions): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'mmrace-procs-'));
  try {
    const runs = Array.from({ length: n }, (_, k) => run_child(['run', o.scenario, '--protocol', 'fixed', '--cpus', '1', '--jitter', 'none',
      '--duration', String(o.duration_ms / 1000), '--seed', String(o.seed + k), ...(o.era === undefined ? [] : ['--era', String(o.era)])], join(dir, `${k}.json`)));
    return (await Promise.all(runs)).reduce((a, v) => a + v, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
