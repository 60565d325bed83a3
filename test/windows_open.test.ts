// Race-window coverage under the fixed protocol (issue 14 item 2): every
// built-in scenario's windows open within a short budget, so its fixed runs'
// clean verdicts are not vacuous. A window is a race's precondition, so some
// open many times a second and some a few times a minute of free running.
// The common ones are probed by short free runs (a few seeds before the test
// gives up); the narrow ones by the controlled executor's random walk, whose
// runs are a function of their seed: the count is the same every time.
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../src/scenarios/registry.js';
import { run_free } from '../src/exec/free_run.js';
import { ControlledExecutor } from '../src/exec/controlled.js';
import { explore } from '../src/search/explore.js';
import { JITTER_NONE } from '../src/worker/jitter.js';
import { add_window_counts, never_opened, type WindowCount } from '../src/cpu/windows.js';
import type { Scenario } from '../src/scenarios/types.js';
import { build_report } from '../src/report/json.js';
import { text_report } from '../src/report/text.js';

type Probe =
  | { free: [cpus: number, jitter: number, ms: number] } // free runs of ms each, seeds 1.. until every window opened
  | { walk: [cpus: number, ops: number, iterations: number] }; // one random-walk exploration, seed 1

/** per scenario: how its windows are reached (sized by measuring how often they open) */
const PROBE: Record<string, Probe> = {
  // scale: 40, not 20: the per-CPU page lists took zone->lock's preemption points out of fork's page and page-table
  // allocations (the kernel's run with interrupts off), so a random walk switches inside the fork about half as often
  'orphaned-migration-entry': { walk: [3, 4, 40] },
  'cow-migration-entry': { walk: [2, 4, 10] }, // migrator and forker: fork meets the entry a few times a second free-running
  'mprotect-migration-entry': { walk: [3, 4, 8] },
  'swap-fault-on-migration-entry': { free: [3, JITTER_NONE, 800] },
  'swap-count-on-migration-entry': { walk: [3, 4, 10] },
  'swapon-type-range': { free: [2, JITTER_NONE, 300] },
  // the faulter must sleep in lock_page while swapoff takes the page. pv: free runs, not 20 random walks of 4 ops:
  // with the E2 pagevecs no walk of 80 opened it (main: 3 of 20); 1.5 s free runs open it 2-3 times each
  'swapin-entry-reuse': { free: [5, JITTER_NONE, 1500] },
  'swap-stress': { free: [5, JITTER_NONE, 1500] },
  'dio-migration-refcount': { free: [3, JITTER_NONE, 500] },
  'file-stress': { free: [3, JITTER_NONE, 800] },
  'exchange-abba': { free: [3, JITTER_NONE, 800] },
  'exchange-async-readahead': { free: [3, JITTER_NONE, 300] },
  'exchange-freeze-unwind': { walk: [3, 4, 30] }, // the waiter's reference lives a few steps (kernel-notes 4.10)
  'exchange-writeback': { free: [3, JITTER_NONE, 1200] },
  'exchange-writeback-busy': { free: [3, JITTER_NONE, 1200] },
  'mremap-shared-anon': { free: [3, JITTER_NONE, 300] },
  'mremap-swapin-clash': { free: [3, JITTER_NONE, 300] },
  'mremap-mapcount-race': { walk: [2, 1, 80] }, // two steps wide (kernel-notes 4.13); one round per CPU
  'swapoff-hugetlb': { free: [3, JITTER_NONE, 1000] }, // the first swapoff that visits the hugetlb user (its timing varies)
  'e0-family-stress': { free: [4, JITTER_NONE, 1500] }, // the 4th CPU is the swapper: unuse_process's clash
  'hmm-fault-livelock': { free: [3, JITTER_NONE, 500] },
  'hmm-device-lru': { free: [3, JITTER_NONE, 300] },
};
const SEEDS = 4;

const ex = new ControlledExecutor();
afterAll(async () => { await ex.close(); });

/** the windows a probe saw open, and what it ran */
async function probe(s: Scenario, p: Probe): Promise<{ windows: WindowCount[]; what: string }> {
  if ('walk' in p) {
    const [cpus, ops, iterations] = p.walk;
    const base = { scenario: s, scenarioImport: s.name, scenarioAsTyped: s.name, protocol: 'fixed' as const, cpus, ops, max_steps: 100_000 };
    const [rep] = await explore(ex, { base, strategies: ['random'], iterations, seed: 1, depth: 3, k: null });
    expect(rep.failures, `${s.name}: ${Object.keys(rep.kinds).join('; ')}`).toBe(0);
    return { windows: rep.windows, what: `${iterations} random walks, ${cpus} CPUs, ${ops} ops each` };
  }
  const [cpus, jitter, ms] = p.free;
  let windows: WindowCount[] = [];
  let seed = 1;
  for (; seed <= SEEDS; seed++) {
    const r = await run_free({ scenario: s, scenarioImport: s.name, protocol: 'fixed', cpus, ops: 0, duration_ms: ms, seed, jitter, watchdog_ms: 30_000 });
    // a failure prints its whole report (the splat and its interleaving): a rare one must be readable from the CI log alone
    if (r.outcome !== 'clean') console.log(`${s.name} seed ${seed}, fixed, not clean:\n${text_report(build_report(r, { duration_ms: ms }, null, null, 'test'), { lockStat: false, latency: false })}`);
    expect(r.outcome, `${s.name} seed ${seed}: ${r.oops?.text.split('\n')[0] ?? r.reason ?? ''}`).toBe('clean');
    windows = add_window_counts(windows, r.windows); // a window counts when any run opened it
    if (never_opened(windows) === null) break;
  }
  return { windows, what: `${Math.min(seed, SEEDS)} free run(s) of ${ms} ms, ${cpus} CPUs` };
}

describe('every scenario\'s race windows open under the fixed protocol', () => {
  it('each built-in scenario has a probe here', () => {
    expect(SCENARIOS.map((s) => s.name).filter((n) => !PROBE[n])).toEqual([]);
  });

  it('short fixed runs open every window of every scenario, and stay clean', async () => {
    const seen: string[] = [];
    const missed: string[] = [];
    for (const s of SCENARIOS) {
      const { windows, what } = await probe(s, PROBE[s.name]);
      seen.push(`${s.name} (${what}): ${windows.map((w) => `${w.name}: ${w.count}`).join('; ')}`);
      const w = never_opened(windows);
      if (w !== null) missed.push(`${s.name}: ${w}`);
    }
    console.log(`race windows under the fixed protocol:\n  ${seen.join('\n  ')}`);
    expect(missed, seen.join('\n')).toEqual([]);
  });
});
