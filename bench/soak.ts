// npm run soak -- <scenario> [runs] [cpus] [ops] [jitter]: the fixed protocol
// run over and over on fresh Machines, each run with its own seed; stops at
// the first failure and prints its splat. This is how swap-stress was soaked
// (see the README); a clean soak is a count, never a proof.
import { run_free } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { JITTER_NAMES } from '../src/exec/jitter.js';

const [name = 'swap-stress', runsArg = '20', cpusArg = '5', opsArg = '1000000', jitterArg = 'heavy'] = process.argv.slice(2);
const scenario = SCENARIOS.find((s) => s.name === name);
const jitter = JITTER_NAMES.indexOf(jitterArg as (typeof JITTER_NAMES)[number]);
const runs = Number(runsArg), cpus = Number(cpusArg), ops = Number(opsArg);
if (!scenario || jitter < 0 || !(runs > 0) || !(cpus > 0) || !(ops > 0)) {
  console.error(`soak: usage: npm run soak -- <${SCENARIOS.map((s) => s.name).join('|')}> [runs] [cpus] [ops] [none|light|heavy]`);
  process.exit(2);
}
const t0 = performance.now();
for (let k = 0; k < runs; k++) {
  const seed = 5000 + k;
  const r = await run_free({ scenario, scenarioRef: scenario.name, protocol: 'fixed', cpus, ops, duration_ms: 0, seed, jitter });
  if (r.outcome !== 'clean') {
    console.log(`soak ${name}: run ${k + 1}/${runs} (seed ${seed}) ended ${r.outcome}:\n${r.oops?.text ?? r.invariants.join('\n')}`);
    process.exit(1);
  }
}
console.log(`soak ${name}: ${runs} runs x ${ops} ops on ${cpus} CPUs, jitter ${jitterArg}: all clean (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
