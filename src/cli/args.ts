// The command line's argument checking: every bad value is a UsageError, one
// line on stderr and exit 2 (src/cli.ts prints it).
import { MAX_CPUS } from '../shm/layout.js';
import { JITTER_NAMES } from '../worker/jitter.js';
import { ERAS, parse_era } from '../shm/era.js';
import { UsageError, clip } from './exit.js';

export { EXIT_INTERNAL, EXIT_LIVENESS, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, OUTCOME_EXIT, UsageError, clip, outcomes_exit } from './exit.js';

export function int(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name} must be an integer, got '${clip(v)}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function num(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  // decimal only: Number() would also take '0x10', '1e3', ' 5 ' and 'Infinity'
  if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(v)) throw new UsageError(`--${name} must be a decimal number, got '${clip(v)}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/**
 * the command line before parseArgs sees it: '--cpus -1' becomes '--cpus=-1'
 * (so a negative number is a value, reported as out of range, not an
 * ambiguous option), and an empty value ('--json ""', '--json=') is refused
 */
export function normalize_args(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { out.push(...argv.slice(i)); break; }
    const m = /^--([\w-]+)(=(.*))?$/.exec(a);
    if (m && m[2] !== undefined && m[3] === '') throw new UsageError(`--${m[1]} needs a value, got ''`);
    if (m && m[2] === undefined && i + 1 < argv.length) {
      const next = argv[i + 1];
      if (next === '') throw new UsageError(`--${m[1]} needs a value, got ''`);
      if (/^-\d/.test(next)) { out.push(`${a}=${next}`); i++; continue; }
    }
    out.push(a);
  }
  return out;
}

/** -h or --help anywhere before a '--' */
export const wants_help = (argv: readonly string[]): boolean => {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
};

export function oneOf<T extends string>(name: string, v: string | undefined, dflt: T, allowed: readonly T[]): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join('|')}, got '${clip(v)}'`);
  return v as T;
}

/** the options run and capture share: one scenario, protocol, CPUs, budget, seed, jitter */
export function run_args(cmd: string, values: Record<string, string | boolean | undefined>, positionals: string[], seedMax = 2 ** 31 - 1) {
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one scenario expected, got ${positionals.length}` : `${cmd} needs a scenario (see mmrace list)`);
  const str = (k: string) => values[k] as string | undefined;
  if (str('duration') !== undefined && str('ops') !== undefined) throw new UsageError('give --duration or --ops, not both');
  return {
    protocol: oneOf('protocol', str('protocol'), 'buggy', ['buggy', 'fixed'] as const),
    cpus: int('cpus', str('cpus'), 2, 1, MAX_CPUS),
    ops: int('ops', str('ops'), 0, 1, 2 ** 31 - 1),
    duration_ms: num('duration', str('duration'), 5, 0.01, 86400) * 1000,
    seed: int('seed', str('seed'), 1, 0, seedMax),
    jitter: JITTER_NAMES.indexOf(oneOf('jitter', str('jitter'), 'none', JITTER_NAMES)),
    era: era_arg(str('era')),
  };
}

/** --era: 0..4 or E0..E4; whether the scenario allows it is boot's question (scenario_era) */
export function era_arg(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const e = parse_era(v);
  if (e === null) throw new UsageError(`--era must be one of 0..4 or E0..E4 (${ERAS.map((x) => `${x.name} = ${x.kernel}`).join(', ')}), got '${v}'`);
  return e;
}

export function progress(label: string, start: number): () => void {
  if (!process.stderr.isTTY || process.env.CI) return () => {};
  const t = setInterval(() => process.stderr.write(`\r${label} ${((performance.now() - start) / 1000).toFixed(1)} s`), 200);
  return () => { clearInterval(t); process.stderr.write('\r\x1b[K'); };
}

/** "1,2,4,8" */
export function cpu_list(v: string | undefined): number[] {
  if (v === undefined) return [1, 2, 4, 8];
  const parts = v.split(',');
  if (parts.some((p) => !/^\d+$/.test(p.trim()))) throw new UsageError(`--cpus must be a comma-separated list of CPU counts, got '${v}'`);
  const xs = parts.map((p) => Number(p.trim()));
  for (const n of xs) if (n < 1 || n > MAX_CPUS) throw new UsageError(`--cpus: each count must be between 1 and ${MAX_CPUS}, got ${n}`);
  if (new Set(xs).size !== xs.length) throw new UsageError(`--cpus: a CPU count is repeated in '${v}'`);
  return xs;
}
