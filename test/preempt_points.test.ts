// Preemption points name what they touch: every decision of a controlled run
// carries the kind of its point and its object (src/sync/preempt.ts). A lock
// point names a lock word the run's lock trace saw taken or released; an MMU
// point names a pte slot inside a page-table page; a wait and an exit say so;
// and a replay of the run records the same kinds and objects.
import { afterAll, expect, it } from 'vitest';
import { ControlledExecutor, ControlledOptions, segments_of } from '../src/exec/controlled.js';
import { orphanedMigrationEntry } from '../src/scenarios/orphaned_migration_entry.js';
import { EV_LOCK_ACQ, EV_LOCK_REL, EV_LOCK_WAIT, collect_events } from '../src/cpu/events.js';
import { BASES, sizes } from '../src/shm/machine.js';
import { MM, PTRS_PER_PGD, PTRS_PER_PTE } from '../src/shm/layout.js';
import {
  PP_EXIT, PP_KIND_NAMES, PP_LOCK_ACQUIRE, PP_LOCK_ACQUIRE_READ, PP_LOCK_RELEASE, PP_PTE_READ, PP_WAIT,
} from '../src/sync/preempt.js';
import { WHY_BLOCK, WHY_EXIT } from '../src/worker/sched_state.js';

const S = orphanedMigrationEntry;
const ex = new ControlledExecutor();
afterAll(async () => { await ex.close(); });

const o: ControlledOptions = {
  scenario: S, scenarioImport: S.name, scenarioAsTyped: S.name, protocol: 'fixed', cpus: 2, ops: 3, max_steps: 100_000,
  seed: 1, trace: true, strategy: { name: 'random', seed: 1 },
};

it('a controlled run records, with each hand-off, what its point touches', async () => {
  const r = await ex.run(o);
  expect(r.run.outcome).toBe('clean');
  // every lock word the run's trace saw waited for, taken or released (the trace ring does not wrap in 3 ops)
  const ev = collect_events(r.run.machine, Infinity, true);
  const locks = new Set(ev.filter((e) => e.code === EV_LOCK_ACQ || e.code === EV_LOCK_WAIT || e.code === EV_LOCK_REL).map((e) => e.args[0]));
  expect(locks.size).toBeGreaterThan(0);
  const seen = new Set<number>();
  let ptes = 0;
  for (const w of r.switches) {
    expect(PP_KIND_NAMES[w.kind], `decision ${w.step}`).toBeDefined();
    seen.add(w.kind);
    if (w.why === WHY_EXIT) expect(w.kind).toBe(PP_EXIT);
    else if (w.why === WHY_BLOCK) expect(w.kind).toBe(PP_WAIT);
    if (w.kind === PP_LOCK_ACQUIRE || w.kind === PP_LOCK_ACQUIRE_READ || w.kind === PP_LOCK_RELEASE || w.kind === PP_WAIT) {
      expect(locks.has(w.object), `decision ${w.step}: ${PP_KIND_NAMES[w.kind]} ${w.object} is no lock the run used`).toBe(true);
    }
    if (w.kind === PP_PTE_READ) {
      // a pte slot inside the page-table pages (BASES.ptes, PTRS_PER_PTE words per page), or the pgd
      // entry of an mm while the address has no page table yet
      const pte = w.object >= BASES.ptes && w.object < BASES.ptes + sizes.nr_pages * PTRS_PER_PTE;
      const off = (w.object - BASES.mms) % MM.stride;
      const pgd = w.object >= BASES.mms + MM.stride && w.object < BASES.mms + sizes.nr_mm * MM.stride && off >= MM.pgd && off < MM.pgd + PTRS_PER_PGD;
      expect(pte || pgd, `decision ${w.step}: pte-read ${w.object} is neither a pte slot nor a pgd entry`).toBe(true);
      if (pte) ptes++;
    }
  }
  for (const k of [PP_LOCK_ACQUIRE, PP_LOCK_ACQUIRE_READ, PP_LOCK_RELEASE, PP_PTE_READ, PP_WAIT, PP_EXIT]) {
    expect(seen.has(k), `no decision at a ${PP_KIND_NAMES[k]} point`).toBe(true);
  }
  expect(ptes).toBeGreaterThan(0);
  // the same schedule, replayed, touches the same objects at the same decisions
  const again = await ex.run({ ...o, strategy: { name: 'replay', segments: segments_of(r.switches), first: r.first_cpu } });
  expect(again.steps).toBe(r.steps);
  const touch = (ws: typeof r.switches) => ws.map((w) => [w.step, w.cpu, w.kind, w.object]);
  expect(touch(again.switches)).toEqual(touch(r.switches));
}, 60_000);
