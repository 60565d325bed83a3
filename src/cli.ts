#!/usr/bin/env node
// The mmrace command: list, run, bench, demo (src/cli/run.ts, bench.ts), and
// the controlled executor's explore, replay, shrink and capture
// (src/cli/controlled.ts). Usage errors are one line and exit 2.
// Exit codes: 0 ok (or expectation met), 1 correctness violation (or
// expectation missed), 2 usage, 3 liveness (deadlock/livelock), 4 internal,
// 130/143 stopped by SIGINT/SIGTERM (src/cli/interrupt.ts).
import { ScenarioError, loading_module } from './scenarios/registry.js';
import { ScheduleError } from './search/schedule.js';
import { EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, UsageError, normalize_args, wants_help } from './cli/args.js';
import { SwitchError } from './shm/switches.js';
import { VERSION } from './cli/version.js';
import { SIGNAL_EXIT, install_interrupts, interrupted } from './cli/interrupt.js';
import { cmd_demo, cmd_list, cmd_run } from './cli/run.js';
import { cmd_bench } from './cli/bench.js';
import { cmd_capture, cmd_explore, cmd_replay, cmd_shrink } from './cli/controlled.js';

export { EXIT_INTERNAL, EXIT_LIVENESS, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION } from './cli/args.js';

const HELP = `mmrace ${VERSION}: Linux mm locking protocols on real threads

usage:
  mmrace list [scenario|module.js]
  mmrace run <scenario|module.js> [--protocol buggy|fixed] [--cpus N] [--era E]
             [--duration S | --ops N] [--seed S] [--jitter none|light|heavy|adaptive]
             [--expect bug|clean] [--json FILE] [--trace FILE] [--report FILE.html]
             [--watchdog S] [--no-lock-stat] [--no-latency] [--lock-order]
  mmrace bench <scenario|module.js> [--cpus 1,2,4,8] [--protocol fixed|buggy] [--era E] [--duration S] [--warmup S]
             [--seed S] [--jitter none|light|heavy] [--rounds N] [--json FILE] [--report FILE.html] [--watchdog S]
  mmrace demo [--cpus N] [--runs K] [--duration S]
  mmrace explore <scenario|module.js> [--protocol buggy|fixed] [--cpus N] [--ops N] [--era E]
             [--strategy random|pct|random,pct] [--depth D] [--k K] [--iterations N]
             [--seed S] [--max-steps N] [--out FILE] [--stop-at-first] [--expect bug|clean] [--watchdog S]
             --strategy exhaustive: [--preemptions K] [--checkpoint FILE] [--max-schedules N] [--time S]
             [--json FILE] [--keep-going] [--no-reduction] (not --depth, --k, --iterations, --stop-at-first)
  mmrace replay FILE [--module M.js] [--verify] [--ladder] [--trace FILE] [--json FILE] [--report FILE.html] [--watchdog S]
  mmrace shrink FILE [--module M.js] [--out FILE] [--max-runs N] [--watchdog S]
  mmrace capture <scenario|module.js> [--protocol buggy|fixed] [--cpus N] [--era E] [--ops N | --duration S]
             [--seed S] [--jitter none|light|heavy] [--runs K] [--repair N] [--rehunt N] [--max-steps N] [--out FILE]

exit: 0 ok/expectation met, 1 violation/expectation missed, 2 usage, 3 liveness, 4 internal,
      130/143 stopped by SIGINT/SIGTERM (after its partial report)
      (capture: 0 schedule saved, 1 none; replay --verify: 4 if the two replays differ)`;

const COMMANDS = ['list', 'run', 'bench', 'demo', 'explore', 'replay', 'shrink', 'capture'] as const;

/** one command's part of HELP: its usage lines and the exit codes */
export function command_help(cmd: string): string {
  const lines = HELP.split('\n');
  const from = lines.findIndex((l) => l.startsWith(`  mmrace ${cmd}`));
  let to = from + 1;
  while (to < lines.length && /^ {13}/.test(lines[to])) to++;
  const exit = lines.findIndex((l) => l.startsWith('exit:'));
  return ['usage:', ...lines.slice(from, to), '', ...lines.slice(exit)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd] = argv;
  try {
    if ((COMMANDS as readonly string[]).includes(cmd) && wants_help(argv.slice(1))) { console.log(command_help(cmd)); return EXIT_OK; }
    const rest = normalize_args(argv.slice(1));
    const sig = (code: number) => { const s = interrupted(); return s ? SIGNAL_EXIT[s] : code; };
    switch (cmd) {
      case 'list': return await cmd_list(rest);
      case 'run': return sig(await cmd_run(rest));
      case 'bench': return sig(await cmd_bench(rest));
      case 'demo': return sig(await cmd_demo(rest));
      case 'explore': return sig(await cmd_explore(rest));
      case 'replay': return sig(await cmd_replay(rest));
      case 'shrink': return sig(await cmd_shrink(rest));
      case 'capture': return sig(await cmd_capture(rest));
      case undefined: case '-h': case '--help': case 'help': console.log(HELP); return cmd === undefined ? EXIT_USAGE : EXIT_OK;
      case '--version': console.log(VERSION); return EXIT_OK;
      default: throw new UsageError(`unknown command '${cmd}' (try mmrace --help)`);
    }
  } catch (e) {
    const msg = String((e as Error)?.message ?? e);
    if (!is_usage_error(e)) { console.error(`mmrace: internal error: ${msg}`); return EXIT_INTERNAL; }
    console.error(`mmrace: error: ${msg.split('\n')[0]}`); // one line, whatever threw it
    return EXIT_USAGE;
  }
}

/**
 * The error kinds that are the user's mistake: one line and exit 2. Any
 * other error is an internal one (exit 4). Each class is thrown where the
 * mistake is found: a bad argument (cli/args.ts), switch, scenario or
 * schedule file; a RangeError is a bad value node itself rejected.
 */
const USAGE_ERRORS: readonly (abstract new (...args: never[]) => Error)[] = [UsageError, SwitchError, ScenarioError, ScheduleError, RangeError];
/** the same mistakes once they crossed a worker, which keeps only the message */
const USAGE_MESSAGES = /^(scenario setup|unknown switch)/;

function is_usage_error(e: unknown): boolean {
  if (USAGE_ERRORS.some((k) => e instanceof k)) return true;
  if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return true; // node's parseArgs
  return USAGE_MESSAGES.test((e as Error).message ?? String(e));
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain || process.argv[1]?.endsWith('/mmrace')) {
  install_interrupts();
  let finished = false;
  // nothing left to run while main() still waits: a promise that can never settle (a scenario module's top-level await)
  process.once('beforeExit', () => {
    if (finished) return;
    const m = loading_module();
    console.error(`mmrace: internal error: ${m ? `scenario module ${m} never finished loading (a top-level await that never settles)` : 'the command stopped waiting on a promise that never settles'}`);
    process.exitCode = EXIT_INTERNAL;
  });
  main(process.argv.slice(2)).then((code) => { finished = true; process.exitCode = code; });
}
