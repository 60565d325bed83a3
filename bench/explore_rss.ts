// Explore in constant memory (issue 16 item 6): the resident set of a
// process exploring the orphan (fixed protocol, so no run is kept, 2 CPUs,
// PCT d=3) after 100 runs and after 10,000 (1,000 when quick), with one
// Machine reused across the runs as explore does now, and (quick: 1,000
// runs at most) with a new Machine per run as before, in the same process
// after it. RSS is read after a forced GC where the process allows one
// (node --expose-gc), else as it is.
import { ControlledExecutor } from '../src/exec/controlled.js';
import { explore } from '../src/search/explore.js';
import { orphanedMigrationEntry as S } from '../src/scenarios/orphaned_migration_entry.js';

export interface RssRow { machine: 'reused' | 'new per run'; runs: number; rss_mb: number; heap_mb: number; seconds: number }

const mb = (n: number) => n / 2 ** 20;

export async function explore_rss(quick: boolean): Promise<RssRow[]> {
  const rows: RssRow[] = [];
  const base = { scenario: S, scenarioImport: S.name, protocol: 'fixed' as const, cpus: 2, ops: 1, max_steps: 100_000 };
  const marks = [100, quick ? 1000 : 10_000];
  for (const [machine, last] of [['reused', marks[1]], ['new per run', Math.min(marks[1], 1000)]] as const) {
    const ex = new ControlledExecutor({ reuse_machine: machine === 'reused' });
    const t0 = performance.now();
    const at = [marks[0], last];
    try {
      await explore(ex, {
        base, strategies: ['pct'], iterations: last, seed: 1, depth: 3, k: 400,
        progress: (_s, done) => {
          if (!at.includes(done)) return;
          (globalThis as { gc?: () => void }).gc?.();
          const m = process.memoryUsage();
          rows.push({ machine, runs: done, rss_mb: mb(m.rss), heap_mb: mb(m.heapUsed), seconds: (performance.now() - t0) / 1000 });
        },
      });
    } finally {
      await ex.close();
    }
  }
  return rows;
}

export function explore_rss_table(rows: RssRow[]): string {
  const out = ['| Machine | runs | RSS MB | JS heap MB | seconds |', '|---|---:|---:|---:|---:|'];
  for (const r of rows) out.push(`| ${r.machine} | ${r.runs} | ${r.rss_mb.toFixed(0)} | ${r.heap_mb.toFixed(1)} | ${r.seconds.toFixed(1)} |`);
  const [a, b] = rows.filter((r) => r.machine === 'reused');
  if (a && b) out.push('', `reused Machine: RSS ${a.rss_mb.toFixed(0)} MB after ${a.runs} runs, ${b.rss_mb.toFixed(0)} MB after ${b.runs} (goal: flat)`);
  return out.join('\n');
}
