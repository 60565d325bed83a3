// Seed 004 under load (E3): device round trips/s of the fixed protocols on
// real workers, next to micro.ts's one-thread row. A round trip is a device
// page faulted back to RAM (dev_to_ram) after the driver moved it out.
// hmm-fault-livelock runs with kernel-notes 6.15's 200 µs DMA and, as
// examples/hmm-fault-fast-dma.mjs, with no DMA delay (two threads faulting
// on one device page, each moving it back after its access); 4.14's
// residual (-EAGAIN at migrate_vma_pages' exact count test) is counted too.
import { run_free } from '../src/exec/free_run.js';
import { hmmDeviceLru } from '../src/scenarios/hmm_device_lru.js';
import { HMM_FAULT_KNOBS, hmmFaultLivelock, hmm_fault_livelock_with } from '../src/scenarios/hmm_fault_livelock.js';
import type { Scenario } from '../src/scenarios/types.js';
import { MachineView, cpustat_base } from '../src/shm/machine.js';
import { CPUSTAT } from '../src/shm/layout.js';

const sum = (m: MachineView, cpus: number, f: number) => { let s = 0; for (let c = 0; c < cpus; c++) s += m.i32[cpustat_base(c, m.bases) + f]; return s; };

export interface DeviceLoadRow { scenario: string; dma_us: number; cpus: number; round_trips_per_s: number; residual_eagain_per_s: number; outcome: string }

export async function device_load(duration_ms: number): Promise<DeviceLoadRow[]> {
  // the CPUs import the example module (compiled bench: dist/bench/, the module: examples/); the main thread runs
  // setup from the same factory, which puts the knobs in the Machine
  const fast = hmm_fault_livelock_with({ ...HMM_FAULT_KNOBS, copy_delay_us: 0 }, 'hmm-fault-fast-dma');
  const fastUrl = new URL('../../examples/hmm-fault-fast-dma.mjs', import.meta.url).href;
  const runs: [Scenario, string, number, number][] = [
    [hmmDeviceLru, hmmDeviceLru.name, 0, 3],
    [hmmFaultLivelock, hmmFaultLivelock.name, HMM_FAULT_KNOBS.copy_delay_us ?? 0, 3],
    [fast, fastUrl, 0, 2],
  ];
  const rows: DeviceLoadRow[] = [];
  for (const [scenario, scenarioImport, dma_us, cpus] of runs) {
    const r = await run_free({ scenario, scenarioImport, protocol: 'fixed', cpus, ops: 0, duration_ms, seed: 1, jitter: 0 });
    const secs = r.elapsed_ms / 1000;
    rows.push({ scenario: scenario.name, dma_us, cpus, round_trips_per_s: sum(r.machine, cpus, CPUSTAT.dev_to_ram) / secs,
      residual_eagain_per_s: sum(r.machine, cpus, CPUSTAT.hmm_move_eagain) / secs, outcome: r.outcome });
  }
  return rows;
}
