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

/**
 * one child's `mmrace run ... --cpus 1 --json`: its ops/s; null when a signal
 * stopped it (a ^C reaches the children too: the bench then ends with its
 * partial report, without this ceiling); an Error with the child's outcome and
 * reason when it failed (a fixed scale run that is not clean is a model bug)
 */
function run_child(args: string[], json: string): Promise<number | null> {
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args, '--json', json], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const report = (): { ops_per_s: number; outcome: string; reason: string } | null => {
        try { return JSON.parse(readFileSync(json, 'utf8')) as { ops_per_s: number; outcome: string; reason: string }; } catch { return null; }
      };
      if (err) {
        const e = err as { code?: unknown; signal?: unknown };
        if (e.signal || e.code === 130 || e.code === 143) { resolve(null); return; }
        const r = report();
        const why = r ? `${r.outcome}: ${r.reason}` : (`${stderr}${stdout}`.split('\n').find((l) => l.trim() !== '') ?? '');
        reject(new Error(`bench: a separate process (mmrace ${args.join(' ')}) ended with exit ${String(e.code)}: ${why}`));
        return;
      }
      const r = report();
      if (r) resolve(r.ops_per_s); else reject(new Error(`bench: a separate process (mmrace ${args.join(' ')}) wrote no JSON report`));
    });
  });
}

/** n processes of one CPU each, started together: their ops/s summed; null if a signal stopped one */
export async function procs_point(n: number, o: ProcsOptions): Promise<number | null> {
  const dir = mkdtempSync(join(tmpdir(), 'mmrace-procs-'));
  try {
    const runs = Array.from({ length: n }, (_, k) => run_child(['run', o.scenario, '--protocol', 'fixed', '--cpus', '1', '--jitter', 'none',
      '--duration', String(o.duration_ms / 1000), '--seed', String(o.seed + k), ...(o.era === undefined ? [] : ['--era', String(o.era)])], join(dir, `${k}.json`)));
    const got = await Promise.all(runs);
    return got.some((v) => v === null) ? null : got.reduce((a: number, v) => a + (v as number), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
