// npm run bench: primitives and kernel paths (tinybench), then the orphan
// scenario on 1, 2 and 4 CPUs, every raced scenario's time to first failure
// (free-running and explored), then the controlled executor's scheduling
// decisions per second. Figures are measured and printed, never asserted.
// BENCH_QUICK=1 shortens every part; BENCH_PARTS picks some; BENCH_SCENARIOS picks first_failure's scenarios
// (micro,scaling,first_failure,sched,exchange,exhaustive,explore_rss,scale,capture,first_bug_loaded; all by default; first_bug, the part's
// old name, still selects first_failure).
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type PairedRatios, paired_line } from './paired.js';
import { drain_pools } from '../src/exec/pool.js';
import { availableParallelism, loadavg } from 'node:os';
import { device_micro, micro } from './micro.js';
import { device_load } from './device.js';
import { scaling } from './scenario.js';
import { type FirstFailureRow, first_failure, first_failure_options, first_failure_table, raced } from './first_failure.js';
import { pingpong, sched } from './sched.js';
import { exchange_bench } from './exchange.js';
import { exhaustive_bench, exhaustive_table } from './exhaustive.js';
import { explore_rss, explore_rss_table } from './explore_rss.js';
import { scale_bench } from './scale.js'; // scale
import { spread } from '../src/report/bench_text.js'; // scale
import { capture_bench } from './capture.js';
import { first_bug_loaded, first_bug_loaded_options, first_bug_loaded_table } from './first_bug_loaded.js'; // load
import { JITTER_NAMES } from '../src/worker/jitter.js'; // load

const quick = process.env.BENCH_QUICK === '1';
const PARTS = ['micro', 'scaling', 'first_failure', 'sched', 'exchange', 'exhaustive', 'explore_rss', 'scale', 'capture',
  'first_bug_loaded', // load (issue 16 item 5)
];
const ALIASES: Record<string, string> = { first_bug: 'first_failure' };
const parts = (process.env.BENCH_PARTS ?? PARTS.join(',')).split(',').map((x) => ALIASES[x.trim()] ?? x.trim());
for (const p of parts) if (!PARTS.includes(p)) { console.error(`bench: BENCH_PARTS: unknown part '${p}' (${PARTS.join(', ')})`); process.exit(2); }
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const out = process.env.BENCH_JSON;
const figures: Record<string, unknown> = { schema: 'mmrace.microbench/1' };

