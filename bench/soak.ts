// npm run soak -- <scenario> [runs] [cpus] [ops] [jitter] [fixed|buggy]: a
// protocol run over and over on fresh Machines, each run with its own seed;
// stops at the first failure and prints its splat. Fixed (the default) is
// how swap-stress was soaked (see the README): a clean soak is a count,
// never a proof. Buggy hunts a rare race (swapin-entry-reuse): it says how
// many runs and operations it took, or that none of them failed.
import { run_free } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { JITTER_NAMES } from '../src/worker/jitter.js';

const [name = 'swap-stress', runsArg = '20', cpusArg = '5', opsArg = '1000000', jitterArg = 'heavy', protoArg = 'fixed'] = process.argv.slice(2);
const scenario = SCENARIOS.find((s) => s.name === name);
const jitter = JITTER_NAMES.indexOf(jitterArg as (typeof JITTER_NAMES)[number]);
const runs = Number(runsArg), cpus = Number(cpusArg), ops = Number(opsArg);
if (!scenario || jitter < 0 || !(runs > 0) || !(cpus > 0) || !(ops > 0) || (protoArg !== 'fixed' && protoArg !== 'buggy')) {
  console.error(`soak: usage: npm run soak -- <${SCENARIOS.map((s) => s.name).join('|')}> [runs] [cpus] [ops] [none|light|heavy] [fixed|buggy]`);
  process.exit(2);
}
const protocol = protoArg as 'fixed' | 'buggy';
const t0 = performance.now();
let total = 0;
for (let k = 0; k < runs; k++) {
  const seed = 5000 + k;
  const r = await run_free({ scenario, scenarioRef: scenario.name, protocol, cpus, ops, duration_ms: 0, seed, jitter });
  total += r.ops;
  if (r.outcome !== 'clean') {
    console.log(`soak ${name} (${protocol}): run ${k + 1}/${runs} (seed ${seed}) ended ${r.outcome} after ${total} ops in all, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s:\n${r.oops?.text ?? r.invariants.join('\n')}`);
    process.exit(1);
  }
}
console.log(`soak ${name} (${protocol}): ${runs} runs x ${ops} ops on ${cpus} CPUs, jitter ${jitterArg}: all clean (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
