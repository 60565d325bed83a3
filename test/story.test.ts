// The interleaving of a data failure tells the event that made it: the
// install that left the failing pte writable (a migration restoring a write
// entry, fork copying one, a COW reuse), and for mprotect the change it undid.
import { describe, expect, it } from 'vitest';
import { run_free, RunResult } from '../src/exec/free_run.js';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { JITTER_NONE } from '../src/worker/jitter.js';
import { OOPS_SHADOW } from '../src/check/bug.js';
import { build_report } from '../src/report/json.js';
import { collect_events } from '../src/cpu/events.js';

type Events = ReturnType<typeof collect_events>;

/**
 * the first buggy run whose failure is user data at a named (mm, addr), with its splat and the events it
 * was told from; `told` says whether the rings still hold what the story must show (each CPU keeps its
 * last 16384 events: a busy migrator can have overwritten them), else the next seed is tried
 */
async function data_failure(name: string, told: (mm: number, addr: string, events: Events) => boolean = () => true, cpus = 3) {
  const scenario = SCENARIOS.find((s) => s.name === name)!;
  const attempts: string[] = [];
  for (let seed = 1; seed <= 8; seed++) {
    const r: RunResult = await run_free({ scenario, scenarioImport: name, protocol: 'buggy', cpus, ops: 300_000, duration_ms: 0, seed, jitter: JITTER_NONE, watchdog_ms: 30_000 });
    attempts.push(`${r.outcome}: ${r.oops?.text.split('\n')[0] ?? ''}`);
    const o = r.oops;
    if (o?.kind !== OOPS_SHADOW || o.args[0] === 0) continue;
    const splat = build_report(r, { ops: 300_000 }, null, null, 'test').failure!.splat;
    const story = splat.slice(splat.indexOf('\nInterleaving')).split('\n');
    const mm = o.args[0], addr = `0x${(o.args[1] & -4096).toString(16)}`, events = collect_events(r.machine);
    if (!told(mm, addr, events)) { attempts[attempts.length - 1] += ' (the rings no longer hold its cause)'; continue; }
    return { mm, addr, story, events };
  }
  throw new Error(`no user-data failure in 8 runs: ${attempts.join('; ')}`);
}

/** index of the story line for the event (marked * when `marked`), -1 if absent */
const line_of = (story: string[], re: RegExp, marked = true) => story.findIndex((l) => re.test(l) && (!marked || l.startsWith('*')));

describe('the interleaving of a data failure', () => {
  it('cow-migration-entry: holds the install that left the failing pte writable', async () => {
    // the rings still hold a step that gave the failing pte (or the page it shares) write access
    const { mm, addr, story, events } = await data_failure('cow-migration-entry', (mm, addr, events) => events.some((e) =>
      (e.name === 'remove_migration_pte' && e.text.startsWith(`mm#${mm} ${addr} restored`)) ||
      (e.name === 'copy_one_pte' && e.text.includes(`${addr} copied write migration entry`)) ||
      (e.name === 'do_wp_page' && e.text.startsWith(`mm#${mm} ${addr} reuse`))));
    // the newest event that put a page in the failing pte, as the rings hold it
    const installs = events.filter((e) => e.text.startsWith(`mm#${mm} ${addr} `) &&
      ((e.name === 'remove_migration_pte' && e.text.includes('restored')) || ['do_wp_page', 'do_anonymous_page', 'do_swap_page map', 'unuse_pte'].includes(e.name)));
    const last = installs[installs.length - 1];
    expect(last, story.join('\n')).toBeDefined();
    expect(line_of(story, new RegExp(`^\\*\\s+${last.seq}\\s`)), story.join('\n')).toBeGreaterThan(0);
    const writable = new RegExp(`remove_migration_pte: mm#${mm} ${addr} restored|copy_one_pte: mm#\\d+ ${addr} copied write migration entry|do_wp_page: mm#${mm} ${addr} reuse`);
    expect(line_of(story, writable), story.join('\n')).toBeGreaterThan(0);
  });

  it('mprotect-migration-entry: the mprotect, the restore after it that made the pte writable again, and the write entry it restored', async () => {
    // the rings hold an mprotect(PROT_READ) of the failing mm and, after it, the restore of the failing pte
    const { mm, addr, story } = await data_failure('mprotect-migration-entry', (mm, addr, events) => {
      const ro = events.findLastIndex((e) => e.name === 'change_pte_range' && e.text.startsWith(`mm#${mm} `) && e.text.endsWith('prot 0x1'));
      const restore = events.findIndex((e, i) => i > ro && e.name === 'remove_migration_pte' && e.text.startsWith(`mm#${mm} ${addr} restored`));
      // and the write entry it restored (a busy migrator's ring may have dropped it)
      return ro >= 0 && restore > ro && events.slice(0, restore).some((e) => e.name === 'try_to_unmap_one' && e.text.startsWith(`mm#${mm} ${addr} `) && e.text.endsWith('write migration entry'));
    }, 2); // 2 CPUs: the parent forks its own helper child, and the race comes sooner
    const mprotect = line_of(story, new RegExp(`change_pte_range: mm#${mm} 0x\\w+\\.\\.0x\\w+ prot 0x1$`));
    const restore = story.findIndex((l, i) => i > mprotect && l.startsWith('*') && l.includes(`remove_migration_pte: mm#${mm} ${addr} restored`));
    const entry = story.slice(0, restore).findIndex((l) => l.startsWith('*') && new RegExp(`try_to_unmap_one: mm#${mm} ${addr} pfn \\d+ -> write migration entry`).test(l));
    expect(mprotect, story.join('\n')).toBeGreaterThan(0);
    expect(restore, story.join('\n')).toBeGreaterThan(mprotect);
    expect(entry, story.join('\n')).toBeGreaterThan(0);
  });
});