if (parts.includes('micro')) {
  const m = await micro(quick ? 100 : 500);
  const rawPte = m.find((r) => r.name.startsWith('raw lock + PTE'))!.ns_per_op;
  console.log(`\n## primitives and kernel paths (one thread; ${availableParallelism()} cores)\n`);
  console.log('| operation | ns/op | ops/s | ± % | x raw lock+PTE |\n|---|---:|---:|---:|---:|');
  for (const r of m) console.log(`| ${r.name} | ${f(r.ns_per_op)} | ${f(r.ops_per_s, 0)} | ${f(r.rme)} | ${f(r.ns_per_op / rawPte)} |`);
  // issue 16 item 1's two ratios, each against its raw baseline measured in this same run
  const rawPair = m.find((r) => r.name.startsWith('raw Atomics lock/unlock pair'))!.ns_per_op;
  const lockPair = m.find((r) => r.name.startsWith('spin_lock/spin_unlock (lock_stat'))!.ns_per_op;
  const offPair = m.find((r) => r.name.startsWith('spin_lock/spin_unlock, lock_stat off'))!.ns_per_op;
  const wpFault = m.find((r) => r.name.startsWith('write fault'))!.ns_per_op;
  console.log(`\nsame run: a spin_lock/spin_unlock pair costs ${f(lockPair / rawPair, 2)}x a raw Atomics pair with lock_stat on, ${f(offPair / rawPair, 2)}x with it off (--no-lock-stat) (goal 2x); a write fault ${f(wpFault / rawPte, 1)}x the raw lock+PTE step (goal 10x)`);
  figures.primitive_ratios = { lock_pair_vs_raw_pair: lockPair / rawPair, lock_pair_lock_stat_off_vs_raw_pair: offPair / rawPair, write_fault_vs_raw_pte_step: wpFault / rawPte };
  // the same three ratios with the raw baseline and the path timed in turn, batch by batch (bench/paired.ts), in a
  // process of its own: both then see the same load, which the rows above, each timed for a stretch of its own, do not
  const paired = JSON.parse(execFileSync(process.execPath, [fileURLToPath(new URL('./paired.js', import.meta.url)), '--json'], { encoding: 'utf8' })) as PairedRatios;
  console.log(`interleaved (${paired.rounds} rounds of a raw batch and a model batch in turn; the median round's ratio): ${paired_line(paired)} (goals 2x and 10x)`);
  figures.primitive_ratios_interleaved = paired;
  // the page cache against the anonymous fault, measured in this same run (issue 10)
  const anon = m.find((r) => r.name.startsWith('anon fault'))!.ns_per_op;
  const lookup = m.find((r) => r.name.startsWith('page-cache lookup'))!.ns_per_op;
  const filef = m.find((r) => r.name.startsWith('file fault'))!.ns_per_op;
  console.log(`
page cache vs the anon fault (same run): lookup ${f(lookup / anon, 2)}x, file fault ${f(filef / anon, 2)}x an anon fault (${f(anon)} ns)`);
  figures.page_cache_ratios = { lookup_vs_anon_fault: lookup / anon, file_fault_vs_anon_fault: filef / anon };
  // seed 003: E0 (2.6.6-mm anonmm) against E2 (2.6.18 anon_vma), measured in this same run
  const ns = (prefix: string) => m.find((r) => r.name.startsWith(prefix))!.ns_per_op;
  const e0_fault = ns('E0 anon fault') / ns('E2 anon fault'), e0_walk = ns('E0 rmap walk') / ns('E2 rmap walk');
  console.log(`E0 (2.6.6-mm) vs E2 (2.6.18), same run: an anon fault costs ${f(e0_fault, 2)}x, an rmap walk of a page 4 mms map ${f(e0_walk, 2)}x`);
  figures.e0_vs_e2 = { anon_fault: e0_fault, rmap_walk: e0_walk };
  figures.micro = m;
  // seed 004: device round trips/s (a Machine of its own, in E3)
  const dev = await device_micro(quick ? 100 : 500);
  for (const r of dev) console.log(`\n${r.name}: ${f(r.ns_per_op)} ns, ${f(r.ops_per_s, 0)} round trips/s (± ${f(r.rme)} %)`);
  figures.device_micro = dev;
  // seed 004 under load: the fixed scenarios' round trips/s on real workers
  const load = await device_load(quick ? 1000 : 3000);
  console.log('\n| seed 004, fixed, free-running | DMA µs | CPUs | device round trips/s | residual -EAGAIN/s | outcome |\n|---|---:|---:|---:|---:|---|');
  for (const r of load) console.log(`| ${r.scenario} | ${r.dma_us} | ${r.cpus} | ${f(r.round_trips_per_s, 0)} | ${f(r.residual_eagain_per_s, 0)} | ${r.outcome} |`);
  figures.device_load = load;
}

if (parts.includes('exchange')) {
  // seed 002: exchanges/s against migrations/s of the same pages (E4, one thread)
  const x = await exchange_bench(quick ? 100 : 400);
  console.log('\n## seed 002: exchange against migration of the same pages (E4, one thread)\n');
  console.log('| operation | ns/op | ops/s | ± % |\n|---|---:|---:|---:|');
  for (const r of x) console.log(`| ${r.name} | ${f(r.ns_per_op)} | ${f(r.ops_per_s, 0)} | ${f(r.rme)} |`);
  const ex = x[0].ns_per_op, mig = x[1].ns_per_op;
  console.log(`\nexchanges/s ${f(1e9 / ex, 0)} against migrations/s ${f(2e9 / mig, 0)} (the same two pages migrated: ${f(mig / ex, 2)}x an exchange's time)`);
  figures.exchange = { rows: x, exchanges_per_s: 1e9 / ex, migrations_per_s: 2e9 / mig };
}

