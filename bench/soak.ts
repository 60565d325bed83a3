// npm run soak -- <scenario> [runs] [cpus] [ops] [jitter] [fixed|buggy]: a
// protocol run over and over on fresh Machines, each run with its own seed;
// stops at the first failure and prints its splat. Fixed (the default) is
// how swap-stress was soaked (see the README): a clean soak is a count,
// never a proof. Buggy hunts a rare race (swapin-entry-reuse): it says how
// many runs and operations it took, or that none of them failed.
import { run_free } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { JITTER_NAMES } from '../src/worker/jitter.js';
import { MAX_CPUS } from '../src/shm/layout.js';
import { UsageError, clip, int, oneOf } from '../src/cli/args.js';

const USAGE = `soak: usage: npm run soak -- <${SCENARIOS.map((s) => s.name).join('|')}> [runs] [cpus] [ops] [none|light|heavy] [fixed|buggy]`;
const argv = process.argv.slice(2);
const [name = 'swap-stress', runsArg, cpusArg, opsArg, jitterArg = 'heavy', protoArg = 'fixed'] = argv;
let scenario, jitter, runs, cpus, ops;
try {
  // the CLI's own checks: whole decimal numbers in range, names from their lists, nothing extra
  if (argv.length > 6) throw new UsageError(`at most 6 arguments, got ${argv.length}`);
  scenario = SCENARIOS.find((s) => s.name === name);
  if (!scenario) throw new UsageError(`unknown scenario '${clip(name)}'`);
  runs = int('runs', runsArg, 20, 1, 1_000_000);
  cpus = int('cpus', cpusArg, 5, 1, MAX_CPUS);
  ops = int('ops', opsArg, 1_000_000, 1, 2 ** 31 - 1);
  jitter = JITTER_NAMES.indexOf(oneOf('jitter', jitterArg, 'heavy', JITTER_NAMES));
  oneOf('protocol', protoArg, 'fixed', ['fixed', 'buggy'] as const);
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`soak: error: ${e.message.replace(/^--/, '')}\n${USAGE}`);
  process.exit(2);
}
const protocol = protoArg as 'fixed' | 'buggy';
const t0 = performance.now();
let total = 0;
for (let k = 0; k < runs; k++) {
  const seed = 5000 + k;
  const r = await run_free({ scenario, scenarioImport: scenario.name, protocol, cpus, ops, duration_ms: 0, seed, jitter });
  total += r.ops;
  if (r.outcome !== 'clean') {
    console.log(`soak ${name} (${protocol}): run ${k + 1}/${runs} (seed ${seed}) ended ${r.outcome} after ${total} ops in all, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s:\n${r.oops?.text ?? r.invariants.join('\n')}`);
    process.exit(1);
  }
}
console.log(`soak ${name} (${protocol}): ${runs} runs x ${ops} ops on ${cpus} CPUs, jitter ${jitterArg}: all clean (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
