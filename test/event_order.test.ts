// Issue 16 item 2: the order of the kernel events. Under the controlled
// executor the sequence number is a plain increment (one CPU runs at a time,
// the token's hand-off orders it): the merged rings must still number every
// event once, densely, in the order the CPUs took turns.
import { afterAll, describe, expect, it } from 'vitest';
import { ControlledExecutor } from '../src/exec/controlled.js';
import { orphanedMigrationEntry } from '../src/scenarios/orphaned_migration_entry.js';
import { collect_events } from '../src/cpu/events.js';
import { RING_SIZE } from '../src/shm/layout.js';

const S = orphanedMigrationEntry;
const ex = new ControlledExecutor();
afterAll(async () => { await ex.close(); });

describe('event order under the controlled executor', () => {
  it('numbers every event once, 1..N with no gap, each CPU\'s in its ring order, and hand-offs fall between turns', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await ex.run({ scenario: S, scenarioImport: S.name, protocol: 'buggy', cpus: 2, ops: 2, max_steps: 100_000, strategy: { name: 'random', seed } });
      const evs = collect_events(r.run.machine);
      expect(evs.length).toBeGreaterThan(10);
      expect(evs.length).toBeLessThan(RING_SIZE); // no ring wrapped: every event is still held
      expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
      // each turn's events are one CPU's: between two hand-offs only the CPU holding the token numbered events
      let from = 0, cpu = r.first_cpu;
      for (const w of [...r.switches, { evseq: evs.length, to: -1 }]) {
        for (const e of evs.filter((x) => x.seq > from && x.seq <= w.evseq)) expect(e.cpu).toBe(cpu);
        from = w.evseq; cpu = w.to;
      }
    }
  }, 60_000);
});