if (parts.includes('scaling')) {
  const sc = await scaling([1, 2, 4], quick ? 500 : 3000);
  console.log('\n## orphaned-migration-entry, fixed protocol, free-running\n');
  console.log('| CPUs | ops/s | ops/s per CPU | migrations/s | forks/s | outcome |\n|---:|---:|---:|---:|---:|---|');
  for (const r of sc) console.log(`| ${r.cpus} | ${f(r.ops_per_s, 0)} | ${f(r.ops_per_s_per_cpu, 0)} | ${f(r.migrations_per_s, 0)} | ${f(r.forks_per_s, 0)} | ${r.outcome} |`);
  figures.scaling = sc;
}

if (parts.includes('first_failure')) {
  const o = first_failure_options(quick);
  const t0 = performance.now();
  // BENCH_SCENARIOS=a,b: only those (the raced scenarios by default)
  const only = process.env.BENCH_SCENARIOS?.split(',').map((x) => x.trim()).filter(Boolean);
  const chosen = raced().filter((s) => !only || only.includes(s.name));
  if (only) for (const n of only) if (!chosen.some((s) => s.name === n)) { console.error(`bench: BENCH_SCENARIOS: '${n}' is not a raced scenario (${raced().map((s) => s.name).join(', ')})`); process.exit(2); }
  const rows = await first_failure(chosen, o);
  console.log(`\n## time to first failure, buggy protocol, ${o.cpus} CPUs: free-running and explored\n`);
  console.log(first_failure_table(rows, o, performance.now() - t0));
  figures.first_failure = { options: o, rows };
}

if (parts.includes('first_bug_loaded')) { // load (issue 16 item 5)
  // BENCH_LOADED_JITTER=none,adaptive (default): the levels measured; BENCH_LOADED_QUIET=0: loaded only; BENCH_LOADED_RUNS=N
  const jitters = (process.env.BENCH_LOADED_JITTER ?? 'none,adaptive').split(',').map((x) => JITTER_NAMES.indexOf(x.trim() as typeof JITTER_NAMES[number]));
  if (jitters.some((j) => j < 0)) { console.error(`bench: BENCH_LOADED_JITTER: one of ${JITTER_NAMES.join(', ')}`); process.exit(2); }
  const o = { ...first_bug_loaded_options(quick, jitters), quiet: process.env.BENCH_LOADED_QUIET !== '0' };
  if (process.env.BENCH_LOADED_RUNS) o.runs = Number(process.env.BENCH_LOADED_RUNS);
  const only = process.env.BENCH_SCENARIOS?.split(',').map((x) => x.trim()).filter(Boolean);
  const chosen = raced().filter((s) => !only || only.includes(s.name));
  const t0 = performance.now();
  const quiet = (figures.first_failure as { rows?: FirstFailureRow[] } | undefined)?.rows ?? [];
  const rows = await first_bug_loaded(chosen, o, quiet);
  console.log(`\n## time to first failure under load: buggy protocol, ${o.cpus} CPUs, free-running, one core kept busy by another process (${availableParallelism()} cores)\n`);
  console.log(first_bug_loaded_table(rows, o, performance.now() - t0));
  figures.first_bug_loaded = { options: o, rows };
}

if (parts.includes('sched')) {
  const pp = await pingpong(quick ? 300 : 1000);
  const sc2 = await sched(quick ? 3 : 10);
  console.log('\n## controlled executor: scheduling decisions (orphan scenario, fixed, 20 ops per CPU, set-up included)\n');
  console.log(`raw Atomics.wait/notify ping-pong between two threads doing nothing else: ${f(pp, 0)} hand-offs/s (a best case: the waiter seldom sleeps)\n`);
  console.log('| schedule | runs | decisions | hand-offs | decisions/s | hand-offs/s |\n|---|---:|---:|---:|---:|---:|');
  for (const r of sc2) console.log(`| ${r.what} | ${r.runs} | ${r.decisions} | ${r.hand_offs} | ${f(r.decisions_per_s, 0)} | ${f(r.hand_offs_per_s, 0)} |`);
  figures.pingpong_per_s = pp;
  figures.sched = sc2;
}

