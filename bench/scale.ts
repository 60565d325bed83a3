// scale (issue 16 item 4): the scale scenario (a process family per CPU,
// nothing shared but what the kernel shares) at 1 and 2 CPUs, with the raw
// harness's own 1 -> 2 worker ratio measured in the same run as the ceiling,
// and work-weighted throughput by kind of operation. The sweep runs several
// rounds in turn (a 2-core VM's figures swing from one run to the next): the
// tables are the median round's, with every round's ratios beside them.
// Figures are measured and printed, never asserted.
import { run_bench } from '../src/cli/bench_run.js';
import { scaling_lines } from '../src/report/bench_text.js';
import { WORKLOADS } from '../src/scenarios/registry.js';
import { VERSION } from '../src/cli/version.js';
import type { BenchReport } from '../src/report/report_types.js';

export async function scale_bench(duration_ms: number, rounds: number, cpus_list = [1, 2]): Promise<{ report: BenchReport; text: string }> {
  const scenario = WORKLOADS.find((s) => s.name === 'scale')!;
  const report = await run_bench({ scenario, scenarioImport: scenario.name, protocol: 'fixed', cpus_list, duration_ms, warmup_ms: 500, seed: 1, jitter: 0, ceilings: true, rounds }, VERSION);
  const notes = report.notes.filter((n) => /role mix|raw harness|not clean|^rounds/.test(n));
  return { report, text: [...scaling_lines(report), '', ...notes.map((n) => `- ${n}`)].join('\n') };
}
