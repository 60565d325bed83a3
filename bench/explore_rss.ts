// Explore in constant memory (issue 16 item 6): the resident set of a
// process exploring the orphan (fixed protocol, so no run is kept, 2 CPUs,
// PCT d=3) after 100, 1,000 and 10,000 runs (1,000 when quick), with one
// Machine reused across the runs as explore does now, and after 100 and
// 1,000 runs with a new Machine per run as before, in the same process
// after it. RSS is read as it is (no forced GC: --expose-gc is not a flag
// the CPU workers accept).
import { ControlledExecutor } from '../src/exec/controlled.js';
import { explore } from '../src/search/explore.js';
import { orphanedMigrationEntry as S } from '../src/scenarios/orphaned_migration_entry.js';

export interface RssRow { machine: 'reused' | 'new per run'; runs: number; rss_mb: number; heap_mb: number; array_buffers_mb: number; seconds: number }

const mb = (n: number) => n / 2 ** 20;

export async function explore_rss(quick: boolean): Promise<RssRow[]> {
  const rows: RssRow[] = [];
  const base = { scenario: S, scenarioImport: S.name, protocol: 'fixed' as const, cpus: 2, ops: 1, max_steps: 100_000 };
  const last = quick ? 1000 : 10_000;
  for (const [machine, at] of [['reused', [100, 1000, last]], ['new per run', [100, 1000]]] as const) {
    const ex = new ControlledExecutor({ reuse_machine: machine === 'reused' });
    const t0 = performance.now();
    try {
      await explore(ex, {
        base, strategies: ['pct'], iterations: at[at.length - 1], seed: 1, depth: 3, k: 400,
        progress: (_s, done) => {
          if (!(at as readonly number[]).includes(done)) return;
          const m = process.memoryUsage();
          rows.push({ machine, runs: done, rss_mb: mb(m.rss), heap_mb: mb(m.heapUsed), array_buffers_mb: mb(m.arrayBuffers), seconds: (performance.now() - t0) / 1000 });
        },
      });
    } finally {
      await ex.close();
    }
  }
  return rows;
}

export function explore_rss_table(rows: RssRow[]): string {
  const out = ['| Machine | runs | RSS MB | main JS heap MB | ArrayBuffers MB | seconds |', '|---|---:|---:|---:|---:|---:|'];
  for (const r of rows) out.push(`| ${r.machine} | ${r.runs} | ${r.rss_mb.toFixed(0)} | ${r.heap_mb.toFixed(1)} | ${r.array_buffers_mb.toFixed(1)} | ${r.seconds.toFixed(1)} |`);
  const re = rows.filter((r) => r.machine === 'reused');
  const a = re[0], b = re[re.length - 1];
  if (a && b) {
    out.push('', `reused Machine: RSS ${a.rss_mb.toFixed(0)} MB after ${a.runs} runs, ${b.rss_mb.toFixed(0)} MB after ${b.runs} (goal: flat). ` +
      'The ArrayBuffers column is the Machine itself (one, reused); what RSS gains early is the workers\' heaps settling (no forced GC), and it levels off.');
  }
  return out.join('\n');
}
