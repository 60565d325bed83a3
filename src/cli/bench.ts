// mmrace bench: one scenario across CPU counts.
import { parseArgs } from 'node:util';
import { check_output, write_output } from './outputs.js';
import { loadScenario, scenarioModuleUrl } from '../scenarios/registry.js';
import { JITTER_NAMES } from '../worker/jitter.js';
import { availableParallelism } from 'node:os';
import { run_bench } from './bench_run.js';
import { format_bench, format_bench_point } from '../report/bench_text.js';
import { render_html } from '../report/html.js';
import { UsageError, cpu_list, outcomes_exit, era_arg, int, num, oneOf } from './args.js';
import { scenario_era } from '../exec/boot.js';
import { VERSION } from './version.js';
import { interrupted } from './interrupt.js';

export async function cmd_bench(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      protocol: { type: 'string' }, cpus: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' },
      jitter: { type: 'string' }, json: { type: 'string' }, report: { type: 'string' }, watchdog: { type: 'string' }, warmup: { type: 'string' }, era: { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one scenario expected, got ${positionals.length}` : 'bench needs a scenario (see mmrace list)');
  const warmup_ms = num('warmup', values.warmup, 0.5, 0, 600) * 1000;
  const cpus_list = cpu_list(values.cpus);
  const protocol = oneOf('protocol', values.protocol, 'fixed', ['buggy', 'fixed'] as const);
  const duration_ms = num('duration', values.duration, 2, 0.05, 3600) * 1000;
  const seed = int('seed', values.seed, 1, 0, 2 ** 31 - 1);
  const jitter = JITTER_NAMES.indexOf(oneOf('jitter', values.jitter, 'none', JITTER_NAMES));
  const watchdog_ms = num('watchdog', values.watchdog, 15, 0.1, 3600) * 1000;
  const rounds = int('rounds', values.rounds, 1, 1, 100);
  const era = era_arg(values.era);
  check_output('json', values.json);
  check_output('report', values.report);
  let scenario;
  try { scenario = await loadScenario(positionals[0]); } catch (e) { throw new UsageError((e as Error).message); }
  const ref = scenarioModuleUrl(positionals[0]) ?? scenario.name;
  scenario_era(scenario, era);
  const cores = availableParallelism();
  console.log(`mmrace bench ${scenario.name} (${protocol}): ${cpus_list.join(', ')} CPUs${rounds > 1 ? `, ${rounds} rounds` : ''}, ${warmup_ms / 1000} s warm-up + ${duration_ms / 1000} s each, on ${cores} host cores`);
  const r = await run_bench({ scenario, scenarioImport: ref, scenarioAsTyped: positionals[0], protocol, cpus_list, duration_ms, warmup_ms, seed, jitter, watchdog_ms, era, interrupt: interrupted, rounds,
    ceilings: scenario.name === 'scale', // scale: the raw harness's and separate processes' ratios beside the model's, same run
    on_point: (p, k) => console.log((rounds > 1 ? `round ${k + 1}: ` : '') + format_bench_point(p, cores)) }, VERSION);
  console.log('\n' + format_bench(r));
  if (values.json) write_output(values.json, () => JSON.stringify(r, null, 2) + '\n');
  if (values.report && write_output(values.report, () => render_html(r))) console.log(`report: ${values.report}`);
  return outcomes_exit(r.points.map((p) => p.outcome));
}
