// Where scaling goes (issue 16 item 4): Linux perf, sampling the whole
// machine while `mmrace run scale` runs at 1 and then at 2 CPUs, charges
// every sample that lands in one of V8's Atomics builtins to the kernel
// path that called it. A site whose samples per operation grow from 1 CPU to
// 2 touches a cache line another CPU writes too. This is how the global event
// counter, the announce reads of flush_tlb_page and the mm lines recycled
// across CPUs were found (README, Measuring contention).
//
//   node dist/bench/perf_sites.js [--cpus 1,2] [--duration S] [--window S] [--top N]
//
// Needs `perf` (linux-perf; software cpu-clock events are enough, a VM
// without hardware counters will do) and the right to record every CPU
// (root, or kernel.perf_event_paranoid <= 0). Figures are measured and
// printed, never asserted; one run on a shared VM can be far off, so
// compare medians of several.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** samples of one perf script: all of the process's, and per Atomics call site and per function on the stack */
export interface PerfProfile {
  samples: number;
  /** `Atomics.<op> in <caller>`: samples whose top frame is that builtin, called from that JS function */
  sites: Map<string, number>;
  /** JS function name: samples with it anywhere on the stack */
  inclusive: Map<string, number>;
}

/** a frame line of `perf script`: address, symbol (+offset), (dso) */
const FRAME = /^\s*[0-9a-f]+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\(.*\)\s*$/;
/** a JIT frame's symbol under --perf-basic-prof: `JS:*name file:///...:line:col` (* optimized, ^ baseline, ~ interpreted) */
const JS_FRAME = /^JS:[*^~]?(\S+)(?:\s+(\S+?):\d+:\d+)?/;

/** short name of a frame: `name (file)` for JS, the symbol otherwise */
function frame_name(sym: string): string {
  const m = JS_FRAME.exec(sym);
  if (!m) return sym;
  const file = m[2] ? m[2].replace(/^.*\/dist\//, '') : '';
  return file ? `${m[1]} (${file})` : m[1];
}

/** parse `perf script` output (with call chains), keeping the samples of threads whose command is `comm` */
export function parse_perf_script(text: string, comm = 'node'): PerfProfile {
  const out: PerfProfile = { samples: 0, sites: new Map(), inclusive: new Map() };
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length < 2 || lines[0].trim().split(/\s+/)[0] !== comm) continue;
    const frames = lines.slice(1).map((l) => FRAME.exec(l)?.[1] ?? '').filter((s) => s !== '');
    if (frames.length === 0) continue;
    out.samples++;
    const top = /^Builtins_Atomics(\w+)/.exec(frames[0]);
    if (top) {
      const caller = frames.slice(1).find((f) => f.startsWith('JS:'));
      const key = `Atomics.${top[1][0].toLowerCase()}${top[1].slice(1)} in ${caller ? frame_name(caller) : '?'}`;
      out.sites.set(key, (out.sites.get(key) ?? 0) + 1);
    }
    const seen = new Set<string>();
    for (const f of frames) if (f.startsWith('JS:')) seen.add(frame_name(f));
    for (const f of seen) out.inclusive.set(f, (out.inclusive.get(f) ?? 0) + 1);
  }
  return out;
}

/** rows of two profiles, per 1000 operations each, the largest growth first */
export function compare(a: PerfProfile, opsA: number, b: PerfProfile, opsB: number, which: 'sites' | 'inclusive', top: number): string[] {
  const keys = new Set([...a[which].keys(), ...b[which].keys()]);
  const per = (p: PerfProfile, k: string, ops: number) => ((p[which].get(k) ?? 0) / ops) * 1000;
  return [...keys]
    .map((k) => ({ k, x: per(a, k, opsA), y: per(b, k, opsB) }))
    .sort((u, v) => v.y - v.x - (u.y - u.x))
    .slice(0, top)
    .map((r) => `${r.x.toFixed(2).padStart(9)} ${r.y.toFixed(2).padStart(9)}  ${r.k}`);
}

interface Measured { cpus: number; ops: number; profile: PerfProfile }

/** one point: `mmrace run scale` for `duration` s, perf recording every CPU for `window` s from its middle */
async function measure(cpus: number, duration: number, window: number, dir: string): Promise<Measured> {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const json = join(dir, `run${cpus}.json`), data = join(dir, `perf${cpus}.data`);
  // --perf-basic-prof through NODE_OPTIONS (workers refuse it in execArgv); V8 writes its logs into cwd: the scratch dir
  const run = spawn(process.execPath, [cli, 'run', 'scale', '--protocol', 'fixed', '--cpus', String(cpus), '--duration', String(duration), '--jitter', 'none', '--json', json],
    { cwd: dir, env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --perf-basic-prof`.trim() }, stdio: 'ignore' });
  const ended = new Promise<number>((resolve) => run.on('exit', (code) => resolve(code ?? 1)));
  const lead = Math.max(0.5, (duration - window) / 2);
  await new Promise((r) => setTimeout(r, lead * 1000));
  execFileSync('perf', ['record', '-a', '-g', '-F', '1999', '-o', data, 'sleep', String(window)], { stdio: 'ignore' });
  const code = await ended;
  if (code !== 0) throw new Error(`perf_sites: mmrace run scale --cpus ${cpus} exited ${code}`);
  const rep = JSON.parse(readFileSync(json, 'utf8')) as { ops_per_s: number };
  const text = execFileSync('perf', ['script', '-i', data], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return { cpus, ops: rep.ops_per_s * window, profile: parse_perf_script(text) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { cpus: { type: 'string' }, duration: { type: 'string' }, window: { type: 'string' }, top: { type: 'string' } } });
  const cpus = (values.cpus ?? '1,2').split(',').map(Number);
  const duration = Number(values.duration ?? 6), window = Number(values.window ?? 3), top = Number(values.top ?? 20);
  if (cpus.length !== 2 || cpus.some((n) => !Number.isInteger(n) || n < 1) || !(window > 0) || !(duration > window) || !(top > 0)) {
    console.error('perf_sites: usage: node dist/bench/perf_sites.js [--cpus A,B] [--duration S] [--window S < duration] [--top N]');
    process.exit(2);
  }
  try { execFileSync('perf', ['--version'], { stdio: 'ignore' }); } catch {
    console.error('perf_sites: `perf` not found (Debian: apt-get install linux-perf)');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'mmrace-perf-'));
  try {
    const a = await measure(cpus[0], duration, window, dir);
    const b = await measure(cpus[1], duration, window, dir);
    const k = (m: Measured) => (m.profile.samples / m.ops) * 1000;
    console.log(`perf samples per 1000 operations of scale (fixed), ${window} s of ${duration} s runs: ${cpus[0]} CPU(s) ${k(a).toFixed(1)}, ${cpus[1]} CPU(s) ${k(b).toFixed(1)} ` +
      `(${(a.ops / window / 1000).toFixed(1)}k and ${(b.ops / window / 1000).toFixed(1)}k ops/s while recorded)`);
    console.log(`\nAtomics call sites, samples per 1000 ops at ${cpus[0]} and ${cpus[1]} CPUs, largest growth first:`);
    for (const l of compare(a.profile, a.ops, b.profile, b.ops, 'sites', top)) console.log(l);
    console.log(`\nfunctions on the stack (inclusive), the same way (a function V8 inlined into its caller in one run is charged to the caller there):`);
    for (const l of compare(a.profile, a.ops, b.profile, b.ops, 'inclusive', top)) console.log(l);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: Error) => { console.error(`perf_sites: ${e.message}`); process.exit(1); });
}