if (parts.includes('exhaustive')) { // h14
  const rows = await exhaustive_bench(quick);
  console.log('\n## exhaustive search: K=2 to the orphan (test/fixtures/orphan_small.mjs, 2 CPUs, one operation each)\n');
  console.log(exhaustive_table(rows));
  figures.exhaustive = rows;
}

if (parts.includes('explore_rss')) { // xspeed: issue 16 item 6
  await drain_pools(); // the earlier parts' kept free-run workers are not explore's memory
  const rows = await explore_rss(quick);
  console.log('\n## explore in constant memory: RSS over PCT runs of the orphan (fixed, 2 CPUs)\n');
  console.log(explore_rss_table(rows));
  figures.explore_rss = rows;
}

if (parts.includes('scale')) { // scale (issue 16 item 4)
  const { report, text } = await scale_bench(quick ? 500 : 2000, quick ? 1 : 5);
  console.log(`\n## scale: disjoint process families, one per CPU (fixed protocol, free-running; ${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)})\n`);
  console.log(text);
  const two = report.points.find((p) => p.cpus === 2);
  const r2 = report.rounds?.per_cpus.find((c) => c.cpus === 2);
  const med = (vs: (number | null)[] | undefined, one: number | null | undefined) => (vs ? spread(vs)?.median : one)?.toFixed(2) ?? '-';
  const over = report.rounds ? ` (medians over ${report.rounds.n} rounds)` : '';
  if (two) console.log(`\nsame run${over}: the model scales ${med(r2?.speedup, two.speedup)}x on 2 CPUs (work-weighted ${two.work_speedup?.toFixed(2) ?? '-'}x in the median round; goal 1.8x), the raw harness ${med(r2?.raw_speedup, two.raw_speedup)}x (the ceiling), two separate 1-CPU processes of the model ${med(r2?.procs_speedup, two.procs_speedup)}x (the model's own ceiling here)`);
  figures.scale = report.points.map((p) => ({ cpus: p.cpus, ops_per_s: p.ops_per_s, speedup: p.speedup, work_per_s: p.work_per_s, work_speedup: p.work_speedup,
    raw_ops_per_s: p.raw_ops_per_s, raw_speedup: p.raw_speedup, procs_ops_per_s: p.procs_ops_per_s, procs_speedup: p.procs_speedup, kinds: p.kinds, events_per_s: p.events_per_s, outcome: p.outcome }));
  if (report.rounds) figures.scale_rounds = report.rounds;
}

if (parts.includes('capture')) { // h14 item 3
  const load0 = loadavg()[0];
  const c = await capture_bench(quick ? 5 : 20);
  console.log(`\n## exact capture: orphaned-migration-entry, buggy, 2 CPUs, free runs of 5 s (mmrace capture's defaults), no re-hunting (load average ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end)\n`);
  console.log('| start seed | failing free run | ops | steps | turns | replay | replays | seconds |\n|---:|---:|---:|---:|---:|---|---:|---:|');
  for (const r of c.rows) console.log(`| ${r.seed} | ${r.free_seed ?? '-'} | ${r.free_ops} | ${r.steps} | ${r.turns} | ${r.result} | ${r.replays} | ${f(r.seconds)} |`);
  const left = c.rows.filter((r) => r.diverged);
  if (left.length) console.log(`\nwhere the replay that followed the free run furthest left it:\n${left.map((r) => `- start seed ${r.seed}: ${r.diverged}`).join('\n')}`);
  console.log(`\nexact capture: ${c.replayed} of ${c.captured} free-running orphans replay at the same CPU, operation and pfn (${f(100 * c.rate, 0)} %; goal >= 50 %)`);
  figures.capture = c;
}

if (out) writeFileSync(out, JSON.stringify(figures, null, 2));
